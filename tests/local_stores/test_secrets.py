"""Secrets at rest (local_stores.secrets): MultiFernet over RELAIS_SECRET_KEYS and the key derived
from SECRET_KEY, so the printer's tokens written before the setting still read; rotation by
putting a new key first; a mask that never shows more than four characters."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.fernet import Fernet

from local_stores import secrets
from local_stores.auth_adapters import MFAAdapter
from local_stores.secrets import SecretUnreadable


def test_a_token_of_the_printers_old_key_still_reads(settings):
    legacy = Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"relais printer secrets\0" + settings.SECRET_KEY.encode())
                                             .digest()))
    old_token = legacy.encrypt(b"sftp-password").decode()
    settings.RELAIS_SECRET_KEYS = [Fernet.generate_key().decode()]
    assert secrets.decrypt(old_token) == "sftp-password"
    assert "sftp-password" not in secrets.encrypt("sftp-password")


def test_rotation_puts_a_new_key_first_and_the_old_one_still_decrypts(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.RELAIS_SECRET_KEYS = [old]
    token = secrets.encrypt("api-key-1234")
    settings.RELAIS_SECRET_KEYS = [new, old]
    assert secrets.decrypt(token) == "api-key-1234"
    rotated = secrets.rotate(token)
    settings.RELAIS_SECRET_KEYS = [new]
    assert secrets.decrypt(rotated) == "api-key-1234"
    assert secrets.decrypt(token) == ""  # the old key gone: nothing reads it, nothing raises
    assert secrets.decrypt("not a token") == "" and secrets.encrypt("") == "" and secrets.decrypt("") == ""


def test_the_mask_shows_at_most_the_last_four_characters():
    assert secrets.mask("sk_live_abcdefgh1234") == "••••1234"
    assert secrets.mask("short") == "••••"
    assert secrets.mask("") == ""


def test_the_second_factor_secret_fails_closed_when_no_key_reads_it(settings):
    """A TOTP secret no key reads must not turn into "" (whose codes anyone can compute): the MFA
    adapter raises instead."""
    adapter = MFAAdapter()
    settings.RELAIS_SECRET_KEYS = [Fernet.generate_key().decode()]
    token = adapter.encrypt("JBSWY3DPEHPK3PXP")
    assert adapter.decrypt(token) == "JBSWY3DPEHPK3PXP"
    settings.RELAIS_SECRET_KEYS = [Fernet.generate_key().decode()]
    settings.SECRET_KEY = "another-secret-key-" + "x" * 40
    with pytest.raises(SecretUnreadable):
        adapter.decrypt(token)
