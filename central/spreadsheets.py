"""CSV and spreadsheet exports, streamed row by row (shared by the customers', budgets', conflicts',
print runs', approvals' and reports' exports)."""

import csv
import re
from collections.abc import Iterator

_PHONE = re.compile(r"^\+\d{6,15}$")  # a validated E.164 number is no formula


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterator[list]) -> Iterator[str]:
    """Each row as one CSV line, for a streamed response; the first (the header) after a UTF-8
    byte order mark, so that spreadsheet programs read the accents right."""
    writer = csv.writer(_Echo())
    for number, row in enumerate(rows):
        yield ("\ufeff" if number == 0 else "") + writer.writerow(row)


def spreadsheet_safe(value: object) -> object:
    """Neutralise CSV formula injection: a cell starting with = + - @ is read as text."""
    if isinstance(value, str) and value[:1] in {"=", "+", "-", "@", "\t", "\r"} and not _PHONE.match(value):
        return "'" + value
    return value


def rows_xlsx(title: str, rows: Iterator[list]) -> bytes:
    """The rows (the header first) as an Excel workbook of one sheet (openpyxl, write-only)."""
    import io

    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title[:31])
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
