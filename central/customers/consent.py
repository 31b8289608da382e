"""Consent: every write to a customer's consent, objection and suppression, with its history
(``ConsentEvent``). Whatever changes consent — an unsubscription, an SMS STOP, a hard bounce, a
sign-up, an erasure — goes through here; the messages it forbids are cancelled."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from central.delivery.send_state import campaign_finish_if_done
from central.models import (
    Channel,
    ConsentEvent,
    ConsentStatus,
    Customer,
    Delivery,
    DeliveryReason,
    DeliveryStatus,
    Suppression,
)


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
    count = queued.update(status=DeliveryStatus.CANCELLED, reason=reason, finished_at=at, retry_at=None)
    if count:
        transaction.on_commit(lambda: [campaign_finish_if_done(campaign_id=pk) for pk in campaign_ids])
    return count


def consent_grant(*, customer: Customer, channels: Iterable[str], source: str, at: datetime) -> None:
    """Record the consents a customer gave (a confirmed sign-up…) on ``channels``: each consent
    granted with its date and source, the customer saved, and one ``ConsentEvent`` per channel."""
    channels = list(channels)
    source = source[:120]
    for channel in channels:
        setattr(customer, f"consent_{channel}", ConsentStatus.GRANTED)
        setattr(customer, f"consent_{channel}_at", at)
        setattr(customer, f"consent_{channel}_source", source)
    customer.save()
    ConsentEvent.objects.bulk_create([ConsentEvent(customer=customer, channel=channel, status=ConsentStatus.GRANTED,
                                                   occurred_at=at, source=source, recorded_at=at)
                                      for channel in channels])


def consent_erase(*, customer: Customer) -> None:
    """Erasure (RGPD art. 17): the customer's consent history is deleted and every consent of the
    instance is denied, undated and without source — saved by the caller with the rest of the
    erasure, which then calls ``consent_erasure_record``."""
    ConsentEvent.objects.filter(customer=customer).delete()
    for channel in Channel.values:
        setattr(customer, f"consent_{channel}", ConsentStatus.DENIED)
        setattr(customer, f"consent_{channel}_at", None)
        setattr(customer, f"consent_{channel}_source", "")


def consent_erasure_record(*, customer: Customer, at: datetime, source: str) -> None:
    """What remains of an erased customer's consent history: that they were erased, by whom."""
    ConsentEvent.objects.create(customer=customer, channel=ConsentEvent.ALL_CHANNELS, status="erased",
                                occurred_at=at, recorded_at=at, source=source)
