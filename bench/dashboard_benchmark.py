"""Dashboard response time at 10,000,000 events (targets.md: p95 ≤ 200 ms), against the same
figures computed from the raw events in the same run.

    .venv/bin/python bench/dashboard_benchmark.py [--database postgres://…/relais_dashboard_bench]
        [--requests 40] [--rebuild]

1. builds (once, seeded; reused while it is complete) its own PostgreSQL database: the 200-branch
   network of bench/generate_network.py with 200,000 customers loaded through the real import;
   2,000 campaigns sent over the year 2026 (a tenth by head office, six tenths branches joining 20
   national operations, three tenths local kit uses; 80 % e-mail), 1,000 deliveries each
   (2,000,000, SQL ``INSERT … SELECT``), and exactly 10,000,000 events tied to them — the providers'
   (delivered, bounces, repeated opens and clicks, spam reports) and Relais's own (first open, one
   per link clicked, unsubscriptions) —; then the roll-ups, built by ``rollups_refresh(everything=True)``
   (timed and printed: that is the task's cost for a whole year at once);
2. times the dashboard as its users load it — Django's test client, the whole view, the template
   and the SVG chart included — for head office (the year by operation, a quarter by region, the
   API), a regional manager (a quarter by branch) and a branch manager (the year by campaign, with
   the comparison with the network): ``--requests`` each after two warm-ups; p50 and p95;
3. the baseline of the same run: head office's totals for the year computed from the raw events
   (the query a dashboard without roll-ups would send: deliveries and both event tables of the
   network's campaigns, first event of each kind per message), three times; its median, and the
   ratio.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from arbitration_benchmark import _published_version, _user, ensure_database, sql_value, use_database
from generate_network import SEED, ensure_customers, host_info

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/relais_dashboard_bench"
CUSTOMERS = 200_000
CAMPAIGNS = 2_000
DELIVERIES_PER_CAMPAIGN = 1_000
EVENTS = 10_000_000
YEAR = (date(2026, 1, 1), date(2026, 11, 15))
PREFIX = "Bench tableau de bord"
OUT = Path(__file__).resolve().parent / "out"


def ensure_workload(network, seed: int, rebuild: bool) -> dict:
    """The campaigns, deliveries, events and roll-ups (reused when complete)."""
    from django.db import connection, transaction

    from central.models import Campaign, CampaignStatus, Operation, OperationMode, OperationStatus
    from local_stores.models import Node, NodeKind, Role
    from local_stores.services import role_grant
    from reporting.models import DailyStat
    from reporting.services import rollups_refresh

    events = (sql_value("SELECT COUNT(*) FROM central_trackingevent")
              + sql_value("SELECT COUNT(*) FROM reporting_providerevent"))
    if not rebuild and events == EVENTS and DailyStat.objects.exists():
        print(f"workload      reused: {Campaign.objects.filter(network=network).count():,} campaigns, "
              f"{sql_value('SELECT COUNT(*) FROM central_delivery'):,} deliveries, {events:,} events, "
              f"{DailyStat.objects.count():,} daily rows")
        return {"rollup_seconds": None}
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE reporting_dailystat, reporting_providerevent, central_trackingevent, "
                       "central_delivery CASCADE")
    Campaign.objects.filter(network=network).delete()
    Operation.objects.filter(network=network, name__startswith=PREFIX).delete()
    rng = random.Random(seed)
    head_office = Node.objects.get(network=network, kind=NodeKind.HEAD_OFFICE)
    author = _user("bench-dashboard-hq")
    role_grant(user=author, node=head_office, role=Role.HEAD_OFFICE_MARKETER)
    versions = {kind: _published_version(network=network, kind=kind, name=f"{PREFIX} ({kind})", author=author)
                for kind in ("email", "sms")}
    branches = list(Node.objects.filter(network=network, kind=NodeKind.BRANCH).order_by("code"))
    common = {"network": network, "status": OperationStatus.PUBLISHED, "created_by": author, "theme": "benchmark",
              "send_from": YEAR[0], "send_until": YEAR[1], "channels": ["email", "sms"]}
    nationals = [Operation.objects.create(name=f"{PREFIX} — opération {n + 1}", mode=OperationMode.OPT_IN, **common)
                 for n in range(20)]
    kits = [Operation.objects.create(name=f"{PREFIX} — kit {n + 1}", mode=OperationMode.KIT, **common) for n in range(2)]
    span = (YEAR[1] - YEAR[0]).days
    campaigns = []
    for _number in range(CAMPAIGNS):
        draw = rng.random()
        channel = "email" if rng.random() < 0.8 else "sms"
        branch = None if draw < 0.1 else rng.choice(branches)
        operation = rng.choice(nationals) if draw < 0.7 else rng.choice(kits)
        campaigns.append(Campaign(network=network, branch=branch, operation=operation, channel=channel,
                                  template_version=versions[channel], status=CampaignStatus.SENT, created_by=author,
                                  send_date=YEAR[0] + timedelta(days=rng.randrange(span))))
    with transaction.atomic():
        Campaign.objects.bulk_create(campaigns)
    customers = sql_value("SELECT COUNT(*) FROM central_customer WHERE network_id = %s", [network.pk])
    with connection.cursor() as cursor:
        # 1,000 distinct customers per campaign (a step prime to their number), sent from 9:00 on its day
        cursor.execute(
            "INSERT INTO central_delivery (campaign_id, customer_id, channel, status, token, attempts, last_error, "
            "queued_at, sent_at, finished_at, provider_id, reason) "
            "WITH u AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM central_customer "
            "WHERE network_id = %(network)s), "
            "c AS (SELECT id, channel, send_date, row_number() OVER (ORDER BY id) AS rn FROM central_campaign "
            "WHERE network_id = %(network)s), "
            "pairs AS (SELECT c.id AS campaign_id, c.channel, j, (c.rn * 7919 + j * 104729) %% %(customers)s AS n, "
            "(c.send_date + time '09:00' + j * interval '2 seconds') AT TIME ZONE 'Europe/Paris' AS t "
            "FROM c CROSS JOIN generate_series(0, %(per)s - 1) AS j) "
            "SELECT p.campaign_id, u.id, p.channel, 'sent', 't_' || md5(p.campaign_id || '-' || p.j), 0, '', p.t, p.t, "
            "p.t, '<' || p.campaign_id || '.' || p.j || '@bench.relais>', '' FROM pairs p JOIN u ON u.n = p.n",
            {"network": network.pk, "customers": customers, "per": DELIVERIES_PER_CAMPAIGN})
        deliveries = cursor.rowcount
        # each e-mail's events by a hash of its id: 95 % delivered, 2 % hard and 1 % soft bounces, 35 %
        # opened within four days (a first open recorded by Relais, repeated opens by the provider on
        # the days after), 10 % clicked (two links each, in both trackings), 0.5 % unsubscribed within
        # eight days, 0.05 % spam reports
        base = ("FROM central_delivery d CROSS JOIN LATERAL (SELECT abs(hashtext(d.token)) %% 10000 AS h) x "
                "WHERE d.channel = 'email'")
        links = base.replace("FROM central_delivery d", "FROM central_delivery d CROSS JOIN generate_series(1, 2) AS l")
        provider = ("INSERT INTO reporting_providerevent (delivery_id, kind, esp, event_id, url, detail, occurred_at, "
                    "recorded_at) ")
        tracking = "INSERT INTO central_trackingevent (delivery_id, kind, url, url_hash, at) "
        statements = [
            provider + "SELECT d.id, 'delivered', 'Mailgun', 'dl-' || d.id, '', '', d.sent_at + interval '1 minute', "
            "d.sent_at + interval '1 minute' " + base + " AND x.h < 9500",
            provider + "SELECT d.id, 'bounced', 'Mailgun', 'hb-' || d.id, '', 'no such user', d.sent_at + interval "
            "'1 minute', d.sent_at + interval '1 minute' " + base + " AND x.h >= 9500 AND x.h < 9700",
            provider + "SELECT d.id, 'deferred', 'Mailgun', 'sb-' || d.id, '', 'mailbox full', d.sent_at + interval "
            "'1 minute', d.sent_at + interval '1 minute' " + base + " AND x.h >= 9700 AND x.h < 9800",
            tracking + "SELECT d.id, 'open', '', '', d.sent_at + (x.h %% 97) * interval '1 hour' " + base + " AND x.h < 3500",
            tracking + "SELECT d.id, 'click', 'https://shop.example/' || l, md5('https://shop.example/' || l), "
            "d.sent_at + (x.h %% 97) * interval '1 hour' + interval '10 minutes' " + links + " AND x.h < 1000",
            provider + "SELECT d.id, 'clicked', 'Mailgun', 'ck-' || d.id || '-' || l, 'https://shop.example/' || l, "
            "'', d.sent_at + (x.h %% 97) * interval '1 hour' + interval '10 minutes', d.sent_at + (x.h %% 97) * interval "
            "'1 hour' + interval '10 minutes' " + links + " AND x.h < 1000",
            tracking + "SELECT d.id, 'unsubscribe', '', '', d.sent_at + (x.h %% 200) * interval '1 hour' " + base
            + " AND x.h >= 3000 AND x.h < 3050",
            provider + "SELECT d.id, 'complained', 'Mailgun', 'sp-' || d.id, '', '', d.sent_at + interval '5 hours', "
            "d.sent_at + interval '5 hours' " + base + " AND x.h >= 3050 AND x.h < 3055",
        ]
        written = 0
        for statement in statements:
            cursor.execute(statement, [])  # (parameters, even none: "%%" is then read as "%")
            written += cursor.rowcount
        # the openers' repeated opens, seen by the provider, up to exactly EVENTS events in all
        cursor.execute(
            provider + "SELECT d.id, 'opened', 'Mailgun', 'op-' || d.id || '-' || r, '', '', "
            "d.sent_at + (x.h %% 97) * interval '1 hour' + r * interval '1 day', "
            "d.sent_at + (x.h %% 97) * interval '1 hour' + r * interval '1 day' FROM central_delivery d "
            "CROSS JOIN generate_series(1, 40) AS r CROSS JOIN LATERAL (SELECT abs(hashtext(d.token)) %% 10000 AS h) x "
            "WHERE d.channel = 'email' AND x.h < 3500 ORDER BY r, d.id LIMIT %s", [EVENTS - written])
        written += cursor.rowcount
    for table in ("central_delivery", "central_trackingevent", "reporting_providerevent"):
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM (ANALYZE) {table}")
    print(f"workload      {CAMPAIGNS:,} campaigns, {deliveries:,} deliveries, {written:,} events written in "
          f"{time.perf_counter() - started:.0f} s", flush=True)
    if written != EVENTS:
        raise SystemExit(f"{written:,} events written, expected {EVENTS:,}")
    started = time.perf_counter()
    done = rollups_refresh(everything=True)
    rollup_seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) reporting_dailystat")
    print(f"roll-ups      {done['campaigns']:,} campaigns, {done['days']:,} daily rows built in {rollup_seconds:.0f} s "
          f"(rollups_refresh(everything=True), the whole year at once)", flush=True)
    return {"rollup_seconds": rollup_seconds, "rollup_campaigns": done["campaigns"], "rollup_days": done["days"]}


def users(network) -> dict[str, object]:
    from local_stores.models import Node, NodeKind, Role
    from local_stores.services import role_grant

    head_office = Node.objects.get(network=network, kind=NodeKind.HEAD_OFFICE)
    region = Node.objects.filter(network=network, kind=NodeKind.REGION).order_by("code").first()
    branch = Node.objects.filter(network=network, kind=NodeKind.BRANCH, parent=region).order_by("code").first()
    people = {}
    for name, node, role in (("head_office", head_office, Role.HEAD_OFFICE_MARKETER),
                             ("regional", region, Role.REGIONAL_MANAGER), ("branch", branch, Role.BRANCH_MANAGER)):
        user = _user(f"bench-dashboard-{name}")
        role_grant(user=user, node=node, role=role)
        people[name] = user
    return people


def time_requests(client, path: str, params: dict, count: int) -> list[float]:
    for _warm_up in range(2):
        response = client.get(path, params)
        if response.status_code != 200:
            raise SystemExit(f"{path} {params} answered {response.status_code}")
    seconds = []
    for _number in range(count):
        started = time.perf_counter()
        response = client.get(path, params)
        seconds.append(time.perf_counter() - started)
        assert response.status_code == 200  # noqa: S101
    return seconds


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


RAW_TOTALS_SQL = """
WITH d AS (SELECT dl.id, dl.status, dl.sent_at FROM central_delivery dl JOIN central_campaign c ON c.id = dl.campaign_id
           WHERE c.network_id = %(network)s),
ev AS (SELECT t.delivery_id, CASE t.kind WHEN 'open' THEN 'opened' WHEN 'click' THEN 'clicked'
                                         ELSE 'unsubscribed' END AS kind, t.at AS at
       FROM central_trackingevent t JOIN d ON d.id = t.delivery_id
       UNION ALL
       SELECT p.delivery_id, p.kind, p.occurred_at FROM reporting_providerevent p JOIN d ON d.id = p.delivery_id),
firsts AS (SELECT delivery_id, kind, MIN(at) AS at FROM ev GROUP BY delivery_id, kind)
SELECT (SELECT COUNT(*) FROM d WHERE d.status = 'sent' AND d.sent_at >= %(start)s AND d.sent_at < %(end)s),
       kind, COUNT(*) FROM firsts WHERE at >= %(start)s AND at < %(end)s GROUP BY kind
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the campaigns, deliveries and events")
    args = parser.parse_args(argv)
    ensure_database(args.database)
    use_database(args.database)
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    settings.ALLOWED_HOSTS = ["testserver"]
    print(f"started       {timezone.now():%Y-%m-%d %H:%M} UTC")
    network = ensure_customers(customers=CUSTOMERS, seed=args.seed)
    workload = ensure_workload(network, args.seed, args.rebuild)
    info = host_info()
    print(f"machine       {info}")
    people = users(network)
    scenarios = [
        ("head office, the year by operation", "head_office", "/reports/", {"by": "operation"}, YEAR),
        ("head office, a quarter by region", "head_office", "/reports/", {"by": "region"},
         (date(2026, 7, 1), date(2026, 9, 30))),
        ("head office, API, the year by branch", "head_office", "/api/v1/reports/", {"by": "branch"}, YEAR),
        ("regional manager, a quarter by branch", "regional", "/reports/", {"by": "branch"},
         (date(2026, 7, 1), date(2026, 9, 30))),
        ("branch manager, the year by campaign, compared", "branch", "/reports/", {"by": "campaign"}, YEAR),
    ]
    results, every = [], []
    for label, who, path, params, (starts_on, ends_on) in scenarios:
        client = Client()
        client.force_login(people[who])
        seconds = time_requests(client, path, {**params, "starts_on": starts_on.isoformat(),
                                               "ends_on": ends_on.isoformat()}, args.requests)
        every += seconds
        results.append({"scenario": label, "p50_ms": statistics.median(seconds) * 1000, "p95_ms": p95(seconds) * 1000,
                        "max_ms": max(seconds) * 1000, "requests": len(seconds)})
        print(f"dashboard     {label:<48} p50 {results[-1]['p50_ms']:6.1f} ms  p95 {results[-1]['p95_ms']:6.1f} ms  "
              f"(max {results[-1]['max_ms']:.1f}, {len(seconds)} requests)", flush=True)
    overall = p95(every) * 1000
    raw = []
    for _run in range(3):
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(RAW_TOTALS_SQL, {"network": network.pk, "start": YEAR[0], "end": YEAR[1] + timedelta(days=1)})
            cursor.fetchall()
        raw.append(time.perf_counter() - started)
    raw_median = statistics.median(raw)
    year_p50 = results[0]["p50_ms"] / 1000
    print(f"baseline      head office's year from the raw events (one query, no roll-up): median {raw_median * 1000:,.0f} ms "
          f"({', '.join(f'{s * 1000:,.0f}' for s in raw)})")
    print()
    print(f"== dashboards at {EVENTS:,} events ==")
    print(f"  p95 over every request    {overall:.1f} ms ({len(every)} requests) — target ≤ 200 ms: "
          f"{'PASS' if overall <= 200 else 'FAIL'}")
    print(f"  same year, raw events     {raw_median * 1000:,.0f} ms: the roll-ups answer {raw_median / year_p50:,.0f}× "
          f"faster (p50 of the page, whole view and template included)")
    OUT.mkdir(exist_ok=True)
    path = OUT / "dashboard-benchmark.json"
    path.write_text(json.dumps({"events": EVENTS, "workload": workload, "machine": info, "scenarios": results,
                                "p95_ms": overall, "raw_seconds": raw, "started_at": timezone.now().isoformat()},
                               indent=2, default=str))
    print(f"\nresults       {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
