"""Reads of campaigns, always on behalf of a user: the scoping selector, the audience, and what a
calendar shows (the clashes a campaign meets: ``central/campaigns/clashes.py``)."""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta

from django.db.models import F, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from central.calendar.selectors import (
    calendar_periods_visible_to,
    national_send_exceptions,
    networks_planned_by,
    operations_visible_to,
)
from central.campaigns.targeting import apply_criteria, reachable_on
from central.customers.selectors import customers_visible_to
from central.models import (
    CAMPAIGN_OPEN_STATUSES,
    TARGETING_CRITERIA,
    WITHDRAWAL_BLOCKING_STATUSES,
    Campaign,
    CampaignEvent,
    CampaignStatus,
    Customer,
    NationalTargetReview,
    Operation,
    TargetOverride,
)
from local_stores.models import Node
from local_stores.selectors import UserLike, node_in_scope, nodes_in_scope


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


def _audience_base(fetched_by: UserLike, campaign: Campaign, *, reviews: bool = True) -> QuerySet[Customer]:
    """Who the campaign may ever reach, seen by ``fetched_by``: the branch's own customers (or, for
    head office's send, the network's but those where it does not go, and with ``reviews`` those
    their branch removed from it) reachable on its channel."""
    customers = customers_visible_to(fetched_by).filter(network_id=campaign.network_id)
    if campaign.branch_id is not None:
        customers = customers.filter(branch_id=campaign.branch_id)
    elif campaign.operation_id is not None:  # head office's send: not where it does not go
        away = set(national_send_exceptions(campaign.operation))
        customers = customers.exclude(branch_id__in=away - {0})
        if 0 in away:
            customers = customers.exclude(branch__isnull=True)
        if reviews:
            removed = NationalTargetReview.objects.filter(operation_id=campaign.operation_id,
                                                          action=NationalTargetReview.Action.REMOVE,
                                                          branch_id=F("customer__branch_id"))
            customers = customers.exclude(pk__in=removed.values("customer_id"))
    return customers.filter(reachable_on(campaign.channel))


def campaign_audience(
    *, fetched_by: UserLike, campaign: Campaign, criteria: dict[str, object] | None = None, reviews: bool = True
) -> QuerySet[Customer]:
    """The proposed target list: reachable own customers matching the criteria (the campaign's, or
    ``criteria`` already cleaned, while the user edits), minus those the branch removed, plus those
    it added — for head office's send of an operation, with ``reviews``, also minus and plus those
    the branches removed and added when they reviewed it. One queryset: its ``count()`` is one COUNT."""
    base = _audience_base(fetched_by, campaign, reviews=reviews)
    matching = apply_criteria(base, campaign.target_criteria if criteria is None else criteria,
                              today=timezone.localdate())
    overrides = TargetOverride.objects.filter(campaign=campaign)
    included = overrides.filter(action=TargetOverride.Action.INCLUDE).values("customer_id")
    excluded = overrides.filter(action=TargetOverride.Action.EXCLUDE).values("customer_id")
    if reviews and campaign.branch_id is None and campaign.operation_id is not None:
        # the customers a branch added to head office's target when it reviewed it (still its own)
        added = NationalTargetReview.objects.filter(operation_id=campaign.operation_id,
                                                    action=NationalTargetReview.Action.ADD,
                                                    branch_id=F("customer__branch_id"))
        if added.exists():
            return base.filter(Q(pk__in=matching.values("pk")) | Q(pk__in=included)
                               | Q(pk__in=added.values("customer_id"))).exclude(pk__in=excluded)
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


def campaign_history(*, campaign: Campaign) -> QuerySet[CampaignEvent]:
    """The audit trail of a campaign already fetched through ``campaign_get``."""
    return campaign.events.select_related("by").order_by("-at", "-id")


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


def participation_withdrawal_preview(*, fetched_by: UserLike, operation: Operation, branch: Node) -> dict[str, list]:
    """What declining (or opting out of) ``operation`` would do to ``branch``'s campaigns of it, as
    ``fetched_by`` sees them: ``drafts``, the campaigns it would cancel; ``blocking``, those that
    stop it (awaiting approval, approved, scheduled, sending, paused: cancelled or finished first)."""
    campaigns = list(campaigns_visible_to(fetched_by).filter(operation=operation, branch=branch)
                     .order_by("send_date", "pk"))
    return {"drafts": [campaign for campaign in campaigns if campaign.status == CampaignStatus.DRAFT],
            "blocking": [campaign for campaign in campaigns if campaign.status in WITHDRAWAL_BLOCKING_STATUSES]}
