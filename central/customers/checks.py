"""The checks of a customer's fields, shared by the CSV import (``importing.RowValidator``) and the
customers created or edited by hand (``by_hand``: the form and the API): one function per field,
so that a value refused in a file is refused by the form with the same words.

Each check takes the raw text (``None`` or "" when absent) and returns the value as it is stored,
or raises :class:`Invalid` with the message people read. Pure functions, no query: the import calls
them for each row of a million-line file.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

from central.channels import registry as channels
from central.channels.sms import normalise_mobile
from central.customers.csv_files import parse_amount, parse_date


class Invalid(ValueError):
    """A value that does not pass; ``str(error)`` is the message for the person."""


# Deliberately simple and fast: one "@", no spaces, a dot in the domain, no leading/trailing dot.
_EMAIL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
_TAG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
CONSENT_VALUES = {
    "granted": "granted", "yes": "granted", "oui": "granted", "opt-in": "granted", "1": "granted",
    "denied": "denied", "no": "denied", "non": "denied", "opt-out": "denied", "0": "denied",
    "unknown": "unknown", "": "",
}
YES_NO = {"yes": "yes", "oui": "yes", "1": "yes", "true": "yes", "no": "no", "non": "no", "0": "no", "false": "no",
          "": ""}
CIVILITIES = {"mme": "mme", "madame": "mme", "mrs": "mme", "ms": "mme", "m": "m", "m.": "m", "mr": "m",
              "monsieur": "m", "": ""}
_CHANNELS = {*channels.codes(), ""}
#: The free texts and their longest length (the model's columns).
LIMITS = {
    "first_name": 100,
    "last_name": 100,
    "address_line1": 200,
    "postal_code": 16,
    "city": 100,
    "segment": 32,
    "consent_source": 120,
}


def _date_message() -> str:
    return _("A date is written 2025-12-31 or 31/12/2025.")


def external_id(raw: str | None) -> str:
    """The CRM id: required, 64 characters at most."""
    value = (raw or "").strip()
    if not value:
        raise Invalid(_("The CRM id is required."))
    if len(value) > 64:
        raise Invalid(_("The CRM id is longer than 64 characters."))
    return value


def contact_required(email_value: str, mobile_value: str) -> None:
    """A customer has an e-mail address or a mobile number (reported on ``email``)."""
    if not email_value and not mobile_value:
        raise Invalid(_("An e-mail address or a mobile number is required."))


def email(raw: str | None) -> str:
    """The e-mail address, lower-cased; "" when none."""
    value = (raw or "").strip().lower()
    if value and (len(value) > 254 or not _EMAIL.match(value)):
        raise Invalid(_("This is not a valid e-mail address."))
    return value


def mobile(raw: str | None) -> str:
    """The mobile number in E.164 (the SMS channel's normaliser); "" when none."""
    value = (raw or "").strip()
    if not value:
        return ""
    normalised = normalise_mobile(value)
    if not normalised:
        raise Invalid(_("This is not a valid mobile number (e.g. 06 12 34 56 78 or +33612345678)."))
    return normalised


def text(raw: str | None, limit: int) -> str:
    """A free text, stripped, within ``limit`` characters."""
    value = (raw or "").strip()
    if len(value) > limit:
        raise Invalid(_("Longer than %(limit)d characters.") % {"limit": limit})
    return value


def civility(raw: str | None) -> str:
    value = CIVILITIES.get((raw or "").strip().lower())
    if value is None:
        raise Invalid(_("Civility must be Mme, M or empty."))
    return value


def country(raw: str | None) -> str:
    """A two-letter code, upper-cased; FR when none."""
    value = (raw or "FR").strip().upper() or "FR"
    if len(value) != 2 or not value.isalpha():
        raise Invalid(_("The country is a two-letter code such as FR."))
    return value


def score(raw: str | None) -> int | None:
    """An RFM score: 1 to 5, or none."""
    value = (raw or "").strip()
    if not value:
        return None
    if value.isascii() and value.isdigit() and 1 <= int(value) <= 5:
        return int(value)
    raise Invalid(_("A score is a whole number from 1 to 5."))


def interests(raw: str | None) -> str:
    """The interest tags (separated by commas or |) as ",tag,tag," (deduplicated, in their order), or ""."""
    value = (raw or "").strip().lower()
    if not value:
        return ""
    tags = [tag.strip() for tag in re.split(r"[|,]", value) if tag.strip()]
    bad = [tag for tag in tags if not _TAG.match(tag)]
    if bad:
        raise Invalid(_("Invalid interest tag(s): %(tags)s (letters, digits, - and _).") % {"tags": ", ".join(bad)})
    stored = "," + ",".join(dict.fromkeys(tags)) + "," if tags else ""
    if len(stored) > 500:
        raise Invalid(_("Too many interests (500 characters at most)."))
    return stored


def day(raw: str | None) -> date | None:
    """A date written 2025-12-31 or 31/12/2025, or none."""
    value = (raw or "").strip()
    if not value:
        return None
    try:
        return parse_date(value)
    except ValueError:
        raise Invalid(_date_message()) from None


def amount(raw: str | None) -> Decimal | None:
    """A positive amount such as 1250.50, or none."""
    value = (raw or "").strip()
    if not value:
        return None
    try:
        return parse_amount(value)
    except InvalidOperation:
        raise Invalid(_("An amount is a positive number such as 1250.50.")) from None


def preferred_channel(raw: str | None) -> str:
    value = (raw or "").strip().lower()
    if value not in _CHANNELS:
        raise Invalid(_("The preferred channel is email, sms, post or empty."))
    return value


def consent_status(raw: str | None) -> str:
    """granted, denied or unknown (the file's yes/no/oui/non… too); "" when none."""
    value = CONSENT_VALUES.get((raw or "").strip().lower())
    if value is None:
        raise Invalid(_("Consent is granted, denied, unknown or empty."))
    return value


def moment(raw: str, tz) -> datetime:
    """A date (midnight in ``tz``) or an ISO date and time; ValueError for anything else."""
    if len(raw) == 10 or "/" in raw:
        return datetime.combine(parse_date(raw), time(0, 0), tzinfo=tz)
    value = datetime.fromisoformat(raw)
    return value if value.tzinfo else value.replace(tzinfo=tz)


def consent_date(raw: str | None, *, tz, now: datetime) -> datetime | None:
    """When a consent was given or refused: a date or a date and time, never after ``now``; or none."""
    value = (raw or "").strip()
    if not value:
        return None
    try:
        at = moment(value, tz)
    except ValueError:
        raise Invalid(_date_message()) from None
    if at > now:
        raise Invalid(_("A consent date cannot be in the future."))
    return at


def objection(raw: str | None) -> str:
    """yes, no or ""."""
    value = YES_NO.get((raw or "").strip().lower())
    if value is None:
        raise Invalid(_("Objection is yes, no or empty."))
    return value


def objection_date(raw: str | None, *, tz) -> datetime | None:
    value = (raw or "").strip()
    if not value:
        return None
    try:
        return moment(value, tz)
    except ValueError:
        raise Invalid(_date_message()) from None
