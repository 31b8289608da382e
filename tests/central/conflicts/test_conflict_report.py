"""The conflict report (issue 18, item 9): for a send window, which campaigns lost customers to
which, how many, by reason, per branch and per operation — page, CSV and API — on a hand-built
network whose every count is written here by hand; and who may read it (head office of the
network only: foreign = missing = 404).

The case (rules: one marketing message per customer per 7 days, one message per operation), all
sending on DAY:

* N1 (Lille): "Soldes prioritaires" (an opt-in operation with national priority) by e-mail (P1,
  everyone of N1) and by SMS (P2, everyone of N1); its use of the kit "Kit local" (L, segment sim);
* N2 (Arras): its use of the kit "Kit local" (K2, segment sim);
* head office: a national e-mail without an operation, template "Promo SMS" (H, segment sim).

Customers: Alice, Bruno, Claire (N1, sim, e-mail only), Denis, Emma (N1, vip, e-mail and SMS),
Xavier, Yves (N2, sim, e-mail). So P1 goes first for everyone of N1; L loses Alice, Bruno and
Claire to P1 (pressure cap: 3); H loses them to P1 too (pressure cap: 3); P2 loses Denis and
Emma to P1 (same operation: 2; the others have no SMS consent — no conflict); in N2, K2 (local)
goes before H (national), which loses Xavier and Yves to K2 (pressure cap: 2).
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from central.models import ArbitrationRun, Campaign, CampaignStatus, ConsentStatus, Customer, OperationMode
from central.rules.services import arbitration_simulate
from tests.planning import plan, sms_version

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
# a Wednesday three to four weeks ahead, inside plan()'s send window (20 to 30 days)
DAY = TODAY + timedelta(days=20 + (2 - (TODAY + timedelta(days=20)).weekday()) % 7)
START, END = DAY - timedelta(days=3), DAY + timedelta(days=3)
WINDOW = {"network": "alpha", "from": START.isoformat(), "to": END.isoformat()}
URL = "/calendar/conflicts/"
API = "/api/v1/network-rules/alpha/conflicts/"
NATIONAL = "Head office (national)"


def _customer(world, name, *, branch="N1", segment="sim", sms=False):
    node = world.nodes[branch]
    return Customer.objects.create(
        network=node.network, branch=node, external_id=f"x-{name}", last_name=name, segment=segment,
        email=f"{name.lower()}@example.test", mobile=f"+3361234{len(name):02d}{ord(name[0]):03d}",
        consent_email=ConsentStatus.GRANTED, consent_sms=ConsentStatus.GRANTED if sms else ConsentStatus.DENIED)


def _campaign(world, version, *, operation, branch, channel="email", criteria=None):
    return Campaign.objects.create(
        network=world.networks["alpha"], branch=world.nodes[branch] if branch else None, operation=operation,
        template_version=version, channel=channel, send_date=DAY, status=CampaignStatus.SCHEDULED,
        target_criteria=criteria if criteria is not None else {"segment": "sim"})


@pytest.fixture
def case(world):
    from central.arbitration import rules_for

    rules = rules_for(world.networks["alpha"])
    rules.cap_total, rules.cap_days, rules.one_per_operation = 1, 7, True
    rules.save()
    version = sms_version(world)
    priority = plan(world, name="Soldes prioritaires", versions=[version], national_priority=True)
    kit = plan(world, name="Kit local", mode=OperationMode.KIT, versions=[version])
    for name in ("Alice", "Bruno", "Claire"):
        _customer(world, name)
    for name in ("Denis", "Emma"):
        _customer(world, name, segment="vip", sms=True)
    for name in ("Xavier", "Yves"):
        _customer(world, name, branch="N2")
    campaigns = {
        "P1": _campaign(world, version, operation=priority, branch="N1", criteria={}),
        "P2": _campaign(world, version, operation=priority, branch="N1", channel="sms", criteria={}),
        "L": _campaign(world, version, operation=kit, branch="N1"),
        "K2": _campaign(world, version, operation=kit, branch="N2"),
        "H": _campaign(world, version, operation=None, branch=None),
    }
    return campaigns


def simulate(world, starts_on=START, ends_on=END):
    return arbitration_simulate(network=world.networks["alpha"], starts_on=starts_on, ends_on=ends_on,
                                run_by=world.users["head_office"])


def _names(pair_side):
    return (pair_side.name, pair_side.branch)


# --- the report's counts ---------------------------------------------------------------------------


def test_the_page_counts_who_lost_to_whom_by_reason_per_branch_and_per_operation(world, case):
    simulate(world)
    page = world.client_for("head_office").get(URL, WINDOW, HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    context = page.context
    # (a) the pairs, the largest first
    assert [(_names(pair.losing), _names(pair.winning), pair.lost, pair.customers, pair.reasons)
            for pair in context["pairs"]] == [
        (("Kit local", "Lille"), ("Soldes prioritaires", "Lille"), 3, 3, [("pressure_cap", "pressure cap reached", 3)]),
        (("Promo SMS", NATIONAL), ("Soldes prioritaires", "Lille"), 3, 3,
         [("pressure_cap", "pressure cap reached", 3)]),
        (("Soldes prioritaires", "Lille"), ("Soldes prioritaires", "Lille"), 2, 2,
         [("same_operation", "another message of the same operation goes first", 2)]),
        (("Promo SMS", NATIONAL), ("Kit local", "Arras"), 2, 2, [("pressure_cap", "pressure cap reached", 2)]),
    ]
    assert [pair.losing.channel for pair in context["pairs"]] == ["E-mail", "E-mail", "SMS", "E-mail"]
    totals = context["totals"]
    assert (totals.lost, totals.customers, totals.pairs) == (10, 7, 4)
    assert [(reason, n) for reason, _label, n in totals.reasons] == [("pressure_cap", 8), ("same_operation", 2)]
    # (b) per branch of the losing campaign
    assert [(group.name, group.lost, group.customers, [(r, n) for r, _label, n in group.top_reasons])
            for group in context["branches"]] == [
        (NATIONAL, 5, 5, [("pressure_cap", 5)]),
        ("Lille", 5, 5, [("pressure_cap", 3), ("same_operation", 2)]),
    ]
    # (c) per operation of the losing campaign
    assert [(group.name, group.lost, group.customers, [(r, n) for r, _label, n in group.top_reasons])
            for group in context["operations"]] == [
        ("Without an operation", 5, 5, [("pressure_cap", 5)]),
        ("Kit local", 3, 3, [("pressure_cap", 3)]),
        ("Soldes prioritaires", 2, 2, [("same_operation", 2)]),
    ]
    html = page.content.decode()
    for testid in ("conflict-pairs", "conflict-branches", "conflict-operations", "conflict-totals", "conflict-csv",
                   "conflict-run-at"):
        assert f'data-testid="{testid}"' in html, testid
    # names, never ids
    for campaign in case.values():
        assert campaign.public_id not in html
    for customer in Customer.objects.filter(last_name__in=["Alice", "Xavier"]):
        assert customer.public_id not in html and customer.last_name not in html


def test_the_csv_has_one_line_per_loser_winner_and_reason(world, case):
    simulate(world)
    response = world.client_for("head_office").get(URL, {**WINDOW, "export": "csv"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f"conflicts-alpha-{START.isoformat()}-{END.isoformat()}.csv" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["losing campaign", "losing branch", "losing operation", "losing channel", "losing send date",
                       "winning campaign", "winning branch", "winning operation", "winning channel",
                       "winning send date", "reason", "reason code", "customers"]
    day = DAY.isoformat()
    assert rows[1:] == [
        ["Promo SMS", NATIONAL, "", "E-mail", day, "Kit local", "Arras", "Kit local", "E-mail", day,
         "pressure cap reached", "pressure_cap", "2"],
        ["Promo SMS", NATIONAL, "", "E-mail", day, "Soldes prioritaires", "Lille", "Soldes prioritaires", "E-mail",
         day, "pressure cap reached", "pressure_cap", "3"],
        ["Kit local", "Lille", "Kit local", "E-mail", day, "Soldes prioritaires", "Lille", "Soldes prioritaires",
         "E-mail", day, "pressure cap reached", "pressure_cap", "3"],
        ["Soldes prioritaires", "Lille", "Soldes prioritaires", "SMS", day, "Soldes prioritaires", "Lille",
         "Soldes prioritaires", "E-mail", day, "another message of the same operation goes first", "same_operation",
         "2"],
    ]
    assert sum(int(row[-1]) for row in rows[1:]) == 10


def test_the_api_gives_the_same_counts(world, case):
    client = world.client_for("head_office")
    empty = client.get(API, {"starts_on": START.isoformat(), "ends_on": END.isoformat()})
    assert empty.status_code == 200
    assert empty.json()["run"] is None and empty.json()["lines"] == [] and empty.json()["totals"]["lost"] == 0
    run = simulate(world)
    body = client.get(API, {"starts_on": START.isoformat(), "ends_on": END.isoformat()},
                      HTTP_ACCEPT_LANGUAGE="en").json()
    assert body["run"]["id"] == run.public_id
    assert body["totals"] == {"lost": 10, "customers": 7, "pairs": 4, "reasons": [
        {"reason": "pressure_cap", "label": "pressure cap reached", "count": 8},
        {"reason": "same_operation", "label": "another message of the same operation goes first", "count": 2}]}
    assert [(line["losing"]["id"], line["winning"]["id"], line["reason"], line["count"]) for line in body["lines"]] == [
        (case["H"].public_id, case["K2"].public_id, "pressure_cap", 2),
        (case["H"].public_id, case["P1"].public_id, "pressure_cap", 3),
        (case["L"].public_id, case["P1"].public_id, "pressure_cap", 3),
        (case["P2"].public_id, case["P1"].public_id, "same_operation", 2),
    ]
    assert body["lines"][3]["losing"] == {"id": case["P2"].public_id, "name": "Soldes prioritaires", "branch": "Lille",
                                          "operation": "Soldes prioritaires", "channel": "sms",
                                          "send_date": DAY.isoformat()}
    assert (body["lines_total"], body["truncated"]) == (4, False)
    assert [(group["id"], group["name"], group["lost"], group["customers"]) for group in body["by_branch"]] == [
        (None, NATIONAL, 5, 5), (world.nodes["N1"].public_id, "Lille", 5, 5)]
    assert [(group["name"], group["lost"], [r["count"] for r in group["reasons"]])
            for group in body["by_operation"]] == [
        ("Without an operation", 5, [5]), ("Kit local", 3, [3]), ("Soldes prioritaires", 2, [2])]
    # bad days: 400 by field
    response = client.get(API, {"starts_on": END.isoformat(), "ends_on": START.isoformat()})
    assert response.status_code == 400 and list(response.json()) == ["ends_on"]
    response = client.get(API, {"starts_on": "2026-13-01"})
    assert response.status_code == 400 and list(response.json()) == ["starts_on"]
    response = client.get(API, {"starts_on": START.isoformat(), "ends_on": (START + timedelta(days=62)).isoformat()})
    assert response.status_code == 400 and list(response.json()) == ["ends_on"]
    assert client.get(API, {"ends_on": "0001-01-03"}).status_code == 400
    # by default: the next 14 days, from tomorrow
    body = client.get(API).json()
    assert (body["starts_on"], body["ends_on"]) == ((TODAY + timedelta(days=1)).isoformat(),
                                                    (TODAY + timedelta(days=14)).isoformat())


# --- which simulation, running one, the empty states ----------------------------------------------


def test_only_a_simulation_of_exactly_these_days_is_read_and_the_button_runs_one(world, case):
    client = world.client_for("head_office")
    simulate(world, starts_on=START - timedelta(days=1), ends_on=END)  # a longer window: not this one
    page = client.get(URL, WINDOW)
    assert page.context["run"] is None and 'data-testid="no-conflict-run"' in page.content.decode()
    csv_text = b"".join(client.get(URL, {**WINDOW, "export": "csv"}).streaming_content).decode("utf-8-sig")
    assert len(csv_text.strip().splitlines()) == 1  # the header only
    response = client.post(URL, WINDOW)
    assert response.status_code == 302
    assert response["Location"].startswith(URL) and f"from={START.isoformat()}" in response["Location"]
    run = ArbitrationRun.objects.order_by("-id").first()
    assert (run.starts_on, run.ends_on, run.started_by) == (START, END, world.users["head_office"])
    page = client.get(URL, WINDOW)
    assert page.context["run"] == run and page.context["totals"].lost == 10
    assert 'data-testid="conflict-run"' in page.content.decode()  # "run it again"
    # again: a newer run is the one read
    client.post(URL, WINDOW)
    assert client.get(URL, WINDOW).context["run"] == ArbitrationRun.objects.order_by("-id").first() != run


def test_the_default_window_is_the_next_14_days(world):
    page = world.client_for("head_office").get(URL)
    assert page.status_code == 200
    assert (page.context["starts_on"], page.context["ends_on"]) == (TODAY + timedelta(days=1),
                                                                   TODAY + timedelta(days=14))


def test_bad_days_show_their_errors_at_the_top_and_beside_the_field(world):
    client = world.client_for("head_office")
    page = client.get(URL, {"network": "alpha", "from": END.isoformat(), "to": START.isoformat()},
                      HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    assert page.status_code == 200 and 'data-testid="conflict-errors"' in html
    assert html.count("The last day comes before the first.") == 2  # the summary and beside "To"
    # posting too many days: the service's error, nothing run
    page = client.post(URL, {"network": "alpha", "from": START.isoformat(),
                             "to": (START + timedelta(days=70)).isoformat()}, HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200 and page.content.decode().count("Simulate 62 days at most.") == 2
    assert not ArbitrationRun.objects.exists()


def test_a_simulation_without_conflict_says_so(world):
    simulate(world)
    page = world.client_for("head_office").get(URL, WINDOW)
    assert page.context["run"] is not None and page.context["totals"].lost == 0
    assert 'data-testid="no-conflict"' in page.content.decode()


def test_the_tables_are_paginated_and_capped_with_totals(world, case, monkeypatch):
    from central.conflicts import views as conflict_views

    monkeypatch.setattr(conflict_views, "PAIRS_PER_PAGE", 2)
    monkeypatch.setattr(conflict_views, "GROUPS_SHOWN", 1)
    simulate(world)
    client = world.client_for("head_office")
    first = client.get(URL, WINDOW, HTTP_ACCEPT_LANGUAGE="en")
    assert [(pair.losing.name, pair.lost) for pair in first.context["pairs"]] == [("Kit local", 3), ("Promo SMS", 3)]
    second = client.get(URL, {**WINDOW, "page": 2}, HTTP_ACCEPT_LANGUAGE="en")
    assert [(pair.losing.name, pair.lost) for pair in second.context["pairs"]] == [("Soldes prioritaires", 2),
                                                                                   ("Promo SMS", 2)]
    assert [group.name for group in first.context["branches"]] == [NATIONAL]
    assert first.context["other_branches"] == {"count": 1, "lost": 5}
    assert first.context["other_operations"] == {"count": 2, "lost": 5}
    html = first.content.decode()
    assert "1 other branch (in the CSV)" in html and "2 other operations (in the CSV)" in html
    assert "Page 1 of 2" in html and second.context["totals"].lost == 10


def test_the_counts_take_a_fixed_number_of_queries(world, case, django_assert_max_num_queries):
    """Counted by GROUP BY: more pairs, branches and operations do not mean more queries."""
    simulate(world)
    client = world.client_for("head_office")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get(URL, WINDOW)
    # twice the conflicts: N2 gets three more customers, and S1 a kit campaign of its own
    from central.models import Operation

    version = case["P1"].template_version
    for name in ("Ugo", "Vera", "Wanda"):
        _customer(world, name, branch="N2")
    _customer(world, "Zoe", branch="S1")
    _campaign(world, version, operation=Operation.objects.get(name="Kit local"), branch="S1")
    simulate(world)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(URL, WINDOW)
    assert page.context["totals"].pairs == 5 and page.context["totals"].lost == 14


# --- who reads it ----------------------------------------------------------------------------------


@pytest.mark.parametrize("actor", ["branch_manager", "regional_manager", "other_network_head_office", "approver",
                                   "analyst", "nobody"])
def test_nobody_but_the_networks_head_office_reads_it(world, case, actor):
    simulate(world)
    client = world.client_for(actor)
    assert client.get(URL, WINDOW).status_code == 404
    assert client.get(URL, {**WINDOW, "export": "csv"}).status_code == 404
    assert client.post(URL, WINDOW).status_code == 404
    assert client.get(API, {"starts_on": START.isoformat(), "ends_on": END.isoformat()}).status_code == 404
    assert ArbitrationRun.objects.count() == 1  # their post ran nothing
    if actor == "other_network_head_office":  # their own network's report, never alpha's
        page = client.get(URL, {"from": START.isoformat(), "to": END.isoformat()})
        html = page.content.decode()
        assert page.status_code == 200 and "Beta" in html
        for foreign in ("Alpha", "Lille", "Arras", "Soldes prioritaires", "Kit local"):
            assert foreign not in html, foreign
        assert client.get("/api/v1/network-rules/beta/conflicts/").status_code == 200
    assert world.client_for("head_office").get("/api/v1/network-rules/beta/conflicts/").status_code == 404
    assert world.client_for("head_office").get("/api/v1/network-rules/no-such/conflicts/").status_code == 404


def test_the_report_is_linked_from_the_simulation_and_the_calendar_and_speaks_french(world, case):
    simulate(world)
    client = world.client_for("head_office")
    assert 'href="/calendar/conflicts/?network=alpha"' in client.get("/calendar/arbitration/", WINDOW).content.decode()
    assert 'href="/calendar/conflicts/"' in client.get("/calendar/").content.decode()
    assert 'href="/calendar/conflicts/"' not in world.client_for("branch_manager").get("/calendar/").content.decode()
    html = client.get(URL, WINDOW, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Conflits entre campagnes" in html and "Pertes par point de vente" in html and "Conflicts between" not in html
    assert "Plafond de pression atteint" in html


def test_head_offices_send_losing_to_a_branchs_own_version_is_a_conflict(world):
    """Lille joined "Foire aux vins": its own version beats head office's send of the operation for
    Lille's customers (branch_version, lost to Lille's version); Arras's customer gets head office's."""
    from central.calendar.services import participation_answer

    version = sms_version(world)
    operation = plan(world, name="Foire aux vins", versions=[version])
    participation_answer(operation=operation, branch=world.nodes["N1"], status="joined",
                         answered_by=world.users["branch_manager"])
    own = Campaign.objects.get(operation=operation, branch=world.nodes["N1"])
    for name in ("Alice", "Bruno"):
        _customer(world, name)
    _customer(world, "Xavier", branch="N2")
    _campaign(world, version, operation=operation, branch=None)
    simulate(world)
    page = world.client_for("head_office").get(URL, WINDOW, HTTP_ACCEPT_LANGUAGE="en")
    assert [(_names(pair.losing), _names(pair.winning), pair.winning.public_id, pair.lost,
             [(reason, n) for reason, _label, n in pair.reasons]) for pair in page.context["pairs"]] == [
        (("Foire aux vins", NATIONAL), ("Foire aux vins", "Lille"), own.public_id, 2, [("branch_version", 2)])]
    assert [(group.name, group.lost) for group in page.context["branches"]] == [(NATIONAL, 2)]
    assert [(group.name, group.lost) for group in page.context["operations"]] == [("Foire aux vins", 2)]
