"""Reads of the branches' review of head office's national target (HCL Unica's "review proposed
contacts", Adobe's "local approval"), always on behalf of a user.

Head office's national send of an operation (a live campaign with no branch) proposes, for each
branch, the branch's own customers its criteria select. Before the deadline, each branch reviews
its part: keeps a customer (doing nothing keeps it), removes one with a reason, or adds one of its
own customers the criteria left out (``NationalTargetReview``). What it has not reviewed by the
deadline goes as proposed. Arbitration reads the same rows (reason ``removed_by_branch``).

A review counts only while the customer still belongs to the branch that made it (a customer
transferred since is proposed to their new branch afresh), exactly as arbitration reads it.

Every read starts from ``customers_visible_to`` / ``branches_visible_to``: nothing here widens what
the user sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Case, CharField, Count, Exists, OuterRef, Q, QuerySet, Subquery, Value, When
from django.utils import timezone

from central.calendar.selectors import national_send_exceptions, operation_eligible_branches
from central.campaigns.selectors import campaign_audience
from central.customers.selectors import customers_visible_to
from central.models import (
    Campaign,
    CampaignStatus,
    Customer,
    NationalTargetReview,
    Operation,
    OperationStatus,
    Reason,
)
from local_stores.models import Node
from local_stores.selectors import UserLike, branches_visible_to, nodes_in_scope

#: The states of a row of the review list.
KEPT, REMOVED, ADDED = "kept", "removed", "added"
STATES = (KEPT, REMOVED, ADDED)
PAGE_SIZE = 25


def head_office_sends(operation: Operation) -> QuerySet[Campaign]:
    """Head office's live national sends of the operation: its campaigns with no branch, not cancelled."""
    return (
        Campaign.objects.filter(operation_id=operation.pk, branch__isnull=True)
        .exclude(status=CampaignStatus.CANCELLED)
        .select_related("operation", "network", "template_version", "template_version__template")
        .order_by("send_date", "id")
    )


def operations_with_head_office_sends(operations) -> set[int]:
    """The ids of those of ``operations`` (already read through a scoping selector) for which head
    office has a live national send of its own."""
    return set(Campaign.objects.filter(operation__in=operations, branch__isnull=True)
               .exclude(status=CampaignStatus.CANCELLED).values_list("operation_id", flat=True))


def review_deadline(operation: Operation) -> date | None:
    """The last day branches may review head office's target: the operation's subscription
    deadline if it has one, else the day before head office's earliest live send. None when head
    office sends nothing of its own for this operation (there is nothing to review)."""
    first = head_office_sends(operation).order_by("send_date").values_list("send_date", flat=True).first()
    if first is None:
        return None
    if operation.subscription_deadline:
        return operation.subscription_deadline
    return first - timedelta(days=1)


def review_is_open(operation: Operation, *, today: date | None = None) -> bool:
    """Whether branches may still review: a published operation with a live head-office send,
    until the deadline (inclusive)."""
    deadline = review_deadline(operation)
    today = today or timezone.localdate()
    return operation.status == OperationStatus.PUBLISHED and deadline is not None and today <= deadline


def head_office_passes_by(operation: Operation, branch: Node) -> str:
    """Why head office's send reaches none of the branch's customers, whatever its review:
    "declined" (the branch declined the operation or opted out of it), "own_version" (the branch
    submitted its own version of the operation, which beats head office's); "" when it does reach
    them. The reading arbitration makes (``national_send_exceptions``, for a real send)."""
    reason = national_send_exceptions(operation).get(branch.pk, ("", None))[0]
    return {Reason.BRANCH_DECLINED: "declined", Reason.BRANCH_VERSION: "own_version"}.get(reason, "")


def review_branches(user: UserLike, operation: Operation) -> QuerySet[Node]:
    """The branches whose review of this operation ``user`` may read: eligible branches they see
    and whose customers they see."""
    return (
        branches_visible_to(user)
        .filter(pk__in=operation_eligible_branches(operation).values("pk"))
        .filter(pk__in=nodes_in_scope(user, perm="view_customers").values("pk"))
        .order_by("name")
    )


def _proposed_condition(fetched_by: UserLike, operation: Operation) -> Q:
    """Customers one of head office's live sends proposes: its criteria, its own additions and
    removals (``TargetOverride``), reachable on its channel — ``campaign_audience``, as seen by
    ``fetched_by``."""
    condition = Q(pk__in=[])
    for campaign in head_office_sends(operation):
        condition |= Q(pk__in=campaign_audience(fetched_by=fetched_by, campaign=campaign, reviews=False).values("pk"))
    return condition


def _reviews(operation: Operation, action: str) -> QuerySet[NationalTargetReview]:
    """The reviews of ``action`` on the customer of the outer query, made by their current branch."""
    return NationalTargetReview.objects.filter(operation_id=operation.pk, action=action,
                                               customer_id=OuterRef("pk"), branch_id=OuterRef("branch_id"))


def _with_state(customers: QuerySet[Customer], operation: Operation) -> QuerySet[Customer]:
    removed = _reviews(operation, NationalTargetReview.Action.REMOVE)
    return customers.annotate(
        is_removed=Exists(removed),
        is_added=Exists(_reviews(operation, NationalTargetReview.Action.ADD)),
    ).annotate(
        review_state=Case(When(is_added=True, then=Value(ADDED)), When(is_removed=True, then=Value(REMOVED)),
                          default=Value(KEPT), output_field=CharField()),
        review_reason=Subquery(removed.values("reason")[:1]),
    )


def proposed_customers(*, fetched_by: UserLike, operation: Operation, branch: Node) -> QuerySet[Customer]:
    """The customers of ``branch`` that head office's send proposes (reviewed or not)."""
    return (
        customers_visible_to(fetched_by)
        .filter(network_id=operation.network_id, branch_id=branch.pk, erased_at__isnull=True)
        .filter(_proposed_condition(fetched_by, operation))
    )


def review_rows(*, fetched_by: UserLike, operation: Operation, branch: Node) -> QuerySet[Customer]:
    """The review list of a branch: the customers head office proposes and those the branch
    added, each with ``review_state`` (kept, removed, added) and ``review_reason``."""
    own = customers_visible_to(fetched_by).filter(network_id=operation.network_id, branch_id=branch.pk,
                                                  erased_at__isnull=True)
    added = _reviews(operation, NationalTargetReview.Action.ADD)
    rows = own.filter(_proposed_condition(fetched_by, operation) | Q(Exists(added)))
    return _with_state(rows, operation)


def review_list(
    *, fetched_by: UserLike, operation: Operation, branch: Node, search: str = "", state: str = "",
    segment: str = "",
) -> QuerySet[Customer]:
    """The review list narrowed by free text (name, e-mail, CRM id), state and segment, by name."""
    rows = review_rows(fetched_by=fetched_by, operation=operation, branch=branch)
    search = (search or "").strip()
    if search:
        rows = rows.filter(Q(last_name__icontains=search) | Q(first_name__icontains=search)
                           | Q(email__icontains=search) | Q(external_id__iexact=search) | Q(public_id=search))
    if state in STATES:
        rows = rows.filter(review_state=state)
    if segment:
        rows = rows.filter(segment=segment)
    return rows.order_by("last_name", "first_name", "id")


def review_segments(*, fetched_by: UserLike, operation: Operation, branch: Node) -> list[str]:
    """The segments found in the branch's review list (the segment filter's choices)."""
    return list(review_rows(fetched_by=fetched_by, operation=operation, branch=branch).exclude(segment="")
                .order_by("segment").values_list("segment", flat=True).distinct())


def addable_customers(*, fetched_by: UserLike, operation: Operation, branch: Node, search: str,
                      limit: int = 20) -> list[Customer]:
    """The branch's own customers matching ``search`` that are not in its review list yet."""
    search = (search or "").strip()
    if not search:
        return []
    rows = review_rows(fetched_by=fetched_by, operation=operation, branch=branch)
    return list(
        customers_visible_to(fetched_by)
        .filter(network_id=operation.network_id, branch_id=branch.pk, erased_at__isnull=True)
        .exclude(pk__in=rows.values("pk"))
        .filter(Q(last_name__icontains=search) | Q(first_name__icontains=search) | Q(email__icontains=search)
                | Q(external_id__iexact=search) | Q(public_id=search))
        .order_by("last_name", "first_name", "id")[:limit]
    )


@dataclass(frozen=True)
class ReviewCounts:
    branch: Node
    kept: int = 0
    removed: int = 0
    added: int = 0

    @property
    def total(self) -> int:
        """How many customers of the branch head office's send will target after the review."""
        return self.kept + self.added


def review_counts(*, fetched_by: UserLike, operation: Operation, branches=None) -> list[ReviewCounts]:
    """Per branch (those ``fetched_by`` reviews, or ``branches`` among them): how many proposed
    customers are kept (reviewed or not), removed, and how many the branch added — in one grouped
    query. Branches with nothing proposed nor added appear with zeros."""
    visible = review_branches(fetched_by, operation)
    if branches is not None:
        visible = visible.filter(pk__in=[branch.pk for branch in branches])
    visible = list(visible)
    if not visible:
        return []
    added = _reviews(operation, NationalTargetReview.Action.ADD)
    rows = (
        customers_visible_to(fetched_by)
        .filter(network_id=operation.network_id, branch_id__in=[branch.pk for branch in visible],
                erased_at__isnull=True)
        .filter(_proposed_condition(fetched_by, operation) | Q(Exists(added)))
    )
    grouped = (
        _with_state(rows, operation).order_by().values("branch_id")
        .annotate(kept=Count("pk", filter=Q(review_state=KEPT)), removed=Count("pk", filter=Q(review_state=REMOVED)),
                  added=Count("pk", filter=Q(review_state=ADDED)))
    )
    by_branch = {row["branch_id"]: row for row in grouped}
    return [
        ReviewCounts(branch=branch, kept=by_branch.get(branch.pk, {}).get("kept", 0),
                     removed=by_branch.get(branch.pk, {}).get("removed", 0),
                     added=by_branch.get(branch.pk, {}).get("added", 0))
        for branch in visible
    ]
