"""Reads of the customer referential, always on behalf of a user.

``customers_visible_to`` is the one scoping selector for customers: every page, API view, count,
export and task that reads customers starts from it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _

from central.filters import CustomerFilterSet
from central.models import (
    CAMPAIGN_OPEN_STATUSES,
    TARGETING_CRITERIA,
    CalendarFeedToken,
    CalendarPeriod,
    Campaign,
    CampaignEvent,
    CampaignStatus,
    ConsentEvent,
    ConsentStatus,
    Customer,
    CustomerImport,
    Operation,
    OperationStatus,
    Participation,
    TargetOverride,
)
from central.targeting import apply_criteria, reachable_on
from local_stores.models import Network, Node, NodeKind
from local_stores.selectors import UserLike, networks_visible_to, node_in_scope, nodes_in_scope


def customers_visible_to(user: UserLike) -> QuerySet[Customer]:
    """Customers owned by a branch lying in a subtree where ``user`` may see customers."""
    return Customer.objects.filter(branch__in=nodes_in_scope(user, perm="view_customers"))


def customer_list(*, fetched_by: UserLike, filters: Mapping[str, str] | None = None) -> QuerySet[Customer]:
    """Visible customers narrowed by ``filters`` (see ``CustomerFilterSet``: q, branch, segment,
    consent_email/sms/post, reachable_by, objected, interest). Invalid filter values are ignored
    here; pages and the API validate them first and tell the user."""
    customers = customers_visible_to(fetched_by).select_related("branch")
    if filters:
        customers = CustomerFilterSet(data=filters, queryset=customers).qs
    return customers.order_by("last_name", "first_name", "id")


def customer_get(*, fetched_by: UserLike, public_id: str) -> Customer:
    """One visible customer; Http404 for a foreign one and a missing one alike."""
    return get_object_or_404(
        customers_visible_to(fetched_by).select_related("branch", "network"), public_id=public_id
    )


def customer_consent_history(*, customer: Customer) -> QuerySet[ConsentEvent]:
    """The consent history of a customer already fetched through ``customer_get``."""
    return customer.consent_events.order_by("-occurred_at", "-id")


def customer_segments(*, fetched_by: UserLike) -> list[str]:
    return list(
        customers_visible_to(fetched_by)
        .exclude(segment="")
        .order_by("segment")
        .values_list("segment", flat=True)
        .distinct()
    )


def consent_summary(*, fetched_by: UserLike, branch: Node | None = None) -> dict[str, int]:
    """Counts of the visible customers (of one branch, if given) by reachable channel."""
    customers = customers_visible_to(fetched_by)
    if branch is not None:
        customers = customers.filter(branch=branch)
    reachable = Q(objected_at__isnull=True)
    return customers.aggregate(
        total=Count("id"),
        email=Count("id", filter=reachable & Q(consent_email=ConsentStatus.GRANTED)),
        sms=Count("id", filter=reachable & Q(consent_sms=ConsentStatus.GRANTED)),
        post=Count("id", filter=reachable & Q(consent_post=ConsentStatus.GRANTED)),
        objected=Count("id", filter=Q(objected_at__isnull=False)),
    )


def customer_counts_by_branch(*, fetched_by: UserLike) -> dict[int, int]:
    """Number of visible customers per branch id."""
    rows = customers_visible_to(fetched_by).values("branch_id").annotate(total=Count("id"))
    return {row["branch_id"]: row["total"] for row in rows}


def networks_importable_by(user: UserLike) -> QuerySet[Network]:
    """Networks whose head office grants ``user`` the right to import customers."""
    head_offices = nodes_in_scope(user, perm="import_customers").filter(kind=NodeKind.HEAD_OFFICE)
    return Network.objects.filter(nodes__in=head_offices).distinct()


def customer_imports_visible_to(user: UserLike) -> QuerySet[CustomerImport]:
    """Imports of the networks where ``user`` may import customers."""
    return CustomerImport.objects.filter(network__in=networks_importable_by(user)).select_related(
        "network", "created_by"
    )


def customer_import_get(*, fetched_by: UserLike, public_id: str) -> CustomerImport:
    return get_object_or_404(customer_imports_visible_to(fetched_by), public_id=public_id)


def can_import_customers(user: UserLike) -> bool:
    return networks_importable_by(user).exists()


__all__ = [
    "can_import_customers",
    "customer_get",
    "customer_import_get",
    "customer_list",
    "customers_visible_to",
    "networks_visible_to",
    "node_in_scope",
]


# --- The national calendar -----------------------------------------------------------------------


def networks_planned_by(user: UserLike) -> QuerySet[Network]:
    """Networks whose calendar ``user`` plans (manage_calendar on the head office)."""
    head_offices = nodes_in_scope(user, perm="manage_calendar").filter(kind=NodeKind.HEAD_OFFICE)
    return Network.objects.filter(nodes__in=head_offices).distinct()


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


def calendar_entries(*, fetched_by: UserLike, start: date, end: date) -> dict[str, list]:
    """What a calendar shows between start and end: the operations whose send window meets it, the
    periods that do, and the campaigns (national and local) sending then that ``fetched_by`` sees."""
    return {
        "operations": list(operations_visible_to(fetched_by).filter(send_until__gte=start, send_from__lte=end)),
        "periods": list(calendar_periods_visible_to(fetched_by).filter(ends_on__gte=start, starts_on__lte=end)),
        "campaigns": list(
            campaigns_visible_to(fetched_by).filter(send_date__range=(start, end))
            .exclude(status=CampaignStatus.CANCELLED).order_by("send_date", "branch__name", "id")
        ),
    }


def participations_of(*, fetched_by: UserLike, operation: Operation) -> QuerySet[Participation]:
    """The answers of the branches ``fetched_by`` sees, to an operation they see."""
    return operation.participations.filter(branch__in=nodes_in_scope(fetched_by)).select_related("branch")


def feed_token_user(token: str):
    """The user of a live iCalendar feed token, or Http404 (missing and revoked alike)."""
    feed = get_object_or_404(CalendarFeedToken.objects.select_related("user"), token=token, revoked_at__isnull=True)
    if not feed.user.is_active:
        raise Http404
    return feed.user


# --- Campaigns -------------------------------------------------------------------------------------

#: Two campaigns "clash" when they send on the same channel within this many days of each other.
CLASH_WINDOW_DAYS = 2
CLASH_LIST_LIMIT = 20


def campaigns_visible_to(user: UserLike) -> QuerySet[Campaign]:
    """The scoping selector for campaigns: those of the branches ``user`` sees, and the head
    office's national campaigns for the people who plan that network's calendar."""
    return (
        Campaign.objects.filter(
            Q(branch__in=nodes_in_scope(user)) | Q(branch__isnull=True, network__in=networks_planned_by(user))
        )
        .select_related("network", "branch", "operation", "template_version", "template_version__template")
    )


def campaign_get(*, fetched_by: UserLike, public_id: str) -> Campaign:
    return get_object_or_404(campaigns_visible_to(fetched_by), public_id=public_id)


def campaign_list(
    *, fetched_by: UserLike, branch: Node | None = None, operation: Operation | None = None,
    include_cancelled: bool = False,
) -> QuerySet[Campaign]:
    campaigns = campaigns_visible_to(fetched_by)
    if branch is not None:
        campaigns = campaigns.filter(branch=branch)
    if operation is not None:
        campaigns = campaigns.filter(operation=operation)
    if not include_cancelled:
        campaigns = campaigns.exclude(status=CampaignStatus.CANCELLED)
    return campaigns.order_by("send_date", "id")


def campaign_can_edit(user: UserLike, campaign: Campaign) -> bool:
    """Branch campaigns are edited by whoever may change the branch; national ones by planners."""
    if campaign.branch_id is None:
        return networks_planned_by(user).filter(pk=campaign.network_id).exists()
    return node_in_scope(user, campaign.branch, perm="change_node")


def campaign_is_editable(user: UserLike, campaign: Campaign) -> bool:
    """What the campaign pages call editable: the right to change it, not yet sending nor
    cancelled, before its deadline. (A change after approval was requested sends it back to draft.)"""
    return (
        campaign.status in CAMPAIGN_OPEN_STATUSES
        and timezone.localdate() <= campaign_edit_deadline(campaign)
        and campaign_can_edit(user, campaign)
    )


def campaign_fingerprint(campaign: Campaign) -> str:
    """SHA-256 of everything that decides what a campaign sends and to whom: the template version
    (and its content hash), the slot values, the channel, the send date, the target criteria and
    the customers added to or removed from the list. Any edit changes it; the send gate compares
    it with the approved proof's."""
    overrides = sorted(
        TargetOverride.objects.filter(campaign_id=campaign.pk).values_list("customer__public_id", "action")
    )
    payload = {
        "campaign": campaign.public_id, "network": campaign.network_id, "branch": campaign.branch_id,
        "operation": campaign.operation_id, "channel": campaign.channel,
        "template_version": [campaign.template_version_id, campaign.template_version.content_hash],
        "slot_values": campaign.slot_values, "send_date": campaign.send_date.isoformat(),
        "target_criteria": campaign.target_criteria, "overrides": overrides,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def campaign_allowed_criteria(campaign: Campaign) -> list[str]:
    """The criteria a campaign may target on: its operation's, or all of them for a free local one."""
    if campaign.operation_id is None:
        return list(TARGETING_CRITERIA)
    return [name for name in TARGETING_CRITERIA if name in (campaign.operation.allowed_criteria or [])]


def campaign_edit_deadline(campaign: Campaign) -> date:
    """The last day the branch may change the campaign: the operation's subscription deadline, else
    the day before the send."""
    deadline = campaign.send_date - timedelta(days=1)
    if campaign.operation_id and campaign.operation.subscription_deadline:
        deadline = min(deadline, campaign.operation.subscription_deadline)
    return deadline


def campaign_customers_visible(user: UserLike, campaign: Campaign) -> bool:
    """Whether ``user`` sees the customers a campaign may reach (its branch's, or its network's for a
    national one). Who sees a campaign but not those customers (an approver, an analyst) gets no
    audience list, no count and no customer names in its history."""
    if campaign.branch_id is not None:
        return node_in_scope(user, campaign.branch, perm="view_customers")
    return nodes_in_scope(user, perm="view_customers").filter(network_id=campaign.network_id).exists()


def _audience_base(fetched_by: UserLike, campaign: Campaign) -> QuerySet[Customer]:
    """Who the campaign may ever reach, seen by ``fetched_by``: the branch's own customers (or the
    network's, for a national campaign) reachable on its channel."""
    customers = customers_visible_to(fetched_by).filter(network_id=campaign.network_id)
    if campaign.branch_id is not None:
        customers = customers.filter(branch_id=campaign.branch_id)
    return customers.filter(reachable_on(campaign.channel))


def campaign_audience(
    *, fetched_by: UserLike, campaign: Campaign, criteria: dict[str, object] | None = None
) -> QuerySet[Customer]:
    """The proposed target list: reachable own customers matching the criteria (the campaign's, or
    ``criteria`` already cleaned, while the user edits), minus those the branch removed, plus those
    it added. One queryset: its ``count()`` is one COUNT."""
    base = _audience_base(fetched_by, campaign)
    matching = apply_criteria(base, campaign.target_criteria if criteria is None else criteria,
                              today=timezone.localdate())
    overrides = TargetOverride.objects.filter(campaign=campaign)
    included = overrides.filter(action=TargetOverride.Action.INCLUDE).values("customer_id")
    excluded = overrides.filter(action=TargetOverride.Action.EXCLUDE).values("customer_id")
    return (
        base.filter(Q(pk__in=matching.values("pk")) | Q(pk__in=included)).exclude(pk__in=excluded)
        if overrides.exists()
        else matching
    )


def campaign_audience_count(*, fetched_by: UserLike, campaign: Campaign, criteria: dict[str, object] | None = None) -> int:
    return campaign_audience(fetched_by=fetched_by, campaign=campaign, criteria=criteria).count()


def campaign_removed_customers(*, fetched_by: UserLike, campaign: Campaign) -> QuerySet[Customer]:
    """Own customers the branch took off the proposed list."""
    excluded = campaign.overrides.filter(action=TargetOverride.Action.EXCLUDE).values("customer_id")
    return customers_visible_to(fetched_by).filter(pk__in=excluded).order_by("last_name", "first_name", "id")


def blackout_periods_on(*, network_id: int, day: date, channel: str) -> list[CalendarPeriod]:
    periods = CalendarPeriod.objects.filter(
        network_id=network_id, kind=CalendarPeriod.Kind.BLACKOUT, starts_on__lte=day, ends_on__gte=day
    )
    return [period for period in periods if not period.channels or channel in period.channels]


@dataclass(frozen=True)
class Clash:
    """A warning shown while planning: another campaign on the same channel within a few days with
    customers in common, or a period of the calendar."""

    kind: str  # "campaign" | "blackout" | "local_reserved"
    label: str
    send_date: date | None = None
    overlap: int | None = None
    blocking: bool = False


def campaign_clashes(
    *, fetched_by: UserLike, campaign: Campaign, send_date: date | None = None,
    criteria: dict[str, object] | None = None,
) -> list[Clash]:
    """What collides with ``campaign`` if sent on ``send_date`` (default: its own) to ``criteria``
    (default: its own): blackout periods (blocking), a national campaign in a period reserved for
    local ones, and campaigns on the same channel within CLASH_WINDOW_DAYS whose audience overlaps
    (counted on the customers ``fetched_by`` sees). Other campaigns' names are shown only as far
    as the user may see them."""
    day = send_date or campaign.send_date
    clashes = [
        Clash("blackout", period.name, blocking=True)
        for period in blackout_periods_on(network_id=campaign.network_id, day=day, channel=campaign.channel)
    ]
    if campaign.branch_id is None:
        clashes += [
            Clash("local_reserved", period.name)
            for period in CalendarPeriod.objects.filter(
                network_id=campaign.network_id, kind=CalendarPeriod.Kind.LOCAL_RESERVED,
                starts_on__lte=day, ends_on__gte=day,
            )
            if not period.channels or campaign.channel in period.channels
        ]
    window = (day - timedelta(days=CLASH_WINDOW_DAYS), day + timedelta(days=CLASH_WINDOW_DAYS))
    others = (
        Campaign.objects.filter(network_id=campaign.network_id, channel=campaign.channel, send_date__range=window)
        .exclude(status=CampaignStatus.CANCELLED)
        .exclude(pk=campaign.pk)
        .select_related("operation", "branch", "template_version__template")
        .order_by("send_date", "id")
    )
    if campaign.branch_id is not None:  # a branch's customers meet only its own and national campaigns
        others = others.filter(Q(branch_id=campaign.branch_id) | Q(branch__isnull=True))
    audience = campaign_audience(fetched_by=fetched_by, campaign=campaign, criteria=criteria)
    for other in others[:CLASH_LIST_LIMIT]:
        other_audience = campaign_audience(fetched_by=fetched_by, campaign=other)
        overlap = audience.filter(pk__in=other_audience.values("pk")).count()
        if overlap:
            clashes.append(Clash("campaign", _campaign_label(other), send_date=other.send_date, overlap=overlap))
    return clashes


def _campaign_label(campaign: Campaign) -> str:
    name = campaign.operation.name if campaign.operation_id else campaign.template_version.template.name
    where = campaign.branch.name if campaign.branch_id else _("national")
    return f"{name} ({where})"


def campaign_history(*, campaign: Campaign) -> QuerySet[CampaignEvent]:
    """The audit trail of a campaign already fetched through ``campaign_get``."""
    return campaign.events.select_related("by").order_by("-at", "-id")

