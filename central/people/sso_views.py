"""Single sign-on pages: the head office's set-up (/network/sso/) and the login page's "company
account" form, which finds the network by the e-mail's domain and starts its OpenID Connect login."""

from __future__ import annotations

from allauth.account.utils import get_next_redirect_url
from allauth.socialaccount.adapter import get_adapter as get_social_adapter
from allauth.socialaccount.providers.base import AuthProcess
from allauth.utils import build_absolute_uri
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from central.people.sso_forms import CompanyLoginForm, SsoConfigForm, SsoMappingForm
from central.people.sso_selectors import sso_network_for, sso_networks_for
from local_stores.forms import add_service_errors
from local_stores.models import Network, SsoConfig, SsoRoleMapping
from local_stores.people import head_office_of_network
from local_stores.sso import (
    provider_logout_url,
    sso_config_for_email,
    sso_config_save,
    sso_discovery_check,
    sso_mapping_add,
    sso_mapping_remove,
)


def _page_url(network) -> str:
    return f"{reverse('sso:sso')}?network={network.slug}"


def _network(request) -> Network:
    return sso_network_for(request.user, request.POST.get("network") or request.GET.get("network"))


def _page(request, network, *, form=None, mapping_form=None, discovery=None, status=200) -> HttpResponse:
    config = SsoConfig.objects.filter(network=network).select_related("client_secret_set_by", "updated_by").first()
    return render(request, "central/people/sso.html", {
        "network": network, "networks": sso_networks_for(request.user), "config": config,
        "form": form or SsoConfigForm(instance=config or SsoConfig(network=network)),
        "mapping_form": mapping_form or SsoMappingForm(network=network),
        "mappings": SsoRoleMapping.objects.filter(network=network).select_related("node"),
        "discovery": discovery, "head_office": head_office_of_network(network),
        "redirect_uri": build_absolute_uri(request, reverse("openid_connect_callback",
                                                            kwargs={"provider_id": f"net-{network.slug}"})),
    }, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def sso_view(request: HttpRequest) -> HttpResponse:
    network = _network(request)
    if request.method == "GET":
        return _page(request, network)
    config = SsoConfig.objects.filter(network=network).first() or SsoConfig(network=network)
    form = SsoConfigForm(request.POST, instance=config)
    if form.is_valid():
        try:
            sso_config_save(network=network, saved_by=request.user, ip=request.META.get("REMOTE_ADDR"),
                            **form.service_arguments())
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Single sign-on was saved."))
            return redirect(_page_url(network))
    messages.error(request, _("Nothing was saved: correct the fields shown in red."))
    return _page(request, network, form=form)


@login_required
@require_POST
def sso_mappings_view(request: HttpRequest) -> HttpResponse:
    network = _network(request)
    if request.POST.get("remove"):
        remove = request.POST["remove"].strip()
        mapping = SsoRoleMapping.objects.filter(network=network, pk=remove).first() if remove.isascii() and remove.isdigit() and len(remove) < 19 else None
        if mapping is None:
            raise Http404
        sso_mapping_remove(mapping=mapping, removed_by=request.user, ip=request.META.get("REMOTE_ADDR"))
        messages.success(request, _("The mapping was removed: the next logins revoke its role."))
        return redirect(_page_url(network))
    form = SsoMappingForm(request.POST, network=network)
    if form.is_valid():
        try:
            sso_mapping_add(network=network, added_by=request.user, ip=request.META.get("REMOTE_ADDR"),
                            **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("The mapping was added: it applies at each person's next login."))
            return redirect(_page_url(network))
    messages.error(request, _("The mapping was not added: correct the fields shown in red."))
    return _page(request, network, mapping_form=form)


@login_required
@require_POST
def sso_discovery_view(request: HttpRequest) -> HttpResponse:
    network = _network(request)
    config = SsoConfig.objects.filter(network=network).first()
    if config is None or not config.issuer_url:
        messages.error(request, _("Save the issuer URL first."))
        return redirect(_page_url(network))
    return _page(request, network, discovery=sso_discovery_check(config.issuer_url))


@require_POST
def company_login_view(request: HttpRequest) -> HttpResponse:
    """"Log in with your company account": the e-mail's domain names the network, whose provider
    the browser is sent to (allauth's OpenID Connect login, PKCE)."""
    form = CompanyLoginForm(request.POST)
    config = sso_config_for_email(form.cleaned_data["email"]) if form.is_valid() else None
    if form.is_valid() and config is None:
        form.add_error("email", _("No company account is set up for this address: log in with your password."))
    if config is None:
        return render(request, "central/people/company_login.html", {"form": form}, status=400)
    provider = get_social_adapter().get_provider(request, config.provider_id)
    return provider.redirect(request, process=AuthProcess.LOGIN, next_url=get_next_redirect_url(request))


class SsoLogoutView(auth_views.LogoutView):
    """Django's logout (POST); a person logged in by single sign-on is then sent to their provider's
    logout (its discovery's ``end_session_endpoint``, with ``id_token_hint``), which sends them back
    to the login page. Without that endpoint: the usual logout."""

    def post(self, request, *args, **kwargs):
        back = build_absolute_uri(request, reverse("login"))
        provider_url = provider_logout_url(request.session, back) if request.user.is_authenticated else None
        response = super().post(request, *args, **kwargs)
        return HttpResponseRedirect(provider_url) if provider_url else response
