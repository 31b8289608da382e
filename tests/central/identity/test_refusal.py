"""A network that cannot send with its own identity: scheduling is refused with what is missing,
a send under way is stopped before its next message, and a proof whose From changed is not sent."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from approvals.services import proof_request
from central.campaigns.services import campaign_schedule, campaign_update
from central.delivery import sending
from central.delivery.send_state import send_blocked_reason
from central.identity.selectors import identity_problem
from central.identity.services import identity_save
from central.models import Campaign, CampaignStatus, Delivery, DeliveryStatus
from tests.central.identity.helpers import smtp_identity
from tests.dispatching import SLOT_VALUES, add_customers, approve_all, email_campaign, email_version
from tests.planning import joined_campaign

pytestmark = pytest.mark.django_db


def approved(world) -> Campaign:
    campaign = joined_campaign(world, version=email_version(world), reachable=0)
    add_customers(world, 2)
    manager = world.users["branch_manager"]
    campaign_update(campaign=campaign, updated_by=manager, slot_values=SLOT_VALUES)
    approve_all(world, proof_request(campaign=campaign, requested_by=manager))
    return Campaign.objects.get(pk=campaign.pk)


def test_an_incomplete_identity_refuses_the_schedule_with_what_is_missing(world, sink):
    identity_save(network=world.networks["alpha"], saved_by=world.users["head_office"],
                  data={"from_domain": "alpha-mail.test", "email_method": "smtp", "smtp_host": ""})
    campaign = approved(world)
    with pytest.raises(ValidationError) as refused:
        campaign_schedule(campaign=campaign, scheduled_by=world.users["branch_manager"])
    message = " ".join(refused.value.messages)
    assert "the From address" in message and "the SMTP host" in message and "Sending identity" in message
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.APPROVED


def test_without_an_identity_the_demo_sends_from_the_platform_and_production_refuses(world, sink, settings):
    assert identity_problem(world.networks["alpha"], "email") is None
    settings.RELAIS_IDENTITY_REQUIRED = True
    assert "no sending identity" in identity_problem(world.networks["alpha"], "email")
    assert "no sending identity" in identity_problem(world.networks["alpha"], "sms")
    assert identity_problem(world.networks["alpha"], "post") is None
    campaign = approved(world)
    with pytest.raises(ValidationError, match="no sending identity"):
        campaign_schedule(campaign=campaign, scheduled_by=world.users["branch_manager"])


def test_a_due_send_of_a_network_without_identity_is_held_when_required(world, sink, settings,
                                                                         django_capture_on_commit_callbacks):
    campaign = approved(world)
    campaign_schedule(campaign=campaign, scheduled_by=world.users["branch_manager"])
    settings.RELAIS_IDENTITY_REQUIRED = True
    with django_capture_on_commit_callbacks(execute=True):
        sending.campaigns_send_due(today=campaign.send_date)
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.SCHEDULED
    assert not Delivery.objects.filter(campaign=campaign).exists() and sink.handler.received == []


def test_a_send_under_way_stops_when_the_identity_becomes_incomplete(world, sink, django_capture_on_commit_callbacks):
    smtp_identity(world.networks["alpha"], world.users["head_office"], domain="alpha-mail.test", port=sink.port,
                  login="", password="")
    campaign = email_campaign(world, 2)
    identity_save(network=world.networks["alpha"], saved_by=world.users["head_office"], data={"smtp_host": ""})
    with django_capture_on_commit_callbacks(execute=True):
        sending.campaign_dispatch(campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED
    assert "the SMTP host" in send_blocked_reason(campaign)
    assert sink.handler.received == []
    assert not Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.SENT).exists()


def test_a_proof_whose_from_changed_since_approval_is_not_sent(world, sink, django_capture_on_commit_callbacks):
    smtp_identity(world.networks["alpha"], world.users["head_office"], domain="alpha-mail.test", port=sink.port,
                  login="", password="")
    campaign = email_campaign(world, 2)
    identity_save(network=world.networks["alpha"], saved_by=world.users["head_office"],
                  data={"from_domain": "other-mail.test"})
    with django_capture_on_commit_callbacks(execute=True):
        sending.campaign_dispatch(campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED
    assert send_blocked_reason(campaign) == "The sender changed since approval: request approval again."
    assert sink.handler.received == []


def test_the_campaign_checklist_says_what_the_sender_lacks_and_offers_no_schedule(world, sink):
    identity_save(network=world.networks["alpha"], saved_by=world.users["head_office"],
                  data={"from_domain": "alpha-mail.test", "from_local_part": "offres", "smtp_host": ""})
    campaign = approved(world)
    page = world.client_for("branch_manager").get(f"/network/campaigns/{campaign.public_id}/").content.decode()
    assert "Sender" in page and "the SMTP host" in page
    assert 'data-testid="checklist-schedule"' not in page
    identity_save(network=world.networks["alpha"], saved_by=world.users["head_office"],
                  data={"smtp_host": "127.0.0.1", "smtp_port": sink.port, "smtp_security": "none"})
    page = world.client_for("branch_manager").get(f"/network/campaigns/{campaign.public_id}/").content.decode()
    assert "the SMTP host" not in page and 'data-testid="checklist-schedule"' in page
