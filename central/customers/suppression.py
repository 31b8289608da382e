"""The network's suppression list: addresses (kept as hashes only) that nothing is ever sent to.
Head office adds and removes them; the arbitration reads them (``Reason.SUPPRESSED``)."""

from __future__ import annotations

import hashlib

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from central.calendar.selectors import networks_planned_by, require_planner
from central.customers import importing as customer_import
from central.models import Channel, NetworkRulesEvent, Suppression
from local_stores.models import Network
from local_stores.selectors import UserLike


def suppression_hash(channel: str, address: str) -> str:
    """The SHA-256 the suppression list keeps, as the arbitration computes it on customers: of the
    lower-cased e-mail, or of the mobile as stored (E.164, as the import writes it).
    ValidationError on ``address`` if it is no e-mail address or mobile number."""
    value = (address or "").strip()
    if channel == Channel.EMAIL:
        try:
            validate_email(value)
        except ValidationError:
            raise ValidationError({"address": [_("This is not an e-mail address.")]}) from None
        value = value.lower()
    elif channel == Channel.SMS:
        mobile = customer_import.normalise_mobile(value)
        if not mobile:
            raise ValidationError({"address": [_("This is not a valid mobile number (e.g. 06 12 34 56 78 or "
                                                 "+33612345678).")]})
        value = mobile.lower()
    else:
        raise ValidationError({"channel": [_("Only e-mail addresses and mobile numbers can be suppressed.")]})
    return hashlib.sha256(value.encode()).hexdigest()


def suppression_add(*, network: Network, added_by, channel: str, address: str, reason: str):
    """Head office puts an address on the network's suppression list: only its hash is stored, the
    address itself is forgotten at once. ValidationError by field."""
    require_planner(added_by, network)
    reason = (reason or "").strip()
    errors: dict[str, list[str]] = {}
    if not reason:
        errors["reason"] = [_("Say why (a hard bounce, a complaint, an erasure request…).")]
    elif len(reason) > 40:
        errors["reason"] = [_("40 characters at most.")]
    try:
        value_hash = suppression_hash(channel, address)
    except ValidationError as error:
        errors.update(error.message_dict)
        value_hash = ""
    if not errors and Suppression.objects.filter(network=network, channel=channel, value_hash=value_hash).exists():
        errors["address"] = [_("This address is already on the suppression list.")]
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            suppression = Suppression.objects.create(network=network, channel=channel, value_hash=value_hash,
                                                     reason=reason)
            NetworkRulesEvent.objects.create(
                network=network, action=NetworkRulesEvent.Action.SUPPRESSION_ADDED, by=added_by,
                changes={"channel": channel, "hash": value_hash[:12], "reason": reason})
    except IntegrityError:  # added by someone else meanwhile
        raise ValidationError({"address": [_("This address is already on the suppression list.")]}) from None
    return suppression


@transaction.atomic
def suppression_remove(*, suppression, removed_by) -> None:
    require_planner(removed_by, suppression.network)
    NetworkRulesEvent.objects.create(
        network=suppression.network, action=NetworkRulesEvent.Action.SUPPRESSION_REMOVED, by=removed_by,
        changes={"channel": suppression.channel, "hash": suppression.value_hash[:12], "reason": suppression.reason})
    suppression.delete()


def suppressions_of(*, fetched_by: UserLike, network: Network) -> QuerySet[Suppression]:
    """The suppression list of a network ``fetched_by`` plans (hashes only), newest first."""
    if not networks_planned_by(fetched_by).filter(pk=network.pk).exists():
        return Suppression.objects.none()
    return Suppression.objects.filter(network=network).order_by("-created_at", "-id")
