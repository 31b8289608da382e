"""The conflict report (head office): for a send window, which campaigns lost customers to which,
how many, for which reason, per branch and per operation.

Selectors (reads on behalf of a user), kept apart from ``central.rules.selectors`` because they only read
one thing: the decisions of a simulation (``Candidate``), through ``simulation_candidates`` — the
same engine and the same scoping as the simulation page. A loss is a candidate that was not
selected and whose ``lost_to`` names *another* campaign (the one that took the slot: the first
message of the operation, the campaign that took the last slot of a cap, the branch's own
version…); exclusions that depend on the customer alone (consent, address, objection…) have no
``lost_to`` and are not conflicts, nor is a shared address (``lost_to`` is then the campaign
itself). Every count is one GROUP BY in the database; Python only names what the counts are about.

Only the people who plan the network's calendar (head office) read the report: for anyone else,
a network is as missing as one that does not exist (404).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

from django.db.models import Count, F, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from central.calendar.selectors import networks_planned_by, operations_visible_to
from central.campaigns.selectors import campaigns_visible_to
from central.models import ArbitrationRun, Candidate, Reason
from central.rules.selectors import campaign_name, simulation_candidates
from central.spreadsheets import spreadsheet_safe
from local_stores.models import Network
from local_stores.selectors import UserLike, nodes_visible_to

#: How many reasons a branch's or an operation's row names (the most frequent first).
TOP_REASONS = 3


def conflict_network_check(*, fetched_by: UserLike, network: Network) -> None:
    """Http404 unless ``fetched_by`` plans the network's calendar (foreign = missing)."""
    if not networks_planned_by(fetched_by).filter(pk=network.pk).exists():
        raise Http404


def conflict_run(*, fetched_by: UserLike, network: Network, starts_on: date, ends_on: date) -> ArbitrationRun | None:
    """The latest finished simulation of the network over exactly [starts_on, ends_on], or None.
    (A run over a longer window ranks more campaigns against each other: its conflicts are not
    those of this window.)"""
    conflict_network_check(fetched_by=fetched_by, network=network)
    return (ArbitrationRun.objects.filter(network=network, mode=ArbitrationRun.Mode.SIMULATION,
                                          finished_at__isnull=False, starts_on=starts_on, ends_on=ends_on)
            .order_by("-started_at", "-id").first())


def conflict_losses(*, fetched_by: UserLike, run: ArbitrationRun) -> QuerySet[Candidate]:
    """The run's candidates lost to another campaign, as far as ``fetched_by`` may count them (the
    losing campaign and the customer through ``simulation_candidates``, the winning campaign
    through ``campaigns_visible_to``)."""
    conflict_network_check(fetched_by=fetched_by, network=run.network)
    winners = campaigns_visible_to(fetched_by).filter(network_id=run.network_id).values("pk")
    return (simulation_candidates(fetched_by=fetched_by, run=run)
            .filter(selected=False, lost_to__isnull=False, lost_to_id__in=winners)
            .filter(~Q(lost_to_id=F("campaign_id"))))


# --- Naming ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignLabel:
    """A campaign as the report names it: by operation (or template) and branch, never by id."""

    name: str
    branch: str
    operation: str
    channel: str
    send_date: date | None
    public_id: str | None = None
    channel_code: str = ""

    @property
    def label(self) -> str:
        return f"{self.name} — {self.branch}"


def _national() -> str:
    return _("Head office (national)")


def _unnamed() -> CampaignLabel:
    return CampaignLabel(name=_("another campaign"), branch="", operation="", channel="", send_date=None)


def conflict_campaign_labels(*, fetched_by: UserLike, ids) -> dict[int, CampaignLabel]:
    """The campaigns of ``ids`` that ``fetched_by`` sees, named (one query)."""
    labels = {}
    for campaign in campaigns_visible_to(fetched_by).filter(pk__in=list(ids)):
        labels[campaign.pk] = CampaignLabel(
            name=campaign_name(campaign), branch=campaign.branch.name if campaign.branch_id else _national(),
            operation=campaign.operation.name if campaign.operation_id else "",
            channel=str(campaign.get_channel_display()), send_date=campaign.send_date, public_id=campaign.public_id,
            channel_code=campaign.channel)
    return labels


def _reason_order(reason: str) -> int:
    return Reason.values.index(reason) if reason in Reason.values else len(Reason.values)


def _reason_label(reason: str) -> str:
    return str(Reason(reason).label) if reason in Reason.values else reason


def _ranked(counts: dict[str, int]) -> list[tuple[str, str, int]]:
    """(reason, label, count), most frequent first, then in the order of the checks."""
    return [(reason, _reason_label(reason), counts[reason])
            for reason in sorted(counts, key=lambda r: (-counts[r], _reason_order(r)))]


# --- Totals ---------------------------------------------------------------------------------------


@dataclass
class ConflictTotals:
    """All the run's losses to another campaign: messages lost (customer × campaign), distinct
    customers, pairs of campaigns (loser → winner), and the messages lost by reason."""

    lost: int = 0
    customers: int = 0
    pairs: int = 0
    reasons: list[tuple[str, str, int]] = field(default_factory=list)


def conflict_totals(*, fetched_by: UserLike, run: ArbitrationRun) -> ConflictTotals:
    losses = conflict_losses(fetched_by=fetched_by, run=run).order_by()
    overall = losses.aggregate(lost=Count("*"), customers=Count("customer_id", distinct=True))
    pairs = losses.values("campaign_id", "lost_to_id").distinct().count()
    by_reason = {row["reason"]: row["n"] for row in losses.values("reason").annotate(n=Count("*"))}
    return ConflictTotals(lost=overall["lost"] or 0, customers=overall["customers"] or 0, pairs=pairs,
                          reasons=_ranked(by_reason))


# --- (a) Who lost customers to whom ---------------------------------------------------------------


def conflict_pairs(*, fetched_by: UserLike, run: ArbitrationRun) -> QuerySet:
    """One row per (losing campaign, winning campaign): ``campaign_id``, ``lost_to_id``, ``lost``
    (messages) and ``customers`` (distinct), the largest first — a queryset to paginate."""
    return (conflict_losses(fetched_by=fetched_by, run=run).order_by()
            .values("campaign_id", "lost_to_id")
            .annotate(lost=Count("*"), customers=Count("customer_id", distinct=True))
            .order_by("-lost", "campaign_id", "lost_to_id"))


@dataclass
class ConflictPair:
    losing: CampaignLabel
    winning: CampaignLabel
    lost: int
    customers: int
    reasons: list[tuple[str, str, int]]


def conflict_pair_rows(*, fetched_by: UserLike, run: ArbitrationRun, pairs) -> list[ConflictPair]:
    """The rows of ``pairs`` (rows of ``conflict_pairs``, e.g. a page of them), named, each with
    its counts by reason (one more GROUP BY, over these campaigns only)."""
    pairs = list(pairs)
    if not pairs:
        return []
    losing_ids = {row["campaign_id"] for row in pairs}
    winning_ids = {row["lost_to_id"] for row in pairs}
    by_reason: dict[tuple[int, int], dict[str, int]] = {}
    rows = (conflict_losses(fetched_by=fetched_by, run=run).order_by()
            .filter(campaign_id__in=losing_ids, lost_to_id__in=winning_ids)
            .values("campaign_id", "lost_to_id", "reason").annotate(n=Count("*")))
    for row in rows:
        by_reason.setdefault((row["campaign_id"], row["lost_to_id"]), {})[row["reason"]] = row["n"]
    labels = conflict_campaign_labels(fetched_by=fetched_by, ids=losing_ids | winning_ids)
    return [ConflictPair(losing=labels.get(row["campaign_id"], _unnamed()),
                         winning=labels.get(row["lost_to_id"], _unnamed()), lost=row["lost"],
                         customers=row["customers"],
                         reasons=_ranked(by_reason.get((row["campaign_id"], row["lost_to_id"]), {})))
            for row in pairs]


# --- (b), (c) Per branch, per operation ----------------------------------------------------------


@dataclass
class ConflictGroup:
    """The losses of the campaigns of one branch (or of one operation): messages lost, distinct
    customers, and the reasons, most frequent first."""

    key: int | None
    name: str
    public_id: str | None
    lost: int
    customers: int
    reasons: list[tuple[str, str, int]]

    @property
    def top_reasons(self) -> list[tuple[str, str, int]]:
        return self.reasons[:TOP_REASONS]


_GROUP_COLUMNS = {"branch": "campaign__branch_id", "operation": "campaign__operation_id"}


def conflict_groups(*, fetched_by: UserLike, run: ArbitrationRun, by: str) -> list[ConflictGroup]:
    """The losses grouped by the losing campaign's ``by`` — "branch" (national campaigns: head
    office) or "operation" (campaigns without one: their own row) —, the largest first. Two
    GROUP BY queries, one for the names."""
    column = _GROUP_COLUMNS[by]
    losses = conflict_losses(fetched_by=fetched_by, run=run).order_by()
    totals = list(losses.values(column).annotate(lost=Count("*"), customers=Count("customer_id", distinct=True)))
    by_reason: dict[int | None, dict[str, int]] = {}
    for row in losses.values(column, "reason").annotate(n=Count("*")):
        by_reason.setdefault(row[column], {})[row["reason"]] = row["n"]
    keys = [row[column] for row in totals if row[column] is not None]
    if by == "branch":
        named = nodes_visible_to(fetched_by).filter(pk__in=keys).values_list("pk", "name", "public_id")
        nameless, unseen = _national(), _("another branch")
    else:
        named = operations_visible_to(fetched_by).filter(pk__in=keys).values_list("pk", "name", "public_id")
        nameless, unseen = _("Without an operation"), _("another operation")
    names = {pk: (name, public_id) for pk, name, public_id in named}
    groups = []
    for row in totals:
        key = row[column]
        name, public_id = names.get(key, (unseen, None)) if key is not None else (nameless, None)
        groups.append(ConflictGroup(key=key, name=name, public_id=public_id, lost=row["lost"],
                                    customers=row["customers"], reasons=_ranked(by_reason.get(key, {}))))
    return sorted(groups, key=lambda group: (-group.lost, group.name))


# --- The detail, for the CSV ----------------------------------------------------------------------


@dataclass
class ConflictLine:
    """One line of the detail: a losing campaign, a winning campaign, a reason, how many."""

    losing: CampaignLabel
    winning: CampaignLabel
    reason: str
    reason_label: str
    count: int


def conflict_lines(*, fetched_by: UserLike, run: ArbitrationRun) -> list[ConflictLine]:
    """Every (losing campaign × winning campaign × reason) with its count (one GROUP BY), named,
    sorted by the losing campaign's branch and name, then the winning campaign's, then the reason."""
    rows = list(conflict_losses(fetched_by=fetched_by, run=run).order_by()
                .values("campaign_id", "lost_to_id", "reason").annotate(n=Count("*")))
    labels = conflict_campaign_labels(fetched_by=fetched_by,
                                      ids={row["campaign_id"] for row in rows} | {row["lost_to_id"] for row in rows})
    lines = [ConflictLine(losing=labels.get(row["campaign_id"], _unnamed()),
                          winning=labels.get(row["lost_to_id"], _unnamed()), reason=row["reason"],
                          reason_label=_reason_label(row["reason"]), count=row["n"]) for row in rows]

    def order(line: ConflictLine):
        return (line.losing.branch, line.losing.name, line.losing.send_date or date.min, line.losing.channel,
                line.winning.branch, line.winning.name, line.winning.send_date or date.min, line.winning.channel,
                _reason_order(line.reason))

    return sorted(lines, key=order)


def conflict_csv_rows(lines: list[ConflictLine]) -> Iterator[list]:
    """The CSV's rows: a header, then one row per line (the cells a spreadsheet could read as a
    formula neutralised)."""

    yield [_("losing campaign"), _("losing branch"), _("losing operation"), _("losing channel"),
           _("losing send date"), _("winning campaign"), _("winning branch"), _("winning operation"),
           _("winning channel"), _("winning send date"), _("reason"), _("reason code"), _("customers")]
    for line in lines:
        yield [*(spreadsheet_safe(value) for value in (line.losing.name, line.losing.branch, line.losing.operation,
                                                       line.losing.channel)),
               line.losing.send_date.isoformat() if line.losing.send_date else "",
               *(spreadsheet_safe(value) for value in (line.winning.name, line.winning.branch,
                                                       line.winning.operation, line.winning.channel)),
               line.winning.send_date.isoformat() if line.winning.send_date else "",
               spreadsheet_safe(line.reason_label), line.reason, line.count]
