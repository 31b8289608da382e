"""The print runs' pages: downloads of the PDFs and manifests (behind the scoped lookups of
central/delivery/printing/services.py), head office's Retry of a hand-off, the network's printer settings, and the
printer's own signed download links (the hand-off by e-mail).

Thin: reads through central.delivery.printing.services's selectors, writes through its services."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from central.delivery.printing.forms import PrinterSettingsForm
from central.delivery.printing.selectors import (
    networks_printing_managed_by,
    print_file_get,
    print_handoff_get,
    printer_settings_of,
)
from central.delivery.printing.services import (
    print_file_field,
    print_handoff_retry,
    print_link_read,
    printer_settings_save,
)


def file_response(field, filename: str, content_type: str) -> FileResponse:
    """A stored print file, streamed as an attachment, never cached nor sniffed."""
    try:
        stream = field.open("rb")
    except (FileNotFoundError, ValueError) as error:  # removed from the disk, or never stored
        raise Http404 from error
    response = FileResponse(stream, as_attachment=True, filename=filename, content_type=content_type)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    return response


def print_file_name(print_file) -> str:
    return print_file.file.name.rsplit("/", 1)[-1]


@login_required
@require_GET
def print_file_download_view(request: HttpRequest, public_id: str) -> FileResponse:
    print_file = print_file_get(fetched_by=request.user, public_id=public_id)
    return file_response(print_file.file, print_file_name(print_file), "application/pdf")


@login_required
@require_GET
def print_manifest_download_view(request: HttpRequest, public_id: str) -> FileResponse:
    handoff = print_handoff_get(fetched_by=request.user, public_id=public_id)
    return file_response(handoff.manifest, handoff.manifest.name.rsplit("/", 1)[-1], "text/csv; charset=utf-8")


@login_required
@require_POST
def print_handoff_retry_view(request: HttpRequest, public_id: str) -> HttpResponse:
    handoff = print_handoff_get(fetched_by=request.user, public_id=public_id)
    try:  # PermissionDenied (not head office): 403
        print_handoff_retry(handoff=handoff, retried_by=request.user)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("The print run goes to the printer again: its status shows below."))
    return redirect(reverse("campaigns:campaign-edit", args=[handoff.campaign.public_id]) + "#print")


@require_GET
def printer_download_view(request: HttpRequest, token: str) -> FileResponse:
    """The printer's link (hand-off by e-mail): a signed, expiring token is its credential."""
    found = print_link_read(token)
    if found is None:
        raise Http404
    handoff, what = found
    field = print_file_field(handoff, what)
    if not field:
        raise Http404
    content_type = "text/csv; charset=utf-8" if what == "manifest" else "application/pdf"
    return file_response(field, field.name.rsplit("/", 1)[-1], content_type)


@login_required
@require_http_methods(["GET", "POST"])
def printer_settings_view(request: HttpRequest) -> HttpResponse:
    """Head office sets how the network's print runs reach its printer."""
    networks = networks_printing_managed_by(request.user).order_by("name")
    wanted = request.POST.get("network") or request.GET.get("network")
    network = networks.filter(slug=wanted).first() if wanted else networks.first()
    if network is None:
        raise Http404
    printer = printer_settings_of(network)
    form = PrinterSettingsForm(request.POST or None, printer=printer)
    if request.method == "POST":
        if form.is_valid():
            try:
                printer_settings_save(network=network, saved_by=request.user, **form.service_arguments())
            except ValidationError as error:
                form.add_service_errors(error)
            else:
                messages.success(request, _("The printer's settings were saved: the next print runs go this way."))
                return redirect(f"{reverse('print:printer-settings')}?network={network.slug}")
        messages.error(request, _("Nothing was saved: correct the fields shown in red."))
    return render(request, "central/printer_settings.html", {
        "form": form, "network": network, "networks": networks, "printer": printer,
    })
