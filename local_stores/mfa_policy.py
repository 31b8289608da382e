"""Who must log in with a second factor: a person holding, on a node of their network, one of the
roles that network lists in ``Network.mfa_required_roles`` (docs/people-and-roles.md, "Two-factor login")."""

from __future__ import annotations

from allauth.mfa.models import Authenticator
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from local_stores.models import RoleGroup
from local_stores.sso import session_provider_mfa


def mfa_required(user: AbstractBaseUser | AnonymousUser) -> bool:
    """True when ``user`` holds a role its network requires a second factor for."""
    if not user.is_authenticated:
        return False
    held = RoleGroup.objects.filter(group__user=user).values_list("role", "node__network__mfa_required_roles")
    return any(role in (required or []) for role, required in held)


def has_second_factor(user: AbstractBaseUser) -> bool:
    """True when ``user`` has activated an authenticator app (TOTP)."""
    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def second_factor_satisfied(user: AbstractBaseUser, session=None) -> bool:
    """True when ``user`` has an authenticator app, or when this ``session`` was opened by a single
    sign-on whose provider's second factor their network trusts (that session only: docs/sso.md)."""
    return session_provider_mfa(session) or has_second_factor(user)
