"""The networks' pages: the platform's list and creation of networks (superusers; anyone else
404), a network's settings (``manage_network`` on its head office; others 404) and the network's
audit trail with its CSV export (central/networks/selectors.py says who sees what).

Thin: reads through central.networks.selectors, writes through central.networks.services."""

from __future__ import annotations

from collections.abc import Iterator

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from central.networks.audit_rows import event_row
from central.networks.forms import AuditFilterForm, NetworkCreateForm, NetworkSettingsForm
from central.networks.selectors import (
    audit_nodes_of,
    audit_trail_reachable,
    is_platform_admin,
    network_event_list,
    network_managed_by,
    networks_managed_by,
    platform_network_list,
)
from central.networks.services import network_settings_update, network_setup
from central.spreadsheets import csv_lines, spreadsheet_safe
from local_stores.forms import add_service_errors

AUDIT_EXPORT_LIMIT = 50_000


def _platform_admin_or_404(request: HttpRequest) -> None:
    if not is_platform_admin(request.user):
        raise Http404


@login_required
@require_GET
def platform_network_list_view(request: HttpRequest) -> HttpResponse:
    _platform_admin_or_404(request)
    search = request.GET.get("q", "")[:100]
    page = Paginator(platform_network_list(fetched_by=request.user, search=search), 25).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "central/networks/platform_network_list.html", {
        "page": page, "search": search, "query": query.urlencode(),
    })


@login_required
@require_http_methods(["GET", "POST"])
def platform_network_create_view(request: HttpRequest) -> HttpResponse:
    _platform_admin_or_404(request)
    form = NetworkCreateForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                network, invitation = network_setup(created_by=request.user, **form.cleaned_data)
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, _("The network %(name)s was created; %(email)s received an invitation to "
                                            "join its head office.") % {"name": network.name, "email": invitation.email})
                return redirect(f"{reverse('networks:platform-network-list')}?q={network.slug}")
        messages.error(request, _("Nothing was saved: correct the fields shown in red."))
    return render(request, "central/networks/platform_network_create.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def network_settings_view(request: HttpRequest) -> HttpResponse:
    """Head office sets its network's name, logo, languages, time zone, currency and people's rules."""
    network = network_managed_by(request.user, slug=(request.POST.get("network") or request.GET.get("network") or "")[:50])
    if network is None:
        raise Http404
    form = NetworkSettingsForm(request.POST or None, request.FILES or None, network=network)
    if request.method == "POST":
        if form.is_valid():
            try:
                network_settings_update(
                    network=network, changed_by=request.user, changes=form.changes(),
                    logo=form.cleaned_data.get("logo") or None, clear_logo=form.cleaned_data.get("clear_logo", False),
                    ip=request.META.get("REMOTE_ADDR"),
                )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, _("The network's settings were saved."))
                return redirect(f"{reverse('networks:network-settings')}?network={network.slug}")
        messages.error(request, _("Nothing was saved: correct the fields shown in red."))
    return render(request, "central/networks/network_settings.html", {
        "form": form, "network": network, "networks": networks_managed_by(request.user),
    })


def _audit_filtered(request: HttpRequest):
    if not audit_trail_reachable(request.user):
        raise Http404
    form = AuditFilterForm(request.GET or None, nodes=audit_nodes_of(request.user))
    return form, network_event_list(fetched_by=request.user, **form.filters())


@login_required
@require_GET
def network_audit_view(request: HttpRequest) -> HttpResponse:
    form, events = _audit_filtered(request)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "central/networks/network_audit.html", {
        "form": form, "page": page, "rows": [event_row(event) for event in page], "query": query.urlencode(),
        "filtered": bool(form.filters()), "several_networks": len({row.network_id for row in page}) > 1,
    })


def _audit_csv_rows(events) -> Iterator[list]:
    yield [_("When"), _("Network"), _("Who"), _("Action"), _("Place"), _("Person concerned"), _("Details")]
    for event in events[:AUDIT_EXPORT_LIMIT].iterator(chunk_size=500):
        row = event_row(event)
        yield [spreadsheet_safe(value) for value in (
            timezone.localtime(row["at"]).strftime("%Y-%m-%d %H:%M:%S"), row["network"], row["actor"],
            row["action"], row["node"], row["subject"], "; ".join(row["details"]),
        )]


@login_required
@require_GET
def network_audit_export_view(request: HttpRequest) -> StreamingHttpResponse:
    _form, events = _audit_filtered(request)
    response = StreamingHttpResponse(csv_lines(_audit_csv_rows(events)), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="audit-trail.csv"'
    response["Cache-Control"] = "private, no-store"
    return response
