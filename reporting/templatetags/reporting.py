from django import template
from django.utils import formats

from local_stores.money import money

register = template.Library()


@register.filter
def percent(value) -> str:
    """A rate (0.1234) as a percentage in the reader's language ("12.3 %", "12,3 %"); "—" for none."""
    if value is None:
        return "—"
    return f"{formats.number_format(value * 100, 1, use_l10n=True)}\u00a0%"


def _signed(value, unit: str) -> str:
    """A share (0.125) as a signed figure in hundredths ("+12.5 %", "−3.0 pts"); "—" for none."""
    if value is None:
        return "—"
    sign = "+" if value >= 0 else "\u2212"
    return f"{sign}{formats.number_format(abs(value) * 100, 1, use_l10n=True)}\u00a0{unit}"


@register.filter
def signed_percent(value) -> str:
    """A relative change (0.125) as "+12.5 %" ("−3.0 %" below zero)."""
    return _signed(value, "%")


@register.filter
def points(value) -> str:
    """A difference of two rates (0.05) in percentage points ("+5.0 pts")."""
    return _signed(value, "pts")


@register.filter
def div_amount(total, count) -> str:
    """``total`` shared among ``count`` (an amount per head), to the cent with its currency; "—"
    when nobody."""
    if not count or total is None:
        return "—"
    return money(total / count)
