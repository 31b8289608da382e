"""Dispatch: the deliveries of a committed arbitration leave, by e-mail, SMS or post.

**Chunks.** ``campaign_dispatch`` (a campaign in status *sending*, after ``campaign_send_start``)
cuts the campaign's queued deliveries into ranges of ids (``RELAIS_DISPATCH_CHUNK_SIZE``) and
queues one Celery task per range. ``dispatch_chunk`` sends a range in batches
(``RELAIS_DISPATCH_BATCH_SIZE``, 50): queued → sending → sent, failed (with a reason) or cancelled
(with a reason). A post campaign is one task that prints its mail merge instead.

**Claiming a batch.** One conditional ``UPDATE … SET status='sending' WHERE id IN (the batch) AND
status='queued' AND campaign_id IN (campaigns in status sending) RETURNING id``, committed at once:
the rows it returns are this task's; a second task on the same range (the dispatch run twice, a
broker redelivery) finds them no longer queued and moves on. The messages are then sent one by one
on the chunk's one connection; a failed or cancelled one is committed at once, on its own; those the
provider accepted are marked *sent* together when the batch ends (one UPDATE, one INSERT of their
Contacts, one commit — at least every second if the batch is slow). So a message is sent at most
once — except if a worker dies after the provider accepted messages and before their *sent* was
committed: those (at most a batch per worker process, the messages "in flight") go again after
``dispatch_recover`` (Celery beat, every 5 minutes) has queued the stale claims again
(``RELAIS_DISPATCH_STALE_SECONDS``). What a batch does not send (the campaign paused, quiet hours,
an error) is released: queued again as if never claimed, or cancelled if the campaign was.

**Just before each message**, one query reads again the campaign (paused or cancelled: the chunk
stops before the message), the claim (taken back by a recovery: skipped) and the customer: an
objection, a withdrawn consent, a suppressed address or a missing one cancels the delivery with
that reason (so an unsubscription made during the send is honoured, even for a message already
claimed). Quiet hours (``NetworkRules.quiet_from``/``quiet_until``, in ``TIME_ZONE``) stop the
chunk, which is re-scheduled for their end; the channel's rate limit spaces the messages.

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

import functools
import hashlib
import html
import logging
import re
import smtplib
import threading
import time
import weakref
from collections import deque
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
from django.core.mail.backends.smtp import EmailBackend as SmtpEmailBackend
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction
from django.db.models import Count, Exists, F, Min, OuterRef, Q
from django.urls import get_script_prefix, get_urlconf, reverse
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
from local_stores.models import Network, Node
from templates_lib import frozen, merge, rendering
from templates_lib.mime import build_message
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


def suppress_address(*, customer: Customer, channel: str, reason: str) -> None:
    """Put the customer's address for ``channel`` on the network's suppression list (hashed): no
    message goes to it any more, whoever holds it (a hard bounce, an erasure…)."""
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


def customer_consent_withdraw(*, customer: Customer, channel: str, source: str, at: datetime | None = None,
                              reason: str = DeliveryReason.NO_CONSENT) -> bool:
    """Record that ``customer`` withdrew their consent for ``channel`` (an SMS STOP…), with its
    ``ConsentEvent``; their queued deliveries on that channel are cancelled, for ``reason``."""
    at = at or timezone.now()
    with transaction.atomic():
        changed = Customer.objects.filter(pk=customer.pk).exclude(**{f"consent_{channel}": ConsentStatus.DENIED}).update(
            **{f"consent_{channel}": ConsentStatus.DENIED, f"consent_{channel}_at": at,
               f"consent_{channel}_source": source[:120]}, updated_at=at)
        if changed:
            ConsentEvent.objects.create(customer_id=customer.pk, channel=channel, status=ConsentStatus.DENIED,
                                        occurred_at=at, source=source[:120], recorded_at=at)
        _cancel_queued(Delivery.objects.filter(customer_id=customer.pk, channel=channel), reason, at)
    return bool(changed)


def _cancel_queued(deliveries, reason: str, at: datetime) -> int:
    queued = deliveries.filter(status=DeliveryStatus.QUEUED)
    campaign_ids = set(queued.values_list("campaign_id", flat=True))
    count = queued.update(status=CANCELLED, reason=reason, finished_at=at, retry_at=None)
    if count:
        transaction.on_commit(lambda: [campaign_finish_if_done(campaign_id=pk) for pk in campaign_ids])
    return count


# --- Content: links, tracking, the message --------------------------------------------------------

_PLAIN_TOKEN = re.compile(r"[A-Za-z0-9_-]+\Z")
_ROUTE_PLACEHOLDER = "relaisTOKENsentinel0"


_PUBLIC_ROUTES = ("public:unsubscribe", "public:view-online", "public:open", "public:click")


@functools.lru_cache(maxsize=16)
def _route_set(base_url: str, root_urlconf: str, urlconf, script_prefix: str) -> dict[str, tuple[str, str] | None]:
    """The absolute URL of each public route around its token, reversed once per set-up (the base
    URL, the URL configuration and the script prefix are the key)."""
    routes: dict[str, tuple[str, str] | None] = {}
    for name in _PUBLIC_ROUTES:
        url = base_url.rstrip("/") + reverse(name, args=[_ROUTE_PLACEHOLDER], urlconf=urlconf)
        before, found, after = url.partition(_ROUTE_PLACEHOLDER)
        routes[name] = (before, after) if found and _ROUTE_PLACEHOLDER not in after else None
    return routes


def _public_urls(token: str) -> dict[str, str]:
    """``RELAIS_BASE_URL`` + each public route's path for ``token``: ``reverse`` once per route and
    set-up, then only the token is put in (a token of other characters than letters, digits, ``_``
    and ``-`` goes through ``reverse``, for its quoting)."""
    routes = (_route_set(settings.RELAIS_BASE_URL, settings.ROOT_URLCONF, get_urlconf(), get_script_prefix())
              if _PLAIN_TOKEN.match(token) else {})
    urls = {}
    for name in _PUBLIC_ROUTES:
        route = routes.get(name)
        urls[name] = route[0] + token + route[1] if route else _absolute(reverse(name, args=[token]))
    return urls


def _public_url(name: str, token: str) -> str:
    return _public_urls(token)[name]


def _absolute(path: str) -> str:
    return settings.RELAIS_BASE_URL.rstrip("/") + path


def unsubscribe_url(token: str) -> str:
    return _public_url("public:unsubscribe", token)


def view_online_url(token: str) -> str:
    return _public_url("public:view-online", token)


def open_pixel_url(token: str) -> str:
    return _public_url("public:open", token)


def _click_salt(token: str) -> str:
    return f"relais.click:{token}"


def click_url(token: str, target: str, *, urls: dict[str, str] | None = None) -> str:
    """The tracked form of a link of the message ``token``: the target, signed for that message only
    (the redirect never goes anywhere the message did not link to)."""
    signed = signing.Signer(salt=_click_salt(token)).sign_object(target, compress=True)
    return (urls or _public_urls(token))["public:click"] + "?u=" + quote(signed, safe="")


def click_target(token: str, signed: str) -> str:
    """The target of a tracked link; ``signing.BadSignature`` if it was not signed for ``token``."""
    target = signing.Signer(salt=_click_salt(token)).unsign_object(signed)
    if not isinstance(target, str) or not target.lower().startswith(("http://", "https://")):
        raise signing.BadSignature("not a link of the message")
    return target


_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)


def tracked_html(document: str, token: str, *, pixel: bool = True, urls: dict[str, str] | None = None) -> str:
    """Links rewritten to the click redirect (but the unsubscribe and view-online links), and the
    open pixel before ``</body>``."""
    urls = urls or _public_urls(token)
    own = {urls["public:unsubscribe"], urls["public:view-online"]}

    def rewrite(match: re.Match) -> str:
        target = html.unescape(match.group(3)).strip()
        if not target.lower().startswith(("http://", "https://")) or target in own:
            return match.group(0)
        return f"{match.group(1)}{match.group(2)}{html.escape(click_url(token, target, urls=urls))}{match.group(2)}"

    document = _HREF.sub(rewrite, document)
    if not pixel:
        return document
    image = (f'<img src="{html.escape(urls["public:open"])}" width="1" height="1" alt="" '
             'style="display:block;border:0;width:1px;height:1px;overflow:hidden">')
    return _before_body_end(document, image)


def _before_body_end(document: str, insert: str) -> str:
    """``insert`` before the last ``</body>`` (in any case), or at the end. The tail is looked at
    first: lower-casing the whole document for each message costs more than the rest."""
    tail_start = max(0, len(document) - 4096)
    end = document[tail_start:].lower().rfind("</body>")
    end = tail_start + end if end >= 0 else document[:tail_start + 6].lower().rfind("</body>")
    return document[:end] + insert + document[end:] if end >= 0 else document + insert


def variant_context(campaign: Campaign) -> rendering.VariantContext:
    """The campaign's variant from the *live* branch and library: for estimates made before a proof
    exists (a campaign's cost). Messages are rendered from the proof's snapshot (``FrozenSend``)."""
    operation = campaign.operation
    return rendering.VariantContext(slot_values=campaign.slot_values, branch=campaign.branch, campaign={
        "offer_code": "",
        "start_date": operation.send_from.strftime("%d/%m/%Y") if operation else "",
        "end_date": operation.send_until.strftime("%d/%m/%Y") if operation else "",
        "send_date": campaign.send_date.strftime("%d/%m/%Y"),
    })


def campaign_snapshot(campaign: Campaign) -> dict | None:
    """The frozen rendering inputs ``campaign`` is sent from — its approved proof's snapshot, asked
    of ``settings.RELAIS_SEND_SNAPSHOT`` (central cannot import approvals) — or None."""
    from django.utils.module_loading import import_string

    path = getattr(settings, "RELAIS_SEND_SNAPSHOT", "")
    return import_string(path)(campaign) if path else None


class FrozenSend:
    """What a send renders from: the approved proof's snapshot, never the live branch, library or
    content rules. Each variant (a branch of a co-signed national send, or the campaign's branch)
    is rendered again for the proof's sample recipient before its first message here, and compared
    with the hash the proof froze: a difference raises ``frozen.SnapshotProblem``."""

    def __init__(self, campaign: Campaign) -> None:
        snapshot = campaign_snapshot(campaign)
        if not snapshot or snapshot.get("format") != frozen.SNAPSHOT_FORMAT:
            raise frozen.SnapshotProblem(_(
                "The approved proof holds no frozen rendering, or it was altered: request approval again."))
        self.snapshot = snapshot
        self.version = frozen.version_of(snapshot)
        keys = [key for key in snapshot.get("variants") or {} if key != frozen.HEAD_OFFICE]
        self.branch_keys = dict(Node.objects.filter(public_id__in=keys).values_list("pk", "public_id"))
        self._contexts: dict[str, rendering.VariantContext] = {}

    def key_for(self, customer: Customer) -> str:
        """The variant of a recipient: their owner branch's in a co-signed send, else the default."""
        return frozen.variant_key(self.snapshot, self.branch_keys.get(customer.branch_id))

    def context(self, key: str) -> rendering.VariantContext:
        if key not in self._contexts:
            expected = (self.snapshot.get("variant_hashes") or {}).get(key)
            rendered = frozen.render_sample(self.version, self.snapshot, key, pdf=False)
            if frozen.rendering_hash(rendered) != expected:
                variant = (self.snapshot.get("variants") or {}).get(key) or {}
                raise frozen.SnapshotProblem(_("The message for %(branch)s no longer matches its approved proof.") % {
                    "branch": (variant.get("branch") or {}).get("name") or key})
            self._contexts[key] = frozen.variant_context(self.snapshot, key)
        return self._contexts[key]

    def sender(self, key: str) -> tuple[str, list[str], str]:
        frozen_sender = frozen.sender_of(self.snapshot, key)
        return (formataddr((str(frozen_sender.get("name", "")), str(frozen_sender.get("address", "")))),
                list(frozen_sender.get("reply_to") or []), str(frozen_sender.get("domain") or "relais.localhost"))

    @property
    def stop_mention(self) -> str:
        return frozen.stop_mention(self.snapshot)

    @property
    def unsubscribe_mailto(self) -> str:
        return str((self.snapshot.get("system") or {}).get("unsubscribe_mailto", ""))


def campaign_send_check(campaign: Campaign) -> str | None:
    """Before the first message of a send: why it must not go, or None — the approved proof's
    snapshot rendered again, every variant, and compared with the hashes the proof froze
    (``frozen.verify``), and checked against the proof's own content hash (``campaign_snapshot``)."""
    snapshot = campaign_snapshot(campaign)
    if not snapshot:
        return _("The approved proof holds no frozen rendering, or it was altered: request approval again.")
    return frozen.verify(snapshot)


def campaign_send_block(*, campaign_id: int, reason: str) -> bool:
    """Stop a send whose rendering no longer matches its proof: the campaign is paused (nothing
    more leaves) and the reason is kept in its history, for its page. True if it was sending."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        if campaign is None or campaign.status not in (CampaignStatus.SENDING, CampaignStatus.PAUSED):
            return False
        was_sending = campaign.status == CampaignStatus.SENDING
        if was_sending:
            campaign.status = CampaignStatus.PAUSED
            campaign.save(update_fields=["status", "updated_at"])
        CampaignEvent.objects.create(campaign=campaign, action="send_blocked", changes={"reason": str(reason)})
    logger.warning("send of campaign %s stopped: %s", campaign.public_id, reason)
    return was_sending


def send_blocked_reason(campaign: Campaign) -> str:
    """Why a paused campaign's send was stopped by the check against its proof, or ""."""
    if campaign.status != CampaignStatus.PAUSED:
        return ""
    last = CampaignEvent.objects.filter(campaign=campaign).order_by("-id").first()
    return str(last.changes.get("reason", "")) if last is not None and last.action == "send_blocked" else ""


def recipient_values(customer: Customer) -> dict[str, str]:
    return {
        "civility": customer.get_civility_display() if customer.civility else "",
        "first_name": customer.first_name, "last_name": customer.last_name,
        "full_name": f"{customer.first_name} {customer.last_name}".strip(),
        "email": customer.email, "city": customer.city,
    }


def system_values(token: str, *, stop_mention: str = "", urls: dict[str, str] | None = None) -> dict[str, str]:
    urls = urls or _public_urls(token)
    return {"unsubscribe_url": urls["public:unsubscribe"], "view_online_url": urls["public:view-online"],
            "stop_mention": stop_mention}


def _sender_identity(campaign: Campaign) -> tuple[str, list[str], str]:
    """From (the branch's name, or the network's, on the platform's address), Reply-To (the
    branch's e-mail) and the domain of Message-IDs."""
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or "no-reply@relais.localhost"
    name = campaign.branch.name if campaign.branch_id else campaign.network.name
    name = " ".join(name.split())  # a line break typed in the name would make every message unbuildable
    reply_to = [campaign.branch.email] if campaign.branch_id and campaign.branch.email else []
    return formataddr((name, address)), reply_to, address.rpartition("@")[2] or "relais.localhost"


@dataclass
class EmailContent:
    """What one delivery's e-mail says, whichever way it is then put into MIME."""

    subject: str
    text: str
    html: str
    from_email: str
    to: str
    to_name: str
    to_address: str
    reply_to: list[str]
    headers: dict[str, str]


def email_content(campaign: Campaign, delivery: Delivery, compiled: rendering.CompiledEmail, *,
                  sender: tuple[str, list[str], str] | None = None, unsubscribe_mailto: str | None = None) -> EmailContent:
    """One delivery's e-mail: rendered for its recipient, links tracked, the open pixel, the
    one-click unsubscribe headers (RFC 8058) and a Message-ID made of the delivery's token."""
    customer, token = delivery.customer, delivery.token
    if "\r" in customer.email or "\n" in customer.email:  # a poison address fails alone, before anything
        raise ValueError("Invalid address; address parts cannot contain newlines.")
    urls = _public_urls(token)
    rendered = rendering.render_email(compiled, recipient_values(customer), system_values(token, urls=urls))
    from_email, reply_to, domain = sender or _sender_identity(campaign)
    list_unsubscribe = f"<{urls['public:unsubscribe']}>"
    mailto = settings.RELAIS_UNSUBSCRIBE_MAILTO if unsubscribe_mailto is None else unsubscribe_mailto
    if mailto:
        list_unsubscribe += f", <mailto:{mailto}?subject=unsubscribe%20{token}>"
    name = " ".join(f"{customer.first_name} {customer.last_name}".split())  # a line break in a name: one line
    return EmailContent(
        subject=rendered.subject, text=rendered.text, html=tracked_html(rendered.html, token, urls=urls),
        from_email=from_email, to=formataddr((name, customer.email)) if name else customer.email,
        to_name=name, to_address=customer.email, reply_to=list(reply_to),
        headers={"List-Unsubscribe": list_unsubscribe, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                 "Message-ID": f"<{token}@{domain}>"})


def email_message(campaign: Campaign, delivery: Delivery, compiled: rendering.CompiledEmail, *,
                  connection=None, sender: tuple[str, list[str], str] | None = None,
                  unsubscribe_mailto: str | None = None) -> EmailMultiAlternatives:
    """The e-mail of one delivery as a Django message (any e-mail backend: SMTP, django-anymail…)."""
    content = email_content(campaign, delivery, compiled, sender=sender, unsubscribe_mailto=unsubscribe_mailto)
    message = EmailMultiAlternatives(
        subject=content.subject, body=content.text, from_email=content.from_email, to=[content.to],
        reply_to=content.reply_to, connection=connection, headers=content.headers)
    message.attach_alternative(content.html, "text/html")
    return message


@functools.lru_cache(maxsize=64)
def _bare_address(value: str) -> str:
    return parseaddr(value)[1]


class _RawMime:
    """What Django's SMTP backend asks of ``EmailMessage.message()``: its bytes."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def as_bytes(self, unixfrom: bool = False, policy=None, linesep: str = "\n") -> bytes:
        return self.raw if linesep == "\r\n" else self.raw.replace(b"\r\n", linesep.encode())

    def as_string(self, unixfrom: bool = False, maxheaderlen: int = 0, policy=None) -> str:
        return self.as_bytes().decode("ascii")


class PrebuiltEmail(EmailMultiAlternatives):
    """The same e-mail as ``email_message``, for Django's SMTP backend (and its subclasses): the
    MIME bytes are built by ``templates_lib.mime.build_message`` (base64 in C, headers encoded once)
    instead of Python's email package (≈ 2 ms per message, the biggest cost of a send). The SMTP
    backend only calls ``message().as_bytes()`` and reads the envelope — given as (name, address)
    pairs with the bare addresses, which SMTP's MAIL FROM / RCPT TO carry anyway, so that it does
    not parse the formatted ones again. Other backends (django-anymail's read the fields) get
    ``email_message``."""

    def __init__(self, content: EmailContent, *, connection=None) -> None:
        super().__init__(subject=content.subject, body=content.text, from_email=content.from_email,
                         to=[content.to], reply_to=content.reply_to, connection=connection, headers=content.headers)
        self.alternatives = [(content.html, "text/html")]
        self.raw = build_message(
            from_email=content.from_email, to=(content.to_name, content.to_address), subject=content.subject,
            text=content.text, html=content.html, reply_to=content.reply_to, message_id=content.headers["Message-ID"],
            headers={k: v for k, v in content.headers.items() if k != "Message-ID"})
        # the envelope (the From and To headers are in ``raw``)
        self.from_email = ("", _bare_address(content.from_email))  # type: ignore[assignment]
        self.envelope_to = [("", content.to_address)]

    def recipients(self) -> list:
        return self.envelope_to

    def message(self) -> _RawMime:
        return _RawMime(self.raw)


def sms_text(compiled, customer: Customer, token: str, stop_mention: str) -> str:
    """The SMS of one recipient; the opt-out mention is always there (publishing requires it in the
    template; a merge cannot lose it)."""
    text = rendering.render_sms(compiled, recipient_values(customer), system_values(token, stop_mention=stop_mention))
    if stop_mention and stop_mention not in text:
        text = f"{text} {stop_mention}".strip()
    return text


# --- Channels: one per chunk ----------------------------------------------------------------------


class EmailChannel:
    """Renders from the approved proof's snapshot (``FrozenSend``: each variant compiled once, and
    checked against its proof before its first message), and sends over one connection of Django's
    e-mail backend (SMTP or any django-anymail provider), opened once per chunk. With Django's SMTP
    backend, the MIME bytes are built by ``PrebuiltEmail`` (``templates_lib.mime``)."""

    def __init__(self, campaign: Campaign, frozen_send: FrozenSend | None = None) -> None:
        self.campaign = campaign
        self.frozen = frozen_send or FrozenSend(campaign)
        self.connection = get_connection(fail_silently=False)
        self.prebuilt = isinstance(self.connection, SmtpEmailBackend)
        self.is_open = False
        self.sent_on_connection = 0
        self._compiled: dict[str, rendering.CompiledEmail] = {}

    def compiled(self, key: str | None = None) -> rendering.CompiledEmail:
        key = key or frozen.variant_key(self.frozen.snapshot, None)
        if key not in self._compiled:
            self._compiled[key] = rendering.compile_email(self.frozen.version, self.frozen.context(key))
        return self._compiled[key]

    def message(self, delivery: Delivery) -> EmailMultiAlternatives:
        key = self.frozen.key_for(delivery.customer)
        compiled, sender = self.compiled(key), self.frozen.sender(key)
        mailto = self.frozen.unsubscribe_mailto
        if not self.prebuilt:
            return email_message(self.campaign, delivery, compiled, connection=self.connection, sender=sender,
                                 unsubscribe_mailto=mailto)
        return PrebuiltEmail(email_content(self.campaign, delivery, compiled, sender=sender, unsubscribe_mailto=mailto),
                             connection=self.connection)

    def send(self, delivery: Delivery) -> SendOutcome:
        message = self.message(delivery)
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

    def __init__(self, campaign: Campaign, frozen_send: FrozenSend | None = None) -> None:
        self.campaign = campaign
        self.frozen = frozen_send or FrozenSend(campaign)
        self.backend = sms.get_backend()
        self.stop_mention = self.frozen.stop_mention  # the content rules' mention as approved
        self.price = Decimal(settings.RELAIS_SMS_COST_PER_SEGMENT)
        self._compiled: dict[str, object] = {}

    def send(self, delivery: Delivery) -> SendOutcome:
        key = self.frozen.key_for(delivery.customer)
        if key not in self._compiled:
            self._compiled[key] = rendering.compile_sms(self.frozen.version, self.frozen.context(key))
        to = normalise_mobile(delivery.customer.mobile)
        if not to:
            raise PermanentFailure(_("not a valid mobile number"))
        text = sms_text(self._compiled[key], delivery.customer, delivery.token, self.stop_mention)
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


def _sending_campaign(campaign_id: int):
    return Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.SENDING).values("pk")


def _quoted(name: str) -> str:
    return connection.ops.quote_name(name)


def _column(model, field: str) -> str:
    return _quoted(model._meta.get_field(field).column)


def _table(model) -> str:
    return _quoted(model._meta.db_table)


def _claim_batch(delivery_ids: list[int], campaign_id: int, now: datetime) -> list[int]:
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
    """One message claimed (``_claim_batch`` of one): True if this task owns it."""
    return _claim_batch([delivery_id], campaign_id, now) == [delivery_id]


@functools.lru_cache(maxsize=16)
def _recheck_sql(vendor: str, channel: str) -> str:
    """The query of ``_recheck`` (no joins to plan: PostgreSQL plans each query again, and planning a
    three-table join cost more than running it). Parameters: status, claimed_at, campaign id,
    network id, channel, address hash, delivery id, customer id."""
    d, c, k, s = Delivery, Customer, Campaign, Suppression
    address = "email" if channel == Channel.EMAIL else "mobile"
    kpk = _quoted(k._meta.pk.column)
    return (f"SELECT (d.{_column(d, 'status')} = %s AND d.{_column(d, 'claimed_at')} = %s), "  # noqa: S608
            f"(SELECT k.{_column(k, 'status')} FROM {_table(k)} k WHERE k.{kpk} = %s), "
            f"c.{_column(c, 'objected_at')} IS NOT NULL, c.{_column(c, f'consent_{channel}')}, c.{_column(c, address)}, "
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
    address = (customer.email if channel == Channel.EMAIL else customer.mobile) or ""
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


def _release(campaign_id: int, delivery_ids: list[int], claimed_at: datetime, now: datetime) -> None:
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


def _end(delivery_id: int, status: str, *, reason: str, error: str = "", now: datetime) -> bool:
    return Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.SENDING).update(
        status=status, reason=reason, last_error=error[:2000], finished_at=now, retry_at=None) == 1


def _contact(campaign: Campaign, customer_id: int, now: datetime) -> Contact:
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
    return (f"UPDATE {_table(d)} AS d SET {status} = %s, {_column(d, 'reason')} = %s, "  # noqa: S608 (as _claim_batch)
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
        _end(delivery.pk, FAILED, reason=DeliveryReason.GAVE_UP, now=now,
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
        _end(delivery.pk, FAILED, reason=DeliveryReason.GAVE_UP, now=clock(),
             error=f"interrupted {delivery.attempts - 1} times while sending")
        return FAILED
    rate_limiter.acquire(delivery.channel)
    verdict = _recheck(delivery, claimed_at)
    if verdict in (STOPPED, SKIPPED):
        return verdict
    if verdict:
        _end(delivery.pk, CANCELLED, reason=verdict, now=clock())
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
            _end(delivery.pk, CANCELLED if failure.opted_out else FAILED, reason=failure.reason, error=str(failure),
                 now=now)
            if failure.suppress:
                suppress_address(customer=delivery.customer, channel=delivery.channel, reason=failure.reason)
        if failure.opted_out:
            customer_consent_withdraw(customer=delivery.customer, channel=delivery.channel, source=SMS_STOP_SOURCE,
                                      at=now, reason=DeliveryReason.SMS_STOP)
        return CANCELLED if failure.opted_out else FAILED
    except Exception as error:  # a poison recipient fails alone
        logger.exception("delivery %s failed", delivery.pk)
        _end(delivery.pk, FAILED, reason=DeliveryReason.ERROR, error=f"{type(error).__name__}: {error}", now=clock())
        return FAILED
    marks.add(delivery, outcome, clock())
    return SENT


#: What a batch reads of its deliveries and their customers (the rest of a customer's row costs more
#: to load than the message does to send; ``_recheck`` reads a customer again in full if needed).
_BATCH_FIELDS = ("id", "campaign_id", "customer_id", "channel", "token", "attempts", "customer__id",
                 "customer__network_id", "customer__branch_id", "customer__civility", "customer__first_name", "customer__last_name",
                 "customer__email", "customer__mobile", "customer__city")


def _send_batch(campaign: Campaign, delivery_ids: list[int], claimed_at: datetime, channel, rules: NetworkRules,
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
            _release(campaign.pk, [d.pk for d in deliveries[done + crashed:]], claimed_at, clock())
    return again


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
    """Send the due queued deliveries of ``campaign_id`` whose ids are in [first_id, last_id], in
    batches of ``RELAIS_DISPATCH_BATCH_SIZE``: each batch claimed in one statement, each message
    checked again and sent on its own (a failure committed at once, alone), the batch's sent marks
    committed together (so never inside a transaction). Safe to run twice, and side by side with
    itself. ``now`` is for tests: the clock of quiet hours and retries."""
    clock = (lambda: now) if now is not None else timezone.now
    result = ChunkResult()
    campaign = _campaign(campaign_id)
    if campaign is None or campaign.status != CampaignStatus.SENDING:
        result.stopped = campaign.status if campaign else "missing"
        return result
    rules = rules_for(campaign.network)
    in_range = Delivery.objects.filter(campaign_id=campaign_id, pk__range=(first_id, last_id))
    due = deque(in_range.filter(status=DeliveryStatus.QUEUED).filter(Q(retry_at__isnull=True) | Q(retry_at__lte=clock()))
                .order_by("pk").values_list("pk", flat=True))
    size = dispatch_batch_size()
    channel = None
    try:
        with translation.override(settings.LANGUAGE_CODE):
            while due and not result.stopped:
                quiet_end = quiet_hours_end(rules, clock())
                if quiet_end is not None:
                    result.stopped, result.resume_at = "quiet_hours", quiet_end
                    break
                wanted = [due.popleft() for _ in range(min(size, len(due)))]
                claimed_at = clock()
                claimed = _claim_batch(wanted, campaign_id, claimed_at)
                if not claimed:
                    status = Campaign.objects.filter(pk=campaign_id).values_list("status", flat=True).first()
                    if status != CampaignStatus.SENDING:
                        result.stopped = status or "missing"
                        break
                result.skipped += len(wanted) - len(claimed)  # taken by another task, or already done
                if claimed:
                    if channel is None:
                        try:
                            channel = _channel_for(campaign)
                        except frozen.SnapshotProblem as problem:
                            campaign_send_block(campaign_id=campaign_id, reason=str(problem))
                            _release(campaign_id, claimed, claimed_at, clock())
                            result.stopped = CampaignStatus.PAUSED
                            break
                    due.extendleft(reversed(_send_batch(campaign, claimed, claimed_at, channel, rules, clock, result)))
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
    with translation.override(settings.LANGUAGE_CODE):
        problem = campaign_send_check(campaign)
    if problem:
        raise ValidationError(_("The send cannot go on: %(reason)s") % {"reason": problem})
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
        "blocked_reason": send_blocked_reason(campaign),
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
    library-only URL fetcher; the task's time limit bounds it. Rendered from the approved proof's
    snapshot: each recipient's page with their variant (their owner branch's, in a co-signed send)."""
    send = FrozenSend(campaign)
    recipient_markers = {name: _marker(name) for name in merge.RECIPIENT_FIELDS}
    system_markers = {name: _marker(f"system-{name}") for name in merge.SYSTEM_FIELDS}
    variants: dict[str, str] = {}
    head, assets = "", {}
    pages = []
    for delivery in deliveries:
        key = send.key_for(delivery.customer)
        if key not in variants:
            document, loaded = rendering.print_html(send.version, send.context(key), recipient_markers, system_markers)
            head = head or document.partition("<body>")[0]
            assets |= loaded
            variants[key] = document.partition("<body>")[2].rpartition("</body>")[0]
        body = variants[key]
        values = {**{_marker(k): v for k, v in recipient_values(delivery.customer).items()},
                  **{_marker(f"system-{k}"): v for k, v in system_values(delivery.token).items()}}
        page = body
        for marker, value in values.items():
            page = page.replace(marker, escape_html(value))
        # the anchor marks each piece's first page: central/printing.py reads the page ranges from it
        pages.append(f'<section class="relais-merge-page" id="relais-piece-{len(pages) + 1}"><div class="relais-address">'
                     f"{_address_block(delivery.customer)}</div>{page}</section>")
    merged = head.replace("</style>", f"\n{MERGE_CSS}</style>", 1) + "<body>" + "".join(pages) + "</body></html>"
    rendered = weasyprint.HTML(string=merged, url_fetcher=rendering.AssetOnlyFetcher(assets),
                               base_url=rendering.ASSET_SCHEME).render()
    return rendered.write_pdf(), len(rendered.pages)


def _pdf_pages(pdf: bytes) -> int:
    """The PDF's page count, read by pypdf (a pattern over the bytes found none in compressed
    object streams: the sandboxed renderer's flyers showed 0 pages)."""
    from io import BytesIO

    from pypdf import PdfReader

    return len(PdfReader(BytesIO(pdf)).pages)


def campaign_flyer_produce(*, campaign: Campaign) -> PrintFile:
    """The flyer for the store: one copy of the print version with the branch's details (no
    recipient), rendered in the sandboxed child process. Made once per campaign."""
    existing = campaign.print_files.filter(kind=PrintFile.Kind.FLYER).first()
    if existing:
        return existing
    send = FrozenSend(campaign)
    with translation.override(settings.LANGUAGE_CODE):
        pdf = rendering.render_print(send.version, send.context(frozen.variant_key(send.snapshot, None)), {},
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
                from central.printing import print_handoff_start  # manifest, BAT, to the network's printer

                print_handoff_start(print_file=record)
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
        try:  # what was approved and sent, not the branch's details of today
            send = FrozenSend(campaign)
            compiled = rendering.compile_email(send.version, send.context(send.key_for(delivery.customer)))
        except frozen.SnapshotProblem:  # a message sent before proofs froze their inputs (or since altered)
            logger.warning("view online of campaign %s: no valid frozen snapshot, live rendering", campaign.public_id)
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
                with translation.override(settings.LANGUAGE_CODE):
                    problem = campaign_send_check(started)
                if problem:  # the proof's samples, rendered again, differ: stopped before any message
                    campaign_send_block(campaign_id=started.pk, reason=problem)
                    continue
                campaign_dispatch(campaign=started)
            done["campaigns"] += 1
    return done
