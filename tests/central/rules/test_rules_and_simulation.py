"""The network's rules (validation, audit, pages, API), the suppression list, simulations (counts
by reason on a hand-built case, scoped so that a branch reads nothing of another branch), the
campaign page's panel, the pressure clash, and "why not?" in plain words for each reason."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, time, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone, translation

from central.arbitration import arbitrate, rules_for
from central.calendar.forms import OperationForm
from central.calendar.services import operation_save
from central.campaigns.clashes import campaign_clashes
from central.customers.suppression import suppression_add
from central.models import (
    ArbitrationRun,
    Campaign,
    CampaignStatus,
    Candidate,
    ConsentStatus,
    Contact,
    Customer,
    NetworkRules,
    NetworkRulesEvent,
    OperationMode,
    Origin,
    Reason,
    Suppression,
    TargetOverride,
)
from central.rules.selectors import customer_why_not
from central.rules.services import (
    SIMULATIONS_KEPT,
    arbitration_simulate,
    campaign_simulation,
    network_rules_update,
)
from tests.planning import plan, sms_version

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
# a Wednesday three to four weeks ahead, inside plan()'s send window (20 to 30 days)
DAY = TODAY + timedelta(days=20 + (2 - (TODAY + timedelta(days=20)).weekday()) % 7)
START, END = DAY - timedelta(days=3), DAY + timedelta(days=3)
D = DAY.strftime("%d/%m")


# --- builders --------------------------------------------------------------------------------------


@pytest.fixture
def version(world):
    return sms_version(world)


@pytest.fixture
def kit(world, version):
    return plan(world, name="Kit local", mode=OperationMode.KIT, versions=[version])


@pytest.fixture
def national(world, version):
    return plan(world, name="Opération nationale", versions=[version])


def customer(world, name, *, branch="N1", segment="sim", **fields):
    node = world.nodes[branch]
    values = {"consent_email": ConsentStatus.GRANTED, "consent_sms": ConsentStatus.GRANTED,
              "email": f"{name.lower()}@example.test",
              "mobile": f"+336{int(hashlib.sha256(name.encode()).hexdigest(), 16) % 10**8:08d}",
              "segment": segment} | fields
    return Customer.objects.create(network=node.network, branch=node, external_id=f"x-{name}", last_name=name,
                                   **values)


def campaign(world, version, *, operation=None, branch="N1", channel="email", day=DAY, criteria=None,
             status=CampaignStatus.SCHEDULED):
    return Campaign.objects.create(
        network=world.networks["alpha"], branch=world.nodes[branch] if branch else None, operation=operation,
        template_version=version, channel=channel, send_date=day, status=status,
        target_criteria={"segment": "sim"} if criteria is None else criteria)


def set_rules(world, **fields):
    rules = rules_for(world.networks["alpha"])
    for name, value in fields.items():
        setattr(rules, name, value)
    rules.save()
    return rules


def simulate(world, actor="head_office", starts_on=START, ends_on=END):
    return arbitration_simulate(network=world.networks["alpha"], starts_on=starts_on, ends_on=ends_on,
                                run_by=world.users[actor])


def api(world, actor, method, url, data=None):
    client = world.client_for(actor)
    if method == "get":
        return client.get(url, data or {})
    return getattr(client, method)(url, data or {}, content_type="application/json")


# --- the rules -------------------------------------------------------------------------------------


def test_the_rules_are_checked_field_by_field_and_nothing_is_saved(world):
    network = world.networks["alpha"]
    with pytest.raises(ValidationError) as caught:
        network_rules_update(
            network=network, updated_by=world.users["head_office"],
            priority_order=["local", "local", "national"], cap_total=2, cap_days=0,
            channel_caps={"fax": {"count": 1, "days": 7}, "sms": {"count": 0, "days": 14}},
            national_reserved=2, local_reserved=1, quiet_weekdays=[8], quiet_from=time(21, 0))
    errors = caught.value.message_dict
    assert set(errors) == {"priority_order", "cap_days", "channel_caps", "local_reserved", "quiet_weekdays",
                           "quiet_until"}
    assert len(errors["channel_caps"]) == 2  # the unknown channel, and 0 SMS
    assert "exceed the 2 allowed" in errors["local_reserved"][0]
    rules = rules_for(network)
    assert (rules.cap_days, rules.channel_caps, rules.national_reserved) == (7, {}, 0)
    assert not NetworkRulesEvent.objects.exists()
    with pytest.raises(ValidationError) as caught:
        network_rules_update(network=network, updated_by=world.users["head_office"], cap_total=2,
                             national_reserved=3)
    assert "cannot reserve 3" in caught.value.message_dict["national_reserved"][0]
    with pytest.raises(ValidationError) as caught:
        network_rules_update(network=network, updated_by=world.users["head_office"], quiet_weekdays=[1, 2, 3, 4, 5, 6, 7])
    assert list(caught.value.message_dict) == ["quiet_weekdays"]
    with pytest.raises(ValidationError):
        network_rules_update(network=network, updated_by=world.users["head_office"], colour="blue")


def test_a_change_of_the_rules_is_saved_and_recorded_before_and_after(world):
    network = world.networks["alpha"]
    network_rules_update(network=network, updated_by=world.users["head_office"], cap_total=3,
                         channel_caps={"sms": {"count": 1, "days": 14}}, quiet_weekdays=[7, 1],
                         priority_order=[Origin.TRANSACTIONAL, Origin.NATIONAL, Origin.LOCAL])
    rules = NetworkRules.objects.get(network=network)
    assert rules.cap_total == 3 and rules.quiet_weekdays == [1, 7] and rules.updated_by == world.users["head_office"]
    event = NetworkRulesEvent.objects.get()
    assert event.action == NetworkRulesEvent.Action.RULES_CHANGED and event.by == world.users["head_office"]
    assert event.changes["cap_total"] == [2, 3]
    assert event.changes["channel_caps"] == [{}, {"sms": {"count": 1, "days": 14}}]
    assert event.changes["priority_order"][1] == ["transactional", "national", "local"]
    assert set(event.changes) == {"cap_total", "channel_caps", "quiet_weekdays", "priority_order"}


@pytest.mark.parametrize("actor", ["branch_manager", "regional_manager", "approver", "analyst",
                                   "other_network_head_office"])
def test_only_the_networks_head_office_changes_its_rules(world, actor):
    with pytest.raises(PermissionDenied):
        network_rules_update(network=world.networks["alpha"], updated_by=world.users[actor], cap_total=5)
    client = world.client_for(actor)
    assert client.get("/calendar/rules/", {"network": "alpha"}).status_code == 404
    if actor == "other_network_head_office":  # their own network's rules, never alpha's
        page = client.get("/calendar/rules/").content.decode()
        assert "Beta" in page and "Alpha" not in page
    assert client.get("/api/v1/network-rules/alpha/").status_code == 404
    assert api(world, actor, "patch", "/api/v1/network-rules/alpha/", {"cap_total": 5}).status_code == 404
    assert rules_for(world.networks["alpha"]).cap_total == 2


def _rules_form(**overrides):
    data = {"network": "alpha", "priority_1": "transactional", "priority_2": "local", "priority_3": "national",
            "cap_total": "2", "cap_days": "7", "national_reserved": "0", "local_reserved": "0",
            "one_per_operation": "on", "email_cap_count": "", "email_cap_days": "", "sms_cap_count": "1",
            "sms_cap_days": "14", "post_cap_count": "", "post_cap_days": "", "quiet_weekdays": ["7"],
            "quiet_from": "21:00", "quiet_until": "08:00", "attribution_days": "14",
            "cost_email": "0.001", "cost_sms_segment": "0.045", "cost_print_page": "0.08", "cost_print_copy": "0.15",
            "cost_postage": "0.9"}
    return data | overrides


def test_the_pages_answer_for_head_office_and_branches(world, django_capture_on_commit_callbacks):
    head_office, manager = world.client_for("head_office"), world.client_for("branch_manager")
    for url in ("/calendar/rules/", "/calendar/suppressions/", "/calendar/arbitration/", "/network/transfers/"):
        assert head_office.get(url).status_code == 200, url
    body = head_office.get("/calendar/arbitration/").content.decode()
    assert 'data-testid="no-simulation"' in body
    for url in ("/calendar/arbitration/", "/network/transfers/", "/network/customers/why/"):
        assert manager.get(url).status_code == 200, url
    assert head_office.get("/calendar/arbitration/", {"from": "2020-13-01", "to": "x"}).status_code == 200
    window = {"network": "alpha", "from": START.isoformat(), "to": END.isoformat()}
    assert 'name="csrfmiddlewaretoken"' in head_office.get("/calendar/arbitration/", window).content.decode()
    with django_capture_on_commit_callbacks(execute=True):  # the queued simulation runs (in-process)
        assert manager.post("/calendar/arbitration/", window).status_code == 302
    run = ArbitrationRun.objects.get()
    assert (run.mode, run.starts_on, run.ends_on, run.started_by) == (
        "simulation", START, END, world.users["branch_manager"])
    assert "rules" in run.summary
    assert 'data-testid="simulation-run"' in manager.get("/calendar/arbitration/", window).content.decode()


def test_the_rules_page_shows_each_error_next_to_its_field_and_saves_what_is_sound(world):
    client = world.client_for("head_office")
    assert client.get("/calendar/rules/").status_code == 200
    response = client.post("/calendar/rules/", _rules_form(local_reserved="3", sms_cap_days="0",
                                                           priority_3="local"), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) == {"local_reserved", "sms_cap_count", "priority_1"}
    assert "SMS: the window lasts at least one day" in form.errors["sms_cap_count"][0]
    assert rules_for(world.networks["alpha"]).channel_caps == {}
    response = client.post("/calendar/rules/", _rules_form(email_cap_count="3"), HTTP_ACCEPT_LANGUAGE="en")
    assert response.context["form"].errors == {
        "email_cap_days": ["Give both the number of messages and the number of days, or neither."]}
    response = client.post("/calendar/rules/", _rules_form())
    assert response.status_code == 302
    rules = rules_for(world.networks["alpha"])
    assert rules.channel_caps == {"sms": {"count": 1, "days": 14}} and rules.quiet_weekdays == [7]
    assert (rules.quiet_from, rules.quiet_until) == (time(21, 0), time(8, 0))
    page = client.get("/calendar/rules/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-testid="rules-history"' in page and "SMS: 1 per 14 days" in page


def test_the_rules_api_reads_and_changes_them_with_errors_by_field(world):
    url = "/api/v1/network-rules/alpha/"
    body = api(world, "head_office", "get", url).json()
    assert body["network"] == "alpha" and body["priority_order"] == ["transactional", "local", "national"]
    assert body["cap_total"] == 2 and body["channel_caps"] == {}
    response = api(world, "head_office", "patch", url, {"cap_days": 0, "local_reserved": 5})
    assert response.status_code == 400 and set(response.json()) == {"cap_days", "local_reserved"}
    response = api(world, "head_office", "patch", url, {"channel_caps": {"sms": {"count": 1, "days": 14}},
                                                         "quiet_from": "21:00", "quiet_until": "08:00"})
    assert response.status_code == 200, response.content
    assert response.json()["channel_caps"] == {"sms": {"count": 1, "days": 14}}
    assert response.json()["quiet_from"] == "21:00:00"
    assert api(world, "other_network_head_office", "get", url).status_code == 404
    assert api(world, "other_network_head_office", "get", "/api/v1/network-rules/beta/").status_code == 200


def test_caps_per_segment_are_checked_saved_shown_and_served(world):
    network, head_office = world.networks["alpha"], world.users["head_office"]
    with pytest.raises(ValidationError) as caught:
        network_rules_update(network=network, updated_by=head_office,
                             segment_caps={"vip": 51, "x" * 33: 1, " padded": 2, "ok": -1})
    assert len(caught.value.message_dict["segment_caps"]) == 4
    with pytest.raises(ValidationError) as caught:
        network_rules_update(network=network, updated_by=head_office,
                             segment_caps={f"s{n}": 1 for n in range(21)})
    assert "20 segments at most" in caught.value.message_dict["segment_caps"][0]
    assert rules_for(network).segment_caps == {}
    client = world.client_for("head_office")
    response = client.post("/calendar/rules/", _rules_form(segment_caps="vip = 4\nnonsense\nvip: 3"),
                           HTTP_ACCEPT_LANGUAGE="en")
    assert response.context["form"].errors == {"segment_caps": [
        "Line 2: write “segment = number of messages”.", "Line 3: the segment “vip” is already given."]}
    response = client.post("/calendar/rules/", _rules_form(segment_caps="vip = 4\r\n\r\nrepos: 0"))
    assert response.status_code == 302
    assert rules_for(network).segment_caps == {"repos": 0, "vip": 4}
    page = client.get("/calendar/rules/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Caps per segment: — → repos = 0, vip = 4" in page
    assert "repos = 0\nvip = 4" in page  # the form shows them again
    url = "/api/v1/network-rules/alpha/"
    assert api(world, "head_office", "get", url).json()["segment_caps"] == {"repos": 0, "vip": 4}
    response = api(world, "head_office", "patch", url, {"segment_caps": {"vip": 99}})
    assert response.status_code == 400 and set(response.json()) == {"segment_caps"}
    response = api(world, "head_office", "patch", url, {"segment_caps": {}})
    assert response.status_code == 200 and response.json()["segment_caps"] == {}


def test_an_operation_may_be_given_national_priority(world, version):
    assert "national_priority" in OperationForm(network=world.networks["alpha"]).fields
    operation = plan(world, name="Fête des mères", versions=[version], publish=False, national_priority=True)
    assert operation.national_priority is True
    operation_save(network=operation.network, saved_by=world.users["head_office"], operation=operation,
                   template_versions=[version], national_priority=False)
    operation.refresh_from_db()
    assert operation.national_priority is False
    response = api(world, "head_office", "patch", f"/api/v1/operations/{operation.public_id}/",
                   {"national_priority": True})
    assert response.status_code == 200 and response.json()["national_priority"] is True
    page = world.client_for("head_office").get(f"/calendar/operations/{operation.public_id}/edit/")
    assert re.search(r'<input[^>]*name="national_priority"[^>]*checked', page.content.decode())


# --- the suppression list --------------------------------------------------------------------------


def test_a_suppressed_address_is_kept_only_as_its_hash_and_the_arbitration_honours_it(world, version, kit):
    network = world.networks["alpha"]
    suppression_add(network=network, added_by=world.users["head_office"], channel="email",
                    address=" Alice@Example.TEST ", reason="hard bounce")
    suppression_add(network=network, added_by=world.users["head_office"], channel="sms",
                    address="06 12 34 56 78", reason="STOP")
    stored = dict(Suppression.objects.values_list("channel", "value_hash"))
    assert stored == {"email": hashlib.sha256(b"alice@example.test").hexdigest(),
                      "sms": hashlib.sha256(b"+33612345678").hexdigest()}
    with pytest.raises(ValidationError) as caught:
        suppression_add(network=network, added_by=world.users["head_office"], channel="email",
                        address="alice@example.test", reason="again")
    assert "already" in caught.value.message_dict["address"][0]
    with pytest.raises(ValidationError) as caught:
        suppression_add(network=network, added_by=world.users["head_office"], channel="email", address="nope",
                        reason="")
    assert set(caught.value.message_dict) == {"address", "reason"}
    with pytest.raises(PermissionDenied):
        suppression_add(network=network, added_by=world.users["branch_manager"], channel="email",
                        address="x@example.test", reason="x")
    customer(world, "Alice")
    local = campaign(world, version, operation=kit)
    run = simulate(world)
    assert Candidate.objects.get(run=run, campaign=local, customer__last_name="Alice").reason == Reason.SUPPRESSED
    events = list(NetworkRulesEvent.objects.order_by("id").values_list("action", "changes"))
    assert events[0] == ("suppression_added", {"channel": "email", "hash": stored["email"][:12],
                                               "reason": "hard bounce"})
    assert all("alice" not in str(changes).lower() for _action, changes in events)


def test_the_suppression_page_lists_hash_prefixes_and_removes(world):
    client = world.client_for("head_office")
    response = client.post("/calendar/suppressions/", {"network": "alpha", "action": "add", "channel": "email",
                                                       "address": "gone@example.test", "reason": "complaint"})
    assert response.status_code == 302
    suppression = Suppression.objects.get()
    page = client.get("/calendar/suppressions/").content.decode()
    assert suppression.value_hash[:12] in page and suppression.value_hash not in page
    assert "gone@example.test" not in page and "complaint" in page
    response = client.post("/calendar/suppressions/", {"network": "alpha", "action": "add", "channel": "sms",
                                                       "address": "12", "reason": "x"})
    assert response.status_code == 200 and response.context["form"].errors["address"]
    client.post("/calendar/suppressions/", {"network": "alpha", "action": "delete", "suppression": suppression.pk})
    assert not Suppression.objects.exists()
    assert NetworkRulesEvent.objects.filter(action="suppression_removed").count() == 1
    for actor in ("branch_manager", "regional_manager", "approver"):
        assert world.client_for(actor).get("/calendar/suppressions/").status_code == 404
    # beta's head office never reaches alpha's list
    other = world.client_for("other_network_head_office")
    Suppression.objects.create(network=world.networks["alpha"], channel="email", value_hash="a" * 64, reason="x")
    assert "aaaaaaaaaaaa" not in other.get("/calendar/suppressions/", {"network": "alpha"}).content.decode()
    other.post("/calendar/suppressions/", {"network": "alpha", "action": "delete",
                                           "suppression": Suppression.objects.get().pk})
    assert Suppression.objects.count() == 1


# --- a hand-built simulation -----------------------------------------------------------------------


@pytest.fixture
def case(world, version, kit, national):
    """One message per 7 days. N1: Alice, Eve (reachable), Bob (no e-mail consent), Carol (objected),
    Dave (contacted 8 days before DAY: before the
    windows simulated, and within 7 days of their start). N2: Xavier, Yves. Three e-mail campaigns on DAY:
    N1's "Kit local" (local), N2's "Kit Arras" (local) and head office's national send; all target
    the segment "sim" (the world's own customers are left out)."""
    set_rules(world, cap_total=1, cap_days=7)
    names = {}
    for name in ("Alice", "Eve", "Dave"):
        names[name] = customer(world, name)
    names["Bob"] = customer(world, "Bob", consent_email=ConsentStatus.DENIED)
    names["Carol"] = customer(world, "Carol", objected_at=timezone.now() - timedelta(days=30))
    for name in ("Xavier", "Yves"):
        names[name] = customer(world, name, branch="N2")
    Contact.objects.create(customer=names["Dave"], channel="email", origin=Origin.LOCAL,
                           contacted_on=DAY - timedelta(days=8))
    kit_arras = plan(world, name="Kit Arras", mode=OperationMode.KIT, versions=[version])
    return {
        "customers": names,
        "local": campaign(world, version, operation=kit),
        "arras": campaign(world, version, operation=kit_arras, branch="N2"),
        "national": campaign(world, version, operation=national, branch=None, status=CampaignStatus.DRAFT),
    }


def _counts(body_campaign):
    counts = body_campaign["counts"]
    return counts["candidates"], counts["selected"], {row["reason"]: row["count"] for row in counts["excluded"]}


def test_simulation_counts_by_reason_per_campaign_and_branch(world, case):
    response = api(world, "head_office", "post", "/api/v1/arbitration-simulations/",
                   {"network": "alpha", "from": START.isoformat(), "to": END.isoformat()})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["run"]["mode"] == "simulation"
    by_id = {row["id"]: row for row in body["campaigns"]}
    assert _counts(by_id[case["local"].public_id]) == (5, 2, {"no_consent": 1, "objection": 1, "pressure_cap": 1})
    assert _counts(by_id[case["arras"].public_id]) == (2, 2, {})
    assert _counts(by_id[case["national"].public_id]) == (7, 0, {"no_consent": 1, "objection": 1, "pressure_cap": 5})
    assert _counts({"counts": body["totals"]}) == (14, 4, {"no_consent": 2, "objection": 2, "pressure_cap": 6})
    # the page: the same numbers, and per branch
    page = world.client_for("head_office").get("/calendar/arbitration/", {
        "network": "alpha", "from": START.isoformat(), "to": END.isoformat()}, HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert [(c.pk, counts.candidates, counts.selected) for c, counts, _cells in page.context["rows"]] == [
        (case["national"].pk, 7, 0), (case["arras"].pk, 2, 2), (case["local"].pk, 5, 2)]
    assert [(name, counts.candidates, cells) for name, counts, cells in page.context["branches"]] == [
        ("Arras", 2, [0, 0, 0]), ("Lille", 5, [1, 1, 1]), ("National (head office)", 7, [1, 1, 5])]
    assert [reason for reason, _label in page.context["reasons"]] == ["objection", "no_consent", "pressure_cap"]
    assert page.context["total_cells"] == [2, 2, 6]


def test_a_branch_sees_only_its_own_campaigns_and_customers_in_a_simulation(world, case):
    response = api(world, "branch_manager", "post", "/api/v1/arbitration-simulations/",
                   {"network": "alpha", "from": START.isoformat(), "to": END.isoformat()})
    assert response.status_code == 201
    body = response.json()
    assert [row["id"] for row in body["campaigns"]] == [case["local"].public_id]
    assert _counts({"counts": body["totals"]}) == (5, 2, {"no_consent": 1, "objection": 1, "pressure_cap": 1})
    text = response.content.decode()
    for foreign in ("Kit Arras", "Arras", "Opération nationale", case["arras"].public_id,
                    case["national"].public_id, "Xavier", "Yves"):
        assert foreign not in text
    page = world.client_for("branch_manager").get("/calendar/arbitration/", {
        "network": "alpha", "from": START.isoformat(), "to": END.isoformat()})
    html = page.content.decode()
    assert page.status_code == 200 and "Kit local" in html
    for foreign in ("Kit Arras", "Arras", "Opération nationale", "Xavier"):
        assert foreign not in html
    assert [(name, counts.candidates) for name, counts, _cells in page.context["branches"]] == [("Lille", 5)]
    # the regional manager over N1 and N2: both branches' campaigns, no national one
    body = api(world, "regional_manager", "post", "/api/v1/arbitration-simulations/",
               {"network": "alpha", "from": START.isoformat(), "to": END.isoformat()}).json()
    assert {row["id"] for row in body["campaigns"]} == {case["local"].public_id, case["arras"].public_id}
    # no customer scope, or another network: nothing
    for actor in ("approver", "analyst", "other_network_head_office", "nobody"):
        response = api(world, actor, "post", "/api/v1/arbitration-simulations/",
                       {"network": "alpha", "from": START.isoformat(), "to": END.isoformat()})
        assert response.status_code == 404, actor
    assert world.client_for("approver").get("/calendar/arbitration/").status_code == 404


def test_the_campaign_simulation_api_and_its_lost_to_names(world, case):
    url = f"/api/v1/campaigns/{case['local'].public_id}/simulation/"
    assert api(world, "branch_manager", "get", url).json()["run"] is None
    response = api(world, "branch_manager", "post", "/api/v1/arbitration-simulations/",
                   {"campaign": case["local"].public_id})
    assert response.status_code == 201
    run = ArbitrationRun.objects.get(public_id=response.json()["run"]["id"])
    # the campaign's send date ± (7 - 1) days
    assert (run.starts_on, run.ends_on) == (DAY - timedelta(days=6), DAY + timedelta(days=6))
    body = api(world, "branch_manager", "get", url).json()
    assert body["run"]["id"] == run.public_id and body["stale"] is False
    assert _counts(body) == (5, 2, {"no_consent": 1, "objection": 1, "pressure_cap": 1})
    assert body["counts"]["audience"] == 3  # Alice, Eve, Dave: the editor's count
    assert body["lost_to"] == []
    national = world.client_for("head_office").get(f"/api/v1/campaigns/{case['national'].public_id}/simulation/",
                                                   HTTP_ACCEPT_LANGUAGE="en")
    assert sorted((row["label"], row["count"]) for row in national.json()["lost_to"]) == [
        (f"“Kit Arras” (campaign of Arras, {D})", 2), (f"“Kit local” (campaign of Lille, {D})", 2)]
    # who sees the campaign but not its customers, and who does not see it: 404
    for actor in ("approver", "sibling_branch_manager", "other_network_head_office"):
        assert api(world, actor, "get", url).status_code == 404, actor
    assert api(world, "sibling_branch_manager", "post", "/api/v1/arbitration-simulations/",
               {"campaign": case["local"].public_id}).status_code == 404
    # a change of the campaign makes the simulation stale
    Campaign.objects.filter(pk=case["local"].pk).update(send_date=DAY + timedelta(days=1))
    assert api(world, "branch_manager", "get", url).json()["stale"] is True


def test_the_campaign_page_shows_the_expected_outcome(world, case):
    client = world.client_for("branch_manager")
    url = f"/network/campaigns/{case['local'].public_id}/"
    html = client.get(url).content.decode()
    assert 'data-testid="campaign-simulation"' in html and "<strong>" not in html.split(
        'data-testid="campaign-simulation"')[1].split("</div></div>")[0]
    assert client.post(f"{url}simulate/").status_code == 302
    html = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    panel = html.split('data-testid="campaign-simulation"')[1].split("</div></div>")[0]
    # the audience as the editor counts it (Alice, Eve, Dave: reachable), beside its live count;
    # Bob (no consent) and Carol (objected) match the target but are not in the audience
    assert "<strong>2</strong> of the 3 customers of the audience will receive it" in panel
    assert "Excluded by the network's rules: pressure cap reached 1." in panel
    assert "2 customers match the target but cannot be reached" in panel and "objected to all marketing 1" in panel
    assert 'data-testid="audience-count">3<' in html and "simulation-audience-changed" not in html
    # the approver sees the campaign, not its customers: no panel; the sibling branch: 404
    assert 'data-testid="campaign-simulation"' not in world.client_for("approver").get(url).content.decode()
    assert world.client_for("sibling_branch_manager").post(f"{url}simulate/").status_code == 404
    assert world.client_for("approver").post(f"{url}simulate/").status_code == 302
    assert ArbitrationRun.objects.filter(started_by=world.users["approver"]).count() == 0


def test_the_clashes_count_who_the_pressure_rules_will_exclude(world, case):
    manager = world.users["branch_manager"]
    assert all(clash.kind != "pressure" for clash in campaign_clashes(fetched_by=manager, campaign=case["local"]))
    simulate(world)
    clashes = campaign_clashes(fetched_by=manager, campaign=case["local"])
    assert [(c.kind, c.overlap, c.send_date) for c in clashes if c.kind == "pressure"] == [("pressure", 1, DAY)]
    # another day than the one simulated: not known
    other_day = campaign_clashes(fetched_by=manager, campaign=case["local"], send_date=DAY + timedelta(days=1))
    assert all(clash.kind != "pressure" for clash in other_day)
    head_office = campaign_clashes(fetched_by=world.users["head_office"], campaign=case["national"])
    assert [c.overlap for c in head_office if c.kind == "pressure"] == [5]
    body = api(world, "branch_manager", "get", f"/api/v1/campaigns/{case['local'].public_id}/clashes/").json()
    assert [row for row in body if row["kind"] == "pressure"] == [
        {"kind": "pressure", "label": body[-1]["label"], "send_date": DAY.isoformat(), "overlap": 1,
         "blocking": False}]


def test_only_the_latest_simulations_are_kept(world, case):
    for _ in range(SIMULATIONS_KEPT + 2):
        simulate(world)
    assert ArbitrationRun.objects.filter(mode=ArbitrationRun.Mode.SIMULATION).count() == SIMULATIONS_KEPT
    with pytest.raises(ValidationError) as caught:
        simulate(world, starts_on=END, ends_on=START)
    assert list(caught.value.message_dict) == ["ends_on"]
    with pytest.raises(ValidationError):
        simulate(world, starts_on=START, ends_on=START + timedelta(days=100))


# --- why not? --------------------------------------------------------------------------------------


def why(world, person, actor="branch_manager"):
    with translation.override("en"):
        return [line.text for line in customer_why_not(fetched_by=world.users[actor], customer=person).lines]


def test_why_not_consent_objection_address_suppression_and_selected(world, version, kit):
    alice = customer(world, "Alice")
    bob = customer(world, "Bob", consent_email=ConsentStatus.DENIED)
    carol = customer(world, "Carol", objected_at=timezone.make_aware(datetime(2025, 3, 4, 10, 0)))
    dan = customer(world, "Dan", mobile="")
    sue = customer(world, "Sue")
    suppression_add(network=world.networks["alpha"], added_by=world.users["head_office"], channel="email",
                    address="sue@example.test", reason="hard bounce")
    campaign(world, version, operation=kit)
    campaign(world, version, operation=kit, channel="sms", criteria={"segment": "nobody"})
    TargetOverride.objects.create(campaign=Campaign.objects.get(channel="sms"), customer=dan, action="include")
    simulate(world)
    assert why(world, alice) == [f"Will receive “Kit local” (E-mail, {D})."]
    assert why(world, bob) == [f"Will not receive “Kit local” (E-mail, {D}): no consent for E-mail messages."]
    assert why(world, carol) == [f"Will not receive “Kit local” (E-mail, {D}): the customer objected to all "
                                 "marketing on 04/03/2025."]
    assert why(world, dan) == [f"Will receive “Kit local” (E-mail, {D}).",
                               f"Will not receive “Kit local” (SMS, {D}): no mobile number."]
    assert why(world, sue) == [f"Will not receive “Kit local” (E-mail, {D}): the address is on the network's "
                               "suppression list."]


def test_why_not_quiet_day_duplicate_address_and_already_contacted(world, version, kit, national):
    set_rules(world, quiet_weekdays=[7])
    sunday = DAY + timedelta(days=(6 - DAY.weekday()) % 7)
    first = customer(world, "First", email="family@example.test")
    second = customer(world, "Second", email="family@example.test")
    bob = customer(world, "Bob")
    campaign(world, version, operation=kit, day=sunday)
    campaign(world, version, operation=national, day=DAY)
    Contact.objects.create(customer=bob, channel="email", origin=Origin.NATIONAL, operation=national,
                           contacted_on=TODAY - timedelta(days=1))
    simulate(world, starts_on=DAY, ends_on=sunday)
    s = sunday.strftime("%d/%m")
    assert why(world, first) == [f"Will receive “Opération nationale” (E-mail, {D}).",
                                 f"Will not receive “Kit local” (E-mail, {s}): {s} is a Sunday, a quiet day of the "
                                 "network."]
    assert why(world, second)[0] == (f"Will not receive “Opération nationale” (E-mail, {D}): another customer of "
                                     "this campaign has the same address and receives it.")
    assert why(world, bob)[0] == (f"Will not receive “Opération nationale” (E-mail, {D}): already contacted for "
                                  "“Opération nationale”.")


def test_why_not_one_message_per_operation_and_the_channel_cap(world, version, kit, national):
    set_rules(world, cap_total=5, channel_caps={"sms": {"count": 1, "days": 14}})
    alice, texted = customer(world, "Alice"), customer(world, "Texted")
    Contact.objects.create(customer=texted, channel="sms", origin=Origin.LOCAL, contacted_on=START - timedelta(days=10))
    campaign(world, version, operation=national, channel="email")
    campaign(world, version, operation=national, channel="sms")
    later = DAY + timedelta(days=1)
    campaign(world, version, operation=kit, channel="sms", day=later)
    simulate(world)
    lines = why(world, alice)
    later_d = later.strftime("%d/%m")
    assert lines == [
        f"Will receive “Opération nationale” (E-mail, {D}).",
        f"Will not receive “Opération nationale” (SMS, {D}): the network sends one message per customer per "
        f"operation. Lost to “Opération nationale” (your campaign, {D}).",
        f"Will receive “Kit local” (SMS, {later_d}).",
    ]
    assert why(world, texted)[1:] == [
        f"Will not receive “Opération nationale” (SMS, {D}): the network sends one message per customer per "
        f"operation. Lost to “Opération nationale” (your campaign, {D}).",
        f"Will not receive “Kit local” (SMS, {later_d}): already 1 SMS message in the last 14 days — the network "
        "allows 1.",
    ]


def test_why_not_the_quota_and_the_pressure_cap_with_what_took_the_slot(world, version, kit, national):
    set_rules(world, cap_total=2, cap_days=7, national_reserved=1)
    alice, busy = customer(world, "Alice"), customer(world, "Busy")
    Contact.objects.create(customer=busy, channel="email", origin=Origin.NATIONAL,
                           contacted_on=START - timedelta(days=1))
    local_one = campaign(world, version, operation=kit, day=DAY - timedelta(days=2))
    campaign(world, version, operation=kit)
    campaign(world, version, operation=national, branch=None, day=DAY + timedelta(days=1))
    simulate(world)
    d1, d3 = (DAY - timedelta(days=2)).strftime("%d/%m"), (DAY + timedelta(days=1)).strftime("%d/%m")
    assert why(world, alice) == [
        f"Will receive “Kit local” (E-mail, {d1}).",
        f"Will not receive “Kit local” (E-mail, {D}): already 1 local message in the last 7 days — 1 of the "
        f"network's 2 slots are kept for national campaigns. Lost to “Kit local” (your campaign, {d1}).",
        f"Will receive “Opération nationale” (E-mail, {d3}).",
    ]
    # Busy: 1 national message before the window, the first local one takes the second slot
    assert why(world, busy) == [
        f"Will receive “Kit local” (E-mail, {d1}).",
        f"Will not receive “Kit local” (E-mail, {D}): already 1 local message in the last 7 days — 1 of the "
        f"network's 2 slots are kept for national campaigns. Lost to “Kit local” (your campaign, {d1}).",
        f"Will not receive “Opération nationale” (E-mail, {d3}): already 2 marketing messages in the last 7 days — "
        f"the network allows 2. Lost to “Kit local” (your campaign, {d1}).",
    ]
    assert local_one.pk


def test_why_not_names_the_segments_own_cap(world, version, kit):
    set_rules(world, cap_total=2, cap_days=7, segment_caps={"fidèle": 1})
    loyal = customer(world, "Loyal", segment="fidèle")
    first = campaign(world, version, operation=kit, day=DAY - timedelta(days=2), criteria={"segment": "fidèle"})
    campaign(world, version, operation=kit, criteria={"segment": "fidèle"})
    simulate(world)
    d1 = (DAY - timedelta(days=2)).strftime("%d/%m")
    assert why(world, loyal)[1] == (
        f"Will not receive “Kit local” (E-mail, {D}): already 1 marketing message in the last 7 days — the network "
        f"allows 1 to the segment “fidèle”. Lost to “Kit local” (your campaign, {d1}).")
    assert first.pk


def test_why_not_names_another_branchs_campaign_only_as_another_campaign(world, case):
    simulate(world)
    xavier = case["customers"]["Xavier"]
    # Xavier moves from N2 to N1 after the simulation: N1's manager now reads his decisions
    Customer.objects.filter(pk=xavier.pk).update(branch=world.nodes["N1"])
    assert why(world, xavier) == [
        f"Will receive another campaign (E-mail, {D}).",
        f"Will not receive “Opération nationale” (E-mail, {D}): already 1 marketing message in the last 7 days — "
        "the network allows 1. Lost to another campaign.",
    ]
    body = api(world, "branch_manager", "get", f"/api/v1/customers/{xavier.public_id}/why/").content.decode()
    assert "Kit Arras" not in body and "Arras" not in body and case["arras"].public_id not in body
    # N2's manager no longer sees him
    assert api(world, "sibling_branch_manager", "get", f"/api/v1/customers/{xavier.public_id}/why/").status_code == 404


def test_why_not_a_customer_who_changed_branch_since_the_target_was_made(world, version, kit):
    moved = customer(world, "Moved", segment="")
    local = campaign(world, version, operation=kit)
    TargetOverride.objects.create(campaign=local, customer=moved, action="include")
    Customer.objects.filter(pk=moved.pk).update(branch=world.nodes["N2"])
    simulate(world)
    assert why(world, moved, actor="sibling_branch_manager") == [
        f"Will not receive another campaign (E-mail, {D}): the customer belongs to another branch than the "
        "campaign's."]


def test_why_not_page_and_api_and_a_foreign_customer_answers_404(world, case):
    simulate(world)
    alice, dave = case["customers"]["Alice"], case["customers"]["Dave"]
    client = world.client_for("branch_manager")
    search = client.get("/network/customers/why/", {"q": "Dave"})
    assert search.status_code == 200 and f"/network/customers/{dave.public_id}/why/" in search.content.decode()
    assert client.get("/network/customers/why/", {"q": "Xavier"}).context["found"] == []
    assert client.get("/network/customers/why/", {"q": dave.public_id}).context["found"] == [dave]
    xavier_id = case["customers"]["Xavier"].public_id
    assert client.get("/network/customers/why/", {"q": xavier_id}).context["found"] == []
    page = client.get(f"/network/customers/{dave.public_id}/why/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    html = page.content.decode()
    assert "already 1 marketing message in the last 7 days — the network allows 1" in html
    body = api(world, "branch_manager", "get", f"/api/v1/customers/{alice.public_id}/why/").json()
    assert [(line["campaign"], line["selected"], line["reason"]) for line in body["lines"]] == [
        (case["local"].public_id, True, ""), (None, False, "pressure_cap")]
    assert body["lines"][1]["campaign_label"] == "Opération nationale"
    xavier = case["customers"]["Xavier"]
    for actor in ("branch_manager", "other_region_manager", "approver", "other_network_head_office"):
        assert world.client_for(actor).get(f"/network/customers/{xavier.public_id}/why/").status_code == 404
        assert api(world, actor, "get", f"/api/v1/customers/{xavier.public_id}/why/").status_code == 404
    assert api(world, "branch_manager", "get", "/api/v1/customers/cus_doesnotexist0000/why/").status_code == 404
    assert world.client_for("approver").get("/network/customers/why/").status_code == 404
    # a customer no run concerned
    anne = world.customers["N1"]
    assert why(world, anne) == []
    assert 'data-testid="why-none"' in client.get(f"/network/customers/{anne.public_id}/why/").content.decode()


def test_a_real_run_is_explained_too(world, version, kit):
    alice = customer(world, "Alice")
    campaign(world, version, operation=kit)
    simulate(world)
    arbitrate(network=world.networks["alpha"], starts_on=DAY, ends_on=DAY, mode=ArbitrationRun.Mode.COMMIT,
              gate=lambda c: None)
    run = customer_why_not(fetched_by=world.users["branch_manager"], customer=alice).run
    assert run.mode == ArbitrationRun.Mode.COMMIT


def test_campaign_simulation_needs_the_campaigns_customers(world, case):
    with pytest.raises(PermissionDenied):
        campaign_simulation(campaign=case["local"], run_by=world.users["approver"])
