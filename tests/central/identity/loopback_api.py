"""A recorder on loopback standing for an e-mail service's JSON API (Mailjet, Amazon SES…): it keeps
each POST it receives and answers what the test's subclass decides. Shared by the provider tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class JsonApiRecorder(BaseHTTPRequestHandler):
    """Keeps each POST; answers what ``answer(body)`` gives — (status, JSON answer, extra headers):
    by default an empty JSON object, 200; the providers' recorders answer as their service does."""

    requests: list[dict] = []
    refuse = False

    def answer(self, body: dict) -> tuple[int, dict, dict[str, str]]:
        return 200, {}, {}

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        type(self).requests.append({"path": self.path, "authorization": self.headers.get("Authorization", ""),
                                    "body": body})
        status, answer, headers = self.answer(body)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@contextmanager
def serving(recorder: type[JsonApiRecorder]) -> Iterator[str]:
    """The recorder listening on a free loopback port: its base URL, e.g. http://127.0.0.1:41234."""
    recorder.requests, recorder.refuse = [], False
    server = ThreadingHTTPServer(("127.0.0.1", 0), recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def identity_form(**overrides) -> dict:
    """The sending identity page's form as a browser posts it: an e-mail service, no SMS."""
    return {"network": "alpha", "from_local_part": "offres", "from_domain": "alpha-mail.test", "from_name": "network",
            "reply_to": "none", "reply_to_address": "", "email_method": "anymail", "esp": "",
            "esp_api_url": "", "smtp_host": "", "smtp_port": "587", "smtp_username": "", "smtp_security": "starttls",
            "email_secret": "", "esp_secret_key": "", "webhook_secret": "", "webhook_signing_key": "",
            "sms_provider": "none", "sms_account": "", "sms_secret": "", "sms_sender": ""} | overrides
