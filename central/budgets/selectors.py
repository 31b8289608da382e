"""Reads of budgets, always on behalf of a user (what a campaign costs: ``central/budgets/costs.py``)."""

from __future__ import annotations

from datetime import date

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from central.models import Budget
from local_stores.selectors import UserLike, branches_visible_to


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
