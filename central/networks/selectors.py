"""Reads of networks, their settings and their audit trail, always on behalf of a user.

Who sees what:
* the platform's list of networks: superusers only (anyone else: nothing, the pages answer 404);
* a network's settings: who holds ``manage_network`` on its head office;
* the audit trail: the whole network for who holds ``manage_people`` or ``manage_network`` on its
  head office; the events whose node lies in their subtree for a regional manager
  (``manage_people`` on a region); nothing for anyone else.
"""

from __future__ import annotations

from datetime import date

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from local_stores.models import Network, NetworkEvent, Node, NodeKind
from local_stores.selectors import UserLike, nodes_in_scope, scope_paths

User = get_user_model()


def is_platform_admin(user: UserLike) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_superuser)


def platform_network_list(*, fetched_by: UserLike, search: str = "") -> QuerySet[Network]:
    """Every network with its head office's name and its counts of branches and people, for the
    platform's superusers; an empty list for anyone else."""
    if not is_platform_admin(fetched_by):
        return Network.objects.none()
    networks = Network.objects.all()
    if search:
        networks = networks.filter(Q(name__icontains=search) | Q(slug__icontains=search))
    head_office = Node.objects.filter(network=OuterRef("pk"), kind=NodeKind.HEAD_OFFICE).values("name")[:1]
    branches = (
        Node.objects.filter(network=OuterRef("pk"), kind=NodeKind.BRANCH, is_active=True)
        .order_by().values("network").annotate(total=Count("pk")).values("total")
    )
    people = (
        User.objects.filter(groups__relais_role__node__network=OuterRef("pk"), is_active=True)
        .order_by().values("groups__relais_role__node__network")
        .annotate(total=Count("pk", distinct=True)).values("total")
    )
    return networks.annotate(
        head_office_name=Subquery(head_office),
        branch_count=Coalesce(Subquery(branches), 0),
        people_count=Coalesce(Subquery(people), 0),
    ).order_by("name")


def networks_managed_by(user: UserLike) -> QuerySet[Network]:
    """Networks whose settings ``user`` edits: ``manage_network`` on their head office."""
    head_offices = nodes_in_scope(user, perm="manage_network").filter(kind=NodeKind.HEAD_OFFICE)
    return Network.objects.filter(Exists(head_offices.filter(network=OuterRef("pk")))).order_by("name")


def network_managed_by(user: UserLike, *, slug: str = "") -> Network | None:
    """The network of ``user`` whose settings they edit (the one named by ``slug`` when they
    manage several), or None."""
    if slug and "\x00" in slug:  # no network's slug holds a NUL (PostgreSQL refuses it in a query)
        return None
    networks = networks_managed_by(user)
    return networks.filter(slug=slug).first() if slug else networks.first()


def networks_audited_by(user: UserLike) -> QuerySet[Network]:
    """Networks whose whole audit trail ``user`` reads: ``manage_people`` or ``manage_network`` on
    the head office."""
    head_offices = (nodes_in_scope(user, perm="manage_people") | nodes_in_scope(user, perm="manage_network")).filter(
        kind=NodeKind.HEAD_OFFICE
    )
    return Network.objects.filter(pk__in=head_offices.values("network"))


def network_events_visible_to(user: UserLike) -> QuerySet[NetworkEvent]:
    """THE scoping selector of the audit trail (module docstring)."""
    if user is None or not user.is_authenticated:
        return NetworkEvent.objects.none()
    condition = Q(network__in=networks_audited_by(user))
    for path in scope_paths(user, perm="manage_people"):
        condition |= Q(node__path__startswith=path)
    return NetworkEvent.objects.filter(condition).select_related("network", "node", "actor", "subject_user")


def network_event_list(*, fetched_by: UserLike, **filters) -> QuerySet[NetworkEvent]:
    """The events ``fetched_by`` reads, filtered (``events_filtered``), newest first."""
    return events_filtered(network_events_visible_to(fetched_by), **filters)


def events_filtered(
    events: QuerySet[NetworkEvent],
    *,
    action: str = "",
    person: str = "",
    node: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[NetworkEvent]:
    """Narrow scoped ``events``: an action, a person (who acted or was concerned: name, username
    or e-mail), a node (public id), a date range (inclusive, in the current time zone)."""
    if action:
        events = events.filter(action=action)
    if person:
        people = User.objects.filter(
            Q(username__icontains=person) | Q(email__icontains=person) | Q(first_name__icontains=person)
            | Q(last_name__icontains=person)
        )
        events = events.filter(Q(actor__in=people) | Q(subject_user__in=people))
    if node:
        events = events.filter(node__public_id=node)
    if date_from:
        events = events.filter(at__date__gte=date_from)
    if date_to:
        events = events.filter(at__date__lte=date_to)
    return events.order_by("-at", "-id")


def audit_nodes_of(user: UserLike) -> QuerySet[Node]:
    """The nodes offered by the audit trail's filter: those of the networks ``user`` audits, or of
    their subtree."""
    whole = Node.objects.filter(network__in=networks_audited_by(user))
    return (whole | nodes_in_scope(user, perm="manage_people")).distinct().order_by("path", "name")


def audit_trail_reachable(user: UserLike) -> bool:
    """Whether ``user`` has an audit trail to read (the page answers 404 to anyone else)."""
    return networks_audited_by(user).exists() or bool(scope_paths(user, perm="manage_people"))
