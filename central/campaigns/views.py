"""The branch side of the national calendar: its campaigns, the campaign editor (slots with a live
preview, the date, the target with a live audience count and clash warnings), the approval request,
scheduling and the send's controls. The operations list is in ``central/operations/views.py``, the
proposed list in ``target_views.py`` and the review of head office's target in
``target_review_views.py`` (both beside this module).

Thin: every read goes through central's scoping selectors, every write through its services."""

from __future__ import annotations

from copy import copy
from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from approvals.models import ProofStatus, Verdict
from approvals.requesting import proof_request_with_values
from approvals.selectors import latest_proof, proof_decisions
from approvals.services import proof_request, proof_request_again
from central.budgets import costs as budgets
from central.budgets.costs import pdf_pages
from central.campaigns.checklist import checklist_context
from central.campaigns.clashes import campaign_clashes
from central.campaigns.forms import SendDateForm, target_criteria_from, target_form, target_initial
from central.campaigns.local_slots import local_slot_candidates, local_slots_set
from central.campaigns.selectors import (
    campaign_allowed_criteria,
    campaign_audience_count,
    campaign_can_edit,
    campaign_customers_visible,
    campaign_edit_deadline,
    campaign_get,
    campaign_history,
    campaign_is_editable,
)
from central.campaigns.services import (
    campaign_cancel,
    campaign_check_date,
    campaign_schedule,
    campaign_update,
)
from central.campaigns.targeting import criteria_clean
from central.customers.selectors import customers_visible_to
from central.delivery.control import (
    campaign_send_cancel,
    campaign_send_pause,
    campaign_send_progress,
    campaign_send_resume,
)
from central.models import (
    Campaign,
    CampaignStatus,
)
from central.operations.views import messages_of, operations_url
from local_stores.models import Role
from templates_lib import rendering
from templates_lib.forms import slot_initial, slot_values_form, slot_values_from
from templates_lib.previews import pdf_for, preview_context
from templates_lib.selectors import asset_list
from templates_lib.services import slot_values_clean
from templates_lib.slot_dates import slot_date_warnings
from templates_lib.slots import images_offered


class _Editor:
    """The three forms of the campaign editor, bound to what was typed (or to the campaign)."""

    def __init__(self, request: HttpRequest, campaign: Campaign) -> None:
        self.campaign = campaign
        self.version = campaign.template_version
        self.definitions = rendering.version_slots(self.version)
        # only the images an image slot offers (a slot may be limited to a tag)
        self.assets = images_offered(self.definitions, asset_list(fetched_by=request.user, network=campaign.network))
        self.allowed = campaign_allowed_criteria(campaign)
        data = request.POST if request.method == "POST" else None
        operation = campaign.operation
        self.slots = slot_values_form(self.definitions, self.assets, data=data,
                                      initial=slot_initial(self.definitions, campaign.slot_values))
        self.date = SendDateForm(data=data, initial={"send_date": campaign.send_date},
                                 first=operation.send_from if operation else None,
                                 last=operation.send_until if operation else None)
        segments = list(
            customers_visible_to(request.user).filter(network_id=campaign.network_id)
            .filter(**({"branch_id": campaign.branch_id} if campaign.branch_id else {}))
            .exclude(segment="").order_by("segment").values_list("segment", flat=True).distinct()
        )
        self.target = target_form(self.allowed, segments=segments, data=data,
                                  initial=target_initial(campaign.target_criteria))

    def typed(self) -> tuple[dict, date | None, dict]:
        """What the forms hold: what was typed, or on a plain page load the campaign as saved."""
        if not self.slots.is_bound:
            campaign = self.campaign
            return dict(campaign.slot_values), campaign.send_date, dict(campaign.target_criteria)
        values = slot_values_from(self.slots, self.definitions)
        send_date = self.date.cleaned_data["send_date"] if self.date.is_valid() else None
        return values, send_date, target_criteria_from(self.target.data, self.allowed)

    def submitted(self) -> tuple[dict, date, dict]:
        """What was typed, to be saved: a date that cannot be read is an error (keeping the saved
        date instead would save something other than what the page shows)."""
        values, send_date, criteria = self.typed()
        if send_date is None:
            raise ValidationError({"send_date": [_("Enter a valid date.")]})
        return values, send_date, criteria

    def fields_of(self, error: ValidationError) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        """``error``'s messages split: those about a field of the forms, and the others."""
        if not hasattr(error, "error_dict"):
            return {}, {"": error.messages}
        names = {d.name for d in self.definitions} | set(self.target.fields) | {"send_date"}
        mine = {field: errors for field, errors in error.message_dict.items() if field in names}
        return mine, {field: errors for field, errors in error.message_dict.items() if field not in mine}

    def show_errors(self, error: ValidationError) -> None:
        for field, field_errors in error.message_dict.items():
            if field == "send_date":
                form, target = self.date, "send_date"
            elif field.startswith("target_"):
                form, target = self.target, field if field in self.target.fields else None
            else:
                form = self.slots
                target = field if field in form.fields else f"{field}__amount" if f"{field}__amount" in form.fields else None
            for message in field_errors:
                if message not in (form.errors.get(target or "__all__") or []):  # the field's own check said it
                    form.add_error(target, message)


def _live(request: HttpRequest, editor: _Editor) -> dict[str, object]:
    """What the editor shows beside the forms: the preview, the audience count, the problems of the
    date and the clashes, for what is typed now (nothing is saved)."""
    campaign = editor.campaign
    values, send_date, raw_criteria = editor.typed()
    context: dict[str, object] = {"problems": [], "date_problems": [], "criteria_problems": []}
    try:
        cleaned = slot_values_clean(version=editor.version, values=values)
    except ValidationError as error:
        context["problems"] = error.messages
        cleaned = None
    if cleaned is not None:
        context |= preview_context(user=request.user, version=editor.version, values=cleaned, branch=campaign.branch,
                                   campaign={"offer_code": "", "start_date": "", "end_date": "",
                                             "send_date": (send_date or campaign.send_date).strftime("%d/%m/%Y")})
        context["slot_date_warnings"] = slot_date_warnings(editor.definitions, cleaned, send_date=send_date)
    try:
        criteria = criteria_clean(raw_criteria, allowed=editor.allowed)
    except ValidationError as error:
        context["criteria_problems"] = error.messages
        criteria = None
    if send_date is None:
        context["date_problems"] = [_("Enter a valid date.")]
    else:
        context["date_problems"] = campaign_check_date(campaign, send_date)
    if criteria is not None:
        if campaign_customers_visible(request.user, campaign):
            context["audience_count"] = campaign_audience_count(fetched_by=request.user, campaign=campaign,
                                                                criteria=criteria)
        context["clashes"] = campaign_clashes(fetched_by=request.user, campaign=campaign,
                                              send_date=send_date or campaign.send_date, criteria=criteria)
    # the cost card follows the same unsaved values as the audience count, from this very count
    context["cost"] = _cost_panel(_as_typed(campaign, cleaned, send_date), context.get("audience_count"),
                                  measured=_measured(request, context))
    return context


def _as_typed(campaign: Campaign, values: dict | None, send_date: date | None) -> Campaign:
    """The campaign as the editor's forms hold it, for reading only (never saved): its typed slot
    values and send date, where they could be read."""

    typed = copy(campaign)
    if values is not None:
        typed.slot_values = values
    if send_date is not None:
        typed.send_date = send_date
    return typed


def _measured(request: HttpRequest, live: dict[str, object]) -> int | None:
    """The SMS segments, or the letter's pages, of the preview ``live`` just rendered (what the
    cost of one message depends on), so that the cost card prices what the preview shows."""

    if live.get("sms_count") is not None:
        return live["sms_count"].segments
    if live.get("pdf_token"):
        pdf = pdf_for(user=request.user, token=live["pdf_token"])
        return pdf_pages(pdf) if pdf else None
    return None


def _history_entry(event, *, sees_customers: bool) -> tuple[object, str, list[str]]:
    """An audit event as the editor shows it: what happened, and each change as "before → after".
    Who does not see the branch's customers reads that the list changed, not whose name."""
    labels = {
        "created": _("Created"), "customised": _("Customised"), "cancelled": _("Cancelled"),
        "target_exclude": _("Removed from the list"), "target_include": _("Added to the list"),
        "target_reset": _("Put back as the criteria give"),
        "target_review_remove": _("Removed by its branch's review"),
        "target_review_restore": _("Restored by its branch's review"),
        "target_review_add": _("Added by its branch's review"),
        "status": _("Approval"), "scheduled": _("Scheduled"), "sending": _("Sending started"),
        "paused": _("Send paused"), "resumed": _("Send resumed"), "send_cancelled": _("Send cancelled"),
        "sent": _("Sent"),
        "send_blocked": _("Send stopped: the messages no longer matched their proof"),
        "local_slots": _("Slots each branch may fill"),
        "local_slot_values": _("A branch's own text"),
    }
    changes = event.changes or {}
    lines: list[str] = []
    for name, (before, after) in changes.get("slot_values", {}).items():
        lines.append(f"{name}: « {before or '—'} » → « {after or '—'} »")
    if "send_date" in changes:
        value = changes["send_date"]
        lines.append(_("Send date") + (f": {value[0]} → {value[1]}" if isinstance(value, list) else f": {value}"))
    if "target_criteria" in changes:
        before, after = changes["target_criteria"]
        show = lambda criteria: ", ".join(f"{k} = {v}" for k, v in criteria.items()) or _("everyone")  # noqa: E731
        lines.append(_("Target") + f": {show(before)} → {show(after)}")
    if "local_slots" in changes:
        before, after = changes["local_slots"]
        lines.append(f"{', '.join(before) or '—'} → {', '.join(after) or '—'}")
    if (event.action.startswith("target_review_") or event.action == "local_slot_values") and changes.get("branch"):
        lines.append(str(changes["branch"]))
    if "name" in changes and sees_customers:
        lines.append(f"{changes['name']} ({changes.get('customer', '')})")
    if "template" in changes:
        lines.append(changes["template"])
    if "reason" in changes:
        lines.append(str(changes["reason"]))
    if "status" in changes:
        before, after = changes["status"]
        lines.append(f"{CampaignStatus(before).label} → {CampaignStatus(after).label}"
                     + (f" ({changes['note']})" if changes.get("note") else ""))
    return event, labels.get(event.action, event.action), lines


def _cost_panel(campaign, audience: int | None, *, measured: int | None = None) -> dict[str, object] | None:
    """The campaign's estimated cost (from ``audience``: the live count the user sees, the branch's
    own list, for what the forms hold), its actual cost once it is sent, and its branch's budget
    covering the send date."""

    if campaign.status in (CampaignStatus.SENDING, CampaignStatus.PAUSED, CampaignStatus.SENT):
        actual = budgets.campaign_cost_actual(campaign)
        return {"actual": actual, "estimate": None, "shown": actual, "over": False, "budget": None}
    if audience is None or campaign.status == CampaignStatus.CANCELLED:
        return None
    over, estimate, _remaining = budgets.over_budget(campaign, audience=audience, measured=measured)
    budget = budgets.budget_for(campaign)
    return {"actual": None, "estimate": estimate, "shown": estimate, "over": over,
            "budget": budgets.budget_status(budget) if budget else None}


def _local_slots_panel(campaign: Campaign, *, editable: bool,
                      errors: list[str] | None = None) -> dict[str, object] | None:
    """Head office's national send of an operation: the slots each reached branch may fill (its
    text-like slots, checked when local); changeable while the campaign is a draft."""
    if campaign.branch_id is not None or campaign.operation_id is None:
        return None
    candidates = local_slot_candidates(campaign)
    if not candidates:
        return None
    marked = set(campaign.local_slots or [])
    return {"slots": [(d, d.name in marked) for d in candidates], "errors": errors or [],
            "can_change": editable and campaign.status == CampaignStatus.DRAFT}


def _local_slots_post(request: HttpRequest, campaign: Campaign) -> list[str]:
    """Save head office's choice of local slots; the errors, or nothing on success."""
    try:
        local_slots_set(campaign=campaign, slots=request.POST.getlist("local_slots"), by=request.user)
    except ValidationError as error:
        return error.messages
    return []


@login_required
@require_http_methods(["GET", "POST"])
def campaign_edit_view(request: HttpRequest, public_id: str) -> HttpResponse:
    campaign = campaign_get(fetched_by=request.user, public_id=public_id)
    editor = _Editor(request, campaign)
    editable = campaign_is_editable(request.user, campaign)
    local_errors: list[str] = []
    if request.method == "POST" and request.POST.get("form") == "local_slots":
        if not editable or campaign.branch_id is not None:
            raise PermissionDenied
        local_errors = _local_slots_post(request, campaign)
        if not local_errors:
            messages.success(request, _("The slots each branch may fill were saved."))
            return redirect("campaigns:campaign-edit", public_id=campaign.public_id)
        messages.error(request, _("Nothing was saved: %(errors)s") % {"errors": " ".join(local_errors)})
        editor = _Editor(_as_get(request), campaign)
        live = _live(request, editor)
    elif request.method == "POST":
        if not editable:
            raise PermissionDenied
        if request.htmx:  # the live panel, and beside it the cost and simulation cards (out of band)
            return render(request, "central/campaigns/_campaign_live_refresh.html",
                          {"campaign": campaign, **_live(request, editor)})
        try:
            values, send_date, criteria = editor.submitted()
            campaign_update(campaign=campaign, updated_by=request.user, slot_values=values,
                            send_date=send_date, target_criteria=criteria)
        except ValidationError as error:
            editor.show_errors(error)
            messages.error(request, _("Nothing was saved: correct the fields shown in red."))
        except PermissionDenied as error:
            messages.error(request, str(error) or _("You may not change this campaign."))
        else:
            messages.success(request, _("Campaign saved."))
            return redirect("campaigns:campaign-edit", public_id=campaign.public_id)
        live = _live(request, editor)
    else:
        live = _live(request, editor)
    return _editor_page(request, campaign, editor, live, editable=editable, local_errors=local_errors)


def _editor_page(request: HttpRequest, campaign: Campaign, editor: _Editor, live: dict[str, object], *,
                 editable: bool, local_errors: list[str] | None = None) -> HttpResponse:
    """The campaign editor's page, its forms showing ``editor`` (what was typed, with its errors)."""
    sees_customers = campaign_customers_visible(request.user, campaign)
    progress = None
    if campaign.status in (CampaignStatus.SENDING, CampaignStatus.PAUSED, CampaignStatus.SENT):

        progress = campaign_send_progress(campaign)
    return render(request, "central/campaigns/campaign_edit.html", {
        "campaign": campaign, "editor": editor, "editable": editable, "sees_customers": sees_customers,
        "progress": progress, "can_control": campaign_can_edit(request.user, campaign),
        "deadline": campaign_edit_deadline(campaign),
        "history": [_history_entry(event, sees_customers=sees_customers)
                    for event in campaign_history(campaign=campaign)[:50]],
        "has_image_slot": any(d.type == "image" for d in editor.definitions),
        "approval": _approval_panel(request, campaign, editable=editable),
        "local_slots": _local_slots_panel(campaign, editable=editable, errors=local_errors), **live,
        **checklist_context(user=request.user, campaign=campaign, live=live, editable=editable),
    })


def _as_get(request: HttpRequest) -> HttpRequest:
    """The request as a plain page load (the editor's forms show the campaign as saved)."""

    plain = copy(request)
    plain.method = "GET"
    return plain


@login_required
@require_POST
def campaign_cancel_view(request: HttpRequest, public_id: str) -> HttpResponse:
    campaign = campaign_get(fetched_by=request.user, public_id=public_id)
    try:
        campaign_cancel(campaign=campaign, cancelled_by=request.user)
    except (ValidationError, PermissionDenied) as error:
        for message in messages_of(error):
            messages.error(request, message)
        return redirect("campaigns:campaign-edit", public_id=campaign.public_id)
    messages.success(request, _("Campaign cancelled."))
    return redirect(operations_url(campaign.branch))


# --- Approval: the panel of the editor, asking for approval, scheduling ------------------------------


def _approval_panel(request: HttpRequest, campaign: Campaign, *, editable: bool) -> dict[str, object]:
    """Where the campaign stands on its way to approval, for the editor's panel: its latest proof
    (as far as the user sees it), the approvers' comments when it came back, and what the user may do."""
    proof = latest_proof(fetched_by=request.user, campaign=campaign)
    can_edit = campaign_can_edit(request.user, campaign)
    comments = []
    step = None
    if proof is not None:
        if proof.status in (ProofStatus.REJECTED, ProofStatus.CHANGES_REQUESTED):
            comments = [
                {"decision": decision,
                 "slots": [(proof.slot_labels.get(name, name), text) for name, text in (decision.slot_comments or {}).items()]}
                for decision in proof_decisions(proof=proof) if decision.verdict != Verdict.APPROVE
            ]
        if proof.status == ProofStatus.PENDING and proof.current_step < len(proof.steps):
            current = proof.steps[proof.current_step]
            try:
                role = Role(current.get("role")).label
            except ValueError:
                role = current.get("role", "")
            step = {"number": proof.current_step + 1, "count": len(proof.steps), "role": role,
                    "node": current.get("node_name", "")}
    status = campaign.status
    return {
        "proof": proof, "comments": comments, "step": step,
        "can_request": can_edit and status == CampaignStatus.DRAFT,
        "can_schedule": can_edit and status == CampaignStatus.APPROVED,
        "voids": editable and status in (CampaignStatus.AWAITING_APPROVAL, CampaignStatus.APPROVED,
                                         CampaignStatus.SCHEDULED),
    }


def _approval_errors(request: HttpRequest, campaign: Campaign, error: ValidationError) -> None:
    """A refused request or schedule as messages, each named after the slot or field it is about."""
    if not hasattr(error, "error_dict"):
        for message in messages_of(error):
            messages.error(request, message)
        return
    labels = {d.name: d.label for d in rendering.version_slots(campaign.template_version)}
    labels |= {"send_date": _("Send date"), "target": _("Target"), "target_criteria": _("Target")}
    for field, field_errors in error.message_dict.items():
        for message in field_errors:
            label = labels.get(field)
            messages.error(request, f"{label}: {message}" if label else message)


@login_required
@require_POST
def campaign_request_approval_view(request: HttpRequest, public_id: str) -> HttpResponse:
    """Request approval. From the editor (its button submits the editor's form, ``with_values``, so
    the fields come along) what is typed is saved and frozen at once; otherwise (``again``, a form
    without the editor's fields) the campaign as saved."""
    campaign = campaign_get(fetched_by=request.user, public_id=public_id)
    if request.POST.get("with_values") == "1" or "send_date" in request.POST:
        return _request_with_values(request, campaign)
    try:
        if request.POST.get("again") == "1":  # an approved campaign, asked again with the current details
            proof = proof_request_again(campaign=campaign, requested_by=request.user)
        else:
            proof = proof_request(campaign=campaign, requested_by=request.user)
    except ValidationError as error:
        messages.error(request, _("Approval was not requested:"))
        _approval_errors(request, campaign, error)
    except PermissionDenied as error:
        messages.error(request, str(error) or _("You may not request approval for this campaign."))
    else:
        messages.success(request, _("Approval requested: proof no. %(number)s is on its way to the approvers.")
                         % {"number": proof.number})
    return redirect("campaigns:campaign-edit", public_id=campaign.public_id)


def _request_with_values(request: HttpRequest, campaign: Campaign) -> HttpResponse:
    """The editor's *Request approval*: the values typed are checked, saved and frozen into the
    proof in one transaction, so the proof holds what the preview showed. Refused, nothing is saved
    nor requested and the editor comes back with what was typed, the errors beside their fields and
    at the top."""
    if not campaign_is_editable(request.user, campaign):
        messages.error(request, _("You may not change this campaign."))
        return redirect("campaigns:campaign-edit", public_id=campaign.public_id)
    editor = _Editor(request, campaign)
    try:
        values, send_date, criteria = editor.submitted()
        proof = proof_request_with_values(campaign=campaign, requested_by=request.user, slot_values=values,
                                          send_date=send_date, target_criteria=criteria)
    except ValidationError as error:
        beside, others = editor.fields_of(error)
        if beside:
            editor.show_errors(ValidationError(beside))
            messages.error(request, _("Approval was not requested and nothing was saved: correct the fields "
                                      "shown in red, then request approval again."))
        else:
            messages.error(request, _("Approval was not requested and nothing was saved:"))
        if others:
            _approval_errors(request, campaign, ValidationError(others) if "" not in others
                             else ValidationError(others[""]))
    except PermissionDenied as error:
        messages.error(request, str(error) or _("You may not request approval for this campaign."))
        return redirect("campaigns:campaign-edit", public_id=campaign.public_id)
    else:
        messages.success(request, _("Saved, and approval requested: proof no. %(number)s is on its way to the "
                                    "approvers.") % {"number": proof.number})
        return redirect("campaigns:campaign-edit", public_id=campaign.public_id)
    return _editor_page(request, campaign, editor, _live(request, editor), editable=True)


@login_required
@require_POST
def campaign_schedule_view(request: HttpRequest, public_id: str) -> HttpResponse:
    campaign = campaign_get(fetched_by=request.user, public_id=public_id)
    try:
        campaign_schedule(campaign=campaign, scheduled_by=request.user)
    except ValidationError as error:
        _approval_errors(request, campaign, error)
    except PermissionDenied as error:
        messages.error(request, str(error) or _("You may not change this campaign."))
    else:
        messages.success(request, _("Scheduled: it will be sent on %(date)s.")
                         % {"date": date_format(campaign.send_date, "SHORT_DATE_FORMAT")})
    return redirect("campaigns:campaign-edit", public_id=campaign.public_id)


@login_required
@require_POST
def campaign_send_control_view(request: HttpRequest, public_id: str, action: str) -> HttpResponse:
    """Pause, resume or cancel a campaign's send (nothing is ever sent twice)."""

    campaign = campaign_get(fetched_by=request.user, public_id=public_id)
    controls = {
        "pause": (lambda: campaign_send_pause(campaign=campaign, paused_by=request.user), _("Send paused.")),
        "resume": (lambda: campaign_send_resume(campaign=campaign, resumed_by=request.user), _("Send resumed.")),
        "cancel": (lambda: campaign_send_cancel(campaign=campaign, cancelled_by=request.user),
                   _("Send cancelled: nothing more leaves.")),
    }
    if action not in controls:
        raise Http404
    service, done = controls[action]
    try:
        service()
    except (ValidationError, PermissionDenied) as error:
        for message in messages_of(error) if isinstance(error, ValidationError) else [str(error)]:
            messages.error(request, message)
    else:
        messages.success(request, done)
    return redirect("campaigns:campaign-edit", public_id=campaign.public_id)
