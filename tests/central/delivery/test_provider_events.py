"""The e-mail providers' tracking webhooks, through django-anymail's own views (here Mailgun's,
signed as Mailgun signs them — HMAC-SHA256 of timestamp and token with the webhook signing key —
and called with the shared secret as HTTP basic auth): each event is recorded once, tied to the
delivery of the message it is about; a hard bounce suppresses the address, a spam report withdraws
the e-mail consent, an unsubscription through the provider is a global objection."""

import base64
import hashlib
import hmac
import json
import time

import pytest
from django.conf import settings
from django.test import Client

from central.customers import consent
from central.delivery import sending
from central.models import ConsentStatus, Delivery, DeliveryReason, DeliveryStatus
from reporting.models import ProviderEvent
from tests.dispatching import email_campaign

pytestmark = pytest.mark.django_db

PATH = "/webhooks/email/mailgun/tracking/"
AUTH = "Basic " + base64.b64encode(settings.ANYMAIL["WEBHOOK_SECRET"].encode()).decode()


def signed(event_data: dict, *, token: str, key: str | None = None) -> str:
    timestamp = str(int(time.time()))
    key = key or settings.ANYMAIL["MAILGUN_WEBHOOK_SIGNING_KEY"]
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return json.dumps({"signature": {"timestamp": timestamp, "token": token, "signature": signature},
                       "event-data": event_data})


def event(delivery: Delivery, kind: str, **extra) -> dict:
    return {"event": kind, "timestamp": time.time(), "id": f"ev-{kind}", "recipient": delivery.customer.email,
            "message": {"headers": {"message-id": delivery.provider_id.strip("<>")}}, **extra}


def post(body: str, *, auth: str | None = AUTH):
    headers = {"HTTP_AUTHORIZATION": auth} if auth else {}
    return Client().post(PATH, body, content_type="application/json", **headers)


@pytest.fixture
def sent(world, django_capture_on_commit_callbacks):
    """Two e-mails sent (through Django's e-mail backend: their Message-IDs are their provider ids)."""
    campaign = email_campaign(world, 1)
    with django_capture_on_commit_callbacks(execute=True):
        sending.campaign_dispatch(campaign=campaign)
    deliveries = list(Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.SENT).select_related("customer")
                      .order_by("pk"))
    assert len(deliveries) == 2 and all(d.provider_id.startswith("<") for d in deliveries)
    return deliveries


def test_an_event_posted_twice_is_recorded_once_for_its_delivery(sent):
    first, other = sent
    body = signed(event(first, "opened"), token="t" * 50)
    assert post(body).status_code == 200
    assert post(body).status_code == 200  # the provider retried: same token, same event
    recorded = ProviderEvent.objects.get()
    assert (recorded.delivery_id, recorded.kind, recorded.esp) == (first.pk, ProviderEvent.Kind.OPENED, "Mailgun")
    assert not other.provider_events.exists()
    # another event of the same message is another record
    assert post(signed(event(first, "clicked", url="https://shop.example/offre"), token="u" * 50)).status_code == 200
    click = ProviderEvent.objects.get(kind=ProviderEvent.Kind.CLICKED)
    assert click.url == "https://shop.example/offre"
    assert ProviderEvent.objects.count() == 2


@pytest.mark.parametrize("auth, key", [
    pytest.param(None, None, id="without the shared secret"),
    pytest.param("Basic " + base64.b64encode(b"relais:wrong").decode(), None, id="with a wrong secret"),
    pytest.param(AUTH, "another-key", id="signed with another key"),
])
def test_an_unauthenticated_or_forged_post_records_nothing(sent, auth, key):
    response = post(signed(event(sent[0], "complained"), token="v" * 50, key=key), auth=auth)
    assert response.status_code in (400, 401, 403)
    assert not ProviderEvent.objects.exists()
    sent[0].customer.refresh_from_db()
    assert sent[0].customer.consent_email == ConsentStatus.GRANTED


def test_a_hard_bounce_suppresses_the_address_a_soft_one_does_not(sent):
    soft, hard = sent
    post(signed(event(soft, "failed", severity="temporary", reason="generic",
                      **{"delivery-status": {"description": "mailbox full"}}), token="w" * 50))
    post(signed(event(hard, "failed", severity="permanent", reason="bounce",
                      **{"delivery-status": {"description": "no such user"}}), token="x" * 50))
    kinds = dict(ProviderEvent.objects.values_list("delivery_id", "kind"))
    assert kinds == {soft.pk: ProviderEvent.Kind.DEFERRED, hard.pk: ProviderEvent.Kind.BOUNCED}
    assert "no such user" in ProviderEvent.objects.get(delivery=hard).detail
    assert consent.consent_problem(hard.customer, "email") == DeliveryReason.SUPPRESSED
    assert consent.consent_problem(soft.customer, "email") == ""


def test_a_spam_report_withdraws_the_email_consent_an_unsubscription_is_an_objection(sent):
    complaining, leaving = sent
    post(signed(event(complaining, "complained"), token="y" * 50))
    post(signed(event(leaving, "unsubscribed"), token="z" * 50))
    complaining.customer.refresh_from_db()
    leaving.customer.refresh_from_db()
    assert complaining.customer.consent_email == ConsentStatus.DENIED
    assert complaining.customer.objected_at is None
    assert leaving.customer.objected_at is not None
    assert leaving.customer.objection_source == "Mailgun: unsubscribed"


def test_an_event_about_a_message_relais_did_not_send_is_ignored(sent):
    stranger = {"event": "delivered", "timestamp": time.time(), "recipient": "someone@example.test",
                "message": {"headers": {"message-id": "not-ours@elsewhere.example"}}}
    assert post(signed(stranger, token="s" * 50)).status_code == 200
    assert not ProviderEvent.objects.exists()
