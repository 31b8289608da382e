"""Sending SMS: one small interface, a file backend for development and demos, and an adapter for
Twilio's REST API (``POST /2010-04-01/Accounts/<sid>/Messages.json``).

A backend's ``send(to, text)`` returns the provider's message id, or raises:

- ``SmsTemporaryError``: try again later (the provider is down or throttles us: HTTP 429, 5xx, a
  timeout, a refused connection);
- ``SmsPermanentError``: this message will never go (``invalid_number`` when the number does not
  exist or cannot receive SMS: the dispatcher then suppresses it);
- ``SmsOptedOut`` (a permanent error): the recipient replied STOP to the provider; the dispatcher
  records the withdrawal of their SMS consent.

``to`` is an E.164 number (+33612345678). Segments and cost are counted by the dispatcher
(``templates_lib.rendering.sms_count``): what the provider bills is known before sending.
"""

from __future__ import annotations

import abc
import base64
import json
import secrets
import threading
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string


class SmsError(Exception):
    """A message was not accepted by the provider."""


class SmsTemporaryError(SmsError):
    """Try again later."""


class SmsPermanentError(SmsError):
    """This message will never be accepted."""

    def __init__(self, message: str, *, invalid_number: bool = False) -> None:
        super().__init__(message)
        self.invalid_number = invalid_number


class SmsOptedOut(SmsPermanentError):
    """The recipient unsubscribed from SMS at the provider (replied STOP)."""


class SmsBackend(abc.ABC):
    """Subclasses send one SMS and return the provider's id for it."""

    name = "sms"

    @abc.abstractmethod
    def send(self, to: str, text: str) -> str:
        """Send ``text`` to ``to`` (E.164); the provider's id, or SmsTemporaryError / SmsPermanentError."""


class FileSmsBackend(SmsBackend):
    """Development and demo: each SMS is a JSON line appended to ``<RELAIS_SMS_FILE_PATH>/<day>.jsonl``.
    Nothing leaves the machine."""

    name = "file"
    _lock = threading.Lock()

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path or settings.RELAIS_SMS_FILE_PATH)

    def send(self, to: str, text: str) -> str:
        message_id = "file-" + secrets.token_hex(12)
        now = datetime.now(UTC)
        line = json.dumps({"id": message_id, "to": to, "text": text, "at": now.isoformat()}, ensure_ascii=False)
        self.path.mkdir(parents=True, exist_ok=True)
        with self._lock, (self.path / f"{now:%Y-%m-%d}.jsonl").open("a", encoding="utf-8") as stream:
            stream.write(line + "\n")
        return message_id


class TwilioSmsBackend(SmsBackend):
    """Twilio's Programmable Messaging REST API: a form-encoded POST with HTTP basic authentication
    (account SID and auth token); ``From`` is a number or an alphanumeric sender id, or a Messaging
    Service SID (``MG…``). The API's URL is a setting so that tests talk to a local server."""

    name = "twilio"
    #: Twilio error codes: the number is not a valid mobile, or cannot receive SMS.
    INVALID_NUMBER_CODES = {21211, 21214, 21407, 21408, 21612, 21614}
    #: "Attempt to send to unsubscribed recipient": the person replied STOP.
    OPTED_OUT_CODES = {21610}
    TIMEOUT_SECONDS = 15

    def __init__(self, *, account_sid: str = "", auth_token: str = "", sender: str = "", api_url: str = "") -> None:
        self.account_sid = account_sid or settings.RELAIS_SMS_TWILIO_ACCOUNT_SID
        self.auth_token = auth_token or settings.RELAIS_SMS_TWILIO_AUTH_TOKEN
        self.sender = sender or settings.RELAIS_SMS_TWILIO_FROM
        self.api_url = (api_url or settings.RELAIS_SMS_TWILIO_API_URL).rstrip("/")
        if not (self.account_sid and self.auth_token and self.sender):
            raise ImproperlyConfigured(
                "Twilio needs RELAIS_SMS_TWILIO_ACCOUNT_SID, RELAIS_SMS_TWILIO_AUTH_TOKEN and RELAIS_SMS_TWILIO_FROM."
            )
        if not self.api_url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise ImproperlyConfigured("RELAIS_SMS_TWILIO_API_URL must be an https:// URL.")

    def send(self, to: str, text: str) -> str:
        fields = {"To": to, "Body": text}
        fields["MessagingServiceSid" if self.sender.startswith("MG") else "From"] = self.sender
        url = f"{self.api_url}/2010-04-01/Accounts/{urllib.parse.quote(self.account_sid)}/Messages.json"
        credentials = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        request = urllib.request.Request(  # noqa: S310 (the scheme is checked in __init__)
            url, data=urllib.parse.urlencode(fields).encode(), method="POST",
            headers={"Authorization": f"Basic {credentials}", "Accept": "application/json",
                     "Content-Type": "application/x-www-form-urlencoded"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.TIMEOUT_SECONDS) as response:  # noqa: S310
                payload = _json(response.read())
        except urllib.error.HTTPError as error:
            raise self._error(error.code, _json(error.read())) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as error:
            raise SmsTemporaryError(f"Twilio unreachable: {getattr(error, 'reason', error)}") from None
        sid = payload.get("sid")
        if not sid:
            raise SmsTemporaryError("Twilio answered without a message id")
        return str(sid)

    def _error(self, status: int, payload: dict) -> SmsError:
        code = payload.get("code")
        message = f"Twilio {status}" + (f" (error {code})" if code else "") + (
            f": {payload['message']}" if payload.get("message") else "")
        if status == 429 or status >= 500:
            return SmsTemporaryError(message)
        if code in self.OPTED_OUT_CODES:
            return SmsOptedOut(message)
        if code in self.INVALID_NUMBER_CODES:
            return SmsPermanentError(message, invalid_number=True)
        if status in (401, 403):  # our credentials: every message would fail the same way, for now
            return SmsTemporaryError(message)
        return SmsPermanentError(message)


class UnconfiguredSmsBackend(SmsBackend):
    """Production without RELAIS_SMS_BACKEND: nothing pretends to be sent."""

    name = "none"

    def send(self, to: str, text: str) -> str:
        raise SmsPermanentError("no SMS provider is configured (RELAIS_SMS_BACKEND)")


def _json(body: bytes) -> dict:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def get_backend() -> SmsBackend:
    """The backend named by ``settings.RELAIS_SMS_BACKEND`` (a dotted path)."""
    path = settings.RELAIS_SMS_BACKEND
    if not path:
        return UnconfiguredSmsBackend()
    return import_string(path)()


def backend_for(account) -> SmsBackend:
    """The backend of a network's own SMS account (``central.identity.connections.SmsAccount``), or
    the platform's (``get_backend``) when it has none."""
    if account is None:
        return get_backend()
    if account.provider == TwilioSmsBackend.name:
        return TwilioSmsBackend(account_sid=account.account, auth_token=account.secret, sender=account.sender)
    raise ImproperlyConfigured(f"unknown SMS provider {account.provider!r}")
