from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from central.selectors import consent_summary, customer_counts_by_branch
from local_stores.selectors import branch_get, branch_list, node_in_scope, regions_visible_to


@login_required
@require_GET
def branch_list_view(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "")[:100]
    region = request.GET.get("region", "")[:24]
    branches = branch_list(fetched_by=request.user, search=search, region=region)
    page = Paginator(branches, 25).get_page(request.GET.get("page"))
    counts = customer_counts_by_branch(fetched_by=request.user)
    rows = [(branch, counts.get(branch.pk)) for branch in page]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "local_stores/branch_list.html",
        {
            "page": page,
            "rows": rows,
            "search": search,
            "region": region,
            "query": query.urlencode(),
            "regions": regions_visible_to(request.user).order_by("name"),
        },
    )


@login_required
@require_GET
def branch_detail_view(request: HttpRequest, public_id: str) -> HttpResponse:
    branch = branch_get(fetched_by=request.user, public_id=public_id)
    can_see_customers = node_in_scope(request.user, branch, perm="view_customers")
    return render(
        request,
        "local_stores/branch_detail.html",
        {
            "branch": branch,
            "can_see_customers": can_see_customers,
            "consent": consent_summary(fetched_by=request.user, branch=branch) if can_see_customers else None,
        },
    )
