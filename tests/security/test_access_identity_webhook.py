"""Who reaches a network's own tracking webhook (/webhooks/email/<network>/<service>/tracking/): the
provider with that network's secret. Anonymous without it, any signed-in person of any role —
the network's own head office included (a session is no credential here) —, another network's
secret: refused (400/403) and nothing recorded; a missing network, another service, a GET: 404/405,
never a server error."""

from __future__ import annotations

import base64
import json

import pytest

from central.identity.services import identity_save
from reporting.models import ProviderEvent

pytestmark = pytest.mark.django_db

ALPHA_SECRET = "alpha:hook-Access-Secret-01"
BETA_SECRET = "beta:hook-Access-Secret-02"
ROLES = ["branch_manager", "sibling_branch_manager", "other_region_manager", "regional_manager", "approver",
         "analyst", "nobody", "head_office", "other_network_head_office", "anonymous"]


def _identity(world, network: str, user: str, secret: str) -> None:
    identity_save(network=world.networks[network], saved_by=world.users[user],
                  data={"from_local_part": "offres", "from_domain": f"{network}-mail.test", "email_method": "anymail",
                        "esp": "postmark"},
                  new_secrets={"email_secret": f"pm-{network}-key", "webhook_secret": secret})


def _body() -> str:
    return json.dumps({"RecordType": "Open", "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
                       "Recipient": "anne.nord@example.test", "ReceivedAt": "2026-12-07T10:00:00Z"})


def _auth(secret: str | None) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()} if secret else {}


def test_every_role_without_the_network_s_secret_is_refused(world):
    _identity(world, "alpha", "head_office", ALPHA_SECRET)
    _identity(world, "beta", "other_network_head_office", BETA_SECRET)
    path = "/webhooks/email/alpha/postmark/tracking/"
    for role in ROLES:
        client = world.client_for(role)
        for secret in (None, BETA_SECRET, "alpha:guess"):
            response = client.post(path, _body(), content_type="application/json", **_auth(secret))
            assert response.status_code in (400, 403), (role, secret, response.status_code)
        assert client.get(path).status_code == 405
        for other in ("/webhooks/email/missing/postmark/tracking/", "/webhooks/email/alpha/mailgun/tracking/",
                      "/webhooks/email/alpha/amazon_ses/tracking/"):
            response = client.post(other, _body(), content_type="application/json", **_auth(ALPHA_SECRET))
            assert response.status_code == 404, (role, other, response.status_code)
    assert not ProviderEvent.objects.exists()
    # the provider, with alpha's secret, is let in (an event of no message of alpha's: nothing recorded)
    answer = world.client_for("anonymous").post(path, _body(), content_type="application/json", **_auth(ALPHA_SECRET))
    assert answer.status_code == 200
    assert not ProviderEvent.objects.exists()


def test_a_network_without_a_webhook_secret_has_no_webhook(world):
    identity_save(network=world.networks["alpha"], saved_by=world.users["head_office"],
                  data={"from_local_part": "offres", "from_domain": "alpha-mail.test", "email_method": "anymail",
                        "esp": "postmark"}, new_secrets={"email_secret": "pm-alpha-key"})
    client = world.client_for("anonymous")
    for secret in (None, "relais:webhook-secret-for-tests", ALPHA_SECRET):  # the platform's own included
        response = client.post("/webhooks/email/alpha/postmark/tracking/", _body(), content_type="application/json",
                               **_auth(secret))
        assert response.status_code == 404


def test_an_authentic_call_with_a_body_the_service_does_not_send_is_refused_not_a_server_error(world):
    _identity(world, "alpha", "head_office", ALPHA_SECRET)
    client = world.client_for("anonymous")
    for body in ("not json", "[]", json.dumps({"RecordType": "Open"})):
        response = client.post("/webhooks/email/alpha/postmark/tracking/", body, content_type="application/json",
                               **_auth(ALPHA_SECRET))
        assert response.status_code in (200, 400), (body, response.status_code)
    assert not ProviderEvent.objects.exists()
