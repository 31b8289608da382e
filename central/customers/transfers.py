"""Ownership transfers: a branch asks for a customer of another branch, head office or the regional
manager over both decides. The reads (on behalf of a user) first, then the writes."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _

from central.customers import importing as customer_import
from central.models import Customer, OwnershipTransfer, TransferStatus
from local_stores.models import Node, NodeKind
from local_stores.selectors import UserLike, node_in_scope, nodes_in_scope, scope_paths


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


def _customer_for_transfer(network_id: int, reference: str):
    """The one customer of the network that ``reference`` designates (public id, CRM id, e-mail or
    mobile); ValidationError on ``customer`` for none or several."""
    reference = (reference or "").strip()
    if not reference:
        raise ValidationError({"customer": [_("Give the customer's CRM id, e-mail address or mobile number.")]})
    condition = Q(public_id=reference) | Q(external_id=reference)
    if "@" in reference:
        condition |= Q(email=reference.lower())
    mobile = customer_import.normalise_mobile(reference)
    if mobile:
        condition |= Q(mobile=mobile)
    matches = list(Customer.objects.filter(network_id=network_id).filter(condition).select_related("branch")[:2])
    if not matches:
        raise ValidationError({"customer": [_("No customer of the network matches “%(reference)s”.") % {
            "reference": reference}]})
    if len(matches) > 1:
        raise ValidationError({"customer": [_("Several customers match “%(reference)s”: give the CRM id.") % {
            "reference": reference}]})
    return matches[0]


def ownership_transfer_request(*, to_branch: Node, customer_reference: str, requested_by, note: str = ""):
    """A branch asks that a customer of another branch of its network becomes its own, naming them
    by CRM id, e-mail or mobile (it does not see them yet). Whoever may decide (head office, the
    regional manager over both branches) moves the customer at once: the transfer is recorded
    accepted. ValidationError by field; PermissionDenied for a branch the user does not act for."""
    if (to_branch.kind != NodeKind.BRANCH or not to_branch.is_active
            or not node_in_scope(requested_by, to_branch, perm="change_node")):
        raise PermissionDenied(_("You do not act for this branch."))
    note = (note or "").strip()
    if len(note) > 1000:
        raise ValidationError({"note": [_("1000 characters at most.")]})
    customer = _customer_for_transfer(to_branch.network_id, customer_reference)
    if customer.branch_id == to_branch.pk:
        raise ValidationError({"customer": [_("This customer already belongs to %(branch)s.") % {
            "branch": to_branch.name}]})
    now = timezone.now()
    try:
        with transaction.atomic():
            customer = Customer.objects.select_for_update().select_related("branch").get(pk=customer.pk)
            if OwnershipTransfer.objects.filter(customer=customer, status=TransferStatus.REQUESTED).exists():
                raise ValidationError({"customer": [_("A transfer of this customer is already waiting for a "
                                                      "decision.")]})
            transfer = OwnershipTransfer.objects.create(
                network_id=to_branch.network_id, customer=customer, from_branch=customer.branch, to_branch=to_branch,
                requested_as=(customer_reference or "").strip()[:254], note=note, requested_by=requested_by,
                requested_at=now)
            if ownership_transfer_can_decide(requested_by, transfer):
                _transfer_accept(transfer, decided_by=requested_by, note="")
    except IntegrityError:  # another request for the same customer, at the same moment
        raise ValidationError({"customer": [_("A transfer of this customer is already waiting for a decision.")]}) \
            from None
    return transfer


def _transfer_accept(transfer, *, decided_by, note: str) -> None:
    Customer.objects.filter(pk=transfer.customer_id).update(branch=transfer.to_branch, updated_at=timezone.now())
    transfer.status, transfer.decided_by, transfer.decided_at = TransferStatus.ACCEPTED, decided_by, timezone.now()
    transfer.decision_note = note
    transfer.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])


@transaction.atomic
def ownership_transfer_decide(*, transfer, decided_by, accept: bool, note: str = ""):
    """Head office or the regional manager over both branches accepts (the customer changes branch)
    or refuses a waiting transfer. Refused with a clear message if it was decided meanwhile or the
    customer changed branch since."""
    transfer = OwnershipTransfer.objects.select_for_update().select_related(
        "customer", "from_branch", "to_branch").get(pk=transfer.pk)
    if not ownership_transfer_can_decide(decided_by, transfer):
        raise PermissionDenied(_("Only head office or the regional manager over both branches decides."))
    if transfer.status != TransferStatus.REQUESTED:
        raise ValidationError(_("This transfer was already decided."))
    note = (note or "").strip()
    if len(note) > 1000:
        raise ValidationError({"note": [_("1000 characters at most.")]})
    customer = Customer.objects.select_for_update().get(pk=transfer.customer_id)
    if accept:
        if customer.branch_id != transfer.from_branch_id:
            raise ValidationError(_("The customer changed branch since the request: refuse it."))
        _transfer_accept(transfer, decided_by=decided_by, note=note)
    else:
        transfer.status, transfer.decided_by, transfer.decided_at = TransferStatus.REFUSED, decided_by, timezone.now()
        transfer.decision_note = note
        transfer.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    return transfer
