"""The sending identity's page (head office, manage_identity): the form, the secrets shown as
"set on <date> by <person>" and masked, never their value, the network's tracking webhook address
and the test send (queued: the page shows it queued, then its result)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from central.identity.forms import IdentityTestSendForm, SendingIdentityForm
from central.identity.selectors import (
    identity_for_page,
    identity_network_for,
    identity_networks_for,
    identity_problem,
    tracking_webhook_path,
)
from central.identity.services import identity_save, identity_test_queue
from central.models import SECRET_FIELDS
from local_stores import secrets as stored_secrets


def _page_url(network) -> str:
    return f"{reverse('identity:identity')}?network={network.slug}"


def _render(request, network, identity, form, test_form) -> HttpResponse:
    secrets = [{"label": form.fields[name].label, "set_at": getattr(identity, f"{name}_set_at"),
                "set_by": getattr(identity, f"{name}_set_by") if getattr(identity, f"{name}_set_at") else None,
                "stored": bool(getattr(identity, f"{name}_encrypted")),
                "masked": stored_secrets.mask(stored_secrets.decrypt(getattr(identity, f"{name}_encrypted")))}
               for name in SECRET_FIELDS]
    webhook_path = tracking_webhook_path(identity)
    return render(request, "central/identity/identity.html", {
        "network": network, "networks": identity_networks_for(request.user), "identity": identity, "form": form,
        "test_form": test_form, "secrets": secrets,
        "webhook_url": request.build_absolute_uri(webhook_path) if webhook_path else "",
        "problems": [problem for problem in (identity_problem(network, "email"), identity_problem(network, "sms"))
                     if problem],
    })


@login_required
@require_http_methods(["GET", "POST"])
def identity_view(request: HttpRequest) -> HttpResponse:
    network = identity_network_for(request.user, request.POST.get("network") or request.GET.get("network"))
    identity = identity_for_page(network)
    form = SendingIdentityForm(request.POST or None, identity=identity)
    if request.method == "POST":
        if form.is_valid():
            try:
                identity_save(network=network, saved_by=request.user, ip=request.META.get("REMOTE_ADDR"),
                              **form.service_arguments())
            except ValidationError as error:
                form.add_service_errors(error)
            else:
                messages.success(request, _("The sending identity was saved: the next sends use it."))
                return redirect(_page_url(network))
        messages.error(request, _("Nothing was saved: correct the fields shown in red."))
    return _render(request, network, identity, form, IdentityTestSendForm())


@login_required
@require_POST
def identity_test_view(request: HttpRequest) -> HttpResponse:
    network = identity_network_for(request.user, request.POST.get("network"))
    identity = identity_for_page(network)
    test_form = IdentityTestSendForm(request.POST)
    if test_form.is_valid():
        try:
            identity_test_queue(network=network, sent_by=request.user, to=test_form.cleaned_data["to"],
                                ip=request.META.get("REMOTE_ADDR"))
        except ValidationError as error:
            test_form.add_error(None, error.messages[0])
        else:
            messages.info(request, _("Test sent to %(to)s queued: its result shows below in a moment.")
                          % {"to": test_form.cleaned_data["to"]})
            return redirect(_page_url(network))
    return _render(request, network, identity, SendingIdentityForm(identity=identity), test_form)
