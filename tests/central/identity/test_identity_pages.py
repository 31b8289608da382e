"""Head office sets the network's sending identity on its page and through the API: secrets are
write-only (never in a page, an answer, the admin, a log record or the database in clear), every
change audited by field name, the test send goes through the network's own account."""

from __future__ import annotations

import io
import logging

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from central.delivery import sending
from central.models import SendingIdentity
from local_stores import secrets
from local_stores.models import NetworkEvent
from tests.central.identity.helpers import AuthSmtpSink, smtp_identity
from tests.dispatching import email_campaign, smtp_settings
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SMTP_MARKER = "smtp-Marker-Secret-51f0e2"
WEBHOOK_MARKER = "relais:webhook-Marker-Secret-9a77"
SMS_MARKER = "sms-Marker-Secret-c0ffee42"
SIGNING_MARKER = "signing-Marker-Key-5b3e"
MARKERS = (SMTP_MARKER, WEBHOOK_MARKER, SMS_MARKER, SIGNING_MARKER)
URL = "/network/identity/"
API = "/api/v1/network/identity/"


def form_data(**overrides):
    return {"network": "alpha", "from_local_part": "offres", "from_domain": "Alpha-Mail.test", "from_name": "branch",
            "reply_to": "branch", "reply_to_address": "", "email_method": "smtp", "esp": "",
            "smtp_host": "127.0.0.1", "smtp_port": "2525", "smtp_username": "alpha-login", "smtp_security": "none",
            "email_secret": SMTP_MARKER, "webhook_secret": WEBHOOK_MARKER, "sms_provider": "twilio",
            "sms_account": "AC123", "sms_secret": SMS_MARKER, "sms_sender": "AlphaShop", "esp_api_url": "",
            "esp_secret_key": "", "webhook_signing_key": SIGNING_MARKER} | overrides


def assert_no_marker(text: str) -> None:
    for marker in MARKERS:
        assert marker not in text


def stored_columns() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT email_secret_encrypted, webhook_secret_encrypted, sms_secret_encrypted, "
                       "webhook_signing_key_encrypted, esp_secret_key_encrypted FROM central_sendingidentity")
        return " ".join(" ".join(row) for row in cursor.fetchall())


def test_head_office_saves_the_identity_and_secrets_are_never_shown_back(world, caplog):
    client = world.client_for("head_office")
    assert client.get(URL).status_code == 200
    caplog.set_level(logging.DEBUG)
    response = client.post(URL, form_data())
    assert response.status_code == 302
    identity = SendingIdentity.objects.get(network=world.networks["alpha"])
    assert (identity.address, identity.sms_sender) == ("offres@alpha-mail.test", "AlphaShop")
    page = client.get(URL).content.decode()
    assert_no_marker(page)
    assert "set on" in page and "Tester Head-Office" in page and "••••" in page
    assert 'value="' + SMTP_MARKER not in page
    columns = stored_columns()
    assert columns and all(marker not in columns for marker in MARKERS)
    # the same form posted again with the secrets left empty (the browser never refills them) keeps them
    again = client.post(URL, form_data(email_secret="", webhook_secret="", sms_secret="", webhook_signing_key="",
                                       smtp_port="2526"))
    assert again.status_code == 302
    identity.refresh_from_db()
    assert identity.smtp_port == 2526 and stored_columns() == columns
    events = list(NetworkEvent.objects.filter(network=world.networks["alpha"], action__startswith="identity")
                  .order_by("pk"))
    actions = [event.action for event in events]
    assert actions == ["identity_changed"] + ["identity_secret_replaced"] * 4 + ["identity_changed"]
    assert events[-1].details == {"fields": ["smtp_port"]}
    assert_no_marker(str([event.details for event in events]))
    assert_no_marker(" ".join(record.getMessage() for record in caplog.records))


def test_a_bad_form_shows_its_errors_beside_the_fields_and_saves_nothing(world):
    client = world.client_for("head_office")
    response = client.post(URL, form_data(email_method="anymail", esp="", reply_to="fixed", sms_sender="Bad-Name"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "data-form-errors" in page
    for message in ("Choose the e-mail service.", "Give the fixed Reply-To address.",
                    "Letters and digits only (at most 11)."):
        assert message in page
    assert not SendingIdentity.objects.exists()
    assert_no_marker(page)


def test_the_api_answers_whether_a_secret_is_set_never_the_secret(world, caplog):
    client = world.client_for("head_office")
    caplog.set_level(logging.DEBUG)
    answer = client.patch(API, {"from_local_part": "offres", "from_domain": "alpha-mail.test",
                                "smtp_host": "smtp.alpha-mail.test", "smtp_username": "alpha",
                                "email_secret": SMTP_MARKER}, content_type="application/json")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["email_secret_set"] is True and body["sms_secret_set"] is False
    assert "email_secret" not in body and "email_secret_encrypted" not in body
    assert_no_marker(answer.content.decode() + client.get(API).content.decode())
    bad = client.patch(API, {"sms_sender": "x" * 12, "reply_to": "nobody"}, content_type="application/json")
    assert bad.status_code == 400 and {"sms_sender", "reply_to"} <= set(bad.json())
    assert_no_marker(" ".join(record.getMessage() for record in caplog.records))


def test_the_admin_never_shows_a_secret(world, client):
    smtp_identity(world.networks["alpha"], world.users["head_office"], domain="alpha-mail.test", port=25,
                  login="alpha", password=SMTP_MARKER)
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    identity = SendingIdentity.objects.get()
    page = client.get(f"/admin/central/sendingidentity/{identity.pk}/change/")
    assert page.status_code == 200
    assert_no_marker(page.content.decode())
    assert "email_secret_encrypted" not in page.content.decode()


def test_the_test_send_goes_through_the_networks_own_account(world, settings, caplog,
                                                             django_capture_on_commit_callbacks):
    with AuthSmtpSink("alpha-login", SMTP_MARKER) as server:
        smtp_settings(settings, 1)  # the platform's server is nowhere: only the network's account can work
        settings.RELAIS_RATE_LIMIT_REDIS_URL = ""
        client = world.client_for("head_office")
        caplog.set_level(logging.DEBUG)
        assert client.post(URL, form_data(smtp_port=str(server.port))).status_code == 302
        with django_capture_on_commit_callbacks(execute=True):  # the test send is a task queued at the commit
            response = client.post(URL + "test/", {"network": "alpha", "to": "marie@example.test"}, follow=True)
            assert "Test sent to marie@example.test queued" in response.content.decode()
            assert not server.handler.seen  # not sent in the request
        assert "Sent to marie@example.test." in client.get(URL).content.decode()
        (mail_from, login, message), = server.handler.seen
        assert (mail_from, login) == ("offres@alpha-mail.test", "alpha-login")
        assert message["From"] == "Alpha <offres@alpha-mail.test>"
        identity = SendingIdentity.objects.get()
        assert identity.last_test_result == "Sent to marie@example.test." and identity.last_test_at
        assert (identity.last_test_to, identity.last_test_ok) == ("marie@example.test", True)
        assert NetworkEvent.objects.filter(action="identity_test_sent", details={"sent": True}).exists()
        campaign = email_campaign(world, 1)  # and a real send, logged at DEBUG
        with django_capture_on_commit_callbacks(execute=True):
            sending.campaign_dispatch(campaign=campaign)
        assert len(server.handler.seen) == 3
    # a wrong password: the provider's answer is recorded and shown, the secret never
    with AuthSmtpSink("alpha-login", "another") as server:
        client.post(URL, form_data(smtp_port=str(server.port), email_secret=""))
        with django_capture_on_commit_callbacks(execute=True):
            client.post(URL + "test/", {"network": "alpha", "to": "marie@example.test"})
        page = client.get(URL).content.decode()
        assert "Not sent: SMTPAuthenticationError" in page
        assert_no_marker(page)
    assert_no_marker(" ".join(record.getMessage() + str(record.args) for record in caplog.records))


def test_secrets_rotate_reencrypts_every_secret_under_the_first_key(world, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.RELAIS_SECRET_KEYS = [old]
    smtp_identity(world.networks["alpha"], world.users["head_office"], domain="alpha-mail.test", port=25,
                  login="alpha", password=SMTP_MARKER)
    settings.RELAIS_SECRET_KEYS = [new, old]
    output = io.StringIO()
    call_command("secrets_rotate", stdout=output)
    assert output.getvalue().startswith("1 secrets")
    settings.RELAIS_SECRET_KEYS = [new]
    assert secrets.decrypt(SendingIdentity.objects.get().email_secret_encrypted) == SMTP_MARKER


def test_a_stored_secret_is_not_sent_to_another_server(world):
    """The server or account changed without the secret typed again: refused beside the secret's
    field — the stored password would otherwise log in to the new server at the next test send."""
    client = world.client_for("head_office")
    assert client.post(URL, form_data()).status_code == 302
    refused = client.post(URL, form_data(smtp_host="smtp.elsewhere.test", email_secret=""))
    assert refused.status_code == 200 and "type the secret again" in refused.content.decode()
    assert SendingIdentity.objects.get(network=world.networks["alpha"]).smtp_host != "smtp.elsewhere.test"
    assert client.post(URL, form_data(smtp_host="smtp.elsewhere.test", email_secret="new-secret")).status_code == 302
