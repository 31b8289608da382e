"""Pages reached without logging in: an invitation's link, and the password reset by e-mail
(Django's own views with our templates; no account enumeration: the same answer for any address)."""

from __future__ import annotations

from allauth.core import ratelimit
from allauth.core.internal import ratelimit as ratelimit_impl
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from central.people.forms import AcceptForm, AcceptNamesForm
from local_stores.audit import network_event_record
from local_stores.forms import style_fields
from local_stores.mfa_policy import has_second_factor
from local_stores.models import Membership, NetworkEvent
from local_stores.people import (
    InvitationInvalid,
    invitation_accept,
    invitation_for_token,
    invitation_sso_only,
)

BACKEND = "django.contrib.auth.backends.ModelBackend"


#: Unknown, used, expired or revoked invitation links per client address (GET and POST alike),
#: in allauth's rate-limit notation; beyond it every invitation link answers 429 from that address
#: until the window passes — before any look-up, so guessing learns nothing more.
INVITATION_RATE_LIMIT = getattr(settings, "RELAIS_INVITATION_RATE_LIMIT", "10/m/ip,100/h/ip")
_RATE = {"invitation_invalid": INVITATION_RATE_LIMIT}


def _rate_limit(request: HttpRequest, *, dry_run: bool) -> bool:
    """Within the limit of invalid links for this address? (``dry_run``: without counting one.)"""
    return ratelimit_impl.consume(
        request, app="relais.people", action="invitation_invalid", config=_RATE, limit_get=True, dry_run=dry_run,
    ) is not None


def _no_longer_valid(request: HttpRequest) -> HttpResponse:
    if not _rate_limit(request, dry_run=False):
        return _too_many(request)
    return render(request, "central/people/invitation_invalid.html", status=404)


def _too_many(request: HttpRequest) -> HttpResponse:
    return render(request, "central/people/invitation_rate_limited.html", status=429)


@never_cache
@require_http_methods(["GET", "POST"])
def invitation_accept_view(request: HttpRequest, token: str) -> HttpResponse:
    if not _rate_limit(request, dry_run=True):
        return _too_many(request)
    try:
        invitation = invitation_for_token(token)
    except InvitationInvalid:
        return _no_longer_valid(request)
    initial = {"first_name": invitation.first_name, "last_name": invitation.last_name}
    sso_only = invitation_sso_only(invitation)  # no password: they log in with their company account
    form = (AcceptNamesForm if sso_only else AcceptForm)(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = invitation_accept(
                token=token, password=None if sso_only else data["password1"],
                first_name=data["first_name"], last_name=data["last_name"],
            )
        except InvitationInvalid:
            return _no_longer_valid(request)
        except ValidationError as error:
            form.add_error("password1", error)
        else:
            if sso_only:
                messages.success(request, _("You have joined %(network)s: log in with your company account.") % {
                    "network": invitation.network.name})
                return redirect("login")
            if has_second_factor(user):  # their login asks the app's code: no way round it
                messages.success(request, _("Your new role is added: log in."))
                return redirect("login")
            login(request, user, backend=BACKEND)
            # recorded like a login through the login page (allauth records only its own), so the
            # person's sessions list shows it and ending their sessions ends it
            UserSession.objects.create_from_request(request, user=user)
            return redirect("home")
    return render(
        request, "central/people/invitation_accept.html", {"form": form, "invitation": invitation, "sso_only": sso_only},
        status=400 if form.errors else 200,
    )


class StyledFormMixin:
    def get_form(self, form_class=None):
        return style_fields(super().get_form(form_class))


class PasswordResetView(StyledFormMixin, auth_views.PasswordResetView):
    """Rate-limited like the logins (``ACCOUNT_RATE_LIMITS["reset_password"]``: per address and per
    e-mail): beyond it the form says so and sends nothing — the same answer whether or not the
    address is a person's."""

    template_name = "central/people/password_reset_form.html"
    email_template_name = "central/people/password_reset_email.txt"
    subject_template_name = "central/people/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")

    def form_valid(self, form):
        if not ratelimit.consume(self.request, action="reset_password", key=form.cleaned_data["email"].lower()):
            form.add_error(None, _("Too many requests: wait a few minutes before asking for another link."))
            return self.form_invalid(form)
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "central/people/password_reset_done.html"


class PasswordResetConfirmView(StyledFormMixin, auth_views.PasswordResetConfirmView):
    template_name = "central/people/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        membership = Membership.objects.filter(user=form.user).select_related("network").first()
        if membership is not None:
            network_event_record(
                network=membership.network, action=NetworkEvent.Action.PASSWORD_RESET, actor=form.user,
                subject_user=form.user, ip=self.request.META.get("REMOTE_ADDR"),
            )
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "central/people/password_reset_complete.html"
