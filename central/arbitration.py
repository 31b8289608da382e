"""Arbitration: which customer gets which campaign, decided set-based in the database.

For a network and a window of send dates, every (customer, campaign) pair the campaigns' targets
give becomes a ``Candidate`` row (one ``INSERT … SELECT`` per campaign), then a fixed sequence of
``UPDATE`` statements decides them — never a loop over recipients in Python:

1. exclusions that depend on the customer alone: global objection, no consent for the channel, no
   address, suppression list, customer of another branch, quiet day, already contacted for the
   operation;
2. one message per customer per operation (the highest priority goes first), one per address per
   campaign;
3. the pressure caps, in order: per channel, then the quota reserved for the other origin, then the
   overall cap, each counting past contacts (``Contact``) over its rolling window and ranking the
   customer's remaining candidates by priority (window functions);
4. what is left is selected; each excluded candidate keeps its reason and, where it lost to
   another campaign, that campaign (``lost_to``).

Priority: a campaign of an operation flagged "national priority" first; then the network's order
of origins (default transactional > local > national); ties broken by earlier scheduling, then
earlier creation. The same engine runs as a simulation (what if) and for real (``mode=commit``,
which then creates one ``Delivery`` per selected candidate under a unique constraint).
"""

from __future__ import annotations

import time
from datetime import date, timedelta

from django.db import connection, transaction
from django.db.models import (
    CharField,
    Count,
    Exists,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    Window,
)
from django.db.models.functions import Coalesce, Lower, RowNumber
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
    NetworkRules,
    OperationMode,
    Origin,
    Reason,
    Suppression,
    TargetOverride,
)
from central.targeting import apply_criteria
from local_stores.models import Network

#: Statuses arbitrated: for real, only what the send gate let through; a simulation also looks at
#: what is still being prepared or approved.
COMMIT_STATUSES = (CampaignStatus.SCHEDULED,)
SIMULATION_STATUSES = (CampaignStatus.DRAFT, CampaignStatus.AWAITING_APPROVAL, CampaignStatus.APPROVED,
                       *COMMIT_STATUSES)
ORDER = ("priority", "scheduled_at", "campaign_id")


class Sha256Hex(Func):
    """SHA-256, in hexadecimal, of a text expression (PostgreSQL's ``sha256``; on SQLite the
    function ``relais_sha256`` that central registers on each connection)."""

    function = "relais_sha256"
    output_field = CharField()

    def as_postgresql(self, compiler, conn, **extra):
        return self.as_sql(compiler, conn, template="encode(sha256(convert_to(%(expressions)s, 'UTF8')), 'hex')",
                           **extra)


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


def _scheduled_at(campaign: Campaign):
    event = CampaignEvent.objects.filter(campaign=campaign, action="scheduled").order_by("-at").first()
    return event.at if event else campaign.created_at


def _audience_ids(campaign: Campaign) -> QuerySet[Customer]:
    """Who the campaign targets, before any rule: its criteria over the branch's customers (the
    network's, for a national send), plus those added by hand, minus those removed. Consent and
    ownership are decided by the rules, so that each exclusion gets its reason."""
    base = Customer.objects.filter(network_id=campaign.network_id)
    matching = apply_criteria(base.filter(branch_id=campaign.branch_id) if campaign.branch_id else base,
                              campaign.target_criteria, today=timezone.localdate())
    overrides = TargetOverride.objects.filter(campaign=campaign)
    included = overrides.filter(action=TargetOverride.Action.INCLUDE).values("customer_id")
    excluded = overrides.filter(action=TargetOverride.Action.EXCLUDE).values("customer_id")
    return base.filter(Q(pk__in=matching.values("pk")) | Q(pk__in=included)).exclude(pk__in=excluded)


def counted_operation(campaign: Campaign) -> int | None:
    """The operation that "one message per customer per operation" counts: a calendar operation;
    each use of a kit is a send of its own."""
    if campaign.operation_id is None or campaign.operation.mode == OperationMode.KIT:
        return None
    return campaign.operation_id


def _insert_candidates(run: ArbitrationRun, campaign: Campaign, rules: NetworkRules) -> None:
    """One INSERT … SELECT for the whole audience of ``campaign``."""
    select_sql, params = _audience_ids(campaign).values("id", "branch_id").query.sql_with_params()
    table = connection.ops.quote_name(Candidate._meta.db_table)
    # Names come from the models and the SELECT is Django's own compiled query; every value is bound.
    sql = (
        f"INSERT INTO {table} (run_id, campaign_id, customer_id, branch_id, channel, origin, operation_id, "  # noqa: S608
        f"priority, send_date, scheduled_at, reason) SELECT %s, %s, s.id, s.branch_id, %s, %s, %s, %s, %s, %s, '' "
        f"FROM ({select_sql}) s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [run.pk, campaign.pk, campaign.channel, campaign_origin(campaign), counted_operation(campaign),
                             campaign_priority(campaign, rules), campaign.send_date, _scheduled_at(campaign), *params])


def _exclude(queryset: QuerySet[Candidate], reason: str, *, lost_to=None) -> int:
    """Mark the candidates of ``queryset`` excluded for ``reason`` (one UPDATE)."""
    values = {"selected": False, "reason": reason}
    if lost_to is not None:
        values["lost_to_id"] = lost_to
    return Candidate.objects.filter(pk__in=queryset.values("pk")).update(**values)


def _past(run: ArbitrationRun, *, days: int, **filters) -> Coalesce:
    """Contacts of the candidate's customer in the ``days`` before the window opens."""
    since = run.starts_on - timedelta(days=days)
    counted = (Contact.objects.filter(customer_id=OuterRef("customer_id"), contacted_on__gte=since,
                                      contacted_on__lt=run.starts_on, **filters)
               .order_by().values("customer_id").annotate(n=Count("id")).values("n"))
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def _ranked(pending: QuerySet[Candidate], partition: list) -> QuerySet[Candidate]:
    return pending.annotate(rank=Window(RowNumber(), partition_by=partition, order_by=[F(name) for name in ORDER]))


def _decide(run: ArbitrationRun, rules: NetworkRules) -> None:
    pending = Candidate.objects.filter(run=run, selected__isnull=True)
    _exclude(pending.filter(customer__objected_at__isnull=False), Reason.OBJECTION)
    for channel in Channel.values:
        _exclude(pending.filter(channel=channel).exclude(**{f"customer__consent_{channel}": ConsentStatus.GRANTED}),
                 Reason.NO_CONSENT)
    _exclude(pending.filter(channel=Channel.EMAIL, customer__email=""), Reason.NO_ADDRESS)
    _exclude(pending.filter(channel=Channel.SMS, customer__mobile=""), Reason.NO_ADDRESS)
    _exclude(pending.filter(channel=Channel.POST).filter(Q(customer__address_line1="") | Q(customer__postal_code="")),
             Reason.NO_ADDRESS)
    for channel, field in ((Channel.EMAIL, "customer__email"), (Channel.SMS, "customer__mobile")):
        suppressed = Suppression.objects.filter(network_id=run.network_id, channel=channel).values("value_hash")
        _exclude(pending.filter(channel=channel).annotate(address_hash=Sha256Hex(Lower(field)))
                 .filter(address_hash__in=suppressed), Reason.SUPPRESSED)
    _exclude(pending.filter(branch__isnull=False).exclude(customer__branch_id=F("campaign__branch_id"))
             .exclude(campaign__branch__isnull=True), Reason.NOT_OWNER)
    if rules.quiet_weekdays:
        _exclude(pending.filter(send_date__iso_week_day__in=rules.quiet_weekdays), Reason.QUIET_PERIOD)
    if rules.one_per_operation:
        already = Contact.objects.filter(customer_id=OuterRef("customer_id"), operation_id=OuterRef("operation_id"))
        _exclude(pending.filter(operation__isnull=False).filter(Exists(already)), Reason.ALREADY_CONTACTED)
        _exclude(_ranked(pending.filter(operation__isnull=False), [F("customer_id"), F("operation_id")])
                 .filter(rank__gt=1), Reason.SAME_OPERATION)
    for channel, field in ((Channel.EMAIL, "customer__email"), (Channel.SMS, "customer__mobile")):
        _exclude(pending.filter(channel=channel).annotate(address=Lower(field)).annotate(
            rank=Window(RowNumber(), partition_by=[F("campaign_id"), F("address")], order_by=[F("customer_id")]))
            .filter(rank__gt=1), Reason.DUPLICATE_ADDRESS)
    for channel, cap in sorted((rules.channel_caps or {}).items()):
        count, days = int(cap.get("count", 0)), int(cap.get("days", rules.cap_days))
        _exclude(_ranked(pending.filter(channel=channel), [F("customer_id")])
                 .annotate(allowed=Value(count) - _past(run, days=days, channel=channel))
                 .filter(rank__gt=F("allowed")), Reason.CHANNEL_CAP)
    marketing = pending.exclude(origin=Origin.TRANSACTIONAL)
    for origin, reserved_for_other in ((Origin.LOCAL, rules.national_reserved), (Origin.NATIONAL, rules.local_reserved)):
        if reserved_for_other:
            _exclude(_ranked(marketing.filter(origin=origin), [F("customer_id")])
                     .annotate(allowed=Value(rules.cap_total - reserved_for_other)
                               - _past(run, days=rules.cap_days, origin=origin))
                     .filter(rank__gt=F("allowed")), Reason.QUOTA)
    _exclude(_ranked(marketing, [F("customer_id")])
             .annotate(allowed=Value(rules.cap_total) - _past(run, days=rules.cap_days))
             .filter(rank__gt=F("allowed")), Reason.PRESSURE_CAP)
    Candidate.objects.filter(run=run, selected__isnull=True).update(selected=True)
    # who each loser lost to: for the operation rule, the operation's selected message; for the
    # caps, the customer's lowest-priority selected campaign (the one that took the last slot)
    winners = Candidate.objects.filter(run=run, customer_id=OuterRef("customer_id"), selected=True)
    Candidate.objects.filter(run=run, reason=Reason.SAME_OPERATION).update(lost_to_id=Subquery(
        winners.filter(operation_id=OuterRef("operation_id")).order_by(*ORDER).values("campaign_id")[:1]))
    last_slot = ("-priority", "-scheduled_at", "-campaign_id")
    Candidate.objects.filter(run=run, reason=Reason.CHANNEL_CAP).update(lost_to_id=Subquery(
        winners.filter(channel=OuterRef("channel")).order_by(*last_slot).values("campaign_id")[:1]))
    Candidate.objects.filter(run=run, reason=Reason.QUOTA).update(lost_to_id=Subquery(
        winners.filter(origin=OuterRef("origin")).order_by(*last_slot).values("campaign_id")[:1]))
    Candidate.objects.filter(run=run, reason=Reason.PRESSURE_CAP).update(lost_to_id=Subquery(
        winners.exclude(origin=Origin.TRANSACTIONAL).order_by(*last_slot).values("campaign_id")[:1]))
    Candidate.objects.filter(run=run, reason=Reason.DUPLICATE_ADDRESS).update(lost_to_id=F("campaign_id"))


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
    with transaction.atomic():
        run = ArbitrationRun.objects.create(network=network, mode=mode, starts_on=starts_on, ends_on=ends_on,
                                            started_by=started_by)
        for campaign in campaigns:
            _insert_candidates(run, campaign, rules)
        _decide(run, rules)
        deliveries = _create_deliveries(run) if mode == ArbitrationRun.Mode.COMMIT else 0
        counts = dict(Candidate.objects.filter(run=run, selected=False).order_by().values_list("reason")
                      .annotate(n=Count("id")).values_list("reason", "n"))
        run.summary = {
            "campaigns": len(campaigns), "candidates": Candidate.objects.filter(run=run).count(),
            "selected": Candidate.objects.filter(run=run, selected=True).count(), "excluded": counts,
            "deliveries": deliveries, "seconds": round(time.perf_counter() - started, 3),
        }
        run.finished_at = timezone.now()
        run.save(update_fields=["summary", "finished_at"])
    return run
