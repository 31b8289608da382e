"""The network's structure pages: the tree, a node's page (rename and details, move, close, reopen)
and the CSV import with its report. Head office (``manage_network``) changes them; a regional
manager reads their region's part; anyone else gets 404."""

import csv
import secrets

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from central.customers.csv_files import ImportFileError
from central.spreadsheets import spreadsheet_safe
from central.structure.forms import NodeCreateForm, NodeDetailsForm, NodeMoveForm, StructureImportForm
from central.structure.importing import COLUMNS
from central.structure.selectors import (
    head_offices_managed_by,
    move_targets,
    node_history,
    structure_can_manage,
    structure_counts,
    structure_list,
    structure_node_get,
    structure_nodes_visible_to,
)
from central.structure.services import (
    node_change_checked,
    node_close_blockers,
    node_close_checked,
    node_create_checked,
    node_reopen_checked,
    structure_import,
)
from local_stores.models import NodeKind

#: Where the last import reports of a session are kept (the report is not stored elsewhere).
SESSION_REPORTS = "structure_import_reports"


def _readable(request: HttpRequest) -> None:
    if not structure_nodes_visible_to(request.user).exists():
        raise Http404


def _add_errors(form, error: ValidationError) -> None:
    for field, field_errors in getattr(error, "message_dict", {None: error.messages}).items():
        for message in field_errors:
            form.add_error(field if field in form.fields else None, message)


@login_required
@require_GET
def structure_view(request: HttpRequest) -> HttpResponse:
    _readable(request)
    search, state = request.GET.get("q", "")[:100].strip(), request.GET.get("state", "")
    page = Paginator(structure_list(fetched_by=request.user, search=search, state=state), 100).get_page(
        request.GET.get("page"))
    counts = structure_counts(list(page))
    query = request.GET.copy()
    query.pop("page", None)
    managed = head_offices_managed_by(request.user)
    return render(request, "central/structure/structure.html", {
        "page": page, "rows": [(node, counts.get(node.pk, {})) for node in page], "search": search,
        "state": state, "query": query.urlencode(), "can_manage": managed.exists(),
        "can_add_branch": structure_list(fetched_by=request.user).filter(kind=NodeKind.REGION, is_active=True)
        .exists() and managed.exists(),
    })


@login_required
@require_http_methods(["GET", "POST"])
def node_create_view(request: HttpRequest) -> HttpResponse:
    _readable(request)
    kind = NodeKind.REGION if request.GET.get("kind") == NodeKind.REGION else NodeKind.BRANCH
    parent_kind = NodeKind.HEAD_OFFICE if kind == NodeKind.REGION else NodeKind.REGION
    parents = structure_list(fetched_by=request.user).filter(kind=parent_kind, is_active=True)
    parents = parents.filter(pk__in=[node.pk for node in parents if structure_can_manage(request.user, node)])
    if not parents.exists():
        raise PermissionDenied(_("Only head office changes the network's structure; you may read it."))
    form = NodeCreateForm(request.POST or None, parents=parents,
                          initial={"parent": parents.filter(public_id=request.GET.get("parent")).first()})
    if request.method == "POST" and form.is_valid():
        try:
            node = node_create_checked(actor=request.user, parent=form.cleaned_data["parent"], kind=kind,
                                       code=form.cleaned_data["code"], name=form.cleaned_data["name"], **form.details())
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("%(name)s was created.") % {"name": node.name})
            return redirect("structure:node-detail", public_id=node.public_id)
    return render(request, "central/structure/node_form.html", {"form": form, "kind": kind, "action": "create"})


@login_required
@require_GET
def node_detail_view(request: HttpRequest, public_id: str) -> HttpResponse:
    node = structure_node_get(fetched_by=request.user, public_id=public_id)
    can_manage = structure_can_manage(request.user, node)
    return render(request, "central/structure/node_detail.html", {
        "node": node, "counts": structure_counts([node]).get(node.pk, {}), "can_manage": can_manage,
        "children": structure_list(fetched_by=request.user).filter(parent=node),
        "blockers": node_close_blockers(node) if node.is_active else [],
        "history": Paginator(node_history(fetched_by=request.user, node=node), 25).get_page(request.GET.get("page")),
    })


def _managed(request: HttpRequest, public_id: str):
    node = structure_node_get(fetched_by=request.user, public_id=public_id)
    if not structure_can_manage(request.user, node):
        raise PermissionDenied(_("Only head office changes the network's structure; you may read it."))
    return node


@login_required
@require_http_methods(["GET", "POST"])
def node_edit_view(request: HttpRequest, public_id: str) -> HttpResponse:
    node = _managed(request, public_id)
    form = NodeDetailsForm(request.POST or None, instance=node)
    if request.method == "POST" and form.is_valid():
        try:
            node_change_checked(actor=request.user, node=structure_node_get(fetched_by=request.user, public_id=public_id),
                                name=form.cleaned_data["name"], details=form.details())
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("The changes were saved."))
            return redirect("structure:node-detail", public_id=public_id)
    return render(request, "central/structure/node_form.html", {"form": form, "node": node, "action": "edit"})


@login_required
@require_http_methods(["GET", "POST"])
def node_move_view(request: HttpRequest, public_id: str) -> HttpResponse:
    node = _managed(request, public_id)
    if node.kind != NodeKind.BRANCH:
        raise Http404
    form = NodeMoveForm(request.POST or None, regions=move_targets(fetched_by=request.user, node=node), prefix="move")
    if request.method == "POST" and form.is_valid():
        try:
            node_change_checked(actor=request.user, node=node, parent=form.cleaned_data["parent"])
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("%(name)s now belongs to %(region)s.") % {
                "name": node.name, "region": form.cleaned_data["parent"].name})
            return redirect("structure:node-detail", public_id=public_id)
    return render(request, "central/structure/node_form.html", {"form": form, "node": node, "action": "move"})


@login_required
@require_POST
def node_close_view(request: HttpRequest, public_id: str) -> HttpResponse:
    node = _managed(request, public_id)
    try:
        node_close_checked(actor=request.user, node=node)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("%(name)s is closed. Its history stays readable.") % {"name": node.name})
    return redirect("structure:node-detail", public_id=public_id)


@login_required
@require_POST
def node_reopen_view(request: HttpRequest, public_id: str) -> HttpResponse:
    node = _managed(request, public_id)
    try:
        node_reopen_checked(actor=request.user, node=node)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("%(name)s is open again.") % {"name": node.name})
    return redirect("structure:node-detail", public_id=public_id)


@login_required
@require_http_methods(["GET", "POST"])
def structure_import_view(request: HttpRequest) -> HttpResponse:
    _readable(request)
    head_offices = head_offices_managed_by(request.user)
    if not head_offices.exists():
        raise PermissionDenied(_("Only head office changes the network's structure; you may read it."))
    form = StructureImportForm(request.POST or None, request.FILES or None, head_offices=head_offices)
    if request.method == "POST" and form.is_valid():
        try:
            report = structure_import(actor=request.user, head_office=form.cleaned_data["head_office"],
                                      stream=form.cleaned_data["file"].open("rb"))
        except ImportFileError as error:
            form.add_error("file", str(error))
        else:
            report_id = secrets.token_urlsafe(8)
            kept = dict(list(request.session.get(SESSION_REPORTS, {}).items())[-4:])
            request.session[SESSION_REPORTS] = kept | {report_id: report | {"file": form.cleaned_data["file"].name}}
            return redirect("structure:import-result", report_id=report_id)
    return render(request, "central/structure/import.html", {"form": form, "columns": COLUMNS})


def _report(request: HttpRequest, report_id: str) -> dict:
    report = request.session.get(SESSION_REPORTS, {}).get(report_id)
    if report is None:
        raise Http404
    return report


@login_required
@require_GET
def structure_import_result_view(request: HttpRequest, report_id: str) -> HttpResponse:
    report = _report(request, report_id)
    errors = Paginator(report["errors"], 100).get_page(request.GET.get("page"))
    return render(request, "central/structure/import_result.html", {
        "report": report, "report_id": report_id, "errors_page": errors})


@login_required
@require_GET
def structure_import_errors_view(request: HttpRequest, report_id: str) -> HttpResponse:
    report = _report(request, report_id)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="structure-import-report.csv"'
    writer = csv.writer(response)
    writer.writerow(["line", "column", "message", "value"])
    for error in [*report["errors"], *report["notes"]]:
        writer.writerow([error["line"], error["field"], spreadsheet_safe(error["reason"]),
                         spreadsheet_safe(error.get("value", ""))])
    return response
