import csv

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from central import exports
from central.filters import CustomerFilterSet
from central.forms import CustomerImportForm
from central.models import CustomerImport
from central.selectors import (
    customer_consent_history,
    customer_get,
    customer_import_get,
    customer_imports_visible_to,
    customer_segments,
    customers_visible_to,
    networks_importable_by,
)
from central.services import customer_erase, customer_import_create
from local_stores.models import NodeKind
from local_stores.selectors import branch_get, branches_visible_to, node_in_scope, nodes_in_scope


def _filtered(request: HttpRequest) -> CustomerFilterSet:
    branches_with_customers = nodes_in_scope(request.user, perm="view_customers")
    if not branches_with_customers.exists():
        raise Http404
    queryset = (
        customers_visible_to(request.user).filter(erased_at__isnull=True).select_related("branch")
        .order_by("last_name", "first_name", "id")
    )
    return CustomerFilterSet(data=request.GET or None, queryset=queryset)


@login_required
@require_GET
def customer_list_view(request: HttpRequest) -> HttpResponse:
    filterset = _filtered(request)
    page = Paginator(filterset.qs, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "filterset": filterset,
        "page": page,
        "query": query.urlencode(),
        "branches": branches_visible_to(request.user).order_by("name"),
        "segments": customer_segments(fetched_by=request.user),
        "can_import": networks_importable_by(request.user).exists(),
    }
    template = "central/_customer_table.html" if request.htmx else "central/customer_list.html"
    return render(request, template, context)


@login_required
@require_GET
def customer_export_view(request: HttpRequest) -> StreamingHttpResponse:
    filterset = _filtered(request)
    response = StreamingHttpResponse(
        exports.customers_csv(filterset.qs), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="customers.csv"'
    return response


@login_required
@require_GET
def customer_detail_view(request: HttpRequest, public_id: str) -> HttpResponse:
    customer = customer_get(fetched_by=request.user, public_id=public_id)
    return render(
        request,
        "central/customer_detail.html",
        {
            "customer": customer,
            "history": customer_consent_history(customer=customer)[:200],
            "can_erase": node_in_scope(request.user, customer.branch, perm="change_customers"),
            "channels": [
                (
                    _("E-mail"),
                    customer.consent_email,
                    customer.consent_email_at,
                    customer.consent_email_source,
                ),
                (_("SMS"), customer.consent_sms, customer.consent_sms_at, customer.consent_sms_source),
                (_("Post"), customer.consent_post, customer.consent_post_at, customer.consent_post_source),
            ],
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def customer_import_view(request: HttpRequest) -> HttpResponse:
    networks = networks_importable_by(request.user)
    if not networks.exists():
        raise Http404
    kind = request.GET.get("kind") if request.GET.get("kind") in CustomerImport.Kind.values else None
    form = CustomerImportForm(
        request.POST or None, request.FILES or None, networks=networks, initial={"kind": kind} if kind else None
    )
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                record = customer_import_create(
                    network=form.cleaned_data["network"],
                    uploaded_file=form.cleaned_data["file"],
                    created_by=request.user,
                    kind=form.cleaned_data["kind"],
                )
        except ValidationError as error:
            for field, field_errors in error.message_dict.items():
                for message in field_errors:
                    form.add_error(field if field in form.fields else None, message)
        except PermissionDenied as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("The file was received; the import is running."))
            return redirect("central:customer-import-detail", public_id=record.public_id)
    recent = customer_imports_visible_to(request.user)[:10]
    return render(request, "central/customer_import.html", {"form": form, "recent": recent})


@login_required
@require_GET
def customer_import_detail_view(request: HttpRequest, public_id: str) -> HttpResponse:
    record = customer_import_get(fetched_by=request.user, public_id=public_id)
    errors_page = Paginator(record.errors, 100).get_page(request.GET.get("page"))
    template = (
        "central/_customer_import_status.html" if request.htmx else "central/customer_import_detail.html"
    )
    return render(request, template, {"record": record, "errors_page": errors_page})


@login_required
@require_GET
def customer_import_errors_view(request: HttpRequest, public_id: str) -> HttpResponse:
    record = customer_import_get(fetched_by=request.user, public_id=public_id)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{record.public_id}-errors.csv"'
    writer = csv.writer(response)
    writer.writerow(["line", "field", "reason", "value"])
    for error in record.errors:
        writer.writerow(
            [error["line"], error["field"], error["reason"], exports.spreadsheet_safe(error.get("value", ""))]
        )
    return response


@login_required
@require_GET
def signup_poster_view(request: HttpRequest, public_id: str) -> HttpResponse:
    """A branch's poster for the shop counter (A4 PDF): a QR code of its sign-up page, and the page's
    address written out. For who sees the branch (404 otherwise)."""
    branch = branch_get(fetched_by=request.user, public_id=public_id)
    if branch.kind != NodeKind.BRANCH:
        raise Http404
    pdf = signup_poster_pdf(branch)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{branch.code}-signup-poster.pdf"'
    return response


def signup_url(branch) -> str:
    return settings.RELAIS_BASE_URL.rstrip("/") + reverse("public:signup", args=[branch.public_id])


def signup_poster_pdf(branch) -> bytes:
    import segno

    from templates_lib import rendering_print

    url = signup_url(branch)
    qr = segno.make(url, error="m").svg_inline(scale=8, dark="#000", light="#fff")
    document = render_to_string("central/signup_poster.html", {"branch": branch, "url": url, "qr": mark_safe(qr)})  # noqa: S308 (segno's own SVG)
    return rendering_print.render_pdf(document, {})


@login_required
@require_POST
def customer_erase_view(request: HttpRequest, public_id: str) -> HttpResponse:
    customer = customer_get(fetched_by=request.user, public_id=public_id)
    try:
        customer_erase(customer=customer, erased_by=request.user, reason=request.POST.get("reason", "")[:40])
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("The customer was erased."))
    return redirect("central:customer-detail", public_id=customer.public_id)
