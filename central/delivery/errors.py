"""What happened to one message: the outcomes of a send and the failures a provider answers
(SMTP, django-anymail, an SMS provider), classified as temporary or permanent."""

from __future__ import annotations

import re
import smtplib
from dataclasses import dataclass
from decimal import Decimal

from central.models import (
    DeliveryReason,
    DeliveryStatus,
)

SENT, FAILED, CANCELLED = DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.CANCELLED
RETRYING, SKIPPED, STOPPED = "retrying", "skipped", "stopped"

class TemporaryFailure(Exception):
    """Try this message again later."""

    def __init__(self, message: str, *, reset_connection: bool = False) -> None:
        super().__init__(message)
        self.reset_connection = reset_connection


class PermanentFailure(Exception):
    """This message will never go."""

    def __init__(self, message: str, *, reason: str = DeliveryReason.REJECTED, suppress: bool = False,
                 opted_out: bool = False) -> None:
        super().__init__(message)
        self.reason, self.suppress, self.opted_out = reason, suppress, opted_out


@dataclass
class SendOutcome:
    provider_id: str
    segments: int | None = None
    cost: Decimal | None = None


_HARD_ENHANCED_STATUS = re.compile(r"\b5\.1\.\d{1,3}\b")


def _smtp_text(code: int | None, message: bytes | str) -> str:
    text = message.decode(errors="replace") if isinstance(message, bytes) else str(message)
    return f"{code} {text}".strip() if code is not None else text


def email_failure(error: BaseException) -> TemporaryFailure | PermanentFailure | None:
    """What a sending error means for one e-mail, or None when it is not a sending error (a bug or
    a poison message: the caller fails the message with it). SMTP: 4xx temporary, 5xx permanent, a
    refused recipient or a 5.1.x status a hard bounce; lost or refused connections temporary.
    django-anymail: a refused recipient is a hard bounce, an API error temporary on 429/5xx."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, message = next(iter(error.recipients.values()), (None, b""))
        text = _smtp_text(code, message)
        if code is not None and 400 <= code < 500:
            return TemporaryFailure(text, reset_connection=code == 421)  # 421: the server closes the connection
        return PermanentFailure(text, reason=DeliveryReason.HARD_BOUNCE, suppress=True)
    if isinstance(error, smtplib.SMTPDataError):
        text = _smtp_text(error.smtp_code, error.smtp_error)
        if 500 <= error.smtp_code < 600:
            hard = bool(_HARD_ENHANCED_STATUS.search(text))
            return PermanentFailure(text, reason=DeliveryReason.HARD_BOUNCE if hard else DeliveryReason.REJECTED,
                                    suppress=hard)
        return TemporaryFailure(text, reset_connection=error.smtp_code == 421)
    if isinstance(error, smtplib.SMTPResponseException):
        # refused sender, authentication, greeting: our side, the same for every message
        return TemporaryFailure(_smtp_text(error.smtp_code, error.smtp_error), reset_connection=True)
    if isinstance(error, smtplib.SMTPException | OSError):  # disconnected, timeout, connection refused
        return TemporaryFailure(f"{type(error).__name__}: {error}", reset_connection=True)
    name = type(error).__name__
    if name == "AnymailRecipientsRefused":
        return PermanentFailure(str(error), reason=DeliveryReason.HARD_BOUNCE, suppress=True)
    if name.startswith("Anymail"):
        status = getattr(error, "status_code", None)
        if status is None or status == 429 or status >= 500:
            return TemporaryFailure(f"{name}: {error}")
        return PermanentFailure(f"{name}: {error}")
    return None
