"""django-allauth's adapters for Relais: nobody signs up (people are invited), TOTP secrets are
encrypted at rest with the network secrets' keys, and the last second factor of someone who must
have one cannot be removed (docs/people-and-roles.md, "Two-factor login")."""

from __future__ import annotations

import base64
import json

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from allauth.mfa.stages import AuthenticateStage
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
from local_stores.outbound import guarded_session
from local_stores.sso import (
    enabled_sso_configs,
    password_login_refused,
    provider_mfa_methods,
    sso_config_for_provider,
    sso_roles_sync,
    sso_session_record,
)

#: What the login page says to a person whose network logs in by single sign-on only.
SSO_ONLY_MESSAGE = _("Your network signs in with its company account: log in with it.")
#: Where a single sign-on's state keeps, for the rest of the login, what Relais needs after it.
STATE_ID_TOKEN = "relais_id_token"  # noqa: S105 (a key, not a secret)
STATE_MFA = "relais_provider_mfa"


class AccountAdapter(DefaultAccountAdapter):
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "username_password_mismatch": _("Please enter a correct username and password."),
        "email_password_mismatch": _("Please enter a correct e-mail address and password."),
    }

    def is_open_for_signup(self, request) -> bool:
        return False

    def get_login_stages(self) -> list[str]:
        """allauth's stages, its second-factor one replaced by ``ProviderMfaAuthenticateStage``."""
        stages = super().get_login_stages()
        return [f"{__name__}.ProviderMfaAuthenticateStage" if path == "allauth.mfa.stages.AuthenticateStage" else path
                for path in stages]

    def pre_login(self, request, user, **kwargs):
        """A network that logs in by single sign-on only refuses its people's password (after the
        password was checked: nothing is said about an account to whoever does not know it)."""
        sociallogin = (kwargs.get("signal_kwargs") or {}).get("sociallogin")
        if sociallogin is None and user is not None and password_login_refused(user) is not None:
            messages.error(request, SSO_ONLY_MESSAGE)
            return redirect("account_login")
        return super().pre_login(request, user, **kwargs)

    def post_login(self, request, user, **kwargs):
        """A login by single sign-on is remembered in the session (the id_token for the provider's
        logout, the provider's second factor when the network trusts it) before the login's signal."""
        sociallogin = (kwargs.get("signal_kwargs") or {}).get("sociallogin")
        if sociallogin is not None:
            sso_session_record(request.session, provider_id=sociallogin.account.provider,
                               id_token=sociallogin.state.get(STATE_ID_TOKEN) or "",
                               mfa_methods=sociallogin.state.get(STATE_MFA) or [])
        return super().post_login(request, user, **kwargs)


class ProviderMfaAuthenticateStage(AuthenticateStage):
    """allauth's second-factor stage, skipped after a single sign-on whose id_token says the person
    passed a second factor at the provider, when their network trusts it (docs/sso.md)."""

    def _should_handle(self, request) -> bool:
        sociallogin = (self.login.signal_kwargs or {}).get("sociallogin")
        if sociallogin is not None and sociallogin.state.get(STATE_MFA):
            return False
        return super()._should_handle(request)


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

    def get_requests_session(self):
        """allauth's HTTP session to the provider, keeping the raw id_token of the token endpoint's
        answer on the request (allauth keeps only its decoded claims; the provider's logout wants it).
        Its calls (discovery, token, userinfo, keys) reach public servers only in production, and no
        redirect is followed (local_stores/outbound.py)."""
        session = guarded_session(super().get_requests_session())
        session.hooks["response"].append(_keep_raw_id_token)
        return session

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
        id_token_claims = (sociallogin.account.extra_data or {}).get("id_token") or {}
        sociallogin.state[STATE_MFA] = provider_mfa_methods(config, id_token_claims)
        sociallogin.state[STATE_ID_TOKEN] = _raw_id_token(request, id_token_claims)

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


def _keep_raw_id_token(response, *args, **kwargs):
    request = context.request
    if request is None or response.request.method != "POST" or "json" not in response.headers.get("content-type", ""):
        return
    try:
        raw = response.json().get("id_token")
    except (ValueError, AttributeError):
        return
    if isinstance(raw, str):
        request._relais_raw_id_token = raw


def _raw_id_token(request, claims: dict) -> str:
    """The raw id_token kept by ``_keep_raw_id_token``, if it is the one whose checked claims allauth
    read (its payload decodes to the same claims), else ""."""
    raw = getattr(request, "_relais_raw_id_token", "")
    if not raw or not claims:
        return ""
    try:
        payload = raw.split(".")[1]
        decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return ""
    return raw if decoded == claims else ""
