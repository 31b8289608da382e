"""Reading an import's CSV file, shared by the customers' and the purchases' imports: the file's
decoding (UTF-8, with or without BOM), its dialect (',' or ';'), its header checked against the
allowed and required columns, and the cells both imports parse the same way (dates, amounts, NUL
characters). A problem with the file as a whole is an ``ImportFileError``; one with a row, a
``RowError``."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import IO

from django.utils.translation import gettext as _


@dataclass
class RowError:
    line: int
    field: str
    reason: str
    value: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "field": self.field, "reason": self.reason, "value": self.value[:80]}


class ImportFileError(ValueError):
    """The file as a whole cannot be read (encoding, missing or unknown columns)."""


def parse_date(raw: str) -> date:
    """A date as ISO or French spreadsheets write it; ValueError for anything else (a year of
    twenty digits included: ``date`` raises OverflowError for it)."""
    try:
        if "/" in raw:  # 31/12/2025, as French spreadsheets write it
            day, month, year = raw.split("/")
            return date(int(year), int(month), int(day))
        return date.fromisoformat(raw)
    except OverflowError as error:
        raise ValueError(str(error)) from error


def nul_cells(line: int, row: dict[str, str]) -> list[RowError]:
    """The row's cells holding a NUL character, each as an error. PostgreSQL stores no NUL: one in a
    cell would fail the whole file instead of its row."""
    return [RowError(line, name, _("%(label)s: the text contains control characters.") % {"label": name},
                     value.replace("\x00", "").strip())
            for name, value in row.items() if name and isinstance(value, str) and "\x00" in value]


def parse_amount(raw: str, *, negative: bool = False) -> Decimal:
    """An amount written 1250.50, 1 250,50 or -12.90 (``negative``: a refund), to the cent;
    InvalidOperation for anything else (and for 10 billion or more)."""
    amount = Decimal(raw.replace(",", ".").replace(" ", "").replace("\u00a0", ""))
    if not amount.is_finite() or abs(amount) >= Decimal("1e10") or (amount < 0 and not negative):
        raise InvalidOperation
    return amount.quantize(Decimal("0.01"))


def open_csv(
    stream: IO[bytes], columns: tuple[str, ...], required: tuple[str, ...], *, needs_email_or_mobile: bool = False,
    allow_unknown: bool = False,
) -> tuple[csv.DictReader, list[str]]:
    """A DictReader over the file (UTF-8, with or without BOM; ',' or ';' separated) whose header
    names ``required`` columns and no others than ``columns`` (and, ``needs_email_or_mobile``, an
    ``email`` or a ``mobile`` column: a customer file). ``allow_unknown``: other columns are let
    through (the caller reports and ignores them: the structure import)."""
    try:
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
        header_line = text.readline()
    except UnicodeDecodeError as error:
        raise ImportFileError(_("The file is not UTF-8 text: save it as “CSV UTF-8”.")) from error
    if not header_line.strip():
        raise ImportFileError(_("The file is empty."))
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    header = [name.strip().lower() for name in next(csv.reader([header_line], delimiter=delimiter))]
    unknown = [name for name in header if name not in columns]
    if unknown and not allow_unknown:
        raise ImportFileError(
            _("Unknown column(s): %(unknown)s. Allowed columns: %(allowed)s.")
            % {"unknown": ", ".join(unknown), "allowed": ", ".join(columns)}
        )
    missing = [name for name in required if name not in header]
    if missing:
        raise ImportFileError(_("Missing required column(s): %(missing)s.") % {"missing": ", ".join(missing)})
    if needs_email_or_mobile and "email" not in header and "mobile" not in header:
        raise ImportFileError(_("The file needs an “email” or a “mobile” column."))
    duplicated = {name for name in header if header.count(name) > 1}
    if duplicated:
        raise ImportFileError(
            _("Column(s) appear twice: %(names)s.") % {"names": ", ".join(sorted(duplicated))}
        )
    return csv.DictReader(text, fieldnames=header, delimiter=delimiter, restval=""), header
