"""The visual e-mail editor's page and its two JSON endpoints (issue 20, docs/visual-editor.md).

Thin views: the version is scoped exactly as the source editor's (head office template managers
only; a foreign or missing version is a 404), the block document is read, checked, previewed and
saved by ``templates_lib.blocks.saving``; the browser side is ``visual-editor.js``.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from templates_lib import merge, slots
from templates_lib.blocks.document import FONT_STACKS
from templates_lib.blocks.saving import BlockErrors, document_for, preview_document, save_document
from templates_lib.brand_kit import kit_font_families
from templates_lib.editor_labels import labels
from templates_lib.models import TemplateKind, TemplateVersion
from templates_lib.selectors import asset_list, template_is_managed_by, version_get

#: What a merge field is called in the editor's menu (the code is what the editor writes).
MERGE_LABELS = {
    "recipient": (gettext_lazy("Recipient"), {
        "civility": gettext_lazy("Civility"), "first_name": gettext_lazy("First name"),
        "last_name": gettext_lazy("Last name"), "full_name": gettext_lazy("Full name"),
        "email": gettext_lazy("E-mail address"), "city": gettext_lazy("City"),
    }),
    "branch": (gettext_lazy("Branch"), {
        "name": gettext_lazy("Name"), "address": gettext_lazy("Address"), "postal_code": gettext_lazy("Postal code"),
        "city": gettext_lazy("City"), "phone": gettext_lazy("Phone"), "email": gettext_lazy("E-mail address"),
        "opening_hours": gettext_lazy("Opening hours"), "signature": gettext_lazy("Signature"),
        "manager_name": gettext_lazy("Manager's name"), "logo_url": gettext_lazy("Logo address"),
        "website_url": gettext_lazy("Website"), "facebook_url": gettext_lazy("Facebook page"),
        "instagram_url": gettext_lazy("Instagram page"),
    }),
    "campaign": (gettext_lazy("Campaign"), {
        "offer_code": gettext_lazy("Offer code"), "start_date": gettext_lazy("Start date"),
        "end_date": gettext_lazy("End date"), "send_date": gettext_lazy("Send date"),
    }),
}
_WHITELIST = {"recipient": merge.RECIPIENT_FIELDS, "branch": merge.BRANCH_FIELDS, "campaign": merge.CAMPAIGN_FIELDS}
MAX_BODY = 512 * 1024


def merge_menu() -> list[dict[str, object]]:
    """The merge-field menu: only the whitelisted fields, each with its human label."""
    return [{"label": str(label), "fields": [
        {"code": f"{namespace}.{name}", "label": str(names.get(name, name.replace("_", " ")))}
        for name in _WHITELIST[namespace]]} for namespace, (label, names) in MERGE_LABELS.items()]


def _managed_version(request: HttpRequest, public_id: str) -> TemplateVersion:
    version = version_get(fetched_by=request.user, public_id=public_id)
    if not template_is_managed_by(request.user, version.template):
        raise Http404
    return version


def _editable_draft(request: HttpRequest, public_id: str) -> TemplateVersion:
    """A draft e-mail version the user manages; 404 otherwise (a published one never changes)."""
    version = _managed_version(request, public_id)
    if version.is_published or version.template.kind != TemplateKind.EMAIL:
        raise Http404
    return version


@login_required
@require_GET
def visual_editor_view(request: HttpRequest, public_id: str) -> HttpResponse:
    version = _managed_version(request, public_id)
    if version.is_published:
        messages.info(request, _("A published version never changes: start a new version to edit."))
        return redirect("templates_lib:template-detail", public_id=version.template.public_id)
    if version.template.kind != TemplateKind.EMAIL:
        return redirect("templates_lib:draft-edit", public_id=version.public_id)
    parsed = document_for(version)
    assets = [{"src": f"asset:{asset.public_id}", "name": asset.name, "url": asset.file.url,
               "tags": asset.tag_list}
              for asset in asset_list(fetched_by=request.user, network=version.template.network)[:200]]
    return render(request, "templates_lib/visual_editor.html", {
        "version": version, "template": version.template, "problems": [str(p) for p in parsed.problems],
        "editor_data": {
            "document": parsed.document, "slots": version.slots, "subject": version.subject,
            "preheader": version.preheader, "assets": assets, "merge": merge_menu(),
            "slot_types": [{"code": code, "label": str(label)} for code, label in slots.SLOT_TYPES.items()],
            "labels": labels(),
            # the brand kit's uploaded font (with its fallbacks) first, then the web-safe stacks
            "fonts": list(dict.fromkeys([*kit_font_families(version.template.network), *FONT_STACKS])),
        },
    })


class _BadRequest(Exception):
    pass


def _posted(request: HttpRequest) -> dict[str, object]:
    """The posted JSON: {document, slots, subject, preheader}; line breaks normalised to LF."""
    if len(request.body) > MAX_BODY:
        raise _BadRequest(_("The template is too large to be saved."))
    try:
        data = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise _BadRequest(_("The editor sent something that is not a template.")) from error
    if not isinstance(data, dict) or not isinstance(data.get("document"), dict):
        raise _BadRequest(_("The editor sent something that is not a template."))
    data = _lf(data)
    slot_list = data.get("slots") or []
    if not isinstance(slot_list, list) or not all(isinstance(item, dict) for item in slot_list):
        raise _BadRequest(_("The slots are not a list of slots."))
    return {"document": data["document"], "slots": slot_list,
            "subject": str(data.get("subject") or "")[:300], "preheader": str(data.get("preheader") or "")[:300]}


def _lf(value: object) -> object:
    if isinstance(value, str):
        return value.replace("\r\n", "\n").replace("\r", "\n")
    if isinstance(value, list):
        return [_lf(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _lf(item) for key, item in value.items()}
    return value


def _bad(message: str, *, errors: dict | None = None, fields: dict | None = None, status: int = 400) -> JsonResponse:
    return JsonResponse({"ok": False, "errors": errors or {}, "fields": fields or {}, "message": message},
                        status=status)


def _as_texts(mapping: object) -> dict[str, list[str]]:
    if not isinstance(mapping, dict):
        return {}
    return {str(key): [str(message) for message in (value if isinstance(value, list | tuple) else [value])]
            for key, value in mapping.items()}


@login_required
@require_POST
def visual_preview_view(request: HttpRequest, public_id: str) -> JsonResponse:
    """The live preview of the document as edited, with its errors by block; nothing is saved."""
    version = _editable_draft(request, public_id)
    try:
        data = _posted(request)
    except _BadRequest as error:
        return _bad(str(error))
    result = preview_document(version=version, **data)
    errors, fields = _as_texts(result.by_block), _as_texts(result.by_field)
    if result.errors and not (errors or fields):
        errors = _as_texts(result.errors)
    return JsonResponse({"ok": not (errors or fields), "html": result.html or "", "errors": errors, "fields": fields})


@login_required
@require_POST
def visual_save_view(request: HttpRequest, public_id: str) -> JsonResponse:
    """Save the document as the draft's MJML; 400 with the errors by block (and by field) if unsound."""
    version = _editable_draft(request, public_id)
    try:
        data = _posted(request)
    except _BadRequest as error:
        return _bad(str(error))
    try:
        saved = save_document(version=version, edited_by=request.user, **data)
    except BlockErrors as error:
        return _bad(_("The template was not saved: fix the blocks marked."),
                    errors=_as_texts(error.by_block), fields=_as_texts(error.by_field))
    except ValidationError as error:  # e.g. published by someone else meanwhile, or no longer managed
        return _bad(_("The template was not saved:") + " " + " ".join(error.messages), status=409)
    except DatabaseError:  # two saves racing on a locked database: the second is asked to retry
        return _bad(_("Someone saved this draft at the same moment: save again."), status=409)
    body = getattr(saved, "body", None) or TemplateVersion.objects.get(pk=version.pk).body
    return JsonResponse({"ok": True, "message": _("Draft saved and checked."), "mjml_lines": body.count("\n") + 1})
