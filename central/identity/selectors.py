"""Reads of the sending identity: whose it is to manage, and what stops a network from sending."""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext as _

from central.identity.connections import identity_of
from central.identity.providers import PROVIDERS, provider_of
from central.models import SendingIdentity
from local_stores.models import Network, Node, NodeKind
from local_stores.outbound import outbound_host_problem, outbound_url_problem
from local_stores.selectors import nodes_in_scope


def identity_networks_for(user) -> QuerySet[Network]:
    """The networks whose head office ``user`` manages the sending identity of (manage_identity on
    the head office node)."""
    head_offices = nodes_in_scope(user, perm="manage_identity").filter(kind=NodeKind.HEAD_OFFICE)
    return Network.objects.filter(pk__in=head_offices.values("network_id")).order_by("name")


def identity_network_for(user, slug: str | None = None) -> Network:
    """The network (``slug``, else the first) whose sending identity ``user`` manages; 404 for
    anyone else and for another network (one answer for "not yours" and "nothing there")."""
    if slug and "\x00" in slug:  # no network's slug holds a NUL (PostgreSQL refuses it in a query)
        raise Http404
    networks = identity_networks_for(user)
    network = networks.filter(slug=slug).first() if slug else networks.first()
    if network is None:
        raise Http404
    return network


def head_office_of(network: Network) -> Node:
    return Node.objects.get(network=network, kind=NodeKind.HEAD_OFFICE)


def identity_for_page(network: Network) -> SendingIdentity:
    """The network's identity, or an unsaved empty one (the form's starting point)."""
    return identity_of(network) or SendingIdentity(network=network)


def _email_problem(identity: SendingIdentity) -> str | None:
    missing = []
    if not identity.from_domain:
        missing.append(_("the From domain"))
    if not identity.from_local_part:
        missing.append(_("the From address"))
    if identity.reply_to == SendingIdentity.ReplyTo.FIXED and not identity.reply_to_address:
        missing.append(_("the fixed Reply-To address"))
    if identity.email_method == SendingIdentity.EmailMethod.ANYMAIL:
        if not identity.esp:
            missing.append(_("the e-mail service"))
        if not identity.email_secret_encrypted:
            missing.append(_("the e-mail service's API key"))
        provider = PROVIDERS.get(identity.esp)
        if provider and provider.second_secret_kwarg and not identity.esp_secret_key_encrypted:
            missing.append(_("the e-mail service's secret key"))
        if provider and provider.api_url_required and not identity.esp_api_url:
            missing.append(_("the address of the e-mail service's API"))
        if provider and provider.region_required and not identity.esp_region:
            missing.append(_("the e-mail service's region"))
    else:
        if not identity.smtp_host:
            missing.append(_("the SMTP host"))
        if identity.smtp_username and not identity.email_secret_encrypted:
            missing.append(_("the SMTP password"))
    if not missing:
        # the servers it names, checked again at each send (a name may resolve elsewhere since it was saved)
        if identity.email_method == SendingIdentity.EmailMethod.ANYMAIL:
            refused = outbound_url_problem(identity.esp_api_url)
        else:
            refused = outbound_host_problem(identity.smtp_host, identity.smtp_port)
        return _("The network's e-mail server is refused: %(problem)s") % {"problem": refused} if refused else None
    return _("The network's sending identity is incomplete for e-mail: %(missing)s missing. "
             "Head office completes it in Network › Sending identity.") % {"missing": ", ".join(str(m) for m in missing)}


def _sms_problem(identity: SendingIdentity) -> str | None:
    if identity.sms_provider == SendingIdentity.SmsProvider.NONE:
        if not settings.RELAIS_IDENTITY_REQUIRED:
            return None  # the platform's SMS account, in the demo
        return _("The network's sending identity has no SMS account. Head office sets one up in "
                 "Network › Sending identity.")
    missing = []
    if not identity.sms_account:
        missing.append(_("the SMS account"))
    if not identity.sms_secret_encrypted:
        missing.append(_("the SMS account's token"))
    if not identity.sms_sender:
        missing.append(_("the SMS sender"))
    if not missing:
        return None
    return _("The network's sending identity is incomplete for SMS: %(missing)s missing. "
             "Head office completes it in Network › Sending identity.") % {"missing": ", ".join(str(m) for m in missing)}


def identity_problem(network: Network | int, channel: str) -> str | None:
    """Why ``network`` cannot send on ``channel`` with its own identity, or None. Without an
    identity: nothing in the demo and the tests (the platform's settings), refused when
    ``RELAIS_IDENTITY_REQUIRED``. Post has no sending identity (the printer's settings)."""
    if channel not in ("email", "sms"):
        return None
    identity = identity_of(network)
    if identity is None:
        if not settings.RELAIS_IDENTITY_REQUIRED:
            return None
        return _("The network has no sending identity: nothing can be sent until head office sets it up "
                 "in Network › Sending identity.")
    return _email_problem(identity) if channel == "email" else _sms_problem(identity)


def sender_changed(network: Network | int, frozen_address: str, *, frozen_from_identity: bool) -> str | None:
    """Why a proof frozen with the From ``frozen_address`` may no longer be sent, or None."""
    identity = identity_of(network)
    if identity is None and not frozen_from_identity:
        return None
    current = identity.address if identity is not None else ""
    if current == frozen_address:
        return None
    return _("The sender changed since approval: request approval again.")


def tracking_webhook_identity(network_slug: str, esp: str) -> SendingIdentity:
    """The identity whose tracking webhook ``/webhooks/email/<network_slug>/<esp>/tracking/`` is:
    its network's e-mail goes through ``esp``, which has a per-network webhook, and a webhook
    secret (and the signing key the service's webhook requires) is stored. Else 404 — an unknown
    network, another service, a webhook not set up: one answer, so nothing is learnt by probing."""
    identity = (SendingIdentity.objects.select_related("network")
                .filter(network__slug=network_slug, email_method=SendingIdentity.EmailMethod.ANYMAIL, esp=esp)
                .exclude(webhook_secret_encrypted="").first())
    provider = provider_of(esp)
    if identity is None or provider is None or not provider.webhook:
        raise Http404
    if provider.webhook != "basic" and not identity.webhook_signing_key_encrypted:
        raise Http404
    return identity


def tracking_webhook_path(identity: SendingIdentity) -> str:
    """The path of the network's tracking webhook, or "" while it is not served (docs/sending-identity.md)."""
    provider = provider_of(identity.esp) if identity.email_method == SendingIdentity.EmailMethod.ANYMAIL else None
    if identity.pk is None or provider is None or not provider.webhook:
        return ""
    return reverse("identity-tracking-webhook", kwargs={"slug": identity.network.slug, "esp": identity.esp})
