"""*Request approval* freezes what the author typed (issue 19, defect 2).

The campaign editor previews what is typed without saving it; its *Request approval* button used to
post nothing but the CSRF token, so the proof froze the text last saved while the preview showed
the new one, and the page came back with the old text. The button now submits the editor's form
(``form="campaign-form"``, ``with_values=1``): the values are checked, saved and frozen in one
transaction (``approvals.requesting.proof_request_with_values``); refused, nothing is saved nor
requested and the editor comes back with what was typed and the errors. The same for head office's
national send (the same editor) and for the API (``POST /api/v1/campaigns/<id>/proofs/`` with a
body).

Posted as a browser posts the editor's form: every field as rendered, line breaks as CRLF.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from approvals.models import Proof
from central.campaigns.services import national_campaign_create
from central.models import Campaign, CampaignEvent, ConsentStatus, Customer
from tests.architecture.test_crlf_forms import (  # noqa: F401 - fixtures: the demo's templates, Lille's invitation
    URLENCODED,
    as_browser_posts,
    demo,
    form_fields,
    invitation_campaign,
    replaced,
)
from tests.planning import joined_campaign, plan, sms_version

pytestmark = pytest.mark.django_db


def editor_fields(client, campaign: Campaign) -> list[tuple[str, str]]:
    page = client.get(f"/network/campaigns/{campaign.public_id}/").content.decode()
    assert 'form="campaign-form"' in page and 'name="with_values"' in page  # the button submits the editor's form
    return form_fields(page, "id", "campaign-form")


def request_approval(client, campaign: Campaign, fields: list[tuple[str, str]]):
    """What chromium sends when *Request approval* is clicked: the editor's form, plus the button."""
    return client.post(f"/network/campaigns/{campaign.public_id}/request-approval/",
                       as_browser_posts([*fields, ("with_values", "1")]), content_type=URLENCODED)


def test_the_proof_holds_the_multi_line_text_typed_and_not_saved(world, invitation_campaign):  # noqa: F811
    campaign = invitation_campaign
    node = world.nodes["N1"]
    for index in range(2):
        Customer.objects.create(network=node.network, branch=node, external_id=f"mail-{index}", last_name=f"C{index}",
                                email=f"c{index}@example.org", consent_email=ConsentStatus.GRANTED)
    client = world.client_for("branch_manager")
    typed = "Places limitées.\nRéservez au comptoir :\n\n03 20 00 00 00"
    send_date = campaign.operation.send_from + timedelta(days=3)
    fields = replaced(editor_fields(client, campaign), details=typed, send_date=send_date.isoformat())

    response = request_approval(client, campaign, fields)

    assert response.status_code == 302, response.content.decode()[:3000]
    assert response["Location"] == f"/network/campaigns/{campaign.public_id}/"
    proof = Proof.objects.get(campaign=campaign)
    assert proof.slot_values["details"] == typed  # LF only, as typed
    assert proof.send_date == send_date
    assert "Réservez au comptoir" in proof.text and "Réservez au comptoir" in proof.html
    campaign.refresh_from_db()
    assert campaign.status == "awaiting" and campaign.slot_values["details"] == typed
    assert campaign.slot_values["event_name"] == "Soirée dégustation"  # sent back as shown, unchanged
    page = client.get(response["Location"]).content.decode()
    assert "Saved, and approval requested" in page
    assert "Réservez au comptoir" in page  # the field shows what was typed, not the old text


def test_an_invalid_value_requests_nothing_saves_nothing_and_keeps_what_was_typed(world):
    campaign = joined_campaign(world)
    client = world.client_for("branch_manager")
    fields = editor_fields(client, campaign)
    too_long = "Une offre bien trop longue pour un SMS qui ne doit pas dépasser soixante caractères"
    events = CampaignEvent.objects.filter(campaign=campaign).count()

    response = request_approval(client, campaign, replaced(fields, message=too_long))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Approval was not requested and nothing was saved" in page  # at the top
    assert 'name="message"' in page and too_long in page  # the value kept in its field
    assert "characters, 60 at most" in page and "invalid-feedback" in page  # its error beside it
    assert "data-unsaved-dirty" in page  # leaving now asks first: what is shown is not saved
    assert not Proof.objects.filter(campaign=campaign).exists()
    campaign.refresh_from_db()
    assert campaign.status == "draft" and campaign.slot_values["message"] == "vins de fête"
    assert CampaignEvent.objects.filter(campaign=campaign).count() == events


def test_a_date_that_cannot_be_read_is_refused_not_replaced_by_the_saved_one(world):
    campaign = joined_campaign(world)
    client = world.client_for("branch_manager")
    fields = replaced(editor_fields(client, campaign), message="Nouvelle offre", send_date="31/02/2026")

    response = request_approval(client, campaign, fields)

    assert response.status_code == 200
    assert not Proof.objects.filter(campaign=campaign).exists()
    campaign.refresh_from_db()
    assert campaign.slot_values["message"] == "vins de fête"  # all or nothing: the valid text was not saved


def test_a_refused_request_rolls_back_the_values_it_saved(world):
    """The values are valid but the request is refused (nobody left in the target): the values are
    not saved either, and the page keeps them typed."""
    campaign = joined_campaign(world, reachable=0)
    client = world.client_for("branch_manager")
    fields = replaced(editor_fields(client, campaign), message="Nouvelle offre")

    response = request_approval(client, campaign, fields)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Nobody would receive this campaign" in page and "Nouvelle offre" in page
    assert not Proof.objects.filter(campaign=campaign).exists()
    campaign.refresh_from_db()
    assert campaign.status == "draft" and campaign.slot_values["message"] == "vins de fête"


def test_save_refuses_an_unreadable_date_instead_of_keeping_the_old_one(world):
    campaign = joined_campaign(world)
    client = world.client_for("branch_manager")
    fields = replaced(editor_fields(client, campaign), message="Nouvelle offre", send_date="not a date")
    response = client.post(f"/network/campaigns/{campaign.public_id}/", as_browser_posts(fields),
                           content_type=URLENCODED)
    assert response.status_code == 200
    assert "Nothing was saved" in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.slot_values["message"] == "vins de fête"


def test_head_offices_national_send_requests_approval_of_what_was_typed(world):
    version = sms_version(world)
    operation = plan(world, versions=[version])
    for index, key in enumerate(("N1", "N2")):
        node = world.nodes[key]
        Customer.objects.create(network=node.network, branch=node, external_id=f"nat-{index}", last_name="C",
                                mobile=f"0611111{index:03d}", consent_sms=ConsentStatus.GRANTED)
    campaign = national_campaign_create(operation=operation, template_version=version,
                                        created_by=world.users["head_office"])
    client = world.client_for("head_office")
    fields = replaced(editor_fields(client, campaign), message="Offre nationale du jour")

    response = request_approval(client, campaign, fields)

    assert response.status_code == 302, response.content.decode()[:3000]
    proof = Proof.objects.get(campaign=campaign)
    assert proof.slot_values["message"] == "Offre nationale du jour"
    assert "Offre nationale du jour" in proof.text


def test_the_api_requests_approval_of_the_values_it_is_sent_all_or_nothing(world):
    campaign = joined_campaign(world)
    client = world.client_for("branch_manager")
    url = f"/api/v1/campaigns/{campaign.public_id}/proofs/"

    refused = client.post(url, json.dumps({"slot_values": {"message": "x" * 61}}), content_type="application/json")
    assert refused.status_code == 400 and "message" in refused.json()
    assert not Proof.objects.filter(campaign=campaign).exists()

    sent = client.post(url, json.dumps({"slot_values": {"message": "Offre API\r\n"}}), content_type="application/json")
    assert sent.status_code == 201, sent.json()
    proof = Proof.objects.get(campaign=campaign)
    frozen = {slot["name"]: slot["value"] for slot in sent.json()["slots"]}  # the answer says what was frozen
    assert proof.slot_values["message"] == frozen["message"] == "Offre API"
    campaign.refresh_from_db()
    assert campaign.slot_values["message"] == "Offre API" and campaign.status == "awaiting"


def test_the_api_without_a_body_freezes_the_campaign_as_saved(world):
    campaign = joined_campaign(world)
    response = world.client_for("branch_manager").post(f"/api/v1/campaigns/{campaign.public_id}/proofs/")
    assert response.status_code == 201
    assert Proof.objects.get(campaign=campaign).slot_values == campaign.slot_values
