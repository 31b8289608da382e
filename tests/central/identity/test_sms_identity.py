"""A network with its own SMS account: its SMS leave through that account (Twilio's API, a recorder
on loopback) with its own sender id, never the platform's account."""

from __future__ import annotations

import base64

import pytest
from django.core.exceptions import ValidationError

from central.delivery import sending
from central.identity.services import identity_save
from central.models import Delivery, DeliveryStatus
from tests.central.delivery.test_dispatch import Provider, provider  # noqa: F401 - Twilio on loopback
from tests.dispatching import to_sending
from tests.planning import joined_campaign

pytestmark = pytest.mark.django_db

TOKEN = "alpha-Twilio-token-5e1d"


def test_the_network_s_sms_leave_through_its_own_account_and_sender(world, provider,  # noqa: F811
                                                                    django_capture_on_commit_callbacks):
    identity_save(network=world.networks["alpha"], saved_by=world.users["head_office"],
                  data={"sms_provider": "twilio", "sms_account": "ACalpha", "sms_sender": "AlphaShop"},
                  new_secrets={"sms_secret": TOKEN})
    campaign = to_sending(world, joined_campaign(world, reachable=1), slot_values={"message": "vins de fête"})
    with django_capture_on_commit_callbacks(execute=True):
        sending.campaign_dispatch(campaign=campaign)
    assert Delivery.objects.get(campaign=campaign).status == DeliveryStatus.SENT
    (request,) = Provider.requests
    assert request["path"] == "/2010-04-01/Accounts/ACalpha/Messages.json"
    assert base64.b64decode(request["auth"].split()[1]).decode() == f"ACalpha:{TOKEN}"
    assert (request["From"], request["To"]) == ("AlphaShop", "+33600000000")


def test_an_sms_account_without_its_token_refuses_the_schedule(world, provider):  # noqa: F811
    identity_save(network=world.networks["alpha"], saved_by=world.users["head_office"],
                  data={"sms_provider": "twilio", "sms_account": "ACalpha", "sms_sender": ""})
    with pytest.raises(ValidationError, match="the SMS account's token, the SMS sender"):
        to_sending(world, joined_campaign(world, reachable=1), slot_values={"message": "vins de fête"})
    assert Provider.requests == []
