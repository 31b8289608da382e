"""The branch side of the network's rules: "why not?" for one of one's customers, simulating one's
campaign, and the transfers of customers between branches (asked for by a branch, decided by head
office or the regional manager over both branches).

Thin: every read goes through central's scoping selectors, every write through its services."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from central.campaigns.selectors import campaign_get
from central.customers.selectors import customer_get, customer_list, customers_visible_to
from central.customers.transfers import (
    branches_acted_for,
    ownership_transfer_decide,
    ownership_transfer_get,
    ownership_transfer_request,
    ownership_transfer_view,
    ownership_transfers_visible_to,
)
from central.models import TransferStatus
from central.rules.forms import OwnershipRequestForm
from central.rules.selectors import customer_why_not
from central.rules.services import campaign_simulation
from local_stores.selectors import nodes_in_scope


def _messages_of(error: Exception) -> list[str]:
    return list(getattr(error, "messages", None) or [str(error)])


def _require_customer_scope(request: HttpRequest) -> None:
    """Who sees no customer at all gets 404, as on the customer pages."""
    if not nodes_in_scope(request.user, perm="view_customers").exists():
        raise Http404


# --- Why not? --------------------------------------------------------------------------------------


@login_required
@require_GET
def customer_why_search_view(request: HttpRequest) -> HttpResponse:
    """Find one of one's customers (name, e-mail, CRM or Relais id) to read why they will or will
    not receive each campaign."""
    _require_customer_scope(request)
    query = request.GET.get("q", "").strip()[:100]
    found = []
    if query:
        found = list(customers_visible_to(request.user).select_related("branch").filter(public_id=query)[:1]) or list(
            customer_list(fetched_by=request.user, filters={"q": query})[:25])
    return render(request, "central/rules/customer_why_search.html", {"search": query, "found": found})


@login_required
@require_GET
def customer_why_view(request: HttpRequest, public_id: str) -> HttpResponse:
    """For one of one's customers (404 for anyone else's): each campaign of the latest arbitration
    (simulation or real) that concerned them, and in plain words why they will or will not get it."""
    customer = customer_get(fetched_by=request.user, public_id=public_id)
    why = customer_why_not(fetched_by=request.user, customer=customer)
    return render(request, "central/rules/customer_why.html", {"customer": customer, "why": why})


# --- Simulating a campaign -------------------------------------------------------------------------


@login_required
@require_POST
def campaign_simulate_view(request: HttpRequest, public_id: str) -> HttpResponse:
    """Simulate the network's rules around a campaign (its send date ± the caps' window)."""
    campaign = campaign_get(fetched_by=request.user, public_id=public_id)
    try:
        campaign_simulation(campaign=campaign, run_by=request.user)
    except PermissionDenied as error:
        messages.error(request, str(error) or _("You do not see the customers of this campaign."))
    except ValidationError as error:
        for message in _messages_of(error):
            messages.error(request, message)
    else:
        messages.success(request, _("Simulation done: see what the network's rules would decide below."))
    return redirect("campaigns:campaign-edit", public_id=campaign.public_id)


# --- Ownership transfers ---------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def transfers_view(request: HttpRequest) -> HttpResponse:
    """The transfers to or from the branches whose customers one sees (waiting ones first), and the
    form to ask for a customer of another branch (head office's request moves them at once)."""
    _require_customer_scope(request)
    branches = branches_acted_for(request.user)
    form = OwnershipRequestForm(request.POST or None, branches=branches) if branches.exists() else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        if form.is_valid():
            try:
                transfer = ownership_transfer_request(
                    to_branch=form.cleaned_data["to_branch"], customer_reference=form.cleaned_data["customer"],
                    requested_by=request.user, note=form.cleaned_data["note"])
            except ValidationError as error:
                for field, field_errors in error.message_dict.items():
                    for message in field_errors:
                        form.add_error(field if field in form.fields else None, message)
            except PermissionDenied as error:
                form.add_error("to_branch", str(error))
            else:
                if transfer.status == TransferStatus.ACCEPTED:
                    messages.success(request, _("Done: the customer now belongs to %(branch)s.") % {
                        "branch": transfer.to_branch.name})
                else:
                    messages.success(request, _("Request sent: head office or your regional manager decides."))
                return redirect("rules:transfers")
    status = request.GET.get("status", "")
    transfers = ownership_transfers_visible_to(request.user)
    if status in TransferStatus.values:
        transfers = transfers.filter(status=status)
    page = Paginator(transfers.order_by("-requested_at", "-id"), 25).get_page(request.GET.get("page"))
    return render(request, "central/rules/transfers.html", {
        "form": form, "page": page, "status": status, "statuses": TransferStatus.choices,
        "rows": [ownership_transfer_view(request.user, transfer) for transfer in page],
        "query": urlencode({"status": status}) if status else "",
    })


@login_required
@require_POST
def transfer_decide_view(request: HttpRequest, public_id: str) -> HttpResponse:
    transfer = ownership_transfer_get(fetched_by=request.user, public_id=public_id)
    decision = request.POST.get("decision", "")
    if decision not in ("accept", "refuse"):
        messages.error(request, _("Accept or refuse."))
        return redirect("rules:transfers")
    try:
        ownership_transfer_decide(transfer=transfer, decided_by=request.user, accept=decision == "accept",
                                  note=request.POST.get("note", ""))
    except (ValidationError, PermissionDenied) as error:
        for message in _messages_of(error):
            messages.error(request, message)
    else:
        messages.success(request, _("Transfer accepted: the customer changed branch.") if decision == "accept"
                         else _("Transfer refused."))
    return redirect("rules:transfers")
