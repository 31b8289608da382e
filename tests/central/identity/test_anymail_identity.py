"""A network whose identity sends through an e-mail service's API (django-anymail, Mailgun here):
the API — a recorder on loopback standing for Mailgun — receives the network's own API key, and
the messages come from the network's domain."""

from __future__ import annotations

import base64
import json
import threading
from email.utils import parseaddr
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from django.core import mail

from central.delivery import sending
from central.identity.services import identity_save
from central.models import Delivery, DeliveryStatus
from tests.dispatching import email_campaign

pytestmark = pytest.mark.django_db

API_KEY = "key-alpha-Mailgun-0c9d7e"


class MailgunRecorder(BaseHTTPRequestHandler):
    requests: list[dict] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).requests.append({"path": self.path, "authorization": self.headers.get("Authorization", ""),
                                    "content_type": self.headers.get("Content-Type", ""), "body": body})
        answer = json.dumps({"id": f"<{len(type(self).requests)}@alpha-mail.test>", "message": "Queued."}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def mailgun(settings):
    MailgunRecorder.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), MailgunRecorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.ANYMAIL = {**settings.ANYMAIL, "MAILGUN_API_URL": f"http://127.0.0.1:{server.server_address[1]}/v3/"}
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # the platform's: must stay unused
    settings.RELAIS_RATE_LIMIT_REDIS_URL = ""
    try:
        yield MailgunRecorder.requests
    finally:
        server.shutdown()
        server.server_close()


def test_the_network_s_own_api_key_reaches_the_e_mail_service(world, mailgun, django_capture_on_commit_callbacks):
    identity_save(network=world.networks["alpha"], saved_by=world.users["head_office"],
                  data={"from_local_part": "offres", "from_domain": "alpha-mail.test", "email_method": "anymail",
                        "esp": "mailgun"}, new_secrets={"email_secret": API_KEY})
    campaign = email_campaign(world, 1)
    with django_capture_on_commit_callbacks(execute=True):
        sending.campaign_dispatch(campaign=campaign)
    assert Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.SENT).count() == 2
    assert len(mailgun) == 2 and mail.outbox == []
    for request in mailgun:
        assert request["path"] == "/v3/alpha-mail.test/messages"  # the sender domain: the From's
        assert base64.b64decode(request["authorization"].split()[1]).decode() == f"api:{API_KEY}"
        fields = parse_qs(request["body"].decode())
        assert fields["from"] == ["Lille <offres@alpha-mail.test>"]
    assert sorted(parseaddr(parse_qs(request["body"].decode())["to"][0])[1] for request in mailgun) == [
        "anne.nord@example.test", "c0@example.test"]
