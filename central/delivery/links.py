"""Links in a message: the public URLs of a delivery's token (unsubscribe, view online, open
pixel), signed click-tracking links, and the HTML with its links tracked."""

from __future__ import annotations

import functools
import html
import re
from urllib.parse import quote

from django.conf import settings
from django.core import signing
from django.urls import get_script_prefix, get_urlconf, reverse

_PLAIN_TOKEN = re.compile(r"[A-Za-z0-9_-]+\Z")
_ROUTE_PLACEHOLDER = "relaisTOKENsentinel0"


_PUBLIC_ROUTES = ("public:unsubscribe", "public:view-online", "public:open", "public:click")


@functools.lru_cache(maxsize=16)
def _route_set(base_url: str, root_urlconf: str, urlconf, script_prefix: str) -> dict[str, tuple[str, str] | None]:
    """The absolute URL of each public route around its token, reversed once per set-up (the base
    URL, the URL configuration and the script prefix are the key)."""
    routes: dict[str, tuple[str, str] | None] = {}
    for name in _PUBLIC_ROUTES:
        url = base_url.rstrip("/") + reverse(name, args=[_ROUTE_PLACEHOLDER], urlconf=urlconf)
        before, found, after = url.partition(_ROUTE_PLACEHOLDER)
        routes[name] = (before, after) if found and _ROUTE_PLACEHOLDER not in after else None
    return routes


def message_urls(token: str) -> dict[str, str]:
    """``RELAIS_BASE_URL`` + each public route's path for ``token``: ``reverse`` once per route and
    set-up, then only the token is put in (a token of other characters than letters, digits, ``_``
    and ``-`` goes through ``reverse``, for its quoting)."""
    routes = (_route_set(settings.RELAIS_BASE_URL, settings.ROOT_URLCONF, get_urlconf(), get_script_prefix())
              if _PLAIN_TOKEN.match(token) else {})
    urls = {}
    for name in _PUBLIC_ROUTES:
        route = routes.get(name)
        urls[name] = route[0] + token + route[1] if route else _absolute(reverse(name, args=[token]))
    return urls


def _public_url(name: str, token: str) -> str:
    return message_urls(token)[name]


def _absolute(path: str) -> str:
    return settings.RELAIS_BASE_URL.rstrip("/") + path


def unsubscribe_url(token: str) -> str:
    return _public_url("public:unsubscribe", token)


def view_online_url(token: str) -> str:
    return _public_url("public:view-online", token)


def open_pixel_url(token: str) -> str:
    return _public_url("public:open", token)


def _click_salt(token: str) -> str:
    return f"relais.click:{token}"


def click_url(token: str, target: str, *, urls: dict[str, str] | None = None) -> str:
    """The tracked form of a link of the message ``token``: the target, signed for that message only
    (the redirect never goes anywhere the message did not link to)."""
    signed = signing.Signer(salt=_click_salt(token)).sign_object(target, compress=True)
    return (urls or message_urls(token))["public:click"] + "?u=" + quote(signed, safe="")


def click_target(token: str, signed: str) -> str:
    """The target of a tracked link; ``signing.BadSignature`` if it was not signed for ``token``."""
    target = signing.Signer(salt=_click_salt(token)).unsign_object(signed)
    if not isinstance(target, str) or not target.lower().startswith(("http://", "https://")):
        raise signing.BadSignature("not a link of the message")
    return target


_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)


def tracked_html(document: str, token: str, *, pixel: bool = True, urls: dict[str, str] | None = None) -> str:
    """Links rewritten to the click redirect (but the unsubscribe and view-online links), and the
    open pixel before ``</body>``."""
    urls = urls or message_urls(token)
    own = {urls["public:unsubscribe"], urls["public:view-online"]}

    def rewrite(match: re.Match) -> str:
        target = html.unescape(match.group(3)).strip()
        if not target.lower().startswith(("http://", "https://")) or target in own:
            return match.group(0)
        return f"{match.group(1)}{match.group(2)}{html.escape(click_url(token, target, urls=urls))}{match.group(2)}"

    document = _HREF.sub(rewrite, document)
    if not pixel:
        return document
    image = (f'<img src="{html.escape(urls["public:open"])}" width="1" height="1" alt="" '
             'style="display:block;border:0;width:1px;height:1px;overflow:hidden">')
    return _before_body_end(document, image)


def _before_body_end(document: str, insert: str) -> str:
    """``insert`` before the last ``</body>`` (in any case), or at the end. The tail is looked at
    first: lower-casing the whole document for each message costs more than the rest."""
    tail_start = max(0, len(document) - 4096)
    end = document[tail_start:].lower().rfind("</body>")
    end = tail_start + end if end >= 0 else document[:tail_start + 6].lower().rfind("</body>")
    return document[:end] + insert + document[end:] if end >= 0 else document + insert
