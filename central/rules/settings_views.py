"""Head office's pages of the network's rules: the rules themselves, the suppression list, and the
arbitration simulation (which branches see too, scoped to their own campaigns and customers).

Thin: reads go through central's selectors, writes through its services."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseClientRefresh

from central.calendar.selectors import networks_planned_by
from central.customers.suppression import suppression_add, suppression_remove, suppressions_of
from central.models import Channel, NetworkRulesEvent, Origin, Reason
from central.rules.forms import NetworkRulesForm, SimulationWindowForm, SuppressionForm
from central.rules.selectors import (
    network_rules_history,
    network_rules_of,
    networks_simulated_by,
    simulation_campaigns,
    simulation_counts,
    simulation_latest,
)
from central.rules.services import network_rules_update
from central.rules.simulation_queue import arbitration_simulate_queue, simulation_queued
from local_stores.selectors import nodes_visible_to

#: What a simulation page lists per page.
SIMULATION_PAGE_SIZE = 25


def _network_among(request: HttpRequest, networks):
    """The network asked for (``network`` slug) among ``networks``, else the first; 404 if none."""
    networks = networks.order_by("name")
    wanted = request.POST.get("network") or request.GET.get("network")
    network = networks.filter(slug=wanted).first() if wanted else networks.first()
    if network is None:
        raise Http404
    return network


def _field_label(name: str) -> str:
    return {
        "priority_order": _("Priority order"), "cap_total": _("Marketing messages per customer"),
        "cap_days": _("Over this many days"), "channel_caps": _("Caps per channel"),
        "segment_caps": _("Caps per segment"),
        "national_reserved": _("Slots reserved for national"), "local_reserved": _("Slots reserved for local"),
        "quiet_weekdays": _("Quiet days"), "quiet_from": _("Quiet hours from"), "quiet_until": _("Quiet hours until"),
        "one_per_operation": _("One message per customer per operation"),
        "attribution_days": _("Days a purchase is credited to a campaign"),
        "cost_email": _("Cost of an e-mail"), "cost_sms_segment": _("Cost of an SMS segment"),
        "cost_print_page": _("Cost of a printed page"), "cost_print_copy": _("Cost of a printed copy"),
        "cost_postage": _("Postage of a letter"),
    }.get(name, name)


def _show(name: str, value: object) -> str:
    """A value of the rules, in words."""
    if value in (None, [], {}, ""):
        return "—"
    if name == "priority_order":
        return " > ".join(str(Origin(origin).label).split(" (")[0] if origin in Origin.values else str(origin)
                          for origin in value)
    if name == "quiet_weekdays":
        return ", ".join(str(WEEKDAYS[day - 1]) for day in value if isinstance(day, int) and 1 <= day <= 7)
    if name == "channel_caps":
        return ", ".join(_("%(channel)s: %(count)s per %(days)s days") % {
            "channel": Channel(channel).label if channel in Channel.values else channel,
            "count": cap.get("count"), "days": cap.get("days")} for channel, cap in sorted(value.items()))
    if name == "segment_caps":
        return ", ".join(f"{segment} = {count}" for segment, count in sorted(value.items()))
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return str(value)


def _history_lines(event: NetworkRulesEvent) -> list[str]:
    changes = event.changes or {}
    if event.action == NetworkRulesEvent.Action.RULES_CHANGED:
        return [f"{_field_label(name)}: {_show(name, before)} → {_show(name, after)}"
                for name, (before, after) in changes.items()]
    channel = changes.get("channel", "")
    return [f"{Channel(channel).label if channel in Channel.values else channel} · {changes.get('hash', '')}… · "
            f"{changes.get('reason', '')}"]


@login_required
@require_http_methods(["GET", "POST"])
def rules_view(request: HttpRequest) -> HttpResponse:
    """The network's rules: priority, pressure caps, the quota, quiet days and hours, one message per
    operation; their change history."""
    network = _network_among(request, networks_planned_by(request.user))
    rules = network_rules_of(network)
    form = NetworkRulesForm(request.POST or None, initial=NetworkRulesForm.initial_for(rules))
    if request.method == "POST":
        if form.is_valid():
            try:
                network_rules_update(network=network, updated_by=request.user, **form.rules_fields())
            except ValidationError as error:
                _service_errors_to_form(form, error)
            else:
                messages.success(request, _("The network's rules were saved: the next arbitration applies them."))
                return redirect(f"{reverse('calendar:rules')}?network={network.slug}")
        messages.error(request, _("Nothing was saved: correct the fields shown in red."))
    history = [(event, event.get_action_display(), _history_lines(event))
               for event in network_rules_history(network=network)[:30]]
    return render(request, "central/rules.html", {
        "form": form, "network": network, "rules": rules, "history": history,
        "networks": networks_planned_by(request.user).order_by("name"),
    })


def _service_errors_to_form(form: NetworkRulesForm, error: ValidationError) -> None:
    if not hasattr(error, "error_dict"):
        for message in error.messages:
            form.add_error(None, message)
        return
    for field, errors in error.error_dict.items():
        for item in errors:
            for message in item.messages:
                form.add_error(form.field_for(field, item.params), message)


@login_required
@require_http_methods(["GET", "POST"])
def suppressions_view(request: HttpRequest) -> HttpResponse:
    """The network's suppression list: add an address (only its hash is kept), list, remove."""
    network = _network_among(request, networks_planned_by(request.user))
    action = request.POST.get("action")
    form = SuppressionForm(request.POST if action == "add" else None)
    here = f"{reverse('calendar:suppressions')}?network={network.slug}"
    if request.method == "POST":
        if action == "delete":
            suppression = get_object_or_404(suppressions_of(fetched_by=request.user, network=network),
                                            pk=request.POST.get("suppression") or 0)
            suppression_remove(suppression=suppression, removed_by=request.user)
            messages.success(request, _("The address was taken off the suppression list."))
            return redirect(here)
        if form.is_valid():
            try:
                suppression_add(network=network, added_by=request.user, **form.cleaned_data)
            except ValidationError as error:
                for field, field_errors in error.message_dict.items():
                    for message in field_errors:
                        form.add_error(field if field in form.fields else None, message)
            else:
                messages.success(request, _("The address is suppressed: no campaign will reach it."))
                return redirect(here)
    page = Paginator(suppressions_of(fetched_by=request.user, network=network), 50).get_page(request.GET.get("page"))
    return render(request, "central/suppressions.html", {
        "form": form, "network": network, "page": page, "query": urlencode({"network": network.slug}),
    })


def _window(request: HttpRequest) -> SimulationWindowForm:
    tomorrow = timezone.localdate() + timedelta(days=1)
    data = request.POST if request.method == "POST" else request.GET
    if not data.get("from") and not data.get("to"):
        data = {"from": tomorrow.isoformat(), "to": (tomorrow + timedelta(days=13)).isoformat()}
    return SimulationWindowForm(data)


@login_required
@require_http_methods(["GET", "POST"])
def arbitration_view(request: HttpRequest) -> HttpResponse:
    """The latest simulation covering the days asked (``from``, ``to``): per campaign and per
    branch, how many customers receive it and why the others do not, with totals. *Simulate* runs
    a new one. Head office sees its whole network; anyone else only the campaigns and customers
    they see (a branch: its own)."""
    network = _network_among(request, networks_simulated_by(request.user))
    form = _window(request)
    valid = form.is_valid()
    if request.method == "POST":
        if valid:
            try:
                arbitration_simulate_queue(network=network, starts_on=form.cleaned_data["from"],
                                           ends_on=form.cleaned_data["to"], run_by=request.user)
            except ValidationError as error:
                for message in error.messages:
                    messages.error(request, message)
            except PermissionDenied as error:
                messages.error(request, str(error))
            else:
                messages.success(request, _("Simulation started: nothing is sent. Its results show here as soon as "
                                            "it is done."))
        else:
            messages.error(request, _("Give a valid first and last day."))
        query = {"network": network.slug, "from": request.POST.get("from", ""), "to": request.POST.get("to", "")}
        return redirect(f"{reverse('calendar:arbitration')}?{urlencode(query)}")
    context: dict[str, object] = {
        "form": form, "network": network, "networks": networks_simulated_by(request.user).order_by("name"),
        "is_planner": networks_planned_by(request.user).filter(pk=network.pk).exists(),
    }
    if valid:
        starts_on, ends_on = form.cleaned_data["from"], form.cleaned_data["to"]
        context["queued"] = simulation_queued(network=network, starts_on=starts_on, ends_on=ends_on)
        if request.htmx and request.GET.get("progress"):  # the running simulation's panel asks again
            if context["queued"] is None:
                return HttpResponseClientRefresh()  # done: the whole page, with its results
            return render(request, "central/_simulation_queued.html", context)
        run = simulation_latest(network=network, starts_on=starts_on, ends_on=ends_on)
        context["run"] = run
        if run is not None:
            window = {"starts_on": starts_on, "ends_on": ends_on}
            campaigns = simulation_campaigns(fetched_by=request.user, run=run, **window)
            page = Paginator(campaigns, SIMULATION_PAGE_SIZE).get_page(request.GET.get("page"))
            counts = simulation_counts(fetched_by=request.user, run=run, by="campaign",
                                       campaign_ids=[campaign.pk for campaign in page], **window)
            total = simulation_counts(fetched_by=request.user, run=run, **window).get(None)
            by_branch = simulation_counts(fetched_by=request.user, run=run, by="branch", **window)
            names = dict(nodes_visible_to(request.user).filter(pk__in=[pk for pk in by_branch if pk])
                         .values_list("pk", "name"))
            present = {reason for entry in by_branch.values() for reason in (entry.excluded or {})}
            reasons = [(reason, Reason(reason).label) for reason in Reason.values if reason in present]

            def cells(entry) -> list[int]:
                return [(entry.excluded or {}).get(reason, 0) if entry else 0 for reason, _label in reasons]

            context |= {
                "page": page, "reasons": reasons, "total": total, "total_cells": cells(total),
                "rows": [(campaign, counts.get(campaign.pk), cells(counts.get(campaign.pk))) for campaign in page],
                "branches": sorted(((names.get(pk, _("National")) if pk else _("National (head office)"), entry,
                                     cells(entry)) for pk, entry in by_branch.items()), key=lambda row: str(row[0])),
                "query": urlencode({"network": network.slug, "from": starts_on.isoformat(),
                                    "to": ends_on.isoformat()}),
            }
    return render(request, "central/arbitration.html", context)
