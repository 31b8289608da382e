"""A campaign's state as people read it, built in one place for every list and page.

``CampaignStatus`` says where a campaign is in its life (draft, awaiting approval, approved…); people
need a little more: *which* approval step it waits for ("step 1 of 2"), whether a draft came back
from its approvers ("changes requested", with their comment), how far a send has gone
("sending 40 %"). ``campaign_states`` answers that for a whole list in at most two queries (the
latest proof of each campaign, the deliveries of those sending), whatever the list's length.

Proofs belong to approvals, which sits above central: central reads them through the function named
by ``settings.RELAIS_CAMPAIGN_PROOFS`` (as it does for the send gate), which returns, for the
campaigns given, their latest proof as the acting user sees it (``ProofSummary``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from central.campaigns.selectors import campaign_list
from central.models import Campaign, CampaignStatus, Delivery, DeliveryStatus
from local_stores.selectors import UserLike

#: What central asks approvals for: ``f(fetched_by, campaign_ids) -> {campaign id: ProofSummary}``.
DEFAULT_PROOFS_READER = "approvals.campaign_states.latest_proofs"


class StateKey:
    """The states a person reads (a campaign is in exactly one)."""

    DRAFT = "draft"
    AWAITING = "awaiting"
    CHANGES_REQUESTED = "changes_requested"
    APPROVED = "approved"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    SENT = "sent"
    CANCELLED = "cancelled"


#: Bootstrap badge classes, by state: what needs the branch's hand stands out.
TONES = {
    StateKey.DRAFT: "text-bg-light border",
    StateKey.AWAITING: "text-bg-warning",
    StateKey.CHANGES_REQUESTED: "text-bg-danger",
    StateKey.APPROVED: "text-bg-success",
    StateKey.SCHEDULED: "text-bg-success",
    StateKey.SENDING: "text-bg-primary",
    StateKey.PAUSED: "text-bg-secondary",
    StateKey.SENT: "text-bg-dark",
    StateKey.CANCELLED: "text-bg-secondary",
}


@dataclass(frozen=True)
class ProofSummary:
    """What a list needs of a campaign's latest proof."""

    public_id: str
    number: int
    status: str  # approvals.models.ProofStatus value
    current_step: int  # 0-based
    step_count: int
    comment: str = ""  # the approver's comment when it came back
    decision_deadline: object = None


@dataclass(frozen=True)
class CampaignState:
    key: str
    label: str
    step: int | None = None
    step_count: int | None = None
    percent: int | None = None
    proof: ProofSummary | None = None
    comment: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def tone(self) -> str:
        return TONES[self.key]

    @property
    def needs_action(self) -> bool:
        """The branch has something to do: a draft to finish, or changes to make."""
        return self.key in (StateKey.DRAFT, StateKey.CHANGES_REQUESTED)

    def __str__(self) -> str:
        return self.label


#: Proof statuses (approvals.models.ProofStatus values) that send a campaign back with a comment.
RETURNED = ("rejected", "changes")


def state_of(campaign: Campaign, *, proof: ProofSummary | None = None,
             progress: tuple[int, int] | None = None) -> CampaignState:
    """The display state of ``campaign``, from its status, its latest proof and — sending or
    paused — its deliveries (finished, total)."""
    status = campaign.status
    if status == CampaignStatus.DRAFT:
        if proof is not None and proof.status in RETURNED:
            label = _("Changes requested") if proof.status == "changes" else _("Rejected: changes needed")
            return CampaignState(StateKey.CHANGES_REQUESTED, label, proof=proof, comment=proof.comment)
        return CampaignState(StateKey.DRAFT, _("Draft"), proof=proof)
    if status == CampaignStatus.AWAITING_APPROVAL:
        if proof is not None and proof.status == "pending" and proof.step_count:
            step = min(proof.current_step, proof.step_count - 1) + 1
            return CampaignState(StateKey.AWAITING, _("Waiting for approval, step %(n)d of %(m)d")
                                 % {"n": step, "m": proof.step_count},
                                 step=step, step_count=proof.step_count, proof=proof)
        return CampaignState(StateKey.AWAITING, _("Waiting for approval"), proof=proof)
    if status in (CampaignStatus.SENDING, CampaignStatus.PAUSED):
        finished, total = progress or (0, 0)
        percent = int(100 * finished / total) if total else 0
        if status == CampaignStatus.PAUSED:
            return CampaignState(StateKey.PAUSED, _("Paused at %(percent)d %%") % {"percent": percent},
                                 percent=percent, proof=proof)
        return CampaignState(StateKey.SENDING, _("Sending %(percent)d %%") % {"percent": percent},
                             percent=percent, proof=proof)
    labels = {
        CampaignStatus.APPROVED: (StateKey.APPROVED, _("Approved, not scheduled yet")),
        CampaignStatus.SCHEDULED: (StateKey.SCHEDULED, _("Scheduled")),
        CampaignStatus.SENT: (StateKey.SENT, _("Sent")),
        CampaignStatus.CANCELLED: (StateKey.CANCELLED, _("Cancelled")),
    }
    key, label = labels[status]
    return CampaignState(key, label, proof=proof)


def _proofs(fetched_by: UserLike, campaign_ids: list[int]) -> dict[int, ProofSummary]:
    reader = import_string(getattr(settings, "RELAIS_CAMPAIGN_PROOFS", DEFAULT_PROOFS_READER))
    return reader(fetched_by, campaign_ids)


def send_progress(campaign_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """{campaign id: (deliveries finished — sent, failed or cancelled —, all deliveries)}, one query."""
    ids = list(campaign_ids)
    if not ids:
        return {}
    rows = (Delivery.objects.filter(campaign_id__in=ids).order_by().values("campaign_id")
            .annotate(total=Count("id"),
                      finished=Count("id", filter=~Q(status__in=(DeliveryStatus.QUEUED, DeliveryStatus.SENDING)))))
    return {row["campaign_id"]: (row["finished"], row["total"]) for row in rows}


def campaign_states(*, fetched_by: UserLike, campaigns: Iterable[Campaign]) -> dict[int, CampaignState]:
    """{campaign pk: its display state} for campaigns ``fetched_by`` got through a scoping selector;
    the proofs are read through approvals' scoping selector too. Two queries at most."""
    campaigns = list(campaigns)
    if not campaigns:
        return {}
    proofs = _proofs(fetched_by, [campaign.pk for campaign in campaigns])
    progress = send_progress(campaign.pk for campaign in campaigns
                             if campaign.status in (CampaignStatus.SENDING, CampaignStatus.PAUSED))
    return {campaign.pk: state_of(campaign, proof=proofs.get(campaign.pk), progress=progress.get(campaign.pk))
            for campaign in campaigns}


def with_states(*, fetched_by: UserLike, campaigns: Iterable[Campaign]) -> list[Campaign]:
    """The campaigns as a list, each with its ``display_state`` set (for templates)."""
    campaigns = list(campaigns)
    states = campaign_states(fetched_by=fetched_by, campaigns=campaigns)
    for campaign in campaigns:
        campaign.display_state = states[campaign.pk]
    return campaigns


def operation_campaigns(*, fetched_by: UserLike, operation, branch) -> list[Campaign]:
    """``branch``'s campaigns of ``operation`` (cancelled ones left out), each with its display state."""

    return with_states(fetched_by=fetched_by,
                       campaigns=campaign_list(fetched_by=fetched_by, branch=branch, operation=operation))


def campaigns_created_message(*, fetched_by: UserLike, operation, branch) -> tuple[str, list[Campaign]]:
    """After joining (or being enrolled in) ``operation``: the message naming the campaigns ``branch``
    now has to prepare — each template with its channel and state — and those campaigns."""

    campaigns = operation_campaigns(fetched_by=fetched_by, operation=operation, branch=branch)
    if not campaigns:
        return "", campaigns
    names = ", ".join(f"“{campaign.template_version.template.name}” ({campaign.get_channel_display()}, "
                      f"{campaign.display_state.label.lower()})" for campaign in campaigns)
    return ngettext("%(count)d campaign to prepare: %(names)s.", "%(count)d campaigns to prepare: %(names)s.",
                    len(campaigns)) % {"count": len(campaigns), "names": names}, campaigns


#: A branch's page lists its campaigns sending from this many days ago on (older ones are in the reports).
BRANCH_PAGE_DAYS_BACK = 31
BRANCH_PAGE_LIMIT = 30


def branch_campaigns(*, fetched_by: UserLike, branch) -> list[Campaign]:
    """``branch``'s recent and coming campaigns (cancelled ones left out), each with its display state."""



    since = timezone.localdate() - timedelta(days=BRANCH_PAGE_DAYS_BACK)
    return with_states(fetched_by=fetched_by, campaigns=campaign_list(fetched_by=fetched_by, branch=branch)
                       .filter(send_date__gte=since)[:BRANCH_PAGE_LIMIT])
