from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from approvals.selectors import approval_scope_exists, pending_proofs_for


@login_required
@require_GET
def inbox_view(request: HttpRequest) -> HttpResponse:
    if not approval_scope_exists(fetched_by=request.user):
        raise Http404
    return render(request, "approvals/inbox.html", {"proofs": pending_proofs_for(fetched_by=request.user)})
