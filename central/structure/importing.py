"""The structure import's file and row checks: pure functions, no query.

A file names one branch per row (``COLUMNS``). ``rows_check`` turns the rows into the branches to
create or update, and the problems of the others — each with its line, its column and a message —
knowing only what the caller read of the network beforehand (its codes and its regions). The
writes are ``central.structure.services.structure_import``'s.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from typing import IO

from babel import Locale
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from central.customers.csv_files import ImportFileError, RowError, nul_cells, open_csv

COLUMNS = (
    "region", "branch_code", "name", "address_line1", "address_line2", "postal_code", "city", "country",
    "email", "phone", "opening_hours", "manager_email",
)
REQUIRED_COLUMNS = ("region", "branch_code", "name")
#: The import runs within the request (no background task): a file holds this many branches at most.
MAX_ROWS = 2000
#: The longest value each column may hold (the node's fields).
LIMITS = {
    "region": 120, "branch_code": 32, "name": 120, "address_line1": 200, "address_line2": 200, "postal_code": 16,
    "city": 100, "email": 254, "phone": 32, "opening_hours": 2000, "manager_email": 254,
}
#: The node's fields a row sets (the cells of the same name; ``country`` is checked apart).
DETAIL_COLUMNS = ("address_line1", "address_line2", "postal_code", "city", "country", "email", "phone",
                  "opening_hours")
_PHONE = re.compile(r"^\+?[0-9 ().\-/]{6,32}$")
_COUNTRIES = frozenset(code for code in Locale("en").territories if len(code) == 2 and code.isalpha()) - {"ZZ"}

__all__ = ["COLUMNS", "Checked", "CheckedRow", "ImportFileError", "RowError", "file_read", "rows_check"]


@dataclass
class CheckedRow:
    """A good row: the branch to create (``existing`` None) or to update."""

    line: int
    code: str
    name: str
    region: str  # the region's name as written (matched without case)
    details: dict[str, str]
    manager_email: str
    existing: int | None = None  # the branch's database id when its code is already the network's


@dataclass
class Checked:
    rows: list[CheckedRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    rows_total: int = 0
    rejected_lines: set[int] = field(default_factory=set)


def field_column(field: str) -> str:
    """The file's column of a node's field (in a refusal of the model)."""
    return {"code": "branch_code", "__all__": "", "parent": "region"}.get(field, field)


def file_read(stream: IO[bytes]) -> tuple[list[tuple[int, dict[str, str]]], list[RowError]]:
    """The file's rows (line number, cells by column) and its unknown columns, reported on line 1
    and ignored. ImportFileError for a file that cannot be read (encoding, required columns)."""
    reader, header = open_csv(stream, COLUMNS, REQUIRED_COLUMNS, allow_unknown=True)
    unknown = [RowError(1, name, _("Unknown column, ignored. Allowed columns: %(allowed)s.")
                        % {"allowed": ", ".join(COLUMNS)}) for name in header if name not in COLUMNS]
    rows = []
    line = 1
    try:
        for line, row in enumerate(reader, start=2):  # the row's number, as a spreadsheet shows it
            if len(rows) == MAX_ROWS:
                raise ImportFileError(_("The file has more than %(count)d branches: split it into several files.")
                                      % {"count": MAX_ROWS})
            if None not in row and not any((value or "").strip() for value in row.values()):
                continue  # a line of empty cells (";;;")
            rows.append((line, {key: value for key, value in row.items() if key in COLUMNS or key is None}))
    except (UnicodeDecodeError, csv.Error) as error:  # a bad byte far down the file, a giant cell
        raise ImportFileError(_("The file cannot be read after line %(line)d: save it again as CSV (UTF-8).")
                              % {"line": line}) from error
    return rows, unknown


def _email_ok(value: str) -> bool:
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


def _row_errors(line: int, row: dict, cells: dict[str, str]) -> list[RowError]:
    """Every problem of one row taken alone."""
    errors: list[RowError] = []

    def fail(column: str, reason: str) -> None:
        errors.append(RowError(line, column, reason, cells.get(column, "")))

    if None in row:
        errors.append(RowError(line, "", _("The row has more cells than the header has columns.")))
    for column, label in (("region", _("The region is required.")), ("branch_code", _("The branch code is required.")),
                          ("name", _("The name is required."))):
        if not cells.get(column):
            fail(column, label)
    for column, limit in LIMITS.items():
        if len(cells.get(column, "")) > limit:
            fail(column, _("Longer than %(limit)d characters.") % {"limit": limit})
    for column in ("email", "manager_email"):
        if cells.get(column) and not _email_ok(cells[column]):
            fail(column, _("This is not a valid e-mail address."))
    if cells.get("phone") and not _PHONE.match(cells["phone"]):
        fail("phone", _("This is not a valid phone number (digits, spaces and + only, e.g. +33 1 23 45 67 89)."))
    if cells.get("country") and cells["country"].upper() not in _COUNTRIES:
        fail("country", _("The country is a two-letter ISO code such as FR."))
    return errors


def rows_check(
    rows: list[tuple[int, dict[str, str]]], *, codes: dict[str, tuple[str, int]]
) -> Checked:
    """Check each row: required region, code and name; lengths; e-mails, phone, country; NUL
    characters and extra cells; a code once in the file; a code already the network's must be a
    branch's (its row updates it). ``codes``: the network's codes → (kind, database id)."""
    checked = Checked(rows_total=len(rows))
    first_line_of: dict[str, int] = {}
    for line, row in rows:
        if nul := nul_cells(line, row):
            checked.errors.extend(nul)
            checked.rejected_lines.add(line)
            continue
        cells = {column: (row.get(column) or "").strip() for column in COLUMNS}
        cells["opening_hours"] = cells["opening_hours"].replace("\r\n", "\n").replace("\r", "\n")
        errors = _row_errors(line, row, cells)
        code = cells["branch_code"]
        if code and code in first_line_of:
            errors.append(RowError(line, "branch_code", _("This code is already on line %(line)d of the file.")
                                   % {"line": first_line_of[code]}, code))
        elif code:
            first_line_of[code] = line
        kind, existing = codes.get(code, ("", None))
        if existing is not None and kind != "branch":
            errors.append(RowError(line, "branch_code", _("This code is a region's or the head office's, not a "
                                                          "branch's."), code))
        if errors:
            checked.errors.extend(errors)
            checked.rejected_lines.add(line)
            continue
        # an empty cell keeps the branch's value (a new branch: the field's default)
        details = {column: cells[column] for column in DETAIL_COLUMNS if cells[column]}
        if "country" in details:
            details["country"] = details["country"].upper()
        checked.rows.append(CheckedRow(line=line, code=code, name=cells["name"], region=cells["region"],
                                       details=details, manager_email=cells["manager_email"].lower(),
                                       existing=existing))
    return checked
