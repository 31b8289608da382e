"""Writes to the network's tree: create, rename, move, close and reopen a node, each audited.

The checks that need other apps (a branch still owning customers, transfers or campaigns cannot be
closed) are the caller's: ``central.structure.services`` calls these once it has checked them.
Who may act is the caller's too (``manage_network`` on the node, through ``nodes_in_scope``).

Moving a branch rewrites the paths of its subtree in one UPDATE. Scopes are computed per request
from the paths (``local_stores.selectors.scope_paths``): the old region's people stop seeing the
branch at their next request, its own people keep their roles (role groups follow the node by FK).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Concat, Length, Substr
from django.utils import timezone
from django.utils.translation import gettext as _

from local_stores.audit import changed_fields, network_event_record
from local_stores.models import NetworkEvent, Node, NodeKind
from local_stores.selectors import clear_scope_cache
from local_stores.services import node_create

#: The fields of a node its structure's pages and API set besides its name (non-personal data of a
#: place: old and new values are written to the audit trail).
NODE_DETAIL_FIELDS = (
    "address_line1", "address_line2", "postal_code", "city", "country", "email", "phone", "opening_hours",
)


@transaction.atomic
def node_add(*, parent: Node, kind: str, code: str, name: str, created_by=None, **fields: object) -> Node:
    """``node_create`` (a region under the head office, a branch under a region) and its audit."""
    parent = Node.objects.select_for_update().get(pk=parent.pk)
    if not parent.is_active:
        raise ValidationError({"parent": [_("This node is closed: nothing can be added under it.")]})
    if fields.get("country"):
        fields["country"] = str(fields["country"]).strip().upper()
    node = node_create(parent=parent, kind=kind, code=code.strip(), name=name.strip(), **fields)
    network_event_record(
        network=node.network, action=NetworkEvent.Action.NODE_CREATED, actor=created_by, node=node,
        details={"kind": kind, "code": node.code, "name": node.name, "parent": parent.public_id},
    )
    return node


@transaction.atomic
def node_rename(*, node: Node, name: str, renamed_by=None) -> Node:
    """Give ``node`` a new name (audited with the old one). Nothing happens for the same name."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": [_("The name is required.")]})
    node = Node.objects.select_for_update().get(pk=node.pk)
    if name == node.name:
        return node
    old = node.name
    node.name = name
    node.full_clean(exclude=["path"])
    node.save(update_fields=["name"])
    network_event_record(
        network=node.network, action=NetworkEvent.Action.NODE_RENAMED, actor=renamed_by, node=node,
        details={"name": {"old": old, "new": name}},
    )
    return node


@transaction.atomic
def node_details_update(*, node: Node, data: dict[str, object], updated_by=None) -> Node:
    """Change the address and contact fields of ``node`` (``NODE_DETAIL_FIELDS``; ``name`` goes
    through ``node_rename``). Audited as a rename event with the changed fields' old/new values."""
    unknown = set(data) - set(NODE_DETAIL_FIELDS)
    if unknown:
        raise ValidationError(_("These fields cannot be set here: %(fields)s") % {"fields": ", ".join(sorted(unknown))})
    if data.get("country"):
        data = {**data, "country": str(data["country"]).strip().upper()}
    node = Node.objects.select_for_update().get(pk=node.pk)
    before = {name: getattr(node, name) for name in data}
    for name, value in data.items():
        setattr(node, name, value)
    node.full_clean(exclude=["path"])
    changes = changed_fields(before, data)
    if changes:
        node.save(update_fields=list(changes))
        network_event_record(
            network=node.network, action=NetworkEvent.Action.NODE_RENAMED, actor=updated_by, node=node,
            details=changes,
        )
    return node


@transaction.atomic
def node_move(*, node: Node, new_parent: Node, moved_by=None) -> Node:
    """Move a branch under another region of the same network: its path and every path of its
    subtree are rewritten by one UPDATE; its roles, customers and history stay with it."""
    node = Node.objects.select_for_update().get(pk=node.pk)
    new_parent = Node.objects.select_for_update().get(pk=new_parent.pk)
    if node.kind != NodeKind.BRANCH:
        raise ValidationError({"parent": [_("Only a branch can be moved, to another region.")]})
    if new_parent.network_id != node.network_id or new_parent.kind != NodeKind.REGION:
        raise ValidationError({"parent": [_("A branch moves to another region of its network.")]})
    if not new_parent.is_active:
        raise ValidationError({"parent": [_("This region is closed: choose an open one.")]})
    if new_parent.pk == node.parent_id:
        return node
    old_parent = node.parent
    old_path, new_path = node.path, f"{new_parent.path}{node.public_id}/"
    Node.objects.filter(path__startswith=old_path).update(
        path=Concat(Value(new_path), Substr(F("path"), Length(Value(old_path)) + 1))
    )
    Node.objects.filter(pk=node.pk).update(parent=new_parent)
    node.refresh_from_db()
    network_event_record(
        network=node.network, action=NetworkEvent.Action.NODE_MOVED, actor=moved_by, node=node,
        details={"parent": {"old": old_parent.public_id, "new": new_parent.public_id},
                 "parent_name": {"old": old_parent.name, "new": new_parent.name}},
    )
    if moved_by is not None:
        clear_scope_cache(moved_by)
    return node


@transaction.atomic
def node_close(*, node: Node, closed_by=None, reason: str = "") -> Node:
    """Close ``node`` (``is_active`` False, when and by whom): it keeps its history, shows as
    closed, takes no new customer or campaign. A region closes only once its branches are closed."""
    node = Node.objects.select_for_update().get(pk=node.pk)
    if node.kind == NodeKind.HEAD_OFFICE:
        raise ValidationError(_("The head office cannot be closed."))
    if not node.is_active:
        return node
    if node.kind == NodeKind.REGION and node.children.filter(is_active=True).exists():
        raise ValidationError(_("Close or move this region's open branches first."))
    node.is_active, node.closed_at, node.closed_by = False, timezone.now(), closed_by
    node.save(update_fields=["is_active", "closed_at", "closed_by"])
    network_event_record(
        network=node.network, action=NetworkEvent.Action.NODE_CLOSED, actor=closed_by, node=node,
        details={"is_active": {"old": True, "new": False}, **({"reason": reason[:200]} if reason else {})},
    )
    return node


@transaction.atomic
def node_reopen(*, node: Node, reopened_by=None) -> Node:
    """Open a closed node again (a branch only under an open region)."""
    node = Node.objects.select_for_update().get(pk=node.pk)
    if node.is_active:
        return node
    if node.parent is not None and not node.parent.is_active:
        raise ValidationError(_("Its region is closed: reopen the region first, or move the branch."))
    closed_at = node.closed_at
    node.is_active, node.closed_at, node.closed_by = True, None, None
    node.save(update_fields=["is_active", "closed_at", "closed_by"])
    network_event_record(
        network=node.network, action=NetworkEvent.Action.NODE_REOPENED, actor=reopened_by, node=node,
        details={"is_active": {"old": False, "new": True},
                 "closed_at": closed_at.isoformat() if closed_at else None},
    )
    return node
