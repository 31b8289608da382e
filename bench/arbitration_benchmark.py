"""Arbitration benchmark: network-1M's week of planned sends, decided by the set-based engine.

Target (../shared/targets.md): "arbitration of network-1M (all decisions and reasons written):
≤ 10 s on PostgreSQL, peak Python memory ≤ 300 MB; baseline in the same run: a per-recipient loop
(one query per customer, as classic tools do): Relais ≥ 40× faster".

One run:

1. makes sure its own database (``relais_arbitration_bench`` by default, ``--database``; the
   ``DATABASE_URL`` of the environment is ignored so that a habit of pointing it at
   ``relais_bench`` cannot touch the audience benchmark's database) holds the arbitration part of
   network-1M, building what is missing, seeded and idempotently, never dropping the database:

   - the network (bench/generate_network.py) and its 1,000,000 customers, loaded from the seeded
     CSV through the real import (``customer_import_load``), then VACUUM ANALYZEd;
   - the week of planned sends, created directly with the ORM in status *approved* (arbitration
     is measured, not approvals): 6 national operations, 4 opt-in ones joined by a seeded half of
     the branches (one campaign per joining branch and channel; one of them flagged
     ``national_priority``, one on e-mail and SMS) and 2 head-office national sends, plus 150
     local campaigns (uses of 3 kits by branches drawn in proportion to their size);
   - 3,000,000 past contacts over the 60 days before the week, COPYed into ``central_contact``
     (chronological, skewed towards engaged customers, on channels the customer accepts; the
     national operation of the Tuesday had a first wave the week before);
   - the rules: 2 marketing contacts per 7 days across channels, 1 SMS per 14 days, 1 of the 2
     weekly slots reserved for national, default order (transactional > local > national).

   A fingerprint of the plan (seed and constants) is kept with it: a changed plan rebuilds the
   campaigns and the contacts, an unchanged one is reused as it is;
2. measures the set-based engine, ``arbitrate(network=…, starts_on=…, ends_on=…,
   mode="simulation")`` (every candidate inserted, every decision and reason written, commit
   included), ``--runs`` times, each in a fresh child process (so that ``ru_maxrss`` is the run's
   own) after emptying the candidate table of previous runs and ANALYZEing it (untimed): wall
   time, candidates/s, ``ru_maxrss``, and the time of each SQL statement (an ``execute_wrapper``:
   a few hundred small records); before them, one run under ``tracemalloc`` for the peak of Python
   memory (tracemalloc slows every allocation down, so that run is not timed with the others). A watchdog cancels a run that exceeds
   ``--timeout`` (its backends, ``pg_cancel_backend``): it is rolled back and reported as not
   finished, with the plain EXPLAIN of the statement it was running, and the next runs are skipped;
3. measures the **baseline of the same run**: a per-recipient loop as classic tools do it, on a
   seeded sample of the candidate customers (``--sample``, 20,000 by default), extrapolated to all
   of them (the figure printed says EXTRAPOLATED, with the sample size). It lists each campaign's
   audience once (one INSERT … SELECT per campaign, with ``central.campaigns.targeting.apply_criteria``, into
   a temporary table), loads the rules, the suppression list and the addresses shared by several
   customers once, then for each customer sends one query (its row, all its past contacts and its
   candidate campaigns, plus those of the customers sharing one of its addresses with a smaller
   id) and decides in Python, with the rules written here from docs/arbitration.md, in the
   engine's order (consent, address, suppression, ownership, quiet days, one per operation, one
   per address, the caps, the quota, who each loser lost to); its decisions are written by COPY
   in batches of 1,000 customers into a temporary table;
4. checks that the loop and the engine agree on the sampled customers (same candidates, same
   selected set; reasons and ``lost_to`` compared too) and prints the mismatches, if any (only
   when an engine run finished: an unfinished one is rolled back);
5. unless ``--no-profile``: one more engine run in which the slowest statement of each of the
   slowest steps of run 1 (``--explain``, 4 by default) is sent as ``EXPLAIN (ANALYZE,
   BUFFERS)`` at the same point of the run (so on the same data), the run stopping after the
   last of them; the plans go to bench/out/arbitration-benchmark-explain.txt;
6. prints the figures, PASS/FAIL against the target, and writes
   bench/out/arbitration-benchmark.json.

Usage (from the project root)::

    .venv/bin/python bench/arbitration_benchmark.py [--runs 3] [--sample 20000] [--timeout 1200] [--no-profile]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from bisect import bisect
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from urllib.parse import unquote, urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:  # run as ``python bench/…py`` as well as ``python -m bench.…``
    sys.path.insert(0, str(PROJECT_ROOT))

from bench.generate_network import (  # noqa: E402
    NETWORK_SLUG,
    OUT_DIR,
    REFERENCE_CUSTOMERS,
    REFERENCE_NOW,
    SEED,
    ensure_customers,
    host_info,
    setup_django,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/relais_arbitration_bench"
TARGET_SECONDS = 10.0
TARGET_PEAK_MB = 300.0
TARGET_RATIO = 40.0

#: The arbitrated week: the Monday after generate_network's REFERENCE_DAY (2026-11-01), pinned so
#: that nothing follows the real clock (no criterion below depends on "today" either).
WEEK_START = date(2026, 11, 2)
WEEK_END = WEEK_START + timedelta(days=6)
PAST_CONTACTS = 3_000_000
CONTACT_DAYS = 60
#: Relative volume of contacts per weekday (Monday first): little on Sundays.
CONTACT_WEEKDAY_WEIGHTS = (1.0, 1.2, 1.0, 1.3, 1.1, 0.9, 0.2)
PREFIX = "Bench arbitrage"
RESULT_MARK = "RESULT-JSON "

RULES = {
    "cap_total": 2,
    "cap_days": 7,
    "channel_caps": {"sms": {"count": 1, "days": 14}},
    "national_reserved": 1,
    "local_reserved": 0,
    "quiet_weekdays": [],
    "one_per_operation": True,
    "priority_order": [],  # the default: transactional > local > national
}


@dataclass(frozen=True)
class NationalOperation:
    name: str
    mode: str  # "opt_in": joined by a seeded share of the branches; "mandatory": a head-office send
    days: tuple[tuple[str, int], ...]  # (channel, day of the week: 0 = Monday)
    criteria: tuple[tuple[str, object], ...] = ()
    national_priority: bool = False
    joined_share: float = 0.5
    first_wave: bool = False  # sent to part of its audience the week before (past contacts carry it)


NATIONAL = (
    NationalOperation("Rentrée des saveurs", "opt_in", (("email", 1),), (("min_rfm", 9),), first_wave=True),
    NationalOperation("Noël en avance", "opt_in", (("email", 3), ("sms", 4)), (("min_rfm", 10),),
                      national_priority=True),
    NationalOperation("Foire aux vins", "opt_in", (("sms", 2),), (("segment", "fidele"),)),
    NationalOperation("Fête du chocolat", "opt_in", (("email", 5),), (("interest", "chocolat"),)),
    NationalOperation("Black Friday", "mandatory", (("email", 4),), (("min_rfm", 11),)),
    NationalOperation("Avant-première VIP", "mandatory", (("sms", 0),), (("segment", "vip"),)),
)
KITS = ("Kit anniversaire client", "Kit dégustation en magasin", "Kit nouveautés du mois")
LOCAL_CAMPAIGNS = 150
LOCAL_SMS_SHARE = 0.3


# --- database ----------------------------------------------------------------------------------


def ensure_database(url: str) -> tuple[str, bool]:
    """Create the database of ``url`` if it does not exist (never drops anything)."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = unquote(parts.path.lstrip("/"))
    if parts.scheme not in {"postgres", "postgresql", "pgsql"}:
        raise SystemExit(f"The arbitration benchmark needs PostgreSQL; --database is {parts.scheme}://…")
    if "bench" not in name or name == "relais_bench":
        raise SystemExit(f"refusing database {name!r}: give this benchmark its own (a name with 'bench', "
                         "not the audience benchmark's relais_bench)")
    with psycopg.connect(host=parts.hostname or "127.0.0.1", port=parts.port or 5432,
                         user=unquote(parts.username or "postgres"),
                         password=unquote(parts.password) if parts.password else None,
                         dbname="postgres", autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name, not exists


def use_database(url: str) -> None:
    os.environ["DATABASE_URL"] = url  # not setdefault: never the environment's (see the docstring)
    setup_django()


def sql_rows(statement: str, params=None) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall()


def sql_value(statement: str, params=None):
    rows = sql_rows(statement, params)
    return rows[0][0] if rows else None


def vacuum_analyze(table: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {table}")


def customer_mix(network) -> dict[str, object]:
    """The consent mix actually in the database (targets.md: ≈70 % e-mail, 40 % SMS, 2 % objection)."""
    row = sql_rows(
        "SELECT count(*), count(*) FILTER (WHERE consent_email = 'granted'), "
        "count(*) FILTER (WHERE consent_sms = 'granted'), count(*) FILTER (WHERE objected_at IS NOT NULL), "
        "count(*) FILTER (WHERE consent_email = 'granted' AND objected_at IS NULL AND email <> ''), "
        "count(*) FILTER (WHERE consent_sms = 'granted' AND objected_at IS NULL AND mobile <> '') "
        "FROM central_customer WHERE network_id = %s", [network.pk])[0]
    total = row[0] or 1
    sizes = sorted((n for _b, n in branch_sizes(network)), reverse=True)
    return {"customers": row[0], "email_optin": round(row[1] / total, 4), "sms_optin": round(row[2] / total, 4),
            "objection": round(row[3] / total, 4), "email_reachable": round(row[4] / total, 4),
            "sms_reachable": round(row[5] / total, 4), "branches": len(sizes), "largest_branch": sizes[0],
            "median_branch": sizes[len(sizes) // 2], "smallest_branch": sizes[-1],
            "top10_share": round(sum(sizes[:10]) / total, 4)}


def branch_sizes(network) -> list[tuple[int, int]]:
    """(branch id, customers) of every branch with customers, by branch id."""
    return sql_rows("SELECT branch_id, count(*) FROM central_customer WHERE network_id = %s "
                    "GROUP BY branch_id ORDER BY branch_id", [network.pk])


# --- the week of planned sends (ORM, status approved) -------------------------------------------


def week_plan(network, seed: int) -> dict[str, object]:
    """The campaigns of the week, from the seed alone (and the branches' sizes, which the seeded
    CSV fixes): what joins which operation, which branch uses which kit when, with which target."""
    from fixtures.generate import INTERESTS, SEGMENTS
    from local_stores.models import Node, NodeKind

    rng = random.Random(seed + 31)
    branches = list(Node.objects.filter(network=network, kind=NodeKind.BRANCH).order_by("code")
                    .values_list("code", flat=True))
    size_of = dict(sql_rows("SELECT n.code, count(c.id) FROM local_stores_node n LEFT JOIN central_customer c "
                            "ON c.branch_id = n.id WHERE n.network_id = %s AND n.kind = %s GROUP BY n.code",
                            [network.pk, NodeKind.BRANCH]))
    national = []
    for operation in NATIONAL:
        joined = (sorted(rng.sample(branches, round(len(branches) * operation.joined_share)))
                  if operation.mode == "opt_in" else [])
        national.append({"name": operation.name, "mode": operation.mode, "days": [list(d) for d in operation.days],
                         "criteria": dict(operation.criteria), "national_priority": operation.national_priority,
                         "first_wave": operation.first_wave, "joined": joined})
    shapes = (
        (lambda: {}, 2),
        (lambda: {"segment": rng.choice(SEGMENTS)}, 3),
        (lambda: {"interest": rng.choice(INTERESTS)}, 3),
        (lambda: {"min_rfm": rng.randint(8, 11)}, 2),
        (lambda: {"segment": rng.choice(("fidele", "occasionnel")), "interest": rng.choice(INTERESTS)}, 1),
    )
    local = []
    for _ in range(LOCAL_CAMPAIGNS):
        branch = rng.choices(branches, [size_of[code] for code in branches])[0]
        make = rng.choices([shape for shape, _w in shapes], [weight for _s, weight in shapes])[0]
        local.append({"branch": branch, "kit": rng.randrange(len(KITS)),
                      "channel": "sms" if rng.random() < LOCAL_SMS_SHARE else "email",
                      "day": rng.randrange(6), "criteria": make()})
    plan = {"seed": seed, "week_start": WEEK_START.isoformat(), "rules": RULES, "national": national,
            "kits": list(KITS), "local": local}
    plan["fingerprint"] = hashlib.sha256(json.dumps(plan, sort_keys=True).encode()).hexdigest()
    return plan


def contacts_fingerprint(plan: dict[str, object], seed: int) -> str:
    spec = {"plan": plan["fingerprint"], "seed": seed, "contacts": PAST_CONTACTS, "days": CONTACT_DAYS,
            "weekday_weights": CONTACT_WEEKDAY_WEIGHTS, "version": 1}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def _user(username: str):
    from django.contrib.auth import get_user_model

    user, _created = get_user_model().objects.get_or_create(
        username=username, defaults={"email": f"{username}@bench.invalid"})
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
            version=draft, edited_by=author,
            body="{{ branch.name }} : {{ slot.message }}. {{ system.stop_mention }}",
            slots=[{"name": "message", "type": "short_text", "label": "Message", "max_length": 60,
                    "required": True, "default": "offre de la semaine"}])
    else:
        template_services.draft_update(version=draft, edited_by=author, subject="{{ slot.headline }}")
    return template_services.version_publish(version=draft, published_by=author)


def marker_operation(network):
    from central.models import Operation

    return Operation.objects.filter(network=network, name=f"{PREFIX} — marqueur").first()


def marker_state(network) -> dict[str, str]:
    marker = marker_operation(network)
    return json.loads(marker.description or "{}") if marker else {}


def save_marker_state(network, **values: str) -> None:
    marker = marker_operation(network)
    state = json.loads(marker.description or "{}") | values
    type(marker).objects.filter(pk=marker.pk).update(description=json.dumps(state, sort_keys=True))


def clear_runs(network) -> None:
    """Remove the candidates and runs of earlier arbitrations of the network (untimed)."""
    from django.db import connection

    from central.models import ArbitrationRun

    others = ArbitrationRun.objects.exclude(network=network).exists()
    with connection.cursor() as cursor:
        if others:
            cursor.execute("DELETE FROM central_candidate WHERE run_id IN "
                           "(SELECT id FROM central_arbitrationrun WHERE network_id = %s)", [network.pk])
        else:  # the database holds this network's runs only: TRUNCATE is instantaneous
            cursor.execute("TRUNCATE central_candidate")
    ArbitrationRun.objects.filter(network=network).delete()


def clear_week(network) -> None:
    """Remove what an earlier plan of this script created (campaigns, participations, operations)."""
    from central.models import Campaign, Contact, Operation, Participation

    clear_runs(network)
    operations = Operation.objects.filter(network=network, name__startswith=PREFIX)
    Campaign.objects.filter(network=network, operation__in=operations).delete()
    Participation.objects.filter(operation__in=operations).delete()
    Contact.objects.filter(operation__in=operations).update(operation=None)
    operations.delete()


def ensure_week(network, plan: dict[str, object]):
    """The rules, operations and campaigns of ``plan`` (rebuilt if the plan changed)."""
    from django.db import transaction

    from central.arbitration import rules_for
    from central.models import (
        TARGETING_CRITERIA,
        Campaign,
        CampaignStatus,
        Operation,
        OperationMode,
        OperationStatus,
        Participation,
        ParticipationStatus,
    )
    from local_stores.models import Node, NodeKind, Role
    from local_stores.services import role_grant

    rules = rules_for(network)
    for name, value in RULES.items():
        setattr(rules, name, value)
    rules.save()
    state = marker_state(network)
    if state.get("plan") == plan["fingerprint"]:
        campaigns = Campaign.objects.filter(network=network, operation__name__startswith=PREFIX).count()
        print(f"workload      week reused: {campaigns} campaigns (plan {plan['fingerprint'][:12]}…)")
        return
    if state:
        print("workload      the plan changed: the week's campaigns (and the contacts) are rebuilt")
    started = time.perf_counter()
    with transaction.atomic():
        clear_week(network)
        head_office = Node.objects.get(network=network, kind=NodeKind.HEAD_OFFICE)
        author = _user("bench-arbitration-hq")
        role_grant(user=author, node=head_office, role=Role.HEAD_OFFICE_MARKETER)
        versions = {kind: _published_version(network=network, kind=kind, name=f"{PREFIX} ({kind})", author=author)
                    for kind in ("email", "sms")}
        node_of = {node.code: node for node in Node.objects.filter(network=network, kind=NodeKind.BRANCH)}
        common = {"network": network, "status": OperationStatus.PUBLISHED, "created_by": author,
                  "published_at": REFERENCE_NOW, "allowed_criteria": list(TARGETING_CRITERIA)}
        Operation.objects.create(name=f"{PREFIX} — marqueur", mode=OperationMode.KIT, channels=[],
                                 send_from=WEEK_START, send_until=WEEK_START, status=OperationStatus.DRAFT,
                                 network=network, created_by=author, description="{}")
        campaigns = []

        def campaign(operation, branch, channel, day, criteria):
            campaigns.append(Campaign(
                network=network, branch=branch, operation=operation, template_version=versions[channel],
                channel=channel, target_criteria=criteria, send_date=WEEK_START + timedelta(days=day),
                status=CampaignStatus.APPROVED, created_by=author))

        for spec in plan["national"]:
            channels = sorted({channel for channel, _day in spec["days"]})
            operation = Operation.objects.create(
                name=f"{PREFIX} — {spec['name']}", mode=spec["mode"], channels=channels,
                send_from=WEEK_START - timedelta(days=7 if spec["first_wave"] else 0), send_until=WEEK_END,
                subscription_deadline=WEEK_START - timedelta(days=14) if spec["mode"] == "opt_in" else None,
                national_priority=spec["national_priority"], theme="benchmark", **common)
            operation.template_versions.set([versions[channel] for channel in channels])
            if spec["mode"] == OperationMode.OPT_IN:
                Participation.objects.bulk_create([
                    Participation(operation=operation, branch=node_of[code], status=ParticipationStatus.JOINED,
                                  decided_by=author, decided_at=REFERENCE_NOW) for code in spec["joined"]])
                for code in spec["joined"]:
                    for channel, day in spec["days"]:
                        campaign(operation, node_of[code], channel, day, spec["criteria"])
            else:
                for channel, day in spec["days"]:
                    campaign(operation, None, channel, day, spec["criteria"])
        kits = [Operation.objects.create(name=f"{PREFIX} — {name}", mode=OperationMode.KIT, channels=["email", "sms"],
                                         send_from=WEEK_START - timedelta(days=90), send_until=WEEK_END + timedelta(90),
                                         theme="benchmark", **common) for name in plan["kits"]]
        for kit in kits:
            kit.template_versions.set(versions.values())
        for spec in plan["local"]:
            campaign(kits[spec["kit"]], node_of[spec["branch"]], spec["channel"], spec["day"], spec["criteria"])
        Campaign.objects.bulk_create(campaigns)  # one by one in this order: created_at breaks ties
        save_marker_state(network, plan=plan["fingerprint"], contacts="")
    print(f"workload      week created: {len(campaigns)} campaigns ({time.perf_counter() - started:.1f} s)")


def first_wave_operation_id(network) -> int:
    from central.models import Operation

    name = next(spec.name for spec in NATIONAL if spec.first_wave)
    return Operation.objects.get(network=network, name=f"{PREFIX} — {name}").pk


# --- past contacts (COPY) ----------------------------------------------------------------------


def ensure_contacts(network, plan: dict[str, object], seed: int) -> None:
    from django.db import connection, transaction

    fingerprint = contacts_fingerprint(plan, seed)
    count = sql_value("SELECT count(*) FROM central_contact ct JOIN central_customer cu ON cu.id = ct.customer_id "
                      "WHERE cu.network_id = %s", [network.pk])
    if marker_state(network).get("contacts") == fingerprint and count == PAST_CONTACTS:
        print(f"workload      past contacts reused: {count:,}")
        return
    started = time.perf_counter()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM central_contact WHERE customer_id IN "
                           "(SELECT id FROM central_customer WHERE network_id = %s)", [network.pk])
        written = copy_contacts(network, seed, first_wave_operation_id(network))
        save_marker_state(network, contacts=fingerprint)
    vacuum_analyze("central_contact")
    print(f"workload      {written:,} past contacts COPYed in {time.perf_counter() - started:.0f} s "
          f"(VACUUM ANALYZE included)")


def copy_contacts(network, seed: int, first_wave_id: int) -> int:
    """3,000,000 contacts, day after day over the 60 days before the week, streamed into COPY.

    Customers are taken in the CSV's order (external id), each with a seeded "engagement" weight
    (Gamma, shape 0.6: most receive little, a few a lot); customers with no channel open get a
    small weight (contacted before they refused or objected). The channel is one the customer
    accepts (e-mail 6, SMS 3, post 1); 55 % national, 45 % local; national contacts of the last
    seven days belong to the Tuesday operation's first wave one time in three."""
    from django.db import connection

    rng = random.Random(seed + 53)
    rows = sql_rows(
        "SELECT id, consent_email = 'granted' AND email <> '' AND objected_at IS NULL, "
        "consent_sms = 'granted' AND mobile <> '' AND objected_at IS NULL, "
        "consent_post = 'granted' AND address_line1 <> '' AND postal_code <> '' AND objected_at IS NULL "
        "FROM central_customer WHERE network_id = %s ORDER BY external_id", [network.pk])
    ids, channels, weights = [], [], []
    for customer_id, email, sms, post in rows:
        open_channels = [c for c, ok, w in (("email", email, 6), ("sms", sms, 3), ("post", post, 1)) if ok for _ in
                         range(w)]
        ids.append(customer_id)
        channels.append(tuple(open_channels) or ("email",))
        engagement = rng.gammavariate(0.6, 1.0)
        weights.append(engagement if open_channels else engagement * 0.05)
    del rows
    cumulative = list(accumulate(weights))
    total = cumulative[-1]
    days = [WEEK_START - timedelta(days=CONTACT_DAYS - index) for index in range(CONTACT_DAYS)]
    day_weights = [CONTACT_WEEKDAY_WEIGHTS[day.weekday()] for day in days]
    per_day = [int(PAST_CONTACTS * w / sum(day_weights)) for w in day_weights]
    for index in range(PAST_CONTACTS - sum(per_day)):
        per_day[index % CONTACT_DAYS] += 1
    first_wave_from = WEEK_START - timedelta(days=7)
    written = 0
    with connection.cursor() as cursor, cursor.copy(
            "COPY central_contact (customer_id, channel, origin, operation_id, contacted_on) FROM STDIN") as copy:
        for day, count in zip(days, per_day, strict=True):
            text = day.isoformat()
            lines = []
            for _ in range(count):
                index = bisect(cumulative, rng.random() * total)
                index = min(index, len(ids) - 1)
                channel = rng.choice(channels[index])
                national = rng.random() < 0.55
                operation = "\\N"
                if national and day >= first_wave_from and rng.random() < 1 / 3:
                    operation = str(first_wave_id)
                lines.append(f"{ids[index]}\t{channel}\t{'national' if national else 'local'}\t{operation}\t{text}\n")
            copy.write("".join(lines))
            written += count
    return written


def workload_figures(network) -> dict[str, object]:
    """What the database holds for the week, as the engine will see it."""
    from central.models import Campaign, CampaignStatus, Operation, OperationMode

    campaigns = Campaign.objects.filter(network=network, send_date__range=(WEEK_START, WEEK_END),
                                        status=CampaignStatus.APPROVED).select_related("operation")
    kinds = {"national_joined": 0, "national_head_office": 0, "local_kit": 0}
    for campaign in campaigns:
        if campaign.operation and campaign.operation.mode == OperationMode.KIT:
            kinds["local_kit"] += 1
        elif campaign.branch_id is None:
            kinds["national_head_office"] += 1
        else:
            kinds["national_joined"] += 1
    contacts = sql_rows(
        "SELECT count(*), min(contacted_on), max(contacted_on), count(DISTINCT customer_id), "
        "count(*) FILTER (WHERE operation_id IS NOT NULL), "
        "count(*) FILTER (WHERE contacted_on >= %s), count(*) FILTER (WHERE channel = 'sms') "
        "FROM central_contact ct JOIN central_customer cu ON cu.id = ct.customer_id WHERE cu.network_id = %s",
        [WEEK_START - timedelta(days=7), network.pk])[0]
    national = Operation.objects.filter(network=network, name__startswith=PREFIX).exclude(
        mode=OperationMode.KIT)
    return {
        "week": [WEEK_START.isoformat(), WEEK_END.isoformat()],
        "campaigns": sum(kinds.values()), **kinds,
        "national_operations": national.count(),
        "national_priority": list(national.filter(national_priority=True).values_list("name", flat=True)),
        "contacts": contacts[0], "contacts_from": str(contacts[1]), "contacts_to": str(contacts[2]),
        "contacted_customers": contacts[3], "contacts_of_an_operation": contacts[4],
        "contacts_last_7_days": contacts[5], "contacts_sms": contacts[6],
    }


# --- the set-based engine, one run per child process ---------------------------------------------


def vm_rss_mb() -> float:
    with open("/proc/self/status", encoding="utf-8") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Statement:
    index: int
    seconds: float
    label: str
    rows: int
    sql: str = ""
    plan: str = ""
    explainable: bool = False


class StopRun(Exception):
    """Raised after the last statement to EXPLAIN: the run is rolled back, nothing more to learn."""


class StatementTimer:
    """An ``execute_wrapper`` timing each statement (its step, seconds and rows: a few hundred
    small records per run). Those whose index is in ``explain`` are sent as ``EXPLAIN (ANALYZE,
    BUFFERS) …`` instead, which runs them: the run goes on, on the same data, and stops after the
    last of them. The statement running when the watchdog cancels the run is kept in ``current``."""

    def __init__(self, explain: set[int] | None = None, timed_out=None) -> None:
        self.explain = explain or set()
        self.statements: list[Statement] = []
        self.current: tuple[str, object] | None = None
        self.timed_out = timed_out

    def __call__(self, execute, sql, params, many, context):
        if self.timed_out is not None and self.timed_out.is_set():  # cancelled between two statements
            raise TimeoutError
        index = len(self.statements)
        self.current = (sql, params)
        started = time.perf_counter()
        plan = ""
        if index in self.explain:
            result = execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params, many, context)
            plan = "\n".join(row[0] for row in context["cursor"].fetchall())
        else:
            result = execute(sql, params, many, context)
        seconds = time.perf_counter() - started
        self.current = None
        label = label_of(sql, params)
        thread = threading.current_thread().name
        if thread.startswith("arbitration"):  # a slice decided on a connection of its own
            label = f"[slice {thread.rsplit('_', 1)[-1]}] {label}"
        self.statements.append(Statement(index, seconds, label, context["cursor"].rowcount,
                                         sql if index in self.explain else "", plan, explainable(sql)))
        if self.explain and index >= max(self.explain):
            raise StopRun
        return result


def label_of(sql: str, params) -> str:
    """A readable name for a statement of ``arbitrate``: which step of the engine sent it."""
    from central.models import Reason

    head = " ".join(sql.split())[:80].upper()
    reasons = [p for p in (params or ()) if isinstance(p, str) and p in Reason.values]
    if head.startswith('INSERT INTO "CENTRAL_CANDIDATE"'):
        return "write every decision (INSERT … SELECT into central_candidate)"
    if head.startswith("INSERT INTO RELAIS_ARB_CANDIDATE"):
        if "JOIN RELAIS_ARB_JOIN K ON K.JB = " in sql.upper():
            return "candidates (customers ⋈ their branch's campaigns and the national ones, criteria, first reasons)"
        return "candidates added by hand"
    if head.startswith("UPDATE RELAIS_ARB_CANDIDATE SET REASON"):
        return f"exclude: {reasons[0] if reasons else '?'}"
    if head.startswith("UPDATE RELAIS_ARB_CANDIDATE SET LOST"):
        return "who each loser lost to (UPDATE)"
    if head.startswith("CREATE TEMPORARY TABLE RELAIS_ARB_PAST"):
        return "past contacts per customer (one GROUP BY)"
    if head.startswith("CREATE TEMPORARY TABLE RELAIS_ARB_WINNER"):
        return "winners of the customers who lost (GROUP BY)"
    if head.startswith("SELECT ARRAY_AGG(H)"):
        return "one per address: hashes of the addresses still in (exchanged with the other slices)"
    if head.startswith("SELECT") and "RELAIS_ARB_CANDIDATE" in head:
        return "one per address: the candidates with a shared address (SELECT)"
    return " ".join(sql.split())[:70]


def explainable(sql: str) -> bool:
    """Whether a statement may be sent as EXPLAIN ANALYZE in the explain run: one that writes
    (INSERT, UPDATE, DELETE, or a WITH holding one), but not an INSERT … RETURNING the engine needs
    to go on (a new run's id). A statement whose rows the engine reads gets the plan's rows
    instead; that run is rolled back after the last EXPLAIN anyway."""
    text = sql.lstrip().upper()
    if text.startswith("WITH"):
        return any(word in text for word in ("INSERT INTO", "UPDATE ", "DELETE FROM"))
    return text.startswith(("INSERT", "UPDATE", "DELETE")) and "RETURNING" not in text


def admin_connection(url: str):
    import psycopg

    parts = urlsplit(url)
    return psycopg.connect(host=parts.hostname or "127.0.0.1", port=parts.port or 5432,
                           user=unquote(parts.username or "postgres"),
                           password=unquote(parts.password) if parts.password else None,
                           dbname=unquote(parts.path.lstrip("/")), autocommit=True)


def child_main(args: argparse.Namespace) -> int:
    """One engine run, in this fresh process: prints one RESULT-JSON line for the parent. A
    watchdog cancels the run's statements (``pg_cancel_backend`` of the database's backends)
    after ``--timeout`` seconds: the transaction is rolled back and the run reported unfinished."""
    use_database(args.database)
    from django.db import DatabaseError, connection
    from django.db.backends.signals import connection_created

    from central.arbitration import arbitrate
    from local_stores.models import Network

    network = Network.objects.get(slug=NETWORK_SLUG)
    clear_runs(network)
    vacuum_analyze("central_candidate")
    timed_out = threading.Event()

    def cancel() -> None:  # this process's backend and those of the slices' connections
        timed_out.set()
        with admin_connection(args.database) as admin:
            admin.execute("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                          "AND pid <> pg_backend_pid()")

    timer = StatementTimer({int(i) for i in args.explain_indexes.split(",") if i}, timed_out)
    watchdog = threading.Timer(args.timeout, cancel)
    watchdog.daemon = True
    gc.collect()
    rss_before = vm_rss_mb()
    if args.child == "memory":  # tracemalloc slows every allocation down: not in the timed runs
        tracemalloc.start()
    run, outcome = None, "finished"
    started = time.perf_counter()
    watchdog.start()
    def time_slices(sender, connection, **kwargs) -> None:  # the connections the engine opens for its slices
        if threading.current_thread().name.startswith("arbitration"):
            connection.execute_wrappers.append(timer)

    connection_created.connect(time_slices)
    try:
        with connection.execute_wrapper(timer):
            run = arbitrate(network=network, starts_on=WEEK_START, ends_on=WEEK_END, mode="simulation")
    except StopRun:
        outcome = "stopped after the last statement to explain"
    except (DatabaseError, TimeoutError):
        if not timed_out.is_set():
            raise
        outcome = "timeout"
    finally:
        watchdog.cancel()
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if tracemalloc.is_tracing() else 0
    tracemalloc.stop()
    result = {
        "outcome": outcome, "seconds": seconds, "timeout": args.timeout,
        "run_id": run.pk if run else None, "summary": run.summary if run else {},
        "tracemalloc_peak_mb": peak / 2**20, "rss_before_mb": rss_before,
        "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "statements": [asdict(s) for s in timer.statements],
    }
    if outcome == "timeout" and timer.current is not None:
        sql, params = timer.current
        with connection.cursor() as cursor:  # the transaction was rolled back: plain EXPLAIN, no ANALYZE
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        result["running_at_timeout"] = {"index": len(timer.statements), "label": label_of(sql, params),
                                        "sql": sql, "params": [str(p) for p in params or ()], "plan": plan}
    print(RESULT_MARK + json.dumps(result, default=str), flush=True)
    return 0


def engine_run(args: argparse.Namespace, kind: str, explain_indexes: list[int] | None = None) -> dict[str, object]:
    command = [sys.executable, str(Path(__file__).resolve()), "--database", args.database, "--child", kind,
               "--timeout", str(args.timeout), "--explain-indexes", ",".join(str(i) for i in explain_indexes or [])]
    completed = subprocess.run(command, capture_output=True, text=True, check=False, cwd=PROJECT_ROOT)  # noqa: S603
    line = next((line for line in completed.stdout.splitlines() if line.startswith(RESULT_MARK)), None)
    if completed.returncode != 0 or line is None:
        raise SystemExit(f"engine run failed ({completed.returncode}):\n{completed.stdout}\n{completed.stderr}")
    return json.loads(line[len(RESULT_MARK):])


# --- the baseline: a per-recipient loop ---------------------------------------------------------

ORDER_KEY = ("priority", "scheduled", "campaign")
PER_CUSTOMER_SQL = """
SELECT cu.id, cu.branch_id, cu.objected_at IS NOT NULL, cu.consent_email, cu.consent_sms, cu.consent_post,
       cu.email, cu.mobile, cu.address_line1, cu.postal_code,
       (SELECT json_agg(json_build_array(ct.channel, ct.origin, ct.operation_id, ct.contacted_on - %(start)s::date))
          FROM central_contact ct WHERE ct.customer_id = cu.id),
       (SELECT json_agg(json_build_array(ca.id, ca.campaign_id, ca.channel, ca.origin, ca.operation_id, ca.priority,
                                         ca.send_date - %(start)s::date, extract(epoch FROM ca.scheduled_at),
                                         ca.branch_id))
          FROM bench_send_list ca WHERE ca.customer_id = cu.id)
  FROM central_customer cu WHERE cu.id = ANY(%(ids)s)
"""


@dataclass(slots=True)
class LoopCandidate:
    id: int
    campaign: int
    channel: str
    origin: str
    operation: int | None
    priority: int
    day: int  # send date - starts_on
    scheduled: float
    branch: int | None

    @property
    def order(self) -> tuple:
        return (self.priority, self.scheduled, self.campaign)


@dataclass(slots=True)
class LoopCustomer:
    id: int
    branch: int
    objected: bool
    consent: dict[str, str]
    email: str
    mobile: str
    address_line1: str
    postal_code: str
    contacts: list[tuple[str, str, int | None, int]]  # channel, origin, operation, day (contacted_on - starts_on)
    candidates: list[LoopCandidate]


@dataclass
class LoopContext:
    rules: object
    starts_on: date
    suppressed: dict[str, set[str]]
    campaign_branch: dict[int, int | None]
    twins: dict[str, dict[str, list[int]]]  # channel -> lower(address) -> customer ids sharing it
    shared_with: dict[int, list[int]] = field(default_factory=dict)  # customer -> those with a smaller id
    holdout: dict[int, int] = field(default_factory=dict)  # campaign -> its control group, in 1/100 %


def _customer(row) -> LoopCustomer:
    candidates = [LoopCandidate(*item) for item in row[11] or []]
    candidates.sort(key=lambda c: c.order)
    return LoopCustomer(row[0], row[1], row[2], {"email": row[3], "sms": row[4], "post": row[5]}, row[6], row[7],
                        row[8], row[9], [tuple(item) for item in row[10] or []], candidates)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def early_rules(customer: LoopCustomer, ctx: LoopContext) -> tuple[dict[int, tuple], list[LoopCandidate]]:
    """Steps 1–2 of the engine, which depend on the customer alone: (exclusions, still pending in
    the engine's order)."""
    from central.models import Channel, ConsentStatus, Reason

    rules = ctx.rules
    out: dict[int, tuple] = {}
    pending = list(customer.candidates)

    def drop(predicate, reason) -> None:
        nonlocal pending
        kept = []
        for c in pending:
            if predicate(c):
                out[c.id] = (False, reason, None)
            else:
                kept.append(c)
        pending = kept

    drop(lambda c: customer.objected, Reason.OBJECTION)
    drop(lambda c: c.channel in Channel.values and customer.consent[c.channel] != ConsentStatus.GRANTED,
         Reason.NO_CONSENT)
    drop(lambda c: (c.channel == Channel.EMAIL and customer.email == "")
         or (c.channel == Channel.SMS and customer.mobile == "")
         or (c.channel == Channel.POST and (customer.address_line1 == "" or customer.postal_code == "")),
         Reason.NO_ADDRESS)
    drop(lambda c: (c.channel == Channel.EMAIL and _sha256(customer.email.lower()) in ctx.suppressed["email"])
         or (c.channel == Channel.SMS and _sha256(customer.mobile.lower()) in ctx.suppressed["sms"]),
         Reason.SUPPRESSED)
    drop(lambda c: c.branch is not None and ctx.campaign_branch[c.campaign] is not None
         and customer.branch != ctx.campaign_branch[c.campaign], Reason.NOT_OWNER)
    if rules.quiet_weekdays:
        drop(lambda c: (ctx.starts_on + timedelta(days=c.day)).isoweekday() in rules.quiet_weekdays,
             Reason.QUIET_PERIOD)
    if rules.one_per_operation:
        contacted = {operation for _ch, _or, operation, _d in customer.contacts if operation is not None}
        drop(lambda c: c.operation is not None and c.operation in contacted, Reason.ALREADY_CONTACTED)
        seen: set[int] = set()

        def not_first(c: LoopCandidate) -> bool:
            if c.operation is None:
                return False
            if c.operation in seen:
                return True
            seen.add(c.operation)
            return False

        drop(not_first, Reason.SAME_OPERATION)
    return out, pending


def decide(customer: LoopCustomer, twins: dict[int, LoopCustomer], ctx: LoopContext) -> dict[int, tuple]:
    """The engine's rules for one customer, in its order: {candidate id: (selected, reason, lost_to)}."""
    from central.arbitration import holdout_drawn
    from central.models import Channel, Origin, Reason

    rules = ctx.rules
    out, pending = early_rules(customer, ctx)
    # one per address per campaign: a customer sharing the address with a smaller id, still pending
    # for the same campaign after the steps above, goes first
    duplicates = set()
    for channel, address in ((Channel.EMAIL, customer.email), (Channel.SMS, customer.mobile)):
        others = [twins[i] for i in ctx.twins[channel].get(address.lower(), ()) if i < customer.id and i in twins]
        if not others:
            continue
        taken = {c.campaign for other in others for c in early_rules(other, ctx)[1] if c.channel == channel}
        duplicates |= {c.id for c in pending if c.channel == channel and c.campaign in taken}
    for c in pending:
        if c.id in duplicates:
            out[c.id] = (False, Reason.DUPLICATE_ADDRESS, c.campaign)
    pending = [c for c in pending if c.id not in duplicates]

    def past(days: int, **match: str) -> int:
        return sum(1 for channel, origin, _op, day in customer.contacts
                   if -days <= day < 0 and match.get("channel", channel) == channel
                   and match.get("origin", origin) == origin)

    def cap(candidates: list[LoopCandidate], allowed: int, reason: str) -> None:
        nonlocal pending
        over = {c.id for c in candidates[max(allowed, 0):]}
        for c in candidates:
            if c.id in over:
                out[c.id] = (False, reason, None)
        pending = [c for c in pending if c.id not in over]

    for channel, spec in sorted((rules.channel_caps or {}).items()):
        count, days = int(spec.get("count", 0)), int(spec.get("days", rules.cap_days))
        cap([c for c in pending if c.channel == channel], count - past(days, channel=channel), Reason.CHANNEL_CAP)
    for origin, reserved in ((Origin.LOCAL, rules.national_reserved), (Origin.NATIONAL, rules.local_reserved)):
        if reserved:
            cap([c for c in pending if c.origin == origin],
                rules.cap_total - reserved - past(rules.cap_days, origin=origin), Reason.QUOTA)
    cap([c for c in pending if c.origin != Origin.TRANSACTIONAL], rules.cap_total - past(rules.cap_days),
        Reason.PRESSURE_CAP)
    selected = pending
    for c in selected:
        # the control group: drawn among those the rules select (they keep the slot they took)
        held = ctx.holdout.get(c.campaign, 0) and holdout_drawn(customer.id, c.campaign) < ctx.holdout[c.campaign]
        out[c.id] = (False, Reason.HOLDOUT, None) if held else (True, "", None)
    # who each loser lost to, as the engine's final UPDATEs say it
    for c in customer.candidates:
        chosen, reason, _lost_to = out[c.id]
        winners: list[LoopCandidate] = []
        if reason == Reason.SAME_OPERATION:
            winners = [w for w in selected if w.operation == c.operation][:1]
        elif reason == Reason.CHANNEL_CAP:
            winners = [w for w in selected if w.channel == c.channel][-1:]
        elif reason == Reason.QUOTA:
            winners = [w for w in selected if w.origin == c.origin][-1:]
        elif reason == Reason.PRESSURE_CAP:
            winners = [w for w in selected if w.origin != Origin.TRANSACTIONAL][-1:]
        if winners:
            out[c.id] = (chosen, reason, winners[0].campaign)
    return out


def loop_campaign(campaign, rules) -> tuple[str, int, int | None, datetime]:
    """What the loop knows of a campaign, written here from the rules as docs/arbitration.md states
    them (not taken from the engine): its origin (national: the head office's own sends and the
    branches' campaigns of calendar operations; local: kit uses and a branch's own), its priority
    (0 for an operation flagged national priority, then the rank of the origin in the network's
    order + 1), the operation "one message per operation" counts (a calendar operation, not a kit)
    and when it was scheduled (its last "scheduled" event, else its creation)."""
    from central.models import CampaignEvent, OperationMode, Origin

    operation = campaign.operation
    calendar = operation is not None and operation.mode != OperationMode.KIT
    origin = Origin.NATIONAL if campaign.branch_id is None or calendar else Origin.LOCAL
    order = list(rules.priority_order or [Origin.TRANSACTIONAL, Origin.LOCAL, Origin.NATIONAL])
    if operation is not None and operation.national_priority:
        priority = 0
    else:
        priority = (order.index(origin) if origin in order else len(order)) + 1
    event = CampaignEvent.objects.filter(campaign=campaign, action="scheduled").order_by("-at").first()
    return str(origin), priority, operation.pk if calendar else None, event.at if event else campaign.created_at


def build_send_list(network) -> tuple[int, float]:
    """The loop's candidates, as a classic tool lists each campaign's audience before its
    per-recipient checks: one INSERT … SELECT per campaign into a temporary table (the campaign's
    criteria, ``central.campaigns.targeting.apply_criteria``, over its branch's customers, or the network's,
    plus those added by hand, minus those removed), with the campaign's attributes of
    ``loop_campaign``. Returns (rows, seconds)."""
    from django.db import connection
    from django.utils import timezone

    from central.arbitration import SIMULATION_STATUSES, rules_for
    from central.campaigns.targeting import apply_criteria
    from central.models import Campaign, Customer, TargetOverride

    started = time.perf_counter()
    rules = rules_for(network)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_send_list")
        cursor.execute("CREATE TEMPORARY TABLE bench_send_list (id bigserial, customer_id bigint, campaign_id bigint, "
                       "branch_id bigint, channel varchar(8), origin varchar(16), operation_id bigint, "
                       "priority smallint, send_date date, scheduled_at timestamptz)")
        campaigns = Campaign.objects.filter(network=network, send_date__range=(WEEK_START, WEEK_END),
                                            status__in=SIMULATION_STATUSES).select_related("operation")
        for campaign in campaigns:
            base = Customer.objects.filter(network_id=campaign.network_id).order_by()
            scope = base.filter(branch_id=campaign.branch_id) if campaign.branch_id else base
            overrides = TargetOverride.objects.filter(campaign=campaign)
            excluded = overrides.filter(action=TargetOverride.Action.EXCLUDE).values("customer_id")
            audience = apply_criteria(scope, campaign.target_criteria, today=timezone.localdate()).exclude(
                pk__in=excluded).values("id", "branch_id")
            if overrides.filter(action=TargetOverride.Action.INCLUDE).exists():
                included = overrides.filter(action=TargetOverride.Action.INCLUDE).values("customer_id")
                audience = audience.union(base.filter(pk__in=included).exclude(pk__in=excluded).values("id", "branch_id"))
            select_sql, params = audience.query.sql_with_params()
            origin, priority, operation, scheduled_at = loop_campaign(campaign, rules)
            cursor.execute(
                "INSERT INTO bench_send_list (customer_id, campaign_id, branch_id, channel, origin, operation_id, "
                f"priority, send_date, scheduled_at) SELECT s.id, %s, s.branch_id, %s, %s, %s, %s, %s, %s FROM ({select_sql}) s",
                [campaign.pk, campaign.channel, origin, operation, priority, campaign.send_date, scheduled_at, *params])
        cursor.execute("CREATE INDEX ON bench_send_list (customer_id)")
        cursor.execute("ANALYZE bench_send_list")
        cursor.execute("SELECT count(*) FROM bench_send_list")
        rows = cursor.fetchone()[0]
    return rows, time.perf_counter() - started


def loop_context(network) -> LoopContext:
    """What the loop loads once: the rules, the suppression list, the campaigns' branches and the
    lists of addresses shared by several customers (for the one-per-address rule)."""
    from central.arbitration import rules_for
    from central.models import Campaign, Suppression

    suppressed: dict[str, set[str]] = {"email": set(), "sms": set()}
    for channel, value in Suppression.objects.filter(network=network).values_list("channel", "value_hash"):
        suppressed.setdefault(channel, set()).add(value)
    campaign_branch = dict(Campaign.objects.filter(network=network).values_list("pk", "branch_id"))
    holdout = {pk: share * 100 for pk, share in Campaign.objects.filter(network=network, operation__holdout_percent__gt=0)
               .values_list("pk", "operation__holdout_percent")}
    twins: dict[str, dict[str, list[int]]] = {}
    for channel, column in (("email", "email"), ("sms", "mobile")):
        twins[channel] = dict(sql_rows(
            f"SELECT lower({column}), array_agg(id ORDER BY id) FROM central_customer "
            f"WHERE network_id = %s AND {column} <> '' GROUP BY lower({column}) HAVING count(*) > 1", [network.pk]))
    shared_with: dict[int, set[int]] = {}
    for lists in twins.values():
        for ids in lists.values():
            for customer_id in ids:
                shared_with.setdefault(customer_id, set()).update(i for i in ids if i < customer_id)
    return LoopContext(rules_for(network), WEEK_START, suppressed, campaign_branch, twins,
                       {key: sorted(value) for key, value in shared_with.items() if value}, holdout)


def baseline(network, sample_size: int, seed: int) -> dict[str, object]:
    """The per-recipient loop on a seeded sample of the candidate customers."""
    from django.db import connection

    send_list_rows, send_list_seconds = build_send_list(network)
    customers = [row[0] for row in sql_rows("SELECT DISTINCT customer_id FROM bench_send_list ORDER BY 1")]
    sample = sorted(random.Random(seed + 71).sample(customers, min(sample_size, len(customers))))
    started = time.perf_counter()
    ctx = loop_context(network)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_loop_decision")
        cursor.execute("CREATE TEMPORARY TABLE bench_loop_decision (customer_id bigint, campaign_id bigint, "
                       "selected boolean, reason varchar(20), lost_to_id bigint)")
    context_seconds = time.perf_counter() - started
    decisions: dict[tuple[int, int], tuple] = {}
    per_customer_ms: list[float] = []
    batch: list[str] = []
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for number, customer_id in enumerate(sample, start=1):
            began = time.perf_counter()
            # one query: the customer, and those sharing one of its addresses with a smaller id
            # (known from the list of shared addresses loaded once)
            cursor.execute(PER_CUSTOMER_SQL, {"start": WEEK_START,
                                              "ids": [customer_id, *ctx.shared_with.get(customer_id, ())]})
            loaded = {row[0]: _customer(row) for row in cursor.fetchall()}
            customer = loaded.pop(customer_id)
            campaign_of = {c.id: c.campaign for c in customer.candidates}
            for candidate_id, (selected, reason, lost_to) in decide(customer, loaded, ctx).items():
                decisions[(customer_id, campaign_of[candidate_id])] = (selected, reason, lost_to)
                batch.append(f"{customer_id}\t{campaign_of[candidate_id]}\t{'t' if selected else 'f'}\t{reason}\t"
                             f"{lost_to if lost_to is not None else chr(92) + 'N'}\n")
            if number % 1000 == 0 or number == len(sample):
                with cursor.copy("COPY bench_loop_decision FROM STDIN") as copy:
                    copy.write("".join(batch))
                batch.clear()
            per_customer_ms.append((time.perf_counter() - began) * 1000)
    loop_seconds = time.perf_counter() - started
    return {"sample": len(sample), "candidate_customers": len(customers), "candidates": send_list_rows,
            "send_list_seconds": send_list_seconds, "context_seconds": context_seconds,
            "loop_seconds": loop_seconds, "queries": len(sample), "decisions": decisions,
            "per_customer_ms": per_customer_ms, "sample_ids": sample}


def compare(run_id: int, loop: dict[str, object]) -> dict[str, object]:
    """The engine's decisions for the sampled customers against the loop's, by (customer, campaign)."""
    engine = {(row[0], row[1]): row[2:] for row in sql_rows(
        "SELECT customer_id, campaign_id, selected, reason, lost_to_id FROM central_candidate "
        "WHERE run_id = %s AND customer_id = ANY(%s)", [run_id, loop["sample_ids"]])}
    mine = loop["decisions"]
    selected_engine = {key for key, value in engine.items() if value[0]}
    selected_loop = {key for key, value in mine.items() if value[0]}
    mismatches, lost_to_mismatches = [], []
    for key in sorted(engine.keys() | mine.keys()):
        theirs, ours = engine.get(key), mine.get(key)
        if theirs is None or ours is None or theirs[:2] != tuple(ours[:2]):
            mismatches.append({"customer_campaign": key, "engine": theirs, "loop": ours})
        elif theirs[2] != ours[2]:
            lost_to_mismatches.append({"customer_campaign": key, "engine": theirs, "loop": ours})
    return {
        "candidates_engine": len(engine), "candidates_loop": len(mine),
        "same_candidates": engine.keys() == mine.keys(),
        "selected_engine": len(selected_engine), "selected_loop": len(selected_loop),
        "selected_same": selected_engine == selected_loop,
        "selected_only_engine": sorted(selected_engine - selected_loop)[:50],
        "selected_only_loop": sorted(selected_loop - selected_engine)[:50],
        "reason_mismatches": len(mismatches), "lost_to_mismatches": len(lost_to_mismatches),
        "examples": (mismatches + lost_to_mismatches)[:20],
    }


# --- report ------------------------------------------------------------------------------------


def machine_info() -> dict[str, object]:
    info = host_info()
    for name in ("shared_buffers", "work_mem", "maintenance_work_mem", "effective_cache_size", "random_page_cost",
                 "jit", "max_parallel_workers_per_gather", "synchronous_commit", "max_wal_size"):
        info[name] = sql_value(f"SHOW {name}")
    for table in ("central_customer", "central_contact", "central_candidate"):
        info[f"{table}_size"] = sql_value("SELECT pg_size_pretty(pg_total_relation_size(%s))", [table])
    return info


def describe_statements(statements: list[dict[str, object]], total: float) -> list[dict[str, object]]:
    """Seconds per step of the engine (the INSERTs of all campaigns summed), slowest first."""
    steps: dict[str, dict[str, object]] = {}
    for s in statements:
        step = steps.setdefault(s["label"], {"label": s["label"], "seconds": 0.0, "statements": 0, "rows": 0})
        step["seconds"] += s["seconds"]
        step["statements"] += 1
        step["rows"] += max(s["rows"], 0)
    ordered = sorted(steps.values(), key=lambda step: -step["seconds"])
    for step in ordered:
        step["share"] = step["seconds"] / total if total else 0.0
    return ordered


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=DEFAULT_DATABASE_URL,
                        help=f"PostgreSQL URL of the benchmark's own database (default {DEFAULT_DATABASE_URL})")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of the engine (default 3)")
    parser.add_argument("--sample", type=int, default=20_000, help="customers of the baseline loop (default 20000)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--customers", type=int, default=REFERENCE_CUSTOMERS)
    parser.add_argument("--explain", type=int, default=4,
                        help="slowest steps whose slowest statement is EXPLAIN ANALYZEd (default 4)")
    parser.add_argument("--timeout", type=float, default=1200.0,
                        help="seconds after which an engine run is cancelled and reported unfinished (default 1200)")
    parser.add_argument("--no-profile", action="store_true", help="skip the EXPLAIN ANALYZE run")
    parser.add_argument("--setup-only", action="store_true", help="build the workload, measure nothing")
    parser.add_argument("--out", type=Path, default=OUT_DIR / "arbitration-benchmark.json")
    parser.add_argument("--child", choices=("run", "memory", "profile", "explain"), help=argparse.SUPPRESS)
    parser.add_argument("--explain-indexes", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child_main(args)

    started_at = datetime.now(UTC)
    print(f"started       {started_at:%Y-%m-%d %H:%M} UTC")
    name, created = ensure_database(args.database)
    print(f"database      {name}{' (created)' if created else ''}")
    use_database(args.database)
    network = ensure_customers(customers=args.customers, seed=args.seed)
    plan = week_plan(network, args.seed)
    ensure_week(network, plan)
    ensure_contacts(network, plan, args.seed)
    mix = customer_mix(network)
    workload = workload_figures(network)
    print(f"customers     {mix['customers']:,}: e-mail opt-in {mix['email_optin']:.1%}, SMS {mix['sms_optin']:.1%}, "
          f"objection {mix['objection']:.1%} (reachable: e-mail {mix['email_reachable']:.1%}, SMS "
          f"{mix['sms_reachable']:.1%}); {mix['branches']} branches, largest {mix['largest_branch']:,}, median "
          f"{mix['median_branch']:,}, smallest {mix['smallest_branch']:,}, top 10 hold {mix['top10_share']:.1%}")
    print(f"week          {workload['week'][0]} – {workload['week'][1]}: {workload['campaigns']} approved campaigns "
          f"({workload['national_joined']} of branches joining {workload['national_operations']} national "
          f"operations, {workload['national_head_office']} head-office sends, {workload['local_kit']} local kit "
          f"uses); national priority: {', '.join(workload['national_priority'])}")
    print(f"contacts      {workload['contacts']:,} from {workload['contacts_from']} to {workload['contacts_to']} "
          f"({workload['contacted_customers']:,} customers; {workload['contacts_last_7_days']:,} in the last 7 days; "
          f"{workload['contacts_sms']:,} SMS; {workload['contacts_of_an_operation']:,} of the first wave)")
    print(f"rules         {json.dumps(RULES)}")
    info = machine_info()
    print(f"machine       {info['cpus']} CPUs ({info['cpu_model']}), {info['memory_gb']} GB, PostgreSQL "
          f"{info['postgresql']}, Python {info['python']}, Django {info['django']}, load {info['load_average']}")
    print("postgresql    " + ", ".join(f"{key} {info[key]}" for key in (
        "shared_buffers", "work_mem", "effective_cache_size", "random_page_cost", "jit",
        "max_parallel_workers_per_gather", "synchronous_commit")))
    results: dict[str, object] = {"started_at": started_at.isoformat(timespec="seconds"), "seed": args.seed,
                                  "database": name, "machine": info, "customers": mix, "workload": workload,
                                  "rules": RULES, "plan_fingerprint": plan["fingerprint"]}
    if args.setup_only:
        return 0

    # 1. the set-based engine: first one run under tracemalloc (which slows Python down) for the
    # peak of Python memory, not timed; then the timed runs
    memory = engine_run(args, "memory")
    if memory["outcome"] == "finished":
        print(f"memory run    under tracemalloc: peak {memory['tracemalloc_peak_mb']:.1f} MB, ru_maxrss "
              f"{memory['ru_maxrss_mb']:.0f} MB ({memory['seconds']:.2f} s, not timed with the runs)", flush=True)
    runs = []
    for number in range(1, args.runs + 1):
        result = engine_run(args, "run")
        runs.append(result)
        if result["outcome"] != "finished":
            running = result.get("running_at_timeout", {})
            print(f"engine run {number}  DID NOT FINISH within {args.timeout:.0f} s (cancelled by the watchdog, rolled "
                  f"back) after {len(result['statements'])} statements; running then: statement {running.get('index')}, "
                  f"{running.get('label')}", flush=True)
            print("              the remaining runs are skipped")
            break
        summary = result["summary"]
        print(f"engine run {number}  {result['seconds']:.2f} s for {summary['candidates']:,} candidates "
              f"({summary['candidates'] / result['seconds']:,.0f}/s), {summary['selected']:,} selected; "
              f"ru_maxrss {result['ru_maxrss_mb']:.0f} MB (RSS before the call {result['rss_before_mb']:.0f} MB)",
              flush=True)
    finished = [r for r in runs if r["outcome"] == "finished"]
    complete = len(finished) == len(runs)
    reference = finished[-1] if finished else None
    seconds = [r["seconds"] for r in finished]
    median = statistics.median(seconds) if complete else None
    peak = memory["tracemalloc_peak_mb"]
    maxrss = max(r["ru_maxrss_mb"] for r in [*runs, memory])
    if reference:
        summary = reference["summary"]
        print(f"decisions     {summary['campaigns']} campaigns, {summary['candidates']:,} candidates, "
              f"{summary['selected']:,} selected; excluded: " + ", ".join(
                  f"{reason} {n:,}" for reason, n in sorted(summary["excluded"].items(), key=lambda x: -x[1])))
    steps = describe_statements(runs[0]["statements"], runs[0]["seconds"])
    print(f"profile       run 1, each statement timed ({len(runs[0]['statements'])} statements"
          f"{'' if runs[0]['outcome'] == 'finished' else ' before the timeout'}):")
    for step in steps[:14]:
        print(f"  {step['seconds']:8.2f} s {step['share']:6.1%}  {step['statements']:>4} × {step['label']} "
              f"({step['rows']:,} rows)")

    # 2. the baseline, same run
    print(f"baseline      per-recipient loop on a seeded sample of {args.sample:,} candidate customers…", flush=True)
    loop = baseline(network, args.sample, args.seed)
    per_customer = loop["loop_seconds"] / loop["sample"]
    distinct = loop["candidate_customers"]
    fixed = loop["send_list_seconds"] + loop["context_seconds"]
    extrapolated = fixed + per_customer * distinct
    times = sorted(loop["per_customer_ms"])
    print(f"baseline      candidates listed once, one INSERT … SELECT per campaign: {loop['candidates']:,} "
          f"({distinct:,} customers) in {loop['send_list_seconds']:.1f} s; rules, suppressions and shared addresses "
          f"loaded once in {loop['context_seconds']:.1f} s")
    print(f"baseline      {loop['sample']:,} customers in {loop['loop_seconds']:.1f} s ({loop['queries']:,} queries, "
          f"{per_customer * 1000:.2f} ms per customer: p50 {times[len(times) // 2]:.2f}, p95 "
          f"{times[int(len(times) * 0.95)]:.2f} ms)")
    print(f"baseline      EXTRAPOLATED to all {distinct:,} candidate customers from the sample of {loop['sample']:,} "
          f"({loop['sample'] / distinct:.1%}): {fixed:.1f} + {per_customer * 1000:.2f} ms × {distinct:,} = "
          f"{extrapolated:,.0f} s ({extrapolated / 60:.1f} min)")
    agreement = None
    if reference:
        agreement = compare(reference["run_id"], loop)
        print(f"agreement     sampled customers: candidates {'identical' if agreement['same_candidates'] else 'DIFFERENT'}"
              f" ({agreement['candidates_engine']:,} engine, {agreement['candidates_loop']:,} loop); selected set "
              f"{'IDENTICAL' if agreement['selected_same'] else 'DIFFERENT'} (engine {agreement['selected_engine']:,}, "
              f"loop {agreement['selected_loop']:,}); reason mismatches {agreement['reason_mismatches']}, lost_to "
              f"mismatches {agreement['lost_to_mismatches']}")
        for example in agreement["examples"]:
            print(f"  mismatch    {example}")
    else:
        print("agreement     not checked: no engine run finished (its candidates were rolled back)")
    loop.pop("decisions")
    loop.pop("sample_ids")
    loop["per_customer_ms"] = {"mean": statistics.mean(times), "p50": times[len(times) // 2],
                               "p95": times[int(len(times) * 0.95)], "max": times[-1]}
    # an unfinished run took longer than the timeout: the ratio is then at most this
    ratio = extrapolated / (median if median is not None else args.timeout)
    verdicts = {"time": median is not None and median <= TARGET_SECONDS, "memory": peak <= TARGET_PEAK_MB,
                "ratio": median is not None and ratio >= TARGET_RATIO,
                "agreement": bool(agreement and agreement["selected_same"])}
    results.update({
        "timeout": args.timeout, "runs_requested": args.runs,
        "runs": [{k: v for k, v in r.items() if k != "statements" or index == 0} for index, r in enumerate(runs)],
        "seconds": {"median": median, "min": min(seconds, default=None), "max": max(seconds, default=None),
                    "all": seconds, "complete": complete},
        "candidates": reference["summary"]["candidates"] if reference else loop["candidates"],
        "candidates_per_second": (reference["summary"]["candidates"] / median) if median else None,
        "distinct_candidate_customers": distinct, "tracemalloc_peak_mb": peak, "ru_maxrss_mb": maxrss,
        "steps_run1": steps,
        "baseline": loop | {"extrapolated_seconds": extrapolated, "extrapolated": True},
        "ratio": ratio, "ratio_is_upper_bound": median is None, "agreement": agreement, "verdicts": verdicts,
    })

    # 3. the plans of the slowest statements, at the same point of a run
    if not args.no_profile:
        plans = explain_slowest(args, runs[0], steps)
        results["explain"] = plans

    candidates = results["candidates"]
    print(f"\n== arbitration of network-1M ({candidates:,} candidates, {len(runs)} engine runs) ==")
    if median is not None:
        print(f"  set-based engine     median {median:.2f} s (min {min(seconds):.2f}, max {max(seconds):.2f}), "
              f"{candidates / median:,.0f} candidates/s")
    else:
        print(f"  set-based engine     DID NOT FINISH within {args.timeout:.0f} s")
    print(f"  peak Python memory   tracemalloc {peak:.1f} MB, ru_maxrss {maxrss:.0f} MB (child process)")
    print(f"  baseline (loop)      {extrapolated:,.0f} s EXTRAPOLATED from {loop['sample']:,} of {distinct:,} customers")
    print(f"  speed ratio          {'' if median is not None else '< '}{ratio:,.1f}×")
    print(f"  target ≤ {TARGET_SECONDS:.0f} s: {'PASS' if verdicts['time'] else 'FAIL'}; peak ≤ {TARGET_PEAK_MB:.0f} MB: "
          f"{'PASS' if verdicts['memory'] else 'FAIL'}; ≥ {TARGET_RATIO:.0f}× the loop: "
          f"{'PASS' if verdicts['ratio'] else 'FAIL'}; engine and loop agree on the sample: "
          f"{'yes' if verdicts['agreement'] else 'NO' if agreement else 'not checked'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    print(f"\nresults       {args.out}")
    return 0


def explain_slowest(args: argparse.Namespace, first: dict[str, object], steps: list[dict[str, object]]) -> list:
    """EXPLAIN (ANALYZE, BUFFERS) of the slowest statement of each of the slowest steps of run 1,
    in one more run that sends them as EXPLAIN ANALYZE at the same point (so on the same data)
    and stops after the last; plus the plain EXPLAIN of the statement a timeout interrupted."""
    statements = [s for s in first["statements"] if s["explainable"]]
    picked = []
    for step in [step for step in steps if any(s["label"] == step["label"] for s in statements)][:args.explain]:
        slowest = max((s for s in statements if s["label"] == step["label"]), key=lambda s: s["seconds"])
        picked.append(slowest["index"])
    explained = engine_run(args, "explain", picked) if picked else {"statements": []}
    plans = [{k: s[k] for k in ("index", "label", "seconds", "sql", "plan")} | {"analyze": True}
             for s in explained["statements"] if s["plan"]]
    running = first.get("running_at_timeout")
    if running:
        plans.append({"index": running["index"], "label": running["label"], "seconds": None,
                      "sql": running["sql"], "params": running["params"], "plan": running["plan"], "analyze": False})
    path = args.out.with_name(args.out.stem + "-explain.txt")
    with path.open("w", encoding="utf-8") as stream:
        for plan in plans:
            what = (f"{plan['seconds']:.2f} s under EXPLAIN ANALYZE" if plan["analyze"]
                    else "running when the timeout cancelled the run: plain EXPLAIN, parameters " + ", ".join(
                        plan.get("params", [])))
            stream.write(f"-- statement {plan['index']}: {plan['label']} ({what})\n{plan['sql']}\n\n{plan['plan']}\n\n")
    print(f"explain       {len(plans)} plans (slowest statement of each of the {len(picked)} slowest steps"
          f"{', and the one the timeout interrupted' if running else ''}): {path}")
    for plan in plans:
        print(f"  statement {plan['index']}: {plan['label']}"
              + (f", {plan['seconds']:.2f} s under EXPLAIN ANALYZE" if plan["analyze"] else ", interrupted"))
    return plans


if __name__ == "__main__":
    sys.exit(main())
