"""A campaign's proposed list: the customers it would reach, page by page; remove, restore, add.

Thin: every read goes through central's scoping selectors, every write through its services."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from central.campaigns.selectors import (
    campaign_audience,
    campaign_customers_visible,
    campaign_edit_deadline,
    campaign_get,
    campaign_is_editable,
    campaign_removed_customers,
)
from central.campaigns.services import campaign_target_change
from central.campaigns.targeting import reachable_on
from central.customers.selectors import customers_visible_to
from central.operations.views import messages_of

# --- The proposed list ------------------------------------------------------------------------------


def _search(customers, query: str):
    if not query:
        return customers
    return customers.filter(
        Q(last_name__icontains=query) | Q(first_name__icontains=query) | Q(email__icontains=query)
        | Q(public_id=query) | Q(external_id=query)
    )


@login_required
@require_http_methods(["GET", "POST"])
def campaign_target_view(request: HttpRequest, public_id: str) -> HttpResponse:
    """The customers the campaign would reach, page by page; remove one, restore one, add one of the
    branch's own customers that the criteria left out. Who sees the campaign but not these customers
    gets 404, as for a campaign they do not see."""
    campaign = campaign_get(fetched_by=request.user, public_id=public_id)
    if not campaign_customers_visible(request.user, campaign):
        raise Http404
    editable = campaign_is_editable(request.user, campaign)
    if request.method == "POST":
        if not editable:
            raise PermissionDenied
        try:
            campaign_target_change(campaign=campaign, customer_public_id=request.POST.get("customer", ""),
                                   action=request.POST.get("action", ""), changed_by=request.user)
        except ValidationError as error:
            for message in messages_of(error):
                messages.error(request, message)
        else:
            messages.success(request, {
                "exclude": _("Removed from the list."), "include": _("Added to the list."),
                "reset": _("Back to what the criteria give."),
            }[request.POST["action"]])
        return redirect(request.get_full_path())
    query = request.GET.get("q", "").strip()[:100]
    audience = campaign_audience(fetched_by=request.user, campaign=campaign)
    page = Paginator(_search(audience, query).order_by("last_name", "first_name", "id"), 25).get_page(request.GET.get("page"))
    found = bool(query and request.GET.get("add"))
    candidates = []
    if found:
        own = customers_visible_to(request.user).filter(network_id=campaign.network_id)
        if campaign.branch_id:
            own = own.filter(branch_id=campaign.branch_id)
        candidates = list(_search(own.exclude(pk__in=audience.values("pk")), query)
                          .order_by("last_name", "first_name", "id")[:20])
        reachable_ids = set(own.filter(pk__in=[c.pk for c in candidates]).filter(reachable_on(campaign.channel))
                            .values_list("pk", flat=True))
        candidates = [(customer, customer.pk in reachable_ids) for customer in candidates]
    querystring = request.GET.copy()
    querystring.pop("page", None)
    return render(request, "central/campaigns/campaign_target.html", {
        "campaign": campaign, "page": page, "search": query, "total": audience.count(), "editable": editable,
        "removed": campaign_removed_customers(fetched_by=request.user, campaign=campaign)[:200],
        "included_ids": set(campaign.overrides.filter(action="include").values_list("customer__public_id", flat=True)),
        "candidates": candidates, "adding": found, "query": querystring.urlencode(),
        "deadline": campaign_edit_deadline(campaign),
    })
