"""Writes of the branches' review of head office's national target: a module of the service layer
(like ``central/budgets/costs.py``), beside ``central/campaigns/services.py``.

A branch removes one of the customers head office's national send proposes to it (with a reason
from a short list), restores one it removed, or adds one of its own customers the criteria left
out; until the review's deadline (the operation's subscription deadline, else the day before head
office's first send). Each function is keyword-only, runs in its own transaction, is safe to call
twice (a double submit changes nothing more) and writes what it did to the audit trail of each of
head office's live sends of the operation (``CampaignEvent``: ``target_review_remove``,
``target_review_restore``, ``target_review_add``; the campaign history shows the customer's name
only to who sees the customers).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from central.calendar.selectors import operation_eligible_branches
from central.campaigns.target_review_selectors import (
    head_office_passes_by,
    head_office_sends,
    proposed_customers,
    review_deadline,
)
from central.campaigns.targeting import reachable_on
from central.models import CampaignEvent, Customer, NationalTargetReview, Operation, OperationStatus
from local_stores.selectors import node_in_scope

Action = NationalTargetReview.Action


def _check(*, operation: Operation, customer: Customer, by) -> None:
    """What every review needs: someone acting for the customer's branch (change_node), a customer
    of the operation's network still on file, an eligible branch, a published operation with a
    live head-office send, before the deadline."""

    branch = customer.branch
    if not node_in_scope(by, branch, perm="change_node"):
        raise PermissionDenied(_("You do not act for this customer's branch."))
    if customer.network_id != operation.network_id or customer.erased_at is not None:
        raise ValidationError({"customer": [_("This customer is not one of your branch's.")]})
    if operation.status != OperationStatus.PUBLISHED:
        raise ValidationError(_("This operation is not open."))
    deadline = review_deadline(operation)
    if deadline is None:
        raise ValidationError(_("Head office sends nothing of its own for this operation: there is no target to review."))
    if not operation_eligible_branches(operation).filter(pk=branch.pk).exists():
        raise ValidationError(_("This operation is not open to %(branch)s.") % {"branch": branch.name})
    if timezone.localdate() > deadline:
        raise ValidationError(_("The review closed on %(date)s: head office's target goes as proposed.") % {
            "date": date_format(deadline, "SHORT_DATE_FORMAT")})
    passes_by = head_office_passes_by(operation, branch)
    if passes_by == "declined":
        raise ValidationError(_("Your branch declined this operation: head office's send reaches none of your "
                                "customers, there is nothing to review."))
    if passes_by == "own_version":
        raise ValidationError(_("Your branch sends its own version of this operation: head office's send reaches "
                                "none of your customers, there is nothing to review."))


def _log(*, operation: Operation, customer: Customer, action: str, by, reason: str = "") -> None:
    changes = {"branch": customer.branch.name, "customer": customer.public_id, "name": customer.full_name}
    if reason:
        changes["reason"] = str(NationalTargetReview.RemovalReason(reason).label)
    CampaignEvent.objects.bulk_create([
        CampaignEvent(campaign=campaign, action=f"target_review_{action}", by=by, changes=changes)
        for campaign in head_office_sends(operation)
    ])


def _current(operation: Operation, customer: Customer) -> NationalTargetReview | None:
    """The customer's review, locked; a review left by a branch the customer no longer belongs to
    no longer counts and is dropped."""
    review = NationalTargetReview.objects.select_for_update().filter(operation=operation, customer=customer).first()
    if review is not None and review.branch_id != customer.branch_id:
        review.delete()
        return None
    return review


def _is_proposed(operation: Operation, customer: Customer, by) -> bool:
    return proposed_customers(fetched_by=by, operation=operation, branch=customer.branch).filter(pk=customer.pk).exists()


def _create(*, operation: Operation, customer: Customer, action: str, reason: str, by) -> NationalTargetReview:
    """Record a review; a concurrent double submit that got there first wins (same answer)."""
    try:
        with transaction.atomic():
            return NationalTargetReview.objects.create(operation=operation, branch=customer.branch, customer=customer,
                                                       action=action, reason=reason, by=by, at=timezone.now())
    except IntegrityError:
        return NationalTargetReview.objects.get(operation=operation, customer=customer)


def _fresh(customer: Customer) -> Customer:
    return Customer.objects.select_related("branch").get(pk=customer.pk)


@transaction.atomic
def review_remove(*, operation: Operation, customer: Customer, reason: str, by) -> NationalTargetReview | None:
    """Take one of the customers head office proposes to the branch off the national target, with
    a reason from ``NationalTargetReview.RemovalReason``. On a customer the branch had added, it
    withdraws the addition (no reason needed; returns None). Removing twice keeps the first removal,
    with the reason given last."""
    customer = _fresh(customer)
    _check(operation=operation, customer=customer, by=by)
    review = _current(operation, customer)
    if review is not None and review.action == Action.ADD:
        review.delete()
        _log(operation=operation, customer=customer, action="restore", by=by)
        return None
    if reason not in NationalTargetReview.RemovalReason.values:
        raise ValidationError({"reason": [_("Choose why this customer should not receive head office's message.")]})
    if review is not None:  # already removed: a double submit, or a new reason
        if review.reason != reason:
            review.reason, review.by, review.at = reason, by, timezone.now()
            review.save(update_fields=["reason", "by", "at"])
            _log(operation=operation, customer=customer, action="remove", by=by, reason=reason)
        return review
    if not _is_proposed(operation, customer, by):
        raise ValidationError({"customer": [_("Head office's send does not propose %(name)s: nothing to remove.") % {
            "name": customer.full_name}]})
    review = _create(operation=operation, customer=customer, action=Action.REMOVE, reason=reason, by=by)
    _log(operation=operation, customer=customer, action="remove", by=by, reason=reason)
    return review


@transaction.atomic
def review_restore(*, operation: Operation, customer: Customer, by) -> None:
    """Undo the branch's review of a customer: a removed one goes back to the target as proposed,
    an added one leaves it. Restoring a customer with no review changes nothing."""
    customer = _fresh(customer)
    _check(operation=operation, customer=customer, by=by)
    review = _current(operation, customer)
    if review is None:
        return
    review.delete()
    _log(operation=operation, customer=customer, action="restore", by=by)


@transaction.atomic
def review_add(*, operation: Operation, customer: Customer, by) -> NationalTargetReview:
    """Add one of the branch's own customers that head office's send does not propose. Refused for
    a customer already proposed (restore them if the branch removed them) and for one no channel of
    head office's sends can reach. Adding twice records one addition."""
    customer = _fresh(customer)
    _check(operation=operation, customer=customer, by=by)
    review = _current(operation, customer)
    if review is not None and review.action == Action.ADD:
        return review
    if review is not None:
        raise ValidationError({"customer": [_(
            "%(name)s is already in head office's target and you removed them: restore them instead.") % {
            "name": customer.full_name}]})
    if _is_proposed(operation, customer, by):
        raise ValidationError({"customer": [_("%(name)s is already in head office's target.") % {
            "name": customer.full_name}]})
    channels = set(head_office_sends(operation).values_list("channel", flat=True))
    reachable = Q(pk__in=[])
    for channel in channels:
        reachable |= reachable_on(channel)
    if not Customer.objects.filter(pk=customer.pk).filter(reachable).exists():
        raise ValidationError({"customer": [_(
            "%(name)s cannot be reached by head office's send (no consent, an objection or no address).") % {
            "name": customer.full_name}]})
    review = _create(operation=operation, customer=customer, action=Action.ADD, reason="", by=by)
    _log(operation=operation, customer=customer, action="add", by=by)
    return review
