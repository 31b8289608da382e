"""How a network's messages leave: its From address and Reply-To rule, its e-mail connection (its
SMTP account or its e-mail service's API through django-anymail) and its SMS account. A network
without a sending identity uses the platform's settings (DEFAULT_FROM_EMAIL, EMAIL_*,
RELAIS_SMS_*) — the demo's and the tests' way; with ``RELAIS_IDENTITY_REQUIRED`` such a network
sends nothing (``central.identity.selectors.identity_problem`` says why).

Below central.delivery, which imports it: nothing here imports central.delivery."""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import get_connection

from central.identity.providers import backend_options
from central.models import SendingIdentity
from local_stores import secrets
from local_stores.models import Network
from local_stores.outbound import guarded_session

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


def identity_of(network: Network | int) -> SendingIdentity | None:
    network_id = network if isinstance(network, int) else network.pk
    return SendingIdentity.objects.filter(network_id=network_id).first()


def platform_address() -> str:
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or "no-reply@relais.localhost"


def sender_address(network: Network, identity: SendingIdentity | None = None) -> str:
    """The address the network's messages leave from: its identity's, else the platform's."""
    identity = identity if identity is not None else identity_of(network)
    return (identity.address if identity is not None else "") or platform_address()


@dataclass(frozen=True)
class Sender:
    name: str
    address: str
    reply_to: str
    from_identity: bool


def sender_for(identity: SendingIdentity | None, *, name: str, branch_email: str = "") -> Sender:
    """The sender of one variant of a network whose identity is ``identity`` (None: it has none):
    ``name`` is the branch's (the network's for head office's own variant), ``branch_email`` the
    branch's address, which the identity's rules may replace."""
    if identity is None:
        return Sender(name=name, address=platform_address(), reply_to=branch_email, from_identity=False)
    if identity.from_name == SendingIdentity.FromName.NETWORK:
        name = identity.network.name
    reply_to = {SendingIdentity.ReplyTo.BRANCH: branch_email, SendingIdentity.ReplyTo.FIXED: identity.reply_to_address,
                SendingIdentity.ReplyTo.NONE: ""}.get(identity.reply_to, "")
    return Sender(name=name, address=identity.address or platform_address(), reply_to=reply_to, from_identity=True)


def email_connection(network: Network, *, identity: SendingIdentity | None = None, fail_silently: bool = False):
    """An (unopened) e-mail connection of the network: its SMTP account, its e-mail service's API
    with its own key, or — without an identity — the platform's backend."""
    identity = identity if identity is not None else identity_of(network)
    if identity is None:
        return get_connection(fail_silently=fail_silently)
    secret = secrets.decrypt(identity.email_secret_encrypted)
    if identity.email_method == SendingIdentity.EmailMethod.ANYMAIL:
        options = backend_options(identity.esp, secret=secret, api_url=identity.esp_api_url,
                                  region=identity.esp_region, second_secret=secrets.decrypt(identity.esp_secret_key_encrypted))
        connection = get_connection(f"anymail.backends.{identity.esp}.EmailBackend", fail_silently=fail_silently,
                                    **options)
        if hasattr(connection, "create_session"):  # anymail's HTTP backends: public servers only, no redirect
            create_session = connection.create_session
            connection.create_session = lambda: guarded_session(create_session())
        return connection
    security = identity.smtp_security
    return get_connection(
        SMTP_BACKEND, fail_silently=fail_silently, host=identity.smtp_host, port=identity.smtp_port,
        username=identity.smtp_username or "", password=secret if identity.smtp_username else "",
        use_tls=security == SendingIdentity.Security.STARTTLS, use_ssl=security == SendingIdentity.Security.SSL,
        timeout=getattr(settings, "EMAIL_TIMEOUT", None) or 30)


@dataclass(frozen=True)
class SmsAccount:
    """A network's own SMS account (Twilio): what ``central.delivery.sms_backends`` sends with."""

    provider: str
    account: str
    secret: str
    sender: str

    def __repr__(self) -> str:  # never the secret, should it be logged
        return f"SmsAccount(provider={self.provider!r}, account={self.account!r}, sender={self.sender!r})"


def sms_account(network: Network, *, identity: SendingIdentity | None = None) -> SmsAccount | None:
    """The network's own SMS account, or None: the platform's backend (RELAIS_SMS_BACKEND)."""
    identity = identity if identity is not None else identity_of(network)
    if identity is None or identity.sms_provider == SendingIdentity.SmsProvider.NONE:
        return None
    return SmsAccount(provider=identity.sms_provider, account=identity.sms_account,
                      secret=secrets.decrypt(identity.sms_secret_encrypted), sender=identity.sms_sender)
