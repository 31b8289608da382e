"""Each network's own tracking webhook: ``/webhooks/email/<network>/<esp>/tracking/``, the provider
calling it with the network's webhook secret (HTTP basic auth) and, for a service that signs its
calls, with the signature of the network's signing key. django-anymail's own view of the service
checks both and parses the events; the events go out on anymail's ``tracking`` signal with the
network's id (``network_id``), which the reporting receiver records only for that network's
deliveries. Unknown network, another service, no secret stored: 404 (docs/sending-identity.md)."""

from __future__ import annotations

import functools
import logging

from anymail.exceptions import AnymailConfigurationError, AnymailWebhookValidationFailure
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from central.identity.providers import PROVIDERS
from central.identity.selectors import tracking_webhook_identity
from local_stores import secrets

try:
    from django.contrib.auth.decorators import login_not_required
except ImportError:  # pragma: no cover - Django < 5.1
    def login_not_required(view):
        return view

logger = logging.getLogger(__name__)


def _anymail_view_class(esp: str):
    import anymail.urls

    for pattern in anymail.urls.urlpatterns:
        if pattern.name == f"{esp}_tracking_webhook":
            return pattern.callback.view_class
    raise Http404


@functools.cache
def _network_view_class(esp: str):
    """django-anymail's tracking view of ``esp``, its events sent with the network's id."""
    base = _anymail_view_class(esp)

    class NetworkTrackingWebhookView(base):
        network_id: int | None = None

        def post(self, request, *args, **kwargs):  # anymail's, with the network named
            self.run_validators(request)
            try:
                events = self.parse_events(request)
            except (ValueError, KeyError, TypeError, AttributeError) as error:  # authentic, but not the service's format
                raise AnymailWebhookValidationFailure(f"{self.esp_name} webhook payload not understood") from error
            for event in events:
                self.signal.send(sender=self.__class__, event=event, esp_name=self.esp_name,
                                 network_id=self.network_id)
            return HttpResponse()

    NetworkTrackingWebhookView.__name__ = f"{base.__name__}ForNetwork"
    return NetworkTrackingWebhookView


@csrf_exempt
@login_not_required
def tracking_webhook_view(request: HttpRequest, slug: str, esp: str) -> HttpResponse:
    identity = tracking_webhook_identity(slug, esp)
    provider = PROVIDERS[esp]
    webhook_secret = secrets.decrypt(identity.webhook_secret_encrypted)
    if not webhook_secret:  # no key reads it any more: never an open webhook
        raise Http404
    options = {"webhook_secret": [webhook_secret]}
    if provider.webhook != "basic":
        signing_key = secrets.decrypt(identity.webhook_signing_key_encrypted)
        if not signing_key:
            raise Http404
        options[provider.webhook] = signing_key
    try:
        view = _network_view_class(esp)(**options)
    except (AnymailConfigurationError, UnicodeError, ValueError, TypeError) as error:
        logger.warning("tracking webhook of network %s (%s) not usable: %s", identity.network.public_id, esp,
                       type(error).__name__)
        raise Http404 from None
    view.network_id = identity.network_id
    view.setup(request)
    return view.dispatch(request)
