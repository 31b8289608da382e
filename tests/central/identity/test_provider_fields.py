"""Providers that need more than one secret or an API address: Mailjet (API key + secret key) with
its API address pointed at a recorder on loopback standing for Mailjet — the queued test send
reaches it with the network's own key pair, the result (sent, or Mailjet's refusal without any
secret) is shown with its date; neither secret is ever in the page, the API's answer or a log
line; each provider's required fields are refused beside the field (page) and as HTTP 400 field
errors (API); a service whose library is missing (Amazon SES without boto3) is not offered."""

from __future__ import annotations

import base64
import logging

import pytest

from central.models import SendingIdentity
from local_stores.models import NetworkEvent
from tests.central.identity.loopback_api import JsonApiRecorder, identity_form, serving

pytestmark = pytest.mark.django_db

API_KEY = "mj-Api-Key-Marker-4d2a91"
SECRET_KEY = "mj-Secret-Key-Marker-8e77c3"
URL = "/network/identity/"
API = "/api/v1/network/identity/"


class MailjetRecorder(JsonApiRecorder):
    def answer(self, body: dict) -> tuple[int, dict, dict[str, str]]:
        if type(self).refuse:  # an answer quoting the key it refuses, as some APIs do
            return 401, {"ErrorCode": "mj-0001", "ErrorMessage": f"API key {API_KEY} is not valid",
                         "StatusCode": 401}, {}
        return 200, {"Messages": [{"Status": "success", "To": [
            {"Email": to["Email"], "MessageUUID": "uuid-1", "MessageID": 288230376151711744,
             "MessageHref": "https://api.mailjet.com/v3/message/288230376151711744"}
            for to in body["Messages"][0]["To"]]}]}, {}


@pytest.fixture
def mailjet(settings):
    settings.RELAIS_RATE_LIMIT_REDIS_URL = ""
    with serving(MailjetRecorder) as base:
        yield f"{base}/v3.1/"


def form_data(**overrides):
    return identity_form(esp="mailjet", email_secret=API_KEY, esp_secret_key=SECRET_KEY) | overrides


def assert_no_secret(text: str) -> None:
    assert API_KEY not in text and SECRET_KEY not in text


def test_mailjet_saved_with_both_secrets_the_queued_test_send_uses_them(world, mailjet, caplog,
                                                                          django_capture_on_commit_callbacks):
    client = world.client_for("head_office")
    caplog.set_level(logging.DEBUG)
    assert client.post(URL, form_data(esp_api_url=mailjet)).status_code == 302
    identity = SendingIdentity.objects.get(network=world.networks["alpha"])
    assert identity.esp_secret_key_encrypted and identity.email_secret_encrypted and identity.esp_api_url == mailjet
    page = client.get(URL).content.decode()
    assert_no_secret(page)
    assert page.count("set on") >= 2  # both secrets: "set on <date> by <person>"
    with django_capture_on_commit_callbacks(execute=True):
        queued = client.post(URL + "test/", {"network": "alpha", "to": "marie@example.test"}, follow=True)
        assert "Test sent to marie@example.test queued" in queued.content.decode()
        assert MailjetRecorder.requests == []  # nothing sent in the request
    (request,) = MailjetRecorder.requests
    assert request["path"] == "/v3.1/send"
    assert base64.b64decode(request["authorization"].split()[1]).decode() == f"{API_KEY}:{SECRET_KEY}"
    assert request["body"]["Globals"]["From"] == {"Email": "offres@alpha-mail.test", "Name": "Alpha"}
    identity.refresh_from_db()
    assert (identity.last_test_to, identity.last_test_ok) == ("marie@example.test", True)
    page = client.get(URL).content.decode()
    assert "Sent to marie@example.test." in page and "data-test-result" in page
    # Mailjet refuses, quoting the key: the refusal is shown and kept, the key never
    MailjetRecorder.refuse = True
    with django_capture_on_commit_callbacks(execute=True):
        client.post(URL + "test/", {"network": "alpha", "to": "marie@example.test"})
    identity.refresh_from_db()
    assert identity.last_test_ok is False and "Not sent:" in identity.last_test_result
    assert "is not valid" in identity.last_test_result
    page = client.get(URL).content.decode()
    assert "is not valid" in page
    api = client.get(API)
    assert api.json()["esp_secret_key_set"] is True and api.json()["last_test_ok"] is False
    events = NetworkEvent.objects.filter(network=world.networks["alpha"], action="identity_test_sent")
    assert sorted(event.details["sent"] for event in events) == [False, True]
    for text in (page, api.content.decode(), identity.last_test_result, str([e.details for e in events]),
                 " ".join(record.getMessage() + str(record.args) for record in caplog.records)):
        assert_no_secret(text)


def test_each_provider_s_required_fields_are_refused_beside_the_field(world):
    client = world.client_for("head_office")
    response = client.post(URL, form_data(esp_secret_key=""))
    page = response.content.decode()
    assert response.status_code == 200 and "This e-mail service needs its secret key too." in page
    assert "data-form-errors" in page
    assert_no_secret(page)
    response = client.post(URL, form_data(esp="postal", esp_secret_key=""))
    assert "This e-mail service needs the address of its API" in response.content.decode()
    response = client.post(URL, form_data(esp="sparkpost", email_secret="", esp_secret_key=""))
    assert "This e-mail service needs its API key." in response.content.decode()
    response = client.post(URL, form_data(esp_api_url="not a url"))
    assert "Enter a valid URL." in response.content.decode()
    response = client.post(URL, form_data(webhook_secret="no-colon-in-this-secret"))
    assert "Give it as user:password" in response.content.decode()
    assert "no-colon-in-this-secret" not in response.content.decode()
    assert not SendingIdentity.objects.exists()
    # SparkPost's EU region
    assert client.post(URL, form_data(esp="sparkpost", esp_secret_key="",
                                      esp_api_url="https://api.eu.sparkpost.com/api/v1/")).status_code == 302
    assert SendingIdentity.objects.get().esp_api_url == "https://api.eu.sparkpost.com/api/v1/"


def test_the_api_answers_400_with_the_field_in_error(world, caplog):
    client = world.client_for("head_office")
    caplog.set_level(logging.DEBUG)
    base = {"from_local_part": "offres", "from_domain": "alpha-mail.test", "email_method": "anymail", "esp": "mailjet",
            "email_secret": API_KEY}
    bad = client.patch(API, base, content_type="application/json")
    assert bad.status_code == 400 and set(bad.json()) == {"esp_secret_key"}
    bad = client.patch(API, base | {"esp_secret_key": SECRET_KEY, "esp_api_url": "nope"},
                       content_type="application/json")
    assert bad.status_code == 400 and "esp_api_url" in bad.json()
    good = client.patch(API, base | {"esp_secret_key": SECRET_KEY, "esp_api_url": "https://api.mailjet.com/v3.1/"},
                        content_type="application/json")
    assert good.status_code == 200, good.content
    assert good.json()["esp_secret_key_set"] is True and good.json()["email_secret_set"] is True
    for text in (bad.content.decode(), good.content.decode(), client.get(API).content.decode(),
                 " ".join(record.getMessage() + str(record.args) for record in caplog.records)):
        assert_no_secret(text)
    # moving to a service without a key pair drops the second secret (never sent elsewhere)
    moved = client.patch(API, {"esp": "sendgrid", "email_secret": "sg-key", "esp_api_url": ""},
                         content_type="application/json")
    assert moved.status_code == 200 and moved.json()["esp_secret_key_set"] is False



@pytest.mark.parametrize("address", ["http://api.mailjet.com/v3.1/", "https://127.0.0.1:8443/v3.1/",
                                     "https://10.0.0.5/v3.1/", "https://[::1]/v3.1/", "https://169.254.169.254/latest/"])
def test_in_production_an_api_address_on_a_private_network_is_refused(world, settings, address):
    """A head office cannot make Relais call its own private servers (SSRF): the page says so beside
    the field, the API answers 400, nothing is saved. (The demo and tests allow loopback services.)"""
    settings.RELAIS_OUTBOUND_PRIVATE_ALLOWED = False
    client = world.client_for("head_office")
    page = client.post(URL, form_data(esp_api_url=address)).content.decode()
    assert "private network" in page or "https:// address" in page
    answer = client.patch(API, {"from_local_part": "offres", "from_domain": "alpha-mail.test", "email_method": "anymail",
                                "esp": "mailjet", "email_secret": API_KEY, "esp_secret_key": SECRET_KEY,
                                "esp_api_url": address}, content_type="application/json")
    assert answer.status_code == 400 and "esp_api_url" in answer.json()
    assert not SendingIdentity.objects.exists()


def test_an_identity_provider_on_a_private_network_is_refused_in_production(world, settings):
    from django.core.exceptions import ValidationError

    from local_stores.sso import sso_config_save, sso_discovery_check

    settings.RELAIS_OUTBOUND_PRIVATE_ALLOWED = False
    with pytest.raises(ValidationError, match="private network"):
        sso_config_save(network=world.networks["alpha"], saved_by=world.users["head_office"],
                        data={"issuer_url": "https://127.0.0.1:9000/realms/x", "client_id": "relais"})
    assert sso_discovery_check("https://10.1.2.3/realms/x")["ok"] is False


def test_the_test_send_is_queued_through_the_api_too(world, mailjet, django_capture_on_commit_callbacks):
    client = world.client_for("head_office")
    assert client.post(URL, form_data(esp_api_url=mailjet)).status_code == 302
    bad = client.post(API + "test-send/", {"to": "not an address"}, content_type="application/json")
    assert bad.status_code == 400 and set(bad.json()) == {"to"}
    with django_capture_on_commit_callbacks(execute=True):
        queued = client.post(API + "test-send/", {"to": "marie@example.test"}, content_type="application/json")
        assert queued.status_code == 202, queued.content
        assert queued.json()["last_test_to"] == "marie@example.test" and queued.json()["last_test_ok"] is None
        assert MailjetRecorder.requests == []  # nothing sent in the request
    (request,) = MailjetRecorder.requests
    assert request["body"]["Messages"][0]["To"] == [{"Email": "marie@example.test"}]
    answer = client.get(API).json()
    assert answer["last_test_ok"] is True and "Sent to marie@example.test." in answer["last_test_result"]
    assert_no_secret(queued.content.decode())
    # another network's head office: not found, nothing queued
    other = world.client_for("other_network_head_office").post(API + "test-send/?network=alpha",
                                                               {"to": "x@example.test"}, content_type="application/json")
    assert other.status_code == 404


def test_a_test_send_before_any_identity_is_a_clear_400(world):
    answer = world.client_for("head_office").post(API + "test-send/", {"to": "marie@example.test"},
                                                  content_type="application/json")
    assert answer.status_code == 400 and "Save the sending identity first." in str(answer.json())
