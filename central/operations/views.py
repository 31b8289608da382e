"""The operations open to a branch: the list (what it may join, decline or use, with its campaigns
and their states), the answer to an operation, a kit's use.

Thin: every read goes through central's scoping selectors, every write through its services."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from central.calendar.selectors import operation_eligible_branches, operation_get, operations_visible_to
from central.calendar.services import participation_answer
from central.calendar.views import withdrawal_confirmation
from central.campaigns.selectors import campaign_audience_count, campaign_list
from central.campaigns.services import kit_use
from central.campaigns.states import campaigns_created_message, with_states
from central.campaigns.target_review_selectors import operations_with_head_office_sends
from central.models import (
    OperationMode,
    OperationStatus,
    ParticipationStatus,
)
from local_stores.models import Node
from local_stores.selectors import branches_visible_to, node_in_scope


def messages_of(error: Exception) -> list[str]:
    return list(getattr(error, "messages", None) or [str(error)])


def operations_url(branch: Node | None) -> str:
    url = reverse("operations:operations")
    return f"{url}?branch={branch.public_id}" if branch else url


# --- The operations open to a branch ----------------------------------------------------------------


@login_required
@require_GET
def operations_view(request: HttpRequest) -> HttpResponse:
    branches = list(branches_visible_to(request.user).order_by("name"))
    wanted = request.GET.get("branch", "")
    branch = next((b for b in branches if b.public_id == wanted), branches[0] if branches else None)
    context: dict[str, object] = {"branches": branches, "branch": branch}
    if branch is not None:
        today = timezone.localdate()
        operations = (
            operations_visible_to(request.user)
            .filter(network_id=branch.network_id, status=OperationStatus.PUBLISHED, send_until__gte=today)
            .prefetch_related("template_versions__template")
            .order_by("subscription_deadline", "send_from")
        )
        eligible = [op for op in operations if operation_eligible_branches(op).filter(pk=branch.pk).exists()]
        answers = {p.operation_id: p for p in branch.participations.filter(operation__in=eligible)}
        campaigns = with_states(fetched_by=request.user, campaigns=campaign_list(fetched_by=request.user, branch=branch))
        context |= {
            # head office sends a message of its own for these: the branch reviews its target
            "national_sends": operations_with_head_office_sends(eligible),
            "can_act": node_in_scope(request.user, branch, perm="change_node"),
            "rows": [
                {
                    "operation": op, "participation": answers.get(op.pk),
                    "deadline_passed": bool(op.subscription_deadline and today > op.subscription_deadline),
                    "days_left": (op.subscription_deadline - today).days if op.subscription_deadline else None,
                    "versions": list(op.template_versions.all()),
                    "campaigns": [campaign for campaign in campaigns if campaign.operation_id == op.pk],
                }
                for op in eligible
            ],
            "campaigns": [
                (campaign, campaign_audience_count(fetched_by=request.user, campaign=campaign)) for campaign in campaigns
            ],
            "modes": OperationMode,
        }
    return render(request, "central/operations/operations.html", context)


def _acting_branch(request: HttpRequest) -> Node | None:
    return branches_visible_to(request.user).filter(public_id=request.POST.get("branch", "")).first()


@login_required
@require_POST
def operation_answer_view(request: HttpRequest, public_id: str) -> HttpResponse:
    """Join or decline (opt out of) an operation; joining leads straight to the campaign."""
    operation = operation_get(fetched_by=request.user, public_id=public_id)
    branch = _acting_branch(request)
    status = request.POST.get("status", "")
    if branch is None or status not in ParticipationStatus.values:
        messages.error(request, _("Choose a branch and an answer."))
        return redirect(operations_url(branch))
    confirmation = withdrawal_confirmation(request, operation=operation, branch=branch, status=status,
                                           back=operations_url(branch))
    if confirmation is not None:
        return confirmation
    try:
        participation_answer(operation=operation, branch=branch, status=status, answered_by=request.user)
    except (ValidationError, PermissionDenied) as error:
        for message in messages_of(error):
            messages.error(request, message)
        return redirect(operations_url(branch))
    messages.success(request, _("%(branch)s: %(answer)s.") % {"branch": branch.name, "answer": ParticipationStatus(status).label})
    if status in (ParticipationStatus.JOINED, ParticipationStatus.ENROLLED):
        # name every campaign joining created; open it only when there is one (issue 19, defect 4)
        created, campaigns = campaigns_created_message(fetched_by=request.user, operation=operation, branch=branch)
        if created:
            messages.info(request, created)
        if len(campaigns) == 1:
            return redirect("campaigns:campaign-edit", public_id=campaigns[0].public_id)
        return redirect(operations_url(branch) + f"#operation-{operation.public_id}")
    return redirect(operations_url(branch))


@login_required
@require_POST
def kit_use_view(request: HttpRequest, public_id: str) -> HttpResponse:
    operation = operation_get(fetched_by=request.user, public_id=public_id)
    branch = _acting_branch(request)
    version = operation.template_versions.filter(public_id=request.POST.get("version", "")).first()
    if branch is None or version is None:
        messages.error(request, _("Choose a branch and one of the kit's templates."))
        return redirect(operations_url(branch))
    try:
        campaign = kit_use(operation=operation, branch=branch, template_version=version, used_by=request.user)
    except (ValidationError, PermissionDenied) as error:
        for message in messages_of(error):
            messages.error(request, message)
        return redirect(operations_url(branch))
    messages.success(request, _("A new campaign was created from the kit: make it yours."))
    return redirect("campaigns:campaign-edit", public_id=campaign.public_id)


# --- The campaign editor ----------------------------------------------------------------------------
