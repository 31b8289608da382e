"""django-allauth's adapters for Relais: nobody signs up (people are invited), TOTP secrets are
encrypted at rest with the network secrets' keys, and the last second factor of someone who must
have one cannot be removed (docs/people-and-roles.md, "Two-factor login")."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from django.utils.translation import gettext_lazy as _

from local_stores import secrets
from local_stores.mfa_policy import mfa_required


class AccountAdapter(DefaultAccountAdapter):
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "username_password_mismatch": _("Please enter a correct username and password."),
        "email_password_mismatch": _("Please enter a correct e-mail address and password."),
    }

    def is_open_for_signup(self, request) -> bool:
        return False


class MFAAdapter(DefaultMFAAdapter):
    def encrypt(self, text: str) -> str:
        return secrets.encrypt(text)

    def decrypt(self, encrypted_text: str) -> str:
        # fails closed: a secret no key reads must not become "" (whose codes anyone computes)
        return secrets.decrypt_or_raise(encrypted_text)

    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        if authenticator.type == Authenticator.Type.TOTP:
            return not mfa_required(authenticator.user)
        return True
