"""The branch's review of head office's national target: the customers of its own that head
office's send of an operation proposes, searchable and filterable, each with its state; remove one
(with a reason), restore one, add one of the branch's own customers. Read-only after the deadline.

Thin: reads through ``central.target_review_selectors`` (scoped by the acting user), writes through
``central.target_review``'s services."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from central.models import NationalTargetReview
from central.selectors import customers_visible_to, operation_get
from central.target_review import review_add, review_remove, review_restore
from central.target_review_selectors import (
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
from local_stores.selectors import node_in_scope

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
    if request.method == "POST":
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
    return render(request, "local_stores/target_review.html", {
        "operation": operation, "branch": branch, "branches": branches,
        "can_act": can_act and is_open and not passes_by,
        "is_open": is_open, "deadline": review_deadline(operation),
        "passes_by": passes_by, "sends": list(head_office_sends(operation)),
        "counts": counts[0] if counts else None, "page": page, "query": query.urlencode(),
        "search": search, "state": state, "segment": segment, "segments": review_segments(
            fetched_by=request.user, operation=operation, branch=branch),
        "states": [(KEPT, _("Kept")), (REMOVED, _("Removed")), (ADDED, _("Added"))],
        "reasons": NationalTargetReview.RemovalReason.choices,
        "add_search": add_search,
        "candidates": addable_customers(fetched_by=request.user, operation=operation, branch=branch,
                                        search=add_search) if add_search and is_open and can_act else [],
        "errors": errors, "posted_customer": posted_customer,
        "all_errors": [message for messages_ in errors.values() for message in messages_],
    })
