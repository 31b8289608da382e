import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from central.channels import registry as channels
from central.customers import csv_files, exports, importing, mappings
from central.customers.by_hand import (
    CONSENT_SOURCE_SUGGESTIONS,
    FIELDS,
    customer_create,
    customer_update,
    new_form_token,
)
from central.customers.csv_files import ImportFileError
from central.customers.filters import CustomerFilterSet
from central.customers.forms import ColumnMappingForm, CustomerForm, CustomerImportForm, column_label
from central.customers.labels import consent_recorded_by
from central.customers.selectors import (
    branches_editable_by,
    customer_consent_history,
    customer_editable_by,
    customer_get,
    customer_import_get,
    customer_imports_visible_to,
    customer_segments,
    customers_visible_to,
    networks_importable_by,
    possible_duplicates,
    suppressed_channels,
)
from central.customers.services import customer_erase, customer_import_create, customer_import_start
from central.models import CustomerImport
from central.spreadsheets import spreadsheet_safe
from local_stores.selectors import branches_visible_to, node_in_scope, nodes_in_scope


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
        "can_create": branches_editable_by(request.user).exists(),
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
            "history": [(event, consent_recorded_by(event))
                        for event in customer_consent_history(customer=customer)[:200]],
            "can_erase": node_in_scope(request.user, customer.branch, perm="change_customers"),
            "can_edit": customer_editable_by(request.user, customer),
            "duplicates": possible_duplicates(customer=customer)[:10] if customer.erased_at is None else [],
            "suppressed": suppressed_channels(customer=customer) if customer.erased_at is None else [],
            "channels": [(spec.label, getattr(customer, spec.consent_field), getattr(customer, spec.consent_at_field),
                          getattr(customer, spec.consent_source_field)) for spec in channels.all()],
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def customer_import_view(request: HttpRequest) -> HttpResponse:
    """Upload a CRM file; when some of its columns are neither Relais' nor known synonyms (nor in a
    mapping saved for its headers), the mapping step follows, with the first rows and their problems."""
    networks = networks_importable_by(request.user)
    if not networks.exists():
        raise Http404
    if request.method == "POST" and request.POST.get("import"):
        return _mapping_step(request, customer_import_get(fetched_by=request.user, public_id=request.POST["import"]))
    kind = request.GET.get("kind") if request.GET.get("kind") in CustomerImport.Kind.values else None
    form = CustomerImportForm(
        request.POST or None, request.FILES or None, networks=networks, initial={"kind": kind} if kind else None
    )
    if request.method == "POST" and form.is_valid():
        data, preview, uploaded = form.cleaned_data, None, form.cleaned_data["file"]
        if data["kind"] == CustomerImport.Kind.CUSTOMERS:
            try:
                preview = mappings.preview(uploaded, network=data["network"], encoding=data["encoding"])
            except ImportFileError as error:
                form.add_error("file", str(error))
            else:
                if preview.file_error:  # a row the import could not read either
                    form.add_error("file", preview.file_error)
            uploaded.seek(0)
        if form.is_valid():
            try:
                with transaction.atomic():
                    record = customer_import_create(
                        network=data["network"], uploaded_file=data["file"], created_by=request.user,
                        kind=data["kind"], encoding=data["encoding"], queue=not (preview and preview.unknown),
                    )
            except ValidationError as error:
                for field, field_errors in error.message_dict.items():
                    for message in field_errors:
                        form.add_error(field if field in form.fields else None, message)
            except PermissionDenied as error:
                form.add_error(None, str(error))
            else:
                if record.status == CustomerImport.Status.MAPPING:
                    return _mapping_page(request, record, preview, ColumnMappingForm(unknown=preview.unknown))
                messages.success(request, _("The file was received; the import is running."))
                return redirect("central:customer-import-detail", public_id=record.public_id)
    recent = customer_imports_visible_to(request.user)[:10]
    return render(request, "central/customer_import.html", {"form": form, "recent": recent})


def _mapping_page(request, record, preview, form, status: int = 200) -> HttpResponse:
    for row in preview.rows:  # a cell per column; each problem with the column's label, as people read it
        row["cells"] = [*row["cells"], *[""] * (len(preview.header) - len(row["cells"]))]
        row["problems"] = [_("%(column)s: %(problem)s") % {"column": column_label(error.field), "problem": error.reason}
                           if error.field else error.reason
                           for error in row["errors"]]
    columns = [{"header": header, "label": column_label(preview.guessed[header]) if header in preview.guessed
                else None} for header in preview.header]
    return render(request, "central/customer_import_mapping.html", {
        "record": record, "preview": preview, "form": form, "columns": columns,
        "encoding_label": csv_files.encoding_label(preview.encoding),
        "delimiter_label": {";": _("semicolon"), ",": _("comma"), "\t": _("tab")}.get(preview.delimiter, ""),
    }, status=status)


def _mapping_step(request: HttpRequest, record: CustomerImport) -> HttpResponse:
    """The mapping step posted: the chosen columns checked against the whole header (required
    columns, a column read twice), the mapping saved if asked, the import queued."""
    if record.status != CustomerImport.Status.MAPPING:
        messages.info(request, _("This import has already started."))
        return redirect("central:customer-import-detail", public_id=record.public_id)
    with record.file.open("rb") as stream:
        preview = mappings.preview(stream, network=record.network, encoding=record.encoding)
    form = ColumnMappingForm(request.POST, unknown=preview.unknown)
    if form.is_valid():
        mapping = form.cleaned_data["mapping"]
        try:
            with record.file.open("rb") as stream:
                importing.open_csv(stream, encoding=record.encoding, mapping=mapping)
            with transaction.atomic():
                record = customer_import_start(
                    record=record, column_mapping=mapping, header=preview.header, started_by=request.user,
                    save_as=form.cleaned_data["mapping_name"].strip() if form.cleaned_data["save_mapping"] else None)
        except ImportFileError as error:
            form.add_error(None, str(error))
        except ValidationError as error:
            for field, field_errors in (error.message_dict if hasattr(error, "error_dict") else
                                        {None: error.messages}).items():
                for message in field_errors:
                    form.add_error(field if field in form.fields else None, message)
        except PermissionDenied as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("The file was received; the import is running."))
            return redirect("central:customer-import-detail", public_id=record.public_id)
    with record.file.open("rb") as stream:
        preview = mappings.preview(stream, network=record.network, encoding=record.encoding,
                                   mapping=form.cleaned_data.get("mapping") if form.is_bound else None)
        preview.unknown = form.unknown
    return _mapping_page(request, record, preview, form, status=200)


@login_required
@require_GET
def customer_import_detail_view(request: HttpRequest, public_id: str) -> HttpResponse:
    record = customer_import_get(fetched_by=request.user, public_id=public_id)
    if record.status == CustomerImport.Status.MAPPING and not request.htmx:  # the mapping step, taken up again
        with record.file.open("rb") as stream:
            preview = mappings.preview(stream, network=record.network, encoding=record.encoding)
        return _mapping_page(request, record, preview, ColumnMappingForm(unknown=preview.unknown))
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
            [error["line"], error["field"], error["reason"], spreadsheet_safe(error.get("value", ""))]
        )
    return response


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


def _service_input(form: CustomerForm) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """What the form gives the services: the fields as typed, the consents by channel."""
    posted = form.data  # a field not posted is left as it is (never emptied)
    data = {name: form.cleaned_data.get(name, "") for name in FIELDS if name in posted}
    data["form_token"] = form.cleaned_data.get("form_token", "")
    consents = {spec.code: {"status": form.cleaned_data.get(spec.consent_field, ""),
                            "at": form.cleaned_data.get(f"{spec.consent_field}_at", ""),
                            "source": form.cleaned_data.get(f"{spec.consent_field}_source", "")}
                for spec in channels.all() if spec.consent_field in posted}
    return data, consents


def _service_errors(form: CustomerForm, error: ValidationError) -> None:
    if not hasattr(error, "error_dict"):
        for message in error.messages:
            form.add_error(None, message)
        return
    for field, messages_ in error.message_dict.items():
        for message in messages_:
            form.add_error(field if field in form.fields else None, message)


def _consent_initial() -> dict[str, str]:
    today = timezone.localdate().isoformat()
    return {f"{spec.consent_field}_at": today for spec in channels.all()}


@login_required
@require_http_methods(["GET", "POST"])
def customer_create_view(request: HttpRequest) -> HttpResponse:
    branches = list(branches_editable_by(request.user))
    if not branches:
        raise Http404
    initial = {"form_token": new_form_token(), "country": "FR", **_consent_initial()}
    form = CustomerForm(request.POST or None, branches=branches, initial=initial)
    if request.method == "POST" and form.is_valid():
        chosen = (request.POST.get("branch") or "").strip()  # a branch one may not edit: not found
        if "branch" in form.fields and not chosen:
            form.add_error("branch", _("Choose the branch of the customer."))
        else:
            branch = get_object_or_404(branches_editable_by(request.user), public_id=chosen) if chosen else branches[0]
            data, consents = _service_input(form)
            try:
                customer = customer_create(created_by=request.user, branch=branch, data=data, consents=consents)
            except ValidationError as error:
                _service_errors(form, error)
            else:
                if customer.created_now:
                    messages.success(request, _("The customer was created."))
                else:
                    messages.info(request, _("This form had already been saved: here is the customer it created."))
                return redirect("central:customer-detail", public_id=customer.public_id)
    return render(request, "central/customer_form.html", {"form": form, "customer": None,
                                                          "suggestions": CONSENT_SOURCE_SUGGESTIONS})


@login_required
@require_http_methods(["GET", "POST"])
def customer_edit_view(request: HttpRequest, public_id: str) -> HttpResponse:
    customer = customer_get(fetched_by=request.user, public_id=public_id)
    if not customer_editable_by(request.user, customer):
        raise PermissionDenied(_("You may not edit this customer."))
    initial = {name: getattr(customer, name) for name in FIELDS} | _consent_initial()
    initial["interests"] = ", ".join(customer.interest_list)
    initial |= {spec.consent_field: getattr(customer, spec.consent_field) for spec in channels.all()}
    form = CustomerForm(request.POST or None, branches=None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data, consents = _service_input(form)
        try:
            changed = customer_update(customer=customer, edited_by=request.user, data=data, consents=consents)
        except ValidationError as error:
            _service_errors(form, error)
        else:
            messages.success(request, _("The customer was saved.") if changed else _("Nothing was changed."))
            return redirect("central:customer-detail", public_id=customer.public_id)
    return render(request, "central/customer_form.html", {"form": form, "customer": customer,
                                                          "suggestions": CONSENT_SOURCE_SUGGESTIONS})
