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
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import FullResultSet
from django.db import DatabaseError, DataError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from central.models import (
    ArbitrationRun,
    Campaign,
    CampaignEvent,
    CampaignStatus,
    Candidate,
    Channel,
    ConsentStatus,
    Contact,
    Customer,
    Delivery,
    NationalTargetReview,
    NetworkRules,
    OperationMode,
    Origin,
    Reason,
    Suppression,
    TargetOverride,
)
from central.selectors import national_send_exceptions
from central.targeting import apply_criteria
from local_stores.models import Network, Node

logger = logging.getLogger(__name__)

#: Statuses arbitrated: for real, only what the send gate let through; a simulation also looks at
#: what is still being prepared or approved.
COMMIT_STATUSES = (CampaignStatus.SCHEDULED,)
SIMULATION_STATUSES = (CampaignStatus.DRAFT, CampaignStatus.AWAITING_APPROVAL, CampaignStatus.APPROVED,
                       *COMMIT_STATUSES)


def rules_for(network: Network) -> NetworkRules:
    rules, _created = NetworkRules.objects.get_or_create(network=network)
    return rules


def campaign_origin(campaign: Campaign) -> str:
    """National: the head office's own sends and branches' subscriptions to calendar operations;
    local: what a branch does on its own (a kit it used, a free campaign)."""
    if campaign.branch_id is None:
        return Origin.NATIONAL
    if campaign.operation_id is not None and campaign.operation.mode != OperationMode.KIT:
        return Origin.NATIONAL
    return Origin.LOCAL


def campaign_priority(campaign: Campaign, rules: NetworkRules) -> int:
    if campaign.operation_id is not None and campaign.operation.national_priority:
        return 0
    order = rules.order
    origin = campaign_origin(campaign)
    return (order.index(origin) if origin in order else len(order)) + 1


def counted_operation(campaign: Campaign) -> int | None:
    """The operation that "one message per customer per operation" counts: a calendar operation;
    each use of a kit is a send of its own."""
    if campaign.operation_id is None or campaign.operation.mode == OperationMode.KIT:
        return None
    return campaign.operation_id


# --- Where a national send goes ------------------------------------------------------------------
#
# Head office's own send of an operation (a campaign without a branch) is joined to every node; it
# does not go to the customers of a branch outside the operation (a pilot's other branches), nor of a
# branch that declined it (opt-in) or opted out (mandatory); and never to those of a branch that has
# its own version of the operation: the most specific version wins, whatever the order of
# scheduling and the days of the sends within the operation.

def national_reach(network: Network, campaigns: list[Campaign], *, mode: str) -> list[tuple[int, int, str, int | None]]:
    """For head office's sends among ``campaigns``: the nodes (0: no branch) whose customers they do
    not reach, with the reason and — for a branch's own version — that version: rows of (campaign,
    node, reason, version)."""
    national = [c for c in campaigns if c.branch_id is None and c.operation_id is not None]
    rows: list[tuple[int, int, str, int | None]] = []
    for operation in {c.operation_id: c.operation for c in national}.values():
        exceptions = national_send_exceptions(operation, simulation=mode == ArbitrationRun.Mode.SIMULATION)
        rows += [(c.pk, node_id, reason, version) for c in national if c.operation_id == operation.pk
                 for node_id, (reason, version) in exceptions.items()]
    return rows


def _reviewed(campaigns: list[Campaign]) -> frozenset[str]:
    """The review actions branches took on head office's target of the run's operations."""
    operations = {c.operation_id for c in campaigns if c.branch_id is None and c.operation_id is not None}
    if not operations:
        return frozenset()
    return frozenset(NationalTargetReview.objects.filter(operation_id__in=operations)
                     .values_list("action", flat=True).distinct().order_by())


# --- The working tables ---------------------------------------------------------------------------
#
# A run works in temporary tables of its own connection (dropped at the end, and gone with a
# rollback): the candidates with their decision so far, the run's campaigns, the customers' past
# contacts. Every rule is one statement over them; the decisions are written to ``Candidate`` once,
# at the end, by one INSERT … SELECT. Names are constants of this module; every value is bound.

WORK = "relais_arb_candidate"  # (campaign, customer): the campaign's constants, address, reason so far
CAMPAIGNS = "relais_arb_campaign"  # one row per campaign of the run, with its rank in the order
PAST = "relais_arb_past"  # per customer: past contacts counted by each cap
HAD = "relais_arb_had"  # (customer, operation) pairs already contacted, for the run's operations
#: The campaigns by the branch (``jb``) whose customers they target: a branch's own campaigns under
#: its id, and every national campaign under the id of every node of the network (and 0, for the
#: customers without a branch) — so that one hash join on the customer's branch gives them all.
JOINS = "relais_arb_join"
#: Where head office's national sends of an operation do not go, by node (0: the customers without a
#: branch): a branch outside the operation (a pilot), one that declined or opted out of it, one with
#: its own version of it (``jlost``: that version) — the exceptions to ``JOINS``'s "every node".
REACH = "relais_arb_reach"
_TEMP_TABLES = (WORK, CAMPAIGNS, PAST, HAD, JOINS, REACH)


def _sql(statement: str, params=()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


def _tune() -> None:
    """This connection's settings for the run, for its transaction only (PostgreSQL)."""
    if connection.vendor == "postgresql":
        # Sorts and hashes of a few million narrow rows fit in memory rather than spill to disk;
        # for this transaction only. (temp_buffers may only change before a session's first
        # temporary table.)
        _sql("SET LOCAL work_mem = '256MB'")
        _sql("SET LOCAL maintenance_work_mem = '512MB'")  # the run's indexes, each built by one sort
        # A few statements over millions of rows: compiling them (JIT) costs more than it saves,
        # and a nested loop (one index probe per campaign, rows scattered over the table) is never
        # the right join here — the planner may pick one for a join on the customers' branch.
        _sql("SET LOCAL jit = off")
        _sql("SET LOCAL enable_nestloop = off")
        # The run's tables are read by simple plans (equalities, joins on ids): a sample of 6,000
        # rows describes them as well as the default 30,000, five times faster.
        _sql("SET LOCAL default_statistics_target = 20")
        try:
            with transaction.atomic():
                _sql("SET LOCAL temp_buffers = '512MB'")
        except DataError:
            pass  # this session has had temporary tables already: it keeps its temp_buffers


def _create_work_tables() -> None:
    for table in _TEMP_TABLES:
        _sql(f"DROP TABLE IF EXISTS {table}")
    _sql(f"CREATE TEMPORARY TABLE {CAMPAIGNS} (campaign_id bigint NOT NULL, corder integer NOT NULL, "
         f"branch_id bigint NULL, priority smallint NOT NULL, send_date date NOT NULL, "
         f"scheduled_at timestamp with time zone NOT NULL, channel varchar(8) NOT NULL, origin varchar(16) NOT NULL, "
         f"operation_id bigint NULL, quiet smallint NOT NULL, criteria integer NOT NULL, holdout integer NOT NULL)")
    _sql(f"CREATE TEMPORARY TABLE {WORK} (campaign_id bigint NOT NULL, customer_id bigint NOT NULL, "
         f"branch_id bigint NULL, corder integer NOT NULL, channel varchar(8) NOT NULL, origin varchar(16) NOT NULL, "
         f"operation_id bigint NULL, address varchar(254) NOT NULL, segment varchar(32) NOT NULL, "
         f"reason varchar(20) NULL)")


def _analyze(table: str) -> None:
    """Temporary tables get no statistics of their own: give the planner some (PostgreSQL)."""
    if connection.vendor == "postgresql":
        _sql(f"ANALYZE {table}")


def _drop_work_tables() -> None:
    for table in _TEMP_TABLES:
        _sql(f"DROP TABLE IF EXISTS {table}")


class _Slice:
    """Which of the network's customers a statement decides: all of them (the default), those
    whose id lies in [``low``, ``high``) (a bound left out is open), or those of ``ids``."""

    def __init__(self, low: int | None = None, high: int | None = None, ids: list[int] | None = None) -> None:
        self.low, self.high, self.ids = low, high, ids

    def where(self, column: str) -> tuple[str, list]:
        """`` AND …`` restricting ``column`` (a customer id) to the slice, and its parameters."""
        if self.ids is not None:
            return f" AND {column} = ANY(%s)", [self.ids]
        sql, params = "", []
        if self.low is not None:
            sql, params = sql + f" AND {column} >= %s", [*params, self.low]
        if self.high is not None:
            sql, params = sql + f" AND {column} < %s", [*params, self.high]
        return sql, params


EVERYONE = _Slice()


class _Planned:
    """A campaign of the run and its constants: origin, counted operation, priority and its rank
    ``corder`` in the order of the rules (priority, then earlier scheduling, then earlier
    creation: 1 goes first); ``group``: the number of its criteria among the run's."""

    def __init__(self, campaign: Campaign, rules: NetworkRules, scheduled_at) -> None:
        self.campaign = campaign
        self.origin = campaign_origin(campaign)
        self.operation_id = counted_operation(campaign)
        self.priority = campaign_priority(campaign, rules)
        self.scheduled_at = scheduled_at
        self.quiet = campaign.send_date.isoweekday() in (rules.quiet_weekdays or [])
        #: The control group's share, in hundredths of a percent.
        self.holdout = (campaign.operation.holdout_percent if campaign.operation_id else 0) * 100
        self.corder = 0
        self.group = 0


def _plan(campaigns: list[Campaign], rules: NetworkRules) -> tuple[list[_Planned], dict[str, int]]:
    """The run's campaigns in the order of the rules, and their distinct criteria, each with its
    number."""
    scheduled = dict(CampaignEvent.objects.filter(campaign__in=campaigns, action="scheduled").order_by()
                     .values_list("campaign_id").annotate(at=Max("at")).values_list("campaign_id", "at"))
    planned = [_Planned(campaign, rules, scheduled.get(campaign.pk, campaign.created_at)) for campaign in campaigns]
    planned.sort(key=lambda p: (p.priority, p.scheduled_at, p.campaign.pk))
    # The criteria most campaigns share get the first numbers: CASE tries them in order.
    keys = [json.dumps(item.campaign.target_criteria or {}, sort_keys=True) for item in planned]
    shared = Counter(keys)
    groups = {key: number for number, key in enumerate(sorted(shared, key=lambda k: (-shared[k], k)), start=1)}
    for corder, (item, key) in enumerate(zip(planned, keys, strict=True), start=1):
        item.corder, item.group = corder, groups[key]
    return planned, groups


def _write_campaigns(planned: list[_Planned], network_id: int, reach: list[tuple] = ()) -> None:
    """The run's campaigns, in the campaigns' working tables of this connection, with where the
    national sends do not go (``reach``: rows of campaign, node, reason, the version sent instead)."""
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {CAMPAIGNS} (campaign_id, corder, branch_id, priority, send_date, scheduled_at, channel, "  # noqa: S608
            f"origin, operation_id, quiet, criteria, holdout) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [(p.campaign.pk, p.corder, p.campaign.branch_id, p.priority, p.campaign.send_date, p.scheduled_at,
              p.campaign.channel, p.origin, p.operation_id, int(p.quiet), p.group, p.holdout) for p in planned])
    _analyze(CAMPAIGNS)
    _sql(f"CREATE TEMPORARY TABLE {REACH} (campaign_id bigint NOT NULL, node_id bigint NOT NULL, "
         f"jreason varchar(20) NOT NULL, jlost bigint NULL)")
    if reach:
        with connection.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {REACH} (campaign_id, node_id, jreason, jlost) VALUES (%s, %s, %s, %s)",  # noqa: S608
                               list(reach))
    _analyze(REACH)
    nodes = connection.ops.quote_name(Node._meta.db_table)
    _sql(f"CREATE TEMPORARY TABLE {JOINS} AS SELECT COALESCE(k.branch_id, n.id) AS jb, k.campaign_id, k.corder, "  # noqa: S608
         f"k.branch_id, k.channel, k.origin, k.operation_id, k.quiet, k.criteria, r.jreason, r.jlost FROM {CAMPAIGNS} k "
         f"JOIN (SELECT id FROM {nodes} WHERE network_id = %s UNION ALL SELECT 0) n "
         f"ON k.branch_id IS NULL OR k.branch_id = n.id "
         f"LEFT JOIN {REACH} r ON r.campaign_id = k.campaign_id AND r.node_id = n.id", [network_id])
    _analyze(JOINS)


_ADDRESS_FIELD = {Channel.EMAIL: "email", Channel.SMS: "mobile"}


def _criteria_sql(groups: dict[str, int]) -> tuple[str, list]:
    """``CASE k.criteria WHEN 1 THEN (…) …``: for the campaign ``k`` of each joined row, whether
    the customer matches its criteria — each distinct criteria compiled once by Django (columns of
    the customer table by its own name)."""
    today = timezone.localdate()
    whens, params = [], []
    for key, number in groups.items():
        query = apply_criteria(Customer.objects.all(), json.loads(key), today=today).query
        try:
            condition, condition_params = query.get_compiler(connection=connection).compile(query.where)
        except FullResultSet:  # no criterion: every customer of the branch (of the network)
            condition, condition_params = "", []
        whens.append(f"WHEN %s THEN ({condition or '1 = 1'})")
        params += [number, *condition_params]
    return f"(CASE k.criteria {' '.join(whens)} ELSE 1 = 0 END)", params


def _first_reason_sql(network_id: int, suppressed_channels: set[str], *, had: bool, removed: bool = False,
                      reach: str = "k.jreason") -> tuple[str, list]:
    """The first rule that depends on the customer alone and excludes them from the campaign ``k``
    (objection, consent, address, suppression, ownership, where a national send does not go — the
    column ``reach`` —, with ``removed`` a branch's review of head office's target, quiet day, and
    with ``had`` the operation already had: a hashed look-up), or NULL: one CASE per channel, chosen
    by the campaign's."""
    u = connection.ops.quote_name(Customer._meta.db_table)
    suppressions = connection.ops.quote_name(Suppression._meta.db_table)
    reviews = connection.ops.quote_name(NationalTargetReview._meta.db_table)
    no_address = {Channel.EMAIL: f"{u}.email = ''", Channel.SMS: f"{u}.mobile = ''",
                  Channel.POST: f"({u}.address_line1 = '' OR {u}.postal_code = '')"}
    by_channel, params = [], []
    for channel in Channel.values:
        whens = [f"WHEN {u}.objected_at IS NOT NULL THEN %s", f"WHEN {u}.consent_{channel} <> %s THEN %s",
                 f"WHEN {no_address[channel]} THEN %s"]
        params += [channel, Reason.OBJECTION, ConsentStatus.GRANTED, Reason.NO_CONSENT, Reason.NO_ADDRESS]
        if channel in suppressed_channels and channel in _ADDRESS_FIELD:
            address = f"LOWER({u}.{_ADDRESS_FIELD[channel]})"
            digest = (f"encode(sha256(convert_to({address}, 'UTF8')), 'hex')" if connection.vendor == "postgresql"
                      else f"relais_sha256({address})")
            whens.append(f"WHEN EXISTS (SELECT 1 FROM {suppressions} s WHERE s.network_id = %s "  # noqa: S608
                         f"AND s.channel = %s AND s.value_hash = {digest}) THEN %s")
            params += [network_id, channel, Reason.SUPPRESSED]
        whens += [f"WHEN k.branch_id IS NOT NULL AND ({u}.branch_id IS NULL OR {u}.branch_id <> k.branch_id) THEN %s",
                  f"WHEN {reach} IS NOT NULL THEN {reach}"]
        params += [Reason.NOT_OWNER]
        if removed:
            whens.append(f"WHEN k.branch_id IS NULL AND k.operation_id IS NOT NULL AND ({u}.id, {u}.branch_id, "  # noqa: S608
                         f"k.operation_id) IN (SELECT customer_id, branch_id, operation_id FROM {reviews} "
                         f"WHERE action = %s) THEN %s")
            params += [NationalTargetReview.Action.REMOVE, Reason.REMOVED_BY_BRANCH]
        whens.append("WHEN k.quiet = 1 THEN %s")
        params.append(Reason.QUIET_PERIOD)
        if had:
            whens.append(f"WHEN k.operation_id IS NOT NULL AND ({u}.id, k.operation_id) IN "  # noqa: S608
                         f"(SELECT customer_id, operation_id FROM {HAD}) THEN %s")
            params.append(Reason.ALREADY_CONTACTED)
        by_channel.append(f"WHEN %s THEN (CASE {' '.join(whens)} ELSE NULL END)")
    return f"(CASE k.channel {' '.join(by_channel)} ELSE NULL END)", params


def _insert_candidates(run: ArbitrationRun, groups: dict[str, int], rules: NetworkRules,
                       suppressed_channels: set[str], operations: list[int], customers: _Slice = EVERYONE,
                       reviewed: frozenset[str] = frozenset()) -> None:
    """Every (customer, campaign) pair the targets give, with the first exclusion that depends on
    the customer alone already decided: one INSERT … SELECT joining the customers to the campaigns
    of their branch and the national ones (``JOINS``; each pair matched against its campaign's
    criteria), one for the customers added by hand to a campaign's list, one for those a branch
    added to head office's national target (``reviewed`` holds the review actions the run's
    operations have); those removed by hand from a list are then deleted."""
    if not groups:
        return
    u = connection.ops.quote_name(Customer._meta.db_table)
    overrides = connection.ops.quote_name(TargetOverride._meta.db_table)
    contacts = connection.ops.quote_name(Contact._meta.db_table)
    had = rules.one_per_operation and bool(operations)
    if had:  # who was already contacted for one of the run's operations (before, or a first wave)
        sliced, sliced_params = customers.where("customer_id")
        _sql(f"CREATE TEMPORARY TABLE {HAD} AS SELECT DISTINCT customer_id, operation_id FROM {contacts} "  # noqa: S608
             f"WHERE operation_id IN ({', '.join(['%s'] * len(operations))}){sliced}", [*operations, *sliced_params])
        _analyze(HAD)
    removed = NationalTargetReview.Action.REMOVE in reviewed
    reason, reason_params = _first_reason_sql(run.network_id, suppressed_channels, had=had, removed=removed)
    reason_o, reason_o_params = _first_reason_sql(run.network_id, suppressed_channels, had=had, removed=removed,
                                                  reach="r.jreason")
    criteria, criteria_params = _criteria_sql(groups)
    address = (f"CASE k.channel WHEN %s THEN LOWER({u}.email) WHEN %s THEN LOWER({u}.mobile) ELSE '' END")
    insert = (f"INSERT INTO {WORK} (campaign_id, customer_id, branch_id, corder, channel, origin, operation_id, "  # noqa: S608
              f"address, segment, reason) SELECT k.campaign_id, {u}.id, {u}.branch_id, k.corder, k.channel, k.origin, "
              f"k.operation_id, {address}, {u}.segment, {reason} FROM {u} ")
    head = [Channel.EMAIL, Channel.SMS, *reason_params]
    sliced, sliced_params = customers.where(f"{u}.id")
    # The names are the models' and this module's; every value is bound.
    _sql(insert + f"JOIN {JOINS} k ON k.jb = COALESCE({u}.branch_id, 0) "
         f"WHERE {u}.network_id = %s{sliced} AND {criteria}", [*head, run.network_id, *sliced_params, *criteria_params])
    insert_o = insert.replace(reason, reason_o)
    _sql(insert_o + f"JOIN {overrides} o ON o.customer_id = {u}.id JOIN {CAMPAIGNS} k ON k.campaign_id = o.campaign_id "  # noqa: S608
         f"LEFT JOIN {REACH} r ON r.campaign_id = k.campaign_id AND r.node_id = COALESCE({u}.branch_id, 0) "
         f"WHERE {u}.network_id = %s{sliced} AND o.action = %s AND NOT EXISTS (SELECT 1 FROM {WORK} w "
         f"WHERE w.campaign_id = o.campaign_id AND w.customer_id = o.customer_id)",
         [Channel.EMAIL, Channel.SMS, *reason_o_params, run.network_id, *sliced_params, TargetOverride.Action.INCLUDE])
    if NationalTargetReview.Action.ADD in reviewed:
        # the customers a branch added to head office's national target of the operation (still its own)
        reviews = connection.ops.quote_name(NationalTargetReview._meta.db_table)
        _sql(insert + f"JOIN {reviews} v ON v.customer_id = {u}.id AND v.branch_id = {u}.branch_id "  # noqa: S608
             f"JOIN {JOINS} k ON k.jb = {u}.branch_id AND k.branch_id IS NULL AND k.operation_id = v.operation_id "
             f"WHERE {u}.network_id = %s{sliced} AND v.action = %s AND NOT EXISTS (SELECT 1 FROM {WORK} w "
             f"WHERE w.campaign_id = k.campaign_id AND w.customer_id = {u}.id)",
             [*head, run.network_id, *sliced_params, NationalTargetReview.Action.ADD])
    _sql(f"DELETE FROM {WORK} WHERE EXISTS (SELECT 1 FROM {overrides} o WHERE o.campaign_id = {WORK}.campaign_id "  # noqa: S608
         f"AND o.customer_id = {WORK}.customer_id AND o.action = %s)", [TargetOverride.Action.EXCLUDE])
    _analyze(WORK)


def _past_counts(run: ArbitrationRun, rules: NetworkRules, customers: _Slice = EVERYONE) -> dict[tuple, str]:
    """One pass over the contacts before the window: per customer, the count each cap needs
    (its days, and its channel or origin). Returns the column of each (days, field, value)."""
    wanted = {(rules.cap_days, None, None)}
    for channel, cap in (rules.channel_caps or {}).items():
        wanted.add((int(cap.get("days", rules.cap_days)), "channel", channel))
    for origin in (Origin.LOCAL, Origin.NATIONAL):
        wanted.add((rules.cap_days, "origin", origin))
    columns, sums, params = {}, [], []
    for number, (days, field, value) in enumerate(sorted(wanted, key=str)):
        columns[(days, field, value)] = f"p{number}"
        condition = "contacted_on >= %s" + (f" AND {field} = %s" if field else "")
        sums.append(f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END) AS p{number}")
        params += [run.starts_on - timedelta(days=days), *([value] if field else [])]
    longest = max(days for days, _field, _value in wanted)
    contacts = connection.ops.quote_name(Contact._meta.db_table)
    sliced, sliced_params = customers.where("customer_id")
    _sql(f"CREATE TEMPORARY TABLE {PAST} AS SELECT customer_id, {', '.join(sums)} FROM {contacts} "  # noqa: S608
         f"WHERE contacted_on >= %s AND contacted_on < %s{sliced} GROUP BY customer_id",
         [*params, run.starts_on - timedelta(days=longest), run.starts_on, *sliced_params])
    _analyze(PAST)
    return columns


def _exclude_ranked(reason: str, *, partition: str, order: str, where: str, params=(), rare: bool = False) -> int:
    """Exclude for ``reason`` the candidates still in (``where``) that are not the first of their
    ``partition`` (columns of ``c``) in ``order``: one UPDATE with a window function. ``rare``:
    partitions of more than one candidate are rare (shared addresses), so they are found first by
    a hashed GROUP BY and only their candidates are sorted."""
    shared, shared_params = "", []
    if rare:
        columns = partition.replace("c.", "")
        shared = (f" AND ({partition}) IN (SELECT {columns} FROM {WORK} c WHERE c.reason IS NULL AND {where} "  # noqa: S608
                  f"GROUP BY {columns} HAVING COUNT(*) > 1)")
        shared_params = list(params)
    # The losers by their physical row (ctid, rowid): fetched directly, without a second scan and a
    # join of the whole table.
    row, matches = (("ctid", "ctid = ANY(ARRAY({}))") if connection.vendor == "postgresql"
                    else ("rowid", "rowid IN ({})"))
    losers = (f"SELECT r.row FROM (SELECT c.{row} AS row, ROW_NUMBER() OVER (PARTITION BY {partition} "  # noqa: S608
              f"ORDER BY {order}) AS rn FROM {WORK} c WHERE c.reason IS NULL AND {where}{shared}) r WHERE r.rn > 1")
    return _sql(f"UPDATE {WORK} SET reason = %s WHERE {matches.format(losers)}",  # noqa: S608
                [reason, *params, *shared_params])


class _Sql:
    """A fragment of SQL and its parameters, in order."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.params: list = []

    def add(self, text: str, *params) -> _Sql:
        self.parts.append(text)
        self.params.extend(params)
        return self

    def join(self, separator: str) -> str:
        return separator.join(self.parts)


_KEY = 2**32
_RUNNING = "OVER (PARTITION BY {t}.customer_id ORDER BY {t}.corder ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
_WHOLE = "OVER (PARTITION BY {t}.customer_id)"


def _caps_and_write(run: ArbitrationRun, rules: NetworkRules, past: dict[tuple, str], operations: list[int],
                    table: str) -> int:
    """The caps per channel, then the quota, then the overall cap, then who each loser lost to,
    and every decision written to ``Candidate`` — one INSERT … SELECT. Each cap is a running count,
    over the customer's candidates in the order of the rules, of those still in after the previous
    cap; all of them share one sort (customer, rank of the campaign), which also puts the rows in
    the order of the (run, customer) index."""
    caps = sorted((channel, int(cap.get("count", 0)), int(cap.get("days", rules.cap_days)))
                  for channel, cap in (rules.channel_caps or {}).items())
    past_columns = ", ".join(f"COALESCE(p.{column}, 0) AS {column}" for column in sorted(set(past.values())))
    # A campaign's place in the order and its id in one number (ids stay below 2³²): the MIN or MAX
    # of it over a customer's candidates names the first or last campaign without another join.
    key = f"w.corder * {_KEY} + w.campaign_id"
    # 1. per channel: the rank among the customer's candidates of that channel still in
    running, limits = _Sql(), _Sql()
    for number, (channel, count, days) in enumerate(caps):
        running.add(f"SUM(CASE WHEN w.reason IS NULL AND w.channel = %s THEN 1 ELSE 0 END) "
                    f"{_RUNNING.format(t='w')} AS ch{number}", channel)
        limits.add(f"WHEN w.channel = %s AND w.ch{number} > %s - w.{past[(days, 'channel', channel)]} THEN %s",
                   channel, count, Reason.CHANNEL_CAP)
    # Only the candidates still in go through the caps (and the losers of "one per operation",
    # whose winner is known at the end); the others are written as they are.
    level_c = _Sql().add("SELECT w.campaign_id, w.customer_id, w.branch_id, w.corder, w.channel, w.origin, "
                         f"w.operation_id, w.segment, w.reason, {past_columns}" + "".join(f", {part}" for part in running.parts),
                         *running.params)
    level_c.add(f"FROM {WORK} w LEFT JOIN {PAST} p ON p.customer_id = w.customer_id "
                "WHERE w.reason IS NULL OR w.reason = %s", Reason.SAME_OPERATION)
    reason_c = (f"CASE WHEN w.reason IS NOT NULL THEN w.reason {limits.join(' ')} ELSE NULL END" if caps
                else "w.reason")
    # The customer's overall cap: their segment's, if the network gives it one.
    segment_caps = sorted((rules.segment_caps or {}).items())
    cap_total = "%s"
    cap_params: list = [rules.cap_total]
    if segment_caps:
        cap_total = f"(CASE w.segment {' '.join('WHEN %s THEN %s' for _segment in segment_caps)} ELSE %s END)"
        cap_params = [v for pair in segment_caps for v in pair] + [rules.cap_total]
    # 2. the quota: the rank among the customer's candidates of one origin still in
    quota = _Sql()
    for origin, reserved_for_other in ((Origin.LOCAL, rules.national_reserved), (Origin.NATIONAL, rules.local_reserved)):
        if reserved_for_other:
            quota.add(f"WHEN w.origin = %s AND SUM(CASE WHEN w.reason_c IS NULL AND w.origin = %s THEN 1 ELSE 0 END) "
                      f"{_RUNNING.format(t='w')} > {cap_total} - %s - w.{past[(rules.cap_days, 'origin', origin)]} "
                      f"THEN %s", origin, origin, *cap_params, reserved_for_other, Reason.QUOTA)
    reason_d = (f"CASE WHEN w.reason_c IS NOT NULL THEN w.reason_c {quota.join(' ')} ELSE NULL END" if quota.parts
                else "w.reason_c")
    # 3. the overall cap on marketing
    total = past[(rules.cap_days, None, None)]
    reason_e = (f"CASE WHEN w.reason_d IS NOT NULL THEN w.reason_d WHEN w.origin <> %s AND "
                f"SUM(CASE WHEN w.reason_d IS NULL AND w.origin <> %s THEN 1 ELSE 0 END) {_RUNNING.format(t='w')} "
                f"> {cap_total} - w.{total} THEN %s ELSE NULL END")
    reason_e_params = [Origin.TRANSACTIONAL, Origin.TRANSACTIONAL, *cap_params, Reason.PRESSURE_CAP]
    # 4. who each loser lost to: the customer's first selected message of the operation; the last
    # selected campaign (the one that took the last slot) of the channel, of the origin, of marketing
    whole = _WHOLE.format(t="w")
    winners, lost = _Sql(), _Sql()
    for number, operation_id in enumerate(operations):
        winners.add(f"MIN(CASE WHEN w.reason_e IS NULL AND w.operation_id = %s THEN {key} END) {whole} AS op{number}",
                    operation_id)
        lost.add(f"WHEN w.reason_e = %s AND w.operation_id = %s THEN w.op{number}", Reason.SAME_OPERATION, operation_id)
    for number, (channel, _count, _days) in enumerate(caps):
        winners.add(f"MAX(CASE WHEN w.reason_e IS NULL AND w.channel = %s THEN {key} END) {whole} AS last_ch{number}",
                    channel)
        lost.add(f"WHEN w.reason_e = %s AND w.channel = %s THEN w.last_ch{number}", Reason.CHANNEL_CAP, channel)
    for origin in (Origin.LOCAL, Origin.NATIONAL):
        winners.add(f"MAX(CASE WHEN w.reason_e IS NULL AND w.origin = %s THEN {key} END) {whole} AS last_{origin}",
                    origin)
        lost.add(f"WHEN w.reason_e = %s AND w.origin = %s THEN w.last_{origin}", Reason.QUOTA, origin)
    winners.add(f"MAX(CASE WHEN w.reason_e IS NULL AND w.origin <> %s THEN {key} END) {whole} AS last_marketing",
                Origin.TRANSACTIONAL)
    lost.add("WHEN w.reason_e = %s THEN w.last_marketing", Reason.PRESSURE_CAP)
    # 5. the control group: of those the rules select, the campaign's share drawn at random (the same
    # draw in every run: a hash of the customer and the campaign) receives nothing
    held = f"(k.holdout > 0 AND {holdout_draw('f.customer_id', 'f.campaign_id')} < k.holdout)"
    # Names are the models' and this module's, values are all bound.
    columns = ("run_id, campaign_id, customer_id, branch_id, channel, origin, operation_id, priority, send_date, "
               "scheduled_at, selected, reason, lost_to_id")
    sql = (
        f"INSERT INTO {table} ({columns}) "  # noqa: S608
        f"SELECT %s, f.campaign_id, f.customer_id, f.branch_id, f.channel, f.origin, f.operation_id, k.priority, "
        f"k.send_date, k.scheduled_at, f.reason_e IS NULL AND NOT {held}, "
        f"CASE WHEN f.reason_e IS NOT NULL THEN f.reason_e WHEN {held} THEN %s ELSE '' END, f.lost_key %% {_KEY} FROM ("
        f"SELECT w.*, CASE {lost.join(' ')} ELSE NULL END AS lost_key FROM ("
        f"SELECT w.*, {', '.join(winners.parts)} FROM ("
        f"SELECT w.*, {reason_e} AS reason_e FROM ("
        f"SELECT w.*, {reason_d} AS reason_d FROM ("
        f"SELECT w.*, {reason_c} AS reason_c FROM ({level_c.join(' ')}) w"
        f") w) w) w) w) f JOIN {CAMPAIGNS} k ON k.campaign_id = f.campaign_id "
        f"UNION ALL SELECT %s, w.campaign_id, w.customer_id, w.branch_id, w.channel, w.origin, w.operation_id, "
        f"k.priority, k.send_date, k.scheduled_at, %s, w.reason, "
        f"CASE WHEN w.reason = %s THEN w.campaign_id WHEN w.reason = %s THEN j.jlost END "
        f"FROM {WORK} w JOIN {CAMPAIGNS} k ON k.campaign_id = w.campaign_id "
        f"LEFT JOIN {JOINS} j ON w.reason = %s AND j.campaign_id = w.campaign_id AND j.jb = COALESCE(w.branch_id, 0) "
        f"WHERE w.reason <> %s"
    )
    params = [run.pk, Reason.HOLDOUT, *lost.params, *winners.params, *reason_e_params, *quota.params, *limits.params, *level_c.params,
              run.pk, False, Reason.DUPLICATE_ADDRESS, Reason.BRANCH_VERSION, Reason.BRANCH_VERSION,
              Reason.SAME_OPERATION]
    return _sql(sql, params)


def holdout_draw(customer: str, campaign: str) -> str:
    """SQL for a number in [0, 10000) drawn from a customer id and a campaign id (columns or
    values): the same pair always draws the same number, and ids that follow each other draw numbers
    spread over the range (a multiplicative hash modulo the prime 2³¹ − 1). A customer is in a
    campaign's control group when it is below the group's share in hundredths of a percent."""
    return f"((({customer}) * 2654435761 + ({campaign}) * 40503) %% 2147483647) %% 10000"


def holdout_drawn(customer_id: int, campaign_id: int) -> int:
    """``holdout_draw`` in Python (for checks and the reference implementation)."""
    return ((customer_id * 2654435761 + campaign_id * 40503) % 2147483647) % 10000


def partition_name(run_id: int) -> str:
    """The table holding a run's decisions on PostgreSQL (a partition of ``central_candidate``)."""
    return f"{Candidate._meta.db_table}_r{int(run_id)}"


def _load_table(run: ArbitrationRun, name: str | None = None) -> str:
    """Where decisions are written: on PostgreSQL a new table ``name`` (the run's partition by
    default), without index (``_index`` indexes it), else ``central_candidate`` itself. A
    simulation's table is UNLOGGED: a what-if that can be made again, it skips the write-ahead log
    (and would be emptied by a crash of the database server, its run then explaining nothing until
    simulated again); a real run's decisions, which explain what was sent, are logged."""
    if connection.vendor != "postgresql":
        return connection.ops.quote_name(Candidate._meta.db_table)
    part, parent = name or partition_name(run.pk), Candidate._meta.db_table
    unlogged = "UNLOGGED " if run.mode == ArbitrationRun.Mode.SIMULATION else ""
    _sql(f"DROP TABLE IF EXISTS {part}")
    _sql(f"CREATE {unlogged}TABLE {part} (LIKE {parent} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    return part


def _index(run: ArbitrationRun, table: str, customers: _Slice = EVERYONE) -> None:
    """Index a table of decisions in one pass per index (a sort, rather than a few million inserts
    into a growing tree) — the parent's indexes, which PostgreSQL adopts when the table is
    attached —, and say by a CHECK what it holds, which spares the attachment a scan of its own."""
    _sql(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY (run_id, customer_id, campaign_id)")
    _sql(f"CREATE INDEX {table}_campaign ON {table} (run_id, campaign_id)")
    sliced = ""
    if customers.low is not None:
        sliced += f" AND customer_id >= {int(customers.low)}"
    if customers.high is not None:
        sliced += f" AND customer_id < {int(customers.high)}"
    _sql(f"ALTER TABLE {table} ADD CONSTRAINT {table}_run CHECK (run_id = {int(run.pk)}{sliced})")
    _analyze(table)


def _attach(run: ArbitrationRun) -> None:
    """Make the run's indexed table its partition of ``central_candidate`` (PostgreSQL)."""
    if connection.vendor != "postgresql":
        return
    _sql(f"ALTER TABLE {Candidate._meta.db_table} ATTACH PARTITION {partition_name(run.pk)} "
         f"FOR VALUES IN ({int(run.pk)})")


def runs_drop_decisions(run_ids) -> None:
    """Before runs are deleted: drop their partitions at once (PostgreSQL), rather than deleting
    their millions of rows one by one."""
    if connection.vendor != "postgresql":
        return
    for run_id in run_ids:
        _sql(f"DROP TABLE IF EXISTS {partition_name(run_id)}")


class _Job:
    """What each connection deciding customers of a run needs: the run, its rules, its campaigns."""

    def __init__(self, run: ArbitrationRun, rules: NetworkRules, planned: list[_Planned], groups: dict[str, int],
                 suppressed_channels: set[str], reach: list[tuple] = (), reviewed: frozenset[str] = frozenset()) -> None:
        self.run, self.rules, self.planned, self.groups = run, rules, planned, groups
        self.suppressed_channels = suppressed_channels
        self.operations = sorted({item.operation_id for item in planned if item.operation_id is not None})
        self.reach, self.reviewed = list(reach), reviewed


def _candidates(job: _Job, customers: _Slice) -> None:
    """The working tables of this connection, with the slice's candidates in, less the losers of
    "one message per customer per operation" (an UPDATE with a window function)."""
    _create_work_tables()
    _write_campaigns(job.planned, job.run.network_id, job.reach)
    _insert_candidates(job.run, job.groups, job.rules, job.suppressed_channels, job.operations, customers,
                       job.reviewed)
    if job.rules.one_per_operation:
        _exclude_ranked(Reason.SAME_OPERATION, partition="c.customer_id, c.operation_id", order="c.corder",
                        where="c.operation_id IS NOT NULL")


def _exclude_shared_addresses() -> None:
    """One message per address per campaign: the customer of lowest id keeps it."""
    _exclude_ranked(Reason.DUPLICATE_ADDRESS, partition="c.campaign_id, c.address", order="c.customer_id",
                    where="c.channel IN (%s, %s) AND c.address <> ''", params=[Channel.EMAIL, Channel.SMS], rare=True)


def _decide(job: _Job, customers: _Slice = EVERYONE, table: str | None = None,
            exchange: _Exchange | None = None) -> Counter:
    """Decide the slice's customers and write their decisions to ``table`` (PostgreSQL: a new
    table, indexed here) or ``central_candidate``, and count them by reason: the candidates, one message per operation, one
    per address (with the other slices through ``exchange``, if any), then the caps, who lost to
    whom, and the writing of every decision (one statement)."""
    _candidates(job, customers)
    if exchange is None:
        _exclude_shared_addresses()
    else:
        _exclude_shared_addresses_with(exchange)
    past = _past_counts(job.run, job.rules, customers)
    target = _load_table(job.run, table)
    _caps_and_write(job.run, job.rules, past, job.operations, target)
    _drop_work_tables()
    if connection.vendor == "postgresql":
        _index(job.run, target, customers)
    with connection.cursor() as cursor:  # the decisions by reason ("" = selected)
        cursor.execute(f"SELECT reason, COUNT(*) FROM {target} WHERE run_id = %s GROUP BY reason",  # noqa: S608
                       [job.run.pk])
        return Counter(dict(cursor.fetchall()))


# --- On both cores --------------------------------------------------------------------------------
#
# PostgreSQL runs a statement on one core (it parallelises neither an INSERT … SELECT, nor window
# functions, nor anything that reads a temporary table). Every rule but "one message per address"
# is about one customer's candidates, so a large network's customers are cut in slices of
# consecutive ids, each decided on a connection (and a core) of its own, in a table of its own;
# the customers who share an address with another are decided first, together, and the losers of
# that rule handed to each slice. The run's partition is then a table partitioned by customer id,
# whose partitions are the slices' tables. Only outside a transaction: the slices' connections see
# what is committed, and commit their tables (dropped again if the run fails).


def _slice_bounds(network: Network) -> list[int]:
    """The ids cutting the network's customers in slices of equal size, one per connection — or
    none: decide on this connection (a small network, a database other than PostgreSQL, or a
    caller's transaction whose writes other connections would not see)."""
    workers = int(getattr(settings, "RELAIS_ARBITRATION_WORKERS", 1))
    if connection.vendor != "postgresql" or connection.in_atomic_block or workers < 2:
        return []
    customers = connection.ops.quote_name(Customer._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*), MIN(id), MAX(id) FROM {customers} WHERE network_id = %s",  # noqa: S608
                       [network.pk])
        count, first, last = cursor.fetchone()
    if count < int(getattr(settings, "RELAIS_ARBITRATION_PARALLEL_FROM", 0)) or count < workers:
        return []
    # equal ranges of ids: a network's customers are imported in large batches, so their ids are
    # nearly consecutive (an exact median would cost a sort of every id)
    return sorted({first + (last - first + 1) * number // workers for number in range(1, workers)})


class _Exchange:
    """How the slices apply "one message per address per campaign" together, the customer of lowest
    id keeping the message: each slice gives the hashes of the addresses of its candidates still in
    (and which of them it holds for two customers or more); the hashes held twice or by two slices
    are the addresses that may be shared; each slice gives its candidates with one of those, and
    the losers are decided from them all — exactly, on the addresses themselves. Two meeting points
    (a barrier); a slice that fails breaks it, and the others stop."""

    def __init__(self, parties: int) -> None:
        self._barrier = threading.Barrier(parties)
        self._lock = threading.Lock()
        self._hashes: list[set[int]] = []
        self._held_twice: set[int] = set()
        self._rows: list[tuple[int, int, str]] = []
        self._shared: list[int] | None = None
        self._losers: set[tuple[int, int]] | None = None

    def shared_hashes(self, hashes: list[int], held_twice: list[int]) -> list[int]:
        held = set(hashes)
        with self._lock:
            self._hashes.append(held)
            self._held_twice.update(held_twice)
        self._barrier.wait()
        with self._lock:
            if self._shared is None:
                shared = set(self._held_twice)
                for number, one in enumerate(self._hashes):
                    for other in self._hashes[number + 1:]:
                        shared |= one & other
                self._shared = sorted(shared)
            return self._shared

    def losers(self, rows: list[tuple[int, int, str]]) -> set[tuple[int, int]]:
        with self._lock:
            self._rows += rows
        self._barrier.wait()
        with self._lock:
            if self._losers is None:
                first: dict[tuple[int, str], int] = {}
                for campaign_id, customer_id, address in self._rows:
                    key = (campaign_id, address)
                    first[key] = min(first.get(key, customer_id), customer_id)
                self._losers = {(campaign_id, customer_id) for campaign_id, customer_id, address in self._rows
                                if first[(campaign_id, address)] != customer_id}
            return self._losers

    def abort(self) -> None:
        self._barrier.abort()


def _exclude_shared_addresses_with(exchange: _Exchange) -> None:
    """This slice's part of "one message per address", decided with the other slices."""
    still_in = f"FROM {WORK} WHERE reason IS NULL AND channel IN (%s, %s) AND address <> ''"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT array_agg(h), array_agg(h) FILTER (WHERE twice) FROM (SELECT hashtext(address) AS h, "  # noqa: S608
                       f"MIN(customer_id) <> MAX(customer_id) AS twice {still_in} GROUP BY hashtext(address)) a",
                       [Channel.EMAIL, Channel.SMS])
        hashes, held_twice = cursor.fetchone()
        shared = exchange.shared_hashes(hashes or [], held_twice or [])
        rows: list[tuple[int, int, str]] = []
        if shared:
            cursor.execute(f"SELECT campaign_id, customer_id, address {still_in} "
                           f"AND hashtext(address) = ANY(%s)", [Channel.EMAIL, Channel.SMS, shared])
            rows = [tuple(row) for row in cursor.fetchall()]
    mine = {(campaign_id, customer_id) for campaign_id, customer_id, _address in rows}
    losers = [pair for pair in exchange.losers(rows) if pair in mine]
    if losers:
        _sql(f"UPDATE {WORK} SET reason = %s WHERE reason IS NULL AND (campaign_id, customer_id) IN "  # noqa: S608
             f"(SELECT * FROM unnest(%s::bigint[], %s::bigint[]))",
             [Reason.DUPLICATE_ADDRESS, [pair[0] for pair in losers], [pair[1] for pair in losers]])


def _decide_apart(job: _Job, customers: _Slice, table: str, exchange: _Exchange) -> Counter:
    """A slice decided on a connection of this thread's own, in a transaction of its own."""
    try:
        with transaction.atomic():
            _tune()
            return _decide(job, customers, table, exchange)
    except BaseException:
        exchange.abort()  # the other slices stop at their next meeting point
        raise
    finally:
        connection.close()


def _decide_in_slices(job: _Job, bounds: list[int], tables: list[str]) -> Counter:
    """The run decided in slices, one per connection at once, then put together as the run's
    partition. ``tables`` receives the slices' tables as they are made (dropped if the run fails)."""
    part = partition_name(job.run.pk)
    slices = [_Slice(low, high) for low, high in zip([None, *bounds], [*bounds, None], strict=True)]
    tables += [f"{part}_s{number}" for number in range(len(slices))]
    exchange = _Exchange(len(slices))
    with ThreadPoolExecutor(max_workers=len(slices), thread_name_prefix="arbitration") as pool:
        futures = [pool.submit(_decide_apart, job, customers, table, exchange)
                   for customers, table in zip(slices, tables, strict=True)]
        failures = [future.exception() for future in futures if future.exception() is not None]
    if failures:  # the failure itself, rather than a slice stopped because another one failed
        raise min(failures, key=lambda error: isinstance(error, threading.BrokenBarrierError))
    counts = sum((future.result() for future in futures), Counter())
    _sql(f"CREATE TABLE {part} (LIKE {Candidate._meta.db_table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
         f"PARTITION BY RANGE (customer_id)")
    for customers, table in zip(slices, tables, strict=True):
        low = "MINVALUE" if customers.low is None else int(customers.low)
        high = "MAXVALUE" if customers.high is None else int(customers.high)
        _sql(f"ALTER TABLE {part} ATTACH PARTITION {table} FOR VALUES FROM ({low}) TO ({high})")
    return counts


def _drop_tables(tables: list[str]) -> None:
    """After a failed run: the slices' tables, which their own connections committed."""
    for table in tables:
        try:
            _sql(f"DROP TABLE IF EXISTS {table}")
        except DatabaseError:
            logger.exception("arbitration: could not drop %s after a failed run", table)


def _create_deliveries(run: ArbitrationRun) -> int:
    """One delivery per selected candidate; an existing one (a run made twice) is kept as is."""
    token = ("replace(gen_random_uuid()::text, '-', '')" if connection.vendor == "postgresql"
             else "lower(hex(randomblob(16)))")
    table = connection.ops.quote_name(Delivery._meta.db_table)
    candidates = connection.ops.quote_name(Candidate._meta.db_table)
    sql = (
        f"INSERT INTO {table} (campaign_id, customer_id, channel, status, token, attempts, last_error, "  # noqa: S608
        f"queued_at) "
        f"SELECT c.campaign_id, c.customer_id, c.channel, 'queued', 't_' || {token}, 0, '', %s "
        f"FROM {candidates} c WHERE c.run_id = %s AND c.selected "
        f"ON CONFLICT (campaign_id, customer_id, channel) DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [timezone.now(), run.pk])
        return cursor.rowcount


def arbitrate(*, network: Network, starts_on: date, ends_on: date, mode: str = ArbitrationRun.Mode.SIMULATION,
              started_by=None, gate=None) -> ArbitrationRun:
    """Arbitrate the network's campaigns sending in [starts_on, ends_on]. ``gate`` (for real runs)
    says why a campaign may not be sent, or None: only what it lets through is arbitrated."""
    started = time.perf_counter()
    rules = rules_for(network)
    statuses = COMMIT_STATUSES if mode == ArbitrationRun.Mode.COMMIT else SIMULATION_STATUSES
    campaigns = list(Campaign.objects.filter(network=network, send_date__range=(starts_on, ends_on),
                                             status__in=statuses).select_related("operation"))
    if mode == ArbitrationRun.Mode.COMMIT:
        if gate is None:
            raise ValueError("a real arbitration needs the send gate")
        campaigns = [campaign for campaign in campaigns if gate(campaign) is None]
    bounds = _slice_bounds(network) if campaigns else []
    tables: list[str] = []
    try:
        with transaction.atomic():
            run = _arbitrate(network, campaigns, rules, mode=mode, starts_on=starts_on, ends_on=ends_on,
                             started_by=started_by, bounds=bounds, tables=tables, started=started)
    except BaseException:
        _drop_tables(tables)
        raise
    return run


def _arbitrate(network: Network, campaigns: list[Campaign], rules: NetworkRules, *, mode: str, starts_on: date,
               ends_on: date, started_by, bounds: list[int], tables: list[str], started: float) -> ArbitrationRun:
    """The run, in the transaction ``arbitrate`` opened."""
    run = ArbitrationRun.objects.create(network=network, mode=mode, starts_on=starts_on, ends_on=ends_on,
                                        started_by=started_by)
    _tune()
    suppressed_channels = set(Suppression.objects.filter(network=network).values_list("channel", flat=True)
                              .distinct().order_by())
    planned, groups = _plan(campaigns, rules)
    job = _Job(run, rules, planned, groups, suppressed_channels, reach=national_reach(network, campaigns, mode=mode),
               reviewed=_reviewed(campaigns))
    counts = _decide_in_slices(job, bounds, tables) if bounds else _decide(job)
    written = sum(counts.values())
    _attach(run)
    if connection.vendor == "postgresql":  # the caller's transaction may go on: its own settings
        for setting in ("work_mem", "maintenance_work_mem", "jit", "enable_nestloop"):
            _sql(f"RESET {setting}")
    deliveries = _create_deliveries(run) if mode == ArbitrationRun.Mode.COMMIT else 0
    selected = counts.pop("", 0)
    run.summary = {
        "campaigns": len(campaigns), "candidates": written, "selected": selected, "excluded": dict(+counts),
        "deliveries": deliveries, "seconds": round(time.perf_counter() - started, 3),
    }
    run.finished_at = timezone.now()
    run.save(update_fields=["summary", "finished_at"])
    return run
