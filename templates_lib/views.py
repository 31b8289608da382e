"""Pages of the template library. Head office: list, create, edit drafts with a live check and
preview, publish, archive; assets; content rules. Branches: the published templates, tried out
with their own slot values and branch details in a live preview."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap

from local_stores.models import Node
from local_stores.selectors import branches_visible_to
from templates_lib import merge, previews, rendering, services, slots
from templates_lib.forms import (
    AssetUploadForm,
    ContentRulesForm,
    DraftForm,
    SlotDefinitionForm,
    SlotDefinitionFormSet,
    TemplateCreateForm,
    slot_initial,
    slot_values_form,
    slot_values_from,
)
from templates_lib.models import ContentRules, TemplateKind, TemplateVersion
from templates_lib.selectors import (
    asset_get,
    asset_list,
    current_draft,
    latest_published,
    networks_managed_by,
    template_get,
    template_is_managed_by,
    template_list,
    version_get,
    versions_visible_to,
)


def _errors_to_form(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, field_errors in error.message_dict.items():
            target = field if field in form.fields else None
            for message in field_errors:
                form.add_error(target, message)
    else:
        for message in error.messages:
            form.add_error(None, message)


def _preview_branch(request: HttpRequest, network_id: int) -> Node | None:
    """The branch whose details fill a preview: the one asked for, else the user's first."""
    branches = branches_visible_to(request.user).filter(network_id=network_id).order_by("name")
    wanted = request.POST.get("preview_branch") or request.GET.get("preview_branch")
    if wanted:
        return branches.filter(public_id=wanted).first()
    return branches.first()


def _preview(request: HttpRequest, version: TemplateVersion, values: dict, branch: Node | None) -> dict[str, object]:
    return previews.preview_context(user=request.user, version=version, values=values, branch=branch)


@login_required
@require_GET
def template_list_view(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "")[:100]
    kind = request.GET.get("kind", "") if request.GET.get("kind") in TemplateKind.values else ""
    archived = request.GET.get("archived") == "1"
    templates = template_list(fetched_by=request.user, search=search, kind=kind, archived=archived)
    page = Paginator(templates, 25).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    managed = networks_managed_by(request.user)
    return render(request, "templates_lib/template_list.html", {
        "page": page, "search": search, "kind": kind, "archived": archived, "kinds": TemplateKind.choices,
        "can_manage": managed.exists(), "query": query.urlencode(),
        "rows": [(template, latest_published(template), current_draft(template) if template.network_id in
                  {n.pk for n in managed} else None) for template in page],
    })


@login_required
@require_http_methods(["GET", "POST"])
def template_create_view(request: HttpRequest) -> HttpResponse:
    networks = networks_managed_by(request.user)
    if not networks.exists():
        raise Http404
    form = TemplateCreateForm(request.POST or None, networks=networks)
    if request.method == "POST" and form.is_valid():
        try:
            template = services.template_create(created_by=request.user, **form.cleaned_data)
        except ValidationError as error:
            _errors_to_form(form, error)
        else:
            messages.success(request, _("Template created: edit its first draft."))
            return redirect("templates_lib:draft-edit", public_id=current_draft(template).public_id)
    return render(request, "templates_lib/template_create.html", {"form": form})


@login_required
@require_GET
def template_detail_view(request: HttpRequest, public_id: str) -> HttpResponse:
    template = template_get(fetched_by=request.user, public_id=public_id)
    managed = template_is_managed_by(request.user, template)
    versions = list(versions_visible_to(request.user, template))
    shown = latest_published(template) or (versions[0] if versions else None)
    defaults = {d.name: d.default for d in rendering.version_slots(shown)} if shown else {}
    preview = _preview(request, shown, _clean_or_raw(shown, defaults), _preview_branch(request, template.network_id)) if shown else {}
    return render(request, "templates_lib/template_detail.html", {
        "template": template, "versions": versions, "shown": shown, "managed": managed,
        "draft": current_draft(template) if managed else None, **preview,
    })


def _clean_or_raw(version: TemplateVersion, values: dict) -> dict:
    try:
        return services.slot_values_clean(version=version, values=values)
    except ValidationError:
        return {}


def _draft_forms(request: HttpRequest, version: TemplateVersion):
    kind = version.template.kind
    data = request.POST if request.method == "POST" else None
    initial = {"subject": version.subject, "preheader": version.preheader, "body": version.body,
               "css": version.css, "print_format": version.print_format}
    slot_initial_rows = [{**item, "choices": "\n".join(item.get("choices") or []),
                          "default": SlotDefinitionForm.default_as_text(item.get("default"))}
                         for item in version.slots]
    return (DraftForm(data, initial=initial, kind=kind),
            SlotDefinitionFormSet(data, initial=slot_initial_rows, prefix="slots"))


def _draft_fields(form: DraftForm, formset) -> dict[str, object] | None:
    if not (form.is_valid() and formset.is_valid()):
        return None
    fields = {name: value or "" for name, value in form.cleaned_data.items()}
    fields["slots"] = [row.as_definition() for row in formset.forms
                       if row.cleaned_data and not row.cleaned_data.get("DELETE") and row.cleaned_data.get("name")]
    return fields


def _managed_draft(request: HttpRequest, public_id: str) -> TemplateVersion:
    version = version_get(fetched_by=request.user, public_id=public_id)
    if not template_is_managed_by(request.user, version.template):
        raise Http404
    return version


@login_required
@require_http_methods(["GET", "POST"])
def draft_edit_view(request: HttpRequest, public_id: str) -> HttpResponse:
    version = _managed_draft(request, public_id)
    if version.is_published:
        messages.info(request, _("A published version never changes: start a new version to edit."))
        return redirect("templates_lib:template-detail", public_id=version.template.public_id)
    form, formset = _draft_forms(request, version)
    if request.method == "POST":
        fields = _draft_fields(form, formset)
        if fields is not None:
            try:
                services.draft_update(version=version, edited_by=request.user, **fields)
            except ValidationError as error:
                _errors_to_form(form, error)
            else:
                messages.success(request, _("Draft saved and checked."))
                if "publish" in request.POST:
                    return _publish(request, version)
                return redirect("templates_lib:draft-edit", public_id=version.public_id)
    return render(request, "templates_lib/draft_edit.html", {
        "version": version, "template": version.template, "form": form, "formset": formset,
        "merge_fields": _merge_field_help(), "assets": asset_list(fetched_by=request.user, network=version.template.network)[:60],
    })


def _merge_field_help() -> list[tuple[str, list[str]]]:

    return [
        ("recipient", list(merge.RECIPIENT_FIELDS)), ("branch", list(merge.BRANCH_FIELDS)),
        ("campaign", list(merge.CAMPAIGN_FIELDS)), ("system", list(merge.SYSTEM_FIELDS)),
    ]


@login_required
@require_POST
def draft_preview_view(request: HttpRequest, public_id: str) -> HttpResponse:
    """Check and preview the draft as typed, without saving it. Sound, the answer is the preview
    (``#preview``) and an empty list of problems; with a problem, only the list (``#draft-check``,
    swapped out of band, each problem with its field and line for the source editor) and htmx is
    told to swap nothing else: the last good preview stays while the author types."""
    version = _managed_draft(request, public_id)
    form, formset = _draft_forms(request, version)
    fields = _draft_fields(form, formset)
    problems: list[dict[str, object]] = []
    context: dict[str, object] = {}
    if fields is None:
        problems = [{"field": name, "text": f"{form.fields[name].label}: {message}"}
                    for name, errors in form.errors.items() if name in form.fields for message in errors]
        for number, errors in enumerate(formset.errors, start=1):
            for name, messages_ in errors.items():
                problems += [{"text": _("Slot %(number)d, %(field)s: %(message)s") % {
                    "number": number, "field": name, "message": message}} for message in messages_]
        problems += [{"text": message} for message in formset.non_form_errors()]
        problems = problems or [{"text": _("Some fields are invalid: see the form.")}]
    else:
        for name, value in fields.items():
            setattr(version, name, value)
        lines: dict[str, dict[str, int]] = {}
        found = services.version_check(version, lines=lines)
        if found:
            labels = {name: field.label for name, field in form.fields.items()} | {"slots": _("Slots")}
            problems = [{"field": name, "text": f"{labels.get(name, name)}: {message}",
                         "line": lines.get(name, {}).get(message)}
                        for name, messages_ in found.items() for message in messages_]
        else:
            definitions = slots.parse_definitions(version.slots, kind=version.template.kind)
            version.slots = [d.as_dict() for d in definitions]
            values = _clean_or_raw(version, {d.name: d.default for d in definitions})
            context = _preview(request, version, values, _preview_branch(request, version.template.network_id))
            if context.get("preview_error"):
                problems = [{"text": context["preview_error"]}]
    error_lines: dict[str, list[int]] = {}
    for problem in problems:
        if problem.get("line"):
            error_lines.setdefault(str(problem["field"]), []).append(int(problem["line"]))
    check = render_to_string("templates_lib/_draft_check.html", {
        "problems": problems, "error_lines_json": json.dumps(error_lines)}, request=request)
    if problems:
        return reswap(HttpResponse(check), "none")
    return HttpResponse(render_to_string("templates_lib/_preview.html", context, request=request) + check)


def _publish(request: HttpRequest, version: TemplateVersion) -> HttpResponse:
    try:
        services.version_publish(version=version, published_by=request.user)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return redirect("templates_lib:draft-edit", public_id=version.public_id)
    messages.success(request, _("Version %(number)d is published: branches can use it.") % {"number": version.number})
    return redirect("templates_lib:template-detail", public_id=version.template.public_id)


@login_required
@require_POST
def version_publish_view(request: HttpRequest, public_id: str) -> HttpResponse:
    return _publish(request, _managed_draft(request, public_id))


@login_required
@require_POST
def version_new_draft_view(request: HttpRequest, public_id: str) -> HttpResponse:
    template = template_get(fetched_by=request.user, public_id=public_id)
    try:
        draft = services.version_new_draft(template=template, created_by=request.user)
    except PermissionDenied as error:
        raise Http404 from error
    if request.POST.get("editor") == "visual" and template.kind == TemplateKind.EMAIL:
        return redirect("templates_lib:visual-editor", public_id=draft.public_id)
    return redirect("templates_lib:draft-edit", public_id=draft.public_id)


@login_required
@require_POST
def template_archive_view(request: HttpRequest, public_id: str) -> HttpResponse:
    template = template_get(fetched_by=request.user, public_id=public_id)
    archived = request.POST.get("archived") == "1"
    try:
        services.template_set_archived(template=template, archived=archived, changed_by=request.user)
    except PermissionDenied as error:
        raise Http404 from error
    messages.success(request, _("Template archived: branches no longer see it.") if archived else _("Template restored."))
    return redirect("templates_lib:template-detail", public_id=template.public_id)


@login_required
@require_http_methods(["GET", "POST"])
def template_try_view(request: HttpRequest, public_id: str) -> HttpResponse:
    """Fill the slots of the latest published version and see the result with a branch's details."""
    template = template_get(fetched_by=request.user, public_id=public_id)
    version = latest_published(template)
    if version is None:
        raise Http404
    definitions = rendering.version_slots(version)
    assets = slots.images_offered(definitions, asset_list(fetched_by=request.user, network=template.network))
    defaults = {d.name: d.default for d in definitions}
    form = slot_values_form(definitions, assets, data=request.POST or None, initial=slot_initial(definitions, defaults))
    context: dict[str, object] = {"problems": []}
    if request.method == "POST":
        try:
            values = services.slot_values_clean(version=version, values=slot_values_from(form, definitions))
        except ValidationError as error:
            context["problems"] = error.messages
            values = None
        if values is not None:
            context |= _preview(request, version, values, _preview_branch(request, template.network_id))
        if request.htmx:
            return render(request, "templates_lib/_preview.html", context)
    else:
        context |= _preview(request, version, _clean_or_raw(version, defaults), _preview_branch(request, template.network_id))
    return render(request, "templates_lib/template_try.html", {
        "template": template, "version": version, "form": form, "assets": assets, **context,
        "branches": branches_visible_to(request.user).filter(network=template.network).order_by("name"),
        "has_image_slot": any(d.type == slots.IMAGE for d in definitions),
    })


@login_required
@require_GET
@xframe_options_sameorigin
def preview_pdf_view(request: HttpRequest, token: str) -> HttpResponse:
    pdf = previews.pdf_for(user=request.user, token=token)
    if pdf is None:
        raise Http404
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = 'inline; filename="preview.pdf"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def asset_list_view(request: HttpRequest) -> HttpResponse:
    networks = networks_managed_by(request.user)
    form = AssetUploadForm(request.POST or None, request.FILES or None, networks=networks) if networks.exists() else None
    if request.method == "POST":
        if form is None:
            raise Http404
        if form.is_valid():
            try:
                services.asset_upload(network=form.cleaned_data["network"], uploaded_file=form.cleaned_data["file"],
                                      name=form.cleaned_data["name"], tags=form.cleaned_data["tags"], uploaded_by=request.user)
            except ValidationError as error:
                _errors_to_form(form, error)
            else:
                messages.success(request, _("Image added to the library."))
                return redirect("templates_lib:asset-list")
    search = request.GET.get("q", "")[:100]
    tag = request.GET.get("tag", "")[:30]
    page = Paginator(asset_list(fetched_by=request.user, search=search, tag=tag), 24).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "templates_lib/asset_list.html", {
        "page": page, "form": form, "search": search, "tag": tag, "query": query.urlencode(),
        "managed_ids": set(networks.values_list("pk", flat=True)),
    })


@login_required
@require_POST
def asset_archive_view(request: HttpRequest, public_id: str) -> HttpResponse:
    asset = asset_get(fetched_by=request.user, public_id=public_id)
    try:
        services.asset_set_archived(asset=asset, archived=True, changed_by=request.user)
    except PermissionDenied as error:
        raise Http404 from error
    messages.success(request, _("Image archived: it is no longer offered in image slots."))
    return redirect("templates_lib:asset-list")


@login_required
@require_http_methods(["GET", "POST"])
def content_rules_view(request: HttpRequest) -> HttpResponse:
    network = networks_managed_by(request.user).order_by("name").first()
    if network is None:
        raise Http404
    rules = ContentRules.objects.filter(network=network).first()
    initial = {"forbidden_patterns": rules.forbidden_patterns, "allowed_link_domains": rules.allowed_link_domains,
               "sms_stop_mention": rules.sms_stop_mention} if rules else {"sms_stop_mention": "STOP au 36173"}
    form = ContentRulesForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.content_rules_update(network=network, updated_by=request.user, **form.cleaned_data)
        except ValidationError as error:
            _errors_to_form(form, error)
        else:
            messages.success(request, _("Content rules saved: they apply to every slot filled from now on."))
            return redirect("templates_lib:content-rules")
    return render(request, "templates_lib/content_rules.html", {"form": form, "network": network})
