"""Addresses Relais calls on a network's behalf (an e-mail service's API address, an identity
provider's issuer): in production only public https servers, so that a head office cannot make
the platform reach its own private network (SSRF; ../shared/security-checklist.md). The demo and
the tests allow private and loopback servers (``RELAIS_OUTBOUND_PRIVATE_ALLOWED``, true unless in
production), where the providers of the tests run."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _


def outbound_url_problem(url: str) -> str | None:
    """Why Relais will not call ``url`` here, or None. Every address the host name resolves to must be
    public (not private, loopback, link-local, reserved…)."""
    if not url or getattr(settings, "RELAIS_OUTBOUND_PRIVATE_ALLOWED", False):
        return None
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return _("Give the service's https:// address.")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return _("No server answers to this name: check the address.")
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global:
            return _("This address leads to a private network: give the service's public address.")
    return None
