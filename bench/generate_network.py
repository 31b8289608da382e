"""The reference workload "network-1M" (../shared/targets.md), generated from a fixed seed.

What exists in the data model today, and is therefore generated here:

- 1 network, 1 head office, 10 regions, 200 branches (20 per region);
- N customers (1,000,000 by default) as a CSV file in the import format
  (``central.customers.columns.COLUMNS``), owning branch skewed (Pareto weights: a few large stores,
  many small ones), with the consent mix of ``fixtures.generate.customer_rows``.

The rest of the workload (3,000,000 past contacts, the week of national operations and local
campaigns, the pressure rules) has no tables yet and is deliberately not invented here.

Reproducibility: the same seed gives the same bytes (the script prints the file's SHA-256). The
rows come from the seeded generators shared with the demo (``fixtures/generate.py``); "today" is
pinned to ``REFERENCE_DAY`` because the generator otherwise dates consents from the real clock.
Names come from Faker, so the bytes are stable for a given Faker version (recorded in the docs).
The rows of a smaller file are the first rows of a larger one with the same seed.

Usage (from the project root)::

    .venv/bin/python bench/generate_network.py --customers 1000000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/relais_bench \\
        .venv/bin/python bench/generate_network.py --customers 1000000 --create-network
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:  # run as ``python bench/…py`` as well as ``python -m bench.…``
    sys.path.insert(0, str(PROJECT_ROOT))

from faker import Faker  # noqa: E402

from central.customers.columns import COLUMNS  # noqa: E402
from fixtures.generate import NamePool, customer_rows, skewed_weights  # noqa: E402

SEED = 20261122
REFERENCE_CUSTOMERS = 1_000_000
#: Consent and purchase dates are counted back from this day, never from the real clock.
REFERENCE_DAY = date(2026, 11, 1)
#: The import's "now": one day after REFERENCE_DAY, so that no consent date is in the future.
REFERENCE_NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
OUT_DIR = PROJECT_ROOT / "bench" / "out"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/relais_bench"

NETWORK_SLUG = "network-1m"
REGION_NAMES = (
    "Île-de-France",
    "Hauts-de-France",
    "Grand Est",
    "Normandie",
    "Bretagne",
    "Pays de la Loire",
    "Nouvelle-Aquitaine",
    "Occitanie",
    "Auvergne-Rhône-Alpes",
    "Provence-Alpes-Côte d'Azur",
)
BRANCHES_PER_REGION = 20


@dataclass(frozen=True)
class Branch:
    code: str
    name: str
    postal_code: str
    city: str


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    branches: tuple[Branch, ...]


def network_plan(seed: int = SEED) -> list[Region]:
    """The tree of the reference network, without touching the database: 10 regions of 20
    branches. Codes are fixed (R01…, B001…) so that a CSV can be written before the network
    exists; cities and postal codes are drawn from a Faker seeded with ``seed``."""
    faker = Faker("fr_FR")
    faker.seed_instance(seed)
    regions = []
    number = 0
    for index, region_name in enumerate(REGION_NAMES, start=1):
        branches = []
        for _ in range(BRANCHES_PER_REGION):
            number += 1
            city = faker.city()
            branches.append(Branch(f"B{number:03d}", f"Magasin {city} ({number})", faker.postcode(), city))
        regions.append(Region(f"R{index:02d}", region_name, tuple(branches)))
    return regions


def all_branches(plan: list[Region]) -> list[Branch]:
    return [branch for region in plan for branch in region.branches]


def default_csv_path(customers: int, seed: int) -> Path:
    label = f"{customers // 1_000_000}M" if customers % 1_000_000 == 0 else str(customers)
    return OUT_DIR / f"customers-{label}-seed{seed}.csv"


@dataclass
class CsvSummary:
    """What was written, so that a run can show the skew and the consent mix it actually got."""

    path: Path
    rows: int
    sha256: str
    seconds: float
    per_branch: Counter
    with_email: int
    with_mobile: int
    email_granted: int
    sms_granted: int
    objections: int

    def describe(self) -> str:
        sizes = sorted(self.per_branch.values(), reverse=True)
        top10 = sum(sizes[:10])
        median = sizes[len(sizes) // 2] if sizes else 0
        rows = self.rows or 1
        return "\n".join(
            [
                f"  file        {self.path} ({self.path.stat().st_size / 1e6:.1f} MB, {self.rows:,} rows)",
                f"  sha256      {self.sha256}",
                f"  branches    {len(sizes)} with customers; largest {sizes[0] if sizes else 0:,}, "
                f"median {median:,}, smallest {sizes[-1] if sizes else 0:,}; "
                f"top 10 hold {top10 / rows:.1%}",
                f"  e-mail      opt-in {self.email_granted / rows:.1%} of customers "
                f"({self.email_granted / max(self.with_email, 1):.1%} of those with an address)",
                f"  SMS         opt-in {self.sms_granted / rows:.1%} of customers "
                f"({self.sms_granted / max(self.with_mobile, 1):.1%} of those with a mobile)",
                f"  objection   {self.objections / rows:.1%}",
            ]
        )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def write_customers_csv(path: Path, *, customers: int, seed: int = SEED) -> CsvSummary:
    """Write ``customers`` rows to ``path`` in the import format, streaming (constant memory).

    The bytes are those ``fixtures.generate.rows_to_csv`` would give (same ``csv.DictWriter``,
    excel dialect), written to a temporary name and renamed at the end so that an interrupted
    run never leaves a truncated file that a later benchmark would take for a complete one.
    """
    started = time.perf_counter()
    branches = [(b.code, b.postal_code, b.city) for b in all_branches(network_plan(seed))]
    rng = random.Random(seed)
    weights = skewed_weights(rng, len(branches))
    rows = customer_rows(
        rng=rng,
        names=NamePool(seed),
        branches=branches,
        count=customers,
        weights=weights,
        today=REFERENCE_DAY,
    )
    summary = CsvSummary(path, 0, "", 0.0, Counter(), 0, 0, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".part")
    with partial.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            summary.rows += 1
            summary.per_branch[row["branch_code"]] += 1
            summary.with_email += bool(row["email"])
            summary.with_mobile += bool(row["mobile"])
            summary.email_granted += row["consent_email"] == "granted"
            summary.sms_granted += row["consent_sms"] == "granted"
            summary.objections += row["objection"] == "yes"
    partial.replace(path)
    summary.sha256 = sha256_of(path)
    summary.seconds = time.perf_counter() - started
    return summary


def setup_django() -> None:
    """Django on the benchmark database: the demo settings (no production secrets needed) with
    DEBUG off, as in production, so that no query log grows during a million-row run."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    os.environ.setdefault("RELAIS_MODE", "demo")
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.setdefault("DEBUG", "false")
    import django

    django.setup()


def create_network(plan: list[Region], *, slug: str = NETWORK_SLUG):
    """Create the reference network through the real services (``network_create``,
    ``node_create``), in one transaction. Needs Django set up on a migrated database."""
    from django.db import transaction

    from local_stores.models import BranchType, Node, NodeKind
    from local_stores.services import network_create, node_create

    with transaction.atomic():
        network = network_create(
            name="Réseau de référence network-1M", slug=slug, head_office_name="Siège", head_office_code="HQ"
        )
        head_office = Node.objects.get(network=network, kind=NodeKind.HEAD_OFFICE)
        for region in plan:
            region_node = node_create(
                parent=head_office, kind=NodeKind.REGION, code=region.code, name=region.name
            )
            for branch in region.branches:
                node_create(
                    parent=region_node,
                    kind=NodeKind.BRANCH,
                    code=branch.code,
                    name=branch.name,
                    branch_type=BranchType.STORE,
                    postal_code=branch.postal_code,
                    city=branch.city,
                )
    return network


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=REFERENCE_CUSTOMERS)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, help="CSV path (default: bench/out/customers-<N>-seed<S>.csv)")
    parser.add_argument("--no-csv", action="store_true", help="do not write the customers CSV")
    parser.add_argument(
        "--create-network",
        action="store_true",
        help="also migrate the database of DATABASE_URL and create the network in it",
    )
    args = parser.parse_args(argv)
    plan = network_plan(args.seed)
    print(f"network-1M plan: 1 head office, {len(plan)} regions, {len(all_branches(plan))} branches")
    if not args.no_csv:
        path = args.out or default_csv_path(args.customers, args.seed)
        summary = write_customers_csv(path, customers=args.customers, seed=args.seed)
        print(f"customers CSV written in {summary.seconds:.1f} s")
        print(summary.describe())
    if args.create_network:
        setup_django()
        from django.core.management import call_command

        from local_stores.models import Network

        call_command("migrate", verbosity=0, interactive=False)
        if Network.objects.filter(slug=NETWORK_SLUG).exists():
            print(f"network {NETWORK_SLUG!r} already exists: left as it is")
        else:
            network = create_network(plan)
            print(f"network {NETWORK_SLUG!r} created ({network.public_id})")
    return 0


if __name__ == "__main__":
    sys.exit(main())


def host_info() -> dict[str, object]:
    """The machine and the PostgreSQL server the figures were measured on (each benchmark adds its
    own settings to it)."""
    import platform

    import django
    from django.db import connection

    info: dict[str, object] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                               "django": django.get_version()}
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        info["cpu_model"] = next((line.split(":", 1)[1].strip() for line in cpuinfo
                                  if line.startswith("model name")), "?")
    with open("/proc/meminfo", encoding="utf-8") as meminfo:
        kilobytes = next((int(line.split()[1]) for line in meminfo if line.startswith("MemTotal:")), 0)
        info["memory_gb"] = round(kilobytes / 1024 / 1024, 1)
    info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        info["postgresql"] = cursor.fetchone()[0]
    return info


def ensure_customers(*, customers: int, seed: int):
    """Migrate, create the network and load its customers (through the real import, then VACUUM
    ANALYZE) if the database lacks them; the network. Needs Django set up."""
    from django.core.management import call_command
    from django.db import connection, transaction

    from central.customers.services import customer_import_load
    from central.models import Customer
    from local_stores.models import Network

    call_command("migrate", verbosity=0, interactive=False)
    network = Network.objects.filter(slug=NETWORK_SLUG).first()
    if network is None:
        network = create_network(network_plan(seed))
        print(f"workload      network {NETWORK_SLUG!r} created")
    loaded = Customer.objects.filter(network=network).count()
    if loaded == 0:
        csv_path = default_csv_path(customers, seed)
        if not csv_path.exists():
            summary = write_customers_csv(csv_path, customers=customers, seed=seed)
            print(f"workload      CSV generated in {summary.seconds:.0f} s: {csv_path}")
        print(f"workload      loading {csv_path.name} through customer_import_load (minutes)…", flush=True)
        started = time.perf_counter()
        with csv_path.open("rb") as stream, transaction.atomic():
            result = customer_import_load(network=network, stream=stream, now=REFERENCE_NOW, source="benchmark")
        print(f"workload      {result.rows_created:,} customers loaded in {time.perf_counter() - started:.0f} s "
              f"({result.rows_rejected} rejected)")
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE) central_customer")
        loaded = Customer.objects.filter(network=network).count()
    else:
        print(f"workload      customers reused: {loaded:,} in network {NETWORK_SLUG!r}")
    if loaded != customers:
        raise SystemExit(f"network {NETWORK_SLUG!r} holds {loaded:,} customers, expected {customers:,}")
    return network
