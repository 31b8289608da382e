"""Reads of the network, always on behalf of a user.

This module holds THE scoping rule of Relais: a role granted on a node covers the node's subtree.
Every tenant-owned read in every app starts from ``nodes_in_scope`` (or a selector built on it),
so that a page, an API answer, a count, an export or a background job sees exactly the same rows.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from guardian.shortcuts import get_objects_for_user

from local_stores.models import Membership, Network, Node, NodeKind, Role, RoleGroup

UserLike = AbstractBaseUser | AnonymousUser

_CACHE_ATTRIBUTE = "_relais_scope_paths"


def _minimal_prefixes(paths: list[str]) -> list[str]:
    """Drop every path that lies inside another one of the list (a grant on the region makes a
    grant on one of its branches redundant)."""
    kept: list[str] = []
    for path in sorted(paths, key=len):
        if not any(path.startswith(prefix) for prefix in kept):
            kept.append(path)
    return kept


def scope_paths(user: UserLike, *, perm: str = "view_node") -> list[str]:
    """The subtree roots (as paths) where ``user`` holds ``perm``. Cached on the user object,
    which lives for one request or one task; ``role_grant``/``role_revoke`` clear it."""
    if user is None or not user.is_authenticated or not user.is_active:
        return []
    cache: dict[str, list[str]] = user.__dict__.setdefault(_CACHE_ATTRIBUTE, {})
    if perm not in cache:
        granted = get_objects_for_user(
            user, f"local_stores.{perm}", klass=Node, accept_global_perms=False, with_superuser=True
        )
        cache[perm] = _minimal_prefixes(list(granted.values_list("path", flat=True)))
    return cache[perm]


def clear_scope_cache(user: UserLike) -> None:
    user.__dict__.pop(_CACHE_ATTRIBUTE, None)


def nodes_in_scope(user: UserLike, *, perm: str = "view_node") -> QuerySet[Node]:
    """Every node lying in a subtree where ``user`` holds ``perm``. Empty for anyone else."""
    paths = scope_paths(user, perm=perm)
    if not paths:
        return Node.objects.none()
    condition = Q()
    for path in paths:
        condition |= Q(path__startswith=path)
    return Node.objects.filter(condition)


def node_in_scope(user: UserLike, node: Node, *, perm: str = "view_node") -> bool:
    """Whether ``node`` lies in a subtree where ``user`` holds ``perm`` (no query once cached)."""
    return any(node.path.startswith(path) for path in scope_paths(user, perm=perm))


def nodes_visible_to(user: UserLike) -> QuerySet[Node]:
    """The scoping selector for network nodes (head office, regions, branches)."""
    return nodes_in_scope(user, perm="view_node").select_related("network", "parent")


def branches_visible_to(user: UserLike) -> QuerySet[Node]:
    """The scoping selector for branches."""
    return nodes_visible_to(user).filter(kind=NodeKind.BRANCH)


def networks_visible_to(user: UserLike) -> QuerySet[Network]:
    """Networks in which ``user`` holds at least one role."""
    return Network.objects.filter(nodes__in=nodes_in_scope(user, perm="view_node")).distinct()


def branch_list(
    *, fetched_by: UserLike, search: str = "", region: str = "", network: str = ""
) -> QuerySet[Node]:
    """Branches visible to ``fetched_by``, filtered by free text, region public id or network slug."""
    branches = branches_visible_to(fetched_by)
    if search:
        branches = branches.filter(
            Q(name__icontains=search) | Q(code__icontains=search) | Q(city__icontains=search)
        )
    if region:
        branches = branches.filter(parent__public_id=region)
    if network:
        branches = branches.filter(network__slug=network)
    return branches.order_by("network__name", "name")


def branch_get(*, fetched_by: UserLike, public_id: str) -> Node:
    """One branch visible to ``fetched_by``; raises Http404 for a foreign one and a missing one alike."""
    return get_object_or_404(branches_visible_to(fetched_by), public_id=public_id)


def regions_visible_to(user: UserLike) -> QuerySet[Node]:
    return nodes_visible_to(user).filter(kind=NodeKind.REGION)


def roles_of(user: UserLike) -> list[tuple[str, Node]]:
    """(role, node) pairs held by ``user``, head office first."""
    if not user.is_authenticated:
        return []
    groups = (
        RoleGroup.objects.filter(group__user=user)
        .select_related("node", "node__network")
        .order_by("node__path", "role")
    )
    return [(role_group.role, role_group.node) for role_group in groups]


def role_set_of(user: UserLike) -> set[str]:
    return {role for role, _node in roles_of(user)}


def person_network(user) -> Network | None:
    """The network ``user`` belongs to: their membership's, else (a person from before memberships)
    the network of a role they hold; None for a person of no network."""
    membership = Membership.objects.filter(user=user).select_related("network").first()
    if membership is not None:
        return membership.network
    role_group = RoleGroup.objects.filter(group__user=user).select_related("node__network").first()
    return role_group.node.network if role_group is not None else None


def people_holding(*, role: str, nodes) -> QuerySet:
    """Active users holding ``role`` directly on one of ``nodes`` (e.g. a branch's managers, to
    e-mail them). Not a scoping selector: callers are tasks and services, never a user's request."""
    from django.contrib.auth import get_user_model

    return (
        get_user_model().objects.filter(
            is_active=True, groups__relais_role__role=role, groups__relais_role__node__in=nodes
        )
        .exclude(email="")
        .distinct()
    )


__all__ = [
    "Role",
    "branch_get",
    "branch_list",
    "branches_visible_to",
    "networks_visible_to",
    "node_in_scope",
    "nodes_in_scope",
    "nodes_visible_to",
    "people_holding",
    "regions_visible_to",
    "roles_of",
]


def head_office_of(network: Network) -> Node:
    """The network's head office (one per network: a database constraint)."""
    return Node.objects.get(network=network, kind=NodeKind.HEAD_OFFICE)
