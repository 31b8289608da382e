"""Servers Relais calls on a network's behalf (an e-mail service's API, its SMTP server, an identity
provider and the endpoints its discovery document names): in production only public servers, so that
a head office cannot make the platform reach its own private network (SSRF;
../shared/security-checklist.md). Checked when the address is saved, again before each send
(``central.identity.selectors``), and at each connection of the HTTP clients (``guarded_session``:
the address the name resolves to then, and no redirect followed). The demo and the tests allow
private and loopback servers (``RELAIS_OUTBOUND_PRIVATE_ALLOWED``, true unless in production), where
the providers of the tests run."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.utils.translation import gettext as _
from requests.adapters import HTTPAdapter


def _allowed() -> bool:
    return bool(getattr(settings, "RELAIS_OUTBOUND_PRIVATE_ALLOWED", False))


def outbound_host_problem(host: str, port: int | None = None) -> str | None:
    """Why Relais will not connect to ``host`` here, or None: every address the name resolves to must
    be public (not private, loopback, link-local, reserved…)."""
    if not host or _allowed():
        return None
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError, ValueError):
        return _("No server answers to this name: check the address.")
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global:
            return _("This address leads to a private network: give the service's public address.")
    return None


def outbound_url_problem(url: str) -> str | None:
    """Why Relais will not call ``url`` here, or None: a public https:// server."""
    if not url or _allowed():
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a port out of range
        return _("Give the service's https:// address.")
    if parts.scheme != "https" or not parts.hostname:
        return _("Give the service's https:// address.")
    return outbound_host_problem(parts.hostname, port)


class OutboundRefused(requests.exceptions.ConnectionError):
    """A call to a server on a private network, refused before connecting."""


class _PublicOnlyAdapter(HTTPAdapter):
    def send(self, request, *args, **kwargs):
        problem = outbound_url_problem(request.url)
        if problem:
            raise OutboundRefused(problem, request=request)
        return super().send(request, *args, **kwargs)


def guarded_session(session: requests.Session | None = None) -> requests.Session:
    """``session`` (a new one by default) refusing, in production, any request to a server that is not
    public https at the moment it is sent, and following no redirect (a public server answering
    "go to 169.254.169.254" is an error, not a trip inside)."""
    session = session if session is not None else requests.Session()
    if not _allowed():
        session.max_redirects = 0
        adapter = _PublicOnlyAdapter()
        session.mount("https://", adapter)
        session.mount("http://", adapter)
    return session
