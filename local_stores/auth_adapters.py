"""django-allauth's adapters for Relais: nobody signs up (people are invited), TOTP secrets are
encrypted at rest with the network secrets' keys, and the last second factor of someone who must
have one cannot be removed (docs/people-and-roles.md, "Two-factor login")."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.base import AuthProcess
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _

from local_stores import secrets
from local_stores.mfa_policy import mfa_required
from local_stores.models import Membership, RoleGroup
from local_stores.sso import enabled_sso_configs, sso_config_for_provider, sso_roles_sync


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


def _social_app(config) -> SocialApp:
    """An unsaved allauth app built from the network's configuration (no secret in allauth's tables)."""
    return SocialApp(
        provider="openid_connect", provider_id=config.provider_id, name=config.network.name,
        client_id=config.client_id, secret=secrets.decrypt(config.client_secret_encrypted),
        settings={"server_url": config.issuer_url, "oauth_pkce_enabled": True, "scope": config.scopes.split()},
    )


def _refuse(request, message):
    messages.error(request, message)
    raise ImmediateHttpResponse(redirect("account_login"))


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """Single sign-on by OpenID Connect, one provider per network (local_stores/sso.py, docs/sso.md)."""

    def list_apps(self, request, provider=None, client_id=None) -> list[SocialApp]:
        apps = [_social_app(config) for config in enabled_sso_configs()]
        if provider:
            apps = [app for app in apps if provider in (app.provider, app.provider_id)]
        if client_id:
            apps = [app for app in apps if app.client_id == client_id]
        return apps

    def is_open_for_signup(self, request, sociallogin) -> bool:
        config = sso_config_for_provider(sociallogin.account.provider)
        return bool(config and config.create_people)

    def pre_social_login(self, request, sociallogin) -> None:
        config = sso_config_for_provider(sociallogin.account.provider)
        if config is None or sociallogin.state.get("process") != AuthProcess.LOGIN:
            _refuse(request, _("Single sign-on is not available for this company account."))
        claims = _claims(sociallogin)
        network = config.network
        user = sociallogin.user if sociallogin.is_existing else self._person_for(request, config, claims)
        if not _of_network(user, network):
            _refuse(request, _("This company account belongs to another network: log in with your password."))
        Membership.objects.get_or_create(user=user, defaults={"network": network, "source": Membership.Source.SSO})
        if not sociallogin.is_existing:
            sociallogin.user = user
            sociallogin.save(request, connect=True)
        if user.is_active:
            sso_roles_sync(user, network, claims)

    def _person_for(self, request, config, claims: dict):
        """The person of the network with the claims' verified address; created when the set-up
        says so and the address is of the network's domains."""
        email = str(claims.get("email") or "").strip().lower()
        domain = email.rpartition("@")[2]
        if not email or not (claims.get("email_verified") is True or domain in (config.email_domains or [])):
            _refuse(request, _("Your company account gave no verified e-mail address."))
        matches = list(get_user_model().objects.filter(Q(email__iexact=email) | Q(username__iexact=email)))
        if matches:
            return next((user for user in matches if _of_network(user, config.network)), matches[0])
        if not config.create_people or domain not in (config.email_domains or []):
            _refuse(request, _("You have no account in Relais yet: ask your head office for an invitation."))
        user = get_user_model()(username=email, email=email, first_name=str(claims.get("given_name") or "")[:150],
                                last_name=str(claims.get("family_name") or "")[:150])
        user.set_unusable_password()
        user.save()
        Membership.objects.create(user=user, network=config.network, source=Membership.Source.SSO)
        return user


def _of_network(user, network) -> bool:
    """Whether ``user`` is a person of ``network`` (their membership, else roles there and nowhere
    else). The platform's staff and people of no network are never reached by a network's provider."""
    if user.is_superuser or user.is_staff:
        return False
    membership = Membership.objects.filter(user=user).first()
    if membership is not None:
        return membership.network_id == network.pk
    roles = RoleGroup.objects.filter(group__user=user)
    return roles.filter(node__network=network).exists() and not roles.exclude(node__network=network).exists()


def _claims(sociallogin) -> dict:
    """The provider's claims: userinfo, else the id_token's."""
    data = sociallogin.account.extra_data or {}
    return data.get("userinfo") or data.get("id_token") or data
