"""Servers Relais calls for a network (local_stores/outbound.py): in production only public https
servers — checked when saved, before each send, and at each connection of the HTTP clients, with no
redirect followed. The tests' own providers run on loopback: refused once production's rule holds."""

import pytest
import requests

from central.identity.selectors import identity_problem
from central.identity.services import identity_save
from central.models import SendingIdentity
from local_stores.outbound import (
    OutboundRefused,
    guarded_session,
    outbound_host_problem,
    outbound_url_problem,
)
from tests.central.identity.loopback_api import JsonApiRecorder, serving

pytestmark = pytest.mark.django_db


class Echo(JsonApiRecorder):
    def answer(self, body):
        return 200, {"ok": True}, {}


def test_the_rule_in_production(settings):
    settings.RELAIS_OUTBOUND_PRIVATE_ALLOWED = False
    assert "https://" in outbound_url_problem("http://api.mailjet.com/v3.1/")
    assert "https://" in outbound_url_problem("https://api.example.com:99999/v3")  # a port out of range: no 500
    for private in ("https://127.0.0.1/", "https://10.0.0.5/", "https://[::1]/", "https://169.254.169.254/",
                    "https://[::ffff:127.0.0.1]/", "https://0.0.0.0/"):
        assert "private network" in outbound_url_problem(private), private
    assert "private network" in outbound_host_problem("127.0.0.1", 25)
    assert "No server answers" in outbound_host_problem("no-such-host.invalid", 25)
    settings.RELAIS_OUTBOUND_PRIVATE_ALLOWED = True  # the demo and the tests
    assert outbound_url_problem("http://127.0.0.1:8000/") is None


def test_a_guarded_session_refuses_a_loopback_server_at_the_moment_it_calls_it(settings):
    with serving(Echo) as base:
        settings.RELAIS_OUTBOUND_PRIVATE_ALLOWED = True
        assert guarded_session().post(base + "/send", json={}).json() == {"ok": True}
        settings.RELAIS_OUTBOUND_PRIVATE_ALLOWED = False
        session = guarded_session()
        assert session.max_redirects == 0  # a public server's "go there" is not followed
        with pytest.raises(OutboundRefused, match=r"https:// address|private network"):
            session.post(base + "/send", json={})
        assert isinstance(OutboundRefused("x"), requests.exceptions.ConnectionError)
    assert len(Echo.requests) == 1  # the refused call never left


def test_an_identity_saved_before_is_held_at_send_time_in_production(world, settings):
    identity_save(network=world.networks["alpha"], saved_by=world.users["head_office"], data={
        "from_local_part": "offres", "from_domain": "alpha-mail.test", "email_method": "smtp",
        "smtp_host": "127.0.0.1", "smtp_port": 2525}, new_secrets={})
    assert identity_problem(world.networks["alpha"], "email") is None  # allowed outside production
    settings.RELAIS_OUTBOUND_PRIVATE_ALLOWED = False
    assert "private network" in identity_problem(world.networks["alpha"], "email")


def test_an_smtp_server_on_a_private_network_is_refused_on_saving_in_production(world, settings):
    from django.core.exceptions import ValidationError

    settings.RELAIS_OUTBOUND_PRIVATE_ALLOWED = False
    with pytest.raises(ValidationError) as refused:
        identity_save(network=world.networks["alpha"], saved_by=world.users["head_office"], data={
            "from_local_part": "offres", "from_domain": "alpha-mail.test", "email_method": "smtp",
            "smtp_host": "10.0.0.5", "smtp_port": 25}, new_secrets={})
    assert "smtp_host" in refused.value.message_dict
    assert not SendingIdentity.objects.exists()
