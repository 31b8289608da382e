"""The dashboard: the statistics the user sees over a period, over time and broken down, their
branch beside the network's branches, and the table as CSV or XLSX. Thin: forms validate, the
selectors read (scoped), the templates show."""

from datetime import timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from central.campaigns.selectors import campaign_get
from central.spreadsheets import csv_lines, rows_xlsx
from reporting import charts, exports
from reporting.forms import BREAKDOWN_CHOICES, DashboardFilterForm
from reporting.selectors import (
    DEFAULT_BREAKDOWN,
    ENGAGEMENT,
    LEADERBOARD_MIN_SENT,
    attribution_days_for,
    branch_comparison,
    breakdown_for,
    local_leaderboard,
    pressure_received,
    report_scope,
    stats_breakdown,
    stats_excluded,
    stats_for_period,
    totals_sum,
)
from reporting.services import campaign_promote


@login_required
@require_GET
def dashboard_view(request: HttpRequest) -> HttpResponse:
    scope, node = report_scope(request.user)
    data = request.GET if request.GET else DashboardFilterForm.initial_for(DEFAULT_BREAKDOWN[scope])
    form = DashboardFilterForm(data)
    context = {"form": form, "scope": scope, "node": node}
    if not form.is_valid():
        return render(request, "reporting/dashboard.html", context, status=400 if request.GET else 200)
    starts_on, ends_on = form.cleaned_data["starts_on"], form.cleaned_data["ends_on"]
    channel, by = form.cleaned_data["channel"], form.cleaned_data["by"]
    stats = stats_for_period(request.user, starts_on=starts_on, ends_on=ends_on, channel=channel)
    rows = breakdown_for(request.user, stats, by)
    group = dict(BREAKDOWN_CHOICES)[by]
    export = request.GET.get("export")
    table = request.GET.get("table", "")
    if export in ("csv", "xlsx") and table:
        return _table_export(request, table, export, scope=scope, node=node, stats=stats, starts_on=starts_on,
                             ends_on=ends_on, channel=channel)
    if export == "csv":
        response = StreamingHttpResponse(exports.breakdown_csv(str(group), rows), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="relais-report-{by}-{starts_on}-{ends_on}.csv"'
        return response
    if export == "xlsx":
        response = HttpResponse(exports.breakdown_xlsx(str(group), rows),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        response["Content-Disposition"] = f'attachment; filename="relais-report-{by}-{starts_on}-{ends_on}.xlsx"'
        return response
    totals = totals_sum(item for _key, _label, item in rows)  # the groups add up to the whole
    excluded = stats_excluded(stats)
    days = [starts_on + timedelta(days=n) for n in range((ends_on - starts_on).days + 1)]
    per_day = {key: totals_of_day for key, _label, totals_of_day in stats_breakdown(stats, "day", ENGAGEMENT)}
    chart = None
    if totals.sent or totals.opened or totals.clicked:
        chart = charts.over_time(_("Messages over the period"), days, {
            _("Sent"): [per_day[day].sent if day in per_day else 0 for day in days],
            _("Opened"): [per_day[day].opened if day in per_day else 0 for day in days],
            _("Clicked"): [per_day[day].clicked if day in per_day else 0 for day in days],
        })
    leaderboard = pressure = None
    if scope == "network":
        leaderboard = local_leaderboard(request.user, network_id=None, starts_on=starts_on, ends_on=ends_on,
                                        channel=channel)
        pressure = pressure_received(request.user, starts_on=starts_on, ends_on=ends_on)
    comparison = None
    if scope == "branch":
        comparison = branch_comparison(branch=node, starts_on=starts_on, ends_on=ends_on, channel=channel)
    query = {key: str(value) for key, value in (form.cleaned_data | {"by": by}).items()}
    context.update({"totals": totals, "rows": rows, "group": group, "by": by, "chart": chart,
                    "per_day": [(day, per_day[day]) for day in days if day in per_day],
                    "comparison": comparison, "leaderboard": leaderboard, "pressure": pressure, "excluded": excluded,
                    "pressure_total": sum(bucket.customer_weeks for bucket in pressure or []) or 1,
                    "min_sent": LEADERBOARD_MIN_SENT, "query": urlencode(query),
                    "attribution_days": attribution_days_for(request.user)})
    return render(request, "reporting/dashboard.html", context)


def _table_export(request: HttpRequest, table: str, export: str, *, scope: str, node, stats, starts_on, ends_on,
                  channel: str) -> HttpResponse:
    """One of the dashboard's other tables as a file, built by the same scoped reads as the page
    (a table the user's page does not show: 404)."""
    if table == "excluded":
        rows = exports.excluded_rows(stats_excluded(stats))
    elif table == "comparison" and scope == "branch":
        rows = exports.comparison_rows(branch_comparison(branch=node, starts_on=starts_on, ends_on=ends_on,
                                                         channel=channel))
    elif table == "leaderboard" and scope == "network":
        rows = exports.leaderboard_rows(local_leaderboard(request.user, network_id=None, starts_on=starts_on,
                                                          ends_on=ends_on, channel=channel))
    elif table == "pressure" and scope == "network":
        rows = exports.pressure_rows(pressure_received(request.user, starts_on=starts_on, ends_on=ends_on))
    else:
        raise Http404
    name = f"relais-report-{table}-{starts_on}-{ends_on}"
    if export == "csv":
        response = StreamingHttpResponse(csv_lines(iter(rows)), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(rows_xlsx(table, iter(rows)),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="{name}.{export}"'
    return response


@login_required
@require_POST
def campaign_promote_view(request: HttpRequest, public_id: str) -> HttpResponse:
    """Head office turns a local campaign of the leaderboard into a new template (its draft opens)."""
    campaign = campaign_get(fetched_by=request.user, public_id=public_id)  # 404 for a campaign not seen
    try:
        draft = campaign_promote(campaign=campaign, promoted_by=request.user)
    except PermissionDenied:
        raise
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("reporting:dashboard")
    messages.success(request, _("The campaign's content is now the draft of a new template: review it, then publish it "
                                "and offer it to the branches in an operation or a kit."))
    return redirect("templates_lib:draft-edit", public_id=draft.public_id)
