"""The home page: one section per role the user holds, each reading through the scoping selectors."""

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from approvals.selectors import approval_scope_exists, pending_proofs_for
from central.customers.selectors import consent_summary, customer_counts_by_branch, customer_list
from config.home_todo import branch_todo
from local_stores.models import NodeKind, Role
from local_stores.selectors import branches_visible_to, networks_visible_to, regions_visible_to, roles_of


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    roles = roles_of(user)
    held = {role for role, _node in roles}
    context: dict[str, object] = {
        "roles": roles,
        "role_badges": [(Role(role).label, node) for role, node in roles],
    }
    if Role.HEAD_OFFICE_MARKETER in held or Role.ANALYST in held or user.is_superuser:
        counts = customer_counts_by_branch(fetched_by=user)
        regions = list(regions_visible_to(user).select_related("network").order_by("network__name", "name"))
        branches = list(branches_visible_to(user))
        for region in regions:
            region.branch_count = sum(1 for branch in branches if branch.parent_id == region.pk)
            region.customer_count = sum(
                counts.get(branch.pk, 0) for branch in branches if branch.parent_id == region.pk
            )
        context["overview"] = {
            "networks": networks_visible_to(user),
            "regions": regions,
            "branch_count": len(branches),
            "consent": consent_summary(fetched_by=user),
        }
    region_nodes = [
        node for role, node in roles if role == Role.REGIONAL_MANAGER and node.kind == NodeKind.REGION
    ]
    if region_nodes:
        counts = customer_counts_by_branch(fetched_by=user)
        context["regions_managed"] = [
            {
                "region": region,
                "branches": [
                    (branch, counts.get(branch.pk, 0))
                    for branch in branches_visible_to(user).filter(parent=region).order_by("name")
                ],
            }
            for region in region_nodes
        ]
    branch_nodes = [node for role, node in roles if role == Role.BRANCH_MANAGER]
    if branch_nodes:
        context["branches_managed"] = [
            {
                "branch": branch,
                "todo": branch_todo(fetched_by=user, branch=branch),
                "consent": consent_summary(fetched_by=user, branch=branch),
                "recent": customer_list(fetched_by=user).filter(branch=branch).order_by("-created_at")[:5],
            }
            for branch in branch_nodes
        ]
    if approval_scope_exists(fetched_by=user):
        context["inbox"] = pending_proofs_for(fetched_by=user)
        context["is_approver"] = True
    context["start"] = _first_steps(held)
    return render(request, "home.html", context)


#: What each role does first: (role, title, what it does, URL name), shown as "Where to start".
FIRST_STEPS = (
    (Role.HEAD_OFFICE_MARKETER, _("Create a template"), _("e-mail, SMS or print, with the slots branches fill"),
     "templates_lib:template-create"),
    (Role.HEAD_OFFICE_MARKETER, _("Plan an operation"), _("on the national calendar, with its deadline and its branches"),
     "calendar:operation-create"),
    (Role.HEAD_OFFICE_MARKETER, _("Set the network's rules"), _("pressure caps, priorities, then simulate"),
     "calendar:rules"),
    (Role.BRANCH_MANAGER, _("Answer the operations"), _("join one, fill its slots, target your customers, ask for the proof"),
     "operations:operations"),
    (Role.REGIONAL_MANAGER, _("Review the proofs"), _("of your region's branches, before anything is sent"),
     "approvals:inbox"),
    (Role.APPROVER, _("Review the proofs"), _("approve, or reject with a comment the branch reads"), "approvals:inbox"),
    (Role.ANALYST, _("Read the results"), _("deliveries, opens, clicks and revenue, by branch and region"),
     "reporting:dashboard"),
)


def _first_steps(held: set[str]) -> list[tuple[str, str, str]]:
    steps, seen = [], set()
    for role, title, text, url_name in FIRST_STEPS:
        if role in held and url_name not in seen:
            seen.add(url_name)
            steps.append((title, text, reverse(url_name)))
    if held and "reporting:dashboard" not in seen:
        steps.append((_("Read the results"), _("your messages' deliveries, opens, clicks and revenue"),
                      reverse("reporting:dashboard")))
    return steps


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
