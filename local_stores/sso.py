"""Single sign-on by OpenID Connect, one provider per network (docs/sso.md).

``SsoConfig`` holds the provider; ``SsoRoleMapping`` turns values of its groups claim into roles
on nodes; ``SsoGrant`` remembers which roles single sign-on granted, so that it revokes only
those (roles granted by hand are never touched). ``sso_roles_sync`` runs at every SSO login.
"""

from __future__ import annotations

import requests
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from local_stores import secrets
from local_stores.audit import network_event_record
from local_stores.models import Network, NetworkEvent, Node, RoleGroup, SsoConfig, SsoGrant, SsoRoleMapping
from local_stores.people import ROLE_NODE_KIND
from local_stores.services import role_grant, role_revoke

User = get_user_model()

PROVIDER_PREFIX = "net-"
#: The fields of the configuration whose changes the audit trail names (never the secret's value).
CONFIG_FIELDS = ("enabled", "issuer_url", "client_id", "scopes", "groups_claim", "email_domains", "create_people")


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


def sso_config_save(*, network: Network, saved_by, data: dict, client_secret: str = "", ip: str | None = None) -> SsoConfig:
    """Create or update the network's configuration; a blank ``client_secret`` keeps the stored one.
    The audit trail names the fields changed (and "client_secret" when replaced), no value of it."""
    config = SsoConfig.objects.filter(network=network).first() or SsoConfig(network=network)
    before = {field: getattr(config, field) for field in CONFIG_FIELDS}  # a new one: its defaults
    for field in CONFIG_FIELDS:
        if field in data:
            setattr(config, field, data[field])
    config.email_domains = sorted({item.strip().lower().lstrip("@") for item in config.email_domains or [] if item.strip()})
    _domains_check(config)
    changed = [field for field in CONFIG_FIELDS if before.get(field) != getattr(config, field)]
    if client_secret:
        config.client_secret_encrypted = secrets.encrypt(client_secret)
        config.client_secret_set_at = timezone.now()
        config.client_secret_set_by = saved_by
        changed.append("client_secret")
    config.updated_by = saved_by
    config.save()
    if changed:
        network_event_record(network=network, action=NetworkEvent.Action.SSO_CONFIGURED, actor=saved_by, ip=ip,
                             details={"fields": changed})
    return config


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
    try:
        response = requests.get(url, timeout=timeout)
        response.raise_for_status()
        data = response.json()
    except (requests.RequestException, ValueError) as error:
        return {"ok": False, "url": url, "error": str(error)[:300]}
    keys = ("issuer", "authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri")
    return {"ok": True, "url": url, **{key: str(data.get(key, "")) for key in keys}}
