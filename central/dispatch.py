"""Dispatch: the deliveries of a committed arbitration leave, by e-mail, SMS or post.

**Chunks.** ``campaign_dispatch`` (a campaign in status *sending*, after ``campaign_send_start``)
cuts the campaign's queued deliveries into ranges of ids (``RELAIS_DISPATCH_CHUNK_SIZE``) and
queues one Celery task per range. ``dispatch_chunk`` sends a range message by message, and each
message's state is committed on its own: queued → sending → sent, failed (with a reason) or
cancelled (with a reason). A post campaign is one task that prints its mail merge instead.

**Claiming.** A message is taken by one conditional ``UPDATE … SET status='sending' WHERE id=…
AND status='queued' AND campaign_id IN (campaigns in status sending)``: whoever updates the row owns
it; a second task on the same range (the dispatch run twice, a broker redelivery) finds the row no
longer queued and moves on. So a message is sent at most once — except if a worker dies between
the provider's acceptance and the commit of *sent*: the claim then goes stale and
``dispatch_recover`` (Celery beat, every 5 minutes) queues it again after
``RELAIS_DISPATCH_STALE_SECONDS``. The same condition makes a paused or cancelled campaign stop
before its next message.

**Just before each message** the customer is read again: an objection, a withdrawn consent, a
suppressed address or a missing one cancels the delivery with that reason (so an unsubscription
made during the send is honoured); then quiet hours (``NetworkRules.quiet_from``/``quiet_until``, in
``TIME_ZONE``) stop the chunk, which is re-scheduled for their end; then the channel's rate limit.

**Errors.** Temporary (SMTP 4xx, a lost connection, an SMS provider's 429/5xx): the message goes
back to the queue with ``retry_at`` = now + RETRY_SECONDS × 2^(attempt − 1), and the chunk
re-schedules itself for the earliest retry; after ``RELAIS_DISPATCH_MAX_ATTEMPTS`` attempts it
fails (``gave_up``). Permanent (SMTP 5xx): it fails at once; a hard bounce (the recipient refused,
or an enhanced status 5.1.x) puts the address's SHA-256 on the suppression list. Anything else
raised for one message (a poison recipient) fails that message alone and the chunk goes on.

**Rate limit.** Messages per second per channel (``RELAIS_RATE_LIMITS``), a token bucket in Redis
shared by every worker (``RELAIS_RATE_LIMIT_REDIS_URL``), or per process without Redis. Celery's
``rate_limit`` was not used: it counts tasks (a chunk is 200 messages), per worker.

Every sent message writes a ``Contact`` (what the pressure caps count); when no delivery of a
campaign is left to send, the campaign is *sent*.
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
import smtplib
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from email.utils import formataddr, parseaddr
from urllib.parse import quote

import weasyprint
from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import Count, Exists, F, Min, OuterRef, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from central import sms
from central.arbitration import campaign_origin, counted_operation, rules_for
from central.customer_import import normalise_mobile
from central.models import (
    ArbitrationRun,
    Campaign,
    CampaignEvent,
    CampaignStatus,
    Candidate,
    Channel,
    ConsentEvent,
    ConsentStatus,
    Contact,
    Customer,
    Delivery,
    DeliveryReason,
    DeliveryStatus,
    NetworkRules,
    PrintFile,
    Suppression,
    TrackingEvent,
)
from local_stores.models import Network
from templates_lib import merge, rendering
from templates_lib.models import ContentRules
from templates_lib.slots import escape_html

logger = logging.getLogger(__name__)

SENT, FAILED, CANCELLED = DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.CANCELLED
RETRYING, SKIPPED, STOPPED = "retrying", "skipped", "stopped"
UNSUBSCRIBE_SOURCE = "unsubscribe link"
SMS_STOP_SOURCE = "SMS STOP (provider)"
#: The print task is stopped before its claims could be taken for interrupted ones.
PRINT_TIME_MARGIN_SECONDS = 60


# --- Errors of one message ---------------------------------------------------------------------------


class TemporaryFailure(Exception):
    """Try this message again later."""

    def __init__(self, message: str, *, reset_connection: bool = False) -> None:
        super().__init__(message)
        self.reset_connection = reset_connection


class PermanentFailure(Exception):
    """This message will never go."""

    def __init__(self, message: str, *, reason: str = DeliveryReason.REJECTED, suppress: bool = False,
                 opted_out: bool = False) -> None:
        super().__init__(message)
        self.reason, self.suppress, self.opted_out = reason, suppress, opted_out


@dataclass
class SendOutcome:
    provider_id: str
    segments: int | None = None
    cost: Decimal | None = None


_HARD_ENHANCED_STATUS = re.compile(r"\b5\.1\.\d{1,3}\b")


def _smtp_text(code: int | None, message: bytes | str) -> str:
    text = message.decode(errors="replace") if isinstance(message, bytes) else str(message)
    return f"{code} {text}".strip() if code is not None else text


def email_failure(error: BaseException) -> TemporaryFailure | PermanentFailure | None:
    """What a sending error means for one e-mail, or None when it is not a sending error (a bug or
    a poison message: the caller fails the message with it). SMTP: 4xx temporary, 5xx permanent, a
    refused recipient or a 5.1.x status a hard bounce; lost or refused connections temporary.
    django-anymail: a refused recipient is a hard bounce, an API error temporary on 429/5xx."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, message = next(iter(error.recipients.values()), (None, b""))
        text = _smtp_text(code, message)
        if code is not None and 400 <= code < 500:
            return TemporaryFailure(text, reset_connection=code == 421)  # 421: the server closes the connection
        return PermanentFailure(text, reason=DeliveryReason.HARD_BOUNCE, suppress=True)
    if isinstance(error, smtplib.SMTPDataError):
        text = _smtp_text(error.smtp_code, error.smtp_error)
        if 500 <= error.smtp_code < 600:
            hard = bool(_HARD_ENHANCED_STATUS.search(text))
            return PermanentFailure(text, reason=DeliveryReason.HARD_BOUNCE if hard else DeliveryReason.REJECTED,
                                    suppress=hard)
        return TemporaryFailure(text, reset_connection=error.smtp_code == 421)
    if isinstance(error, smtplib.SMTPResponseException):
        # refused sender, authentication, greeting: our side, the same for every message
        return TemporaryFailure(_smtp_text(error.smtp_code, error.smtp_error), reset_connection=True)
    if isinstance(error, smtplib.SMTPException | OSError):  # disconnected, timeout, connection refused
        return TemporaryFailure(f"{type(error).__name__}: {error}", reset_connection=True)
    name = type(error).__name__
    if name == "AnymailRecipientsRefused":
        return PermanentFailure(str(error), reason=DeliveryReason.HARD_BOUNCE, suppress=True)
    if name.startswith("Anymail"):
        status = getattr(error, "status_code", None)
        if status is None or status == 429 or status >= 500:
            return TemporaryFailure(f"{name}: {error}")
        return PermanentFailure(f"{name}: {error}")
    return None


# --- Rate limit -------------------------------------------------------------------------------------

_REDIS_BUCKET = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], 3600)
return tostring(wait)
"""


class LocalBucket:
    """A token bucket in this process (without Redis: each worker process has its own)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: dict[str, tuple[float, float]] = {}

    def wait_time(self, key: str, rate: float, burst: float) -> float:
        with self._lock:
            now = time.monotonic()
            tokens, at = self._state.get(key, (burst, now))
            tokens = min(burst, tokens + max(0.0, now - at) * rate)
            wait = 0.0
            if tokens >= 1:
                tokens -= 1
            else:
                wait = (1 - tokens) / rate
            self._state[key] = (tokens, now)
            return wait


class RedisBucket:
    """A token bucket in Redis, shared by every worker: one atomic Lua script takes a token or says
    how long to wait for one (Redis's own clock, so that workers' clocks do not matter)."""

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=5)
        self.script = self.client.register_script(_REDIS_BUCKET)

    def wait_time(self, key: str, rate: float, burst: float) -> float:
        return float(self.script(keys=[f"relais:rate:{key}"], args=[rate, burst]))


class RateLimiter:
    def __init__(self) -> None:
        self._local = LocalBucket()
        self._redis: dict[str, RedisBucket] = {}

    def _bucket(self):
        url = settings.RELAIS_RATE_LIMIT_REDIS_URL
        if not url:
            return self._local
        if url not in self._redis:
            self._redis[url] = RedisBucket(url)
        return self._redis[url]

    def acquire(self, channel: str) -> float:
        """Wait for a token of ``channel``'s bucket; returns the seconds waited."""
        rate = float(settings.RELAIS_RATE_LIMITS.get(channel) or 0)
        if rate <= 0:
            return 0.0
        burst, waited = max(1.0, rate), 0.0
        while True:
            bucket = self._bucket()
            try:
                wait = bucket.wait_time(channel, rate, burst)
            except Exception:  # Redis away: keep sending, at this process's own pace
                if bucket is self._local:
                    raise
                logger.warning("rate limit: Redis unreachable, limiting per process", exc_info=True)
                wait = self._local.wait_time(channel, rate, burst)
            if wait <= 0:
                return waited
            time.sleep(wait)
            waited += wait


rate_limiter = RateLimiter()


# --- Quiet hours -----------------------------------------------------------------------------------


def quiet_hours_end(rules: NetworkRules, now: datetime) -> datetime | None:
    """If ``now`` falls in the network's quiet hours (local time; ``quiet_from`` after
    ``quiet_until`` spans midnight, e.g. 20:30 → 08:00), when they end; else None."""
    start, end = rules.quiet_from, rules.quiet_until
    if start is None or end is None or start == end:
        return None
    local = timezone.localtime(now)
    moment = local.time()
    if start < end:
        inside, day = start <= moment < end, local.date()
    else:
        inside = moment >= start or moment < end
        day = local.date() if moment < end else local.date() + timedelta(days=1)
    if not inside:
        return None
    return datetime.combine(day, end, tzinfo=local.tzinfo)


# --- Consent, again -------------------------------------------------------------------------------


def address_hash(address: str) -> str:
    """What the suppression list keeps, as the arbitration computes it: SHA-256 of the lower-cased
    address (e-mail, or mobile as stored)."""
    return hashlib.sha256(address.lower().encode()).hexdigest()


def consent_problem(customer: Customer, channel: str) -> str:
    """Why ``customer`` may not be sent a message on ``channel`` now (a DeliveryReason), or ""."""
    if customer.objected_at is not None:
        return DeliveryReason.OBJECTION
    if getattr(customer, f"consent_{channel}") != ConsentStatus.GRANTED:
        return DeliveryReason.NO_CONSENT
    if channel == Channel.POST:
        return "" if customer.address_line1 and customer.postal_code else DeliveryReason.NO_ADDRESS
    address = customer.email if channel == Channel.EMAIL else customer.mobile
    if not address:
        return DeliveryReason.NO_ADDRESS
    if Suppression.objects.filter(network_id=customer.network_id, channel=channel,
                                  value_hash=address_hash(address)).exists():
        return DeliveryReason.SUPPRESSED
    return ""


def _suppress(customer: Customer, channel: str, reason: str) -> None:
    address = customer.email if channel == Channel.EMAIL else customer.mobile
    if address:
        Suppression.objects.get_or_create(network_id=customer.network_id, channel=channel,
                                          value_hash=address_hash(address), defaults={"reason": reason[:40]})


def customer_objection_record(*, customer: Customer, source: str, at: datetime | None = None) -> bool:
    """Record a customer's global objection to marketing (RGPD art. 21): every channel, from now
    on, and the messages not yet sent (their queued deliveries are cancelled). Recorded once, with
    its ``ConsentEvent``; False if they had already objected."""
    at = at or timezone.now()
    with transaction.atomic():
        changed = Customer.objects.filter(pk=customer.pk, objected_at__isnull=True).update(
            objected_at=at, objection_source=source[:120], updated_at=at)
        if changed:
            ConsentEvent.objects.create(customer_id=customer.pk, channel=ConsentEvent.ALL_CHANNELS, status="objected",
                                        occurred_at=at, source=source[:120], recorded_at=at)
        _cancel_queued(Delivery.objects.filter(customer_id=customer.pk), DeliveryReason.OBJECTION, at)
    return bool(changed)


def customer_consent_withdraw(*, customer: Customer, channel: str, source: str, at: datetime | None = None) -> bool:
    """Record that ``customer`` withdrew their consent for ``channel`` (an SMS STOP…), with its
    ``ConsentEvent``; their queued deliveries on that channel are cancelled."""
    at = at or timezone.now()
    with transaction.atomic():
        changed = Customer.objects.filter(pk=customer.pk).exclude(**{f"consent_{channel}": ConsentStatus.DENIED}).update(
            **{f"consent_{channel}": ConsentStatus.DENIED, f"consent_{channel}_at": at,
               f"consent_{channel}_source": source[:120]}, updated_at=at)
        if changed:
            ConsentEvent.objects.create(customer_id=customer.pk, channel=channel, status=ConsentStatus.DENIED,
                                        occurred_at=at, source=source[:120], recorded_at=at)
        _cancel_queued(Delivery.objects.filter(customer_id=customer.pk, channel=channel), DeliveryReason.NO_CONSENT, at)
    return bool(changed)


def _cancel_queued(deliveries, reason: str, at: datetime) -> int:
    queued = deliveries.filter(status=DeliveryStatus.QUEUED)
    campaign_ids = set(queued.values_list("campaign_id", flat=True))
    count = queued.update(status=CANCELLED, reason=reason, finished_at=at, retry_at=None)
    if count:
        transaction.on_commit(lambda: [campaign_finish_if_done(campaign_id=pk) for pk in campaign_ids])
    return count


# --- Content: links, tracking, the message --------------------------------------------------------


def _absolute(path: str) -> str:
    return settings.RELAIS_BASE_URL.rstrip("/") + path


def unsubscribe_url(token: str) -> str:
    return _absolute(reverse("public:unsubscribe", args=[token]))


def view_online_url(token: str) -> str:
    return _absolute(reverse("public:view-online", args=[token]))


def open_pixel_url(token: str) -> str:
    return _absolute(reverse("public:open", args=[token]))


def _click_salt(token: str) -> str:
    return f"relais.click:{token}"


def click_url(token: str, target: str) -> str:
    """The tracked form of a link of the message ``token``: the target, signed for that message only
    (the redirect never goes anywhere the message did not link to)."""
    signed = signing.Signer(salt=_click_salt(token)).sign_object(target, compress=True)
    return _absolute(reverse("public:click", args=[token])) + "?u=" + quote(signed, safe="")


def click_target(token: str, signed: str) -> str:
    """The target of a tracked link; ``signing.BadSignature`` if it was not signed for ``token``."""
    target = signing.Signer(salt=_click_salt(token)).unsign_object(signed)
    if not isinstance(target, str) or not target.lower().startswith(("http://", "https://")):
        raise signing.BadSignature("not a link of the message")
    return target


_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)


def tracked_html(document: str, token: str, *, pixel: bool = True) -> str:
    """Links rewritten to the click redirect (but the unsubscribe and view-online links), and the
    open pixel before ``</body>``."""
    own = {unsubscribe_url(token), view_online_url(token)}

    def rewrite(match: re.Match) -> str:
        target = html.unescape(match.group(3)).strip()
        if not target.lower().startswith(("http://", "https://")) or target in own:
            return match.group(0)
        return f"{match.group(1)}{match.group(2)}{html.escape(click_url(token, target))}{match.group(2)}"

    document = _HREF.sub(rewrite, document)
    if not pixel:
        return document
    image = (f'<img src="{html.escape(open_pixel_url(token))}" width="1" height="1" alt="" '
             'style="display:block;border:0;width:1px;height:1px;overflow:hidden">')
    end = document.lower().rfind("</body>")
    return document[:end] + image + document[end:] if end >= 0 else document + image


def variant_context(campaign: Campaign) -> rendering.VariantContext:
    """The campaign's variant, exactly as its proof was rendered (approvals' ``_render``)."""
    operation = campaign.operation
    return rendering.VariantContext(slot_values=campaign.slot_values, branch=campaign.branch, campaign={
        "offer_code": "",
        "start_date": operation.send_from.strftime("%d/%m/%Y") if operation else "",
        "end_date": operation.send_until.strftime("%d/%m/%Y") if operation else "",
        "send_date": campaign.send_date.strftime("%d/%m/%Y"),
    })


def recipient_values(customer: Customer) -> dict[str, str]:
    return {
        "civility": customer.get_civility_display() if customer.civility else "",
        "first_name": customer.first_name, "last_name": customer.last_name,
        "full_name": f"{customer.first_name} {customer.last_name}".strip(),
        "email": customer.email, "city": customer.city,
    }


def system_values(token: str, *, stop_mention: str = "") -> dict[str, str]:
    return {"unsubscribe_url": unsubscribe_url(token), "view_online_url": view_online_url(token),
            "stop_mention": stop_mention}


def _sender_identity(campaign: Campaign) -> tuple[str, list[str], str]:
    """From (the branch's name, or the network's, on the platform's address), Reply-To (the
    branch's e-mail) and the domain of Message-IDs."""
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or "no-reply@relais.localhost"
    name = campaign.branch.name if campaign.branch_id else campaign.network.name
    reply_to = [campaign.branch.email] if campaign.branch_id and campaign.branch.email else []
    return formataddr((name, address)), reply_to, address.rpartition("@")[2] or "relais.localhost"


def email_message(campaign: Campaign, delivery: Delivery, compiled: rendering.CompiledEmail, *,
                  connection=None) -> EmailMultiAlternatives:
    """The e-mail of one delivery: rendered for its recipient, links tracked, the open pixel, the
    one-click unsubscribe headers (RFC 8058) and a Message-ID made of the delivery's token."""
    customer, token = delivery.customer, delivery.token
    rendered = rendering.render_email(compiled, recipient_values(customer), system_values(token))
    from_email, reply_to, domain = _sender_identity(campaign)
    list_unsubscribe = f"<{unsubscribe_url(token)}>"
    if settings.RELAIS_UNSUBSCRIBE_MAILTO:
        list_unsubscribe += f", <mailto:{settings.RELAIS_UNSUBSCRIBE_MAILTO}?subject=unsubscribe%20{token}>"
    name = f"{customer.first_name} {customer.last_name}".strip()
    message = EmailMultiAlternatives(
        subject=rendered.subject, body=rendered.text, from_email=from_email,
        to=[formataddr((name, customer.email)) if name else customer.email], reply_to=reply_to,
        connection=connection,
        headers={"List-Unsubscribe": list_unsubscribe, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                 "Message-ID": f"<{token}@{domain}>"},
    )
    message.attach_alternative(tracked_html(rendered.html, token), "text/html")
    return message


def sms_text(compiled, customer: Customer, token: str, stop_mention: str) -> str:
    """The SMS of one recipient; the opt-out mention is always there (publishing requires it in the
    template; a merge cannot lose it)."""
    text = rendering.render_sms(compiled, recipient_values(customer), system_values(token, stop_mention=stop_mention))
    if stop_mention and stop_mention not in text:
        text = f"{text} {stop_mention}".strip()
    return text


# --- Channels: one per chunk ----------------------------------------------------------------------


class EmailChannel:
    """Compiles the campaign's variant once, and sends over one connection of Django's e-mail
    backend (SMTP or any django-anymail provider), opened once per chunk."""

    def __init__(self, campaign: Campaign) -> None:
        self.campaign = campaign
        self.connection = get_connection(fail_silently=False)
        self.is_open = False
        self.sent_on_connection = 0
        self._compiled: rendering.CompiledEmail | None = None

    def compiled(self) -> rendering.CompiledEmail:
        if self._compiled is None:
            self._compiled = rendering.compile_email(self.campaign.template_version, variant_context(self.campaign))
        return self._compiled

    def send(self, delivery: Delivery) -> SendOutcome:
        message = email_message(self.campaign, delivery, self.compiled(), connection=self.connection)
        for attempt in (1, 2):
            try:
                if not self.is_open:
                    self.connection.open()
                    self.is_open, self.sent_on_connection = True, 0
                sent = self.connection.send_messages([message])
                break
            except Exception as error:
                failure = email_failure(error)
                if failure is None:
                    raise
                if isinstance(failure, TemporaryFailure) and failure.reset_connection:
                    reused = self.sent_on_connection > 0
                    self._reset()
                    if reused and attempt == 1:  # the server dropped an idle connection: reconnect once, now
                        continue
                raise failure from error
        self.sent_on_connection += 1
        if not sent:
            raise TemporaryFailure("the e-mail backend did not send the message")
        status = getattr(message, "anymail_status", None)
        return SendOutcome(provider_id=str(getattr(status, "message_id", None) or message.extra_headers["Message-ID"]))

    def _reset(self) -> None:
        try:
            self.connection.close()
        except Exception:  # the connection is gone anyway
            logger.debug("closing a broken e-mail connection", exc_info=True)
        self.is_open = False

    def close(self) -> None:
        if self.is_open:
            self._reset()


class SmsChannel:
    """Compiles the SMS once; per recipient, the merge, the segment count and the backend's send."""

    def __init__(self, campaign: Campaign) -> None:
        self.campaign = campaign
        self.backend = sms.get_backend()
        rules = ContentRules.objects.filter(network_id=campaign.network_id).first()
        self.stop_mention = rules.sms_stop_mention if rules else "STOP au 36173"
        self.price = Decimal(settings.RELAIS_SMS_COST_PER_SEGMENT)
        self._compiled = None

    def send(self, delivery: Delivery) -> SendOutcome:
        if self._compiled is None:
            self._compiled = rendering.compile_sms(self.campaign.template_version, variant_context(self.campaign))
        to = normalise_mobile(delivery.customer.mobile)
        if not to:
            raise PermanentFailure(_("not a valid mobile number"))
        text = sms_text(self._compiled, delivery.customer, delivery.token, self.stop_mention)
        count = rendering.sms_count(text)
        try:
            provider_id = self.backend.send(to, text)
        except sms.SmsTemporaryError as error:
            raise TemporaryFailure(str(error)) from error
        except sms.SmsOptedOut as error:
            raise PermanentFailure(str(error), reason=DeliveryReason.SMS_STOP, opted_out=True) from error
        except sms.SmsPermanentError as error:
            raise PermanentFailure(str(error), reason=DeliveryReason.HARD_BOUNCE if error.invalid_number
                                   else DeliveryReason.REJECTED, suppress=error.invalid_number) from error
        return SendOutcome(provider_id=provider_id, segments=count.segments, cost=count.segments * self.price)

    def close(self) -> None:
        pass


def _channel_for(campaign: Campaign):
    return EmailChannel(campaign) if campaign.channel == Channel.EMAIL else SmsChannel(campaign)


# --- One message ------------------------------------------------------------------------------------


def _sending_campaign(campaign_id: int):
    return Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.SENDING).values("pk")


def _claim(delivery_id: int, campaign_id: int, now: datetime) -> bool:
    """queued → sending, in one conditional UPDATE (committed at once): True if this task owns it.
    The row's own status is in the WHERE clause, so that PostgreSQL re-checks it on the row version
    a concurrent claimer committed, and only one of them updates it."""
    return Delivery.objects.filter(
        pk=delivery_id, status=DeliveryStatus.QUEUED, campaign_id__in=_sending_campaign(campaign_id),
    ).update(status=DeliveryStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1) == 1


def _end(delivery_id: int, status: str, *, reason: str, error: str = "", now: datetime) -> bool:
    return Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.SENDING).update(
        status=status, reason=reason, last_error=error[:2000], finished_at=now, retry_at=None) == 1


def _contact(campaign: Campaign, customer_id: int, now: datetime) -> Contact:
    return Contact(customer_id=customer_id, channel=campaign.channel, origin=campaign_origin(campaign),
                   operation_id=counted_operation(campaign), contacted_on=timezone.localdate(now))


def _mark_sent(campaign: Campaign, delivery: Delivery, outcome: SendOutcome, now: datetime) -> None:
    """sent, and its Contact, in one transaction. Whatever the row became meanwhile (queued again by
    a recovery that thought the worker dead), the provider has it: it is sent."""
    with transaction.atomic():
        done = Delivery.objects.filter(pk=delivery.pk).exclude(status=SENT).update(
            status=SENT, sent_at=now, finished_at=now, provider_id=outcome.provider_id[:200], segments=outcome.segments,
            cost=outcome.cost, reason="", retry_at=None)
        if done:
            _contact(campaign, delivery.customer_id, now).save()


def _retry_or_give_up(delivery: Delivery, failure: TemporaryFailure, now: datetime) -> str:
    if delivery.attempts >= settings.RELAIS_DISPATCH_MAX_ATTEMPTS:
        _end(delivery.pk, FAILED, reason=DeliveryReason.GAVE_UP, now=now,
             error=f"{failure} ({delivery.attempts} attempts)")
        return FAILED
    delay = min(settings.RELAIS_DISPATCH_RETRY_SECONDS * 2 ** (delivery.attempts - 1),
                settings.RELAIS_DISPATCH_RETRY_MAX_SECONDS)
    Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(
        status=DeliveryStatus.QUEUED, claimed_at=None, retry_at=now + timedelta(seconds=delay), last_error=str(failure)[:2000])
    return RETRYING


def _send_one(campaign: Campaign, delivery_id: int, channel, clock) -> str:
    now = clock()
    if not _claim(delivery_id, campaign.pk, now):
        status = Campaign.objects.filter(pk=campaign.pk).values_list("status", flat=True).first()
        return SKIPPED if status == CampaignStatus.SENDING else STOPPED
    delivery = Delivery.objects.select_related("customer").get(pk=delivery_id)
    if delivery.attempts > settings.RELAIS_DISPATCH_MAX_ATTEMPTS:  # interrupted again and again (a worker-killer)
        _end(delivery_id, FAILED, reason=DeliveryReason.GAVE_UP, now=now,
             error=f"interrupted {delivery.attempts - 1} times while sending")
        return FAILED
    problem = consent_problem(delivery.customer, delivery.channel)
    if problem:
        _end(delivery_id, CANCELLED, reason=problem, now=now)
        return CANCELLED
    rate_limiter.acquire(delivery.channel)
    try:
        outcome = channel.send(delivery)
    except TemporaryFailure as failure:
        return _retry_or_give_up(delivery, failure, clock())
    except PermanentFailure as failure:
        now = clock()
        with transaction.atomic():
            _end(delivery_id, CANCELLED if failure.opted_out else FAILED, reason=failure.reason, error=str(failure),
                 now=now)
            if failure.suppress:
                _suppress(delivery.customer, delivery.channel, failure.reason)
        if failure.opted_out:
            customer_consent_withdraw(customer=delivery.customer, channel=delivery.channel, source=SMS_STOP_SOURCE,
                                      at=now)
        return CANCELLED if failure.opted_out else FAILED
    except Exception as error:  # a poison recipient fails alone
        logger.exception("delivery %s failed", delivery_id)
        _end(delivery_id, FAILED, reason=DeliveryReason.ERROR, error=f"{type(error).__name__}: {error}", now=clock())
        return FAILED
    _mark_sent(campaign, delivery, outcome, clock())
    return SENT


# --- Chunks and campaigns ---------------------------------------------------------------------------


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


def _campaign(campaign_id: int) -> Campaign | None:
    return (Campaign.objects.select_related("network", "branch", "operation", "template_version__template")
            .filter(pk=campaign_id).first())


def dispatch_chunk(*, campaign_id: int, first_id: int, last_id: int, now: datetime | None = None) -> ChunkResult:
    """Send the due queued deliveries of ``campaign_id`` whose ids are in [first_id, last_id], one by
    one, each committed on its own (so never inside a transaction). Safe to run twice, and side by
    side with itself. ``now`` is for tests: the clock of quiet hours and retries."""
    clock = (lambda: now) if now is not None else timezone.now
    result = ChunkResult()
    campaign = _campaign(campaign_id)
    if campaign is None or campaign.status != CampaignStatus.SENDING:
        result.stopped = campaign.status if campaign else "missing"
        return result
    rules = rules_for(campaign.network)
    in_range = Delivery.objects.filter(campaign_id=campaign_id, pk__range=(first_id, last_id))
    due = list(in_range.filter(status=DeliveryStatus.QUEUED).filter(Q(retry_at__isnull=True) | Q(retry_at__lte=clock()))
               .order_by("pk").values_list("pk", flat=True))
    channel = _channel_for(campaign) if due else None
    try:
        with translation.override(settings.LANGUAGE_CODE):
            for delivery_id in due:
                quiet_end = quiet_hours_end(rules, clock())
                if quiet_end is not None:
                    result.stopped, result.resume_at = "quiet_hours", quiet_end
                    break
                outcome = _send_one(campaign, delivery_id, channel, clock)
                if outcome == STOPPED:
                    result.stopped = Campaign.objects.filter(pk=campaign_id).values_list("status", flat=True).first()
                    break
                setattr(result, outcome, getattr(result, outcome) + 1)
    finally:
        if channel is not None:
            channel.close()
    if not result.stopped:
        result.resume_at = in_range.filter(status=DeliveryStatus.QUEUED, retry_at__isnull=False).aggregate(
            at=Min("retry_at"))["at"]
    campaign_finish_if_done(campaign_id=campaign_id)
    return result


def _task_options(**extra) -> dict:
    queue = settings.RELAIS_DISPATCH_QUEUE
    return {**({"queue": queue} if queue else {}), **extra}


def dispatch_chunk_enqueue(*, campaign_id: int, first_id: int, last_id: int, eta: datetime | None = None) -> None:
    from central.tasks import dispatch_chunk_task

    dispatch_chunk_task.apply_async(args=[campaign_id, first_id, last_id], **_task_options(eta=eta))


def campaign_dispatch(*, campaign: Campaign) -> int:
    """Queue the sending of a campaign in status *sending*: one task per chunk of its queued
    deliveries (after the current transaction commits), or the print task for a post campaign.
    Returns how many tasks. Safe to run twice: a delivery is claimed by one task only."""
    campaign = Campaign.objects.get(pk=campaign.pk)
    if campaign.status != CampaignStatus.SENDING:
        raise ValidationError(_("Only a campaign that is sending can be dispatched."))
    if campaign.channel == Channel.POST:
        from central.tasks import campaign_print_task

        limit = max(settings.RELAIS_DISPATCH_STALE_SECONDS - PRINT_TIME_MARGIN_SECONDS, 60)
        transaction.on_commit(lambda: campaign_print_task.apply_async(
            args=[campaign.pk], **_task_options(time_limit=limit, soft_time_limit=limit - 30)))
        return 1
    size = max(1, settings.RELAIS_DISPATCH_CHUNK_SIZE)
    ranges: list[tuple[int, int]] = []
    first = last = None
    ids = (Delivery.objects.filter(campaign_id=campaign.pk, status=DeliveryStatus.QUEUED).order_by("pk")
           .values_list("pk", flat=True))
    for count, delivery_id in enumerate(ids.iterator(chunk_size=5000)):
        if count % size == 0:
            if first is not None:
                ranges.append((first, last))
            first = delivery_id
        last = delivery_id
    if first is not None:
        ranges.append((first, last))
    for first_id, last_id in ranges:
        transaction.on_commit(lambda a=first_id, b=last_id: dispatch_chunk_enqueue(
            campaign_id=campaign.pk, first_id=a, last_id=b))
    if not ranges:
        campaign_finish_if_done(campaign_id=campaign.pk)
    return len(ranges)


def campaign_finish_if_done(*, campaign_id: int) -> bool:
    """A sending (or paused) campaign with nothing left to send is *sent*; once, with its counts."""
    remaining = Delivery.objects.filter(campaign_id=OuterRef("pk"),
                                        status__in=[DeliveryStatus.QUEUED, DeliveryStatus.SENDING])
    with transaction.atomic():
        done = Campaign.objects.filter(pk=campaign_id, status__in=[CampaignStatus.SENDING, CampaignStatus.PAUSED]).exclude(
            Exists(remaining)).update(status=CampaignStatus.SENT, updated_at=timezone.now())
        if done:
            counts = dict(Delivery.objects.filter(campaign_id=campaign_id).order_by().values_list("status")
                          .annotate(n=Count("id")).values_list("status", "n"))
            CampaignEvent.objects.create(campaign_id=campaign_id, action="sent", changes=counts)
    return bool(done)


def _require_sender(user, campaign: Campaign) -> None:
    from central.selectors import campaign_can_edit

    if not campaign_can_edit(user, campaign):
        raise PermissionDenied(_("You may not change this campaign."))


@transaction.atomic
def campaign_send_pause(*, campaign: Campaign, paused_by) -> Campaign:
    """Stop a send: each chunk stops before its next message; what left stays sent, nothing else moves."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    _require_sender(paused_by, campaign)
    if campaign.status != CampaignStatus.SENDING:
        raise ValidationError(_("Only a campaign that is sending can be paused."))
    campaign.status = CampaignStatus.PAUSED
    campaign.save(update_fields=["status", "updated_at"])
    CampaignEvent.objects.create(campaign=campaign, action="paused", by=paused_by)
    return campaign


@transaction.atomic
def campaign_send_resume(*, campaign: Campaign, resumed_by) -> Campaign:
    """Go on with a paused send: only what is still queued is sent (nothing twice)."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    _require_sender(resumed_by, campaign)
    if campaign.status != CampaignStatus.PAUSED:
        raise ValidationError(_("Only a paused campaign can be resumed."))
    campaign.status = CampaignStatus.SENDING
    campaign.save(update_fields=["status", "updated_at"])
    CampaignEvent.objects.create(campaign=campaign, action="resumed", by=resumed_by)
    campaign_dispatch(campaign=campaign)
    return campaign


@transaction.atomic
def campaign_send_cancel(*, campaign: Campaign, cancelled_by) -> Campaign:
    """Stop a send for good: the deliveries still queued are cancelled (a message being handed to
    the provider at that moment still leaves, and counts as sent)."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    _require_sender(cancelled_by, campaign)
    if campaign.status not in (CampaignStatus.SENDING, CampaignStatus.PAUSED):
        raise ValidationError(_("Only a campaign that is sending or paused can have its send cancelled."))
    now = timezone.now()
    cancelled = Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.QUEUED).update(
        status=CANCELLED, reason=DeliveryReason.CAMPAIGN_CANCELLED, finished_at=now, retry_at=None)
    campaign.status = CampaignStatus.CANCELLED
    campaign.save(update_fields=["status", "updated_at"])
    CampaignEvent.objects.create(campaign=campaign, action="send_cancelled", by=cancelled_by,
                                 changes={"cancelled_deliveries": cancelled})
    return campaign


def dispatch_recover(*, now: datetime | None = None, stale_after: timedelta | None = None) -> dict[str, int]:
    """The periodic safety net (Celery beat). Deliveries left *sending* longer than a send can last
    (their worker was killed) are queued again; sending campaigns that stopped moving — with due
    deliveries and no claim for as long — are dispatched again (outside their quiet hours); those
    with nothing left are finished. Safe to run at any time: claims keep every message single."""
    now = now or timezone.now()
    stale_after = timedelta(seconds=settings.RELAIS_DISPATCH_STALE_SECONDS) if stale_after is None else stale_after
    cutoff = now - stale_after
    requeued = Delivery.objects.filter(status=DeliveryStatus.SENDING, claimed_at__lte=cutoff).update(
        status=DeliveryStatus.QUEUED, claimed_at=None, retry_at=None,
        last_error="interrupted while sending (worker lost): queued again")
    due = Delivery.objects.filter(campaign_id=OuterRef("pk"), status=DeliveryStatus.QUEUED).filter(
        Q(retry_at__isnull=True) | Q(retry_at__lte=now))
    moving = Delivery.objects.filter(campaign_id=OuterRef("pk"), claimed_at__gt=cutoff)
    chunks = 0
    for campaign in (Campaign.objects.filter(status=CampaignStatus.SENDING).filter(Exists(due))
                     .exclude(Exists(moving)).select_related("network")):
        if campaign.channel != Channel.POST and quiet_hours_end(rules_for(campaign.network), now) is not None:
            continue
        chunks += campaign_dispatch(campaign=campaign)
    remaining = Delivery.objects.filter(campaign_id=OuterRef("pk"),
                                        status__in=[DeliveryStatus.QUEUED, DeliveryStatus.SENDING])
    finished = sum(campaign_finish_if_done(campaign_id=pk) for pk in Campaign.objects.filter(
        status__in=[CampaignStatus.SENDING, CampaignStatus.PAUSED]).exclude(Exists(remaining)).values_list("pk", flat=True))
    return {"requeued": requeued, "chunks": chunks, "finished": finished}


def campaign_send_progress(campaign: Campaign) -> dict[str, object]:
    """Where a campaign's send stands, for its page: counts by outcome, the pace over the last five
    minutes (messages per minute) and, at that pace, when it should end (None when unknown)."""
    counts = dict(Delivery.objects.filter(campaign_id=campaign.pk).order_by().values_list("status")
                  .annotate(n=Count("id")).values_list("status", "n"))
    now = timezone.now()
    window = timedelta(minutes=5)
    recent = Delivery.objects.filter(campaign_id=campaign.pk, status__in=[SENT, FAILED], finished_at__gt=now - window).count()
    rate = round(recent / (window.total_seconds() / 60), 1)
    remaining = counts.get(DeliveryStatus.QUEUED, 0) + counts.get(DeliveryStatus.SENDING, 0)
    return {
        "sent": counts.get(SENT, 0), "failed": counts.get(FAILED, 0), "cancelled": counts.get(CANCELLED, 0),
        "queued": counts.get(DeliveryStatus.QUEUED, 0), "sending": counts.get(DeliveryStatus.SENDING, 0),
        "total": sum(counts.values()), "rate_per_min": rate,
        "eta": now + timedelta(minutes=remaining / rate) if remaining and rate else None,
    }


# --- Print ---------------------------------------------------------------------------------------


def _marker(name: str) -> str:
    return f"@@relais-merge-{name}@@"


def _address_block(customer: Customer) -> str:
    name = " ".join(filter(None, [customer.get_civility_display() if customer.civility else "",
                                  customer.first_name, customer.last_name]))
    lines = [name, customer.address_line1, f"{customer.postal_code} {customer.city}".strip()]
    if customer.country and customer.country != "FR":
        lines.append(customer.country)
    return "<br>".join(escape_html(line) for line in lines if line)


MERGE_CSS = (
    ".relais-merge-page { break-after: page; } .relais-merge-page:last-child { break-after: auto; }\n"
    ".relais-address { width: 85mm; margin: 0 0 8mm auto; font: 10pt/1.35 sans-serif; }"
)


def mail_merge_pdf(campaign: Campaign, deliveries: Iterable[Delivery]) -> tuple[bytes, int]:
    """One PDF: for each delivery, the campaign's print version merged with its recipient, the
    address block on top of its first page. The variant is merged once (recipient fields left as
    markers); per recipient, only the markers are replaced. Rendered by WeasyPrint with the
    library-only URL fetcher; the task's time limit bounds it."""
    version = campaign.template_version
    recipient_markers = {name: _marker(name) for name in merge.RECIPIENT_FIELDS}
    system_markers = {name: _marker(f"system-{name}") for name in merge.SYSTEM_FIELDS}
    document, assets = rendering.print_html(version, variant_context(campaign), recipient_markers, system_markers)
    head, _sep, rest = document.partition("<body>")
    body = rest.rpartition("</body>")[0]
    pages = []
    for delivery in deliveries:
        values = {**{_marker(k): v for k, v in recipient_values(delivery.customer).items()},
                  **{_marker(f"system-{k}"): v for k, v in system_values(delivery.token).items()}}
        page = body
        for marker, value in values.items():
            page = page.replace(marker, escape_html(value))
        pages.append(f'<section class="relais-merge-page"><div class="relais-address">'
                     f"{_address_block(delivery.customer)}</div>{page}</section>")
    merged = head.replace("</style>", f"\n{MERGE_CSS}</style>", 1) + "<body>" + "".join(pages) + "</body></html>"
    rendered = weasyprint.HTML(string=merged, url_fetcher=rendering.AssetOnlyFetcher(assets),
                               base_url=rendering.ASSET_SCHEME).render()
    return rendered.write_pdf(), len(rendered.pages)


def _pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


def campaign_flyer_produce(*, campaign: Campaign) -> PrintFile:
    """The flyer for the store: one copy of the print version with the branch's details (no
    recipient), rendered in the sandboxed child process. Made once per campaign."""
    existing = campaign.print_files.filter(kind=PrintFile.Kind.FLYER).first()
    if existing:
        return existing
    with translation.override(settings.LANGUAGE_CODE):
        pdf = rendering.render_print(campaign.template_version, variant_context(campaign), {},
                                     {"unsubscribe_url": "", "view_online_url": "", "stop_mention": ""})
    record = PrintFile(campaign=campaign, kind=PrintFile.Kind.FLYER, pages=_pdf_pages(pdf))
    record.file.save(f"{campaign.public_id}-flyer.pdf", ContentFile(pdf), save=False)
    record.save()
    return record


def campaign_print_produce(*, campaign_id: int, now: datetime | None = None) -> list[PrintFile]:
    """A post campaign's print run: the store's flyer, and the mail merge of its queued deliveries
    (checked again for consent, objection and address; sorted by postal code), stored under
    MEDIA_ROOT/print/; the printed deliveries are then *sent* (a Contact each). Safe to run twice:
    the deliveries are claimed as for e-mail, and a second run finds nothing queued."""
    now = now or timezone.now()
    campaign = _campaign(campaign_id)
    if campaign is None or campaign.status != CampaignStatus.SENDING:
        return []
    files = []
    try:
        files.append(campaign_flyer_produce(campaign=campaign))
    except Exception:  # the store's copy is not a delivery: its failure holds no letter back
        logger.exception("flyer of campaign %s failed", campaign.public_id)
    claimed = Delivery.objects.filter(
        campaign_id=campaign_id, status=DeliveryStatus.QUEUED, campaign_id__in=_sending_campaign(campaign_id),
    ).update(status=DeliveryStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    if claimed:
        printable = []
        for delivery in (Delivery.objects.filter(campaign_id=campaign_id, status=DeliveryStatus.SENDING, claimed_at=now)
                         .select_related("customer").order_by("customer__postal_code", "customer__last_name", "pk")):
            problem = consent_problem(delivery.customer, Channel.POST)
            if problem:
                _end(delivery.pk, CANCELLED, reason=problem, now=now)
            else:
                printable.append(delivery)
        if printable:
            try:
                with translation.override(settings.LANGUAGE_CODE):
                    pdf, pages = mail_merge_pdf(campaign, printable)
            except Exception as error:
                logger.exception("mail merge of campaign %s failed", campaign.public_id)
                for delivery in printable:
                    _end(delivery.pk, FAILED, reason=DeliveryReason.ERROR, error=f"{type(error).__name__}: {error}",
                         now=now)
            else:
                with transaction.atomic():
                    part = campaign.print_files.filter(kind=PrintFile.Kind.MAIL_MERGE).count() + 1
                    record = PrintFile(campaign=campaign, kind=PrintFile.Kind.MAIL_MERGE, pages=pages,
                                       recipients=len(printable))
                    record.file.save(f"{campaign.public_id}-mail-merge-{part}.pdf", ContentFile(pdf), save=False)
                    record.save()
                    ids = [delivery.pk for delivery in printable]
                    Delivery.objects.filter(pk__in=ids).exclude(status=SENT).update(
                        status=SENT, sent_at=now, finished_at=now, provider_id=f"print:{record.pk}", reason="")
                    Contact.objects.bulk_create([_contact(campaign, delivery.customer_id, now) for delivery in printable])
                files.append(record)
    campaign_finish_if_done(campaign_id=campaign_id)
    return files


# --- The public endpoints' services ------------------------------------------------------------------


def delivery_for_token(token: str) -> Delivery | None:
    return Delivery.objects.select_related("customer", "campaign__network").filter(token=token).first()


def tracking_record(*, delivery: Delivery, kind: str, url: str = "", at: datetime | None = None) -> None:
    """Record an open, a click or an unsubscription, once per (delivery, kind, link)."""
    TrackingEvent.objects.bulk_create([TrackingEvent(
        delivery=delivery, kind=kind, url=url, url_hash=hashlib.sha256(url.encode()).hexdigest() if url else "",
        at=at or timezone.now())], ignore_conflicts=True)


def unsubscribe(*, delivery: Delivery) -> bool:
    """The recipient of ``delivery`` unsubscribes (the link's page, or their mail client's one-click
    POST): a global objection, for every channel and every message not yet sent."""
    with transaction.atomic():
        objected = customer_objection_record(customer=delivery.customer, source=UNSUBSCRIBE_SOURCE)
        tracking_record(delivery=delivery, kind=TrackingEvent.Kind.UNSUBSCRIBE)
    return objected


def tracking_open(*, token: str) -> None:
    delivery = Delivery.objects.filter(token=token).only("pk").first()
    if delivery is not None:
        tracking_record(delivery=delivery, kind=TrackingEvent.Kind.OPEN)


def tracking_click(*, token: str, signed: str) -> str:
    """The target of a tracked link, the click recorded; ``signing.BadSignature`` for a forged one."""
    target = click_target(token, signed)
    delivery = Delivery.objects.filter(token=token).only("pk").first()
    if delivery is not None:
        tracking_record(delivery=delivery, kind=TrackingEvent.Kind.CLICK, url=target)
    return target


def message_view_online(*, delivery: Delivery) -> str:
    """The HTML of an e-mail delivery as its recipient got it (links tracked, no open pixel)."""
    campaign = _campaign(delivery.campaign_id)
    with translation.override(settings.LANGUAGE_CODE):
        compiled = rendering.compile_email(campaign.template_version, variant_context(campaign))
        rendered = rendering.render_email(compiled, recipient_values(delivery.customer), system_values(delivery.token))
    return tracked_html(rendered.html, delivery.token, pixel=False)


def campaigns_send_due(*, today: date | None = None) -> dict[str, int]:
    """The day's sends: for each network with campaigns scheduled for ``today`` (or overdue), a real
    arbitration of those campaigns (through the send gate) makes their deliveries; each campaign then
    starts sending and is dispatched. Safe to run twice: a campaign already sending is not
    arbitrated again, and deliveries are unique per (campaign, customer, channel)."""
    from central.arbitration import arbitrate
    from central.services import campaign_send_start, send_gate_check

    today = today or timezone.localdate()
    done = {"runs": 0, "campaigns": 0, "deliveries": 0}
    due = Campaign.objects.filter(status=CampaignStatus.SCHEDULED, send_date__lte=today)
    for network_id in due.order_by().values_list("network_id", flat=True).distinct():
        network = Network.objects.get(pk=network_id)
        first = due.filter(network_id=network_id).order_by("send_date").values_list("send_date", flat=True).first()
        run = arbitrate(network=network, starts_on=first, ends_on=today, mode=ArbitrationRun.Mode.COMMIT,
                        gate=send_gate_check)
        done["runs"] += 1
        done["deliveries"] += run.summary.get("deliveries", 0)
        arbitrated = Candidate.objects.filter(run=run).values("campaign_id")
        for campaign in due.filter(network_id=network_id, pk__in=arbitrated):
            with transaction.atomic():
                try:
                    started = campaign_send_start(campaign=campaign)
                except ValidationError:
                    continue  # the gate changed its mind between the run and now: nothing leaves
                campaign_dispatch(campaign=started)
            done["campaigns"] += 1
    return done
