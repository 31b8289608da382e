"""The REST API of the national calendar (/api/v1/operations/, /api/v1/campaigns/): scoped like the
pages (a foreign object and a missing one both answer 404), writes through the services (bad input
answers 400 by field and changes nothing), planner-only writes refused, anonymous refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from central.calendar.services import participation_answer
from central.models import (
    CalendarPeriod,
    Campaign,
    CampaignEvent,
    CampaignStatus,
    ConsentStatus,
    Customer,
    Operation,
    OperationMode,
    Participation,
)
from tests.planning import plan, sms_version

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
MISSING_OPERATION = "op_doesnotexist00000"
MISSING_CAMPAIGN = "cmp_doesnotexist0000"


def add_customers(world, branch_code: str, count: int, tag: str = "", **fields) -> list[Customer]:
    branch = world.nodes[branch_code]
    values = {"consent_sms": ConsentStatus.GRANTED, "mobile": "0600000000", "segment": "gold"} | fields
    return [
        Customer.objects.create(network=branch.network, branch=branch, external_id=f"{branch_code}-{tag}{index}",
                                last_name=f"Client {branch_code} {tag}{index}", **values)
        for index in range(count)
    ]


def get(world, actor: str, url: str, params: dict | None = None):
    return world.client_for(actor).get(url, params or {})


def post(world, actor: str, url: str, data: dict | None = None):
    return world.client_for(actor).post(url, data or {}, content_type="application/json")


def patch(world, actor: str, url: str, data: dict):
    return world.client_for(actor).patch(url, data, content_type="application/json")


def ids(response) -> set[str]:
    return {item["id"] for item in response.json()["results"]}


@pytest.fixture
def joined(world) -> Campaign:
    """N1 joined an opt-in SMS operation (segment and postal code allowed): its campaign."""
    operation = plan(world, versions=[sms_version(world)], allowed_criteria=["segment", "postal_code_prefix"])
    participation_answer(operation=operation, branch=world.nodes["N1"], status="joined",
                         answered_by=world.users["branch_manager"])
    return Campaign.objects.get(operation=operation, branch=world.nodes["N1"])


def operation_payload(world, **fields) -> dict:
    return {
        "network": "alpha", "name": "Fête des pères", "theme": "cadeaux", "channels": ["sms"], "mode": "opt_in",
        "send_from": (TODAY + timedelta(days=20)).isoformat(), "send_until": (TODAY + timedelta(days=30)).isoformat(),
        "subscription_deadline": (TODAY + timedelta(days=10)).isoformat(), "allowed_criteria": ["segment"],
        **fields,
    }


# --- Operations ------------------------------------------------------------------------------------


def test_operations_are_listed_within_the_callers_scope_and_filtered(world):
    draft = plan(world, name="Brouillon", publish=False)
    pilot = plan(world, name="Pilote Nord", eligible=["NORTH"], is_pilot=True)
    kit = plan(world, name="Kit", mode=OperationMode.KIT)
    url = "/api/v1/operations/"
    assert ids(get(world, "head_office", url)) == {draft.public_id, pilot.public_id, kit.public_id}
    assert ids(get(world, "branch_manager", url)) == {pilot.public_id, kit.public_id}
    assert ids(get(world, "other_region_manager", url)) == {kit.public_id}
    assert get(world, "other_network_head_office", url).json()["count"] == 0
    assert ids(get(world, "head_office", url, {"status": "draft"})) == {draft.public_id}
    assert ids(get(world, "head_office", url, {"mode": "kit"})) == {kit.public_id}
    assert get(world, "head_office", url, {"year": TODAY.year + 5}).json()["count"] == 0
    assert get(world, "head_office", url, {"year": (TODAY + timedelta(days=25)).year}).json()["count"] == 3
    bad = get(world, "head_office", url, {"status": "bogus", "year": "soon"})
    assert bad.status_code == 400 and set(bad.json()) == {"status", "year"}


def test_a_foreign_operation_and_a_missing_one_both_answer_404(world):
    draft = plan(world, name="Brouillon", publish=False)
    pilot = plan(world, name="Pilote Sud", eligible=["SOUTH"], is_pilot=True)
    for actor, public_id in [
        ("other_network_head_office", pilot.public_id),  # another network's operation
        ("branch_manager", pilot.public_id),  # not open to any branch they see
        ("branch_manager", draft.public_id),  # drafts are the planners' only
        ("head_office", MISSING_OPERATION),
    ]:
        for suffix in ("", "participations/"):
            assert get(world, actor, f"/api/v1/operations/{public_id}/{suffix}").status_code == 404, (actor, suffix)
    assert get(world, "other_region_manager", f"/api/v1/operations/{pilot.public_id}/").status_code == 200


def test_an_operation_shows_only_the_eligible_nodes_and_branches_the_caller_sees(world):
    pilot = plan(world, name="Pilote", eligible=["N1", "SOUTH"], is_pilot=True)
    mine = get(world, "branch_manager", f"/api/v1/operations/{pilot.public_id}/")
    assert mine.status_code == 200
    assert [node["code"] for node in mine.json()["eligible_nodes"]] == ["N1"]
    assert [branch["code"] for branch in mine.json()["eligible_branches"]] == ["N1"]
    body = mine.content.decode()
    assert world.nodes["SOUTH"].public_id not in body and world.nodes["S1"].public_id not in body
    planner = get(world, "head_office", f"/api/v1/operations/{pilot.public_id}/").json()
    assert {node["code"] for node in planner["eligible_nodes"]} == {"N1", "SOUTH"}
    assert {branch["code"] for branch in planner["eligible_branches"]} == {"N1", "S1"}


def test_a_planner_creates_a_draft_operation(world):
    version = sms_version(world)
    response = post(world, "head_office", "/api/v1/operations/", operation_payload(
        world, template_versions=[version.public_id], eligible_nodes=[world.nodes["NORTH"].public_id], is_pilot=True))
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["status"] == "draft" and data["network"] == "alpha" and data["is_pilot"] is True
    assert [item["id"] for item in data["template_versions"]] == [version.public_id]
    assert [node["code"] for node in data["eligible_nodes"]] == ["NORTH"]
    operation = Operation.objects.get(public_id=data["id"])
    assert operation.created_by == world.users["head_office"]
    assert get(world, "head_office", f"/api/v1/operations/{operation.public_id}/").json()["name"] == "Fête des pères"
    # The network may also be named by its public id.
    again = post(world, "head_office", "/api/v1/operations/",
                 operation_payload(world, network=world.networks["alpha"].public_id, name="Bis"))
    assert again.status_code == 201, again.json()


def test_only_calendar_planners_create_operations(world):
    # A user who plans no calendar gets 403, not 404: /api/v1/operations/ is a collection they do
    # read (GET answers 200 with the operations open to them), so hiding it would be a lie; only
    # creating in it is refused, and the refusal names no object and reveals nothing.
    for actor in ("branch_manager", "regional_manager", "approver", "analyst", "nobody"):
        response = post(world, actor, "/api/v1/operations/", operation_payload(world))
        assert response.status_code == 403, actor
    # A planner of another network names a network they do not plan: a field error, the same for a
    # network that exists and one that does not.
    for network in ("alpha", "doesnotexist"):
        response = post(world, "other_network_head_office", "/api/v1/operations/",
                        operation_payload(world, network=network))
        assert response.status_code == 400 and set(response.json()) == {"network"}
    assert not Operation.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"send_until": TODAY.isoformat()}, "send_until"),
        ({"subscription_deadline": (TODAY + timedelta(days=25)).isoformat()}, "subscription_deadline"),
        ({"channels": ["fax"]}, "channels"),
        ({"allowed_criteria": ["income"]}, "allowed_criteria"),
        ({"mode": "sometimes"}, "mode"),
        ({"send_from": "next week"}, "send_from"),
        ({"template_versions": ["tv_doesnotexist00000"]}, "template_versions"),
        ({"eligible_nodes": ["W1"]}, "eligible_nodes"),  # another network's branch: unknown here
        ({"is_pilot": True}, "eligible_nodes"),
    ],
)
def test_an_unsound_operation_answers_400_by_field_and_creates_nothing(world, fields, field):
    if fields.get("eligible_nodes") == ["W1"]:
        fields = {"eligible_nodes": [world.nodes["W1"].public_id]}
    response = post(world, "head_office", "/api/v1/operations/", operation_payload(world, **fields))
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not Operation.objects.exists()


def test_patching_a_draft_is_saved_keeps_what_is_left_out_and_the_get_shows_it(world):
    version = sms_version(world)
    draft = plan(world, publish=False, versions=[version], eligible=["NORTH"], is_pilot=True)
    url = f"/api/v1/operations/{draft.public_id}/"
    response = patch(world, "head_office", url, {"name": "Foire d'automne", "allowed_criteria": ["segment", "min_rfm"]})
    assert response.status_code == 200, response.json()
    shown = get(world, "head_office", url).json()
    assert shown["name"] == "Foire d'automne"
    assert shown["allowed_criteria"] == ["segment", "min_rfm"]
    # Left out of the PATCH, the template versions and the eligible regions stay.
    assert [item["id"] for item in shown["template_versions"]] == [version.public_id]
    assert [node["code"] for node in shown["eligible_nodes"]] == ["NORTH"]
    refused = patch(world, "head_office", url, {"send_until": TODAY.isoformat()})
    assert refused.status_code == 400 and "send_until" in refused.json()
    draft.refresh_from_db()
    assert draft.send_until == TODAY + timedelta(days=30)
    # Someone who does not plan does not even see the draft.
    assert patch(world, "branch_manager", url, {"name": "x"}).status_code == 404


def test_a_published_operation_never_changes(world):
    published = plan(world)
    url = f"/api/v1/operations/{published.public_id}/"
    response = patch(world, "head_office", url, {"name": "Autre"})
    assert response.status_code == 400 and "non_field_errors" in response.json()
    # A branch manager sees it but does not plan: 403.
    assert patch(world, "branch_manager", url, {"name": "Autre"}).status_code == 403
    assert patch(world, "other_network_head_office", url, {"name": "Autre"}).status_code == 404
    published.refresh_from_db()
    assert published.name == "Foire aux vins"


def test_publishing_a_mandatory_operation_enrols_the_eligible_branches(world):
    draft = plan(world, mode=OperationMode.MANDATORY, publish=False, versions=[sms_version(world)])
    url = f"/api/v1/operations/{draft.public_id}/publish/"
    assert post(world, "branch_manager", url).status_code == 404  # a draft: not theirs to see
    assert post(world, "other_network_head_office", url).status_code == 404
    response = post(world, "head_office", url)
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "published"
    assert set(Participation.objects.filter(operation=draft).values_list("branch__code", flat=True)) == {"N1", "N2", "S1"}
    again = post(world, "head_office", url)
    assert again.status_code == 400 and "non_field_errors" in again.json()
    assert post(world, "branch_manager", url).status_code == 403  # now visible, still not theirs to publish
    assert post(world, "head_office", f"/api/v1/operations/{MISSING_OPERATION}/publish/").status_code == 404


# --- Participations --------------------------------------------------------------------------------


def test_answers_are_listed_for_the_branches_the_caller_sees(world):
    operation = plan(world)
    participation_answer(operation=operation, branch=world.nodes["N1"], status="joined",
                         answered_by=world.users["branch_manager"])
    participation_answer(operation=operation, branch=world.nodes["S1"], status="declined",
                         answered_by=world.users["other_region_manager"])
    url = f"/api/v1/operations/{operation.public_id}/participations/"
    mine = get(world, "branch_manager", url)
    assert [(item["branch_code"], item["status"]) for item in mine.json()["results"]] == [("N1", "joined")]
    assert "Nîmes" not in mine.content.decode()
    everyone = get(world, "head_office", url).json()["results"]
    assert {(item["branch_code"], item["status"]) for item in everyone} == {("N1", "joined"), ("S1", "declined")}


def test_a_branch_joins_through_the_api(world):
    operation = plan(world, versions=[sms_version(world)])
    url = f"/api/v1/operations/{operation.public_id}/participations/"
    response = post(world, "branch_manager", url, {"branch": world.nodes["N1"].public_id, "status": "joined"})
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "joined"
    assert Campaign.objects.filter(operation=operation, branch=world.nodes["N1"], status="draft").count() == 1


def test_answering_for_a_branch_one_does_not_see_is_like_answering_for_a_missing_one(world):
    operation = plan(world)
    url = f"/api/v1/operations/{operation.public_id}/participations/"
    for branch in (world.nodes["N2"].public_id, world.nodes["W1"].public_id, "nod_doesnotexist0000"):
        response = post(world, "branch_manager", url, {"branch": branch, "status": "joined"})
        assert response.status_code == 404, branch
    # The regional manager sees N1 but does not act for it.
    assert post(world, "regional_manager", url, {"branch": world.nodes["N1"].public_id, "status": "joined"}).status_code == 403
    bad = post(world, "branch_manager", url, {"branch": world.nodes["N1"].public_id, "status": "maybe"})
    assert bad.status_code == 400 and set(bad.json()) == {"status"}
    assert not Participation.objects.exists()


def test_answering_after_the_deadline_is_refused_and_changes_nothing(world):
    late = plan(world, name="Trop tard", subscription_deadline=TODAY - timedelta(days=1), send_from=TODAY)
    response = post(world, "branch_manager", f"/api/v1/operations/{late.public_id}/participations/",
                    {"branch": world.nodes["N1"].public_id, "status": "joined"})
    assert response.status_code == 400
    assert "deadline" in " ".join(response.json()["non_field_errors"])
    assert not Participation.objects.exists()


# --- Campaigns -------------------------------------------------------------------------------------


def test_a_branch_manager_sees_only_their_own_campaigns(world, joined):
    participation_answer(operation=joined.operation, branch=world.nodes["N2"], status="joined",
                         answered_by=world.users["sibling_branch_manager"])
    sibling = Campaign.objects.get(operation=joined.operation, branch=world.nodes["N2"])
    url = "/api/v1/campaigns/"
    assert ids(get(world, "branch_manager", url)) == {joined.public_id}
    assert ids(get(world, "sibling_branch_manager", url)) == {sibling.public_id}
    assert ids(get(world, "regional_manager", url)) == {joined.public_id, sibling.public_id}
    assert ids(get(world, "head_office", url)) == {joined.public_id, sibling.public_id}
    assert get(world, "other_network_head_office", url).json()["count"] == 0
    # Filtering on a foreign branch gives nothing, never its campaigns.
    assert get(world, "branch_manager", url, {"branch": world.nodes["N2"].public_id}).json()["count"] == 0
    assert ids(get(world, "head_office", url, {"branch": world.nodes["N2"].public_id})) == {sibling.public_id}
    assert ids(get(world, "branch_manager", url, {"operation": joined.operation.public_id})) == {joined.public_id}
    assert "Arras" not in get(world, "branch_manager", url).content.decode()


def test_a_foreign_campaign_and_a_missing_one_both_answer_404(world, joined):
    suffixes = ("", "audience/", "audience-count/", "clashes/", "history/")
    for actor, public_id in [
        ("other_network_head_office", joined.public_id),
        ("sibling_branch_manager", joined.public_id),
        ("other_region_manager", joined.public_id),
        ("nobody", joined.public_id),
        ("branch_manager", MISSING_CAMPAIGN),
    ]:
        for suffix in suffixes:
            response = get(world, actor, f"/api/v1/campaigns/{public_id}/{suffix}")
            assert response.status_code == 404, (actor, suffix)
        assert patch(world, actor, f"/api/v1/campaigns/{public_id}/", {"send_date": "2030-01-01"}).status_code == 404
        assert post(world, actor, f"/api/v1/campaigns/{public_id}/cancel/").status_code == 404
        assert post(world, actor, f"/api/v1/campaigns/{public_id}/target/",
                    {"customer": world.customers["N1"].public_id, "action": "exclude"}).status_code == 404


def test_the_campaign_shows_its_deadline_criteria_and_audience_count(world, joined):
    add_customers(world, "N1", 3)
    add_customers(world, "N2", 4)
    data = get(world, "branch_manager", f"/api/v1/campaigns/{joined.public_id}/").json()
    assert data["id"] == joined.public_id and data["branch"] == world.nodes["N1"].public_id
    assert data["operation"] == joined.operation.public_id
    assert data["audience_count"] == 3
    assert data["allowed_criteria"] == ["segment", "postal_code_prefix"]
    assert data["edit_deadline"] == joined.operation.subscription_deadline.isoformat()
    assert data["can_edit"] is True
    assert get(world, "regional_manager", f"/api/v1/campaigns/{joined.public_id}/").json()["can_edit"] is False
    # The approver sees the branch (and so its campaign) but not its customers: no count, no list.
    approver = get(world, "approver", f"/api/v1/campaigns/{joined.public_id}/")
    assert approver.status_code == 200 and approver.json()["audience_count"] is None
    assert get(world, "approver", f"/api/v1/campaigns/{joined.public_id}/audience/").status_code == 404


def test_a_patch_is_saved_audited_and_shown_by_the_get(world, joined):
    url = f"/api/v1/campaigns/{joined.public_id}/"
    new_date = joined.operation.send_from + timedelta(days=2)
    response = patch(world, "branch_manager", url, {
        "slot_values": {"message": "huîtres et muscadet"}, "send_date": new_date.isoformat(),
        "target_criteria": {"segment": "gold"},
    })
    assert response.status_code == 200, response.json()
    shown = get(world, "branch_manager", url).json()
    assert shown["slot_values"] == {"message": "huîtres et muscadet"}
    assert shown["send_date"] == new_date.isoformat()
    assert shown["target_criteria"] == {"segment": "gold"}
    history = get(world, "branch_manager", f"{url}history/").json()["results"]
    assert history[0]["action"] == "customised"
    assert history[0]["changes"]["send_date"] == [joined.send_date.isoformat(), new_date.isoformat()]
    assert history[0]["by"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"send_date": "before"}, "send_date"),
        ({"send_date": "after"}, "send_date"),
        ({"send_date": "not a date"}, "send_date"),
        ({"target_criteria": {"min_rfm": 10}}, "target_min_rfm"),  # not allowed by the operation
        ({"target_criteria": {"income": 3}}, "target_income"),
        ({"slot_values": {"message": "x" * 61}}, "message"),
    ],
)
def test_an_unsound_patch_answers_400_by_field_and_changes_nothing(world, joined, change, field):
    operation = joined.operation
    dates = {"before": operation.send_from - timedelta(days=1), "after": operation.send_until + timedelta(days=1)}
    if change.get("send_date") in dates:
        change = {"send_date": dates[change["send_date"]].isoformat()}
    # Along with a sound change, which must not be saved either: all or nothing.
    response = patch(world, "branch_manager", f"/api/v1/campaigns/{joined.public_id}/",
                     {"slot_values": {"message": "bulles"}, **change})
    assert response.status_code == 400
    assert field in response.json(), response.json()
    before = (joined.slot_values, joined.send_date, joined.target_criteria)
    joined.refresh_from_db()
    assert (joined.slot_values, joined.send_date, joined.target_criteria) == before
    assert not CampaignEvent.objects.filter(campaign=joined, action="customised").exists()


def test_who_sees_a_campaign_but_does_not_act_for_its_branch_gets_403(world, joined):
    url = f"/api/v1/campaigns/{joined.public_id}/"
    for actor in ("regional_manager", "approver", "analyst"):
        assert patch(world, actor, url, {"send_date": "2030-01-01"}).status_code == 403, actor
        assert post(world, actor, f"{url}cancel/").status_code == 403, actor
        assert post(world, actor, f"{url}target/",
                    {"customer": world.customers["N1"].public_id, "action": "exclude"}).status_code == 403, actor
    joined.refresh_from_db()
    assert joined.status == CampaignStatus.DRAFT


def test_the_audience_is_a_hand_count_of_own_reachable_customers_and_never_anothers(world, joined):
    gold = add_customers(world, "N1", 3, tag="g")
    silver = add_customers(world, "N1", 2, tag="s", segment="silver")
    add_customers(world, "N1", 1, tag="u", consent_sms=ConsentStatus.DENIED)
    add_customers(world, "N1", 1, tag="o", objected_at=timezone.now())
    sibling = add_customers(world, "N2", 4, tag="g")
    add_customers(world, "W1", 4, tag="g")
    url = f"/api/v1/campaigns/{joined.public_id}/"
    for actor in ("branch_manager", "regional_manager", "head_office"):
        audience = get(world, actor, f"{url}audience/").json()
        assert audience["count"] == 5, actor
        assert {item["id"] for item in audience["results"]} == {c.public_id for c in gold + silver}, actor
        assert set(audience["results"][0]) == {"id", "first_name", "last_name"}
        assert get(world, actor, f"{url}audience-count/").json()["count"] == 5
    assert not {c.public_id for c in sibling} & {item["id"] for item in get(world, "head_office", f"{url}audience/").json()["results"]}
    counted = get(world, "branch_manager", f"{url}audience-count/", {"segment": "gold"}).json()
    assert counted == {"count": 3, "criteria": {"segment": "gold"}}
    assert get(world, "branch_manager", f"{url}audience-count/", {"segment": ""}).json()["count"] == 5
    # Counting unsaved criteria changes nothing.
    joined.refresh_from_db()
    assert joined.target_criteria == {}


def test_the_audience_count_refuses_criteria_the_operation_does_not_allow(world, joined):
    url = f"/api/v1/campaigns/{joined.public_id}/audience-count/"
    for params, field in [({"min_rfm": "10"}, "min_rfm"), ({"income": "3"}, "income"),
                          ({"postal_code_prefix": "59 OR 1=1"}, "postal_code_prefix")]:
        response = get(world, "branch_manager", url, params)
        assert response.status_code == 400 and set(response.json()) == {field}, params


def test_the_proposed_list_takes_only_the_branchs_own_customers(world, joined):
    gold = add_customers(world, "N1", 2, tag="g")
    sibling = add_customers(world, "N2", 1, tag="g")[0]
    url = f"/api/v1/campaigns/{joined.public_id}/target/"
    removed = post(world, "branch_manager", url, {"customer": gold[0].public_id, "action": "exclude"})
    assert removed.status_code == 200, removed.json()
    assert removed.json() == {"customer": gold[0].public_id, "override": "exclude", "audience_count": 1}
    for foreign in (sibling.public_id, world.customers["W1"].public_id, "cus_doesnotexist0000"):
        response = post(world, "branch_manager", url, {"customer": foreign, "action": "include"})
        assert response.status_code == 400 and set(response.json()) == {"customer"}, foreign
    bad = post(world, "branch_manager", url, {"customer": gold[1].public_id, "action": "delete"})
    assert bad.status_code == 400 and set(bad.json()) == {"action"}
    assert joined.overrides.count() == 1
    restored = post(world, "branch_manager", url, {"customer": gold[0].public_id, "action": "reset"})
    assert restored.json() == {"customer": gold[0].public_id, "override": None, "audience_count": 2}


def test_target_changes_in_the_history_name_customers_only_to_who_sees_them(world, joined):
    customer = add_customers(world, "N1", 1, tag="g")[0]
    post(world, "branch_manager", f"/api/v1/campaigns/{joined.public_id}/target/",
         {"customer": customer.public_id, "action": "exclude"})
    url = f"/api/v1/campaigns/{joined.public_id}/history/"
    mine = get(world, "branch_manager", url).json()["results"]
    assert mine[0]["action"] == "target_exclude" and mine[0]["changes"]["customer"] == customer.public_id
    approver = get(world, "approver", url)
    assert approver.json()["results"][0] == {**mine[0], "changes": {}}
    assert customer.public_id not in approver.content.decode() and customer.last_name not in approver.content.decode()


def test_clashes_show_a_blackout_on_the_date_asked(world, joined):
    day = joined.operation.send_from + timedelta(days=3)
    CalendarPeriod.objects.create(network=world.networks["alpha"], kind="blackout", name="Inventaire",
                                  starts_on=day, ends_on=day, channels=["sms"])
    url = f"/api/v1/campaigns/{joined.public_id}/clashes/"
    assert get(world, "branch_manager", url).json() == []
    clashes = get(world, "branch_manager", url, {"send_date": day.isoformat()}).json()
    assert clashes == [{"kind": "blackout", "label": "Inventaire", "send_date": None, "overlap": None, "blocking": True}]
    bad = get(world, "branch_manager", url, {"send_date": "tomorrow"})
    assert bad.status_code == 400 and set(bad.json()) == {"send_date"}


def test_a_branch_uses_a_kit_and_a_planner_plans_a_national_send(world):
    version = sms_version(world)
    kit = plan(world, name="Kit SMS", mode=OperationMode.KIT, versions=[version])
    url = "/api/v1/campaigns/"
    used = post(world, "branch_manager", url, {"operation": kit.public_id, "branch": world.nodes["N1"].public_id,
                                               "template_version": version.public_id})
    assert used.status_code == 201, used.json()
    assert used.json()["branch"] == world.nodes["N1"].public_id and used.json()["can_edit"] is True
    # Another branch, seen or not, is like a missing one; a version outside the kit is a field error.
    for branch in (world.nodes["N2"].public_id, "nod_doesnotexist0000"):
        assert post(world, "branch_manager", url, {"operation": kit.public_id, "branch": branch,
                                                   "template_version": version.public_id}).status_code == 404
    other_version = sms_version(world)
    wrong = post(world, "branch_manager", url, {"operation": kit.public_id, "branch": world.nodes["N1"].public_id,
                                                "template_version": other_version.public_id})
    assert wrong.status_code == 400 and set(wrong.json()) == {"template_version"}

    operation = plan(world, name="National", versions=[version])
    national = {"operation": operation.public_id, "template_version": version.public_id}
    assert post(world, "branch_manager", url, national).status_code == 403  # sees the operation, does not plan
    assert post(world, "other_network_head_office", url, national).status_code == 404
    created = post(world, "head_office", url, national)
    assert created.status_code == 201, created.json()
    assert created.json()["branch"] is None
    assert Campaign.objects.filter(operation=operation, branch__isnull=True).count() == 1
    assert created.json()["id"] not in ids(get(world, "branch_manager", url))


def test_cancelling_a_campaign(world, joined):
    url = f"/api/v1/campaigns/{joined.public_id}/cancel/"
    response = post(world, "branch_manager", url)
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    again = post(world, "branch_manager", url)
    assert again.status_code == 400 and "non_field_errors" in again.json()
    assert get(world, "branch_manager", "/api/v1/campaigns/").json()["count"] == 0
    assert ids(get(world, "branch_manager", "/api/v1/campaigns/", {"status": "cancelled"})) == {joined.public_id}


# --- Anonymous, schema --------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Token 0123456789abcdef0123456789abcdef01234567"}],
                         ids=["no-credentials", "unknown-token"])
def test_anonymous_is_refused_everywhere(world, joined, headers):
    client = Client(headers=headers)
    operation, campaign = joined.operation.public_id, joined.public_id
    reads = ["/api/v1/operations/", f"/api/v1/operations/{operation}/", f"/api/v1/operations/{operation}/participations/",
             "/api/v1/campaigns/", *(f"/api/v1/campaigns/{campaign}/{suffix}"
                                     for suffix in ("", "audience/", "audience-count/", "clashes/", "history/"))]
    for url in reads:
        response = client.get(url)
        assert response.status_code in {401, 403}, url
        assert "Lille" not in response.content.decode()
    writes = ["/api/v1/operations/", f"/api/v1/operations/{operation}/publish/",
              f"/api/v1/operations/{operation}/participations/", "/api/v1/campaigns/",
              f"/api/v1/campaigns/{campaign}/target/", f"/api/v1/campaigns/{campaign}/cancel/"]
    for url in writes:
        assert client.post(url, {}, content_type="application/json").status_code in {401, 403}, url
    assert client.patch(f"/api/v1/campaigns/{campaign}/", {}, content_type="application/json").status_code in {401, 403}
    joined.refresh_from_db()
    assert joined.status == CampaignStatus.DRAFT


def test_the_token_api_is_scoped_like_the_session(world, joined):
    token = Client().post("/api/v1/auth/token/", {"username": "sibling_branch_manager", "password": "secret-password"})
    assert token.status_code == 200, token.content
    client = Client(headers={"Authorization": f"Token {token.json()['token']}"})
    assert client.get("/api/v1/campaigns/").json()["count"] == 0
    assert client.get(f"/api/v1/campaigns/{joined.public_id}/").status_code == 404


def test_the_schema_documents_the_calendar_endpoints_without_warnings(world, tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    paths = world.client_for("head_office").get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["paths"]
    for path in (
        "/api/v1/operations/", "/api/v1/operations/{public_id}/", "/api/v1/operations/{public_id}/publish/",
        "/api/v1/operations/{public_id}/participations/", "/api/v1/campaigns/", "/api/v1/campaigns/{public_id}/",
        "/api/v1/campaigns/{public_id}/audience/", "/api/v1/campaigns/{public_id}/audience-count/",
        "/api/v1/campaigns/{public_id}/clashes/", "/api/v1/campaigns/{public_id}/target/",
        "/api/v1/campaigns/{public_id}/history/", "/api/v1/campaigns/{public_id}/cancel/",
    ):
        assert path in paths, path
    assert {"year", "status", "mode"} <= {p["name"] for p in paths["/api/v1/operations/"]["get"]["parameters"]}
    assert set(paths["/api/v1/operations/{public_id}/"]) >= {"get", "patch"}
