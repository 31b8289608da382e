"""The dashboard: the statistics the user sees over a period, over time and broken down, their
branch beside the network's branches, and the table as CSV or XLSX. Thin: forms validate, the
selectors read (scoped), the templates show."""

from datetime import timedelta
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from central.models import Channel
from central.selectors import campaigns_visible_to
from local_stores.models import NodeKind
from local_stores.selectors import nodes_in_scope
from reporting import charts, exports
from reporting.forms import BREAKDOWN_CHOICES, DashboardFilterForm
from reporting.selectors import branch_comparison, stats_breakdown, stats_for_period, stats_totals


def _scope(user) -> tuple[str, object]:
    """What the user looks at: ("network", None), ("region", node), ("branch", node) or ("none", None)."""
    nodes = nodes_in_scope(user)
    kinds = set(nodes.values_list("kind", flat=True))
    if NodeKind.HEAD_OFFICE in kinds:
        return "network", None
    if NodeKind.REGION in kinds:
        return "region", nodes.filter(kind=NodeKind.REGION).order_by("path").first()
    branches = list(nodes.filter(kind=NodeKind.BRANCH).order_by("path")[:2])
    if len(branches) == 1:
        return "branch", branches[0]
    return ("region", None) if branches else ("none", None)


_DEFAULT_BREAKDOWN = {"network": "operation", "region": "branch", "branch": "campaign", "none": "campaign"}


def _labelled(rows, by: str, user) -> list:
    """The breakdown's rows with readable labels: a campaign by its operation or template and its
    branch (among the campaigns the user sees), a channel by its name, the groups without a value
    by what that means."""
    if by == "campaign":
        names = {campaign.pk: str(campaign) for campaign in campaigns_visible_to(user).filter(pk__in=[r[0] for r in rows])}
        return [(key, names.get(key, label), totals) for key, label, totals in rows]
    if by == "channel":
        return [(key, str(Channel(key).label) if key in Channel.values else label, totals) for key, label, totals in rows]
    empty = {"operation": _("Without an operation"), "region": _("Head office"), "branch": _("Head office")}.get(by, "")
    return [(key, label or empty, totals) for key, label, totals in rows]


@login_required
@require_GET
def dashboard_view(request: HttpRequest) -> HttpResponse:
    scope, node = _scope(request.user)
    data = request.GET if request.GET else DashboardFilterForm.initial_for(_DEFAULT_BREAKDOWN[scope])
    form = DashboardFilterForm(data)
    context = {"form": form, "scope": scope, "node": node}
    if not form.is_valid():
        return render(request, "reporting/dashboard.html", context, status=400 if request.GET else 200)
    starts_on, ends_on = form.cleaned_data["starts_on"], form.cleaned_data["ends_on"]
    channel, by = form.cleaned_data["channel"], form.cleaned_data["by"]
    stats = stats_for_period(request.user, starts_on=starts_on, ends_on=ends_on, channel=channel)
    rows = _labelled(stats_breakdown(stats, by), by, request.user)
    group = dict(BREAKDOWN_CHOICES)[by]
    export = request.GET.get("export")
    if export == "csv":
        response = StreamingHttpResponse(exports.breakdown_csv(str(group), rows), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="relais-report-{by}-{starts_on}-{ends_on}.csv"'
        return response
    if export == "xlsx":
        response = HttpResponse(exports.breakdown_xlsx(str(group), rows),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        response["Content-Disposition"] = f'attachment; filename="relais-report-{by}-{starts_on}-{ends_on}.xlsx"'
        return response
    totals = stats_totals(stats)
    days = [starts_on + timedelta(days=n) for n in range((ends_on - starts_on).days + 1)]
    per_day = {key: totals_of_day for key, _label, totals_of_day in stats_breakdown(stats, "day")}
    chart = None
    if totals.sent or totals.opened or totals.clicked:
        chart = charts.over_time(_("Messages over the period"), days, {
            _("sent"): [per_day[day].sent if day in per_day else 0 for day in days],
            _("opened"): [per_day[day].opened if day in per_day else 0 for day in days],
            _("clicked"): [per_day[day].clicked if day in per_day else 0 for day in days],
        })
    comparison = None
    if scope == "branch":
        comparison = branch_comparison(branch=node, starts_on=starts_on, ends_on=ends_on, channel=channel)
    query = {key: str(value) for key, value in (form.cleaned_data | {"by": by}).items()}
    context.update({"totals": totals, "rows": rows, "group": group, "by": by, "chart": chart,
                    "per_day": [(day, per_day[day]) for day in days if day in per_day],
                    "comparison": comparison, "query": urlencode(query)})
    return render(request, "reporting/dashboard.html", context)
