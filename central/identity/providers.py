"""What each e-mail service (django-anymail backend) needs from a network's identity: the keyword
its backend takes the API key under, whether it takes a second secret (Mailjet's secret key) and an
API address (a region: Mailgun EU, SparkPost EU; a self-hosted Postal), and how its tracking webhook
is authenticated beyond the shared basic-auth secret (the keyword of its signing key). Amazon SES
takes its key pair and region as a boto3 session's (``session_params``), its API address as the
client's ``endpoint_url`` (``client_params``)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from central.models import ESP_BACKENDS


@dataclass(frozen=True)
class Provider:
    key_kwarg: str = "api_key"
    #: the backend's keyword of a second secret, or "" (none)
    second_secret_kwarg: str = ""
    #: whether ``api_url`` must be given (a self-hosted service), else it is optional
    api_url_required: bool = False
    #: the tracking webhook: "basic" (the shared secret only), the keyword of the signing key its
    #: view also requires, or "" (no per-network tracking webhook for this service)
    webhook: str = "basic"
    #: what the API address is for, shown beside the field
    api_url_hint: str = ""
    #: how the backend takes the account: "kwargs" (its own keywords, ``api_url`` included) or
    #: "session" (boto3: the key pair and region in ``session_params``, the API address as
    #: ``client_params``' ``endpoint_url``)
    style: str = "kwargs"
    #: whether a region (``esp_region``, AWS's name such as eu-west-3) must be given
    region_required: bool = False


PROVIDERS: dict[str, Provider] = {
    "amazon_ses": Provider(key_kwarg="aws_access_key_id", second_secret_kwarg="aws_secret_access_key",  # noqa: S106
                           style="session", region_required=True, webhook=""),
    "brevo": Provider(),
    "mailersend": Provider(key_kwarg="api_token", webhook="signing_secret"),
    "mailgun": Provider(webhook="webhook_signing_key", api_url_hint="https://api.eu.mailgun.net/v3 (EU)"),
    "mailjet": Provider(second_secret_kwarg="secret_key"),  # noqa: S106 - a keyword's name, not a secret
    "mailtrap": Provider(key_kwarg="api_token", webhook=""),
    "mandrill": Provider(webhook="webhook_key"),
    "postal": Provider(api_url_required=True, webhook="webhook_key"),
    "postmark": Provider(key_kwarg="server_token"),
    "resend": Provider(webhook=""),
    "scaleway": Provider(key_kwarg="secret_key", webhook=""),
    "sendgrid": Provider(),
    "sparkpost": Provider(api_url_hint="https://api.eu.sparkpost.com/api/v1/ (EU)"),
    "unisender_go": Provider(api_url_required=True, webhook=""),
}

#: Services whose backend needs a package that may be missing (Amazon SES: boto3).
_REQUIRED_PACKAGE = {"amazon_ses": "boto3"}


def available(esp: str) -> bool:
    """Whether ``esp`` can be used here: known, and its backend's extra package installed."""
    package = _REQUIRED_PACKAGE.get(esp)
    return esp in PROVIDERS and (package is None or importlib.util.find_spec(package) is not None)


def offered_esps() -> list[tuple[str, str]]:
    """The e-mail services offered on the page and the API (Amazon SES only with boto3 installed)."""
    return [(value, label) for value, label in ESP_BACKENDS if available(value)]


def provider_of(esp: str) -> Provider | None:
    return PROVIDERS.get(esp) if available(esp) else None


def backend_options(esp: str, *, secret: str, second_secret: str, api_url: str, region: str = "") -> dict:
    """The keyword arguments of ``anymail.backends.<esp>.EmailBackend`` for a network's account."""
    provider = PROVIDERS[esp]
    account = {provider.key_kwarg: secret}
    if provider.second_secret_kwarg:
        account[provider.second_secret_kwarg] = second_secret
    if provider.style == "session":
        # explicit keys and region: boto3 never falls back to the platform's own AWS credentials
        options = {"session_params": account | {"region_name": region}}
        if api_url:
            options["client_params"] = {"endpoint_url": api_url}
        return options
    if api_url:
        account["api_url"] = api_url
    return account

