"""The people pages: who holds what where, a person's roles and state, inviting."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from central.people import selectors
from central.people.forms import InviteForm, RoleOnNodeForm
from central.people.services import invitation_resend, invitation_revoke, person_invite
from local_stores.models import Role
from local_stores.people import (
    NotInScope,
    device_label,
    own_session_end,
    person_deactivate,
    person_reactivate,
    person_session_end,
    person_sessions_end,
    role_grant_checked,
    role_revoke_checked,
    sessions_open,
)
from local_stores.services import StateConflict


def _require_manager(request: HttpRequest) -> None:
    """Someone who manages nobody finds no people pages (404, like the other head-office pages)."""
    if not selectors.manageable_nodes(request.user).exists():
        raise Http404


@login_required
@require_GET
def people_list_view(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    filters = {
        "search": request.GET.get("q", "").strip()[:100],
        "role": request.GET.get("role", "")[:32],
        "node": request.GET.get("node", "")[:24],
        "state": request.GET.get("state", "")[:16],
    }
    people = selectors.person_list(fetched_by=request.user, **filters)
    page = Paginator(people, 25).get_page(request.GET.get("page"))
    held = selectors.roles_held_by(page.object_list)
    rows = [(membership, held.get(membership.user_id, [])) for membership in page]
    invitations = list(selectors.invitation_list(fetched_by=request.user, **filters)[:50])
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "central/people/people_list.html", {
        "page": page, "rows": rows, "invitations": invitations, "now_time": timezone.now(), "filters": filters, "query": query.urlencode(),
        "roles": Role.choices, "nodes": selectors.manageable_nodes(request.user),
        "states": [("active", _("active")), ("deactivated", _("deactivated")), ("invited", _("invited")),
                   ("expired", _("invitation expired"))],
    })


@login_required
@require_GET
def person_detail_view(request: HttpRequest, public_id: str) -> HttpResponse:
    membership = selectors.person_get(fetched_by=request.user, public_id=public_id)
    return _person_page(request, membership, RoleOnNodeForm(actor=request.user))


def _person_page(request: HttpRequest, membership, form, status: int = 200) -> HttpResponse:
    since = selectors.role_since(membership)
    roles = [(group, since.get((group.node_id, group.role))) for group in selectors.roles_held(membership)]
    events = Paginator(selectors.person_events(membership, viewer=request.user), 20).get_page(request.GET.get("page"))
    is_self = membership.user_id == request.user.pk
    return render(request, "central/people/person_detail.html", {
        "person": membership, "roles": roles, "form": form, "page": events, "query": "",
        "is_self": is_self, "sessions": [] if is_self else sessions_open(membership.user),
    }, status=status)


def _refused(request: HttpRequest, error: Exception) -> None:
    if isinstance(error, NotInScope):
        raise Http404
    messages.error(request, " ".join(getattr(error, "messages", [str(error)])))


@login_required
@require_POST
def person_role_view(request: HttpRequest, public_id: str, action: str) -> HttpResponse:
    membership = selectors.person_get(fetched_by=request.user, public_id=public_id)
    if action not in ("grant", "revoke"):
        raise Http404
    form = RoleOnNodeForm(request.POST, actor=request.user)
    if action == "revoke":  # the role held, whichever choices the actor's form offers
        form.fields["role"].choices = Role.choices
    if not form.is_valid():
        return _person_page(request, membership, form, status=400)
    service = role_grant_checked if action == "grant" else role_revoke_checked
    try:
        service(actor=request.user, user=membership.user, node=form.cleaned_data["node"], role=form.cleaned_data["role"])
    except (NotInScope, ValidationError, PermissionDenied) as error:
        if isinstance(error, PermissionDenied) and not isinstance(error, StateConflict):
            form.add_error(None, str(error))
            return _person_page(request, membership, form, status=403)
        _refused(request, error)
    else:
        messages.success(request, _("The role was granted.") if action == "grant" else _("The role was taken away."))
    return redirect("people:person-detail", public_id=membership.public_id)


@login_required
@require_POST
def person_state_view(request: HttpRequest, public_id: str, action: str) -> HttpResponse:
    membership = selectors.person_get(fetched_by=request.user, public_id=public_id)
    services = {"deactivate": person_deactivate, "reactivate": person_reactivate, "end-sessions": person_sessions_end}
    done = {"deactivate": _("The person was deactivated: their sessions and API token no longer work."),
            "reactivate": _("The person was reactivated."), "end-sessions": _("Their sessions were ended.")}
    if action not in services:
        raise Http404
    try:
        services[action](actor=request.user, membership=membership)
    except NotInScope as error:
        raise Http404 from error
    except PermissionDenied as error:
        messages.error(request, str(error))
    else:
        messages.success(request, done[action])
    return redirect("people:person-detail", public_id=membership.public_id)


@login_required
@require_http_methods(["GET", "POST"])
def person_invite_view(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    form = InviteForm(request.POST or None, actor=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            invitation, _created = person_invite(
                actor=request.user, email=data["email"], node=data["node"], role=data["role"],
                first_name=data["first_name"], last_name=data["last_name"],
            )
        except NotInScope as error:
            raise Http404 from error
        except ValidationError as error:
            for field, errors in getattr(error, "message_dict", {None: error.messages}).items():
                form.add_error(field if field in form.fields else None, errors)
        except PermissionDenied as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("The invitation was sent to %(email)s.") % {"email": invitation.email})
            return redirect("people:people-list")
    return render(request, "central/people/person_invite.html", {"form": form}, status=400 if form.errors else 200)


@login_required
@require_POST
def invitation_action_view(request: HttpRequest, public_id: str, action: str) -> HttpResponse:
    invitation = selectors.invitation_get(fetched_by=request.user, public_id=public_id)
    if action not in ("revoke", "resend"):
        raise Http404
    try:
        if action == "revoke":
            invitation_revoke(actor=request.user, invitation=invitation)
            messages.success(request, _("The invitation was revoked: its link no longer works."))
        else:
            invitation_resend(actor=request.user, invitation=invitation)
            messages.success(request, _("A new link was sent to %(email)s.") % {"email": invitation.email})
    except NotInScope as error:
        raise Http404 from error
    except (PermissionDenied, ValidationError) as error:
        messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
    return redirect("people:people-list")


def _session_id(request: HttpRequest) -> int:
    """The session chosen in the form (its row's number); anything else is a session not found."""
    value = request.POST.get("session", "")
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise Http404
    return int(value)


@login_required
@require_POST
def person_session_end_view(request: HttpRequest, public_id: str) -> HttpResponse:
    """End one of the person's sessions: that device is logged out at its next request."""
    membership = selectors.person_get(fetched_by=request.user, public_id=public_id)
    try:
        session = person_session_end(actor=request.user, membership=membership, session_id=_session_id(request))
    except NotInScope as error:
        raise Http404 from error
    except PermissionDenied as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("The session on %(device)s was ended: that device is logged out.")
                         % {"device": device_label(session.user_agent)})
    return redirect("people:person-detail", public_id=membership.public_id)


@login_required
@require_POST
def own_session_end_view(request: HttpRequest) -> HttpResponse:
    """End one of one's own sessions; ending this one logs out here."""
    try:
        session = own_session_end(user=request.user, session_id=_session_id(request))
    except NotInScope as error:
        raise Http404 from error
    if session.session_key == request.session.session_key:
        logout(request)
        return redirect("login")
    messages.success(request, _("The session on %(device)s was ended: that device is logged out.")
                     % {"device": device_label(session.user_agent)})
    return redirect("usersessions_list")
