"""Money as people read it: the network's currency (``settings.RELAIS_CURRENCY``, euros by
default), formatted by Babel in the reader's language — "118,65 €" in French, "€118.65" in
English. Every page shows amounts through here (the template filter ``money``, in
``local_stores/templatetags/money.py``); files and the API keep plain decimal figures.

This module imports nothing of the project: every app may use it."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency
from django.conf import settings
from django.utils.translation import get_language, to_locale

#: What pages show for an amount that does not exist (nothing to count).
NONE = "—"


def currency() -> str:
    """The ISO 4217 code of the amounts Relais handles (one currency per installation)."""
    return getattr(settings, "RELAIS_CURRENCY", "EUR") or "EUR"


def _locale() -> Locale:
    name = to_locale(get_language() or settings.LANGUAGE_CODE)
    try:
        return Locale.parse(name)
    except (UnknownLocaleError, ValueError):
        return Locale.parse(to_locale(settings.LANGUAGE_CODE))


def money(value, *, precise: bool = False) -> str:
    """``value`` (a Decimal, a number or a decimal string) in the currency, in the active language.
    To the cent; with ``precise`` every significant decimal is kept (unit costs have four: an
    e-mail at 0.0125 shows "0,0125 €", at 0.0800 "0,08 €"). None, "" or a non-number: "—"."""
    if value is None or value == "":
        return NONE
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return NONE
    return format_currency(amount, currency(), locale=_locale(), decimal_quantization=not precise)
