"""Two networks, each with its own sending identity, each campaign sent through the real path: each
network's SMTP server (requiring its own login) holds only that network's messages, from its own
domain, with its own Reply-To rule."""

from __future__ import annotations

from email.utils import parseaddr

import pytest

from central.delivery import sending
from central.models import Delivery, DeliveryStatus
from tests.central.identity.helpers import AuthSmtpSink, beta_view, smtp_identity
from tests.dispatching import email_campaign, smtp_settings

pytestmark = pytest.mark.django_db

ALPHA_SECRET = "alpha-SMTP-pass-7731"
BETA_SECRET = "beta-SMTP-pass-9924"


@pytest.fixture
def sinks(settings):
    with AuthSmtpSink("alpha-login", ALPHA_SECRET) as alpha, AuthSmtpSink("beta-login", BETA_SECRET) as beta:
        platform = AuthSmtpSink("platform", "platform")  # the platform's server: nothing may reach it
        with platform:
            smtp_settings(settings, platform.port)
            settings.RELAIS_RATE_LIMIT_REDIS_URL = ""
            yield {"alpha": alpha, "beta": beta, "platform": platform}


def _send(world, django_capture_on_commit_callbacks, customers: int):
    campaign = email_campaign(world, customers, prefix=world.networks["alpha"].slug)
    with django_capture_on_commit_callbacks(execute=True):
        sending.campaign_dispatch(campaign=campaign)
    return campaign


def test_each_network_sends_from_its_own_domain_through_its_own_account(world, sinks,
                                                                          django_capture_on_commit_callbacks):
    alpha, beta = world.networks["alpha"], world.networks["beta"]
    world.nodes["N1"].email = "lille@alpha-branches.test"
    world.nodes["N1"].save(update_fields=["email"])
    smtp_identity(alpha, world.users["head_office"], domain="alpha-mail.test", port=sinks["alpha"].port,
                  login="alpha-login", password=ALPHA_SECRET)
    smtp_identity(beta, world.users["other_network_head_office"], domain="beta-mail.test", port=sinks["beta"].port,
                  login="beta-login", password=BETA_SECRET, reply_to="fixed", reply_to_address="service@beta-mail.test",
                  from_name="network")
    beta_world = beta_view(world)

    alpha_campaign = _send(world, django_capture_on_commit_callbacks, 3)
    beta_campaign = _send(beta_world, django_capture_on_commit_callbacks, 2)

    for campaign, count in ((alpha_campaign, 4), (beta_campaign, 2)):  # alpha's Anne of N1 too
        assert Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.SENT).count() == count
    assert sinks["platform"].handler.seen == [] and sinks["platform"].authenticator.tried == []

    alpha_seen, beta_seen = sinks["alpha"].handler.seen, sinks["beta"].handler.seen
    assert len(alpha_seen) == 4 and len(beta_seen) == 2
    assert set(sinks["alpha"].authenticator.tried) == {"alpha-login"}
    assert set(sinks["beta"].authenticator.tried) == {"beta-login"}
    for mail_from, login, message in alpha_seen:
        assert (mail_from, login) == ("offres@alpha-mail.test", "alpha-login")
        assert parseaddr(message["From"]) == ("Lille", "offres@alpha-mail.test")
        assert message["Message-ID"].rstrip(">").endswith("@alpha-mail.test")
        assert message["Reply-To"] == "lille@alpha-branches.test"
        assert message["To"].split("@")[-1].rstrip(">") == "example.test"
    alpha_recipients = {item.to for item in sinks["alpha"].handler.received}
    beta_recipients = {item.to for item in sinks["beta"].handler.received}
    assert not alpha_recipients & beta_recipients
    assert {address.split("@")[0].rstrip("0123456789") for address in beta_recipients} == {"beta"}
    for mail_from, login, message in beta_seen:
        assert (mail_from, login) == ("offres@beta-mail.test", "beta-login")
        assert parseaddr(message["From"]) == ("Beta", "offres@beta-mail.test")  # the network's name, by its rule
        assert message["Message-ID"].rstrip(">").endswith("@beta-mail.test")
        assert message["Reply-To"] == "service@beta-mail.test"
