"""Purchase CSV import: what the CRM says customers bought, for the campaigns' attributed revenue.

Like the customer import (``central.customers.importing``, whose reading of the file and staging it
shares): each row is checked in Python, the good ones go into a temporary staging table, the rows
whose customer is unknown are reported, and one ``INSERT … SELECT … ON CONFLICT`` records the rest,
keyed by the network and the purchase's id — so importing a file twice, or a corrected file, records
each purchase once (a corrected row updates it). A file without ``purchase_id`` keys each row by a
digest of its customer, branch, date and amount (and its rank among identical rows of the file).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date, datetime
from decimal import InvalidOperation

from django.db import connection
from django.utils.translation import gettext as _

from central.customers.csv_files import RowError, nul_cells, parse_amount, parse_date
from central.customers.importing import ImportResult, stage_rows

COLUMNS = ("purchase_id", "customer_external_id", "branch_code", "purchased_on", "amount")
REQUIRED_COLUMNS = ("customer_external_id", "purchased_on", "amount")
STAGE = "relais_purchase_stage"
STAGE_COLUMNS = (
    ("line", "integer"),
    ("key", "varchar(64)"),
    ("external_id", "varchar(64)"),
    ("branch_id", "bigint"),
    ("purchased_on", "date"),
    ("amount", "numeric(12,2)"),
)
#: Purchases older than this are not a campaign's business.
EARLIEST = date(2000, 1, 1)


class PurchaseRowValidator:
    """Turns one CSV row into a staging tuple, or into the list of its errors."""

    def __init__(self, *, branch_ids: dict[str, int], today: date) -> None:
        self.branch_ids = branch_ids
        self.today = today
        self.seen: dict[tuple, int] = {}
        ops = connection.ops
        self._date = ops.adapt_datefield_value
        self._decimal = ops.adapt_decimalfield_value

    def validate(self, line: int, row: dict[str, str]) -> tuple[tuple | None, list[RowError]]:
        errors: list[RowError] = []
        get = row.get

        def fail(name: str, reason: str) -> None:
            errors.append(RowError(line, name, reason, (get(name) or "").strip()))

        if None in row:
            errors.append(RowError(line, "", _("The row has more cells than the header has columns.")))
        if nul := nul_cells(line, row):
            return None, [*errors, *nul]
        purchase_id = (get("purchase_id") or "").strip()
        if len(purchase_id) > 64:
            fail("purchase_id", _("The purchase id is longer than 64 characters."))
        elif purchase_id.startswith("#"):
            fail("purchase_id", _("A purchase id does not begin with “#”."))
        external_id = (get("customer_external_id") or "").strip()
        if not external_id:
            fail("customer_external_id", _("The customer's CRM id is required."))
        elif len(external_id) > 64:
            fail("customer_external_id", _("The CRM id is longer than 64 characters."))
        branch_code = (get("branch_code") or "").strip()
        branch_id = self.branch_ids.get(branch_code) if branch_code else None
        if branch_code and branch_id is None:
            fail("branch_code", _("Unknown branch: no branch of this network has this code."))
        purchased_on = None
        raw = (get("purchased_on") or "").strip()
        if not raw:
            fail("purchased_on", _("The date of the purchase is required."))
        else:
            try:
                purchased_on = parse_date(raw)
            except ValueError:
                fail("purchased_on", _("A date is written 2025-12-31 or 31/12/2025."))
            else:
                if purchased_on > self.today:
                    fail("purchased_on", _("A purchase cannot be in the future."))
                elif purchased_on < EARLIEST:
                    fail("purchased_on", _("A purchase before 2000 is not imported."))
        amount = None
        raw = (get("amount") or "").strip()
        if not raw:
            fail("amount", _("The amount is required."))
        else:
            try:
                amount = parse_amount(raw, negative=True)
            except InvalidOperation:
                fail("amount", _("An amount is a number such as 49.90 (negative for a refund)."))
        if errors:
            return None, errors
        if not purchase_id:  # the same row twice in a file is two purchases; the same file twice is not
            identity = (external_id, branch_code, purchased_on, amount)
            rank = self.seen[identity] = self.seen.get(identity, 0) + 1
            digest = hashlib.sha256("\x1f".join(map(str, (*identity, rank))).encode()).hexdigest()
            purchase_id = "#" + digest[:63]
        return (line, purchase_id, external_id, branch_id, self._date(purchased_on),
                self._decimal(amount, 12, 2)), []


def load(
    *, network_id: int, rows: Iterator[tuple[int, dict[str, str]]], validator: PurchaseRowValidator,
    import_id: int | None, now: datetime, error_limit: int,
) -> ImportResult:
    """Validate and record ``rows`` (line number, row) in the current transaction. ``rows_created``:
    purchases new to Relais; ``rows_updated``: purchases it had already (the same id)."""
    result = ImportResult()
    first_line_of: dict[str, int] = {}
    duplicate_lines: dict[str, list[int]] = {}

    def report(error: RowError) -> None:
        if len(result.errors) < error_limit:
            result.errors.append(error)

    def good_rows() -> Iterator[tuple]:
        for line, row in rows:
            result.rows_total += 1
            staged, errors = validator.validate(line, row)
            if errors:
                result.rows_rejected += 1
                for error in errors:
                    report(error)
                continue
            first = first_line_of.setdefault(staged[1], line)
            if first != line:
                duplicate_lines.setdefault(staged[1], [first]).append(line)
            yield staged

    distinct = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
    params = {"network": network_id, "now": connection.ops.adapt_datetimefield_value(now), "import": import_id}
    column_defs = ", ".join(f"{name} {sql_type}" for name, sql_type in STAGE_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
        cursor.execute(f"CREATE TEMPORARY TABLE {STAGE} ({column_defs})")
        stage_rows(cursor, good_rows(), STAGE, STAGE_COLUMNS)
        # A purchase id on several lines: none of them is recorded, each is reported.
        if duplicate_lines:
            cursor.executemany(f"DELETE FROM {STAGE} WHERE key = %s", [(key,) for key in duplicate_lines])  # noqa: S608
            for key, lines in duplicate_lines.items():
                for line in lines:
                    result.rows_rejected += 1
                    others = ", ".join(str(other) for other in lines if other != line)
                    report(RowError(line, "purchase_id", _(
                        "This purchase id also appears on line(s) %(lines)s of the file: none of them was "
                        "imported.") % {"lines": others}, key))
        # A customer Relais does not know (import the customers first): reported, not recorded.
        cursor.execute(
            f"SELECT s.line, s.external_id FROM {STAGE} s WHERE NOT EXISTS (SELECT 1 FROM central_customer c "  # noqa: S608
            f"WHERE c.network_id = %(network)s AND c.external_id = s.external_id) ORDER BY s.line", params)
        unknown = cursor.fetchall()
        for line, external_id in unknown:
            result.rows_rejected += 1
            report(RowError(line, "customer_external_id",
                            _("No customer of this network has this CRM id: import the customers first."), external_id))
        if unknown:
            cursor.execute(f"DELETE FROM {STAGE} WHERE NOT EXISTS (SELECT 1 FROM central_customer c "  # noqa: S608
                           f"WHERE c.network_id = %(network)s AND c.external_id = {STAGE}.external_id)", params)
        cursor.execute(f"SELECT COUNT(*) FROM {STAGE}")  # noqa: S608
        staged = cursor.fetchone()[0]
        cursor.execute(f"SELECT COUNT(*) FROM {STAGE} s JOIN central_purchase p "  # noqa: S608
                       f"ON p.network_id = %(network)s AND p.key = s.key", params)
        result.rows_updated = cursor.fetchone()[0]
        result.rows_created = staged - result.rows_updated
        cursor.execute(
            f"""INSERT INTO central_purchase (network_id, key, customer_id, branch_id, purchased_on, amount,
                    customer_import_id, recorded_at)
                SELECT %(network)s, s.key, c.id, s.branch_id, s.purchased_on, s.amount, %(import)s, %(now)s
                FROM {STAGE} s JOIN central_customer c ON c.network_id = %(network)s AND c.external_id = s.external_id
                WHERE true
                ON CONFLICT (network_id, key) DO UPDATE SET customer_id = excluded.customer_id,
                    branch_id = excluded.branch_id, purchased_on = excluded.purchased_on, amount = excluded.amount,
                    customer_import_id = excluded.customer_import_id, recorded_at = excluded.recorded_at
                WHERE central_purchase.customer_id <> excluded.customer_id
                    OR central_purchase.purchased_on <> excluded.purchased_on
                    OR central_purchase.amount <> excluded.amount
                    OR central_purchase.branch_id {distinct} excluded.branch_id""",  # noqa: S608
            params)
        cursor.execute(f"DROP TABLE {STAGE}")
    result.errors.sort(key=lambda error: error.line)
    return result
