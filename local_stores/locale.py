"""A network's time zone and currency, applied: dates and times shown in its zone ("today" included,
``timezone.localdate()``), amounts in its currency (``local_stores.money``).

Requests of a network's people get them from ``local_stores.middleware.NetworkLocaleMiddleware``;
tasks and the code writing e-mails, PDFs and exports for a network outside a request use
``network_locale(network)``::

    with network_locale(campaign.network):
        body = render_to_string(...)

A zone the time-zone database does not know (a stored value gone stale) and a network of None fall
back to the installation's defaults (``settings.TIME_ZONE``, ``settings.RELAIS_CURRENCY``): never an
error. The zone and currency in force before the block come back at its end, whatever happens in it
(docs/network-administration.md, "Time zone and currency")."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from local_stores.models import Network
from local_stores.money import currency_activate, currency_override

logger = logging.getLogger(__name__)


def network_zone(network: Network | None) -> ZoneInfo | None:
    """The network's time zone, or None (the installation's, ``settings.TIME_ZONE``) for no network
    or a zone name the time-zone database does not know."""
    name = getattr(network, "time_zone", "") or ""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # unknown, ill-formed, or a path: ZoneInfoNotFoundError is a KeyError
        logger.warning("Network %s has an unknown time zone %r: the default time zone is used.",
                       getattr(network, "slug", "?"), name[:64])
        return None


def network_today(network: Network | None) -> date:
    """The date it is now in ``network``'s time zone (the installation's for None): the day the
    scheduled tasks run for that network (sends due, reminders, escalations)."""
    zone = network_zone(network)
    return timezone.localdate(timezone=zone) if zone is not None else timezone.localdate()


def latest_today() -> date:
    """No time zone's date is later than this (UTC+14, the Line Islands): the bound a task working for
    every network selects with, before checking each row against its own network's day."""
    return (timezone.now() + timedelta(hours=14)).date()


@contextmanager
def network_locale(network: Network | None) -> Iterator[None]:
    """Within the block, times are in ``network``'s zone and amounts in its currency; with None (the
    platform's staff, a person of no network), in the installation's defaults."""
    with timezone.override(network_zone(network)), currency_override(getattr(network, "currency", None)):
        yield


def network_of_person(user) -> Network | None:
    """The network ``user`` belongs to (their membership), with just what ``network_locale`` reads;
    None for the anonymous, the platform's superusers and a person of no network. One query, kept on
    the user object for the rest of the request."""
    if user is None or not user.is_authenticated or user.is_superuser:
        return None
    try:
        return user._relais_locale_network
    except AttributeError:
        network = (Network.objects.filter(memberships__user_id=user.pk)
                   .only("pk", "slug", "time_zone", "currency").first())
        user._relais_locale_network = network
        return network


def network_locale_activate(user) -> None:
    """Switch the request to ``user``'s network's zone and currency once the user is known only after
    the middleware ran (an API token, authenticated by DRF in the view). Only within the block
    ``NetworkLocaleMiddleware`` opens for each request, whose end puts the defaults back."""
    network = network_of_person(user)
    if network is None:
        return
    zone = network_zone(network)
    if zone is not None:
        timezone.activate(zone)
    currency_activate(network.currency)
