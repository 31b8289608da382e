"""Dates in a message that end before it is sent (issue 19, defect 4): an offer whose text says
"until 24 December" sent in January, an event dated before the send.

Warnings, never refusals — a letter may well be dated a few days before it is posted. Two sources:

* a **date slot** whose value is before the send date;
* an **offer's end written in its text** (a price slot's conditions, or a text slot): only the plain
  phrases "jusqu'au 24 décembre", "au 24 décembre", "until 24 December", "until December 24",
  "jusqu'au 24/12", each with an optional year. Without a year, the occurrence nearest the send
  date is meant (24 December before a send on 15 January is the one three weeks earlier). Anything
  else is left alone: a warning must not cry wolf.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from templates_lib.slots import DATE, LONG_TEXT, PRICE, RICH_TEXT, SHORT_TEXT, SlotDefinition

MONTHS = {
    # French
    "janvier": 1, "février": 2, "fevrier": 2, "mars": 3, "avril": 4, "mai": 5, "juin": 6, "juillet": 7,
    "août": 8, "aout": 8, "septembre": 9, "octobre": 10, "novembre": 11, "décembre": 12, "decembre": 12,
    # English
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7, "august": 8,
    "september": 9, "october": 10, "november": 11, "december": 12,
}
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_UNTIL = r"(?:jusqu['’]\s?(?:au|à\s+la\s+date\s+du|à)|\bau|\buntil|\btill|\bthrough|\bvalid\s+to)"
_DAY = r"(?P<day>[0-3]?\d)(?:er|st|nd|rd|th)?"
_YEAR = r"(?:,?\s+(?P<year>20\d\d))?"
PATTERNS = (
    # jusqu'au 24 décembre (2026) · until 24 December (2026)
    re.compile(_UNTIL + r"\s+(?:(?:le|the)\s+)?" + _DAY + r"\s+(?P<month>" + _MONTH + r")\b" + _YEAR, re.IGNORECASE),
    # until December 24(th)(, 2026)
    re.compile(_UNTIL + r"\s+(?P<month>" + _MONTH + r")\s+" + _DAY + r"\b" + _YEAR, re.IGNORECASE),
    # jusqu'au 24/12(/2026) — day first, French only
    re.compile(r"jusqu['’]\s?au\s+(?P<day>[0-3]?\d)[/.](?P<monthnum>[01]?\d)(?:[/.](?P<year>20\d\d))?\b",
               re.IGNORECASE),
)


@dataclass(frozen=True)
class DateWarning:
    slot: str  # the slot's name
    label: str  # the slot's label
    day: date
    send_date: date
    quoted: str = ""  # the words the date was read from, for an offer's end written in its text


def _nearest(day: int, month: int, send_date: date) -> date | None:
    """The (day, month) nearest ``send_date``: of its year, the year before or the year after."""
    found = []
    for year in (send_date.year - 1, send_date.year, send_date.year + 1):
        try:
            found.append(date(year, month, day))
        except ValueError:
            continue
    return min(found, key=lambda candidate: abs((candidate - send_date).days)) if found else None


def end_dates_in(text: str, *, send_date: date) -> list[tuple[date, str]]:
    """The end dates written in ``text`` as the plain phrases above, with the words they were read from."""
    found: list[tuple[date, str]] = []
    for pattern in PATTERNS:
        for match in pattern.finditer(text):
            parts = match.groupdict()
            month = MONTHS[parts["month"].lower()] if parts.get("month") else int(parts["monthnum"])
            day = int(parts["day"])
            if not (1 <= month <= 12 and 1 <= day <= 31):
                continue
            if parts.get("year"):
                try:
                    when = date(int(parts["year"]), month, day)
                except ValueError:
                    continue
            else:
                when = _nearest(day, month, send_date)
            if when is not None and all(when != seen for seen, _words in found):
                found.append((when, match.group(0).strip()))
    return found


def _plain_text(definition: SlotDefinition, value: object) -> str:
    if definition.type == PRICE and isinstance(value, Mapping):
        return str(value.get("conditions") or "")
    if definition.type == RICH_TEXT:
        return html.unescape(re.sub(r"<[^>]+>", " ", str(value)))
    if definition.type in (SHORT_TEXT, LONG_TEXT):
        return str(value)
    return ""


def slot_date_warnings(definitions: Iterable[SlotDefinition], values: Mapping[str, object], *,
                       send_date: date | None) -> list[DateWarning]:
    """The slots whose date — a date slot's value, or an end written in an offer's or a text's
    words — falls before ``send_date``."""
    if send_date is None:
        return []
    warnings: list[DateWarning] = []
    for definition in definitions:
        value = values.get(definition.name)
        if value in (None, ""):
            continue
        if definition.type == DATE:
            try:
                day = value if isinstance(value, date) else date.fromisoformat(str(value))
            except ValueError:
                continue
            if day < send_date:
                warnings.append(DateWarning(definition.name, definition.label, day, send_date))
            continue
        for day, words in end_dates_in(_plain_text(definition, value), send_date=send_date):
            if day < send_date:
                warnings.append(DateWarning(definition.name, definition.label, day, send_date, words))
    return warnings
