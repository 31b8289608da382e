"""National calendar: operations, eligibility (pilots), answers before the deadline, mandatory
enrolment once, scoping, and the personal iCalendar feed."""

from datetime import timedelta

import icalendar
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from central.calendar.selectors import operation_eligible_branches, operations_visible_to
from central.calendar.services import (
    feed_token_create,
    feed_token_revoke,
    operation_enrol_mandatory,
    operation_save,
    participation_answer,
)
from central.models import CalendarPeriod, OperationMode, Participation, ParticipationEvent
from tests.planning import plan

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"send_until": TODAY}, "send_until"),
        ({"subscription_deadline": TODAY + timedelta(days=25)}, "subscription_deadline"),
        ({"subscription_deadline": None}, "subscription_deadline"),
        ({"channels": ["fax"]}, "channels"),
        ({"allowed_criteria": ["income"]}, "allowed_criteria"),
        ({"is_pilot": True}, "eligible_nodes"),
        ({"opt_out_allowed": True}, "opt_out_allowed"),
    ],
)
def test_an_unsound_operation_is_refused_by_field(world, fields, field):
    with pytest.raises(ValidationError) as error:
        plan(world, publish=False, **fields)
    assert field in error.value.message_dict


def test_only_the_head_office_plans(world):
    for actor in ("branch_manager", "regional_manager", "other_network_head_office", "approver"):
        with pytest.raises(PermissionDenied):
            operation_save(network=world.networks["alpha"], saved_by=world.users[actor], name="x", channels=["email"],
                           mode="kit", send_from=TODAY, send_until=TODAY)


def test_a_mandatory_operation_enrols_exactly_the_eligible_branches_once(world):
    operation = plan(world, mode=OperationMode.MANDATORY, eligible=["NORTH"], is_pilot=True)
    enrolled = set(Participation.objects.filter(operation=operation).values_list("branch__code", flat=True))
    assert enrolled == {"N1", "N2"}
    assert operation_enrol_mandatory(operation=operation) == 0  # the task running again changes nothing
    assert Participation.objects.filter(operation=operation).count() == 2
    assert ParticipationEvent.objects.filter(participation__operation=operation).count() == 2


def test_joining_declining_and_the_deadline(world):
    operation = plan(world)
    manager = world.users["branch_manager"]
    participation_answer(operation=operation, branch=world.nodes["N1"], status="joined", answered_by=manager)
    participation_answer(operation=operation, branch=world.nodes["N1"], status="declined", answered_by=manager)
    statuses = list(ParticipationEvent.objects.filter(participation__branch=world.nodes["N1"]).values_list("status", flat=True))
    assert statuses == ["declined", "joined"]  # audit, newest first
    late = plan(world, name="Too late", subscription_deadline=TODAY - timedelta(days=1), send_from=TODAY)
    with pytest.raises(ValidationError, match="deadline"):
        participation_answer(operation=late, branch=world.nodes["N1"], status="joined", answered_by=manager)


def test_a_branch_answers_only_for_itself_and_only_where_eligible(world):
    pilot = plan(world, eligible=["SOUTH"], is_pilot=True)
    with pytest.raises(ValidationError, match="not open"):
        participation_answer(operation=pilot, branch=world.nodes["N1"], status="joined", answered_by=world.users["branch_manager"])
    open_to_all = plan(world, name="Noël")
    with pytest.raises(PermissionDenied):
        participation_answer(operation=open_to_all, branch=world.nodes["N1"], status="joined",
                             answered_by=world.users["sibling_branch_manager"])


def test_opting_out_of_a_mandatory_operation_only_when_allowed(world):
    strict = plan(world, mode=OperationMode.MANDATORY)
    with pytest.raises(ValidationError, match="does not allow opting out"):
        participation_answer(operation=strict, branch=world.nodes["N1"], status="opted_out", answered_by=world.users["branch_manager"])
    flexible = plan(world, name="Souple", mode=OperationMode.MANDATORY, opt_out_allowed=True)
    answer = participation_answer(operation=flexible, branch=world.nodes["N1"], status="opted_out", answered_by=world.users["branch_manager"])
    assert answer.status == "opted_out"


def test_operations_are_scoped(world):
    draft = plan(world, name="Brouillon", publish=False)
    pilot = plan(world, name="Pilote Nord", eligible=["NORTH"], is_pilot=True)
    national = plan(world, name="National")
    def names(actor):
        return set(operations_visible_to(world.users[actor]).values_list("name", flat=True))
    assert names("head_office") == {"Brouillon", "Pilote Nord", "National"}
    assert names("branch_manager") == {"Pilote Nord", "National"}
    assert names("regional_manager") == {"Pilote Nord", "National"}
    assert names("other_region_manager") == {"National"}
    assert names("other_network_head_office") == set()
    assert world.client_for("other_region_manager").get(f"/calendar/operations/{pilot.public_id}/").status_code == 404
    assert world.client_for("branch_manager").get(f"/calendar/operations/{draft.public_id}/").status_code == 404
    page = world.client_for("branch_manager").get(f"/calendar/operations/{national.public_id}/").content.decode()
    assert "Lille" in page and "Arras" not in page and "Nîmes" not in page
    assert set(operation_eligible_branches(pilot).values_list("code", flat=True)) == {"N1", "N2"}


def test_answer_through_the_page(world):
    operation = plan(world)
    client = world.client_for("branch_manager")
    response = client.post(f"/calendar/operations/{operation.public_id}/answer/", {"branch": world.nodes["N1"].public_id, "status": "joined"})
    assert response.status_code == 302
    assert Participation.objects.get(operation=operation).status == "joined"
    foreign = client.post(f"/calendar/operations/{operation.public_id}/answer/", {"branch": world.nodes["N2"].public_id, "status": "joined"})
    assert foreign.status_code == 302
    assert not Participation.objects.filter(branch=world.nodes["N2"]).exists()


def test_calendar_page_shows_the_month(world):
    plan(world, name="Soldes", send_from=TODAY, send_until=TODAY + timedelta(days=2), subscription_deadline=TODAY)
    CalendarPeriod.objects.create(network=world.networks["alpha"], kind="blackout", name="Inventaire",
                                  starts_on=TODAY, ends_on=TODAY)
    body = world.client_for("branch_manager").get("/calendar/").content.decode()
    assert "Soldes" in body and "Inventaire" in body
    assert "Soldes" not in world.client_for("other_network_head_office").get("/calendar/").content.decode()


def test_ical_feed_holds_exactly_the_users_events_and_dies_when_revoked(world):
    plan(world, name="Pilote Nord", eligible=["NORTH"], is_pilot=True)
    plan(world, name="Pilote Sud", eligible=["SOUTH"], is_pilot=True)
    token = feed_token_create(user=world.users["branch_manager"]).token
    response = world.client_for("anonymous").get(f"/calendar.ics/{token}")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    feed = icalendar.Calendar.from_ical(response.content)
    summaries = {str(event["summary"]) for event in feed.walk("VEVENT")}
    assert summaries == {"Pilote Nord", "Deadline: Pilote Nord"}
    feed_token_revoke(user=world.users["branch_manager"])
    assert world.client_for("anonymous").get(f"/calendar.ics/{token}").status_code == 404
    assert world.client_for("anonymous").get("/calendar.ics/not-a-token").status_code == 404
    new = feed_token_create(user=world.users["branch_manager"]).token
    assert new != token and world.client_for("anonymous").get(f"/calendar.ics/{new}").status_code == 200


def test_the_enrolment_task_enrols_a_branch_added_later_once(world):
    from central.tasks import operations_enrol_mandatory_task
    from local_stores.models import NodeKind
    from local_stores.services import node_create

    operation = plan(world, mode=OperationMode.MANDATORY)
    assert Participation.objects.filter(operation=operation).count() == 3
    node_create(parent=world.nodes["SOUTH"], kind=NodeKind.BRANCH, code="S2", name="Alès")
    assert operations_enrol_mandatory_task() == 1
    assert operations_enrol_mandatory_task() == 0
    assert Participation.objects.filter(operation=operation, branch__code="S2", status="enrolled").count() == 1


def test_campaigns_appear_in_the_calendar_and_the_feed_of_those_who_see_them_only(world):
    from tests.planning import sms_version

    operation = plan(world, name="Foire", versions=[sms_version(world)])
    for actor, code in (("branch_manager", "N1"), ("sibling_branch_manager", "N2"), ("other_region_manager", "S1")):
        participation_answer(operation=operation, branch=world.nodes[code], status="joined", answered_by=world.users[actor])
    token = feed_token_create(user=world.users["branch_manager"]).token
    feed = icalendar.Calendar.from_ical(world.client_for("anonymous").get(f"/calendar.ics/{token}").content)
    summaries = {str(event["summary"]) for event in feed.walk("VEVENT")}
    assert summaries == {"Foire", "Deadline: Foire", "Foire — Lille (SMS)"}
    month = f"?month={operation.send_from:%Y-%m}"
    mine = world.client_for("branch_manager").get("/calendar/" + month).content.decode()
    assert "Foire · Lille" in mine and "Arras" not in mine and "Nîmes" not in mine
    region = world.client_for("regional_manager").get("/calendar/" + month).content.decode()
    assert "Foire · Lille" in region and "Foire · Arras" in region and "Nîmes" not in region
    head_office = world.client_for("head_office").get("/calendar/" + month).content.decode()
    assert all(f"Foire · {name}" in head_office for name in ("Lille", "Arras", "Nîmes"))


def test_head_office_plans_publishes_and_sends_nationally_through_the_pages(world):
    from central.models import Campaign, Operation
    from tests.planning import sms_version

    version = sms_version(world)
    client = world.client_for("head_office")
    assert client.get("/calendar/operations/new/").status_code == 200
    start = TODAY + timedelta(days=40)
    form = {"name": "Noël", "theme": "fêtes", "mode": "opt_in", "channels": ["sms"], "template_versions": [version.pk],
            "send_from": start.isoformat(), "send_until": (start + timedelta(days=10)).isoformat(),
            "subscription_deadline": (start + timedelta(days=1)).isoformat(), "allowed_criteria": ["segment"]}
    body = client.post("/calendar/operations/new/", form).content.decode()
    assert "The subscription deadline must come before the earliest send date." in body
    assert not Operation.objects.filter(name="Noël").exists()
    form["subscription_deadline"] = (start - timedelta(days=10)).isoformat()
    response = client.post("/calendar/operations/new/", form)
    operation = Operation.objects.get(name="Noël")
    assert response["Location"] == f"/calendar/operations/{operation.public_id}/"
    assert operation.status == "draft" and list(operation.template_versions.all()) == [version]
    client.post(f"/calendar/operations/{operation.public_id}/publish/")
    operation.refresh_from_db()
    assert operation.status == "published"
    response = client.post(f"/calendar/operations/{operation.public_id}/national/", {"version": version.public_id})
    campaign = Campaign.objects.get(operation=operation, branch__isnull=True)
    assert response["Location"] == f"/network/campaigns/{campaign.public_id}/"
    assert client.get(response["Location"]).status_code == 200
    # Branches plan nothing.
    assert world.client_for("branch_manager").get("/calendar/operations/new/").status_code == 404
    assert world.client_for("branch_manager").post(f"/calendar/operations/{operation.public_id}/national/",
                                                   {"version": version.public_id}).status_code == 302
    assert Campaign.objects.filter(operation=operation, branch__isnull=True).count() == 1


def test_head_office_manages_periods_and_a_blackout_blocks_dates(world):
    client = world.client_for("head_office")
    day = TODAY + timedelta(days=25)
    body = client.post("/calendar/periods/", {"action": "add", "kind": "blackout", "name": "Inventaire",
                                              "starts_on": day.isoformat(), "ends_on": (day - timedelta(days=1)).isoformat()})
    assert "The period ends before it starts." in body.content.decode()
    client.post("/calendar/periods/", {"action": "add", "kind": "blackout", "name": "Inventaire",
                                       "starts_on": day.isoformat(), "ends_on": day.isoformat()})
    period = CalendarPeriod.objects.get(name="Inventaire")
    assert "Inventaire" in client.get("/calendar/periods/").content.decode()
    assert world.client_for("branch_manager").get("/calendar/periods/").status_code == 404
    assert world.client_for("other_network_head_office").post(
        "/calendar/periods/", {"action": "delete", "period": period.pk}).status_code == 404
    client.post("/calendar/periods/", {"action": "delete", "period": period.pk})
    assert not CalendarPeriod.objects.filter(pk=period.pk).exists()
