"""Inbound SMS: a person replies STOP to a marketing SMS (French law: no more SMS to them).

Twilio posts the reply to ``/sms/inbound/twilio/``, form-encoded and signed with the account's auth
token (``X-Twilio-Signature``); the signatures here are computed by the test itself, and the
implementation is checked against Twilio's own published test vectors. A STOP withdraws the SMS
consent of every customer with that number, in every network, cancels their queued SMS (not their
e-mails) and records one ConsentEvent each; a retry of the same message, a bad or missing signature,
a GET, any other text and an unknown number change nothing. The ``sms_inbound`` command goes through
the same handling.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import threading
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.db.models import Model
from django.test import Client
from django.utils import timezone

from central.delivery import sms_inbound
from central.models import (
    Campaign,
    CampaignStatus,
    ConsentEvent,
    ConsentStatus,
    Customer,
    Delivery,
    DeliveryReason,
    DeliveryStatus,
)
from tests.dispatching import email_version
from tests.planning import sms_version

pytestmark = pytest.mark.django_db

TOKEN = "test-twilio-auth-token-0123456789"
BASE_URL = "https://relais.example.test"
PATH = "/sms/inbound/twilio/"
NUMBER = "+33698765432"
SID = "SM0123456789abcdef0123456789abcdef"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def signature_for(url: str, params: dict[str, str], token: str = TOKEN) -> str:
    """Twilio's algorithm, written here on its own: the URL, then each parameter's name and value in
    the order of the names, HMAC-SHA1 with the auth token, base64."""
    data = url + "".join(name + params[name] for name in sorted(params))
    return base64.b64encode(hmac.new(token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1).digest()).decode()


def reply(body: str = "STOP", *, sender: str = NUMBER, sid: str = SID) -> dict[str, str]:
    """What Twilio posts for an incoming SMS (the fields Relais reads, and some it ignores)."""
    return {
        "ToCountry": "FR", "SmsMessageSid": sid, "NumMedia": "0", "SmsSid": sid, "SmsStatus": "received",
        "Body": body, "To": "+33644630000", "NumSegments": "1", "MessageSid": sid,
        "AccountSid": "AC0123456789abcdef0123456789abcdef", "From": sender, "FromCountry": "FR",
        "ApiVersion": "2010-04-01",
    }


def post(client: Client, params: dict[str, str], *, signature: str | None = "sign", url: str = BASE_URL + PATH,
         **extra):
    headers = {}
    if signature == "sign":
        signature = signature_for(url, params)
    if signature is not None:
        headers["HTTP_X_TWILIO_SIGNATURE"] = signature
    return client.post(PATH, urlencode(params), content_type="application/x-www-form-urlencoded", **headers,
                       **extra)


@pytest.fixture
def twilio(settings):
    settings.RELAIS_SMS_TWILIO_AUTH_TOKEN = TOKEN
    settings.RELAIS_BASE_URL = BASE_URL
    return Client(enforce_csrf_checks=True)  # the provider has no session and no CSRF token


@pytest.fixture
def shared(world):
    """The same person in both networks (NUMBER), each with a queued SMS; in Alpha an e-mail queued
    too, and an SMS already sent; a neighbour of another number with a queued SMS of the same campaign."""
    today = timezone.localdate()
    alpha, beta = world.networks["alpha"], world.networks["beta"]
    in_alpha = Customer.objects.create(network=alpha, branch=world.nodes["N1"], external_id="A-EVE", first_name="Eve",
                                       last_name="Partout", email="eve@example.test", mobile=NUMBER,
                                       consent_sms=ConsentStatus.GRANTED, consent_email=ConsentStatus.GRANTED)
    in_beta = Customer.objects.create(network=beta, branch=world.nodes["W1"], external_id="B-EVE", first_name="Eve",
                                      last_name="Partout", mobile=NUMBER, consent_sms=ConsentStatus.GRANTED)
    neighbour = Customer.objects.create(network=alpha, branch=world.nodes["N1"], external_id="A-NEIGHBOUR",
                                        last_name="Voisine", mobile="+33698765433", consent_sms=ConsentStatus.GRANTED)

    def campaign(network, version, channel, status=CampaignStatus.SENDING):
        return Campaign.objects.create(network=network, branch=world.nodes["N1" if network == alpha else "W1"],
                                       template_version=version, channel=channel, send_date=today, status=status)

    alpha_sms = campaign(alpha, sms_version(world), "sms")
    earlier_sms = campaign(alpha, alpha_sms.template_version, "sms", CampaignStatus.SENT)
    alpha_email = campaign(alpha, email_version(world), "email")
    beta_sms = campaign(beta, sms_version(world, network="beta", author="other_network_head_office"), "sms")
    deliveries = {
        "alpha_sms": Delivery.objects.create(campaign=alpha_sms, customer=in_alpha, channel="sms"),
        "alpha_email": Delivery.objects.create(campaign=alpha_email, customer=in_alpha, channel="email"),
        "beta_sms": Delivery.objects.create(campaign=beta_sms, customer=in_beta, channel="sms"),
        "neighbour_sms": Delivery.objects.create(campaign=alpha_sms, customer=neighbour, channel="sms"),
        "sent_sms": Delivery.objects.create(campaign=earlier_sms, customer=in_alpha, channel="sms",
                                            status=DeliveryStatus.SENT, sent_at=timezone.now() - timedelta(days=3)),
    }
    return {"alpha": in_alpha, "beta": in_beta, "neighbour": neighbour, "deliveries": deliveries}


def snapshot() -> dict[str, list[tuple]]:
    """Everything a reply could change, to compare before and after."""
    def rows(model: type[Model], *fields: str) -> list[tuple]:
        return list(model.objects.order_by("pk").values_list("pk", *fields))

    return {
        "customers": rows(Customer, "consent_sms", "consent_sms_at", "consent_sms_source", "consent_email",
                          "objected_at", "updated_at"),
        "events": rows(ConsentEvent, "customer_id", "channel", "status", "source", "occurred_at"),
        "deliveries": rows(Delivery, "status", "reason", "finished_at"),
        "campaigns": rows(Campaign, "status"),
    }


def assert_withdrawn(customer: Customer, source: str) -> None:
    customer.refresh_from_db()
    assert customer.consent_sms == ConsentStatus.DENIED
    assert customer.consent_sms_source == source and customer.consent_sms_at is not None
    events = ConsentEvent.objects.filter(customer=customer)
    assert [(e.channel, e.status, e.source) for e in events] == [("sms", "denied", source)]


# --- the webhook ----------------------------------------------------------------------------------


def test_a_signed_stop_withdraws_the_sms_consent_of_every_customer_with_that_number(
        twilio, shared, django_capture_on_commit_callbacks):
    anne = Customer.objects.get(external_id="A-N1")
    anne_before = (anne.consent_sms, anne.consent_sms_source, anne.updated_at)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(twilio, reply("STOP"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml"
    assert response.content.decode() == EMPTY_TWIML  # Twilio sends no auto-reply of ours
    source = f"SMS STOP (reply {SID})"
    for key in ("alpha", "beta"):  # both networks
        assert_withdrawn(shared[key], source)
    shared["alpha"].refresh_from_db()
    assert shared["alpha"].consent_email == ConsentStatus.GRANTED and shared["alpha"].objected_at is None
    deliveries = shared["deliveries"]
    for delivery in deliveries.values():
        delivery.refresh_from_db()
    for key in ("alpha_sms", "beta_sms"):
        assert (deliveries[key].status, deliveries[key].reason) == (DeliveryStatus.CANCELLED,
                                                                    DeliveryReason.SMS_STOP), key
        assert deliveries[key].finished_at is not None
    assert deliveries["alpha_email"].status == DeliveryStatus.QUEUED  # the e-mail still goes
    assert deliveries["neighbour_sms"].status == DeliveryStatus.QUEUED  # another number
    assert deliveries["sent_sms"].status == DeliveryStatus.SENT  # the past stays as it was
    neighbour = Customer.objects.get(pk=shared["neighbour"].pk)
    assert neighbour.consent_sms == ConsentStatus.GRANTED and not ConsentEvent.objects.filter(customer=neighbour)
    anne.refresh_from_db()
    assert (anne.consent_sms, anne.consent_sms_source, anne.updated_at) == anne_before
    assert ConsentEvent.objects.filter(source=source).count() == 2
    # the beta campaign's only message was cancelled: its send is over
    assert Campaign.objects.get(pk=deliveries["beta_sms"].campaign_id).status == CampaignStatus.SENT


def test_the_same_message_posted_again_changes_nothing(twilio, shared):
    assert post(twilio, reply("STOP")).status_code == 200
    before = snapshot()
    for _ in range(2):  # Twilio retries
        response = post(twilio, reply("STOP"))
        assert response.status_code == 200 and response.content.decode() == EMPTY_TWIML
    assert snapshot() == before
    assert ConsentEvent.objects.filter(source=f"SMS STOP (reply {SID})").count() == 2


def test_a_late_retry_does_not_undo_a_consent_given_again_in_the_crm(twilio, shared):
    assert post(twilio, reply("STOP")).status_code == 200
    # the person gives their consent again, explicitly, in the CRM (as the import would record it)
    Customer.objects.filter(pk=shared["alpha"].pk).update(consent_sms=ConsentStatus.GRANTED,
                                                          consent_sms_source="CRM")
    before = snapshot()
    assert post(twilio, reply("STOP")).status_code == 200  # the same message, retried
    assert snapshot() == before
    # a new STOP (another message) is honoured
    assert post(twilio, reply("STOP", sid="SM" + "1" * 32)).status_code == 200
    alpha = Customer.objects.get(pk=shared["alpha"].pk)
    assert alpha.consent_sms == ConsentStatus.DENIED and alpha.consent_sms_source == f"SMS STOP (reply SM{'1' * 32})"


@pytest.mark.parametrize("signature", [
    pytest.param(signature_for(BASE_URL + PATH, reply("STOP"), token="another-token"), id="another token"),
    pytest.param(signature_for(BASE_URL + PATH, reply("Bonjour")), id="signed for another body"),
    pytest.param(signature_for(BASE_URL + PATH, reply("STOP", sender="+33600000000")), id="signed for another sender"),
    pytest.param(signature_for("https://evil.example/sms/inbound/twilio/", reply("STOP")), id="signed for another URL"),
    pytest.param(signature_for(BASE_URL + PATH, reply("STOP"))[:-2] + "AA", id="tampered"),
    pytest.param("not base64 at all ✓", id="garbage"),
    pytest.param("", id="empty"),
])
def test_a_bad_signature_is_refused_and_changes_nothing(twilio, shared, signature):
    before = snapshot()
    response = post(twilio, reply("STOP"), signature=signature)
    assert response.status_code == 403
    assert snapshot() == before


def test_a_missing_signature_is_refused_and_changes_nothing(twilio, shared):
    before = snapshot()
    assert post(twilio, reply("STOP"), signature=None).status_code == 403
    assert snapshot() == before


def test_without_an_auth_token_every_request_is_refused(twilio, shared, settings):
    settings.RELAIS_SMS_TWILIO_AUTH_TOKEN = ""
    before = snapshot()
    params = reply("STOP")
    assert post(twilio, params, signature=signature_for(BASE_URL + PATH, params, token="")).status_code == 403
    assert snapshot() == before


def test_get_answers_405_and_changes_nothing(twilio, shared):
    before = snapshot()
    response = twilio.get(PATH, reply("STOP"))
    assert response.status_code == 405
    assert "POST" in response["Allow"]
    assert snapshot() == before


@pytest.mark.parametrize("body", ["Stop ", "arrêt", "STOP SMS", "ARRÊT", "Arret", "stop\n", "  Désinscription",
                                  "stopall", "Unsubscribe", "END", "quit", "Cancel", "stop   sms", "Stop !", "STOP."])
def test_the_opt_out_keywords_in_any_case_and_accents(twilio, shared, body):
    assert post(twilio, reply(body)).status_code == 200
    for key in ("alpha", "beta"):
        assert_withdrawn(shared[key], f"SMS STOP (reply {SID})")


@pytest.mark.parametrize("body", ["Bonjour", "STOP merci", "Stop, c'est trop", "START", "UNSTOP", "ARRET?", "arrête",
                                  "stopper", "", "STOP STOP", "Je veux me désinscrire"])
def test_any_other_text_records_nothing(twilio, shared, body):
    before = snapshot()
    response = post(twilio, reply(body))
    assert response.status_code == 200 and response.content.decode() == EMPTY_TWIML
    assert snapshot() == before


def test_a_stop_from_an_unknown_number_stores_nothing(twilio, shared):
    before = snapshot()
    response = post(twilio, reply("STOP", sender="+33711223344"))
    assert response.status_code == 200 and response.content.decode() == EMPTY_TWIML
    assert snapshot() == before
    assert not ConsentEvent.objects.filter(source__contains=SID).exists()
    assert not Customer.objects.filter(mobile="+33711223344").exists()


def test_a_stop_from_a_sender_that_is_not_a_mobile_number_stores_nothing(twilio, shared):
    before = snapshot()
    assert post(twilio, reply("STOP", sender="RELAIS")).status_code == 200
    assert snapshot() == before


def test_behind_a_proxy_the_requests_own_url_is_accepted_too(twilio, shared, settings):
    """RELAIS_BASE_URL names another host: the URL the request was addressed to (https, as the proxy
    says with SECURE_PROXY_SSL_HEADER) is checked too."""
    settings.RELAIS_BASE_URL = "https://elsewhere.example.test"
    params = reply("STOP")
    response = post(twilio, params, url="https://testserver" + PATH, secure=True)
    assert response.status_code == 200
    assert_withdrawn(shared["beta"], f"SMS STOP (reply {SID})")


def test_the_url_may_be_signed_with_or_without_its_default_port(twilio, shared):
    params = reply("STOP")
    assert post(twilio, params, url="https://relais.example.test:443" + PATH).status_code == 200
    assert_withdrawn(shared["alpha"], f"SMS STOP (reply {SID})")


def test_the_signature_matches_twilios_own_test_vectors():
    """The vectors of twilio-python's tests/unit/test_request_validator.py (auth token "12345")."""
    uri = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {"CallSid": ["CA1234567890ABCDE"], "Digits": ["1234"], "From": ["+14158675309"],
              "To": ["+18005551212"], "Caller": ["+14158675309"]}
    assert sms_inbound.twilio_signature("12345", uri, params) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert signature_for(uri, {name: values[0] for name, values in params.items()}, token="12345") == (
        "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    repeated = {"Sid": ["CA123"], "SidAccount": ["AC123"], "Digits": ["5678", "1234"]}
    assert sms_inbound.twilio_signature("12345", uri, repeated) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    # the URL as configured with the default port, and a request that arrived on another port
    assert sms_inbound.twilio_signature_valid(auth_token="12345", signature="kvajT1Ptam85bY51eRf/AJRuM3w=",
                                              urls=[uri], params=params)
    assert sms_inbound.twilio_signature_valid(auth_token="12345", signature="RSOYDt4T1cUTdK1PDd93/VVr8B8=",
                                              urls=[uri.replace(".com", ".com:1234")], params=params)
    assert not sms_inbound.twilio_signature_valid(auth_token="12346", signature="RSOYDt4T1cUTdK1PDd93/VVr8B8=",
                                                  urls=[uri], params=params)


# --- the management command -----------------------------------------------------------------------


def run_command(*args: str) -> str:
    out = io.StringIO()
    call_command("sms_inbound", *args, stdout=out)
    return out.getvalue()


def test_the_command_simulates_a_reply_through_the_same_handling(shared):
    output = run_command("--from", "06 98 76 54 32", "--body", "arrêt", "--message-id", "cli-demo-1")
    assert "SMS consent withdrawn for 2 of the 2 customers with this number" in output
    for key in ("alpha", "beta"):
        assert_withdrawn(shared[key], "SMS STOP (reply cli-demo-1)")
    shared["deliveries"]["alpha_sms"].refresh_from_db()
    assert shared["deliveries"]["alpha_sms"].status == DeliveryStatus.CANCELLED
    before = snapshot()
    assert "already recorded" in run_command("--from", NUMBER, "--body", "STOP", "--message-id", "cli-demo-1")
    assert snapshot() == before
    assert "withdrawn for 0 of the 2" in run_command("--from", NUMBER, "--body", "STOP")  # a new reply: no change
    assert snapshot() == before


def test_the_command_with_another_text_an_unknown_number_or_no_number(shared):
    before = snapshot()
    assert "Not an opt-out keyword" in run_command("--from", NUMBER, "--body", "Bonjour")
    assert "No customer has this number" in run_command("--from", "+33711223344", "--body", "STOP")
    with pytest.raises(CommandError, match="not a valid mobile number"):
        run_command("--from", "RELAIS", "--body", "STOP")
    assert snapshot() == before


# --- two deliveries of the same reply at once -----------------------------------------------------


@pytest.mark.skipif(not django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
                    reason="concurrent transactions need PostgreSQL (SQLite serialises writers anyway)")
def test_the_same_reply_handled_twice_at_once_is_recorded_once(transactional_world):
    """Two workers get the same reply at the same moment (a retry while the first is still being
    handled): on PostgreSQL the second waits for the first's row locks, then finds the consent
    already denied — one ConsentEvent per customer."""
    world = transactional_world
    made = [Customer.objects.create(network=world.networks[net], branch=world.nodes[code], external_id=f"X-{code}",
                                    mobile=NUMBER, consent_sms=ConsentStatus.GRANTED)
            for net, code in (("alpha", "N1"), ("alpha", "S1"), ("beta", "W1"))]
    barrier = threading.Barrier(2)
    results, errors = [], []

    def handle():
        from django.db import connection as own

        try:
            barrier.wait(timeout=10)
            results.append(sms_inbound.sms_inbound_receive(sender=NUMBER, body="STOP", message_id=SID))
        except Exception as error:
            errors.append(error)
        finally:
            own.close()

    threads = [threading.Thread(target=handle) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert len(results) == 2
    assert sum(result.withdrawn for result in results) == 3
    for customer in made:
        assert ConsentEvent.objects.filter(customer=customer, source=f"SMS STOP (reply {SID})").count() == 1
