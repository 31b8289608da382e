"""Reporting's writes: the providers' tracking events (and, built on them, the roll-ups)."""

from __future__ import annotations

import hashlib
import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from central.dispatch import customer_consent_withdraw, customer_objection_record, suppress_address
from central.models import Channel, Delivery, DeliveryReason
from reporting.models import ProviderEvent

logger = logging.getLogger(__name__)

#: django-anymail's normalised event types that Relais keeps (the others — queued, sent, inbound,
#: unknown… — say nothing a report counts: Relais records its own "sent").
_KINDS = {
    "delivered": ProviderEvent.Kind.DELIVERED,
    "bounced": ProviderEvent.Kind.BOUNCED,
    "deferred": ProviderEvent.Kind.DEFERRED,
    "rejected": ProviderEvent.Kind.REJECTED,
    "opened": ProviderEvent.Kind.OPENED,
    "clicked": ProviderEvent.Kind.CLICKED,
    "unsubscribed": ProviderEvent.Kind.UNSUBSCRIBED,
    "complained": ProviderEvent.Kind.COMPLAINED,
}


def _event_id(esp_name: str, event) -> str:
    """The provider's id of the event, or (a provider that gives none) a digest of what identifies
    it: the same event posted twice gets the same id."""
    if event.event_id:
        return str(event.event_id)[:200]
    parts = [esp_name, event.event_type, event.message_id or "", event.recipient or "",
             event.timestamp.isoformat() if event.timestamp else "", event.click_url or ""]
    return "sha256:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def provider_event_record(*, esp_name: str, event) -> ProviderEvent | None:
    """Record an e-mail provider's tracking event (django-anymail's ``AnymailTrackingEvent``) for
    the delivery whose message it is about, once: the same event posted again records nothing.
    A new hard bounce puts the address on the network's suppression list; a spam report withdraws
    the customer's e-mail consent; an unsubscription through the provider is a global objection,
    like Relais's own unsubscribe link. Returns the new event, or None (a repeat, an event type
    Relais does not keep, a message it did not send)."""
    kind = _KINDS.get(event.event_type)
    if kind is None or not event.message_id:
        return None
    delivery = (Delivery.objects.select_related("customer").filter(provider_id=event.message_id, channel=Channel.EMAIL)
                .order_by("pk").first())
    if delivery is None:
        logger.info("provider event %s from %s for an unknown message, ignored", event.event_type, esp_name)
        return None
    detail = " ".join(str(part) for part in (event.reject_reason or "", event.description or "") if part)[:300]
    try:
        with transaction.atomic():
            recorded = ProviderEvent.objects.create(
                delivery=delivery, kind=kind, esp=esp_name[:40], event_id=_event_id(esp_name, event),
                url=(event.click_url or "") if kind == ProviderEvent.Kind.CLICKED else "", detail=detail,
                occurred_at=event.timestamp or timezone.now())
            source = f"{esp_name}: {kind}"
            if kind == ProviderEvent.Kind.BOUNCED:
                suppress_address(customer=delivery.customer, channel=Channel.EMAIL, reason="hard bounce")
            elif kind == ProviderEvent.Kind.COMPLAINED:
                customer_consent_withdraw(customer=delivery.customer, channel=Channel.EMAIL, source=source,
                                          reason=DeliveryReason.NO_CONSENT)
            elif kind == ProviderEvent.Kind.UNSUBSCRIBED:
                customer_objection_record(customer=delivery.customer, source=source)
    except IntegrityError:
        return None  # posted before: recorded once
    return recorded
