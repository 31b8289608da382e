"""Each network's own tracking webhook (/webhooks/email/<network>/<service>/tracking/), called as the
provider calls it — django-anymail's own view of the service, with the network's webhook secret as
HTTP basic auth and, for Mailgun, signed with the network's signing key: the event is recorded for
that network's delivery only; a wrong or missing secret, another network's secret or signature
records nothing; another network's message is left untouched; an unknown network, another service,
a network whose webhook is not set up answer 404."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from django.test import Client

from central.delivery import sending
from central.identity.services import identity_save
from central.models import ConsentStatus, Delivery, DeliveryStatus
from reporting.models import ProviderEvent
from tests.central.identity.helpers import beta_view
from tests.dispatching import email_campaign

pytestmark = pytest.mark.django_db

SECRETS = {
    "alpha": {"webhook": "alpha:hook-Secret-5e1d", "signing": "alpha-Signing-Key-77b2", "api": "key-alpha-0a1b"},
    "beta": {"webhook": "beta:hook-Secret-93c4", "signing": "beta-Signing-Key-1f0e", "api": "key-beta-2c3d"},
}


def basic(secret: str) -> str:
    return "Basic " + base64.b64encode(secret.encode()).decode()


def signed(event_data: dict, *, key: str, token: str) -> str:
    timestamp = str(int(time.time()))
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return json.dumps({"signature": {"timestamp": timestamp, "token": token, "signature": signature},
                       "event-data": event_data})


def mailgun_event(delivery: Delivery, kind: str, message_id: str | None = None) -> dict:
    return {"event": kind, "timestamp": time.time(), "id": f"ev-{kind}-{delivery.pk}",
            "recipient": delivery.customer.email,
            "message": {"headers": {"message-id": (message_id or delivery.provider_id).strip("<>")}}}


def post(path: str, body: str, *, auth: str | None):
    headers = {"HTTP_AUTHORIZATION": auth} if auth else {}
    return Client().post(path, body, content_type="application/json", **headers)


def mailgun_identity(network, saved_by, name: str, **secrets_overrides):
    secrets = SECRETS[name]
    new_secrets = {"email_secret": secrets["api"], "webhook_secret": secrets["webhook"],
                   "webhook_signing_key": secrets["signing"]} | secrets_overrides
    return identity_save(network=network, saved_by=saved_by, new_secrets=new_secrets,
                         data={"from_local_part": "offres", "from_domain": f"{name}-mail.test",
                               "email_method": "anymail", "esp": "mailgun"})


@pytest.fixture
def sent(world, django_capture_on_commit_callbacks):
    """Beta's two e-mails sent first, then alpha's two (through the platform's backend: their
    Message-IDs are their provider ids); then each network sends through Mailgun, its webhook set up."""
    beta_world = beta_view(world)
    deliveries = {}
    for name, each_world, customers in (("beta", beta_world, 2), ("alpha", world, 1)):  # alpha's Anne too
        campaign = email_campaign(each_world, customers, prefix=name)
        with django_capture_on_commit_callbacks(execute=True):
            sending.campaign_dispatch(campaign=campaign)
        deliveries[name] = list(Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.SENT)
                                .select_related("customer").order_by("pk"))
        assert len(deliveries[name]) == 2
    mailgun_identity(world.networks["alpha"], world.users["head_office"], "alpha")
    mailgun_identity(world.networks["beta"], world.users["other_network_head_office"], "beta")
    return deliveries


ALPHA = "/webhooks/email/alpha/mailgun/tracking/"
BETA = "/webhooks/email/beta/mailgun/tracking/"


def test_the_network_s_webhook_records_the_event_for_its_own_delivery(sent):
    first = sent["alpha"][0]
    body = signed(mailgun_event(first, "opened"), key=SECRETS["alpha"]["signing"], token="a" * 50)
    assert post(ALPHA, body, auth=basic(SECRETS["alpha"]["webhook"])).status_code == 200
    recorded = ProviderEvent.objects.get()
    assert (recorded.delivery_id, recorded.kind, recorded.esp) == (first.pk, ProviderEvent.Kind.OPENED, "Mailgun")
    # and beta's own, through beta's
    body = signed(mailgun_event(sent["beta"][0], "delivered"), key=SECRETS["beta"]["signing"], token="b" * 50)
    assert post(BETA, body, auth=basic(SECRETS["beta"]["webhook"])).status_code == 200
    assert ProviderEvent.objects.get(kind=ProviderEvent.Kind.DELIVERED).delivery_id == sent["beta"][0].pk


@pytest.mark.parametrize("auth, key", [
    pytest.param(None, "alpha", id="without a secret"),
    pytest.param(basic("alpha:wrong"), "alpha", id="with a wrong secret"),
    pytest.param(basic(SECRETS["beta"]["webhook"]), "alpha", id="with another network's secret"),
    pytest.param(basic(SECRETS["alpha"]["webhook"]), "beta", id="signed with another network's key"),
    pytest.param(basic("relais:webhook-secret-for-tests"), "alpha", id="with the platform's secret"),
])
def test_a_wrong_or_missing_secret_is_refused_and_records_nothing(sent, auth, key):
    complaining = sent["alpha"][0]
    body = signed(mailgun_event(complaining, "complained"), key=SECRETS[key]["signing"], token="c" * 50)
    response = post(ALPHA, body, auth=auth)
    assert response.status_code in (400, 403)
    assert not ProviderEvent.objects.exists()
    complaining.customer.refresh_from_db()
    assert complaining.customer.consent_email == ConsentStatus.GRANTED


def test_another_network_s_message_is_left_untouched(sent):
    """Alpha's webhook, with alpha's secret and signature, naming beta's messages: nothing of beta's
    changes — and a Message-ID both networks have is recorded for alpha's delivery only."""
    beta_delivery = sent["beta"][0]
    body = signed(mailgun_event(beta_delivery, "complained"), key=SECRETS["alpha"]["signing"], token="d" * 50)
    assert post(ALPHA, body, auth=basic(SECRETS["alpha"]["webhook"])).status_code == 200
    assert not ProviderEvent.objects.exists()
    beta_delivery.customer.refresh_from_db()
    assert beta_delivery.customer.consent_email == ConsentStatus.GRANTED
    # the same id in both networks (beta's delivery first, so the global route's lookup would find it)
    shared, alpha_delivery = sent["beta"][1], sent["alpha"][1]
    Delivery.objects.filter(pk=alpha_delivery.pk).update(provider_id=shared.provider_id)
    body = signed(mailgun_event(shared, "unsubscribed"), key=SECRETS["alpha"]["signing"], token="e" * 50)
    assert post(ALPHA, body, auth=basic(SECRETS["alpha"]["webhook"])).status_code == 200
    assert list(ProviderEvent.objects.values_list("delivery_id", flat=True)) == [alpha_delivery.pk]
    shared.customer.refresh_from_db()
    alpha_delivery.customer.refresh_from_db()
    assert shared.customer.objected_at is None and alpha_delivery.customer.objected_at is not None


def test_unknown_network_other_service_or_no_webhook_set_up_answer_404(world, sent):
    body = signed(mailgun_event(sent["alpha"][0], "opened"), key=SECRETS["alpha"]["signing"], token="f" * 50)
    auth = basic(SECRETS["alpha"]["webhook"])
    assert post("/webhooks/email/no-such-network/mailgun/tracking/", body, auth=auth).status_code == 404
    assert post("/webhooks/email/alpha/sendgrid/tracking/", body, auth=auth).status_code == 404
    assert post("/webhooks/email/alpha/not-a-service/tracking/", body, auth=auth).status_code == 404
    # a network sending through SMTP has no tracking webhook
    identity_save(network=world.networks["beta"], saved_by=world.users["other_network_head_office"],
                  data={"email_method": "smtp", "smtp_host": "smtp.beta-mail.test", "smtp_username": ""},
                  new_secrets={"email_secret": "beta-smtp-pass"})
    assert post(BETA, body, auth=basic(SECRETS["beta"]["webhook"])).status_code == 404
    assert not ProviderEvent.objects.exists()


def test_a_webhook_without_its_secret_or_signing_key_is_not_served(world, sent):
    """Mailgun's webhook needs the network's signing key: without it (the platform's own would
    otherwise be used) the route answers 404; without the webhook secret, 404 too."""
    gamma_sent = sent["alpha"][0]
    from central.models import SendingIdentity

    SendingIdentity.objects.filter(network=world.networks["alpha"]).update(webhook_signing_key_encrypted="")
    body = signed(mailgun_event(gamma_sent, "opened"), key="key-signing-for-tests", token="g" * 50)
    assert post(ALPHA, body, auth=basic(SECRETS["alpha"]["webhook"])).status_code == 404
    SendingIdentity.objects.filter(network=world.networks["alpha"]).update(webhook_secret_encrypted="")
    assert post(ALPHA, body, auth=None).status_code == 404
    assert not ProviderEvent.objects.exists()


def test_mailjet_s_webhook_basic_auth_only(world, sent):
    """Mailjet authenticates its webhook by the basic-auth secret alone (no signature)."""
    beta = world.networks["beta"]
    identity_save(network=beta, saved_by=world.users["other_network_head_office"],
                  data={"esp": "mailjet"}, new_secrets={"email_secret": "mj-api-key-beta",
                                                        "esp_secret_key": "mj-secret-key-beta"})
    delivery = sent["beta"][0]
    body = json.dumps([{"event": "open", "time": int(time.time()), "MessageID": delivery.provider_id,
                        "email": delivery.customer.email}])
    path = "/webhooks/email/beta/mailjet/tracking/"
    assert post(path, body, auth=basic("beta:wrong")).status_code in (400, 403)
    assert post(path, body, auth=None).status_code in (400, 403)
    assert not ProviderEvent.objects.exists()
    assert post(path, body, auth=basic(SECRETS["beta"]["webhook"])).status_code == 200
    assert ProviderEvent.objects.get().delivery_id == delivery.pk
    assert post("/webhooks/email/beta/mailgun/tracking/", body,
                auth=basic(SECRETS["beta"]["webhook"])).status_code == 404  # no longer its service


def test_the_page_and_the_api_show_the_webhook_address_never_the_secret(world, sent):
    client = world.client_for("head_office")
    page = client.get("/network/identity/").content.decode()
    assert "http://testserver/webhooks/email/alpha/mailgun/tracking/" in page
    answer = client.get("/api/v1/network/identity/")
    assert answer.json()["tracking_webhook_url"] == "http://testserver/webhooks/email/alpha/mailgun/tracking/"
    assert answer.json()["webhook_signing_key_set"] is True
    for text in (page, answer.content.decode()):
        for secret in SECRETS["alpha"].values():
            assert secret not in text
