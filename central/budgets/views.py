"""The budget page: per branch, what head office allocated, what approved campaigns commit, what
sent ones spent, what remains — scoped by the one selector (``budgets_visible_to``), totalled per
region and for the network, downloadable as CSV or Excel; head office allocates from it."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from central.budgets import costs as budgets
from central.budgets.forms import BudgetAllocateForm, BudgetPeriodForm
from central.budgets.selectors import budgets_overlapping
from central.budgets.services import budget_allocate
from central.calendar.selectors import networks_planned_by
from central.spreadsheets import csv_lines, rows_xlsx, spreadsheet_safe
from local_stores.money import money
from local_stores.selectors import branches_visible_to


def budget_rows(user, *, starts_on: date, ends_on: date) -> list[budgets.BudgetStatus]:
    """Where each budget ``user`` sees over the period stands."""
    return budgets.budget_statuses(budgets_overlapping(user, starts_on=starts_on, ends_on=ends_on)
                                   .select_related("branch__parent"))  # the page groups them by region


def _totals(rows: list[budgets.BudgetStatus]) -> dict[str, Decimal]:
    allocated = sum((row.budget.amount for row in rows), Decimal("0.00"))
    committed = sum((row.committed for row in rows), Decimal("0.00"))
    spent = sum((row.spent for row in rows), Decimal("0.00"))
    return {"allocated": allocated, "committed": committed, "spent": spent,
            "remaining": allocated - committed - spent}


def _table(rows: list[budgets.BudgetStatus]) -> list[list]:
    header = [_("branch"), _("region"), _("from"), _("until"), _("allocated"), _("committed"), _("spent"),
              _("remaining")]
    return [header, *([spreadsheet_safe(row.budget.branch.name), spreadsheet_safe(row.budget.region.name
                                                                                   if row.budget.region else ""),
                       row.budget.starts_on.isoformat(), row.budget.ends_on.isoformat(), float(row.budget.amount),
                       float(row.committed), float(row.spent), float(row.remaining)] for row in rows)]


def _period(request: HttpRequest) -> BudgetPeriodForm:
    today = timezone.localdate()
    data = request.GET if "starts_on" in request.GET else {
        "starts_on": date(today.year, 1, 1).isoformat(), "ends_on": date(today.year, 12, 31).isoformat()}
    return BudgetPeriodForm(data, auto_id="period_%s")  # its ids apart from the allocation form's (same names)


@login_required
@require_GET
def budget_list_view(request: HttpRequest) -> HttpResponse:
    if not branches_visible_to(request.user).exists():
        raise Http404
    period = _period(request)
    networks = networks_planned_by(request.user)
    context: dict[str, object] = {"period": period, "can_allocate": networks.exists(),
                                  "allocate_form": BudgetAllocateForm(network=networks.first()) if networks.exists()
                                  else None}
    if not period.is_valid():
        return render(request, "central/budgets.html", context, status=400)
    starts_on, ends_on = period.cleaned_data["starts_on"], period.cleaned_data["ends_on"]
    rows = budget_rows(request.user, starts_on=starts_on, ends_on=ends_on)
    export = request.GET.get("export")
    name = f"relais-budgets-{starts_on}-{ends_on}"
    if export == "csv":
        response = StreamingHttpResponse(csv_lines(iter(_table(rows))), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return response
    if export == "xlsx":
        response = HttpResponse(rows_xlsx(_("Budgets"), iter(_table(rows))),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
        return response
    by_region: dict[str, list] = defaultdict(list)
    for row in rows:
        by_region[row.budget.branch.parent.name if row.budget.branch.parent_id else ""].append(row)
    context.update({"rows": rows, "totals": _totals(rows), "regions": [
        (region, _totals(members)) for region, members in sorted(by_region.items())] if len(by_region) > 1 else [],
        "query": request.GET.urlencode() or f"starts_on={starts_on}&ends_on={ends_on}"})
    return render(request, "central/budgets.html", context)


@login_required
@require_POST
def budget_allocate_view(request: HttpRequest) -> HttpResponse:
    network = networks_planned_by(request.user).first()
    if network is None:
        raise Http404
    form = BudgetAllocateForm(request.POST, network=network)
    if form.is_valid():
        try:
            created = budget_allocate(network=network, allocated_by=request.user, **form.cleaned_data)
        except ValidationError as error:
            for field, problems in error.message_dict.items():
                for problem in problems:
                    form.add_error(field if field in form.fields else None, problem)
        except PermissionDenied:
            raise
        else:
            # the page then shows the period just allocated: the budgets are there, whatever the year
            starts_on, ends_on = form.cleaned_data["starts_on"], form.cleaned_data["ends_on"]
            messages.success(request, ngettext(
                "%(amount)s allocated to %(count)s branch from %(start)s to %(end)s.",
                "%(amount)s allocated to %(count)s branches from %(start)s to %(end)s.", len(created)) % {
                "amount": money(sum((budget.amount for budget in created), Decimal("0.00"))), "count": len(created),
                "start": date_format(starts_on, "SHORT_DATE_FORMAT"), "end": date_format(ends_on, "SHORT_DATE_FORMAT")})
            return redirect(f"{reverse('budgets:budget-list')}?starts_on={starts_on.isoformat()}"
                            f"&ends_on={ends_on.isoformat()}")
    period = _period(request)
    period.is_valid()
    rows = budget_rows(request.user, starts_on=period.cleaned_data["starts_on"], ends_on=period.cleaned_data["ends_on"])
    return render(request, "central/budgets.html", {
        "period": period, "can_allocate": True, "allocate_form": form, "rows": rows, "totals": _totals(rows),
        "regions": [], "query": ""}, status=400)
