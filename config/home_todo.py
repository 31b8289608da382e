"""The branch's to-do list on the home page (issue 19, defect 5): proofs sent back with their
comment, deadlines of the coming days (answering an operation, customising a campaign, approvals
awaited), drafts not yet submitted, and the week's sends — each campaign with its display state
(central/campaigns/states.py) and a link to it.

A selector: everything is read on behalf of the acting user through the scoping selectors; the
number of queries does not grow with the number of campaigns or operations."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import Q
from django.utils import timezone

from approvals.models import Decision, Verdict
from central.calendar.selectors import operations_visible_to
from central.campaigns.selectors import campaign_edit_deadline, campaign_list
from central.campaigns.states import StateKey, with_states
from central.models import Campaign, CampaignStatus, OperationMode, OperationStatus
from local_stores.models import Node
from local_stores.selectors import UserLike

#: Deadlines this many days ahead are shown (today included).
DEADLINE_DAYS = 7
#: The week's sends: today and the six days after.
WEEK_DAYS = 7


@dataclass
class Deadline:
    day: date
    kind: str  # "answer", "customise", "approval"
    operation: object = None
    campaign: Campaign | None = None


@dataclass
class BranchTodo:
    branch: Node
    returned: list[dict] = field(default_factory=list)  # {"campaign", "state", "decision", "slot_comments"}
    deadlines: list[Deadline] = field(default_factory=list)
    drafts: list[Campaign] = field(default_factory=list)
    week: list[Campaign] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.returned or self.deadlines or self.drafts or self.week)


def _eligible(operation, branch: Node) -> bool:
    """Whether ``operation`` is open to ``branch`` (its prefetched eligible nodes; none: the whole network)."""
    nodes = list(operation.eligible_nodes.all())
    return operation.network_id == branch.network_id and (
        not nodes or any(branch.path.startswith(node.path) for node in nodes))


def branch_todo(*, fetched_by: UserLike, branch: Node, today: date | None = None) -> BranchTodo:
    """What ``branch`` has to do, as ``fetched_by`` sees it (``branch`` came through a scoping selector)."""
    today = today or timezone.localdate()
    horizon = today + timedelta(days=DEADLINE_DAYS - 1)
    week_end = today + timedelta(days=WEEK_DAYS - 1)
    todo = BranchTodo(branch=branch)

    campaigns = with_states(fetched_by=fetched_by, campaigns=campaign_list(fetched_by=fetched_by, branch=branch).filter(
        Q(status__in=(CampaignStatus.DRAFT, CampaignStatus.AWAITING_APPROVAL), send_date__gte=today)
        | Q(status__in=(CampaignStatus.SENDING, CampaignStatus.PAUSED))
        | Q(send_date__range=(today, week_end))))

    returned = [campaign for campaign in campaigns if campaign.display_state.key == StateKey.CHANGES_REQUESTED]
    decisions = {}
    if returned:
        for decision in (Decision.objects.filter(proof__public_id__in=[c.display_state.proof.public_id for c in returned])
                         .exclude(verdict=Verdict.APPROVE).select_related("decided_by", "proof")
                         .order_by("decided_at", "id")):
            decisions[decision.proof.public_id] = decision  # the last one sent it back
    for campaign in returned:
        decision = decisions.get(campaign.display_state.proof.public_id)
        labels = {}
        if decision is not None and decision.slot_comments:
            labels = decision.proof.slot_labels or {}
        todo.returned.append({
            "campaign": campaign, "state": campaign.display_state, "decision": decision,
            "comment": (decision.comment if decision else "") or campaign.display_state.comment,
            "slot_comments": [(labels.get(name, name), text) for name, text in (decision.slot_comments or {}).items()]
            if decision else [],
        })
    todo.drafts = [campaign for campaign in campaigns if campaign.display_state.key == StateKey.DRAFT]
    todo.week = [campaign for campaign in campaigns
                 if today <= campaign.send_date <= week_end or campaign.status in (CampaignStatus.SENDING,
                                                                                   CampaignStatus.PAUSED)]

    # deadlines: operations to answer, campaigns to finish, approvals awaited
    operations = (operations_visible_to(fetched_by)
                  .filter(network_id=branch.network_id, status=OperationStatus.PUBLISHED, mode=OperationMode.OPT_IN,
                          subscription_deadline__range=(today, horizon))
                  .prefetch_related("eligible_nodes"))
    answered = set(branch.participations.values_list("operation_id", flat=True))
    for operation in operations:
        if operation.pk not in answered and _eligible(operation, branch):
            todo.deadlines.append(Deadline(operation.subscription_deadline, "answer", operation=operation))
    for campaign in campaigns:
        state = campaign.display_state
        if state.key in (StateKey.DRAFT, StateKey.CHANGES_REQUESTED):
            deadline = campaign_edit_deadline(campaign)
            if today <= deadline <= horizon:
                todo.deadlines.append(Deadline(deadline, "customise", operation=campaign.operation, campaign=campaign))
        elif state.key == StateKey.AWAITING and state.proof and state.proof.decision_deadline \
                and state.proof.decision_deadline <= horizon:
            todo.deadlines.append(Deadline(state.proof.decision_deadline, "approval", operation=campaign.operation,
                                           campaign=campaign))
    todo.deadlines.sort(key=lambda item: (item.day, item.kind))
    return todo
