"""Head office's conflict report: for a send window, which campaigns lost customers to which, how
many and why, per branch and per operation, from the latest simulation of exactly that window
(*Run the simulation again* makes a new one), with the detail as CSV.

Thin: reads through ``central.conflicts.selectors`` (on ``simulation_candidates``), the run through the
simulation's service. Only the people who plan a network's calendar see its report (404 for
anyone else, as for a network that does not exist)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from central.calendar.selectors import networks_planned_by
from central.conflicts.selectors import (
    conflict_csv_rows,
    conflict_groups,
    conflict_lines,
    conflict_pair_rows,
    conflict_pairs,
    conflict_run,
    conflict_totals,
)
from central.rules.forms import SimulationWindowForm
from central.rules.services import arbitration_simulate
from central.spreadsheets import csv_lines

#: Pairs of campaigns (loser → winner) per page.
PAIRS_PER_PAGE = 25
#: Branches and operations shown (the largest losses first); the others are summed in one row,
#: and every line is in the CSV.
GROUPS_SHOWN = 20


def _network(request: HttpRequest):
    """The network asked for (``network`` slug) among those the user plans, else the first; 404
    if none (another network's, or a missing one)."""
    networks = networks_planned_by(request.user).order_by("name")
    wanted = request.POST.get("network") or request.GET.get("network")
    network = networks.filter(slug=wanted).first() if wanted else networks.first()
    if network is None:
        raise Http404
    return network


def _window_form(request: HttpRequest) -> SimulationWindowForm:
    """The window asked for; by default the next 14 days (from tomorrow), as on the simulation page."""
    data = request.POST if request.method == "POST" else request.GET
    if not data.get("from") and not data.get("to"):
        tomorrow = timezone.localdate() + timedelta(days=1)
        data = {"from": tomorrow.isoformat(), "to": (tomorrow + timedelta(days=13)).isoformat()}
    return SimulationWindowForm(data)


def _capped(groups: list) -> tuple[list, dict | None]:
    """The first GROUPS_SHOWN groups, and the others summed (or None)."""
    shown, rest = groups[:GROUPS_SHOWN], groups[GROUPS_SHOWN:]
    if not rest:
        return shown, None
    return shown, {"count": len(rest), "lost": sum(group.lost for group in rest)}


def _csv(network, starts_on, ends_on, lines) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_lines(conflict_csv_rows(lines)), content_type="text/csv; charset=utf-8")
    name = f"conflicts-{network.slug}-{starts_on.isoformat()}-{ends_on.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def conflicts_view(request: HttpRequest) -> HttpResponse:
    """GET: the report of the latest simulation of exactly the days asked (``from``, ``to``;
    ``export=csv``: its detail). POST: run the simulation of those days again."""
    network = _network(request)
    form = _window_form(request)
    valid = form.is_valid()
    if request.method == "POST" and valid:
        starts_on, ends_on = form.cleaned_data["from"], form.cleaned_data["to"]
        try:
            arbitration_simulate(network=network, starts_on=starts_on, ends_on=ends_on, run_by=request.user)
        except ValidationError as error:
            names = {"starts_on": "from", "ends_on": "to"}
            for key, errors in getattr(error, "message_dict", {"__all__": error.messages}).items():
                for message in errors:
                    form.add_error(names.get(key) if names.get(key) in form.fields else None, message)
        except PermissionDenied as error:  # the service's own check: the view lets planners only
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Simulation done: nothing was sent. Here are its conflicts."))
            query = {"network": network.slug, "from": starts_on.isoformat(), "to": ends_on.isoformat()}
            return redirect(f"{reverse('calendar:conflicts')}?{urlencode(query)}")
        valid = False
    context: dict[str, object] = {
        "form": form, "network": network, "networks": networks_planned_by(request.user).order_by("name"),
        "valid": valid,
    }
    if not valid:
        return render(request, "central/conflicts.html", context)
    starts_on, ends_on = form.cleaned_data["from"], form.cleaned_data["to"]
    run = conflict_run(fetched_by=request.user, network=network, starts_on=starts_on, ends_on=ends_on)
    if request.GET.get("export") == "csv":
        lines = conflict_lines(fetched_by=request.user, run=run) if run is not None else []
        return _csv(network, starts_on, ends_on, lines)
    query = urlencode({"network": network.slug, "from": starts_on.isoformat(), "to": ends_on.isoformat()})
    context |= {"run": run, "starts_on": starts_on, "ends_on": ends_on, "query": query}
    if run is not None:
        page = Paginator(conflict_pairs(fetched_by=request.user, run=run), PAIRS_PER_PAGE).get_page(
            request.GET.get("page"))
        branches, other_branches = _capped(conflict_groups(fetched_by=request.user, run=run, by="branch"))
        operations, other_operations = _capped(conflict_groups(fetched_by=request.user, run=run, by="operation"))
        context |= {
            "page": page, "pairs": conflict_pair_rows(fetched_by=request.user, run=run, pairs=page.object_list),
            "totals": conflict_totals(fetched_by=request.user, run=run),
            "branches": branches, "other_branches": other_branches,
            "operations": operations, "other_operations": other_operations,
        }
    return render(request, "central/conflicts.html", context)
