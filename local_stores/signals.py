"""Logins and second-factor changes go into the network's audit trail (docs/people-and-roles.md).

allauth's own signals: a login through the login page (password, then the code when asked) — not
Django's ``user_logged_in``, which every programmatic login sends too; an authenticator app added
or removed; recovery codes regenerated. A person who belongs to no network (the platform's
superuser) leaves no event."""

from __future__ import annotations

from allauth.account.signals import user_logged_in
from allauth.mfa.signals import authenticator_added, authenticator_removed, authenticator_reset
from django.dispatch import receiver

from local_stores.audit import network_event_record
from local_stores.models import NetworkEvent
from local_stores.selectors import person_network


def _record(*, user, request, action: str, details: dict) -> None:
    network = person_network(user)
    if network is None:
        return
    ip = request.META.get("REMOTE_ADDR") if request is not None else None
    network_event_record(network=network, action=action, actor=user, subject_user=user, details=details, ip=ip)


@receiver(user_logged_in, dispatch_uid="relais_audit_logged_in")
def _logged_in(sender, request, user, **kwargs) -> None:
    sociallogin = kwargs.get("sociallogin")  # single sign-on: which network's provider (docs/sso.md)
    details = {"method": "sso", "provider": sociallogin.account.provider} if sociallogin is not None else {}
    if sociallogin is not None and sociallogin.state.get("relais_provider_mfa"):  # trusted: local_stores/sso.py
        details["second_factor"] = {"by": "provider", "amr": sociallogin.state["relais_provider_mfa"]}
    _record(user=user, request=request, action=NetworkEvent.Action.LOGGED_IN, details=details)


@receiver(authenticator_added, dispatch_uid="relais_audit_mfa_enabled")
def _authenticator_added(sender, request, user, authenticator, **kwargs) -> None:
    _record(user=user, request=request, action=NetworkEvent.Action.MFA_ENABLED, details={"type": authenticator.type})


@receiver(authenticator_removed, dispatch_uid="relais_audit_mfa_disabled")
def _authenticator_removed(sender, request, user, authenticator, **kwargs) -> None:
    _record(user=user, request=request, action=NetworkEvent.Action.MFA_DISABLED, details={"type": authenticator.type})


@receiver(authenticator_reset, dispatch_uid="relais_audit_recovery_codes")
def _authenticator_reset(sender, request, user, authenticator, **kwargs) -> None:
    _record(user=user, request=request, action=NetworkEvent.Action.RECOVERY_CODES_REGENERATED,
            details={"type": authenticator.type})
