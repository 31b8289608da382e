"""Writes on networks: a network set up by the platform (with its head office and the invitation
of its first head-office person), and a network's settings edited by its head office. Each write
is atomic and recorded in the network's audit trail (``local_stores.audit``)."""

from __future__ import annotations

import zoneinfo
from functools import cache

from babel.core import get_global
from babel.numbers import get_territory_currencies
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, validate_slug
from django.db import transaction
from django.utils.translation import gettext as _

from central.people.invitations import invitation_send
from local_stores.audit import changed_fields, network_event_record
from local_stores.models import Invitation, Network, NetworkEvent, Node, NodeKind, Role
from local_stores.people import invitation_create
from local_stores.services import network_create

#: The roles a network may let its regional managers grant on their branches.
REGIONAL_GRANTABLE_CHOICES = (Role.BRANCH_MANAGER, Role.APPROVER, Role.ANALYST)
#: The settings a head office edits (the logo apart: a file).
SETTINGS_FIELDS = ("name", "languages", "default_language", "time_zone", "currency", "invitation_days",
                   "regional_grantable_roles", "mfa_required_roles")
INVITATION_DAYS_MIN, INVITATION_DAYS_MAX = 1, 30


@cache
def currency_codes() -> frozenset[str]:
    """The ISO 4217 codes in use today somewhere (Babel's CLDR data: the legal tender of each
    territory; historical codes such as FRF or DEM are not offered)."""
    codes: set[str] = set()
    for territory in get_global("territory_currencies"):
        codes.update(get_territory_currencies(territory))
    return frozenset(codes)


@cache
def time_zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def language_codes() -> list[str]:
    return [code for code, _label in settings.LANGUAGES]


# --- Setting a network up (the platform) -------------------------------------------------------------


def _setup_errors(*, name: str, slug: str, head_office_name: str, admin_email: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    required = {"name": name, "slug": slug, "head_office_name": head_office_name, "admin_email": admin_email}
    for field, value in required.items():
        if not value:
            errors[field] = [_("This field is required.")]
    if name and len(name) > 120:
        errors["name"] = [_("A network's name has 120 characters at most.")]
    if head_office_name and len(head_office_name) > 120:
        errors["head_office_name"] = [_("A head office's name has 120 characters at most.")]
    if slug:
        try:
            validate_slug(slug)
        except ValidationError:
            errors["slug"] = [_("Letters, digits, hyphens and underscores only (e.g. “alpha-stores”).")]
        if len(slug) > 50:
            errors["slug"] = [_("A short name has 50 characters at most.")]
    if admin_email:
        try:
            EmailValidator()(admin_email)
        except ValidationError:
            errors["admin_email"] = [_("Enter a valid e-mail address.")]
    return errors


@transaction.atomic
def network_setup(
    *, name: str, slug: str, head_office_name: str, admin_email: str, created_by=None
) -> tuple[Network, Invitation]:
    """Create a network, its head office, and invite ``admin_email`` as the head office's marketer
    (the link is e-mailed once the transaction commits). Raises ValidationError by field; a slug
    already taken is refused (``network_exists``)."""
    name, slug, head_office_name, admin_email = (
        (name or "").strip(), (slug or "").strip().lower(), (head_office_name or "").strip(), (admin_email or "").strip()
    )
    errors = _setup_errors(name=name, slug=slug, head_office_name=head_office_name, admin_email=admin_email)
    if slug and "slug" not in errors and network_exists(slug):
        errors["slug"] = [_("A network already uses this short name.")]
    if errors:
        raise ValidationError(errors)
    network = network_create(name=name, slug=slug, head_office_name=head_office_name)
    head_office = Node.objects.get(network=network, kind=NodeKind.HEAD_OFFICE)
    network_event_record(
        network=network, action=NetworkEvent.Action.NETWORK_CREATED, actor=created_by, node=head_office,
        details={"name": name, "slug": slug, "head_office": head_office_name},
    )
    invitation, token = invitation_create(
        node=head_office, email=admin_email, role=Role.HEAD_OFFICE_MARKETER, invited_by=created_by
    )
    invitation_send(invitation=invitation, token=token)
    return network, invitation


def network_exists(slug: str) -> bool:
    return Network.objects.filter(slug__iexact=(slug or "").strip()).exists()


# --- A network's settings (its head office) ----------------------------------------------------------


def _settings_errors(values: dict) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    name = values.get("name", "")
    if not name or len(name) > 120:
        errors["name"] = [_("Give the network a name of 120 characters at most.")]
    languages = values.get("languages") or []
    if not isinstance(languages, list) or not languages:
        errors["languages"] = [_("Choose at least one language.")]
    elif any(code not in language_codes() for code in languages):
        errors["languages"] = [_("Relais speaks only these languages: %(codes)s.") % {"codes": ", ".join(language_codes())}]
    if values.get("default_language") not in languages:
        errors["default_language"] = [_("The default language must be one of the network's languages.")]
    if values.get("time_zone") not in time_zone_names():
        errors["time_zone"] = [_("Choose a time zone of the list (e.g. Europe/Paris).")]
    if values.get("currency") not in currency_codes():
        errors["currency"] = [_("Choose a currency by its ISO 4217 code (e.g. EUR).")]
    days = values.get("invitation_days")
    if not isinstance(days, int) or isinstance(days, bool) or not INVITATION_DAYS_MIN <= days <= INVITATION_DAYS_MAX:
        errors["invitation_days"] = [
            _("An invitation stays valid from %(min)d to %(max)d days.") % {"min": INVITATION_DAYS_MIN, "max": INVITATION_DAYS_MAX}
        ]
    roles = values.get("regional_grantable_roles")
    if not isinstance(roles, list) or any(role not in REGIONAL_GRANTABLE_CHOICES for role in roles):
        errors["regional_grantable_roles"] = [_("Regional managers may grant only branch manager, approver or analyst.")]
    required = values.get("mfa_required_roles")
    if not isinstance(required, list) or any(role not in Role.values for role in required):
        errors["mfa_required_roles"] = [_("Choose roles of the list.")]
    return errors


def network_settings_of(network: Network) -> dict[str, object]:
    return {field: getattr(network, field) for field in SETTINGS_FIELDS}


@transaction.atomic
def network_settings_update(
    *, network: Network, changed_by, changes: dict, logo=None, clear_logo: bool = False, ip: str | None = None
) -> Network:
    """Apply ``changes`` (some of SETTINGS_FIELDS) and a new logo; refuse the whole with a
    ValidationError by field. Records NETWORK_SETTINGS_CHANGED with each changed field's old and
    new value (the logo by its file name). Nothing changed: nothing written."""
    network = Network.objects.select_for_update().get(pk=network.pk)
    before = network_settings_of(network)
    unknown = set(changes) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValidationError({field: [_("This setting does not exist.")] for field in sorted(unknown)})
    after = {**before, **changes}
    if isinstance(after.get("name"), str):
        after["name"] = after["name"].strip()
    errors = _settings_errors(after)
    if errors:
        raise ValidationError(errors)
    diff = changed_fields(before, after)
    old_logo = network.logo.name if network.logo else ""
    for field, value in after.items():
        setattr(network, field, value)
    if logo is not None:
        network.logo = logo
    elif clear_logo and network.logo:
        network.logo = ""
    network.save()
    new_logo = network.logo.name if network.logo else ""
    if new_logo != old_logo:
        diff["logo"] = {"old": old_logo.rsplit("/", 1)[-1], "new": new_logo.rsplit("/", 1)[-1]}
    if diff:
        head_office = Node.objects.filter(network=network, kind=NodeKind.HEAD_OFFICE).first()
        network_event_record(
            network=network, action=NetworkEvent.Action.NETWORK_SETTINGS_CHANGED, actor=changed_by,
            node=head_office, details={"fields": diff}, ip=ip,
        )
    return network
