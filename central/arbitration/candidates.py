"""The candidates: the run's campaigns in the order of the rules, written to the working tables, and
every (customer, campaign) pair their targets give with the first exclusion that depends on the
customer alone — a few INSERT … SELECT (docs/arbitration.md, "How the engine works", step 1)."""

from __future__ import annotations

import json
from collections import Counter

from django.core.exceptions import FullResultSet
from django.db import connection
from django.db.models import Max
from django.utils import timezone

from central.arbitration.policy import campaign_origin, campaign_priority, counted_operation
from central.arbitration.work_tables import (
    CAMPAIGNS,
    EVERYONE,
    HAD,
    JOINS,
    REACH,
    WORK,
    _analyze,
    _Slice,
    _sql,
)
from central.campaigns.targeting import apply_criteria
from central.channels import registry as channels
from central.models import (
    ArbitrationRun,
    Campaign,
    CampaignEvent,
    ConsentStatus,
    Contact,
    Customer,
    NationalTargetReview,
    NetworkRules,
    Reason,
    Suppression,
    TargetOverride,
)
from local_stores.models import Node


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
    by_channel, params = [], []
    for spec in channels.all():
        channel = spec.code
        no_address = " OR ".join(f"{u}.{name} = ''" for name in spec.address_fields)
        if len(spec.address_fields) > 1:
            no_address = f"({no_address})"
        whens = [f"WHEN {u}.objected_at IS NOT NULL THEN %s", f"WHEN {u}.{spec.consent_field} <> %s THEN %s",
                 f"WHEN {no_address} THEN %s"]
        params += [channel, Reason.OBJECTION, ConsentStatus.GRANTED, Reason.NO_CONSENT, Reason.NO_ADDRESS]
        if channel in suppressed_channels and spec.matched_address:
            address = f"LOWER({u}.{spec.matched_address})"
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
    matched = channels.with_matched_address()
    address = f"CASE k.channel {' '.join(f'WHEN %s THEN LOWER({u}.{spec.matched_address})' for spec in matched)} ELSE '' END"
    address_params = [spec.code for spec in matched]
    insert = (f"INSERT INTO {WORK} (campaign_id, customer_id, branch_id, corder, channel, origin, operation_id, "  # noqa: S608
              f"address, segment, reason) SELECT k.campaign_id, {u}.id, {u}.branch_id, k.corder, k.channel, k.origin, "
              f"k.operation_id, {address}, {u}.segment, {reason} FROM {u} ")
    head = [*address_params, *reason_params]
    sliced, sliced_params = customers.where(f"{u}.id")
    # The names are the models' and this module's; every value is bound.
    _sql(insert + f"JOIN {JOINS} k ON k.jb = COALESCE({u}.branch_id, 0) "
         f"WHERE {u}.network_id = %s{sliced} AND {criteria}", [*head, run.network_id, *sliced_params, *criteria_params])
    insert_o = insert.replace(reason, reason_o)
    _sql(insert_o + f"JOIN {overrides} o ON o.customer_id = {u}.id JOIN {CAMPAIGNS} k ON k.campaign_id = o.campaign_id "  # noqa: S608
         f"LEFT JOIN {REACH} r ON r.campaign_id = k.campaign_id AND r.node_id = COALESCE({u}.branch_id, 0) "
         f"WHERE {u}.network_id = %s{sliced} AND o.action = %s AND NOT EXISTS (SELECT 1 FROM {WORK} w "
         f"WHERE w.campaign_id = o.campaign_id AND w.customer_id = o.customer_id)",
         [*address_params, *reason_o_params, run.network_id, *sliced_params, TargetOverride.Action.INCLUDE])
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
