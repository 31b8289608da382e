"""Batches: the raw-SQL claim of a batch of deliveries (one conditional ``UPDATE … RETURNING``),
the check again just before each message (one query), the message handed to its channel, and the
sent marks written together (one UPDATE, one INSERT of Contacts). What a batch does not send is
released. The SQL differs by database vendor (PostgreSQL prepares the recheck once per connection)."""

from __future__ import annotations

import functools
import logging
import time
import weakref
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction
from django.db.models import F
from django.utils import timezone

from central.arbitration import campaign_origin, counted_operation
from central.channels import registry as channels
from central.customers.consent import (
    address_hash,
    consent_problem,
    customer_consent_withdraw,
    suppress_address,
)
from central.delivery.errors import (
    CANCELLED,
    FAILED,
    RETRYING,
    SENT,
    SKIPPED,
    STOPPED,
    PermanentFailure,
    SendOutcome,
    TemporaryFailure,
)
from central.delivery.quiet_hours import quiet_hours_end
from central.delivery.rate_limit import rate_limiter
from central.delivery.send_state import campaign_send_block
from central.models import (
    Campaign,
    CampaignStatus,
    ConsentStatus,
    Contact,
    Customer,
    Delivery,
    DeliveryReason,
    DeliveryStatus,
    NetworkRules,
    Suppression,
)
from templates_lib import frozen

logger = logging.getLogger(__name__)

SMS_STOP_SOURCE = "SMS STOP (provider)"


# --- Batches: claim, check again, send, mark ---------------------------------------------------------

#: How many messages a chunk claims at once (one UPDATE), and so the most a worker process has handed
#: to the provider before their *sent* is committed (one UPDATE and one INSERT of Contacts per batch):
#: the messages "in flight", which a killed worker may send twice. ``RELAIS_DISPATCH_BATCH_SIZE``.
DEFAULT_BATCH_SIZE = 50
#: Sent marks are committed at least this often, whatever the batch (a slow, rate-limited send).
SENT_FLUSH_SECONDS = 1.0
#: A batch claimed this long ago releases what it has not sent (the chunk claims it again at once), far
#: from ``RELAIS_DISPATCH_STALE_SECONDS``, after which ``dispatch_recover`` takes a claim for a lost one.
BATCH_MAX_SECONDS = 60.0


def dispatch_batch_size() -> int:
    return max(1, int(getattr(settings, "RELAIS_DISPATCH_BATCH_SIZE", DEFAULT_BATCH_SIZE)))


def sending_campaign(campaign_id: int):
    return Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.SENDING).values("pk")


def _quoted(name: str) -> str:
    return connection.ops.quote_name(name)


def _column(model, field: str) -> str:
    return _quoted(model._meta.get_field(field).column)


def _table(model) -> str:
    return _quoted(model._meta.db_table)


def claim_batch(delivery_ids: list[int], campaign_id: int, now: datetime) -> list[int]:
    """queued → sending for those of ``delivery_ids`` still queued and due, while the campaign is
    sending: one conditional ``UPDATE … RETURNING`` (committed at once), whose rows this task now
    owns. The rows' own status is in the WHERE clause, so that PostgreSQL re-checks it on the row
    version a concurrent claimer committed, and only one of them updates each row."""
    if not delivery_ids:
        return []
    d, k = Delivery, Campaign
    pk, kpk = _quoted(d._meta.pk.column), _quoted(k._meta.pk.column)
    status, retry_at, attempts = _column(d, "status"), _column(d, "retry_at"), _column(d, "attempts")
    # (identifiers from the models' metadata, quoted; every value a parameter)
    sql = (f"UPDATE {_table(d)} SET {status} = %s, {_column(d, 'claimed_at')} = %s, {attempts} = {attempts} + 1 "  # noqa: S608
           f"WHERE {pk} IN ({', '.join(['%s'] * len(delivery_ids))}) AND {status} = %s "
           f"AND ({retry_at} IS NULL OR {retry_at} <= %s) "
           f"AND {_column(d, 'campaign')} IN (SELECT {kpk} FROM {_table(k)} WHERE {kpk} = %s AND {_column(k, 'status')} = %s) "
           f"RETURNING {pk}")
    at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(sql, [DeliveryStatus.SENDING, at, *delivery_ids, DeliveryStatus.QUEUED, at, campaign_id,
                             CampaignStatus.SENDING])
        return sorted(row[0] for row in cursor.fetchall())


def _claim(delivery_id: int, campaign_id: int, now: datetime) -> bool:
    """One message claimed (``claim_batch`` of one): True if this task owns it."""
    return claim_batch([delivery_id], campaign_id, now) == [delivery_id]


@functools.lru_cache(maxsize=16)
def _recheck_sql(vendor: str, channel: str) -> str:
    """The query of ``_recheck`` (no joins to plan: PostgreSQL plans each query again, and planning a
    three-table join cost more than running it). Parameters: status, claimed_at, campaign id,
    network id, channel, address hash, delivery id, customer id."""
    d, c, k, s = Delivery, Customer, Campaign, Suppression
    spec = channels.get(channel)
    address = spec.send_address
    kpk = _quoted(k._meta.pk.column)
    return (f"SELECT (d.{_column(d, 'status')} = %s AND d.{_column(d, 'claimed_at')} = %s), "  # noqa: S608
            f"(SELECT k.{_column(k, 'status')} FROM {_table(k)} k WHERE k.{kpk} = %s), "
            f"c.{_column(c, 'objected_at')} IS NOT NULL, c.{_column(c, spec.consent_field)}, c.{_column(c, address)}, "
            f"EXISTS (SELECT 1 FROM {_table(s)} s WHERE s.{_column(s, 'network')} = %s "
            f"AND s.{_column(s, 'channel')} = %s AND s.{_column(s, 'value_hash')} = %s) "
            f"FROM {_table(d)} d, {_table(c)} c "
            f"WHERE d.{_quoted(d._meta.pk.column)} = %s AND c.{_quoted(c._meta.pk.column)} = %s")


#: PostgreSQL connections (psycopg's) that cannot keep a prepared statement (a pooler in transaction
#: mode): the recheck goes through Django's cursor there.
_unprepared: weakref.WeakSet = weakref.WeakSet()


def _recheck_row(channel: str, params: list) -> tuple | None:
    """The recheck query's row. On PostgreSQL, outside a transaction (a chunk's normal case), as a
    statement psycopg prepares once per connection: Django binds parameters on the client, so
    PostgreSQL parses and plans the query anew at each execution, which cost three times what
    running it does (≈ 0.25 ms of the database's CPU per message; ≈ 0.07 ms prepared). A connection
    that cannot keep it (a pooler) falls back to the plain query."""
    db = connections[DEFAULT_DB_ALIAS]
    sql = _recheck_sql(db.vendor, channel)
    if db.vendor == "postgresql" and not db.in_atomic_block:
        db.ensure_connection()
        raw = db.connection
        if raw not in _unprepared:
            import psycopg

            try:
                with db.wrap_database_errors:
                    if raw.prepare_threshold is None:  # (Django's default: psycopg prepares nothing; its own
                        raw.prepare_threshold = 1 << 30  # client-side cursors never do, this lets prepare=True)
                    with psycopg.Cursor(raw) as cursor:
                        cursor.execute(sql, params, prepare=True)
                        return cursor.fetchone()
            except DatabaseError:
                logger.warning("dispatch: statements cannot be prepared on this connection", exc_info=True)
                _unprepared.add(raw)
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _recheck(delivery: Delivery, claimed_at: datetime) -> str:
    """Just before a claimed message leaves, one query: the campaign still sending (else STOPPED),
    the claim still this task's (else SKIPPED: a recovery took it back), and the customer's consent
    read again — a global objection, a consent no longer granted for the channel, a missing or a
    suppressed address cancel it (that DeliveryReason); "" to send."""
    customer, channel = delivery.customer, delivery.channel
    address = getattr(customer, channels.get(channel).send_address) or ""
    row = _recheck_row(channel, [
        DeliveryStatus.SENDING, connection.ops.adapt_datetimefield_value(claimed_at), delivery.campaign_id,
        customer.network_id, channel, address_hash(address), delivery.pk, customer.pk])
    if row is None:
        return SKIPPED
    mine, campaign_status, objected, consent, current, suppressed = row
    if campaign_status != CampaignStatus.SENDING:
        return STOPPED
    if not mine:
        return SKIPPED
    if objected:
        return DeliveryReason.OBJECTION
    if consent != ConsentStatus.GRANTED:
        return DeliveryReason.NO_CONSENT
    if not current:
        return DeliveryReason.NO_ADDRESS
    if current != address:  # the address changed since the batch was read: the customer, read again
        delivery.customer = Customer.objects.get(pk=customer.pk)
        return consent_problem(delivery.customer, channel)
    return DeliveryReason.SUPPRESSED if suppressed else ""


def release_claims(campaign_id: int, delivery_ids: list[int], claimed_at: datetime, now: datetime) -> None:
    """Claimed messages this task will not send (paused, quiet hours, out of time, an error): back to
    the queue as if never claimed — or cancelled if the campaign was cancelled meanwhile (a
    cancellation reaches only queued deliveries). Under the campaign's row lock, which pause and
    cancel take too: a cancellation committed after this sees them queued."""
    if not delivery_ids:
        return
    with transaction.atomic():
        status = Campaign.objects.select_for_update().filter(pk=campaign_id).values_list("status", flat=True).first()
        mine = Delivery.objects.filter(pk__in=delivery_ids, status=DeliveryStatus.SENDING, claimed_at=claimed_at)
        if status == CampaignStatus.CANCELLED:
            mine.update(status=CANCELLED, reason=DeliveryReason.CAMPAIGN_CANCELLED, finished_at=now, retry_at=None)
        else:
            mine.update(status=DeliveryStatus.QUEUED, claimed_at=None, attempts=F("attempts") - 1)


def delivery_end(delivery_id: int, status: str, *, reason: str, error: str = "", now: datetime) -> bool:
    return Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.SENDING).update(
        status=status, reason=reason, last_error=error[:2000], finished_at=now, retry_at=None) == 1


def contact_for(campaign: Campaign, customer_id: int, now: datetime) -> Contact:
    return Contact(customer_id=customer_id, channel=campaign.channel, origin=campaign_origin(campaign),
                   operation_id=counted_operation(campaign), contacted_on=timezone.localdate(now))


@functools.lru_cache(maxsize=16)
def _mark_sent_sql(vendor: str, rows: int) -> str:
    """One UPDATE of ``rows`` deliveries to *sent* from a VALUES list (id, at, provider id, segments,
    cost), only those not sent yet, returning their ids and customers. PostgreSQL needs the types
    of the VALUES columns spelled; SQLite must not be told (its CAST to a date type breaks it)."""
    d = Delivery

    def cast(expression: str, sql_type: str) -> str:
        return f"CAST({expression} AS {sql_type})" if vendor == "postgresql" else expression

    at = cast("v.column2", "timestamp with time zone")
    status = _column(d, "status")
    return (f"UPDATE {_table(d)} AS d SET {status} = %s, {_column(d, 'reason')} = %s, "  # noqa: S608 (as claim_batch)
            f"{_column(d, 'retry_at')} = NULL, {_column(d, 'sent_at')} = {at}, {_column(d, 'finished_at')} = {at}, "
            f"{_column(d, 'provider_id')} = {cast('v.column3', 'varchar')}, "
            f"{_column(d, 'segments')} = {cast('v.column4', 'smallint')}, {_column(d, 'cost')} = {cast('v.column5', 'numeric')} "
            f"FROM (VALUES {', '.join(['(%s, %s, %s, %s, %s)'] * rows)}) AS v "
            f"WHERE d.{_quoted(d._meta.pk.column)} = {cast('v.column1', 'bigint')} AND d.{status} <> %s "
            f"RETURNING {_quoted(d._meta.pk.column)}, {_column(d, 'customer')}")  # (SQLite: unqualified)


def _mark_sent(campaign: Campaign, accepted: list[tuple[Delivery, SendOutcome, datetime]]) -> int:
    """*sent*, and a Contact each, for messages the provider accepted: one transaction, one UPDATE
    (``_mark_sent_sql``) and one INSERT. Whatever a row became meanwhile (queued again by a recovery
    that thought the worker dead), the provider has the message: it is sent — once: a row already
    sent is left alone (PostgreSQL re-checks ``status <> 'sent'`` on the version a concurrent
    marker committed), and gets no second Contact. Returns how many rows became sent."""
    if not accepted:
        return 0
    ops, values = connection.ops, []
    at_of = {}
    for delivery, outcome, at in accepted:
        at_of[delivery.pk] = at
        cost = None if outcome.cost is None else ops.adapt_decimalfield_value(outcome.cost, 9, 4)
        values += [delivery.pk, ops.adapt_datetimefield_value(at), outcome.provider_id[:200], outcome.segments, cost]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_mark_sent_sql(connection.vendor, len(accepted)), [SENT, "", *values, SENT])
            done = sorted(cursor.fetchall())
        if done:
            origin, operation_id = campaign_origin(campaign), counted_operation(campaign)
            Contact.objects.bulk_create([
                Contact(customer_id=customer_id, channel=campaign.channel, origin=origin, operation_id=operation_id,
                        contacted_on=timezone.localdate(at_of[pk])) for pk, customer_id in done])
    return len(done)


class _SentMarks:
    """Messages the provider accepted whose *sent* is not committed yet: at most a batch, and for at
    most ``SENT_FLUSH_SECONDS`` (then committed together)."""

    def __init__(self, campaign: Campaign) -> None:
        self.campaign = campaign
        self.accepted: list[tuple[Delivery, SendOutcome, datetime]] = []
        self.since = 0.0

    def add(self, delivery: Delivery, outcome: SendOutcome, at: datetime) -> None:
        if not self.accepted:
            self.since = time.monotonic()
        self.accepted.append((delivery, outcome, at))

    def flush(self, *, if_older_than: float = 0.0) -> None:
        if self.accepted and time.monotonic() - self.since >= if_older_than:
            accepted, self.accepted = self.accepted, []
            _mark_sent(self.campaign, accepted)


def _retry_or_give_up(delivery: Delivery, failure: TemporaryFailure, now: datetime) -> str:
    if delivery.attempts >= settings.RELAIS_DISPATCH_MAX_ATTEMPTS:
        delivery_end(delivery.pk, FAILED, reason=DeliveryReason.GAVE_UP, now=now,
             error=f"{failure} ({delivery.attempts} attempts)")
        return FAILED
    delay = min(settings.RELAIS_DISPATCH_RETRY_SECONDS * 2 ** (delivery.attempts - 1),
                settings.RELAIS_DISPATCH_RETRY_MAX_SECONDS)
    Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(
        status=DeliveryStatus.QUEUED, claimed_at=None, retry_at=now + timedelta(seconds=delay), last_error=str(failure)[:2000])
    return RETRYING


def _send_claimed(campaign: Campaign, delivery: Delivery, claimed_at: datetime, channel, clock,
                  marks: _SentMarks) -> str:
    """One claimed message: the rate limit, the checks just before it, the provider. A failure is
    committed at once, on its own; a message the provider accepted is added to ``marks``."""
    if delivery.attempts > settings.RELAIS_DISPATCH_MAX_ATTEMPTS:  # interrupted again and again (a worker-killer)
        delivery_end(delivery.pk, FAILED, reason=DeliveryReason.GAVE_UP, now=clock(),
             error=f"interrupted {delivery.attempts - 1} times while sending")
        return FAILED
    rate_limiter.acquire(delivery.channel)
    verdict = _recheck(delivery, claimed_at)
    if verdict in (STOPPED, SKIPPED):
        return verdict
    if verdict:
        delivery_end(delivery.pk, CANCELLED, reason=verdict, now=clock())
        return CANCELLED
    try:
        outcome = channel.send(delivery)
    except frozen.SnapshotProblem as problem:  # not this message's fault: the whole send stops
        campaign_send_block(campaign_id=campaign.pk, reason=str(problem))
        return STOPPED
    except TemporaryFailure as failure:
        return _retry_or_give_up(delivery, failure, clock())
    except PermanentFailure as failure:
        now = clock()
        with transaction.atomic():
            delivery_end(delivery.pk, CANCELLED if failure.opted_out else FAILED, reason=failure.reason, error=str(failure),
                 now=now)
            if failure.suppress:
                suppress_address(customer=delivery.customer, channel=delivery.channel, reason=failure.reason)
        if failure.opted_out:
            customer_consent_withdraw(customer=delivery.customer, channel=delivery.channel, source=SMS_STOP_SOURCE,
                                      at=now, reason=DeliveryReason.SMS_STOP)
        return CANCELLED if failure.opted_out else FAILED
    except Exception as error:  # a poison recipient fails alone
        logger.exception("delivery %s failed", delivery.pk)
        delivery_end(delivery.pk, FAILED, reason=DeliveryReason.ERROR, error=f"{type(error).__name__}: {error}", now=clock())
        return FAILED
    marks.add(delivery, outcome, clock())
    return SENT


@dataclass
class ChunkResult:
    sent: int = 0
    failed: int = 0
    cancelled: int = 0
    retrying: int = 0
    skipped: int = 0
    #: why the chunk stopped before its end: a campaign status ("paused", "cancelled"…) or "quiet_hours"
    stopped: str = ""
    #: when the chunk's task should run again (the end of quiet hours, the earliest retry), or None
    resume_at: datetime | None = None

    def as_dict(self) -> dict:
        values = asdict(self)
        values["resume_at"] = self.resume_at.isoformat() if self.resume_at else None
        return values


#: What a batch reads of its deliveries and their customers (the rest of a customer's row costs more
#: to load than the message does to send; ``_recheck`` reads a customer again in full if needed).
_BATCH_FIELDS = ("id", "campaign_id", "customer_id", "channel", "token", "attempts", "customer__id",
                 "customer__network_id", "customer__branch_id", "customer__civility", "customer__first_name", "customer__last_name",
                 "customer__email", "customer__mobile", "customer__city")


def send_batch(campaign: Campaign, delivery_ids: list[int], claimed_at: datetime, channel, rules: NetworkRules,
                clock, result: ChunkResult) -> list[int]:
    """Send a claimed batch message by message; commit the sent marks when it ends (or every
    ``SENT_FLUSH_SECONDS``). Whatever it does not send (the campaign paused or cancelled, quiet hours,
    an error) is released. Returns the ids to claim again (the batch ran out of time); sets
    ``result.stopped`` (and ``resume_at``) when the chunk must stop."""
    deliveries = list(Delivery.objects.filter(pk__in=delivery_ids).select_related("customer").only(*_BATCH_FIELDS)
                      .order_by("pk"))
    marks = _SentMarks(campaign)
    started = time.monotonic()
    limit = min(BATCH_MAX_SECONDS, settings.RELAIS_DISPATCH_STALE_SECONDS / 3)
    done, again, crashed = 0, [], False
    try:
        for delivery in deliveries:
            if done and time.monotonic() - started > limit:
                again = [d.pk for d in deliveries[done:]]
                break
            quiet_end = quiet_hours_end(rules, clock())
            if quiet_end is not None:
                result.stopped, result.resume_at = "quiet_hours", quiet_end
                break
            outcome = _send_claimed(campaign, delivery, claimed_at, channel, clock, marks)
            if outcome == STOPPED:
                result.stopped = Campaign.objects.filter(pk=campaign.pk).values_list("status", flat=True).first() or "missing"
                break
            done += 1
            setattr(result, outcome, getattr(result, outcome) + 1)
            marks.flush(if_older_than=SENT_FLUSH_SECONDS)
    except BaseException:
        crashed = True
        raise
    finally:
        try:
            marks.flush()
        finally:
            # after an error, the message it happened on keeps its claim (a recovery takes it back and
            # counts the attempt: one that breaks the chunk every time ends ``gave_up``); the rest goes back
            release_claims(campaign.pk, [d.pk for d in deliveries[done + crashed:]], claimed_at, clock())
    return again
