"""Writes of budgets: head office allocates them to branches (a region's shared among its branches)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from central.calendar.selectors import require_planner
from central.models import Budget
from local_stores.models import Network, Node, NodeKind

#: An allocation at or above this is a typo.
BUDGET_MAX = Decimal("1000000000")


#: A budget covers a year at most.
BUDGET_MAX_DAYS = 366


def budget_allocate(*, network: Network, node: Node, starts_on, ends_on, amount, allocated_by, note: str = ""):
    """Head office gives ``amount`` to a branch, or to a region — split equally among its active
    branches, the odd cents to the first ones by name — for the campaigns sent in [starts_on,
    ends_on]. A branch has one budget per day: a period overlapping one of its budgets is refused
    (change that one instead). ValidationError by field; PermissionDenied for anyone but the
    network's planners. Returns the rows created."""
    require_planner(allocated_by, network)
    errors: dict[str, list[str]] = {}
    if node.network_id != network.pk or node.kind not in (NodeKind.BRANCH, NodeKind.REGION):
        errors.setdefault("node", []).append(_("Choose a branch or a region of this network."))
    if not starts_on or not ends_on:
        errors.setdefault("ends_on", []).append(_("Give the first and the last day."))
    elif ends_on < starts_on:
        errors.setdefault("ends_on", []).append(_("The last day comes before the first."))
    elif (ends_on - starts_on).days + 1 > BUDGET_MAX_DAYS:
        errors.setdefault("ends_on", []).append(_("A budget covers %(days)s days at most.") % {"days": BUDGET_MAX_DAYS})
    try:
        amount = Decimal(str(amount))
        if not amount.is_finite() or amount < 0 or amount >= BUDGET_MAX or amount != amount.quantize(Decimal("0.01")):
            raise InvalidOperation
    except (InvalidOperation, TypeError, ValueError):
        errors.setdefault("amount", []).append(_("An amount is a positive number, to the cent."))
    if len(note or "") > 200:
        errors.setdefault("note", []).append(_("200 characters at most."))
    if errors:
        raise ValidationError(errors)
    if node.kind == NodeKind.REGION:
        branches = list(Node.objects.filter(network=network, kind=NodeKind.BRANCH, is_active=True,
                                            path__startswith=node.path).exclude(pk=node.pk).order_by("name", "pk"))
        if not branches:
            raise ValidationError({"node": [_("This region has no active branch to share the budget.")]})
    else:
        branches = [node]
    taken = Budget.objects.filter(branch__in=branches, starts_on__lte=ends_on, ends_on__gte=starts_on).select_related(
        "branch").order_by("branch__name")
    if taken.exists():
        first = taken.first()
        raise ValidationError({"starts_on": [_(
            "%(branch)s already has a budget from %(start)s to %(end)s: change that one, or choose other days.") % {
            "branch": first.branch.name, "start": date_format(first.starts_on, "SHORT_DATE_FORMAT"),
            "end": date_format(first.ends_on, "SHORT_DATE_FORMAT")}]})
    cents = int(amount * 100)
    share, extra = divmod(cents, len(branches))
    region = node if node.kind == NodeKind.REGION else None
    with transaction.atomic():
        return Budget.objects.bulk_create([
            Budget(network=network, branch=branch, region=region, starts_on=starts_on, ends_on=ends_on,
                   amount=Decimal(share + (1 if index < extra else 0)) / 100, note=note, created_by=allocated_by)
            for index, branch in enumerate(branches)])
