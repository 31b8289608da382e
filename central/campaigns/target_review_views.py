"""The branch's review of head office's national target: the customers of its own that head
office's send of an operation proposes, searchable and filterable, each with its state; remove one
(with a reason), restore one, add one of the branch's own customers. Read-only after the deadline.

Thin: reads through ``central.campaigns.target_review_selectors`` (scoped by the acting user), writes through
``central.campaigns.target_review``'s services."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from central.calendar.selectors import operation_get
from central.campaigns.local_slots import (
    branch_local_values,
    local_slot_definitions,
    local_slot_values_save,
    local_texts_frozen_reason,
)
from central.campaigns.target_review import review_add, review_remove, review_restore
from central.campaigns.target_review_selectors import (
    ADDED,
    KEPT,
    PAGE_SIZE,
    REMOVED,
    addable_customers,
    head_office_passes_by,
    head_office_sends,
    review_branches,
    review_counts,
    review_deadline,
    review_is_open,
    review_list,
    review_segments,
)
from central.customers.selectors import customers_visible_to
from central.models import NationalTargetReview
from local_stores.selectors import node_in_scope
from templates_lib import slots as slot_types
from templates_lib.forms import slot_initial, slot_values_form, slot_values_from

ACTIONS = ("remove", "restore", "add")


def _done_message(action: str, name: str) -> str:
    return {
        "remove": _("%(name)s will not receive head office's message."),
        "restore": _("%(name)s: back as head office proposed."),
        "add": _("%(name)s was added to head office's target."),
    }[action] % {"name": name}


def _apply(request: HttpRequest, operation, branch) -> tuple[str, dict[str, list[str]]]:
    """Run the posted action; the customer's name and nothing on success, else the errors by field."""
    action = request.POST.get("action", "")
    customer = (customers_visible_to(request.user).filter(branch_id=branch.pk, erased_at__isnull=True)
                .filter(public_id=request.POST.get("customer", "").strip()).first())
    errors: dict[str, list[str]] = {}
    if action not in ACTIONS:
        errors["action"] = [_("Remove, restore or add a customer.")]
    if customer is None:
        errors["customer"] = [_("Choose one of %(branch)s's customers.") % {"branch": branch.name}]
    if errors:
        return "", errors
    try:
        if action == "remove":
            review_remove(operation=operation, customer=customer, reason=request.POST.get("reason", ""),
                          by=request.user)
        elif action == "restore":
            review_restore(operation=operation, customer=customer, by=request.user)
        else:
            review_add(operation=operation, customer=customer, by=request.user)
    except ValidationError as error:
        return customer.full_name, (error.message_dict if hasattr(error, "error_dict")
                                    else {"__all__": error.messages})
    return customer.full_name, {}


# --- The branch's own texts in head office's message (local slots) --------------------------------


def _local_form(send, definitions, *, data=None, initial=None):
    """The local slots of head office's send ``send`` as a form (fields prefixed by the send),
    each with head office's text shown as its default."""
    form = type(slot_values_form(definitions, []))(data=data, initial=initial, prefix=f"local-{send.public_id}")
    for definition in definitions:
        default = send.slot_values.get(definition.name)
        shown = slot_types.display(definition, default, context="text") if default not in (None, "") else ""
        name = f"{definition.name}__amount" if definition.type == slot_types.PRICE else definition.name
        field = form.fields[name]
        if shown and definition.type in (slot_types.SHORT_TEXT, slot_types.LONG_TEXT):
            field.widget.attrs["placeholder"] = shown
        field.help_text = (_("Head office's text, kept if you write nothing: %(text)s") % {"text": shown} if shown
                           else _("Head office leaves it empty if you write nothing."))
    return form


def _local_values(form, definitions) -> dict[str, object]:
    """What was typed in a local-slots form, by slot name (the prefix taken off)."""
    from types import SimpleNamespace

    start = f"{form.prefix}-"
    data = {key[len(start):]: form.data.get(key) for key in form.data if key.startswith(start)}
    return slot_values_from(SimpleNamespace(data=data), definitions)


def _local_panels(sends, branch, *, can_act: bool, posted=None) -> list[dict[str, object]]:
    """One panel per head-office send with local slots: its form, and why it is read-only if it is."""
    panels = []
    for send in sends:
        definitions = local_slot_definitions(send)
        if not definitions:
            continue
        if posted is not None and posted["send"].pk == send.pk:
            form = posted["form"]
        else:
            form = _local_form(send, definitions, initial=slot_initial(definitions, branch_local_values(send, branch)))
        frozen = local_texts_frozen_reason(send)
        panels.append({"send": send, "form": form, "frozen": frozen, "can_act": can_act and not frozen})
    return panels


def _local_post(request: HttpRequest, sends, branch) -> tuple[dict | None, list[str]]:
    """Save the branch's texts posted for one of head office's sends: (the bound form, the errors)."""
    send = next((s for s in sends if s.public_id == request.POST.get("campaign", "")), None)
    definitions = local_slot_definitions(send) if send is not None else []
    if not definitions:
        return None, [_("Head office's message lets your branch write nothing of its own.")]
    form = _local_form(send, definitions, data=request.POST)
    try:
        local_slot_values_save(campaign=send, branch=branch, values=_local_values(form, definitions), by=request.user)
    except ValidationError as error:
        problems = error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}
        for name, messages_ in problems.items():
            field = name if name in form.fields else f"{name}__amount" if f"{name}__amount" in form.fields else None
            for message in messages_:
                form.add_error(field, message)
        return {"send": send, "form": form}, [message for messages_ in problems.values() for message in messages_]
    return {"send": send, "form": form}, []


@login_required
@require_http_methods(["GET", "POST"])
def target_review_view(request: HttpRequest, public_id: str) -> HttpResponse:
    operation = operation_get(fetched_by=request.user, public_id=public_id)
    branches = list(review_branches(request.user, operation))
    if not branches:  # who sees no customer of an eligible branch: nothing here for them
        raise Http404
    wanted = request.POST.get("branch") or request.GET.get("branch", "")
    branch = next((b for b in branches if b.public_id == wanted), None) if wanted else branches[0]
    if branch is None:  # another branch's review, or no such branch: the same 404
        raise Http404
    can_act = node_in_scope(request.user, branch, perm="change_node")
    is_open = review_is_open(operation)
    errors: dict[str, list[str]] = {}
    posted_customer = ""
    sends = list(head_office_sends(operation))
    local_posted, local_errors = None, []
    if request.method == "POST" and request.POST.get("action") == "local_texts":
        if not can_act:
            raise PermissionDenied
        local_posted, local_errors = _local_post(request, sends, branch)
        if not local_errors:
            messages.success(request, _("Your text in head office's message was saved."))
            return redirect(request.get_full_path())
    elif request.method == "POST":
        if not can_act:
            raise PermissionDenied
        name, errors = _apply(request, operation, branch)
        posted_customer = request.POST.get("customer", "").strip()
        if not errors:
            messages.success(request, _done_message(request.POST["action"], name))
            return redirect(request.get_full_path())
    search = request.GET.get("q", "").strip()[:100]
    state = request.GET.get("state", "")
    segment = request.GET.get("segment", "")[:32]
    add_search = request.GET.get("add_q", "").strip()[:100]
    rows = review_list(fetched_by=request.user, operation=operation, branch=branch, search=search, state=state,
                       segment=segment)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    reason_labels = dict(NationalTargetReview.RemovalReason.choices)
    for row in page.object_list:
        row.reason_label = reason_labels.get(row.review_reason or "", "")
    query = request.GET.copy()
    query.pop("page", None)
    counts = review_counts(fetched_by=request.user, operation=operation, branches=[branch])
    passes_by = head_office_passes_by(operation, branch)
    return render(request, "central/campaigns/target_review.html", {
        "operation": operation, "branch": branch, "branches": branches,
        "can_act": can_act and is_open and not passes_by,
        "is_open": is_open, "deadline": review_deadline(operation),
        "passes_by": passes_by, "sends": sends,
        "local_panels": [] if passes_by else _local_panels(sends, branch, can_act=can_act, posted=local_posted),
        "counts": counts[0] if counts else None, "page": page, "query": query.urlencode(),
        "search": search, "state": state, "segment": segment, "segments": review_segments(
            fetched_by=request.user, operation=operation, branch=branch),
        "states": [(KEPT, _("Kept")), (REMOVED, _("Removed")), (ADDED, _("Added"))],
        "reasons": NationalTargetReview.RemovalReason.choices,
        "add_search": add_search,
        "candidates": addable_customers(fetched_by=request.user, operation=operation, branch=branch,
                                        search=add_search) if add_search and is_open and can_act else [],
        "errors": errors, "posted_customer": posted_customer,
        "all_errors": [message for messages_ in errors.values() for message in messages_] + local_errors,
    })
