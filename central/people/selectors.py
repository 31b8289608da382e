"""Reads of the network's people, always on behalf of the acting user (built on
``local_stores.people.memberships_in_scope``, itself built on ``nodes_in_scope``)."""

from __future__ import annotations

from django.db.models import F, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from central.networks.selectors import network_events_visible_to
from local_stores.models import Invitation, Membership, NetworkEvent, Node, Role, RoleGroup
from local_stores.people import invitations_in_scope, memberships_in_scope
from local_stores.selectors import nodes_in_scope

STATES = ("active", "deactivated", "invited", "expired")


def people_visible_to(user) -> QuerySet[Membership]:
    """The people ``user`` manages (see ``memberships_in_scope``)."""
    return memberships_in_scope(user).select_related("user", "network", "deactivated_by")


def person_list(*, fetched_by, search: str = "", role: str = "", node: str = "", state: str = "") -> QuerySet[Membership]:
    people = people_visible_to(fetched_by)
    if search:
        people = people.filter(
            Q(user__first_name__icontains=search) | Q(user__last_name__icontains=search)
            | Q(user__email__icontains=search) | Q(user__username__icontains=search)
        )
    if role:
        people = people.filter(user__groups__relais_role__role=role)
    if node:
        people = people.filter(user__groups__relais_role__node__public_id=node)
    if state in (Membership.Status.ACTIVE, Membership.Status.DEACTIVATED):
        people = people.filter(status=state)
    elif state:
        people = people.none()
    return people.distinct().order_by("user__last_name", "user__first_name", "user__username")


def person_get(*, fetched_by, public_id: str) -> Membership:
    """One person ``fetched_by`` manages; Http404 for another network's, outside the scope, missing."""
    return get_object_or_404(people_visible_to(fetched_by), public_id=public_id)


def roles_held(membership: Membership) -> list[RoleGroup]:
    """The person's roles, each with its node (the person's own data, already scoped by the fetch)."""
    return list(
        RoleGroup.objects.filter(group__user=membership.user).select_related("node").order_by("node__path", "role")
    )


def roles_held_by(memberships) -> dict[int, list[RoleGroup]]:
    """Each listed person's roles in one query: {user id: [role, ...]} (the people were fetched
    through the scope already; a person with no role has no key)."""
    user_ids = [membership.user_id for membership in memberships]
    held: dict[int, list[RoleGroup]] = {}
    groups = (
        RoleGroup.objects.filter(group__user__in=user_ids).annotate(holder_id=F("group__user"))
        .select_related("node").order_by("node__path", "role")
    )
    for group in groups:
        held.setdefault(group.holder_id, []).append(group)
    return held


def role_since(membership: Membership) -> dict[tuple[int, str], object]:
    """When each (node, role) was last granted, and by whom, from the network's audit trail."""
    since: dict[tuple[int, str], object] = {}
    events = NetworkEvent.objects.filter(
        subject_user=membership.user, action=NetworkEvent.Action.ROLE_GRANTED, network=membership.network
    ).select_related("actor").order_by("at")
    for event in events:
        since[(event.node_id, event.details.get("role", ""))] = event
    return since


def person_events(membership: Membership, *, viewer) -> QuerySet[NetworkEvent]:
    """The person's history as ``viewer`` may read the network's audit trail (a regional manager:
    the events of their region only)."""
    return network_events_visible_to(viewer).filter(network=membership.network).filter(
        Q(subject_user=membership.user) | Q(actor=membership.user)
    ).select_related("actor", "subject_user", "node")


def invitations_visible_to(user) -> QuerySet[Invitation]:
    return invitations_in_scope(user).select_related("node", "invited_by", "network")


def invitation_list(*, fetched_by, search: str = "", role: str = "", node: str = "", state: str = "") -> QuerySet[Invitation]:
    """Pending and expired invitations (accepted ones are people, revoked ones are gone)."""
    now = timezone.now()
    rows = invitations_visible_to(fetched_by).filter(used_at__isnull=True, revoked_at__isnull=True)
    if search:
        rows = rows.filter(Q(email__icontains=search) | Q(first_name__icontains=search) | Q(last_name__icontains=search))
    if role:
        rows = rows.filter(role=role)
    if node:
        rows = rows.filter(node__public_id=node)
    if state == "invited":
        rows = rows.filter(expires_at__gt=now)
    elif state == "expired":
        rows = rows.filter(expires_at__lte=now)
    elif state:
        rows = rows.none()
    return rows.order_by("-created_at")


def invitation_get(*, fetched_by, public_id: str) -> Invitation:
    return get_object_or_404(invitations_visible_to(fetched_by), public_id=public_id)


def manageable_nodes(user) -> QuerySet[Node]:
    """Nodes where ``user`` may grant or invite (for the forms' choices)."""
    return nodes_in_scope(user, perm="manage_people").select_related("network").order_by("path")


def grantable_roles(user, nodes: QuerySet[Node]) -> list[tuple[str, str]]:
    """Roles ``user`` may grant somewhere: all for a head office, the network's regional list otherwise."""
    from_head_office = nodes.filter(kind="head_office").exists()
    if from_head_office:
        return list(Role.choices)
    allowed: set[str] = set()
    for network in {node.network for node in nodes}:
        allowed.update(network.regional_grantable_roles or [])
    return [(value, label) for value, label in Role.choices if value in allowed]


__all__ = [
    "grantable_roles", "invitation_get", "invitation_list", "invitations_visible_to", "manageable_nodes",
    "people_visible_to", "person_events", "person_get", "person_list", "role_since", "roles_held", "roles_held_by",
]
