from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from approvals.selectors import campaigns_with_old_details
from central.campaigns.states import branch_campaigns, with_states
from central.customers.selectors import consent_summary, customer_counts_by_branch
from central.structure.selectors import structure_nodes_visible_to
from local_stores.forms import NodeProfileForm
from local_stores.models import Node
from local_stores.selectors import branch_get, branch_list, node_in_scope, regions_visible_to
from local_stores.services import node_editable_fields, node_update


@login_required
@require_GET
def branch_list_view(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "")[:100]
    region = request.GET.get("region", "")[:24]
    branches = branch_list(fetched_by=request.user, search=search, region=region)
    page = Paginator(branches, 25).get_page(request.GET.get("page"))
    counts = customer_counts_by_branch(fetched_by=request.user)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "central/branches/branch_list.html",
        {
            "page": page,
            "rows": [(branch, counts.get(branch.pk)) for branch in page],
            "search": search,
            "region": region,
            "query": query.urlencode(),
            "regions": regions_visible_to(request.user).order_by("name"),
            "can_read_structure": structure_nodes_visible_to(request.user).exists(),
        },
    )


@login_required
@require_GET
def branch_detail_view(request: HttpRequest, public_id: str) -> HttpResponse:
    branch = branch_get(fetched_by=request.user, public_id=public_id)
    can_see_customers = node_in_scope(request.user, branch, perm="view_customers")
    old_details = campaigns_with_old_details(fetched_by=request.user, branch=branch)
    for item in old_details:  # the changed details by their labels, never field names
        own = {"logo": _("logo"), "manager_name": _("manager's name")}
        item["changed_labels"] = [own[name] if name in own else str(Node._meta.get_field(name).verbose_name)
                                  for name in item["changed"]]
    with_states(fetched_by=request.user, campaigns=[item["campaign"] for item in old_details])
    return render(
        request,
        "central/branches/branch_detail.html",
        {
            "branch": branch,
            "campaigns": branch_campaigns(fetched_by=request.user, branch=branch),
            "can_see_customers": can_see_customers,
            "consent": consent_summary(fetched_by=request.user, branch=branch) if can_see_customers else None,
            "can_edit": bool(node_editable_fields(node=branch, user=request.user)),
            "old_details": old_details,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def branch_edit_view(request: HttpRequest, public_id: str) -> HttpResponse:
    branch = branch_get(fetched_by=request.user, public_id=public_id)
    editable = node_editable_fields(node=branch, user=request.user)
    if not editable:
        raise Http404
    form = NodeProfileForm(
        request.POST or None, request.FILES or None, instance=branch, editable_fields=editable
    )
    if request.method == "POST" and form.is_valid():
        changed = {name: form.cleaned_data[name] for name in form.changed_data}
        if changed.get("logo") is False:  # "clear" ticked
            changed["logo"] = ""
        try:
            fresh = branch_get(fetched_by=request.user, public_id=public_id)
            node_update(node=fresh, edited_by=request.user, data=changed)
        except PermissionDenied as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("The branch details were saved."))
            return redirect("branches:branch-detail", public_id=branch.public_id)
    return render(request, "central/branches/branch_edit.html", {"branch": branch, "form": form})
