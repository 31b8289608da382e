"""Customer import benchmark: Relais's CSV import against ``executemany``, in the same run.

Target (../shared/targets.md): customer import (CSV or API, upsert by external id) ≥ 50,000
rows/s, with ``executemany`` of the same rows as the baseline measured in the same run, because
absolute timings on a shared 2-core machine are noisy and a ratio is not.

One run:

1. drops and re-creates the benchmark database (its name must contain "bench": this script
   destroys it), migrates it and creates the reference network (bench/generate_network.py);
2. writes the seeded customers CSV, or reuses it from bench/out/ (generation is never timed);
3. times ``central.customers.services.customer_import_load`` on that file, in one transaction including
   its commit: first into an empty table (every row is an insert), then the same file again
   (every row exists: the upsert path);
4. times the baseline: the customer table is truncated, then the same rows are inserted with a
   plain ``INSERT … VALUES`` per row through ``cursor.executemany`` (batches of 10,000, one
   transaction, commit included). The rows are read and validated with the import's own
   ``RowValidator`` *outside* the timed part, so the baseline gets parsing and validation for
   free and writes no consent history: the ratio is conservative for Relais;
5. prints rows/s, the ratios, peak memory, and where the import's time goes: each SQL statement
   (through Django's ``execute_wrapper``), the staging phase (CSV reading, validation and COPY,
   which run interleaved), and the Python part alone (CSV reading and validation, timed while
   the baseline rows are prepared).

Peak memory is the process's peak resident set size during each phase (Linux ``VmHWM``, reset
before each phase through ``/proc/self/clear_refs``; ``ru_maxrss`` elsewhere), which costs
nothing while timing. ``--tracemalloc`` adds an untimed run that reports the peak of the Python
heap, and ``--profile`` an untimed run under cProfile (the .prof file goes to bench/out/).

Usage (from the project root)::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/relais_bench \\
        .venv/bin/python bench/import_benchmark.py --customers 200000
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import resource
import sys
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from urllib.parse import unquote, urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:  # run as ``python bench/…py`` as well as ``python -m bench.…``
    sys.path.insert(0, str(PROJECT_ROOT))

from bench.generate_network import (  # noqa: E402
    DEFAULT_DATABASE_URL,
    OUT_DIR,
    REFERENCE_NOW,
    SEED,
    create_network,
    default_csv_path,
    network_plan,
    setup_django,
    sha256_of,
    write_customers_csv,
)

TARGET_ROWS_PER_SECOND = 50_000
BATCH = 10_000

#: The columns a plain row-by-row INSERT fills, with the values the import would store.
BASELINE_COLUMNS = (
    "public_id",
    "network_id",
    "external_id",
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
    "consent_email",
    "consent_email_at",
    "consent_email_source",
    "consent_sms",
    "consent_sms_at",
    "consent_sms_source",
    "consent_post",
    "consent_post_at",
    "consent_post_source",
    "objected_at",
    "objection_source",
    "created_at",
    "updated_at",
)
BASELINE_SQL = (
    f"INSERT INTO central_customer ({', '.join(BASELINE_COLUMNS)}) "
    f"VALUES ({', '.join(['%s'] * len(BASELINE_COLUMNS))})"
)


# --- database and machine ------------------------------------------------------------------


def recreate_database(url: str, *, allow_any_name: bool = False) -> str:
    """Drop and create the database of ``url``, so that every run starts from the same empty
    state. Refuses a name without "bench" in it: this must never wipe a real database."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = unquote(parts.path.lstrip("/"))
    if parts.scheme not in {"postgres", "postgresql", "pgsql"}:
        raise SystemExit(f"The import benchmark needs PostgreSQL (COPY); DATABASE_URL is {parts.scheme}://…")
    if "bench" not in name and not allow_any_name:
        raise SystemExit(
            f"Refusing to drop database {name!r}: its name must contain 'bench' (or pass --allow-any-db)."
        )
    with psycopg.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=unquote(parts.username or "postgres"),
        password=unquote(parts.password) if parts.password else None,
        dbname="postgres",
        autocommit=True,
    ) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def machine_info() -> dict[str, object]:
    """What the figures depend on, printed with them (the docs quote it)."""
    import django
    import faker
    import psycopg
    from django.db import connection

    info: dict[str, object] = {
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": platform.python_version(),
        "django": django.get_version(),
        "psycopg": psycopg.__version__,
        "faker": faker.VERSION,
    }
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        info["cpu_model"] = next(
            (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?"
        )
    with open("/proc/meminfo", encoding="utf-8") as meminfo:
        total_kb = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
    info["memory_gb"] = round(total_kb / 1024 / 1024, 1)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        info["postgresql"] = cursor.fetchone()[0]
        settings = {}
        for name in (
            "shared_buffers",
            "work_mem",
            "maintenance_work_mem",
            "max_wal_size",
            "synchronous_commit",
            "fsync",
        ):
            cursor.execute(f"SHOW {name}")
            settings[name] = cursor.fetchone()[0]
        info["postgresql_settings"] = settings
    return info


# --- memory ---------------------------------------------------------------------------------


def reset_peak_rss() -> None:
    """Reset the kernel's high-water mark of this process (Linux ≥ 4.0), so that each phase
    reports its own peak rather than the largest one so far."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
    except OSError:
        pass


def peak_rss_mb() -> float:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- timing the import ----------------------------------------------------------------------


def _statement_label(sql: str) -> str:
    text = " ".join(sql.split())
    for needle, label in (
        ('FROM "local_stores_node"', "branch lookup"),
        ("CREATE TEMPORARY TABLE relais_customer_stage", "create staging table"),
        ("CREATE TEMPORARY TABLE relais_customer_prev", "snapshot existing consents (prev)"),
        ("DELETE FROM relais_customer_stage", "remove duplicated CRM ids"),
        ("SELECT COUNT(*)", "counts"),
        ("INSERT INTO central_customer", "upsert customers (INSERT … ON CONFLICT)"),
        ("INSERT INTO central_consentevent", "consent history (INSERT … SELECT)"),
        ("DROP TABLE", "drop temporary tables"),
    ):
        if needle in text:
            return label
    return text[:60]


class StatementTimer:
    """A Django ``execute_wrapper`` that records each statement's label, start and end.

    COPY goes through the raw psycopg cursor and is not seen here: the staging phase is the gap
    between the end of CREATE TEMPORARY TABLE relais_customer_stage and the next statement.
    """

    def __init__(self) -> None:
        self.events: list[tuple[str, float, float]] = []

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.events.append((_statement_label(sql), started, time.perf_counter()))

    def breakdown(self) -> dict[str, float]:
        phases: dict[str, float] = defaultdict(float)
        for index, (label, started, ended) in enumerate(self.events):
            phases[label] += ended - started
            if label == "create staging table" and index + 1 < len(self.events):
                phases["staging: CSV read + validation + COPY"] += self.events[index + 1][1] - ended
        return dict(phases)


@dataclass
class RunResult:
    name: str
    rows: int
    seconds: float
    peak_rss_mb: float
    details: dict[str, object] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def truncate_customers() -> None:
    from django.db import connection

    # CASCADE: the tables that reference customers (consent history, campaign target overrides…)
    # are empty in this throw-away database, and a new one must not break the benchmark again.
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE central_consentevent, central_customer RESTART IDENTITY CASCADE")


def checkpoint() -> None:
    """Flush the previous phase's dirty pages now, untimed, rather than during the next phase."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")


def consent_event_count() -> int:
    from central.models import ConsentEvent

    return ConsentEvent.objects.count()


def run_relais_import(name: str, network, csv_path: Path) -> RunResult:
    """One ``customer_import_load`` of the file in one transaction, its commit included."""
    from django.db import connection, transaction

    from central.customers.services import customer_import_load

    events_before = consent_event_count()
    timer = StatementTimer()
    reset_peak_rss()
    with csv_path.open("rb") as stream, connection.execute_wrapper(timer):
        started = time.perf_counter()
        with transaction.atomic():
            result = customer_import_load(
                network=network, stream=stream, now=REFERENCE_NOW, source="benchmark"
            )
            loaded = time.perf_counter()
        finished = time.perf_counter()
    peak = peak_rss_mb()
    phases = timer.breakdown()
    phases["commit"] = finished - loaded
    phases["other (Python outside the statements)"] = (finished - started) - sum(phases.values())
    return RunResult(
        name=name,
        rows=result.rows_total,
        seconds=finished - started,
        peak_rss_mb=peak,
        details={
            "created": result.rows_created,
            "updated": result.rows_updated,
            "rejected": result.rows_rejected,
            "consent_events_written": consent_event_count() - events_before,
        },
        phases=phases,
    )


def _baseline_row(staged: tuple, names: tuple[str, ...], network_id: int, now) -> tuple:
    """The values the import's INSERT branch stores for a staged row (see _upsert_sql)."""
    s = dict(zip(names, staged, strict=True))
    consents: list[object] = []
    for channel in ("email", "sms", "post"):
        status = s[f"consent_{channel}"]
        consents += [status or "unknown", s[f"consent_{channel}_at"], s["consent_source"] if status else ""]
    return (
        s["public_id"],
        network_id,
        s["external_id"],
        s["branch_id"],
        s["civility"],
        s["first_name"],
        s["last_name"],
        s["email"],
        s["mobile"],
        s["address_line1"],
        s["postal_code"],
        s["city"],
        s["country"],
        s["segment"],
        s["rfm_recency"],
        s["rfm_frequency"],
        s["rfm_monetary"],
        s["interests"],
        s["last_purchase_on"],
        s["lifetime_value"],
        s["preferred_channel"],
        *consents,
        s["objection_at"] if s["objection"] == "yes" else None,
        s["consent_source"] if s["objection"] else "",
        now,
        now,
    )


@dataclass
class PythonCost:
    """The Python side of the import, timed while the baseline rows are prepared."""

    csv_read_seconds: float = 0.0
    validate_seconds: float = 0.0
    rows: int = 0


def baseline_batches(network, csv_path: Path, cost: PythonCost) -> Iterator[list[tuple]]:
    """Batches of baseline rows, read and validated by the import's own code (untimed by the
    caller); the CSV reading and the validation are timed into ``cost`` on the way."""
    from django.db import connection

    from central.customers import importing as customer_import
    from local_stores.models import Node, NodeKind

    branch_ids = dict(
        Node.objects.filter(network=network, kind=NodeKind.BRANCH, is_active=True).values_list("code", "id")
    )
    validator = customer_import.RowValidator(
        branch_ids=branch_ids, default_source="benchmark", now=REFERENCE_NOW
    )
    names = tuple(name for name, _type in customer_import.STAGE_COLUMNS)
    now = connection.ops.adapt_datetimefield_value(REFERENCE_NOW)
    with csv_path.open("rb") as stream:
        reader, _header = customer_import.open_csv(stream)
        lines = enumerate(reader, start=2)
        while True:
            started = time.perf_counter()
            raw = list(islice(lines, BATCH))
            read = time.perf_counter()
            checked = [validator.validate(line, row) for line, row in raw]
            cost.csv_read_seconds += read - started
            cost.validate_seconds += time.perf_counter() - read
            cost.rows += len(raw)
            if not raw:
                return
            rejected = [errors for staged, errors in checked if errors]
            if rejected:
                raise SystemExit(f"The generated file has invalid rows: {rejected[0]}")
            yield [_baseline_row(staged, names, network.pk, now) for staged, _errors in checked]


def run_baseline(network, csv_path: Path) -> tuple[RunResult, PythonCost]:
    """A plain INSERT per row through ``cursor.executemany``, in one transaction."""
    from django.db import connection, transaction

    truncate_customers()
    checkpoint()
    cost = PythonCost()
    insert_seconds = 0.0
    rows = 0
    reset_peak_rss()
    with transaction.atomic():
        with connection.cursor() as cursor:
            for batch in baseline_batches(network, csv_path, cost):
                started = time.perf_counter()
                cursor.executemany(BASELINE_SQL, batch)
                insert_seconds += time.perf_counter() - started
                rows += len(batch)
        commit_started = time.perf_counter()
    commit_seconds = time.perf_counter() - commit_started
    peak = peak_rss_mb()
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM central_customer")
        stored = cursor.fetchone()[0]
    if stored != rows:
        raise SystemExit(f"Baseline stored {stored} rows, expected {rows}")
    result = RunResult(
        name="baseline executemany (INSERT per row)",
        rows=rows,
        seconds=insert_seconds + commit_seconds,
        peak_rss_mb=peak,
        phases={"executemany": insert_seconds, "commit": commit_seconds},
    )
    return result, cost


def public_id_cost(rows: int, sample: int = 20_000) -> float:
    """Seconds that ``new_public_id`` alone costs for ``rows`` rows (the import draws one per row)."""
    from local_stores.identifiers import new_public_id

    started = time.perf_counter()
    for _ in range(sample):
        new_public_id("cus")
    return (time.perf_counter() - started) / sample * rows


def profile_import(network, csv_path: Path, out: Path) -> str:
    """An untimed insert run under cProfile: the top functions by own time."""
    from django.db import transaction

    from central.customers.services import customer_import_load

    truncate_customers()
    checkpoint()
    profiler = cProfile.Profile()
    with csv_path.open("rb") as stream, transaction.atomic():
        profiler.enable()
        customer_import_load(network=network, stream=stream, now=REFERENCE_NOW, source="benchmark")
        profiler.disable()
    profiler.dump_stats(out)
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(18)
    return text.getvalue()


def traced_import(network, csv_path: Path) -> float:
    """An untimed insert run with tracemalloc on: the peak of the Python heap, in MB."""
    from django.db import transaction

    from central.customers.services import customer_import_load

    truncate_customers()
    tracemalloc.start()
    try:
        with csv_path.open("rb") as stream, transaction.atomic():
            customer_import_load(network=network, stream=stream, now=REFERENCE_NOW, source="benchmark")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 1e6


# --- report ---------------------------------------------------------------------------------


def print_run(run: RunResult, baseline: RunResult | None = None) -> None:
    ratio = f"   {run.rows_per_second / baseline.rows_per_second:.2f}× baseline" if baseline else ""
    print(
        f"  {run.name:<42} {run.rows:>10,} rows {run.seconds:>8.2f} s "
        f"{run.rows_per_second:>10,.0f} rows/s   peak RSS {run.peak_rss_mb:,.0f} MB{ratio}"
    )
    if run.details:
        print("      " + ", ".join(f"{key} {value:,}" for key, value in run.details.items()))
    for label, seconds in sorted(run.phases.items(), key=lambda item: -item[1]):
        print(f"      {seconds:>8.2f} s  {seconds / run.seconds:>6.1%}  {label}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--csv", type=Path, help="customers CSV (default: bench/out/customers-<N>-seed<S>.csv)"
    )
    parser.add_argument("--regenerate", action="store_true", help="write the CSV even if it exists")
    parser.add_argument("--profile", action="store_true", help="add an untimed insert run under cProfile")
    parser.add_argument(
        "--tracemalloc", action="store_true", help="add an untimed run measuring the Python heap"
    )
    parser.add_argument(
        "--allow-any-db", action="store_true", help="drop the database even without 'bench' in its name"
    )
    args = parser.parse_args(argv)

    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    print(
        f"database      {recreate_database(os.environ['DATABASE_URL'], allow_any_name=args.allow_any_db)} (re-created)"
    )
    setup_django()
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    network = create_network(network_plan(args.seed))
    print(f"setup         migrate + network of 200 branches in {time.perf_counter() - started:.1f} s")
    info = machine_info()
    print(
        f"machine       {info['cpus']} CPUs ({info['cpu_model']}), {info['memory_gb']} GB, "
        f"PostgreSQL {info['postgresql']}, Python {info['python']}, Django {info['django']}, "
        f"psycopg {info['psycopg']}"
    )
    print(f"postgresql    {info['postgresql_settings']}")

    csv_path = args.csv or default_csv_path(args.customers, args.seed)
    if args.regenerate or not csv_path.exists():
        summary = write_customers_csv(csv_path, customers=args.customers, seed=args.seed)
        print(f"generated     in {summary.seconds:.1f} s (not measured)")
        print(summary.describe())
        sha256 = summary.sha256
    else:
        sha256 = sha256_of(csv_path)
        print(f"reused        {csv_path} (sha256 {sha256})")

    checkpoint()
    insert = run_relais_import("Relais import, insert (empty table)", network, csv_path)
    checkpoint()
    upsert = run_relais_import("Relais import, upsert (all rows exist)", network, csv_path)
    if insert.details["created"] != insert.rows or upsert.details["updated"] != upsert.rows:
        raise SystemExit(f"Unexpected counts: insert {insert.details}, upsert {upsert.details}")
    baseline, cost = run_baseline(network, csv_path)
    ids = public_id_cost(cost.rows)

    print("\nresults (seconds include the commit; generation excluded)")
    print_run(baseline)
    print_run(insert, baseline)
    print_run(upsert, baseline)
    print("\nPython side of the import, timed alone while the baseline rows were prepared")
    print(
        f"  CSV reading (DictReader)      {cost.csv_read_seconds:>8.2f} s  {cost.rows / cost.csv_read_seconds:>10,.0f} rows/s"
    )
    print(
        f"  RowValidator.validate         {cost.validate_seconds:>8.2f} s  {cost.rows / cost.validate_seconds:>10,.0f} rows/s"
    )
    print(f"    of which new_public_id      {ids:>8.2f} s  (micro-benchmark × rows)")
    python_side = cost.csv_read_seconds + cost.validate_seconds
    print(f"  Python ceiling (read+validate)           {cost.rows / python_side:>10,.0f} rows/s")

    for run in (insert, upsert):
        verdict = "reached" if run.rows_per_second >= TARGET_ROWS_PER_SECOND else "NOT reached"
        print(
            f"target ≥ {TARGET_ROWS_PER_SECOND:,} rows/s, {run.name}: {run.rows_per_second:,.0f} rows/s: {verdict}"
        )

    report: dict[str, object] = {
        "customers": args.customers,
        "seed": args.seed,
        "csv": str(csv_path),
        "csv_sha256": sha256,
        "machine": info,
        "runs": [
            asdict(run) | {"rows_per_second": run.rows_per_second} for run in (baseline, insert, upsert)
        ],
        "python_side": asdict(cost) | {"new_public_id_seconds": ids},
    }
    if args.tracemalloc:
        report["tracemalloc_peak_mb"] = traced_import(network, csv_path)
        print(f"peak Python heap (tracemalloc, untimed insert run): {report['tracemalloc_peak_mb']:,.0f} MB")
    if args.profile:
        prof = OUT_DIR / f"import-insert-{args.customers}.prof"
        print(f"\ncProfile of an untimed insert run (saved to {prof}):")
        print(profile_import(network, csv_path, prof))
    out = OUT_DIR / f"import-benchmark-{args.customers}.json"
    out.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    print(f"results       {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
