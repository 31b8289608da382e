"""Reads of the network's structure, on behalf of a user.

Who reads what: ``manage_network`` (head office) reads and changes its subtree; ``manage_people``
(a regional manager) reads its region's part. Anyone else sees nothing (404).
"""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404

from central.models import Customer
from local_stores.models import NetworkEvent, Node, NodeKind
from local_stores.selectors import UserLike, node_in_scope, nodes_in_scope

#: The permissions that let a user read the structure of their subtree.
READ_PERMS = ("manage_network", "manage_people")


def structure_nodes_visible_to(user: UserLike) -> QuerySet[Node]:
    """The scoping selector of the structure's pages and API: the nodes of the subtrees where
    ``user`` manages the network or its people."""
    visible = nodes_in_scope(user, perm=READ_PERMS[0]) | nodes_in_scope(user, perm=READ_PERMS[1])
    return visible.select_related("network", "parent", "closed_by").distinct()


def structure_node_get(*, fetched_by: UserLike, public_id: str) -> Node:
    """One node of the structure ``fetched_by`` reads; Http404 for a foreign one and a missing one."""
    return get_object_or_404(structure_nodes_visible_to(fetched_by), public_id=public_id)


def structure_can_manage(user: UserLike, node: Node) -> bool:
    return node_in_scope(user, node, perm="manage_network")


def head_offices_managed_by(user: UserLike) -> QuerySet[Node]:
    """The head offices whose structure ``user`` manages (where a file may be imported)."""
    return nodes_in_scope(user, perm="manage_network").filter(kind=NodeKind.HEAD_OFFICE).select_related("network")


def structure_list(*, fetched_by: UserLike, search: str = "", state: str = "") -> QuerySet[Node]:
    """The visible nodes in the tree's order (head office, each region followed by its branches),
    filtered by name or code and by state (``open`` / ``closed``)."""
    nodes = structure_nodes_visible_to(fetched_by)
    if search:
        nodes = nodes.filter(Q(name__icontains=search) | Q(code__icontains=search))
    if state in ("open", "closed"):
        nodes = nodes.filter(is_active=state == "open")
    return nodes.order_by("network__name", "path")


def structure_counts(nodes: list[Node]) -> dict[int, dict[str, int]]:
    """For each node: its branches (open ones) and the customers it owns (its branches' for a
    region or a head office). Counts only, no customer data."""
    paths = [node.path for node in nodes]
    if not paths:
        return {}
    condition = Q()
    for path in paths:
        condition |= Q(path__startswith=path)
    branches = list(Node.objects.filter(condition, kind=NodeKind.BRANCH).values_list("pk", "path", "is_active"))
    customers = dict(
        Customer.objects.filter(branch_id__in=[pk for pk, _path, _active in branches], erased_at__isnull=True)
        .values_list("branch_id").annotate(count=Count("id")).values_list("branch_id", "count")
    )
    counts = {}
    for node in nodes:
        inside = [(pk, active) for pk, path, active in branches if path.startswith(node.path)]
        counts[node.pk] = {
            "branches": sum(1 for _pk, active in inside if active),
            "customers": sum(customers.get(pk, 0) for pk, _active in inside),
        }
    return counts


def move_targets(*, fetched_by: UserLike, node: Node) -> QuerySet[Node]:
    """The open regions of the node's network, in ``fetched_by``'s managed scope, it may move to."""
    return (
        nodes_in_scope(fetched_by, perm="manage_network")
        .filter(network_id=node.network_id, kind=NodeKind.REGION, is_active=True)
        .exclude(pk=node.parent_id).order_by("name")
    )


def node_history(*, fetched_by: UserLike, node: Node) -> QuerySet[NetworkEvent]:
    """The audit trail of a node ``fetched_by`` reads (fetched through ``structure_node_get``)."""
    if not any(node_in_scope(fetched_by, node, perm=perm) for perm in READ_PERMS):
        return NetworkEvent.objects.none()
    return NetworkEvent.objects.filter(node=node).select_related("actor", "subject_user").order_by("-at", "-id")
