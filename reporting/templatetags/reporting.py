from django import template
from django.utils import formats

register = template.Library()


@register.filter
def percent(value) -> str:
    """A rate (0.1234) as a percentage in the reader's language ("12.3 %", "12,3 %"); "—" for none."""
    if value is None:
        return "—"
    return f"{formats.number_format(value * 100, 1, use_l10n=True)}\u00a0%"
