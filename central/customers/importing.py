"""Customer CSV import: validation of each row, then a set-based load.

Reading and checking a row is Python (one pass over the file, no query per row). Loading is SQL:
the good rows go into a temporary staging table (COPY on PostgreSQL, batched inserts on SQLite),
then one ``INSERT … SELECT … ON CONFLICT`` upserts them by (network, external id), and one more
statement writes the consent history of the rows whose consent changed. The whole load is one
transaction: a file is imported entirely (its good rows) or not at all.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from central.channels import registry as channels
from central.channels.sms import normalise_mobile  # noqa: F401 (the SMS channel's address normaliser, re-exported)
from central.customers import checks, csv_files
from central.customers.columns import COLUMNS, REQUIRED_COLUMNS, SYNONYMS
from central.customers.consent import (
    import_consent_assignments,
    import_consent_history_sql,
    import_consent_values_sql,
    import_stale_consents_sql,
)
from central.customers.csv_files import (  # noqa: F401 (ImportFileError: re-exported, central.customers.services reads it here)
    ImportFileError,
    RowError,
    nul_cells,
)
from local_stores.identifiers import new_public_id

STAGE_COLUMNS = (
    ("line", "integer"),
    ("external_id", "varchar(64)"),
    ("public_id", "varchar(24)"),
    ("branch_id", "bigint"),
    ("civility", "varchar(3)"),
    ("first_name", "varchar(100)"),
    ("last_name", "varchar(100)"),
    ("email", "varchar(254)"),
    ("mobile", "varchar(20)"),
    ("address_line1", "varchar(200)"),
    ("postal_code", "varchar(16)"),
    ("city", "varchar(100)"),
    ("country", "varchar(2)"),
    ("segment", "varchar(32)"),
    ("rfm_recency", "smallint"),
    ("rfm_frequency", "smallint"),
    ("rfm_monetary", "smallint"),
    ("interests", "varchar(500)"),
    ("last_purchase_on", "date"),
    ("lifetime_value", "numeric(12,2)"),
    ("preferred_channel", "varchar(8)"),
    *(column for channel in channels.codes()
      for column in ((f"consent_{channel}", "varchar(8)"), (f"consent_{channel}_at", "timestamp with time zone"))),
    ("consent_source", "varchar(120)"),
    ("objection", "varchar(3)"),
    ("objection_at", "timestamp with time zone"),
)

#: The checks of each field are shared with the customers created by hand (central/customers/checks.py).
_LIMITS = checks.LIMITS
_CONSENT_NAMES = tuple(f"consent_{channel}" for channel in channels.codes())


@dataclass
class ImportResult:
    rows_total: int = 0
    rows_created: int = 0
    rows_updated: int = 0
    rows_rejected: int = 0
    errors: list[RowError] = field(default_factory=list)


def open_csv(
    stream: IO[bytes], columns: tuple[str, ...] = COLUMNS, required: tuple[str, ...] = REQUIRED_COLUMNS, *,
    encoding: str = "", mapping: dict[str, str] | Callable[[list[str]], dict[str, str]] | None = None,
) -> tuple[csv.DictReader, list[str]]:
    """A DictReader over the file (``csv_files.open_csv``: ``encoding`` or detected) whose header,
    renamed by ``mapping`` then the CRM synonyms of a customer file, names ``required`` columns and
    no others than ``columns`` (a customer file's by default, which also needs an e-mail or a mobile)."""
    return csv_files.open_csv(stream, columns, required, needs_email_or_mobile=columns is COLUMNS,
                              encoding=encoding, mapping=mapping, synonyms=SYNONYMS if columns is COLUMNS else None)


#: A row's cell by column name (``row.get``), and how a check reports a column's error.
_Get = Callable[[str], "str | None"]
_Fail = Callable[[str, str], None]


class RowValidator:
    """Turns one CSV row into a staging tuple, or into the list of its errors."""

    def __init__(self, *, branch_ids: dict[str, int], default_source: str, now: datetime) -> None:
        self.branch_ids = branch_ids
        self.default_source = default_source
        self.now = now
        self.tz = timezone.get_current_timezone()
        ops = connection.ops
        self._dt = ops.adapt_datetimefield_value
        self._date = ops.adapt_datefield_value
        self._decimal = ops.adapt_decimalfield_value

    def validate(self, line: int, row: dict[str, str]) -> tuple[tuple | None, list[RowError]]:
        """The row's checks by column group, in the file's order; the staging tuple when all pass."""
        errors: list[RowError] = []
        get = row.get

        def fail(name: str, reason: str) -> None:
            errors.append(RowError(line, name, reason, (get(name) or "").strip()))

        if None in row:  # more cells than columns
            errors.append(RowError(line, "", _("The row has more cells than the header has columns.")))
        if nul := nul_cells(line, row):
            return None, [*errors, *nul]
        external_id, branch_id = self._identity(get, fail)
        email, mobile = self._contact(get, fail)
        texts = self._texts(get, fail)
        civility, country = self._civility_and_country(get, fail)
        scores = self._scores(get, fail)
        interests = self._interests(get, fail)
        last_purchase, lifetime_value, preferred = self._purchases(get, fail)
        consents = self._consents(get, fail)
        objection, objection_at = self._objection(get, fail)
        if errors:
            return None, errors
        return (  # in STAGE_COLUMNS' order
            line, external_id, new_public_id("cus"), branch_id, civility,
            texts["first_name"], texts["last_name"], email, mobile,
            texts["address_line1"], texts["postal_code"], texts["city"], country, texts["segment"],
            *scores, interests, last_purchase, lifetime_value, preferred,
            *consents, texts["consent_source"] or self.default_source,
            objection, self._dt(objection_at or self.now) if objection == "yes" else None,
        ), []

    def _identity(self, get: _Get, fail: _Fail) -> tuple[str, int | None]:
        """The CRM id and the branch's id."""
        external_id = (get("external_id") or "").strip()
        try:
            checks.external_id(external_id)
        except checks.Invalid as error:
            fail("external_id", str(error))
        branch_code = (get("branch_code") or "").strip()
        branch_id = self.branch_ids.get(branch_code)
        if not branch_code:
            fail("branch_code", _("The branch code is required."))
        elif branch_id is None:
            fail("branch_code", _("Unknown branch: no active branch of this network has this code."))
        return external_id, branch_id

    # Each check is called directly, in a try (free in Python 3.11 when nothing is raised): this is
    # the per-row path of a million-line file.
    def _contact(self, get: _Get, fail: _Fail) -> tuple[str, str]:
        """The e-mail address and the mobile number (normalised), one of them at least."""
        raw_email, raw_mobile = get("email") or "", get("mobile") or ""
        email = mobile = ""
        if not raw_email.strip() and not raw_mobile.strip():
            try:
                checks.contact_required("", "")
            except checks.Invalid as error:
                fail("email", str(error))
        try:
            email = checks.email(raw_email)
        except checks.Invalid as error:
            fail("email", str(error))
        try:
            mobile = checks.mobile(raw_mobile)
        except checks.Invalid as error:
            fail("mobile", str(error))
        return email, mobile

    def _texts(self, get: _Get, fail: _Fail) -> dict[str, str]:
        """The free texts (names, address, segment, consent source), within their lengths."""
        texts = {}
        text = checks.text
        for name, limit in _LIMITS.items():
            try:
                texts[name] = text(get(name), limit)
            except checks.Invalid as error:
                fail(name, str(error))
        return texts

    def _civility_and_country(self, get: _Get, fail: _Fail) -> tuple[str | None, str]:
        civility = country = ""
        try:
            civility = checks.civility(get("civility"))
        except checks.Invalid as error:
            fail("civility", str(error))
        try:
            country = checks.country(get("country"))
        except checks.Invalid as error:
            fail("country", str(error))
        return civility, country

    def _scores(self, get: _Get, fail: _Fail) -> list[int | None]:
        """The three RFM scores, each 1 to 5 or none."""
        scores: list[int | None] = []
        for name in ("rfm_recency", "rfm_frequency", "rfm_monetary"):
            try:
                scores.append(checks.score(get(name)))
            except checks.Invalid as error:
                fail(name, str(error))
                scores.append(None)
        return scores

    def _interests(self, get: _Get, fail: _Fail) -> str:
        """The interest tags as ",tag,tag," (deduplicated, in the file's order), or empty."""
        try:
            return checks.interests(get("interests"))
        except checks.Invalid as error:
            fail("interests", str(error))
            return ""

    def _purchases(self, get: _Get, fail: _Fail) -> tuple[object, object, str]:
        """The last purchase's date and the lifetime value (adapted for the database), the
        preferred channel."""
        last_purchase = lifetime_value = None
        preferred = ""
        try:
            last_purchase = checks.day(get("last_purchase_date"))
        except checks.Invalid as error:
            fail("last_purchase_date", str(error))
        try:
            lifetime_value = checks.amount(get("lifetime_value"))
        except checks.Invalid as error:
            fail("lifetime_value", str(error))
        try:
            preferred = checks.preferred_channel(get("preferred_channel"))
        except checks.Invalid as error:
            fail("preferred_channel", str(error))
        return (None if last_purchase is None else self._date(last_purchase),
                None if lifetime_value is None else self._decimal(lifetime_value, 12, 2), preferred)

    def _consents(self, get: _Get, fail: _Fail) -> list[object]:
        """Each channel's consent and its date (adapted for the database), in the registry's order."""
        consents: list[object] = []
        for name in _CONSENT_NAMES:
            status, at = "", None
            try:
                status = checks.consent_status(get(name))
            except checks.Invalid as error:
                fail(name, str(error))
            if get(f"{name}_date"):
                try:
                    at = checks.consent_date(get(f"{name}_date"), tz=self.tz, now=self.now)
                except checks.Invalid as error:
                    fail(f"{name}_date", str(error))
            consents.append(status)
            # undated: NULL here (the load dates it from the import; an undated consent never
            # undoes a withdrawal made through Relais: see consent.import_stale_consents_sql)
            consents.append(self._dt(at) if status and at else None)
        return consents

    def _objection(self, get: _Get, fail: _Fail) -> tuple[str, datetime | None]:
        """The objection (yes, no or empty) and its date."""
        objection, objection_at = "", None
        try:
            objection = checks.objection(get("objection"))
        except checks.Invalid as error:
            fail("objection", str(error))
        try:
            objection_at = checks.objection_date(get("objection_date"), tz=self.tz)
        except checks.Invalid as error:
            fail("objection_date", str(error))
        return objection, objection_at


def stage_rows(
    cursor, rows: Iterable[tuple], table: str = "relais_customer_stage", columns=STAGE_COLUMNS
) -> None:
    """Write ``rows`` into the temporary ``table`` (of ``columns``): COPY on PostgreSQL, batched
    inserts elsewhere."""
    names = ", ".join(name for name, _type in columns)
    if connection.vendor == "postgresql":
        with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    placeholders = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {table} ({names}) VALUES ({placeholders})"  # noqa: S608 (fixed names)
    batch: list[tuple] = []
    for row in rows:
        batch.append(row)
        if len(batch) == 5000:
            cursor.executemany(sql, batch)
            batch.clear()
    if batch:
        cursor.executemany(sql, batch)


_PROFILE = (
    "branch_id",
    "civility",
    "first_name",
    "last_name",
    "email",
    "mobile",
    "address_line1",
    "postal_code",
    "city",
    "country",
    "segment",
    "rfm_recency",
    "rfm_frequency",
    "rfm_monetary",
    "interests",
    "last_purchase_on",
    "lifetime_value",
    "preferred_channel",
)


#: The customer's consent columns, in the registry's order: each channel's, its date and its source.
_CONSENT_COLUMNS = ", ".join(f"consent_{channel}, consent_{channel}_at, consent_{channel}_source"
                             for channel in channels.codes())


def _update_assignments() -> dict[str, str]:
    """Column → new value of an existing customer, in the upsert's DO UPDATE."""
    return {name: f"excluded.{name}" for name in _PROFILE} | import_consent_assignments()


def _upsert_sql() -> str:
    """One INSERT … SELECT … ON CONFLICT: new customers are inserted, existing ones updated —
    only when something differs, so that re-importing an unchanged file rewrites no row."""
    profile = ", ".join(_PROFILE)
    assignments = _update_assignments()
    distinct = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
    changed = " OR ".join(f"c.{name} {distinct} ({value})" for name, value in assignments.items())
    return f"""
        INSERT INTO central_customer AS c (
            public_id, network_id, external_id, {profile},
            {_CONSENT_COLUMNS},
            objected_at, objection_source, created_at, updated_at)
        SELECT s.public_id, %(network)s, s.external_id, {", ".join("s." + name for name in _PROFILE)},
            {import_consent_values_sql()},
            %(now)s, %(now)s
        FROM relais_customer_stage s WHERE true
        ON CONFLICT (network_id, external_id) DO UPDATE SET
            {", ".join(f"{name} = {value}" for name, value in assignments.items())},
            updated_at = excluded.updated_at
        WHERE {changed}
    """  # noqa: S608 (only fixed column names are interpolated)


def _typed(name: str, sql_type: str) -> str:
    """A parameter with its type spelled out for PostgreSQL, where a NULL in a UNION has none;
    SQLite keeps the plain parameter (its CAST would turn a datetime text into a number)."""
    if connection.vendor == "postgresql":
        return f"CAST(%({name})s AS {sql_type})"
    return f"%({name})s"


def _convert_prospects(cursor, network_id: int) -> int:
    """Prospects (signed up in a branch) whom the file brings with the same e-mail address or
    mobile number become those customers: they take the CRM id, so that the upsert updates them
    instead of creating someone twice. Each prospect takes one row of the file, each row one
    prospect (the first line first). Returns how many were converted."""
    pairs: list[tuple[int, str]] = []
    for column in ("email", "mobile"):
        match = "LOWER(c.email)" if column == "email" else "c.mobile"
        cursor.execute(
            f"SELECT c.id, s.external_id FROM central_customer c JOIN relais_customer_stage s ON s.{column} = {match} "  # noqa: S608
            f"WHERE c.network_id = %s AND c.is_prospect AND s.{column} <> '' AND NOT EXISTS (SELECT 1 FROM "
            f"central_customer o WHERE o.network_id = %s AND o.external_id = s.external_id) ORDER BY s.line, c.id",
            [network_id, network_id])
        pairs += cursor.fetchall()
    taken_ids: set[str] = set()
    converted: dict[int, str] = {}
    for customer_id, external_id in pairs:
        if customer_id not in converted and external_id not in taken_ids:
            converted[customer_id] = external_id
            taken_ids.add(external_id)
    if converted:
        cursor.executemany("UPDATE central_customer SET external_id = %s, is_prospect = %s WHERE id = %s",
                           [(external_id, False, customer_id) for customer_id, external_id in converted.items()])
    return len(converted)


def load(
    *,
    network_id: int,
    rows: Iterator[tuple[int, dict[str, str]]],
    validator: RowValidator,
    import_id: int | None,
    now: datetime,
    error_limit: int,
) -> ImportResult:
    """Validate and load ``rows`` (line number, row) in the current transaction."""
    result = ImportResult()
    duplicate_lines: dict[str, list[int]] = {}
    with connection.cursor() as cursor:
        _create_stage(cursor)
        stage_rows(cursor, _good_rows(rows, validator, result, error_limit, duplicate_lines))
        if duplicate_lines:
            _reject_duplicates(cursor, duplicate_lines, result, error_limit)
        _convert_prospects(cursor, network_id)
        cursor.execute("SELECT COUNT(*) FROM relais_customer_stage")
        staged_count = cursor.fetchone()[0]
        params = {
            "network": network_id,
            "now": connection.ops.adapt_datetimefield_value(now),
            "import": import_id,
        }
        _keep_previous(cursor, params)
        cursor.execute(import_stale_consents_sql())
        cursor.execute("SELECT COUNT(*) FROM relais_customer_prev")
        result.rows_updated = cursor.fetchone()[0]
        result.rows_created = staged_count - result.rows_updated
        cursor.execute(_upsert_sql(), params)
        cursor.execute(import_consent_history_sql(now=_typed("now", "timestamp with time zone"),
                                                  import_id=_typed("import", "bigint")), params)
        cursor.execute("DROP TABLE relais_customer_stage")
        cursor.execute("DROP TABLE relais_customer_prev")
    result.errors.sort(key=lambda error: error.line)
    return result


def _good_rows(
    rows: Iterator[tuple[int, dict[str, str]]],
    validator: RowValidator,
    result: ImportResult,
    error_limit: int,
    duplicate_lines: dict[str, list[int]],
) -> Iterator[tuple]:
    """The staging tuples of the valid rows, as the staging reads them; the others are counted and
    reported in ``result`` (up to ``error_limit`` errors). A CRM id met on several lines is noted in
    ``duplicate_lines`` (its first line, then the others)."""
    first_line_of: dict[str, int] = {}
    for line, row in rows:
        result.rows_total += 1
        staged, errors = validator.validate(line, row)
        if errors:
            result.rows_rejected += 1
            if len(result.errors) < error_limit:
                result.errors.extend(errors)
            continue
        external_id = staged[1]
        first = first_line_of.setdefault(external_id, line)
        if first != line:
            duplicate_lines.setdefault(external_id, [first]).append(line)
        yield staged


def _create_stage(cursor) -> None:
    """The temporary staging table (the previous import's tables dropped if left over)."""
    column_defs = ", ".join(f"{name} {sql_type}" for name, sql_type in STAGE_COLUMNS)
    cursor.execute("DROP TABLE IF EXISTS relais_customer_stage")
    cursor.execute("DROP TABLE IF EXISTS relais_customer_prev")
    cursor.execute(f"CREATE TEMPORARY TABLE relais_customer_stage ({column_defs})")


def _reject_duplicates(
    cursor, duplicate_lines: dict[str, list[int]], result: ImportResult, error_limit: int
) -> None:
    """A CRM id present on several lines: none of them is imported, each is reported."""
    cursor.executemany(
        "DELETE FROM relais_customer_stage WHERE external_id = %s",
        [(key,) for key in duplicate_lines],
    )
    for external_id, lines in duplicate_lines.items():
        for line in lines:
            result.rows_rejected += 1
            if len(result.errors) < error_limit:
                others = ", ".join(str(other) for other in lines if other != line)
                reason = _("This CRM id also appears on line(s) %(lines)s of the file: none of them was imported.")
                result.errors.append(RowError(line, "external_id", reason % {"lines": others}, external_id))


def _keep_previous(cursor, params: dict[str, object]) -> None:
    """The consents and objection of the customers the file updates, as they were before it (the
    consent history and the stale consents compare with them)."""
    cursor.execute(
        f"""CREATE TEMPORARY TABLE relais_customer_prev AS
                SELECT c.id, c.external_id, {_CONSENT_COLUMNS.replace("consent_", "c.consent_")},
                       c.objected_at, c.objection_source
                FROM central_customer c JOIN relais_customer_stage s
                  ON c.network_id = %(network)s AND c.external_id = s.external_id""",  # noqa: S608 (the registry's names)
        params,
    )
