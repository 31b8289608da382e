"""Writes to the network: networks, nodes and roles."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from guardian.shortcuts import assign_perm

from local_stores.audit import network_event_record
from local_stores.models import (
    ROLE_PERMISSIONS,
    Network,
    NetworkEvent,
    Node,
    NodeKind,
    Role,
    RoleAssignmentEvent,
    RoleGroup,
)
from local_stores.selectors import clear_scope_cache, node_in_scope

User = get_user_model()

class StateConflict(PermissionDenied):
    """The object is no longer in the state the action needs: another request came first (an edit
    voided a proof, someone else decided or revoked it). Not about the person but about the moment:
    pages show the message, the API answers 409 with it. A PermissionDenied, as these refusals always
    were, so that a caller that does not know it still answers with the reason."""


_ALLOWED_PARENT = {NodeKind.REGION: NodeKind.HEAD_OFFICE, NodeKind.BRANCH: NodeKind.REGION}


@transaction.atomic
def network_create(*, name: str, slug: str, head_office_name: str, head_office_code: str = "HQ") -> Network:
    """Create a network with its head office (the root of its tree)."""
    network = Network.objects.create(name=name, slug=slug)
    head_office = Node(
        network=network, kind=NodeKind.HEAD_OFFICE, code=head_office_code, name=head_office_name
    )
    head_office.path = f"/{network.public_id}/{head_office.public_id}/"
    head_office.full_clean(exclude=["path"])
    head_office.save()
    return network


def node_create(*, parent: Node, kind: str, code: str, name: str, **fields: object) -> Node:
    """Add a region under the head office, or a branch under a region. Raises ValidationError
    for a misplaced node or a code already used in the network."""
    if _ALLOWED_PARENT.get(kind) != parent.kind:
        raise ValidationError(
            _("A %(kind)s cannot be placed under a %(parent)s.")
            % {"kind": NodeKind(kind).label, "parent": NodeKind(parent.kind).label}
        )
    node = Node(network=parent.network, parent=parent, kind=kind, code=code, name=name, **fields)
    node.path = f"{parent.path}{node.public_id}/"
    node.full_clean(exclude=["path"])
    node.save()
    return node


def _role_group(*, node: Node, role: str) -> RoleGroup:
    existing = RoleGroup.objects.filter(node=node, role=role).select_related("group").first()
    if existing:
        return existing
    group = Group.objects.create(name=f"{node.network.slug}:{node.code}:{role}")
    for codename in ROLE_PERMISSIONS[role]:
        assign_perm(f"local_stores.{codename}", group, node)
    return RoleGroup.objects.create(node=node, role=role, group=group)


@transaction.atomic
def role_grant(*, user: User, node: Node, role: str, granted_by: User | None = None) -> RoleGroup:
    """Give ``user`` the ``role`` on ``node`` and its subtree. Idempotent."""
    if role not in Role.values:
        raise ValidationError(_("Unknown role: %(role)s") % {"role": role})
    if role == Role.HEAD_OFFICE_MARKETER and node.kind != NodeKind.HEAD_OFFICE:
        raise ValidationError(_("The head-office marketer role is granted on the head office."))
    if role == Role.REGIONAL_MANAGER and node.kind != NodeKind.REGION:
        raise ValidationError(_("The regional manager role is granted on a region."))
    if role == Role.BRANCH_MANAGER and node.kind != NodeKind.BRANCH:
        raise ValidationError(_("The branch manager role is granted on a branch."))
    role_group = _role_group(node=node, role=role)
    if not role_group.group.user_set.filter(pk=user.pk).exists():
        role_group.group.user_set.add(user)
        RoleAssignmentEvent.objects.create(
            user=user, node=node, role=role, action=RoleAssignmentEvent.Action.GRANTED, by=granted_by
        )
        network_event_record(
            network=node.network, action=NetworkEvent.Action.ROLE_GRANTED, actor=granted_by, node=node,
            subject_user=user, details={"role": role},
        )
    clear_scope_cache(user)
    return role_group


@transaction.atomic
def role_revoke(*, user: User, node: Node, role: str, revoked_by: User | None = None) -> None:
    """Take ``role`` on ``node`` away from ``user``. Idempotent."""
    role_group = RoleGroup.objects.filter(node=node, role=role).select_related("group").first()
    if role_group and role_group.group.user_set.filter(pk=user.pk).exists():
        role_group.group.user_set.remove(user)
        RoleAssignmentEvent.objects.create(
            user=user, node=node, role=role, action=RoleAssignmentEvent.Action.REVOKED, by=revoked_by
        )
        network_event_record(
            network=node.network, action=NetworkEvent.Action.ROLE_REVOKED, actor=revoked_by, node=node,
            subject_user=user, details={"role": role},
        )
    clear_scope_cache(user)


#: What a branch's own manager may edit: the details their messages show.
BRANCH_CONTACT_FIELDS = (
    "phone",
    "email",
    "opening_hours",
    "manager_signature",
    "website_url",
    "facebook_url",
    "instagram_url",
    "logo",
)
#: What the head office (manage_network) may edit on top of that.
NODE_IDENTITY_FIELDS = (
    "name",
    "branch_type",
    "address_line1",
    "address_line2",
    "postal_code",
    "city",
)


def node_editable_fields(*, node: Node, user: User) -> tuple[str, ...]:
    """The fields of ``node`` that ``user`` may change (empty when none)."""

    if node_in_scope(user, node, perm="manage_network"):
        return NODE_IDENTITY_FIELDS + BRANCH_CONTACT_FIELDS
    if node_in_scope(user, node, perm="change_node"):
        return BRANCH_CONTACT_FIELDS
    return ()


@transaction.atomic
def node_update(*, node: Node, edited_by: User, data: dict[str, object]) -> Node:
    """Change the given fields of ``node``. Every field must be one ``edited_by`` may edit;
    a field outside their rights raises PermissionDenied (it is never silently dropped)."""

    allowed = set(node_editable_fields(node=node, user=edited_by))
    refused = set(data) - allowed
    if not allowed or refused:
        raise PermissionDenied(
            _("You may not change: %(fields)s") % {"fields": ", ".join(sorted(refused)) or "—"}
        )
    for name, value in data.items():
        setattr(node, name, value)
    node.full_clean(exclude=["path"])
    node.save(update_fields=list(data))
    return node
