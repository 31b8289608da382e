"""Targeting: the handful of criteria a branch may use (no query builder), checked and turned into
a filter on customers, and who a channel can reach.

Pure functions over querysets: callers pass a queryset that already went through the scoping
selector (``customers_visible_to``), so nothing here widens what a user sees.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db.models import F, Q, QuerySet
from django.utils.translation import gettext as _

from central.models import AUDIENCE_KINDS, TARGETING_CRITERIA, Customer, reachable_condition

#: Bounds of the numeric criteria.
MAX_DAYS = 3650
RFM_RANGE = (3, 15)
_POSTAL_PREFIX = re.compile(r"^[0-9A-Za-z]{1,5}$")
_TAG = re.compile(r"^[\w-]{1,40}$")


def reachable_on(channel: str) -> Q:
    """Customers that ``channel`` may reach: consent granted, no global objection, and an address
    for it (the condition of the audience indexes)."""
    return reachable_condition(channel)


def criteria_clean(criteria: dict[str, object] | None, *, allowed: list[str] | set[str]) -> dict[str, object]:
    """Check a target definition: only ``allowed`` criteria, each with a sensible value. Empty
    values are dropped. ValidationError keyed by criterion otherwise."""
    cleaned: dict[str, object] = {}
    errors: dict[str, list[str]] = {}
    for name, raw in (criteria or {}).items():
        if raw in (None, "", []):
            continue
        if name not in TARGETING_CRITERIA:
            errors.setdefault(name, []).append(_("“%(name)s” is not a targeting criterion.") % {"name": name})
            continue
        if name not in allowed:
            errors.setdefault(name, []).append(
                _("The criterion “%(label)s” is not allowed for this operation.") % {"label": TARGETING_CRITERIA[name]}
            )
            continue
        value = str(raw).strip()
        if name in ("bought_within_days", "min_rfm"):
            low, high = (1, MAX_DAYS) if name == "bought_within_days" else RFM_RANGE
            try:
                number = int(value)
            except ValueError:
                number = None
            if number is None or not low <= number <= high:
                errors.setdefault(name, []).append(
                    _("Enter a whole number from %(low)s to %(high)s.") % {"low": low, "high": high}
                )
                continue
            cleaned[name] = number
        elif name == "postal_code_prefix":
            if not _POSTAL_PREFIX.match(value):
                errors.setdefault(name, []).append(_("Enter the first one to five characters of a postal code."))
                continue
            cleaned[name] = value.upper()
        elif name == "audience_kind":
            if value not in AUDIENCE_KINDS:
                errors.setdefault(name, []).append(_("Choose customers or prospects (or leave empty for both)."))
                continue
            cleaned[name] = value
        elif name == "interest":
            if not _TAG.match(value):
                errors.setdefault(name, []).append(_("Enter one interest, as it appears on customer records."))
                continue
            cleaned[name] = value.lower()
        else:  # segment
            if len(value) > 32:
                errors.setdefault(name, []).append(_("A segment name has at most 32 characters."))
                continue
            cleaned[name] = value
    if errors:
        raise ValidationError(errors)
    return cleaned


def criteria_filter(criteria: dict[str, object], *, today: date) -> Q:
    """The filter of already cleaned criteria (all must hold)."""
    condition = Q()
    if "segment" in criteria:
        condition &= Q(segment=criteria["segment"])
    if "interest" in criteria:
        condition &= Q(interests__contains=f",{criteria['interest']},")
    if "bought_within_days" in criteria:
        condition &= Q(last_purchase_on__gte=today - timedelta(days=int(criteria["bought_within_days"])))
    if "postal_code_prefix" in criteria:
        condition &= Q(postal_code__startswith=criteria["postal_code_prefix"])
    if "audience_kind" in criteria:
        condition &= Q(is_prospect=criteria["audience_kind"] == "prospects")
    return condition


def apply_criteria(customers: QuerySet[Customer], criteria: dict[str, object], *, today: date) -> QuerySet[Customer]:
    customers = customers.filter(criteria_filter(criteria, today=today))
    if "min_rfm" in criteria:
        customers = customers.alias(
            rfm=F("rfm_recency") + F("rfm_frequency") + F("rfm_monetary")
        ).filter(rfm__gte=criteria["min_rfm"])
    return customers


def criteria_summary(criteria: dict[str, object]) -> list[str]:
    """Readable lines describing a target, e.g. for a proof or the audit trail."""
    lines = []
    for name, value in criteria.items():
        label = TARGETING_CRITERIA.get(name, name)
        lines.append(f"{label}: {value}")
    return lines
