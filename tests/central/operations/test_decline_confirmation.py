"""Declining an opt-in operation (or opting out of a mandatory one) cancels only the branch's
drafts of it, and never by surprise (issue 19, defect 3):

* while the branch has a campaign of the operation awaiting approval, approved, scheduled, sending
  or paused, the answer is refused, naming those campaigns (channel, date, state) — pages at the
  top, the API 400 on ``status`` — and nothing changes;
* with drafts only, the pages ask first, listing the drafts by name, channel and date; confirming
  cancels exactly them; submitting twice changes nothing more.
"""

import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from approvals.services import proof_request
from central.calendar.services import participation_answer
from central.models import (
    Campaign,
    CampaignEvent,
    CampaignStatus,
    ConsentStatus,
    Customer,
    OperationMode,
    Participation,
    ParticipationEvent,
)
from templates_lib import services as template_services
from tests.planning import SMS_BODY, plan

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
FORM = "application/x-www-form-urlencoded"


def sms_template(world, name: str, default: str):
    template = template_services.template_create(
        network=world.networks["alpha"], kind="sms", name=name, created_by=world.users["head_office"])
    draft = template.versions.get()
    template_services.draft_update(version=draft, edited_by=world.users["head_office"], body=SMS_BODY, slots=[
        {"name": "message", "type": "short_text", "label": "Message", "max_length": 60, "required": True,
         "default": default},
    ])
    return template_services.version_publish(version=draft, published_by=world.users["head_office"])


@pytest.fixture
def joined(world):
    """Lille (N1) joined an opt-in operation with two SMS templates: two drafts, on the first day of
    the window (20 days ahead), and two customers reachable by SMS."""
    operation = plan(world, versions=[sms_template(world, "Relance cave", "vins de fête"),
                                      sms_template(world, "Dégustation", "venez goûter")], channels=["sms"])
    node = world.nodes["N1"]
    for index in range(2):
        Customer.objects.create(network=node.network, branch=node, external_id=f"N1-dc-{index}",
                                last_name=f"Client{index}", mobile=f"06000000{index:02d}",
                                consent_sms=ConsentStatus.GRANTED)
    participation_answer(operation=operation, branch=node, status="joined", answered_by=world.users["branch_manager"])
    return operation


def campaign_named(operation, name: str) -> Campaign:
    return Campaign.objects.get(operation=operation, branch__code="N1", template_version__template__name=name)


def statuses(operation) -> dict[str, str]:
    return {campaign.template_version.template.name: campaign.status
            for campaign in Campaign.objects.filter(operation=operation, branch__code="N1")}


def browser(world, actor: str = "branch_manager", language: str = "en") -> Client:
    client = Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(world.users[actor])
    return client


def csrf_of(body: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)


def submit(client: Client, url: str, token: str, fields: list[tuple[str, str]]):
    """A form posted as a browser posts it: urlencoded, with the page's CSRF token."""
    return client.post(url, urlencode([("csrfmiddlewaretoken", token), *fields]), content_type=FORM)


def first_day_shown(days: int = 20) -> str:
    """The date as messages name it (English: "Dec. 27, 2026")."""
    from django.utils.formats import date_format

    return date_format(TODAY + timedelta(days=days))


# --- refused while a campaign is under way ----------------------------------------------------------


def test_the_service_refuses_to_decline_while_a_campaign_is_approved_and_changes_nothing(world, joined):
    Campaign.objects.filter(pk=campaign_named(joined, "Dégustation").pk).update(status=CampaignStatus.APPROVED)
    events = CampaignEvent.objects.count(), ParticipationEvent.objects.count()
    with pytest.raises(ValidationError) as refused:
        participation_answer(operation=joined, branch=world.nodes["N1"], status="declined",
                             answered_by=world.users["branch_manager"])
    message = refused.value.message_dict["status"][0]
    assert message == (f"Lille still has campaigns of this operation under way; cancel or finish these first: "
                       f"“Dégustation” (SMS, {first_day_shown()}, Approved).")
    assert statuses(joined) == {"Relance cave": "draft", "Dégustation": "approved"}
    assert Participation.objects.get(operation=joined, branch__code="N1").status == "joined"
    assert (CampaignEvent.objects.count(), ParticipationEvent.objects.count()) == events


def test_the_page_refuses_at_the_top_naming_the_campaign_awaiting_approval(world, joined):
    proof_request(campaign=campaign_named(joined, "Relance cave"), requested_by=world.users["branch_manager"])
    client = browser(world)
    page = client.get("/network/operations/").content.decode()
    response = submit(client, f"/network/operations/{joined.public_id}/answer/", csrf_of(page),
                      [("branch", world.nodes["N1"].public_id), ("status", "declined")])
    assert response.status_code == 302  # no confirmation: there is nothing it could do
    shown = client.get(response["Location"]).content.decode()
    assert ("cancel or finish these first: “Relance cave” (SMS, " f"{first_day_shown()}, Awaiting approval)."
            in shown.replace("&#x27;", "'").replace("&quot;", '"'))
    assert statuses(joined) == {"Relance cave": "awaiting", "Dégustation": "draft"}
    assert Participation.objects.get(operation=joined, branch__code="N1").status == "joined"
    # confirming anyway (an old form, a crafted post) is refused just the same
    submit(client, f"/network/operations/{joined.public_id}/answer/", csrf_of(page),
           [("branch", world.nodes["N1"].public_id), ("status", "declined"), ("confirm", "yes")])
    assert statuses(joined) == {"Relance cave": "awaiting", "Dégustation": "draft"}


@pytest.mark.parametrize("state", ["scheduled", "sending", "paused"])
def test_opting_out_is_refused_while_a_campaign_is_scheduled_sending_or_paused(world, state):
    operation = plan(world, mode=OperationMode.MANDATORY, opt_out_allowed=True, channels=["sms"],
                     versions=[sms_template(world, "Relance cave", "vins de fête")])
    participation_answer(operation=operation, branch=world.nodes["N1"], status="enrolled",
                         answered_by=world.users["branch_manager"])
    Campaign.objects.filter(operation=operation, branch__code="N1").update(status=state)
    with pytest.raises(ValidationError) as refused:
        participation_answer(operation=operation, branch=world.nodes["N1"], status="opted_out",
                             answered_by=world.users["branch_manager"])
    label = {"scheduled": "Scheduled", "sending": "Sending", "paused": "Sending paused"}[state]
    assert refused.value.message_dict["status"] == [
        "Lille still has campaigns of this operation under way; cancel or finish these first: "
        f"“Relance cave” (SMS, {first_day_shown()}, {label})."]
    assert statuses(operation) == {"Relance cave": state}


def test_the_api_answers_400_on_status_naming_the_campaigns(world, joined):
    Campaign.objects.filter(pk=campaign_named(joined, "Dégustation").pk).update(
        status=CampaignStatus.SCHEDULED, send_date=TODAY + timedelta(days=21))
    proof_request(campaign=campaign_named(joined, "Relance cave"), requested_by=world.users["branch_manager"])
    response = world.client_for("branch_manager").post(
        f"/api/v1/operations/{joined.public_id}/participations/",
        {"branch": world.nodes["N1"].public_id, "status": "declined"}, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"status": [
        "Lille still has campaigns of this operation under way; cancel or finish these first: "
        f"“Relance cave” (SMS, {first_day_shown()}, Awaiting approval); "
        f"“Dégustation” (SMS, {first_day_shown(21)}, Scheduled)."]}  # by send date
    assert statuses(joined) == {"Relance cave": "awaiting", "Dégustation": "scheduled"}


def test_sent_and_cancelled_campaigns_neither_stop_declining_nor_change(world, joined):
    Campaign.objects.filter(pk=campaign_named(joined, "Dégustation").pk).update(status=CampaignStatus.SENT)
    participation_answer(operation=joined, branch=world.nodes["N1"], status="declined",
                         answered_by=world.users["branch_manager"])
    assert statuses(joined) == {"Relance cave": "cancelled", "Dégustation": "sent"}


# --- drafts only: confirm first ---------------------------------------------------------------------


def test_declining_asks_first_listing_the_drafts_and_confirming_cancels_exactly_them(world, joined):
    other = plan(world, name="Soldes", versions=[sms_template(world, "Soldes SMS", "soldes")], channels=["sms"])
    participation_answer(operation=other, branch=world.nodes["N1"], status="joined",
                         answered_by=world.users["branch_manager"])
    client = browser(world)
    page = client.get("/network/operations/").content.decode()
    url = f"/network/operations/{joined.public_id}/answer/"
    asked = submit(client, url, csrf_of(page), [("branch", world.nodes["N1"].public_id), ("status", "declined")])
    assert asked.status_code == 200
    body = asked.content.decode()
    listed = body.split('id="drafts-to-cancel"')[1].split("</ul>")[0]
    assert listed.count("<li") == 2
    assert "Relance cave" in listed and "Dégustation" in listed and "Soldes SMS" not in listed
    assert listed.count(f"SMS · {first_day_shown()}") == 2
    assert 'name="confirm" value="yes"' in body and f'action="{url}"' in body
    assert "Foire aux vins" in body and "Lille" in body
    # asking changed nothing
    assert statuses(joined) == {"Relance cave": "draft", "Dégustation": "draft"}
    assert Participation.objects.get(operation=joined, branch__code="N1").status == "joined"

    confirmed = submit(client, url, csrf_of(body),
                       [("branch", world.nodes["N1"].public_id), ("status", "declined"), ("confirm", "yes")])
    assert confirmed.status_code == 302 and confirmed["Location"] == f"/network/operations/?branch={world.nodes['N1'].public_id}"
    assert statuses(joined) == {"Relance cave": "cancelled", "Dégustation": "cancelled"}
    assert statuses(other) == {"Soldes SMS": "draft"}
    assert Participation.objects.get(operation=joined, branch__code="N1").status == "declined"
    cancelled_events = CampaignEvent.objects.filter(campaign__operation=joined, action="cancelled")
    assert cancelled_events.count() == 2

    # a double submit (the confirmation posted again, or the first form) changes nothing more
    again = submit(client, url, csrf_of(body),
                   [("branch", world.nodes["N1"].public_id), ("status", "declined"), ("confirm", "yes")])
    assert again.status_code == 302
    first_form_again = submit(client, url, csrf_of(page),
                              [("branch", world.nodes["N1"].public_id), ("status", "declined")])
    assert first_form_again.status_code == 302  # already declined: nothing to ask
    assert CampaignEvent.objects.filter(campaign__operation=joined, action="cancelled").count() == 2
    assert ParticipationEvent.objects.filter(participation__operation=joined, status="declined").count() == 1


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(world, joined):
    response = browser(world).post(f"/network/operations/{joined.public_id}/answer/",
                                   urlencode({"branch": world.nodes["N1"].public_id, "status": "declined",
                                              "confirm": "yes"}), content_type=FORM)
    assert response.status_code == 403
    assert statuses(joined) == {"Relance cave": "draft", "Dégustation": "draft"}


def test_the_operation_page_of_the_calendar_asks_too_and_going_back_changes_nothing(world, joined):
    client = browser(world)
    page = client.get(f"/calendar/operations/{joined.public_id}/").content.decode()
    url = f"/calendar/operations/{joined.public_id}/answer/"
    asked = submit(client, url, csrf_of(page), [("branch", world.nodes["N1"].public_id), ("status", "declined")])
    body = asked.content.decode()
    assert asked.status_code == 200 and body.count("<li class=\"list-group-item\"") == 2
    assert f'href="/calendar/operations/{joined.public_id}/"' in body  # "No, go back"
    assert statuses(joined) == {"Relance cave": "draft", "Dégustation": "draft"}
    done = submit(client, url, csrf_of(body),
                  [("branch", world.nodes["N1"].public_id), ("status", "declined"), ("confirm", "yes")])
    assert done.status_code == 302 and done["Location"] == f"/calendar/operations/{joined.public_id}/"
    assert statuses(joined) == {"Relance cave": "cancelled", "Dégustation": "cancelled"}


def test_opting_out_asks_first_and_says_when_no_campaign_is_cancelled(world):
    operation = plan(world, mode=OperationMode.MANDATORY, opt_out_allowed=True, channels=["sms"],
                     versions=[sms_template(world, "Relance cave", "vins de fête")])
    participation_answer(operation=operation, branch=world.nodes["N1"], status="enrolled",
                         answered_by=world.users["branch_manager"])
    Campaign.objects.filter(operation=operation, branch__code="N1").update(status=CampaignStatus.CANCELLED)
    client = browser(world)
    page = client.get("/network/operations/").content.decode()
    asked = submit(client, f"/network/operations/{operation.public_id}/answer/", csrf_of(page),
                   [("branch", world.nodes["N1"].public_id), ("status", "opted_out")])
    body = asked.content.decode()
    assert asked.status_code == 200
    assert "No campaign of this branch will be cancelled" in body and "Yes, opt out" in body
    assert Participation.objects.get(operation=operation, branch__code="N1").status == "enrolled"


def test_someone_who_does_not_act_for_the_branch_is_not_asked_and_is_refused(world, joined):
    # the regional manager sees Lille but does not act for it
    client = browser(world, "regional_manager")
    page = client.get("/network/operations/").content.decode()
    response = submit(client, f"/network/operations/{joined.public_id}/answer/", csrf_of(page) if
                      "csrfmiddlewaretoken" in page else client.cookies["csrftoken"].value,
                      [("branch", world.nodes["N1"].public_id), ("status", "declined")])
    assert response.status_code == 302
    assert statuses(joined) == {"Relance cave": "draft", "Dégustation": "draft"}


def test_the_question_and_the_refusal_are_in_french_for_a_french_browser(world, joined):
    client = browser(world, language="fr")
    page = client.get("/network/operations/").content.decode()
    url = f"/network/operations/{joined.public_id}/answer/"
    fields = [("branch", world.nodes["N1"].public_id), ("status", "declined")]
    asked = submit(client, url, csrf_of(page), fields).content.decode()
    assert "Refuser « Foire aux vins » pour Lille\u00a0?" in asked
    assert "Ces 2 campagnes en préparation seront annulées\u00a0:" in asked and "Oui, refuser" in asked
    Campaign.objects.filter(pk=campaign_named(joined, "Dégustation").pk).update(status=CampaignStatus.APPROVED)
    refused = submit(client, url, csrf_of(page), fields)
    shown = client.get(refused["Location"]).content.decode().replace("&#x27;", "'")
    assert "Lille a encore des campagnes de cette opération en cours\u00a0; annulez ou terminez d'abord celles-ci\u00a0: " \
           "« Dégustation » (SMS, " in shown
    assert shown.count(", Validé).") == 1
