"""Inbound SMS: a person's reply to a marketing SMS. An opt-out keyword (STOP, ARRÊT…) withdraws
the SMS consent of every customer with the sender's number; anything else is ignored and nothing of
it is kept.

Replies reach Relais by the provider's webhook (``/sms/inbound/twilio/``, ``public_views``), whose
signature is checked with :func:`twilio_signature_valid`, or by the ``sms_inbound`` management
command (development: the file backend has no inbound side). Both go through :func:`sms_inbound_receive`.

**Idempotent.** The consent change is recorded with the source "SMS STOP (reply <message id>)": a
message already recorded for one of the number's customers (a provider's retry) changes nothing
more; and the withdrawal itself changes only a consent that is not already denied. No model of its
own: a reply from an unknown number, or one that is not a keyword, stores nothing.

**Re-subscription is not honoured here**: START, UNSTOP… change nothing; a consent is given again
explicitly, in the CRM (the import) or the customer's page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from django.db import transaction
from django.utils import timezone

from central.customers import consent
from central.customers.importing import normalise_mobile
from central.models import Channel, ConsentEvent, Customer, DeliveryReason

logger = logging.getLogger(__name__)

#: The opt-out keywords, once trimmed, upper-cased and without accents (ARRÊT is ARRET): French
#: operators' usage and Twilio's standard opt-out words.
STOP_KEYWORDS = frozenset({
    "STOP", "STOP SMS", "ARRET", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "CANCEL", "DESINSCRIPTION",
})
#: Around the keyword: spaces, and the full stop or exclamation mark people add ("Stop !").
_AROUND = " .!"
#: The empty TwiML document: Twilio sends no reply of ours.
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def _keyword_form(body: str) -> str:
    """``body`` as keywords are compared: accents removed, upper case, blanks collapsed."""
    decomposed = unicodedata.normalize("NFKD", body or "")
    text = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(text.split()).strip(_AROUND).upper()


def is_stop(body: str) -> bool:
    """Whether ``body`` is an opt-out keyword ("Stop ", "arrêt", "STOP SMS"…), and nothing else."""
    return _keyword_form(body) in STOP_KEYWORDS


def stop_source(message_id: str) -> str:
    """The consent source recorded for the reply ``message_id`` (its key for idempotency)."""
    return f"SMS STOP (reply {message_id})"[:120]


@dataclass(frozen=True)
class InboundResult:
    """What one reply did: ``stop`` it was an opt-out keyword; ``customers`` how many customers have
    the sender's number; ``withdrawn`` whose SMS consent it withdrew now; ``duplicate`` the same
    message had already been recorded."""

    stop: bool
    customers: int = 0
    withdrawn: int = 0
    duplicate: bool = False


def sms_inbound_receive(*, sender: str, body: str, message_id: str) -> InboundResult:
    """Handle one reply from ``sender`` (E.164): an opt-out keyword withdraws the SMS consent of every
    customer with that number, in every network (``consent.customer_consent_withdraw``: the
    ``ConsentEvent``, and their queued SMS cancelled). Anything else records nothing."""
    if not is_stop(body):
        logger.info("Inbound SMS %s: not an opt-out keyword, ignored", message_id or "-")
        return InboundResult(stop=False)
    number = normalise_mobile(sender or "")
    if not number:
        logger.info("Inbound SMS %s: STOP from a sender that is not a mobile number, ignored", message_id or "-")
        return InboundResult(stop=True)
    source = stop_source(message_id) if message_id else "SMS STOP (reply)"
    at = timezone.now()
    with transaction.atomic():
        customers = list(Customer.objects.filter(mobile=number).order_by("pk"))  # in pk order: no deadlock
        if not customers:
            logger.info("Inbound SMS %s: STOP from an unknown number, nothing recorded", message_id or "-")
            return InboundResult(stop=True)
        if message_id and ConsentEvent.objects.filter(
                customer__in=[customer.pk for customer in customers], channel=Channel.SMS, source=source).exists():
            logger.info("Inbound SMS %s: already recorded, nothing changed", message_id)
            return InboundResult(stop=True, customers=len(customers), duplicate=True)
        withdrawn = sum(
            consent.customer_consent_withdraw(customer=customer, channel=Channel.SMS, source=source, at=at,
                                               reason=DeliveryReason.SMS_STOP)
            for customer in customers)
    logger.info("Inbound SMS %s: STOP, SMS consent withdrawn for %d of %d customers", message_id or "-",
                withdrawn, len(customers))
    return InboundResult(stop=True, customers=len(customers), withdrawn=withdrawn)


# --- Twilio's webhook signature -------------------------------------------------------------------


def twilio_signature(auth_token: str, url: str, params: Mapping[str, Sequence[str]]) -> str:
    """``X-Twilio-Signature`` of a form POST to ``url``: base64(HMAC-SHA1(auth token, the URL then each
    parameter's name and value, sorted by name — and a repeated parameter's values sorted too)).
    ``params`` maps each name to its list of values (``QueryDict.lists()``)."""
    payload = url + "".join(name + value for name in sorted(params) for value in sorted(set(params[name])))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _with_and_without_port(url: str) -> list[str]:
    """``url`` as given, without its port, and with the scheme's default port: Twilio signs the URL
    as it was configured, which may or may not name the port (its own libraries try both)."""
    parts = urlsplit(url)
    variants = [url]
    try:
        port = parts.port
    except ValueError:
        return variants
    if port is not None:
        variants.append(urlunsplit(parts._replace(netloc=parts.netloc.rsplit(":", 1)[0])))
    else:
        default = {"https": 443, "http": 80}.get(parts.scheme)
        if default:
            variants.append(urlunsplit(parts._replace(netloc=f"{parts.netloc}:{default}")))
    return variants


def twilio_signature_valid(*, auth_token: str, signature: str, urls: Iterable[str],
                           params: Mapping[str, Sequence[str]]) -> bool:
    """Whether ``signature`` is Twilio's for these ``params`` posted to one of ``urls`` (the public
    URLs the request may have been addressed to). No auth token, no signature: never valid."""
    if not auth_token or not signature:
        return False
    given = signature.strip().encode()
    valid = False
    candidates = dict.fromkeys(variant for url in urls if url for variant in _with_and_without_port(url))
    for candidate in candidates:  # each is computed and compared: no early exit
        valid |= hmac.compare_digest(twilio_signature(auth_token, candidate, params).encode(), given)
    return valid
