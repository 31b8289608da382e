"""Reads of the single sign-on page: whose set-up the user manages."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from local_stores.models import Network, NodeKind, SsoRoleMapping
from local_stores.selectors import nodes_in_scope


def sso_networks_for(user) -> QuerySet[Network]:
    """The networks whose single sign-on ``user`` sets up (manage_people on the head office)."""
    heads = nodes_in_scope(user, perm="manage_people").filter(kind=NodeKind.HEAD_OFFICE)
    return Network.objects.filter(pk__in=heads.values("network_id")).order_by("name")


def sso_network_for(user, slug: str | None = None) -> Network:
    """The network (``slug``, else the first) whose head office ``user`` manages people of; 404
    for anyone else and for another network."""
    if slug and "\x00" in slug:  # no network's slug holds a NUL (PostgreSQL refuses it in a query)
        raise Http404
    networks = sso_networks_for(user)
    network = networks.filter(slug=slug).first() if slug else networks.first()
    if network is None:
        raise Http404
    return network


def sso_mappings_of(network: Network) -> QuerySet[SsoRoleMapping]:
    """The role mappings of ``network`` (fetched through ``sso_network_for``: its head office's)."""
    return SsoRoleMapping.objects.filter(network=network).select_related("node")
