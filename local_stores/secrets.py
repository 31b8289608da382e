"""Secrets at rest: a network's provider passwords and API keys, encrypted before they reach the
database and decrypted only where a connection is opened (docs/sending-identity.md).

``MultiFernet`` over the keys of ``settings.RELAIS_SECRET_KEYS`` (the first encrypts, every one
decrypts: rotation puts a new key first) and, last, the key derived from SECRET_KEY that the
printer's secrets were first encrypted with — so tokens written before the setting still read.
Nothing here logs a value; ``mask`` is the only form a secret is ever shown in."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


def _legacy_key() -> Fernet:
    key = hashlib.sha256(b"relais printer secrets\0" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def _keys() -> MultiFernet:
    configured = [Fernet(key.encode() if isinstance(key, str) else key)
                  for key in getattr(settings, "RELAIS_SECRET_KEYS", None) or [] if key]
    return MultiFernet([*configured, _legacy_key()])


def encrypt(text: str) -> str:
    """The token of ``text`` under the first key ("" for no secret)."""
    return _keys().encrypt(text.encode()).decode() if text else ""


def decrypt(token: str) -> str:
    """The secret, or "" when there is none or no key reads it (the keys changed: enter it again)."""
    if not token:
        return ""
    try:
        return _keys().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return ""


class SecretUnreadable(ValueError):
    """No key reads the token: the keys changed without the old one kept last."""


def decrypt_or_raise(token: str) -> str:
    """The secret; SecretUnreadable when no key reads it — for what must fail closed (a second
    factor's secret read as "" would make every "" code valid)."""
    try:
        return _keys().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError) as error:
        raise SecretUnreadable("no key of RELAIS_SECRET_KEYS reads this secret") from error


def rotate(token: str) -> str:
    """``token`` encrypted again under the first key (unchanged when no key reads it)."""
    if not token:
        return ""
    try:
        return _keys().rotate(token.encode()).decode()
    except (InvalidToken, ValueError):
        return token


def mask(text: str) -> str:
    """"••••1234": never more than the last four characters, and nothing of a short secret."""
    if not text:
        return ""
    return "••••" + (text[-4:] if len(text) >= 12 else "")
