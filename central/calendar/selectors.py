"""Reads of the national calendar: who plans a network, its operations and the branches they are
open to, the branches' answers, the calendar's periods and feeds."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from central.models import (
    CalendarFeedToken,
    CalendarPeriod,
    Campaign,
    CampaignStatus,
    Operation,
    OperationMode,
    OperationStatus,
    Participation,
    ParticipationStatus,
    Reason,
)
from local_stores.models import Network, Node, NodeKind
from local_stores.selectors import UserLike, networks_visible_to, nodes_in_scope


def networks_planned_by(user: UserLike) -> QuerySet[Network]:
    """Networks whose calendar ``user`` plans (manage_calendar on the head office)."""
    head_offices = nodes_in_scope(user, perm="manage_calendar").filter(kind=NodeKind.HEAD_OFFICE)
    return Network.objects.filter(nodes__in=head_offices).distinct()


def require_planner(user: UserLike, network: Network) -> None:
    """PermissionDenied unless ``user`` plans ``network``'s calendar: the check of every head-office
    write (operations, periods, rules, suppression list, budgets)."""
    if not networks_planned_by(user).filter(pk=network.pk).exists():
        raise PermissionDenied(_("You do not plan the calendar of this network."))


def operation_eligible_branches(operation: Operation) -> QuerySet[Node]:
    """The active branches an operation is open to: all of its network's, or those under its
    eligible regions and branches (a pilot)."""
    branches = Node.objects.filter(network_id=operation.network_id, kind=NodeKind.BRANCH, is_active=True)
    paths = list(operation.eligible_nodes.values_list("path", flat=True))
    if not paths:
        return branches
    condition = Q()
    for path in paths:
        condition |= Q(path__startswith=path)
    return branches.filter(condition)


#: A branch's campaign of an operation counts as its own version once submitted (for real: awaiting
#: approval or further on), or — in a simulation, which arbitrates what is being prepared too —
#: from its draft.
VERSION_STATUSES = (CampaignStatus.AWAITING_APPROVAL, CampaignStatus.APPROVED, CampaignStatus.SCHEDULED,
                    CampaignStatus.SENDING, CampaignStatus.PAUSED, CampaignStatus.SENT)


def national_send_exceptions(operation: Operation, *, simulation: bool = False) -> dict[int, tuple[str, int | None]]:
    """Where head office's own send of ``operation`` does not go (docs/arbitration.md, "Head
    office's send and the branches' versions"): {node id (0: the customers without a branch):
    (reason, the branch's version sent instead or None)} — the nodes outside the operation (a
    pilot), the branches that declined or opted out, those with their own version of it."""
    nodes = list(Node.objects.filter(network_id=operation.network_id).values_list("id", "kind"))
    eligible = set(operation_eligible_branches(operation).values_list("id", flat=True))
    pilot = operation.eligible_nodes.exists()
    answers = dict(Participation.objects.filter(operation=operation).values_list("branch_id", "status"))
    versions: dict[int, int] = {}
    if operation.mode != OperationMode.KIT:
        statuses = VERSION_STATUSES + ((CampaignStatus.DRAFT,) if simulation else ())
        for branch_id, campaign_id in (Campaign.objects.filter(operation=operation, branch__isnull=False,
                                                               status__in=statuses)
                                       .order_by("send_date", "id").values_list("branch_id", "id")):
            versions.setdefault(branch_id, campaign_id)
    exceptions: dict[int, tuple[str, int | None]] = {}
    for node_id, kind in [*nodes, (0, None)]:
        if (kind == NodeKind.BRANCH and node_id not in eligible) or (kind != NodeKind.BRANCH and pilot):
            exceptions[node_id] = (Reason.NOT_ELIGIBLE, None)
        elif kind != NodeKind.BRANCH:
            continue
        elif answers.get(node_id) in (ParticipationStatus.DECLINED, ParticipationStatus.OPTED_OUT):
            exceptions[node_id] = (Reason.BRANCH_DECLINED, None)
        elif node_id in versions:
            exceptions[node_id] = (Reason.BRANCH_VERSION, versions[node_id])
    return exceptions


def operations_visible_to(user: UserLike) -> QuerySet[Operation]:
    """The scoping selector for operations: every operation of the networks ``user`` plans; for
    everyone else, the published operations open to at least one branch they see."""
    planned = Operation.objects.filter(network__in=networks_planned_by(user))
    published = Operation.objects.filter(
        network__in=networks_visible_to(user), status=OperationStatus.PUBLISHED
    ).prefetch_related("eligible_nodes")
    visible_paths = list(nodes_in_scope(user).filter(kind=NodeKind.BRANCH).values_list("path", flat=True))
    open_ids = [
        operation.pk for operation in published
        if not operation.eligible_nodes.all()
        or any(path.startswith(node.path) for node in operation.eligible_nodes.all() for path in visible_paths)
    ]
    return (planned | Operation.objects.filter(pk__in=open_ids)).distinct().select_related("network")


def operation_get(*, fetched_by: UserLike, public_id: str) -> Operation:
    return get_object_or_404(operations_visible_to(fetched_by), public_id=public_id)


def calendar_periods_visible_to(user: UserLike) -> QuerySet[CalendarPeriod]:
    return CalendarPeriod.objects.filter(network__in=networks_visible_to(user))


def participations_of(*, fetched_by: UserLike, operation: Operation) -> QuerySet[Participation]:
    """The answers of the branches ``fetched_by`` sees, to an operation they see."""
    return operation.participations.filter(branch__in=nodes_in_scope(fetched_by)).select_related("branch")


def blackout_periods_on(*, network_id: int, day: date, channel: str) -> list[CalendarPeriod]:
    periods = CalendarPeriod.objects.filter(
        network_id=network_id, kind=CalendarPeriod.Kind.BLACKOUT, starts_on__lte=day, ends_on__gte=day
    )
    return [period for period in periods if not period.channels or channel in period.channels]


def feed_token_user(token: str):
    """The user of a live iCalendar feed token, or Http404 (missing and revoked alike)."""
    feed = get_object_or_404(CalendarFeedToken.objects.select_related("user"), token=token, revoked_at__isnull=True)
    if not feed.user.is_active:
        raise Http404
    return feed.user
