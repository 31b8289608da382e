"""Arbitration: which customer gets which campaign, decided set-based in the database.

For a network and a window of send dates, about fifteen SQL statements decide every (customer,
campaign) pair the campaigns' targets give — never a loop over recipients in Python. They work in
temporary tables of the run's connection (docs/arbitration.md, "How the engine works"):

1. the candidates: the customers joined to the campaigns of their branch (and to the national
   ones), each matched against its campaign's criteria, with the first exclusion that depends on
   the customer alone — global objection, no consent for the channel, no address, suppression
   list, customer of another branch, quiet day, already contacted for the operation;
2. one message per customer per operation (the highest priority goes first), one per address per
   campaign (an UPDATE with a window function each);
3. the pressure caps, in order: per channel, then the quota reserved for the other origin, then the
   overall cap (the customer's segment may have its own), each counting past contacts
   (``Contact``) over its rolling window plus the customer's candidates still in, ranked by
   priority — running counts over one sort, in the statement that writes every decision, with
   what each loser lost to (``lost_to``). What is left is selected.

Priority: a campaign of an operation flagged "national priority" first; then the network's order
of origins (default transactional > local > national); ties broken by earlier scheduling, then
earlier creation. The same engine runs as a simulation (what if) and for real (``mode=commit``,
which then creates one ``Delivery`` per selected candidate under a unique constraint). On
PostgreSQL each run's decisions are a partition of ``central_candidate`` of their own.

The engine is cut by concept (docs/architecture.md, "Arbitration engine"): ``policy`` (the network's
rules, a campaign's origin and priority), ``work_tables`` (the run's temporary tables and its
partition), ``candidates``, ``caps``, ``slices`` (on one connection or several) and ``engine``
(``arbitrate``). This package re-exports the names the rest of the project uses.
"""

from central.arbitration.caps import holdout_draw, holdout_drawn
from central.arbitration.engine import arbitrate
from central.arbitration.policy import (
    COMMIT_STATUSES,
    SIMULATION_STATUSES,
    campaign_origin,
    campaign_priority,
    counted_operation,
    national_reach,
    rules_for,
)
from central.arbitration.work_tables import partition_name, runs_drop_decisions

__all__ = [
    "COMMIT_STATUSES",
    "SIMULATION_STATUSES",
    "arbitrate",
    "campaign_origin",
    "campaign_priority",
    "counted_operation",
    "holdout_draw",
    "holdout_drawn",
    "national_reach",
    "partition_name",
    "rules_for",
    "runs_drop_decisions",
]
