"""Audience count benchmark: what a branch manager waits for while editing a campaign's target.

Target (../shared/targets.md): "audience count shown to a branch manager while editing a
target: p95 ≤ 100 ms at network-1M" (no baseline in the table; "indexes + one COUNT").

One run:

1. makes sure the benchmark database holds network-1M: creates the database if it is missing,
   migrates it, creates the network (bench/generate_network.py) and, if it has no customers yet,
   loads the seeded 1,000,000-customer CSV through the real import (``customer_import_load``,
   several minutes; the CSV is generated first if bench/out/ lacks it) and VACUUM ANALYZEs it.
   A database already loaded is reused as it is (never dropped);
2. set-up, untimed and idempotent (reused by the next run): a head-office marketer, a published
   e-mail, SMS and print template, a published opt-in operation on the three channels open to
   every targeting criterion, and for each sampled branch a branch manager (``role_grant``) who
   joins the operation (``participation_answer``): one e-mail, one SMS and one post campaign per
   branch, created by the services as in production;
3. the branches are picked from a seeded RNG across the size distribution: always the largest
   branch, then one branch drawn in each band of the size ranking (2–10, 11–50, 51–100,
   101–150, 151–200);
4. a seeded sequence of N cases (branch × channel e-mail or SMS × criteria, criteria already
   cleaned by ``criteria_clean``, as the page passes them) is measured after an untimed warm-up,
   as the campaign editor calls it: ``campaign_audience_count(fetched_by=user,
   campaign=campaign, criteria=...)`` with

   - **cold**: a fresh user object per call (as the authentication middleware gives each
     request) and the campaign fetched beforehand through ``campaign_get`` by that user, untimed
     (so, as on the page, the ``view_node`` scope is cached but the ``view_customers`` one the
     count needs is not: its guardian lookup is inside the timed call);
   - **warm**: the same user object for every call (every scope already cached on it);

   then a second, shorter seeded sequence of post campaigns (``--post-iterations``, N/5 by
   default; its own RNG, so the e-mail/SMS sequence is the same as without it), reported apart;
5. measures, in the same run and on the same case sequence, two reference figures:

   - **bare count**: ``SELECT count(*) FROM central_customer WHERE branch_id = %s`` (the size of
     the branch, nothing else: what the cheapest possible count costs);
   - **audience SQL alone**: the exact COUNT statement the selector sends for that case,
     captured once and re-executed through the raw cursor (query cost without the ORM, the
     scoping look-ups and the overrides check);

6. prints p50/p95/p99/max in ms, per branch and overall, PASS/FAIL against 100 ms, and
   ``EXPLAIN (ANALYZE, BUFFERS)`` of the case whose COUNT has the highest median;
7. **baseline of the same run** (skipped with ``--no-baseline``): drops the audience indexes of
   ``Customer.Meta`` (``customer_reach_email``, ``_sms``, ``_post``, migration
   central/0004_audience_indexes), measures the same sequences again, prints the EXPLAIN of the
   same case and both figures side by side, then re-creates the indexes with the exact SQL
   Django's schema editor generates for them (``schema_editor(collect_sql=True)``), in a
   ``finally``, and checks that their definitions (``pg_get_indexdef``) are those of before the
   drop: the database matches the migrations again, even when the measurement failed. A run
   killed before that point leaves them missing: the next run re-creates them before measuring
   (and says so). No ANALYZE around the drop (the indexes have no expression, so the table's
   statistics do not depend on them; a new sample would change the plans of both rounds).

The figure the target is judged on is the migrated schema's (with the indexes).

Usage (from the project root)::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/relais_bench \\
        .venv/bin/python bench/audience_benchmark.py --iterations 500 [--no-baseline]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:  # run as ``python bench/…py`` as well as ``python -m bench.…``
    sys.path.insert(0, str(PROJECT_ROOT))

from bench.generate_network import (  # noqa: E402
    DEFAULT_DATABASE_URL,
    OUT_DIR,
    REFERENCE_CUSTOMERS,
    SEED,
    ensure_customers,
    host_info,
    setup_django,
)

TARGET_P95_MS = 100.0
DEFAULT_ITERATIONS = 500
#: Bands of the size ranking (1 = largest branch) from which one branch each is drawn.
RANK_BANDS = ((1, 1), (2, 10), (11, 50), (51, 100), (101, 150), (151, 200))
PREFIX = "bench-audience"
OPERATION_NAME = "Bench — audience count"

#: The channels of the set-up's campaigns; the main case sequence draws among the first two (as
#: before the post index existed, so that its cases stay the same), post has its own sequence.
CHANNELS = ("email", "sms", "post")
MAIN_CHANNELS = ("email", "sms")
#: The audience indexes of ``Customer.Meta`` (migration central/0004_audience_indexes): one partial
#: covering index per channel, on exactly ``reachable_condition(channel)``. The baseline drops them.
AUDIENCE_INDEXES = ("customer_reach_email", "customer_reach_sms", "customer_reach_post")


# --- database --------------------------------------------------------------------------------


def ensure_database(url: str) -> tuple[str, bool]:
    """Create the database of ``url`` if it does not exist (never drops anything)."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = unquote(parts.path.lstrip("/"))
    if parts.scheme not in {"postgres", "postgresql", "pgsql"}:
        raise SystemExit(f"The audience benchmark needs PostgreSQL; DATABASE_URL is {parts.scheme}://…")
    with psycopg.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=unquote(parts.username or "postgres"),
        password=unquote(parts.password) if parts.password else None,
        dbname="postgres",
        autocommit=True,
    ) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name, not exists


def machine_info() -> dict[str, object]:
    from django.db import connection

    info = host_info()
    with connection.cursor() as cursor:
        for name in ("shared_buffers", "work_mem", "effective_cache_size", "random_page_cost", "jit"):
            cursor.execute(f"SHOW {name}")
            info[name] = cursor.fetchone()[0]
        cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('central_customer'))")
        info["central_customer_size"] = cursor.fetchone()[0]
    return info


# --- set-up (untimed, idempotent) ---------------------------------------------------------------


def _user(username: str):
    from django.contrib.auth import get_user_model

    user, _created = get_user_model().objects.get_or_create(
        username=username, defaults={"email": f"{username}@bench.invalid"}
    )
    return user


def _published_version(*, network, kind: str, name: str, author):
    from templates_lib import services as template_services
    from templates_lib.models import Template

    template = Template.objects.filter(network=network, kind=kind, name=name).first()
    if template is not None:
        version = template.versions.filter(published_at__isnull=False).order_by("-number").first()
        if version is not None:
            return version
    else:
        template = template_services.template_create(network=network, kind=kind, name=name, created_by=author)
    draft = template.versions.get(published_at__isnull=True)
    if kind == "sms":
        template_services.draft_update(
            version=draft,
            edited_by=author,
            body="{{ branch.name }} : {{ slot.message }}. {{ system.stop_mention }}",
            slots=[{"name": "message", "type": "short_text", "label": "Message", "max_length": 60,
                    "required": True, "default": "vins de fête"}],
        )
    elif kind == "email":
        template_services.draft_update(version=draft, edited_by=author, subject="{{ slot.headline }} — Foire aux vins")
    # print: the starter content as it is
    return template_services.version_publish(version=draft, published_by=author)


def _operation(*, network, author, versions):
    from django.utils import timezone

    from central.calendar.services import operation_publish, operation_save
    from central.models import TARGETING_CRITERIA, Operation, OperationMode, OperationStatus

    today = timezone.localdate()
    published = Operation.objects.filter(
        network=network, name=OPERATION_NAME, status=OperationStatus.PUBLISHED, subscription_deadline__gte=today
    ).order_by("-id")
    # an operation of an earlier version of this script may lack the post channel: not reused
    operation = next((op for op in published if set(CHANNELS) <= set(op.channels or [])), None)
    if operation is not None:
        return operation
    operation = operation_save(
        network=network,
        saved_by=author,
        template_versions=versions,
        name=OPERATION_NAME,
        theme="benchmark",
        channels=list(CHANNELS),
        mode=OperationMode.OPT_IN,
        send_from=today + timedelta(days=200),
        send_until=today + timedelta(days=210),
        subscription_deadline=today + timedelta(days=190),
        allowed_criteria=list(TARGETING_CRITERIA),
    )
    return operation_publish(operation=operation, published_by=author)


@dataclass
class BranchCase:
    rank: int
    size: int
    branch: object
    manager_id: int
    campaigns: dict[str, str]  # channel -> campaign public id
    reachable: dict[str, int] = field(default_factory=dict)


def branch_sizes(network) -> list[tuple[int, int]]:
    """(branch id, customers) of every branch, largest first (ties by id)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT branch_id, count(*) FROM central_customer WHERE network_id = %s GROUP BY branch_id",
            [network.pk],
        )
        rows = cursor.fetchall()
    return sorted(rows, key=lambda row: (-row[1], row[0]))


def pick_branches(sizes: list[tuple[int, int]], rng: random.Random) -> list[tuple[int, int, int]]:
    """(rank, branch id, size): the largest, then one drawn in each band of the ranking."""
    picked = []
    for low, high in RANK_BANDS:
        if low > len(sizes):
            break
        rank = rng.randint(low, min(high, len(sizes)))
        branch_id, size = sizes[rank - 1]
        picked.append((rank, branch_id, size))
    return picked


def set_up(network, picked: list[tuple[int, int, int]]) -> list[BranchCase]:
    from central.calendar.services import participation_answer
    from central.models import Campaign, CampaignStatus, Participation, ParticipationStatus
    from local_stores.models import Node, NodeKind, Role
    from local_stores.services import role_grant

    head_office = Node.objects.get(network=network, kind=NodeKind.HEAD_OFFICE)
    marketer = _user(f"{PREFIX}-hq")
    role_grant(user=marketer, node=head_office, role=Role.HEAD_OFFICE_MARKETER)
    versions = [
        _published_version(network=network, kind="email", name=f"{OPERATION_NAME} (e-mail)", author=marketer),
        _published_version(network=network, kind="sms", name=f"{OPERATION_NAME} (SMS)", author=marketer),
        _published_version(network=network, kind="print", name=f"{OPERATION_NAME} (print)", author=marketer),
    ]
    operation = _operation(network=network, author=marketer, versions=versions)
    cases = []
    for rank, branch_id, size in picked:
        branch = Node.objects.get(pk=branch_id)
        manager = _user(f"{PREFIX}-{branch.code.lower()}")
        role_grant(user=manager, node=branch, role=Role.BRANCH_MANAGER)
        joined = Participation.objects.filter(
            operation=operation, branch=branch, status=ParticipationStatus.JOINED
        ).exists()
        if not joined:
            participation_answer(
                operation=operation, branch=branch, status=ParticipationStatus.JOINED, answered_by=manager
            )
        campaigns = {
            campaign.channel: campaign.public_id
            for campaign in Campaign.objects.filter(operation=operation, branch=branch, status=CampaignStatus.DRAFT)
        }
        if set(campaigns) != set(CHANNELS):
            raise SystemExit(f"branch {branch.code}: expected a campaign per channel {CHANNELS}, got {sorted(campaigns)}")
        cases.append(BranchCase(rank, size, branch, manager.pk, campaigns))
    return cases


# --- the case sequence ---------------------------------------------------------------------------


def criteria_mix(rng: random.Random, branch) -> dict[str, object]:
    """One target as a branch manager might type it, cleaned as the page cleans it."""
    from central.campaigns.targeting import criteria_clean
    from central.models import TARGETING_CRITERIA
    from fixtures.generate import INTERESTS, SEGMENTS

    def segment():
        return {"segment": rng.choice(SEGMENTS)}

    def interest():
        return {"interest": rng.choice(INTERESTS)}

    def bought():
        return {"bought_within_days": rng.choice((30, 90, 180, 365))}

    def rfm():
        return {"min_rfm": rng.randint(6, 13)}

    def postal():
        # the branch's own département (every customer of the generated branch has its postal
        # code) or another one (nobody)
        own = (branch.postal_code or "75")[:2]
        return {"postal_code_prefix": own if rng.random() < 0.7 else rng.choice(("13", "59", "69", "2A"))}

    shapes = [
        (lambda: {}, 3),
        (segment, 3),
        (interest, 2),
        (bought, 2),
        (rfm, 2),
        (postal, 1),
        (lambda: segment() | bought(), 2),
        (lambda: interest() | rfm(), 1),
        (lambda: segment() | interest() | postal(), 1),
        (lambda: segment() | bought() | rfm() | interest(), 1),
    ]
    make = rng.choices([shape for shape, _w in shapes], [weight for _s, weight in shapes])[0]
    return criteria_clean(make(), allowed=list(TARGETING_CRITERIA))


@dataclass(frozen=True)
class Case:
    index: int  # into the BranchCase list
    channel: str
    criteria: tuple[tuple[str, object], ...]

    @property
    def criteria_dict(self) -> dict[str, object]:
        return dict(self.criteria)

    def label(self, branches: list[BranchCase]) -> str:
        branch = branches[self.index]
        text = ", ".join(f"{k}={v}" for k, v in self.criteria) or "no criteria"
        return f"{branch.branch.code} (rank {branch.rank}, {branch.size:,}) {self.channel}: {text}"


def case_sequence(rng: random.Random, branches: list[BranchCase], count: int,
                  channels: tuple[str, ...] = MAIN_CHANNELS) -> list[Case]:
    cases = []
    for _ in range(count):
        index = rng.randrange(len(branches))
        channel = rng.choice(channels)
        criteria = criteria_mix(rng, branches[index].branch)
        cases.append(Case(index, channel, tuple(sorted(criteria.items()))))
    return cases


# --- measuring -----------------------------------------------------------------------------------


class Recorder:
    """An ``execute_wrapper`` keeping each statement's SQL and parameters."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, object]] = []

    def __call__(self, execute, sql, params, many, context):
        self.statements.append((sql, params))
        return execute(sql, params, many, context)


def fresh_user(user_id: int):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(pk=user_id)


def campaign_for(user, branch: BranchCase, channel: str):
    from central.campaigns.selectors import campaign_get

    return campaign_get(fetched_by=user, public_id=branch.campaigns[channel])


def measure_selector(cases: list[Case], branches: list[BranchCase], *, warm: bool) -> tuple[list[float], list[int]]:
    """Milliseconds of each ``campaign_audience_count`` call, and its result."""
    from central.campaigns.selectors import campaign_audience_count

    users = {index: fresh_user(branch.manager_id) for index, branch in enumerate(branches)}
    campaigns = {
        (index, channel): campaign_for(users[index], branch, channel)
        for index, branch in enumerate(branches)
        for channel in CHANNELS
    }
    if warm:
        for (index, _channel), campaign in campaigns.items():
            campaign_audience_count(fetched_by=users[index], campaign=campaign)
    timings, results = [], []
    for case in cases:
        if warm:
            user, campaign = users[case.index], campaigns[(case.index, case.channel)]
        else:  # what a request has before the view counts: its own user, the campaign it fetched
            user = fresh_user(branches[case.index].manager_id)
            campaign = campaign_for(user, branches[case.index], case.channel)
        criteria = case.criteria_dict
        started = time.perf_counter()
        count = campaign_audience_count(fetched_by=user, campaign=campaign, criteria=criteria)
        timings.append((time.perf_counter() - started) * 1000)
        results.append(count)
    return timings, results


def capture_count_sql(case: Case, branches: list[BranchCase]) -> tuple[str, object, int]:
    """The COUNT statement the selector sends for ``case`` (cold user), and how many statements
    the whole call sends."""
    from django.db import connection

    from central.campaigns.selectors import campaign_audience_count

    user = fresh_user(branches[case.index].manager_id)
    campaign = campaign_for(user, branches[case.index], case.channel)
    recorder = Recorder()
    with connection.execute_wrapper(recorder):
        campaign_audience_count(fetched_by=user, campaign=campaign, criteria=case.criteria_dict)
    counts = [(sql, params) for sql, params in recorder.statements if "COUNT(*)" in sql.upper()]
    if len(counts) != 1:
        raise SystemExit(f"expected one COUNT statement, got {len(counts)}: {recorder.statements}")
    return counts[0][0], counts[0][1], len(recorder.statements)


def measure_raw(cases: list[Case], statements: dict[Case, tuple[str, object]]) -> tuple[list[float], list[int]]:
    from django.db import connection

    timings, results = [], []
    with connection.cursor() as cursor:
        for case in cases:
            sql, params = statements[case]
            started = time.perf_counter()
            cursor.execute(sql, params)
            count = cursor.fetchone()[0]
            timings.append((time.perf_counter() - started) * 1000)
            results.append(count)
    return timings, results


def measure_bare(cases: list[Case], branches: list[BranchCase]) -> list[float]:
    from django.db import connection

    timings = []
    with connection.cursor() as cursor:
        for case in cases:
            started = time.perf_counter()
            cursor.execute("SELECT count(*) FROM central_customer WHERE branch_id = %s", [branches[case.index].branch.pk])
            cursor.fetchone()
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0–100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def stats(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values) if values else float("nan"),
    }


def fmt(s: dict[str, float]) -> str:
    return f"p50 {s['p50']:7.2f}  p95 {s['p95']:7.2f}  p99 {s['p99']:7.2f}  max {s['max']:7.2f} ms  (n={s['n']})"


def explain(sql: str, params) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@dataclass
class Round:
    label: str
    cold: list[float]
    warm: list[float]
    raw: list[float]
    bare: list[float]
    queries_cold: int
    queries_warm: int


def run_round(label: str, cases: list[Case], warmup: list[Case], branches: list[BranchCase],
              statements: dict[Case, tuple[str, object]]) -> Round:
    from django.db import connection

    from central.campaigns.selectors import campaign_audience_count

    measure_selector(warmup, branches, warm=False)  # untimed: caches (PostgreSQL, OS, Python)
    measure_raw(warmup, statements)
    cold, cold_counts = measure_selector(cases, branches, warm=False)
    warm, warm_counts = measure_selector(cases, branches, warm=True)
    raw, raw_counts = measure_raw(cases, statements)
    bare = measure_bare(cases, branches)
    if not cold_counts == warm_counts == raw_counts:
        raise SystemExit("the cold, warm and raw runs counted different audiences")
    # statements per call, warm (scope cached on the user)
    first = cases[0]
    user = fresh_user(branches[first.index].manager_id)
    campaign = campaign_for(user, branches[first.index], first.channel)
    campaign_audience_count(fetched_by=user, campaign=campaign, criteria=first.criteria_dict)
    recorder = Recorder()
    with connection.execute_wrapper(recorder):
        campaign_audience_count(fetched_by=user, campaign=campaign, criteria=first.criteria_dict)
    _sql, _params, queries_cold = capture_count_sql(first, branches)
    return Round(label, cold, warm, raw, bare, queries_cold, len(recorder.statements))


def report_round(rnd: Round, cases: list[Case], branches: list[BranchCase]) -> dict[str, object]:
    print(f"\n== {rnd.label} ==")
    print(f"statements per call: cold {rnd.queries_cold} (scope look-up + overrides check + COUNT), "
          f"warm {rnd.queries_warm}")
    overall = {name: stats(values) for name, values in
               (("cold", rnd.cold), ("warm", rnd.warm), ("raw", rnd.raw), ("bare", rnd.bare))}
    print("all sampled branches:")
    print(f"  selector, cold user           {fmt(overall['cold'])}")
    print(f"  selector, warm user           {fmt(overall['warm'])}")
    print(f"  audience COUNT SQL alone      {fmt(overall['raw'])}")
    print(f"  bare count(*) of the branch   {fmt(overall['bare'])}")
    per_branch = {}
    print("per branch (selector, cold user | audience SQL alone | bare count):")
    for index, branch in enumerate(branches):
        picks = [i for i, case in enumerate(cases) if case.index == index]
        cold = stats([rnd.cold[i] for i in picks])
        raw = stats([rnd.raw[i] for i in picks])
        bare = stats([rnd.bare[i] for i in picks])
        per_branch[branch.branch.code] = {"rank": branch.rank, "size": branch.size, "cold": cold, "raw": raw,
                                          "bare": bare}
        print(f"  {branch.branch.code} rank {branch.rank:>3} {branch.size:>7,} customers: "
              f"p50 {cold['p50']:6.2f} p95 {cold['p95']:6.2f} max {cold['max']:6.2f} | "
              f"p50 {raw['p50']:6.2f} p95 {raw['p95']:6.2f} | p50 {bare['p50']:6.2f} p95 {bare['p95']:6.2f} ms "
              f"(n={cold['n']})")
    largest = per_branch[branches[0].branch.code]["cold"]
    verdict_all = "PASS" if overall["cold"]["p95"] <= TARGET_P95_MS else "FAIL"
    verdict_largest = "PASS" if largest["p95"] <= TARGET_P95_MS else "FAIL"
    print(f"target p95 ≤ {TARGET_P95_MS:.0f} ms (selector, cold user): all sampled branches "
          f"{overall['cold']['p95']:.1f} ms {verdict_all}; largest branch alone {largest['p95']:.1f} ms "
          f"{verdict_largest}")
    return {"overall": overall, "per_branch": per_branch, "verdict_all": verdict_all,
            "verdict_largest": verdict_largest, "queries_cold": rnd.queries_cold, "queries_warm": rnd.queries_warm}


def slowest_case(rnd: Round, cases: list[Case]) -> Case:
    """The distinct case whose COUNT is the slowest (highest median of the audience SQL alone): the
    query's own cost, robust to one-off noise. (With the indexes, the selector's time is mostly
    ORM and scoping, whose noise would pick a random cheap case.)"""
    by_case: dict[Case, list[float]] = defaultdict(list)
    for case, ms in zip(cases, rnd.raw, strict=True):
        by_case[case].append(ms)
    return max(by_case, key=lambda case: (percentile(by_case[case], 50), len(by_case[case])))


# --- the audience indexes and the baseline without them ---------------------------------------------


def audience_index_sql() -> dict[str, str]:
    """The SQL Django's schema editor generates for each audience index of ``Customer.Meta``: what
    migration central/0004_audience_indexes ran (``AddIndex`` calls the same ``add_index``)."""
    from django.db import connection

    from central.models import Customer

    declared = {index.name: index for index in Customer._meta.indexes if index.name in AUDIENCE_INDEXES}
    missing = [name for name in AUDIENCE_INDEXES if name not in declared]
    if missing:
        raise SystemExit(f"Customer.Meta.indexes lacks {', '.join(missing)}: update AUDIENCE_INDEXES")
    sql = {}
    for name in AUDIENCE_INDEXES:
        with connection.schema_editor(collect_sql=True, atomic=False) as editor:
            editor.add_index(Customer, declared[name])
        if len(editor.collected_sql) != 1:
            raise SystemExit(f"expected one statement for {name}, got {editor.collected_sql}")
        sql[name] = editor.collected_sql[0].rstrip().rstrip(";")
    return sql


def index_definitions() -> dict[str, str]:
    """``pg_get_indexdef`` of the audience indexes present in the database, by name."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'central_customer' AND indexname = ANY(%s)",
            [list(AUDIENCE_INDEXES)],
        )
        return dict(cursor.fetchall())


def index_sizes() -> dict[str, str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_size_pretty(pg_relation_size(c.oid)) FROM pg_class c "
            "WHERE c.relkind = 'i' AND c.relname = ANY(%s)",
            [list(AUDIENCE_INDEXES)],
        )
        return dict(cursor.fetchall())


def create_indexes(sql: dict[str, str], names: list[str]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for name in names:
            started = time.perf_counter()
            cursor.execute(sql[name])
            print(f"index         {name} created in {time.perf_counter() - started:.1f} s")


def ensure_audience_indexes(sql: dict[str, str]) -> dict[str, str]:
    """The audience indexes as migrated, before measuring. Only a run killed during its baseline
    leaves them dropped (``migrate`` does not notice): they are then re-created from the models."""
    definitions = index_definitions()
    missing = [name for name in AUDIENCE_INDEXES if name not in definitions]
    if missing:
        print(f"index         MISSING before the run (a run interrupted during its baseline?): {', '.join(missing)}")
        create_indexes(sql, missing)
        definitions = index_definitions()
    sizes = index_sizes()
    print("index         " + ", ".join(f"{name} {sizes[name]}" for name in AUDIENCE_INDEXES)
          + " (migration central/0004_audience_indexes)")
    return definitions


def drop_audience_indexes() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for name in AUDIENCE_INDEXES:
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
    print(f"\nindex         dropped for the baseline: {', '.join(AUDIENCE_INDEXES)}")


def restore_audience_indexes(sql: dict[str, str], before: dict[str, str]) -> None:
    """Re-create the dropped indexes with the schema editor's SQL and check that the database
    holds exactly the definitions of before the drop (those of the migration)."""
    missing = [name for name in AUDIENCE_INDEXES if name not in index_definitions()]
    create_indexes(sql, missing)
    after = index_definitions()
    if after != before:
        raise SystemExit(f"the re-created audience indexes differ from the migrated ones:\n{after}\n!=\n{before}")
    print("index         re-created; definitions identical to the migrated ones (the database matches the "
          "migrations again)")


# --- report ----------------------------------------------------------------------------------------


def compare(title: str, with_indexes: dict[str, object], without: dict[str, object], largest_code: str) -> None:
    """Both figures of the same run, side by side, and the verdicts."""
    print(f"\n== {title}: with the audience indexes (migrated schema) | without (baseline, same run) ==")
    print(f"  {'ms':<30}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8} |{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}"
          "  | p95 without/with")
    rows = (("cold", "selector, cold user"), ("warm", "selector, warm user"),
            ("raw", "audience COUNT SQL alone"), ("bare", "bare count(*) of the branch"))
    for key, label in rows:
        a, b = with_indexes["overall"][key], without["overall"][key]
        print(f"  {label:<30}" + "".join(f"{a[q]:8.2f}" for q in ("p50", "p95", "p99", "max")) + " |"
              + "".join(f"{b[q]:8.2f}" for q in ("p50", "p95", "p99", "max"))
              + f"  | {b['p95'] / a['p95']:6.1f}×")
    a, b = with_indexes["per_branch"][largest_code]["cold"], without["per_branch"][largest_code]["cold"]
    print(f"  {'largest branch, cold user':<30}{a['p50']:8.2f}{a['p95']:8.2f}{a['p99']:8.2f}{a['max']:8.2f} |"
          f"{b['p50']:8.2f}{b['p95']:8.2f}{b['p99']:8.2f}{b['max']:8.2f}  | {b['p95'] / a['p95']:6.1f}×")
    print(f"  target p95 ≤ {TARGET_P95_MS:.0f} ms (selector, cold user): with the indexes "
          f"{with_indexes['overall']['cold']['p95']:.1f} ms {with_indexes['verdict_all']} "
          f"(largest branch {a['p95']:.1f} ms {with_indexes['verdict_largest']}); "
          f"baseline without {without['overall']['cold']['p95']:.1f} ms {without['verdict_all']} "
          f"(largest branch {b['p95']:.1f} ms {without['verdict_largest']})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=DEFAULT_ITERATIONS)
    parser.add_argument("--post-iterations", type=int, default=None,
                        help="calls of the separate post sequence (default: iterations / 5; 0 skips it)")
    parser.add_argument("--warmup", type=int, default=60, help="untimed calls before measuring")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--customers", type=int, default=REFERENCE_CUSTOMERS)
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the baseline without the audience indexes (no index is dropped)")
    args = parser.parse_args(argv)
    post_iterations = args.iterations // 5 if args.post_iterations is None else args.post_iterations

    started_at = datetime.now(UTC)
    print(f"started       {started_at:%Y-%m-%d %H:%M} UTC")
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    name, created = ensure_database(os.environ["DATABASE_URL"])
    print(f"database      {name}{' (created)' if created else ''}")
    setup_django()
    network = ensure_customers(customers=args.customers, seed=args.seed)
    index_sql = audience_index_sql()
    definitions = ensure_audience_indexes(index_sql)
    info = machine_info()
    print(f"machine       {info['cpus']} CPUs ({info['cpu_model']}), {info['memory_gb']} GB, PostgreSQL "
          f"{info['postgresql']}, Python {info['python']}, Django {info['django']}")
    print(f"postgresql    shared_buffers {info['shared_buffers']}, work_mem {info['work_mem']}, "
          f"effective_cache_size {info['effective_cache_size']}, random_page_cost {info['random_page_cost']}, "
          f"jit {info['jit']}; central_customer {info['central_customer_size']} with its indexes")

    rng = random.Random(args.seed)
    sizes = branch_sizes(network)
    started = time.perf_counter()
    branches = set_up(network, pick_branches(sizes, rng))
    print(f"set-up        {len(branches)} branches, a branch manager and {len(CHANNELS)} campaigns each "
          f"({', '.join(CHANNELS)}; {time.perf_counter() - started:.1f} s, untimed)")
    for branch in branches:
        print(f"  {branch.branch.code} rank {branch.rank:>3}/{len(sizes)}: {branch.size:>7,} customers "
              f"(postal code {branch.branch.postal_code})")
    cases = case_sequence(rng, branches, args.iterations)
    warmup = case_sequence(random.Random(args.seed + 1), branches, args.warmup)
    post_cases = case_sequence(random.Random(args.seed + 2), branches, post_iterations, ("post",))
    post_warmup = case_sequence(random.Random(args.seed + 3), branches, args.warmup // 3, ("post",))
    statements: dict[Case, tuple[str, object]] = {}
    for case in dict.fromkeys(cases + warmup + post_cases + post_warmup):
        sql, params, _n = capture_count_sql(case, branches)
        statements[case] = (sql, params)
    print(f"cases         {len(cases)} timed calls, e-mail or SMS ({len(set(cases))} distinct branch × channel × "
          f"criteria), {len(warmup)} untimed warm-up calls; then post: {len(post_cases)} timed calls "
          f"({len(set(post_cases))} distinct), {len(post_warmup)} warm-up; seed {args.seed}")

    results: dict[str, object] = {
        "started_at": started_at.isoformat(timespec="seconds"), "seed": args.seed, "iterations": args.iterations,
        "post_iterations": post_iterations, "machine": info,
        "branches": [{"code": b.branch.code, "rank": b.rank, "size": b.size} for b in branches],
        "audience_indexes": {name: {"sql": index_sql[name], "definition": definitions[name]}
                             for name in AUDIENCE_INDEXES},
    }
    largest_code = branches[0].branch.code

    def measure(label: str) -> tuple[dict[str, object], dict[str, object] | None, Round]:
        main_round = run_round(f"{label}, e-mail and SMS", cases, warmup, branches, statements)
        main_report = report_round(main_round, cases, branches)
        post_report = None
        if post_cases:
            post_round = run_round(f"{label}, post (separate sequence)", post_cases, post_warmup, branches,
                                   statements)
            post_report = report_round(post_round, post_cases, branches)
        return main_report, post_report, main_round

    results["with_indexes"], results["post_with_indexes"], with_round = measure("migrated schema (with the indexes)")
    worst = slowest_case(with_round, cases)
    sql, params = statements[worst]
    print(f"\nslowest case with the indexes (highest median of its COUNT alone): {worst.label(branches)}")
    print(f"EXPLAIN (ANALYZE, BUFFERS) of its COUNT:\n{explain(sql, params)}")
    results["slowest_case"] = worst.label(branches)

    if not args.no_baseline:
        drop_audience_indexes()
        try:
            results["without_indexes"], results["post_without_indexes"], _round = measure(
                "baseline without the audience indexes (dropped by hand)"
            )
            print(f"\nsame case without the indexes: {worst.label(branches)}")
            print(explain(sql, params))
        finally:
            restore_audience_indexes(index_sql, definitions)
        compare("e-mail and SMS", results["with_indexes"], results["without_indexes"], largest_code)
        if post_cases:
            compare("post", results["post_with_indexes"], results["post_without_indexes"], largest_code)
    else:
        print("\nbaseline      skipped (--no-baseline)")

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / f"audience-benchmark-{args.iterations}.json"
    out.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    print(f"\nresults       {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
