"""Customers created and edited by hand — a walk-in client typed in at the counter, a phone number
corrected — through the pages and the API.

Every field goes through the import's own checks (``checks``: the same value is refused with the
same words in a file, a form and the API); every consent change goes through ``consent`` (the only
consent writer) with its date, its source and who recorded it; every creation or edit writes the
network's audit trail (field names only, never a customer's personal data). Who may: the
``edit_customers`` permission over the customer's branch — a branch manager on their branch, head
office everywhere. The branch of an existing customer is not edited here: that is an ownership
transfer (``transfers``).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime, time

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from central.channels import registry as channels
from central.customers import checks, consent
from central.models import ConsentStatus, Customer
from local_stores.audit import network_event_record
from local_stores.models import NetworkEvent, Node
from local_stores.selectors import node_in_scope

#: The fields a person types in (the CRM's scores, purchases and lifetime value stay the import's).
FIELDS = ("external_id", "civility", "first_name", "last_name", "email", "mobile", "address_line1", "postal_code",
          "city", "country", "segment", "interests", "preferred_channel")
#: What the consent's source field suggests (free text: any other words are kept as typed).
CONSENT_SOURCE_SUGGESTIONS = (gettext_lazy("counter, signed form"), gettext_lazy("phone"),
                              gettext_lazy("e-mail request"), gettext_lazy("web form"))
#: The CRM id of a customer created without one: this prefix and the form's token (see ``new_form_token``).
GENERATED_PREFIX = "hand-"


def _check(name: str):
    """The check of one field (``checks``), by the field's name."""
    if name in checks.LIMITS:
        limit = checks.LIMITS[name]
        return lambda raw: checks.text(raw, limit)
    return getattr(checks, name)


def new_form_token() -> str:
    """A new form's token: the CRM id of the customer it creates when none is typed, so that the
    same form submitted twice finds the customer it already created instead of making a second one."""
    return secrets.token_hex(8)


def generated_external_id(token: str) -> str:
    token = "".join(character for character in (token or "") if character in "0123456789abcdef")[:16]
    return GENERATED_PREFIX + (token if len(token) == 16 else new_form_token())


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    return str(value)


def _clean_profile(data: Mapping[str, object], errors: dict[str, list[str]]) -> dict[str, object]:
    """The given fields (of ``FIELDS``) checked: their stored values; the errors by field in ``errors``."""
    values: dict[str, object] = {}
    for name in FIELDS:
        if name not in data:
            continue
        try:
            values[name] = _check(name)(_as_text(data[name]))
        except checks.Invalid as error:
            errors.setdefault(name, []).append(str(error))
    return values


def _clean_consents(consents: Mapping[str, Mapping[str, object]], *, current: Customer | None,
                    errors: dict[str, list[str]]) -> list[tuple[str, str, datetime, str]]:
    """The consent changes given by channel ({"status", "at", "source"}): (channel, status, when,
    source) for each status that differs from the customer's; a change needs its date (not in the
    future) and its source. A date alone means that day (today: now)."""
    now, tz = timezone.now(), timezone.get_current_timezone()
    changes = []
    for spec in channels.all():
        given = consents.get(spec.code)
        if not given:
            continue
        field = spec.consent_field
        try:
            status = checks.consent_status(_as_text(given.get("status")))
        except checks.Invalid as error:
            errors.setdefault(field, []).append(str(error))
            continue
        if not status or status == (getattr(current, field) if current else ConsentStatus.UNKNOWN):
            continue
        at = source = None
        try:
            at = checks.consent_date(_as_text(given.get("at")), tz=tz, now=now)
            if at is None:
                raise checks.Invalid(_("Give the day the customer gave or refused their consent."))
        except checks.Invalid as error:
            errors.setdefault(f"{field}_at", []).append(str(error))
        try:
            source = checks.text(_as_text(given.get("source")), checks.LIMITS["consent_source"])
            if not source:
                raise checks.Invalid(_("Say where the consent comes from (counter, signed form; phone…)."))
        except checks.Invalid as error:
            errors.setdefault(f"{field}_source", []).append(str(error))
        if at is not None and source:
            if at.timetz() == time(0, 0, tzinfo=at.tzinfo) and at.date() == timezone.localdate(now):
                at = now  # "today": the moment it was typed in, after what happened earlier today
            changes.append((spec.code, status, at, source))
    return changes


def _check_contact_and_id(customer: Customer, errors: dict[str, list[str]]) -> None:
    try:
        if "email" not in errors and "mobile" not in errors:  # as the import: a wrong address is one error
            checks.contact_required(customer.email, customer.mobile)
    except checks.Invalid as error:
        errors.setdefault("email", []).append(str(error))
    if "external_id" not in errors and Customer.objects.filter(
            network_id=customer.network_id, external_id=customer.external_id).exclude(pk=customer.pk).exists():
        errors["external_id"] = [_("This CRM id is already used by another customer of the network.")]


def _save(customer: Customer, **kwargs) -> None:
    try:
        with transaction.atomic():
            customer.save(**kwargs)
    except IntegrityError:  # the same CRM id saved meanwhile (a second click, another person)
        raise ValidationError({"external_id": [_("This CRM id is already used by another customer of the network.")]}
                              ) from None


def _write_consents(customer: Customer, changes, recorded_by) -> list[str]:
    return [channels.get(channel).consent_field for channel, status, at, source in changes
            if consent.consent_set_by_hand(customer=customer, channel=channel, status=status, at=at, source=source,
                                           recorded_by=recorded_by)]


def customer_create(*, created_by, branch: Node, data: Mapping[str, object],
                    consents: Mapping[str, Mapping[str, object]]) -> Customer:
    """Create a customer of ``branch`` from what a person typed (``data``: the ``FIELDS`` as text;
    ``consents``: by channel, {"status", "at", "source"}). A blank CRM id is made from the form's
    token (``data["form_token"]``). PermissionDenied unless ``created_by`` may edit the branch's
    customers; ValidationError by field (the import's messages). The customer returned says
    ``created_now``: False when the same form (its token) had already created them."""
    if not branch.is_branch or not node_in_scope(created_by, branch, perm="edit_customers"):
        raise PermissionDenied(_("You may not add customers to this branch."))
    data = dict(data)
    if not _as_text(data.get("external_id")).strip():
        data["external_id"] = generated_external_id(_as_text(data.get("form_token")))
        earlier = Customer.objects.filter(network_id=branch.network_id, external_id=data["external_id"]).first()
        if earlier is not None and earlier.created_by_id == created_by.pk and earlier.branch_id == branch.pk:
            earlier.created_now = False  # the same form sent again (a second click, the back button)
            return earlier
        if earlier is not None:
            data["external_id"] = generated_external_id("")
    errors: dict[str, list[str]] = {}
    values = _clean_profile(data, errors)
    changes = _clean_consents(consents, current=None, errors=errors)
    customer = Customer(network_id=branch.network_id, branch=branch, created_by=created_by, updated_by=created_by,
                        **{name: value for name, value in values.items() if name not in errors})
    _check_contact_and_id(customer, errors)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        # the branch's row locked and read again: closing it (which counts its customers under the
        # same lock) cannot slip between the check and the new customer
        if not Node.objects.select_for_update().filter(pk=branch.pk, is_active=True).exists():
            raise ValidationError({"branch": [_("This branch is closed: its customers go to another branch.")]})
        _save(customer)
        consent_fields = _write_consents(customer, changes, created_by)
        network_event_record(network=branch.network, action=NetworkEvent.Action.CUSTOMER_CREATED, actor=created_by,
                             node=branch, details={"customer": customer.public_id, "fields": sorted(
                                 [name for name, value in values.items() if value not in ("", None)] + consent_fields)})
    customer.created_now = True
    return customer


def customer_update(*, customer: Customer, edited_by, data: Mapping[str, object],
                    consents: Mapping[str, Mapping[str, object]]) -> list[str]:
    """Change what ``data`` and ``consents`` give of ``customer`` (absent: unchanged) and return the
    names of the fields that changed (nothing changed: nothing written, no audit). The branch is not
    changed here (an ownership transfer). PermissionDenied unless ``edited_by`` may edit the
    customers of its branch; ValidationError by field."""
    if not node_in_scope(edited_by, customer.branch, perm="edit_customers"):
        raise PermissionDenied(_("You may not edit the customers of this branch."))
    if customer.erased_at is not None:
        raise ValidationError(_("This customer was erased: nothing of theirs can be changed."))
    errors: dict[str, list[str]] = {}
    values = _clean_profile(data, errors)
    changes = _clean_consents(consents, current=customer, errors=errors)
    changed = [name for name, value in values.items() if name not in errors and getattr(customer, name) != value]
    for name in changed:
        setattr(customer, name, values[name])
    _check_contact_and_id(customer, errors)
    if errors:
        customer.refresh_from_db()
        raise ValidationError(errors)
    with transaction.atomic():
        if changed:
            customer.updated_by = edited_by
            _save(customer, update_fields=[*changed, "updated_by", "updated_at"])
        consent_fields = _write_consents(customer, changes, edited_by)
        if consent_fields and not changed:
            Customer.objects.filter(pk=customer.pk).update(updated_by=edited_by, updated_at=timezone.now())
        changed += consent_fields
        if changed:
            network_event_record(network=customer.network, action=NetworkEvent.Action.CUSTOMER_EDITED,
                                 actor=edited_by, node=customer.branch,
                                 details={"customer": customer.public_id, "fields": sorted(changed)})
    return changed
