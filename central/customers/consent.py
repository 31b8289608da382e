"""Consent: every write to a customer's consent and objection, with its history (``ConsentEvent``),
and the suppression of an address a customer's bounce or erasure brings. Whatever changes consent —
an unsubscription, an SMS STOP, a hard bounce, a sign-up, an erasure, a CRM import — goes through
here; the messages it forbids are cancelled. (Head office's own additions to the suppression list
are network rules: ``services.suppression_add``.)"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from central.channels import registry
from central.delivery.send_state import campaign_finish_if_done
from central.models import (
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
    spec = registry.get(channel)
    if getattr(customer, spec.consent_field) != ConsentStatus.GRANTED:
        return DeliveryReason.NO_CONSENT
    if not spec.has_address(customer):
        return DeliveryReason.NO_ADDRESS
    if not spec.matched_address:
        return ""
    address = getattr(customer, spec.matched_address)
    if Suppression.objects.filter(network_id=customer.network_id, channel=channel,
                                  value_hash=address_hash(address)).exists():
        return DeliveryReason.SUPPRESSED
    return ""


def suppress_address(*, customer: Customer, channel: str, reason: str) -> None:
    """Put the customer's address for ``channel`` on the network's suppression list (hashed): no
    message goes to it any more, whoever holds it (a hard bounce, an erasure…)."""
    address = registry.get(channel).matched_value(customer)
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
        spec = registry.get(channel)
        changed = Customer.objects.filter(pk=customer.pk).exclude(**{spec.consent_field: ConsentStatus.DENIED}).update(
            **{spec.consent_field: ConsentStatus.DENIED, spec.consent_at_field: at,
               spec.consent_source_field: source[:120]}, updated_at=at)
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
    for spec in map(registry.get, channels):
        setattr(customer, spec.consent_field, ConsentStatus.GRANTED)
        setattr(customer, spec.consent_at_field, at)
        setattr(customer, spec.consent_source_field, source)
    customer.save()
    ConsentEvent.objects.bulk_create([ConsentEvent(customer=customer, channel=channel, status=ConsentStatus.GRANTED,
                                                   occurred_at=at, source=source, recorded_at=at)
                                      for channel in channels])


def consent_set_by_hand(*, customer: Customer, channel: str, status: str, at: datetime, source: str,
                        recorded_by) -> bool:
    """Record a consent a person typed in (a form, the API): the customer's consent for ``channel``
    with its date and source, and its ``ConsentEvent`` naming who recorded it. Anything but
    "granted" cancels the customer's queued deliveries on that channel, as a withdrawal does.
    Nothing is written when the consent already has this status (False)."""
    spec = registry.get(channel)
    source = source[:120]
    with transaction.atomic():
        changed = Customer.objects.filter(pk=customer.pk).exclude(**{spec.consent_field: status}).update(
            **{spec.consent_field: status, spec.consent_at_field: at, spec.consent_source_field: source})
        if changed:
            ConsentEvent.objects.create(customer_id=customer.pk, channel=channel, status=status, occurred_at=at,
                                        source=source, recorded_at=timezone.now(), recorded_by=recorded_by)
            if status != ConsentStatus.GRANTED:
                _cancel_queued(Delivery.objects.filter(customer_id=customer.pk, channel=channel),
                               DeliveryReason.NO_CONSENT, timezone.now())
    if changed:
        setattr(customer, spec.consent_field, status)
        setattr(customer, spec.consent_at_field, at)
        setattr(customer, spec.consent_source_field, source)
    return bool(changed)


def consent_erase(*, customer: Customer) -> None:
    """Erasure (RGPD art. 17): the customer's consent history is deleted and every consent of the
    instance is denied, undated and without source (the objection keeps its date, not its source) —
    saved by the caller with the rest of the erasure, which then calls ``consent_erasure_record``."""
    ConsentEvent.objects.filter(customer=customer).delete()
    customer.objection_source = ""
    for spec in registry.all():
        setattr(customer, spec.consent_field, ConsentStatus.DENIED)
        setattr(customer, spec.consent_at_field, None)
        setattr(customer, spec.consent_source_field, "")


def consent_erasure_record(*, customer: Customer, at: datetime, source: str) -> None:
    """What remains of an erased customer's consent history: that they were erased, by whom."""
    ConsentEvent.objects.create(customer=customer, channel=ConsentEvent.ALL_CHANNELS, status="erased",
                                occurred_at=at, recorded_at=at, source=source)

# --- Consent in a CRM import: the SQL of its load ------------------------------------------------
# The import (central/customers/importing.py) loads a file in a few statements over its staging table
# (relais_customer_stage) and the customers' state before it (relais_customer_prev); what those
# statements write of consent, objection and their history is written here.


def _import_consent_values(channel: str) -> str:
    return (
        f"CASE WHEN s.consent_{channel} = '' THEN 'unknown' ELSE s.consent_{channel} END, "
        f"CASE WHEN s.consent_{channel} = '' THEN NULL ELSE COALESCE(s.consent_{channel}_at, %(now)s) END, "
        f"CASE WHEN s.consent_{channel} = '' THEN '' ELSE s.consent_source END"
    )


def import_consent_values_sql() -> str:
    """The consent and objection columns of a customer the import inserts, from its staged row (in
    the order of the INSERT: each channel of the registry with its date and source; objected_at, objection_source)."""
    return (f"{', '.join(_import_consent_values(channel) for channel in registry.codes())},\n"
            "            CASE WHEN s.objection = 'yes' THEN s.objection_at END,\n"
            "            CASE WHEN s.objection = '' THEN '' ELSE s.consent_source END")


#: Sources of the withdrawals Relais records itself (central/delivery/tracking.py, central/delivery/claims.py,
#: central/delivery/sms_inbound.py): an unsubscribe link, an SMS STOP. SQL LIKE patterns.
RELAIS_WITHDRAWALS = ("unsubscribe link", "SMS STOP%")


def import_stale_consents_sql() -> str:
    """Before the upsert: forget (blank in the staging table) what the file says that would undo a
    withdrawal the person made through Relais — an SMS STOP, a click on an unsubscribe link —
    unless the file's consent is dated after it. The CRM may not know of it yet: re-exporting the
    customer's old "granted" must not subscribe them again. (What the CRM itself said before, it
    may change: only Relais's own withdrawals are kept.) An objection made through an unsubscribe
    link is not lifted by a file's "no"."""
    t = "relais_customer_stage"

    def relais(source: str) -> str:
        return "(" + " OR ".join(f"{source} LIKE '{pattern}'" for pattern in RELAIS_WITHDRAWALS) + ")"

    sets, conditions = [], []
    for channel in registry.codes():
        given, at = f"{t}.consent_{channel}", f"{t}.consent_{channel}_at"
        stale = (f"({given} <> '' AND {given} <> 'denied' AND p.consent_{channel} = 'denied' "
                 f"AND {relais(f'p.consent_{channel}_source')} AND ({at} IS NULL OR {at} <= p.consent_{channel}_at))")
        sets.append(f"consent_{channel} = CASE WHEN {stale} THEN '' ELSE {given} END")
        conditions.append(stale)
    lifted = f"({t}.objection = 'no' AND p.objected_at IS NOT NULL AND {relais('p.objection_source')})"
    sets.append(f"objection = CASE WHEN {lifted} THEN '' ELSE {t}.objection END")
    conditions.append(lifted)
    return (f"UPDATE {t} SET {', '.join(sets)} FROM relais_customer_prev p "  # noqa: S608
            f"WHERE p.external_id = {t}.external_id AND ({' OR '.join(conditions)})")


def _import_consent_assignment(channel: str) -> dict[str, str]:
    """A consent is replaced only when the file gives one that differs; its date and source move with it."""
    changed = f"(excluded.consent_{channel}_source <> '' AND excluded.consent_{channel} <> c.consent_{channel})"
    return {
        f"consent_{channel}": f"CASE WHEN {changed} THEN excluded.consent_{channel} ELSE c.consent_{channel} END",
        f"consent_{channel}_at": f"CASE WHEN {changed} THEN excluded.consent_{channel}_at ELSE c.consent_{channel}_at END",
        f"consent_{channel}_source": (
            f"CASE WHEN {changed} THEN excluded.consent_{channel}_source ELSE c.consent_{channel}_source END"
        ),
    }


def import_consent_assignments() -> dict[str, str]:
    """Column → new value of an existing customer's consents and objection, in the upsert's DO UPDATE."""
    assignments: dict[str, str] = {}
    for channel in registry.codes():
        assignments |= _import_consent_assignment(channel)
    assignments["objected_at"] = """CASE
        WHEN excluded.objection_source = '' THEN c.objected_at
        WHEN excluded.objected_at IS NULL THEN NULL
        ELSE COALESCE(c.objected_at, excluded.objected_at) END"""
    assignments["objection_source"] = """CASE
        WHEN excluded.objection_source = '' THEN c.objection_source
        WHEN excluded.objected_at IS NULL THEN ''
        WHEN c.objected_at IS NOT NULL THEN c.objection_source
        ELSE excluded.objection_source END"""
    return assignments


def import_consent_history_sql(*, now: str, import_id: str) -> str:
    """The consent history an import writes: one ``ConsentEvent`` per changed consent, and one per
    objection made or lifted, from the import (``now`` and ``import_id``: their SQL parameters)."""
    parts = [
        f"""SELECT c.id, '{channel}', c.consent_{channel}, c.consent_{channel}_at, c.consent_{channel}_source,
                   {now}, {import_id}
            FROM relais_customer_stage s
            JOIN central_customer c ON c.network_id = %(network)s AND c.external_id = s.external_id
            LEFT JOIN relais_customer_prev p ON p.id = c.id
            WHERE s.consent_{channel} <> '' AND (p.id IS NULL OR p.consent_{channel} <> c.consent_{channel})"""  # noqa: S608
        for channel in registry.codes()
    ]
    parts.append(
        f"""SELECT c.id, 'all', CASE WHEN c.objected_at IS NULL THEN 'withdrawn' ELSE 'objected' END,
                  COALESCE(c.objected_at, {now}), s.consent_source, {now}, {import_id}
           FROM relais_customer_stage s
           JOIN central_customer c ON c.network_id = %(network)s AND c.external_id = s.external_id
           LEFT JOIN relais_customer_prev p ON p.id = c.id
           WHERE s.objection <> '' AND (
               (p.id IS NULL AND c.objected_at IS NOT NULL)
               OR (p.id IS NOT NULL AND (p.objected_at IS NULL) <> (c.objected_at IS NULL)))"""  # noqa: S608
    )
    return (
        "INSERT INTO central_consentevent (customer_id, channel, status, occurred_at, source, recorded_at, "
        "customer_import_id) " + " UNION ALL ".join(parts)
    )
