"""Money as people read it: the network's currency, formatted by Babel in the reader's language —
"118,65 €" in French, "€118.65" in English. Every page shows amounts through here (the template
filter ``money``, in ``local_stores/templatetags/money.py``); files and the API keep plain decimal
figures.

The currency is the one of the network being served: a request of one of its people
(``local_stores.middleware.NetworkLocaleMiddleware``) or a task working for it
(``local_stores.locale.network_locale``) sets it with ``currency_override``; otherwise it is
``settings.RELAIS_CURRENCY``, euros by default.

This module imports nothing of the project: every app may use it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal, InvalidOperation

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency
from django.conf import settings
from django.utils.translation import get_language, to_locale

#: What pages show for an amount that does not exist (nothing to count).
NONE = "—"


#: The currency of the network being served (None: the installation's default). A context
#: variable: each thread, and each asyncio task, has its own.
_active_currency: ContextVar[str | None] = ContextVar("relais_active_currency", default=None)

_ISO_4217 = re.compile(r"[A-Z]{3}")


def default_currency() -> str:
    """The installation's currency: ``settings.RELAIS_CURRENCY``, else euros."""
    return getattr(settings, "RELAIS_CURRENCY", "EUR") or "EUR"


def currency() -> str:
    """The ISO 4217 code of the amounts shown now: the served network's, else the installation's."""
    return _active_currency.get() or default_currency()


def currency_activate(code: str | None) -> None:
    """Amounts in ``code`` from now on, without an end: only inside a ``currency_override`` block
    (the request's, opened by the middleware), whose end puts the previous currency back."""
    code = code.strip().upper() if isinstance(code, str) else ""
    _active_currency.set(code if _ISO_4217.fullmatch(code) else None)


@contextmanager
def currency_override(code: str | None) -> Iterator[str]:
    """Within the block, amounts are in ``code`` (three capital letters, e.g. "CHF"); None or an
    ill-formed code: the installation's currency. The previous currency comes back at the end of
    the block, whatever happens in it."""
    code = code.strip().upper() if isinstance(code, str) else ""
    token = _active_currency.set(code if _ISO_4217.fullmatch(code) else None)
    try:
        yield currency()
    finally:
        _active_currency.reset(token)


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
