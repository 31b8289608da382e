"""Single sign-on by OpenID Connect, one provider per network (docs/sso.md).

``SsoConfig`` holds the provider; ``SsoRoleMapping`` turns values of its groups claim into roles
on nodes; ``SsoGrant`` remembers which roles single sign-on granted, so that it revokes only
those (roles granted by hand are never touched). ``sso_roles_sync`` runs at every SSO login.
"""

from __future__ import annotations

from importlib import import_module
from urllib.parse import urlencode

import requests
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from local_stores import secrets
from local_stores.audit import network_event_record
from local_stores.models import (
    Membership,
    Network,
    NetworkEvent,
    Node,
    RoleGroup,
    SsoConfig,
    SsoGrant,
    SsoRoleMapping,
)
from local_stores.outbound import guarded_session, outbound_url_problem
from local_stores.people import ROLE_NODE_KIND
from local_stores.selectors import person_network
from local_stores.services import role_grant, role_revoke

User = get_user_model()

PROVIDER_PREFIX = "net-"
#: The fields of the configuration whose changes the audit trail names (never the secret's value).
CONFIG_FIELDS = ("enabled", "issuer_url", "client_id", "scopes", "groups_claim", "email_domains", "create_people",
                 "password_login_allowed", "trust_provider_mfa")
#: RFC 8176's authentication methods that are a second factor (or stronger than a password alone).
MFA_AMR_VALUES = frozenset({"mfa", "otp", "hwk", "swk", "sms", "fpt", "face"})
#: What the session of a person logged in by single sign-on keeps (``sso_session_record``).
SESSION_KEY = "relais_sso"


def sso_config_for_provider(provider_id: str) -> SsoConfig | None:
    """The enabled configuration behind allauth's provider id ``net-<slug>``."""
    if not provider_id or not provider_id.startswith(PROVIDER_PREFIX):
        return None
    return (SsoConfig.objects.select_related("network")
            .filter(enabled=True, network__slug=provider_id[len(PROVIDER_PREFIX):]).first())


def enabled_sso_configs() -> list[SsoConfig]:
    return list(SsoConfig.objects.select_related("network").filter(enabled=True).order_by("network__slug"))


def sso_config_for_email(email: str) -> SsoConfig | None:
    """The enabled configuration whose e-mail domains contain ``email``'s domain."""
    domain = (email or "").rpartition("@")[2].strip().lower()
    if not domain:
        return None
    for config in enabled_sso_configs():
        if domain in [item.lower() for item in config.email_domains or []]:
            return config
    return None


def _claim_values(claims: dict, name: str) -> set[str]:
    value = claims.get(name) if name else None
    if isinstance(value, str):
        return {value}
    if isinstance(value, (list, tuple)):
        return {str(item) for item in value}
    return set()


@transaction.atomic
def sso_roles_sync(user, network: Network, claims: dict) -> dict[str, list]:
    """Grant the roles the claims map to, revoke the SSO grants no longer mapped; roles granted by
    hand stay. Returns ``{"granted": [...], "revoked": [...]}`` as (node code, role) pairs."""
    config = SsoConfig.objects.get(network=network)
    values = _claim_values(claims, config.groups_claim)
    wanted = {
        (mapping.node_id, mapping.role): mapping.node
        for mapping in SsoRoleMapping.objects.filter(network=network, claim_value__in=values,
                                                     node__closed_at__isnull=True).select_related("node")
    }
    owned = {(grant.node_id, grant.role): grant for grant in
             SsoGrant.objects.filter(user=user, node__network=network).select_related("node")}
    held = set(RoleGroup.objects.filter(group__user=user, node__network=network).values_list("node_id", "role"))
    granted, revoked = [], []
    for key, node in wanted.items():
        if key in held:  # held already: by single sign-on, or by hand (then it stays a hand grant)
            continue
        role_grant(user=user, node=node, role=key[1])
        SsoGrant.objects.get_or_create(user=user, node=node, role=key[1])
        granted.append([node.code, key[1]])
    for key, grant in owned.items():
        if key not in wanted:
            role_revoke(user=user, node=grant.node, role=grant.role)
            grant.delete()
            revoked.append([grant.node.code, grant.role])
    if granted or revoked:
        network_event_record(network=network, action=NetworkEvent.Action.SSO_ROLES_SYNCED, subject_user=user,
                             details={"granted": granted, "revoked": revoked})
    return {"granted": granted, "revoked": revoked}


@transaction.atomic
def sso_config_save(*, network: Network, saved_by, data: dict, client_secret: str = "", ip: str | None = None) -> SsoConfig:
    """Create or update the network's configuration; a blank ``client_secret`` keeps the stored one.
    The audit trail names the fields changed (and "client_secret" when replaced), no value of it."""
    Network.objects.select_for_update().filter(pk=network.pk).first()  # two first saves: one after the other
    config = SsoConfig.objects.filter(network=network).first() or SsoConfig(network=network)
    before = {field: getattr(config, field) for field in CONFIG_FIELDS}  # a new one: its defaults
    for field in CONFIG_FIELDS:
        if field in data:
            setattr(config, field, data[field])
    config.email_domains = sorted({item.strip().lower().lstrip("@") for item in config.email_domains or [] if item.strip()})
    _domains_check(config)
    if config.issuer_url and (problem := outbound_url_problem(config.issuer_url)):
        raise ValidationError({"issuer_url": [problem]})
    changed = [field for field in CONFIG_FIELDS if before.get(field) != getattr(config, field)]
    if client_secret:
        config.client_secret_encrypted = secrets.encrypt(client_secret)
        config.client_secret_set_at = timezone.now()
        config.client_secret_set_by = saved_by
        changed.append("client_secret")
    config.updated_by = saved_by
    config.save()
    details = {"fields": changed}
    refused_before = before.get("enabled") and not before.get("password_login_allowed", True)
    if config.enabled and not config.password_login_allowed and not refused_before:
        # single sign-on only from now on: the sessions opened with a password end at once
        details["password_sessions_ended"] = _members_sessions_end(network, lambda data: SESSION_KEY not in data)
    if before.get("trust_provider_mfa") and not config.trust_provider_mfa:
        # the provider's second factor no longer counts: the sessions it let in without ours end
        details["provider_mfa_sessions_ended"] = _members_sessions_end(network, session_provider_mfa)
    if changed:
        network_event_record(network=network, action=NetworkEvent.Action.SSO_CONFIGURED, actor=saved_by, ip=ip,
                             details=details)
    return config


def _members_sessions_end(network: Network, ending) -> int:
    """End the recorded sessions of the network's people (not the platform's superusers) whose stored
    data ``ending`` picks; how many were ended."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    ended = 0
    sessions = UserSession.objects.filter(
        user_id__in=Membership.objects.filter(network=network).values("user_id"), user__is_superuser=False)
    for session in sessions:
        if ending(store(session_key=session.session_key).load()):
            session.end()
            ended += 1
    return ended


def _domains_check(config: SsoConfig) -> None:
    taken = [domain for other in SsoConfig.objects.exclude(network=config.network)
             for domain in other.email_domains or [] if domain in config.email_domains]
    if taken:
        raise ValidationError({"email_domains": _("Another network already uses these domains: %(domains)s")
                               % {"domains": ", ".join(sorted(set(taken)))}})


def sso_mapping_add(*, network: Network, added_by, claim_value: str, node: Node, role: str,
                    ip: str | None = None) -> SsoRoleMapping:
    if node.network_id != network.pk:
        raise ValidationError({"node": _("Choose a node of this network.")})
    needed = ROLE_NODE_KIND.get(role)
    if needed is not None and node.kind != needed[0]:
        raise ValidationError({"role": needed[1]})
    mapping, created = SsoRoleMapping.objects.get_or_create(network=network, claim_value=claim_value.strip(),
                                                            node=node, role=role)
    if created:
        network_event_record(network=network, action=NetworkEvent.Action.SSO_CONFIGURED, actor=added_by, ip=ip,
                             node=node, details={"fields": ["role_mapping"], "mapping": "added", "role": role})
    return mapping


def sso_mapping_remove(*, mapping: SsoRoleMapping, removed_by, ip: str | None = None) -> None:
    network_event_record(network=mapping.network, action=NetworkEvent.Action.SSO_CONFIGURED, actor=removed_by,
                         ip=ip, node=mapping.node,
                         details={"fields": ["role_mapping"], "mapping": "removed", "role": mapping.role})
    mapping.delete()


def sso_discovery_check(issuer_url: str, timeout: float = 5.0) -> dict:
    """Fetch ``<issuer>/.well-known/openid-configuration``: ``{"ok": True, "issuer", endpoints…}``
    or ``{"ok": False, "error": …}`` (never raises)."""
    url = issuer_url.rstrip("/") + "/.well-known/openid-configuration"
    if problem := outbound_url_problem(issuer_url):
        return {"ok": False, "url": url, "error": problem}
    try:
        response = guarded_session().get(url, timeout=timeout, allow_redirects=False)
        response.raise_for_status()
        if response.is_redirect:
            raise ValueError(_("The provider answered with a redirection: give its issuer URL itself."))
        data = response.json()
        if not isinstance(data, dict):
            raise ValueError(_("The provider's discovery document is not an OpenID Connect one."))
    except (requests.RequestException, ValueError) as error:
        return {"ok": False, "url": url, "error": str(error)[:300]}
    keys = ("issuer", "authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
            "end_session_endpoint")
    found = {key: str(data.get(key, "")) for key in keys}
    for key in keys[1:]:  # the servers Relais will call at each login: public ones too
        if found[key] and (problem := outbound_url_problem(found[key])):
            return {"ok": False, "url": url, "error": f"{key}: {problem}"}
    return {"ok": True, "url": url, **found}


def password_login_refused(user) -> SsoConfig | None:
    """The enabled configuration that forbids ``user`` to log in with a password ("single sign-on
    only"), else None. The platform's superusers are never held (they are of no network's provider)."""
    if user is None or not getattr(user, "pk", None) or user.is_superuser:
        return None
    network = person_network(user)
    if network is None:
        return None
    return SsoConfig.objects.filter(network=network, enabled=True, password_login_allowed=False).first()


def password_reset_refused_for_email(email: str) -> bool:
    """Whether a password-reset request for ``email`` is refused by its domain (an address of a
    network that logs in by single sign-on only) — the same answer whether or not someone has it."""
    config = sso_config_for_email(email)
    if config is None or config.password_login_allowed:
        return False
    return not User.objects.filter(email__iexact=(email or "").strip(), is_superuser=True).exists()


def provider_mfa_methods(config: SsoConfig | None, id_token_claims: dict) -> list[str]:
    """The RFC 8176 methods of the id_token's ``amr`` that count as a second factor — only when the
    network trusts its provider's (else ``[]``)."""
    if config is None or not config.trust_provider_mfa:
        return []
    amr = (id_token_claims or {}).get("amr")
    values = [amr] if isinstance(amr, str) else amr if isinstance(amr, (list, tuple)) else []
    return sorted({str(item) for item in values} & MFA_AMR_VALUES)


def sso_session_record(session, *, provider_id: str, id_token: str, mfa_methods: list[str]) -> None:
    """Remember in the session that this login was by single sign-on: the raw id_token (the
    provider's logout wants it back as ``id_token_hint``) and the provider's second factor, if trusted."""
    session[SESSION_KEY] = {"provider": provider_id, "id_token": id_token or "", "mfa": list(mfa_methods)}


def session_provider_mfa(session) -> bool:
    """True when this session's single sign-on counted as the second factor (for this session only)."""
    data = session.get(SESSION_KEY) if session is not None else None
    return bool(isinstance(data, dict) and data.get("mfa"))


def provider_logout_url(session, post_logout_redirect_uri: str, timeout: float = 5.0) -> str | None:
    """The provider's RP-initiated logout URL (its discovery's ``end_session_endpoint``, with
    ``id_token_hint`` and ``post_logout_redirect_uri``) for a session logged in by single sign-on;
    None for any other session, or when the provider has no such endpoint or does not answer."""
    data = session.get(SESSION_KEY) if session is not None else None
    if not isinstance(data, dict):
        return None
    config = sso_config_for_provider(str(data.get("provider") or ""))
    if config is None:
        return None
    discovery = sso_discovery_check(config.issuer_url, timeout=timeout)
    endpoint = discovery.get("end_session_endpoint") if discovery["ok"] else ""
    if not endpoint or not endpoint.startswith(("https://", "http://")):
        return None
    params = {"post_logout_redirect_uri": post_logout_redirect_uri, "client_id": config.client_id}
    if data.get("id_token"):
        params["id_token_hint"] = data["id_token"]
    separator = "&" if "?" in endpoint else "?"
    return endpoint + separator + urlencode(params)
