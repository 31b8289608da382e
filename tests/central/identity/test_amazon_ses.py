"""Amazon SES (boto3 through django-anymail): a network's access key ID, secret access key and
region, with its endpoint pointed at a recorder on loopback standing for the SESv2 API. The queued
test send reaches it signed (AWS Signature V4) with the network's own access key ID and region,
from the network's address; a second network's identity signs with its own key; SES's refusal is
shown without any secret; the secret access key is never in the page, the API's answer or a log
line; the region is required (beside the field; HTTP 400) and checked for AWS's shape; a changed
region or endpoint asks for the keys again (the stored ones are never sent elsewhere)."""

from __future__ import annotations

import base64
import logging
import re
from email import message_from_bytes

import pytest

from central.identity.services import identity_save
from central.models import SendingIdentity
from tests.central.identity.loopback_api import JsonApiRecorder, identity_form, serving

pytestmark = pytest.mark.django_db

KEY_ID = "AKIAALPHAKEYID000001"
SECRET = "alpha-Secret-Access-Key-Marker-77c3e1"
BETA_KEY_ID = "AKIABETAKEYID0000002"
BETA_SECRET = "beta-Secret-Access-Key-Marker-1d9a40"
URL = "/network/identity/"
API = "/api/v1/network/identity/"
CREDENTIAL = re.compile(r"Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")


class SesRecorder(JsonApiRecorder):
    def answer(self, body: dict) -> tuple[int, dict, dict[str, str]]:
        if type(self).refuse:
            return 400, {"message": "Email address is not verified."}, {"x-amzn-ErrorType": "MessageRejected"}
        return 200, {"MessageId": "0102018f-ses-message-id-000001"}, {}


@pytest.fixture
def ses(settings, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SESV2"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    settings.RELAIS_RATE_LIMIT_REDIS_URL = ""
    with serving(SesRecorder) as base:
        yield base


def form_data(**overrides):
    return identity_form(esp="amazon_ses", esp_region="eu-west-3", email_secret=KEY_ID, esp_secret_key=SECRET) | overrides


def assert_no_secret(text: str) -> None:
    assert SECRET not in text and BETA_SECRET not in text


def sent_from(request: dict) -> str:
    return message_from_bytes(base64.b64decode(request["body"]["Content"]["Raw"]["Data"]))["From"]


def test_amazon_ses_is_offered_and_its_test_send_is_signed_with_the_network_s_key(
        world, ses, caplog, django_capture_on_commit_callbacks):
    client = world.client_for("head_office")
    caplog.set_level(logging.DEBUG)
    page = client.get(URL).content.decode()
    assert 'value="amazon_ses"' in page and 'name="esp_region"' in page
    assert client.post(URL, form_data(esp_api_url=ses)).status_code == 302
    identity = SendingIdentity.objects.get(network=world.networks["alpha"])
    assert (identity.esp, identity.esp_region, identity.esp_api_url) == ("amazon_ses", "eu-west-3", ses)
    page = client.get(URL).content.decode()
    assert_no_secret(page)
    assert "eu-west-3" in page and page.count("set on") >= 2
    with django_capture_on_commit_callbacks(execute=True):
        queued = client.post(URL + "test/", {"network": "alpha", "to": "marie@example.test"}, follow=True)
        assert "Test sent to marie@example.test queued" in queued.content.decode()
        assert SesRecorder.requests == []  # nothing sent in the request
    (request,) = SesRecorder.requests
    assert request["path"] == "/v2/email/outbound-emails"
    assert request["authorization"].startswith("AWS4-HMAC-SHA256 ")
    key_id, _date, region, service = CREDENTIAL.search(request["authorization"]).groups()
    assert (key_id, region, service) == (KEY_ID, "eu-west-3", "ses")
    assert SECRET not in request["authorization"]
    assert sent_from(request) == "Alpha <offres@alpha-mail.test>"
    assert request["body"]["Destination"]["ToAddresses"] == ["marie@example.test"]
    identity.refresh_from_db()
    assert (identity.last_test_to, identity.last_test_ok) == ("marie@example.test", True)
    assert "Sent to marie@example.test." in client.get(URL).content.decode()
    # SES refuses: its answer is shown and kept, no secret
    SesRecorder.refuse = True
    with django_capture_on_commit_callbacks(execute=True):
        client.post(URL + "test/", {"network": "alpha", "to": "marie@example.test"})
    identity.refresh_from_db()
    assert identity.last_test_ok is False and "Email address is not verified." in identity.last_test_result
    page = client.get(URL).content.decode()
    api = client.get(API)
    assert "Email address is not verified." in page
    assert api.json()["esp_region"] == "eu-west-3" and api.json()["esp_secret_key_set"] is True
    assert api.json()["tracking_webhook_url"] == ""  # no per-network tracking webhook for SES
    for text in (page, api.content.decode(), identity.last_test_result,
                 " ".join(record.getMessage() + str(record.args) for record in caplog.records)):
        assert_no_secret(text)


def test_a_second_network_s_ses_identity_signs_with_its_own_key(world, ses, django_capture_on_commit_callbacks):
    alpha, beta = world.networks["alpha"], world.networks["beta"]
    identity_save(network=alpha, saved_by=world.users["head_office"],
                  data={"from_local_part": "offres", "from_domain": "alpha-mail.test", "email_method": "anymail",
                        "esp": "amazon_ses", "esp_region": "eu-west-3", "esp_api_url": ses},
                  new_secrets={"email_secret": KEY_ID, "esp_secret_key": SECRET})
    beta_client = world.client_for("other_network_head_office")
    saved = beta_client.patch(API + "?network=beta", {
        "from_local_part": "news", "from_domain": "beta-mail.test", "from_name": "network", "reply_to": "none",
        "email_method": "anymail", "esp": "amazon_ses", "esp_region": "us-east-1", "esp_api_url": ses,
        "email_secret": BETA_KEY_ID, "esp_secret_key": BETA_SECRET}, content_type="application/json")
    assert saved.status_code == 200, saved.content
    assert saved.json()["esp_region"] == "us-east-1" and saved.json()["email_secret_set"] is True
    assert_no_secret(saved.content.decode())
    with django_capture_on_commit_callbacks(execute=True):
        beta_client.post(URL + "test/", {"network": "beta", "to": "jean@example.test"})
    with django_capture_on_commit_callbacks(execute=True):
        world.client_for("head_office").post(URL + "test/", {"network": "alpha", "to": "marie@example.test"})
    beta_request, alpha_request = SesRecorder.requests
    assert CREDENTIAL.search(beta_request["authorization"]).group(1, 3) == (BETA_KEY_ID, "us-east-1")
    assert CREDENTIAL.search(alpha_request["authorization"]).group(1, 3) == (KEY_ID, "eu-west-3")
    assert sent_from(beta_request) == "Beta <news@beta-mail.test>"
    assert SendingIdentity.objects.get(network=beta).last_test_ok is True


def test_the_region_is_required_and_checked_beside_the_field_and_in_the_api(world):
    client = world.client_for("head_office")
    response = client.post(URL, form_data(esp_region=""))
    page = response.content.decode()
    assert response.status_code == 200 and "This e-mail service needs its region (such as eu-west-3)." in page
    assert "data-form-errors" in page
    assert_no_secret(page)
    response = client.post(URL, form_data(esp_region="Paris"))
    assert "An AWS region name such as eu-west-3." in response.content.decode()
    response = client.post(URL, form_data(esp_secret_key=""))
    assert "This e-mail service needs its secret key too." in response.content.decode()
    assert not SendingIdentity.objects.exists()
    base = {"from_local_part": "offres", "from_domain": "alpha-mail.test", "email_method": "anymail",
            "esp": "amazon_ses", "email_secret": KEY_ID, "esp_secret_key": SECRET}
    bad = client.patch(API, base, content_type="application/json")
    assert bad.status_code == 400 and set(bad.json()) == {"esp_region"}
    bad = client.patch(API, base | {"esp_region": "eu_west_3"}, content_type="application/json")
    assert bad.status_code == 400 and set(bad.json()) == {"esp_region"}
    assert_no_secret(bad.content.decode())
    upper = client.patch(API, base | {"esp_region": "EU-WEST-3"}, content_type="application/json")
    assert upper.status_code == 400 and set(upper.json()) == {"esp_region"}  # AWS's names are lower case
    good = client.patch(API, base | {"esp_region": "eu-west-3"}, content_type="application/json")
    assert good.status_code == 200 and good.json()["esp_region"] == "eu-west-3"


def test_a_changed_region_or_endpoint_asks_for_the_keys_again(world, ses):
    client = world.client_for("head_office")
    assert client.post(URL, form_data()).status_code == 302
    for change in ({"esp_region": "us-east-1"}, {"esp_api_url": ses}):
        moved = client.patch(API, change, content_type="application/json")
        assert moved.status_code == 400 and set(moved.json()) == {"email_secret", "esp_secret_key"}
        assert_no_secret(moved.content.decode())
        response = client.post(URL, form_data(email_secret="", esp_secret_key="", **change))
        assert "type the secret again" in response.content.decode()
    identity = SendingIdentity.objects.get()
    assert (identity.esp_region, identity.esp_api_url) == ("eu-west-3", "")
    retyped = client.patch(API, {"esp_region": "us-east-1", "email_secret": KEY_ID, "esp_secret_key": SECRET},
                           content_type="application/json")
    assert retyped.status_code == 200 and retyped.json()["esp_region"] == "us-east-1"
