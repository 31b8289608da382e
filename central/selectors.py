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

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _

from central.campaigns.targeting import apply_criteria, reachable_on
from central.customers.filters import CustomerFilterSet
from central.models import (
    CAMPAIGN_OPEN_STATUSES,
    TARGETING_CRITERIA,
    WITHDRAWAL_BLOCKING_STATUSES,
    ArbitrationRun,
    Budget,
    CalendarFeedToken,
    CalendarPeriod,
    Campaign,
    CampaignEvent,
    CampaignStatus,
    Candidate,
    Channel,
    ConsentEvent,
    ConsentStatus,
    Contact,
    Customer,
    CustomerImport,
    NationalTargetReview,
    NetworkRules,
    NetworkRulesEvent,
    Operation,
    OperationMode,
    OperationStatus,
    Origin,
    OwnershipTransfer,
    Participation,
    ParticipationStatus,
    Reason,
    Suppression,
    TargetOverride,
    TransferStatus,
)
from local_stores.models import Network, Node, NodeKind
from local_stores.selectors import (
    UserLike,
    branches_visible_to,
    networks_visible_to,
    node_in_scope,
    nodes_in_scope,
    scope_paths,
)


def customers_visible_to(user: UserLike) -> QuerySet[Customer]:
    """Customers owned by a branch lying in a subtree where ``user`` may see customers."""
    return Customer.objects.filter(branch__in=nodes_in_scope(user, perm="view_customers"))


def customer_list(*, fetched_by: UserLike, filters: Mapping[str, str] | None = None) -> QuerySet[Customer]:
    """Visible customers narrowed by ``filters`` (see ``CustomerFilterSet``: q, branch, segment,
    consent_email/sms/post, reachable_by, objected, interest). Invalid filter values are ignored
    here; pages and the API validate them first and tell the user."""
    customers = customers_visible_to(fetched_by).filter(erased_at__isnull=True).select_related("branch")
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
        prospects=Count("id", filter=Q(is_prospect=True)),
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


def participation_withdrawal_preview(*, fetched_by: UserLike, operation: Operation, branch: Node) -> dict[str, list]:
    """What declining (or opting out of) ``operation`` would do to ``branch``'s campaigns of it, as
    ``fetched_by`` sees them: ``drafts``, the campaigns it would cancel; ``blocking``, those that
    stop it (awaiting approval, approved, scheduled, sending, paused: cancelled or finished first)."""
    campaigns = list(campaigns_visible_to(fetched_by).filter(operation=operation, branch=branch)
                     .order_by("send_date", "pk"))
    return {"drafts": [campaign for campaign in campaigns if campaign.status == CampaignStatus.DRAFT],
            "blocking": [campaign for campaign in campaigns if campaign.status in WITHDRAWAL_BLOCKING_STATUSES]}


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


def blackout_periods_on(*, network_id: int, day: date, channel: str) -> list[CalendarPeriod]:
    periods = CalendarPeriod.objects.filter(
        network_id=network_id, kind=CalendarPeriod.Kind.BLACKOUT, starts_on__lte=day, ends_on__gte=day
    )
    return [period for period in periods if not period.channels or channel in period.channels]


@dataclass(frozen=True)
class Clash:
    """A warning shown while planning: another campaign on the same channel within a few days with
    customers in common, or a period of the calendar."""

    #: "campaign" | "blackout" | "local_reserved" | "pressure" (``overlap``: how many of the
    #: customers the network's pressure rules are expected to exclude, per the latest simulation)
    kind: str
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
    (counted on the customers ``fetched_by`` sees), and how many of its customers the pressure
    rules are expected to exclude on that day (from the latest simulation that arbitrated it on
    that day). Other campaigns' names are shown only as far as the user may see them."""
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
    excluded = campaign_pressure_exclusions(fetched_by=fetched_by, campaign=campaign, day=day)
    if excluded:
        clashes.append(Clash("pressure", _("the network's pressure rules"), send_date=day, overlap=excluded))
    return clashes


def _campaign_label(campaign: Campaign) -> str:
    name = campaign.operation.name if campaign.operation_id else campaign.template_version.template.name
    where = campaign.branch.name if campaign.branch_id else _("national")
    return f"{name} ({where})"


def campaign_history(*, campaign: Campaign) -> QuerySet[CampaignEvent]:
    """The audit trail of a campaign already fetched through ``campaign_get``."""
    return campaign.events.select_related("by").order_by("-at", "-id")



# --- The network's rules, simulations and "why not?" ---------------------------------------------

#: The reasons the pressure rules give (what the clash detection counts as "excluded by pressure").
PRESSURE_REASONS = (Reason.CHANNEL_CAP, Reason.QUOTA, Reason.PRESSURE_CAP)
#: Why a customer matching a campaign's target is not in its audience at all (``campaign_audience``
#: leaves them out: not reachable on the channel, another branch's, where head office's send does
#: not go); every other reason is one of the network's rules applied to the audience.
OUTSIDE_AUDIENCE = frozenset({Reason.OBJECTION, Reason.NO_CONSENT, Reason.NO_ADDRESS, Reason.NOT_OWNER,
                              Reason.NOT_ELIGIBLE, Reason.BRANCH_DECLINED, Reason.BRANCH_VERSION,
                              Reason.REMOVED_BY_BRANCH})
#: Campaign changes after which a simulation no longer describes the campaign.
_CHANGES_THAT_MATTER = ("customised", "target_exclude", "target_include", "target_reset")


def network_rules_of(network: Network) -> NetworkRules:
    """The network's rules, or the defaults (unsaved) while head office has not set any."""
    return NetworkRules.objects.filter(network=network).select_related("updated_by").first() or NetworkRules(
        network=network)


def rules_snapshot(rules: NetworkRules) -> dict[str, object]:
    """The rules as JSON: what the audit records and what a simulation keeps to explain itself."""
    return {
        "priority_order": rules.order, "cap_total": rules.cap_total, "cap_days": rules.cap_days,
        "channel_caps": rules.channel_caps or {}, "segment_caps": rules.segment_caps or {},
        "national_reserved": rules.national_reserved,
        "local_reserved": rules.local_reserved, "quiet_weekdays": list(rules.quiet_weekdays or []),
        "quiet_from": rules.quiet_from.strftime("%H:%M") if rules.quiet_from else None,
        "quiet_until": rules.quiet_until.strftime("%H:%M") if rules.quiet_until else None,
        "one_per_operation": rules.one_per_operation, "attribution_days": rules.attribution_days,
        **{name: str(getattr(rules, name)) for name in ("cost_email", "cost_sms_segment", "cost_print_page",
                                                         "cost_print_copy", "cost_postage")},
    }


def network_rules_get(*, fetched_by: UserLike, slug: str) -> NetworkRules:
    """The rules of a network ``fetched_by`` plans; Http404 for any other (foreign = missing)."""
    network = get_object_or_404(networks_planned_by(fetched_by), slug=slug)
    return network_rules_of(network)


def network_rules_history(*, network: Network) -> QuerySet[NetworkRulesEvent]:
    """The audit trail of a network's rules and suppression list (for its planners)."""
    return network.rules_events.select_related("by").order_by("-at", "-id")


def suppressions_of(*, fetched_by: UserLike, network: Network) -> QuerySet[Suppression]:
    """The suppression list of a network ``fetched_by`` plans (hashes only), newest first."""
    if not networks_planned_by(fetched_by).filter(pk=network.pk).exists():
        return Suppression.objects.none()
    return Suppression.objects.filter(network=network).order_by("-created_at", "-id")


def networks_simulated_by(user: UserLike) -> QuerySet[Network]:
    """Networks whose arbitration ``user`` may simulate: those they plan, and those where they see
    customers (what they are shown of a run is then scoped)."""
    seen = nodes_in_scope(user, perm="view_customers").values("network_id")
    return Network.objects.filter(Q(pk__in=networks_planned_by(user).values("pk")) | Q(pk__in=seen)).distinct()


def simulation_latest(*, network: Network, starts_on: date, ends_on: date) -> ArbitrationRun | None:
    """The latest finished simulation of the network covering [starts_on, ends_on]."""
    return (ArbitrationRun.objects.filter(network=network, mode=ArbitrationRun.Mode.SIMULATION,
                                          finished_at__isnull=False, starts_on__lte=starts_on, ends_on__gte=ends_on)
            .order_by("-started_at", "-id").first())


def campaign_latest_simulation(campaign: Campaign, *, day: date | None = None) -> ArbitrationRun | None:
    """The latest finished simulation that arbitrated ``campaign`` (sending on ``day``, if given)."""
    holds = Candidate.objects.filter(run_id=OuterRef("pk"), campaign_id=campaign.pk)
    runs = ArbitrationRun.objects.filter(network_id=campaign.network_id, mode=ArbitrationRun.Mode.SIMULATION,
                                         finished_at__isnull=False)
    if day is not None:
        runs = runs.filter(starts_on__lte=day, ends_on__gte=day)
        holds = holds.filter(send_date=day)
    return runs.filter(Exists(holds)).order_by("-started_at", "-id").first()


def simulation_candidates(*, fetched_by: UserLike, run: ArbitrationRun) -> QuerySet[Candidate]:
    """The decisions of a run that ``fetched_by`` may count: on campaigns they see, for customers
    they see. (A branch never counts another branch's campaigns nor customers.)"""
    return Candidate.objects.filter(
        run=run, campaign_id__in=campaigns_visible_to(fetched_by).filter(network_id=run.network_id).values("pk"),
        customer__branch__in=nodes_in_scope(fetched_by, perm="view_customers"),
    )


@dataclass
class SimulationCounts:
    """How a set of candidates was decided: how many, how many selected, and the others by reason."""

    candidates: int = 0
    selected: int = 0
    excluded: dict[str, int] | None = None

    @property
    def excluded_total(self) -> int:
        return sum((self.excluded or {}).values())

    @property
    def audience(self) -> int:
        """The candidates in the campaign's audience, as the editor counts it (``campaign_audience``:
        reachable on the channel — consent, no objection, an address —, its own branch's, where a
        national send goes): those the network's rules then decide on."""
        return self.candidates - sum(n for reason, n in (self.excluded or {}).items() if reason in OUTSIDE_AUDIENCE)

    @property
    def rule_reasons(self) -> list[tuple[str, str, int]]:
        """``reasons`` of the audience's customers the network's rules excluded."""
        return [entry for entry in self.reasons if entry[0] not in OUTSIDE_AUDIENCE]

    @property
    def outside_reasons(self) -> list[tuple[str, str, int]]:
        """``reasons`` of the customers who match the target but are not in the audience."""
        return [entry for entry in self.reasons if entry[0] in OUTSIDE_AUDIENCE]

    @property
    def outside_total(self) -> int:
        return self.candidates - self.audience

    @property
    def reasons(self) -> list[tuple[str, str, int]]:
        """(reason, label, count), most frequent first, then in the order of the checks."""
        excluded = self.excluded or {}
        order = list(Reason.values)
        return [(reason, str(Reason(reason).label), excluded[reason])
                for reason in sorted(excluded, key=lambda r: (-excluded[r], order.index(r)))]


def simulation_counts(
    *, fetched_by: UserLike, run: ArbitrationRun, by: str | None = None, campaign_ids=None,
    starts_on: date | None = None, ends_on: date | None = None,
) -> dict[object, SimulationCounts]:
    """The counts of a run by reason, as far as ``fetched_by`` may count them, grouped ``by``
    "campaign" (campaign id), "branch" (the campaign's branch id; None for national campaigns) or
    not at all (one entry, key None). One GROUP BY query."""
    candidates = simulation_candidates(fetched_by=fetched_by, run=run)
    if campaign_ids is not None:
        candidates = candidates.filter(campaign_id__in=list(campaign_ids))
    if starts_on is not None:
        candidates = candidates.filter(send_date__gte=starts_on)
    if ends_on is not None:
        candidates = candidates.filter(send_date__lte=ends_on)
    key = {"campaign": "campaign_id", "branch": "campaign__branch_id", None: None}[by]
    columns = [key, "selected", "reason"] if key else ["selected", "reason"]
    counts: dict[object, SimulationCounts] = {}
    for row in candidates.order_by().values(*columns).annotate(n=Count("*")):
        entry = counts.setdefault(row[key] if key else None, SimulationCounts(excluded={}))
        entry.candidates += row["n"]
        if row["selected"]:
            entry.selected += row["n"]
        elif row["reason"]:
            entry.excluded[row["reason"]] = entry.excluded.get(row["reason"], 0) + row["n"]
    return counts


def simulation_campaigns(
    *, fetched_by: UserLike, run: ArbitrationRun, starts_on: date | None = None, ends_on: date | None = None,
) -> QuerySet[Campaign]:
    """The campaigns of a run ``fetched_by`` sees and may count (sending, in the run, between
    ``starts_on`` and ``ends_on``), by send date."""
    candidates = simulation_candidates(fetched_by=fetched_by, run=run)
    if starts_on is not None:
        candidates = candidates.filter(send_date__gte=starts_on)
    if ends_on is not None:
        candidates = candidates.filter(send_date__lte=ends_on)
    return (campaigns_visible_to(fetched_by).filter(pk__in=candidates.values("campaign_id"))
            .order_by("send_date", F("branch__name").asc(nulls_first=True), "id"))


def campaign_name(campaign: Campaign) -> str:
    return campaign.operation.name if campaign.operation_id else campaign.template_version.template.name


def campaign_reference(user: UserLike, campaign: Campaign) -> dict[str, object]:
    """How another campaign (one that took a customer's slot) is named to ``user``: by name when
    they see it or when it is national ("your campaign" when they act for its very branch);
    another branch's local campaign only as "another campaign", with neither name, date nor
    branch."""
    day = campaign.send_date.strftime("%d/%m")
    visible = campaigns_visible_to(user).filter(pk=campaign.pk).exists()
    name = campaign_name(campaign)
    if campaign.branch_id is None:
        label = _("“%(name)s” (national campaign, %(date)s)") % {"name": name, "date": day}
    elif visible and campaign.branch.path in scope_paths(user, perm="change_node"):
        label = _("“%(name)s” (your campaign, %(date)s)") % {"name": name, "date": day}
    elif visible:
        label = _("“%(name)s” (campaign of %(branch)s, %(date)s)") % {
            "name": name, "branch": campaign.branch.name, "date": day}
    else:
        return {"id": None, "name": None, "label": _("another campaign")}
    return {"id": campaign.public_id if visible else None, "name": name, "label": label}


@dataclass
class CampaignSimulation:
    """What the campaign page says of the latest simulation covering a campaign."""

    run: ArbitrationRun | None
    counts: SimulationCounts
    lost_to: list[tuple[dict, int]]
    stale: bool = False


def campaign_simulation_summary(*, fetched_by: UserLike, campaign: Campaign) -> CampaignSimulation | None:
    """The latest simulation of a campaign: how many of its customers will receive it, why the
    others will not, to which campaigns they were lost, and whether the campaign changed since.
    None for who does not see the campaign's customers (no count for them)."""
    if not campaign_customers_visible(fetched_by, campaign):
        return None
    run = campaign_latest_simulation(campaign)
    if run is None:
        return CampaignSimulation(run=None, counts=SimulationCounts(excluded={}), lost_to=[])
    counts = simulation_counts(fetched_by=fetched_by, run=run, by="campaign", campaign_ids=[campaign.pk])
    lost = (simulation_candidates(fetched_by=fetched_by, run=run)
            .filter(campaign_id=campaign.pk, selected=False, lost_to__isnull=False).exclude(lost_to_id=campaign.pk)
            .order_by().values("lost_to_id").annotate(n=Count("*")))
    lost_counts = {row["lost_to_id"]: row["n"] for row in lost}
    others = Campaign.objects.filter(pk__in=list(lost_counts)).select_related(
        "operation", "branch", "template_version__template")
    lost_to = sorted(((campaign_reference(fetched_by, other), lost_counts[other.pk]) for other in others),
                     key=lambda pair: -pair[1])
    stale = (Candidate.objects.filter(run=run, campaign_id=campaign.pk).exclude(send_date=campaign.send_date).exists()
             or CampaignEvent.objects.filter(campaign=campaign, action__in=_CHANGES_THAT_MATTER,
                                             at__gt=run.started_at).exists())
    return CampaignSimulation(run=run, counts=counts.get(campaign.pk, SimulationCounts(excluded={})),
                              lost_to=lost_to, stale=stale)


def campaign_pressure_exclusions(*, fetched_by: UserLike, campaign: Campaign, day: date) -> int:
    """How many of the campaign's customers (those ``fetched_by`` sees) the pressure rules are
    expected to exclude if it sends on ``day``: from the latest simulation that arbitrated it on
    that very day; 0 when none did."""
    run = campaign_latest_simulation(campaign, day=day)
    if run is None:
        return 0
    return (simulation_candidates(fetched_by=fetched_by, run=run)
            .filter(campaign_id=campaign.pk, selected=False, reason__in=PRESSURE_REASONS).count())


@dataclass
class WhyLine:
    """One campaign of a run, for one customer, in plain words."""

    campaign: dict
    channel: str
    send_date: date
    selected: bool
    reason: str
    lost_to: dict | None
    text: str


@dataclass
class WhyNot:
    run: ArbitrationRun | None
    lines: list[WhyLine]


def customer_latest_run(customer: Customer) -> ArbitrationRun | None:
    """The latest finished run (simulation or real) that decided anything for ``customer``."""
    holds = Candidate.objects.filter(run_id=OuterRef("pk"), customer_id=customer.pk)
    return (ArbitrationRun.objects.filter(network_id=customer.network_id, finished_at__isnull=False)
            .filter(Exists(holds)).order_by("-started_at", "-id").first())


def customer_why_not(*, fetched_by: UserLike, customer: Customer) -> WhyNot:
    """For a customer fetched through ``customer_get``: each campaign of the latest run that
    concerned them, and in plain words whether they will receive it and, if not, why — with the
    numbers of the rule that excluded them and the campaign that took their slot (named as far as
    ``fetched_by`` may know it)."""
    from django.utils.formats import date_format
    from django.utils.translation import ngettext

    run = customer_latest_run(customer)
    if run is None:
        return WhyNot(run=None, lines=[])
    planner = networks_planned_by(fetched_by).filter(pk=customer.network_id).exists()
    rules = (run.summary or {}).get("rules") or rules_snapshot(network_rules_of(customer.network))
    candidates = list(
        Candidate.objects.filter(run=run, customer=customer)
        .select_related("campaign__operation", "campaign__branch", "campaign__template_version__template",
                        "lost_to__operation", "lost_to__branch", "lost_to__template_version__template", "operation")
        .order_by("send_date", "priority", "scheduled_at", "campaign_id"))
    longest = max([rules["cap_days"], *(int(cap.get("days", 0)) for cap in rules["channel_caps"].values())])
    contacts = list(Contact.objects.filter(customer=customer, contacted_on__lt=run.starts_on,
                                           contacted_on__gte=run.starts_on - timedelta(days=longest))
                    .values("channel", "origin", "contacted_on"))
    # those the rules give a slot to (a customer held out in a control group has taken theirs)
    chosen = [c for c in candidates if c.selected or c.reason == Reason.HOLDOUT]

    def past(days: int, **match: str) -> int:
        since = run.starts_on - timedelta(days=days)
        return sum(1 for contact in contacts if contact["contacted_on"] >= since
                   and all(contact[key] == value for key, value in match.items()))

    def planned(**match: str) -> int:
        return sum(1 for c in chosen if c.origin != Origin.TRANSACTIONAL
                   and all(getattr(c, key) == value for key, value in match.items()))

    def channel_label(channel: str) -> str:
        return str(Channel(channel).label) if channel in Channel.values else channel

    # the customer's own cap, if the network gives their segment one (rules kept with the run)
    segment_caps = rules.get("segment_caps") or {}
    cap_total = segment_caps.get(customer.segment, rules["cap_total"])

    def explain(candidate: Candidate) -> str:
        reason, channel = candidate.reason, candidate.channel
        if reason == Reason.OBJECTION:
            if customer.objected_at:
                return _("the customer objected to all marketing on %(date)s") % {
                    "date": timezone.localtime(customer.objected_at).strftime("%d/%m/%Y")}
            return _("the customer had objected to all marketing")
        if reason == Reason.NO_CONSENT:
            return _("no consent for %(channel)s messages") % {"channel": channel_label(channel)}
        if reason == Reason.NO_ADDRESS:
            return {Channel.EMAIL: _("no e-mail address"), Channel.SMS: _("no mobile number")}.get(
                channel, _("no postal address"))
        if reason == Reason.SUPPRESSED:
            return _("the address is on the network's suppression list")
        if reason == Reason.NOT_OWNER:
            return _("the customer belongs to another branch than the campaign's")
        if reason == Reason.QUIET_PERIOD:
            return _("%(date)s is a %(weekday)s, a quiet day of the network") % {
                "date": candidate.send_date.strftime("%d/%m"), "weekday": date_format(candidate.send_date, "l")}
        if reason == Reason.ALREADY_CONTACTED:
            name = candidate.operation.name if candidate.operation_id else ""
            return _("already contacted for “%(operation)s”") % {"operation": name}
        if reason == Reason.SAME_OPERATION:
            return _("the network sends one message per customer per operation")
        if reason == Reason.DUPLICATE_ADDRESS:
            return _("another customer of this campaign has the same address and receives it")
        if reason == Reason.CHANNEL_CAP:
            cap = rules["channel_caps"].get(channel, {})
            days = int(cap.get("days", rules["cap_days"]))
            count = past(days, channel=channel) + sum(1 for c in chosen if c.channel == channel)
            return ngettext(
                "already %(count)s %(channel)s message in the last %(days)s days — the network allows %(allowed)s",
                "already %(count)s %(channel)s messages in the last %(days)s days — the network allows %(allowed)s",
                count) % {"count": count, "channel": channel_label(channel), "days": days,
                          "allowed": cap.get("count", 0)}
        if reason == Reason.QUOTA:
            other = Origin.NATIONAL if candidate.origin == Origin.LOCAL else Origin.LOCAL
            reserved = rules["national_reserved"] if other == Origin.NATIONAL else rules["local_reserved"]
            count = past(rules["cap_days"], origin=candidate.origin) + planned(origin=candidate.origin)
            if candidate.origin == Origin.LOCAL:
                text = ngettext(
                    "already %(count)s local message in the last %(days)s days — %(reserved)s of the network's "
                    "%(cap)s slots are kept for national campaigns",
                    "already %(count)s local messages in the last %(days)s days — %(reserved)s of the network's "
                    "%(cap)s slots are kept for national campaigns", count)
            else:
                text = ngettext(
                    "already %(count)s national message in the last %(days)s days — %(reserved)s of the network's "
                    "%(cap)s slots are kept for local campaigns",
                    "already %(count)s national messages in the last %(days)s days — %(reserved)s of the network's "
                    "%(cap)s slots are kept for local campaigns", count)
            return text % {"count": count, "days": rules["cap_days"], "reserved": reserved, "cap": cap_total}
        if reason == Reason.PRESSURE_CAP:
            count = past(rules["cap_days"]) + planned()
            if customer.segment in segment_caps:
                return ngettext(
                    "already %(count)s marketing message in the last %(days)s days — the network allows "
                    "%(allowed)s to the segment “%(segment)s”",
                    "already %(count)s marketing messages in the last %(days)s days — the network allows "
                    "%(allowed)s to the segment “%(segment)s”",
                    count) % {"count": count, "days": rules["cap_days"], "allowed": cap_total,
                              "segment": customer.segment}
            return ngettext(
                "already %(count)s marketing message in the last %(days)s days — the network allows %(allowed)s",
                "already %(count)s marketing messages in the last %(days)s days — the network allows %(allowed)s",
                count) % {"count": count, "days": rules["cap_days"], "allowed": cap_total}
        if reason in (Reason.NOT_ELIGIBLE, Reason.BRANCH_DECLINED, Reason.BRANCH_VERSION, Reason.REMOVED_BY_BRANCH):
            return branch_words(candidate)
        if reason == Reason.HOLDOUT:
            operation = candidate.campaign.operation
            return _("drawn at random for the control group (%(share)s %% of the customers), who receive "
                     "nothing so that the campaign's effect on purchases can be measured") % {
                "share": operation.holdout_percent if operation else 0}
        return str(Reason(reason).label) if reason in Reason.values else _("not decided")

    # head office's national sends and the customer's branch: "your branch" to those who act for it
    branch = customer.branch
    yours = branch is not None and not planner and node_in_scope(fetched_by, branch, perm="change_node")

    def branch_words(candidate: Candidate) -> str:
        words = {"operation": candidate.campaign.operation.name if candidate.campaign.operation_id else "",
                 "branch": branch.name if branch else ""}
        if candidate.reason == Reason.NOT_ELIGIBLE:
            return (_("“%(operation)s” is not run in your branch (a pilot or an operation for some branches)") if yours
                    else _("“%(operation)s” is not run in %(branch)s (a pilot or an operation for some branches)")
                    ) % words
        if candidate.reason == Reason.BRANCH_DECLINED:
            return (_("your branch declined “%(operation)s”") if yours
                    else _("%(branch)s declined “%(operation)s”")) % words
        if candidate.reason == Reason.BRANCH_VERSION:
            return (_("your branch's own version of “%(operation)s” is sent instead") if yours
                    else _("%(branch)s's own version of “%(operation)s” is sent instead")) % words
        return (_("your branch removed the customer from head office's target of “%(operation)s”") if yours
                else _("%(branch)s removed the customer from head office's target of “%(operation)s”")) % words

    lines = []
    references: dict[int, dict] = {}

    def reference(campaign: Campaign) -> dict:
        if campaign.pk not in references:
            references[campaign.pk] = campaign_reference(fetched_by, campaign)
        return references[campaign.pk]

    for candidate in candidates:
        this = reference(candidate.campaign)
        what = f"“{this['name']}”" if this["name"] else this["label"]
        details = {"campaign": what, "channel": channel_label(candidate.channel),
                   "date": candidate.send_date.strftime("%d/%m")}
        lost_to = None
        if candidate.selected:
            text = _("Will receive %(campaign)s (%(channel)s, %(date)s).") % details
        else:
            text = _("Will not receive %(campaign)s (%(channel)s, %(date)s): %(why)s.") % {
                **details, "why": explain(candidate)}
            if candidate.lost_to_id and candidate.lost_to_id != candidate.campaign_id:
                lost_to = reference(candidate.lost_to)
                text += " " + _("Lost to %(campaign)s.") % {"campaign": lost_to["label"]}
        lines.append(WhyLine(campaign=this, channel=candidate.channel, send_date=candidate.send_date,
                             selected=bool(candidate.selected), reason=candidate.reason, lost_to=lost_to, text=text))
    return WhyNot(run=run, lines=lines)


# --- Ownership transfers ---------------------------------------------------------------------------


def ownership_transfers_visible_to(user: UserLike) -> QuerySet[OwnershipTransfer]:
    """Transfers to or from a branch whose customers ``user`` sees."""
    branches = nodes_in_scope(user, perm="view_customers")
    return (OwnershipTransfer.objects.filter(Q(to_branch__in=branches) | Q(from_branch__in=branches))
            .select_related("customer", "customer__branch", "from_branch", "to_branch", "requested_by", "decided_by"))


def ownership_transfer_get(*, fetched_by: UserLike, public_id: str) -> OwnershipTransfer:
    return get_object_or_404(ownership_transfers_visible_to(fetched_by), public_id=public_id)


def ownership_transfer_can_decide(user: UserLike, transfer: OwnershipTransfer) -> bool:
    """Head office, or the regional manager over both branches: someone who sees the customers of
    one subtree holding both the branch the customer leaves and the one it joins."""
    source, target = transfer.from_branch.path, transfer.to_branch.path
    return source != target and any(
        source.startswith(path) and target.startswith(path) for path in scope_paths(user, perm="view_customers"))


def ownership_transfer_view(user: UserLike, transfer: OwnershipTransfer) -> dict[str, object]:
    """A transfer as ``user`` may read it: the customer named only if they see them now (the
    requester sees what they typed until the customer is theirs), branches named only if they see
    them."""
    customer = transfer.customer
    sees_customer = node_in_scope(user, customer.branch, perm="view_customers")
    requesting_side = node_in_scope(user, transfer.to_branch, perm="view_customers")

    def branch(node: Node) -> dict[str, object]:
        if node_in_scope(user, node):
            return {"id": node.public_id, "name": node.name}
        return {"id": None, "name": _("another branch")}

    return {
        "transfer": transfer,
        "customer": {"id": customer.public_id, "name": customer.full_name} if sees_customer else None,
        "requested_as": transfer.requested_as if (sees_customer or requesting_side) else "",
        "from_branch": branch(transfer.from_branch), "to_branch": branch(transfer.to_branch),
        "can_decide": transfer.status == TransferStatus.REQUESTED and ownership_transfer_can_decide(user, transfer),
    }


def branches_acted_for(user: UserLike) -> QuerySet[Node]:
    """Active branches ``user`` may act for (change_node): where they may ask for a customer."""
    return nodes_in_scope(user, perm="change_node").filter(kind=NodeKind.BRANCH, is_active=True).order_by("name")


# --- Budgets -----------------------------------------------------------------------------------------


def budgets_visible_to(user: UserLike) -> QuerySet[Budget]:
    """The scoping selector for budgets: those of the branches ``user`` sees (a branch's manager
    its own, a region's its branches', head office its network's)."""
    return Budget.objects.filter(branch__in=branches_visible_to(user)).select_related("branch", "region", "network")


def budget_get(*, fetched_by: UserLike, public_id: str) -> Budget:
    return get_object_or_404(budgets_visible_to(fetched_by), public_id=public_id)


def budgets_overlapping(user: UserLike, *, starts_on: date, ends_on: date) -> QuerySet[Budget]:
    """The budgets ``user`` sees that cover any day of [starts_on, ends_on]."""
    return budgets_visible_to(user).filter(starts_on__lte=ends_on, ends_on__gte=starts_on).order_by(
        "branch__name", "starts_on")
