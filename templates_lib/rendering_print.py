"""Rendering of print versions: HTML + CSS to PDF with WeasyPrint, in a forked child process with
a time and size limit, and a URL fetcher that serves only the network's asset library (no file, no
network, no redirect). The values of the per-variant fields come from ``templates_lib.rendering``."""

from __future__ import annotations

import os
import pickle
import re
import select
import signal
import time
from collections.abc import Mapping

import weasyprint
from django.utils.translation import gettext as _
from weasyprint.urls import URLFetcher, URLFetcherResponse

from templates_lib import merge, slots
from templates_lib.models import PrintFormat, TemplateVersion
from templates_lib.rendering import (
    ASSET_SCHEME,
    SOURCE_MAX_CHARS,
    FrozenAsset,
    RenderError,
    VariantContext,
    recipient_values,
    variant_assets,
    variant_resolver,
)

PRINT_TIMEOUT_SECONDS = 20
PRINT_MAX_PAGES = 12
PRINT_MAX_BYTES = 20 * 1024 * 1024


PAGE_SIZES = {
    PrintFormat.A4_PORTRAIT: "A4",
    PrintFormat.A4_LANDSCAPE: "A4 landscape",
    PrintFormat.A5_PORTRAIT: "A5",
    PrintFormat.A5_LANDSCAPE: "A5 landscape",
}


class AssetOnlyFetcher(URLFetcher):
    """Serves ``relais-asset:<public id>`` from bytes loaded beforehand; refuses everything else
    (files, data: URIs, http, internal addresses) — nothing outside the library is ever read."""

    def __init__(self, assets: Mapping[str, tuple[bytes, str]]) -> None:
        super().__init__(allowed_protocols=(), allow_redirects=False, timeout=1)
        self.assets = assets
        self.refused: list[str] = []

    def fetch(self, url, headers=None):
        if url.startswith(ASSET_SCHEME) and url[len(ASSET_SCHEME) :] in self.assets:
            body, content_type = self.assets[url[len(ASSET_SCHEME) :]]
            return URLFetcherResponse(url, body=body, headers={"Content-Type": content_type})
        self.refused.append(url[:200])
        raise ValueError(f"Relais fetches only images of the asset library, not {url[:80]!r}")


#: A proof's print PDF carries this mark on every page (fixed elements repeat on each page).
PROOF_MARK_CSS = (
    ".relais-proof-mark { position: fixed; top: -8mm; right: 0; font: bold 9pt sans-serif; color: #b00020; "
    "border: 1px solid #b00020; padding: 1mm 2mm; background: #fff; }"
)


def print_html(
    version: TemplateVersion, context: VariantContext, recipient: Mapping[str, str], system: Mapping[str, str],
    *, proof_mark: str = "",
) -> tuple[str, dict[str, tuple[bytes, str]]]:
    """The HTML document of a print version for one recipient, and the asset bytes it may load.
    ``proof_mark`` (e.g. "BAT n° 2 — 2026-11-29") is printed at the top of every page of a proof."""
    assets = variant_assets(version, context)
    renderer = merge.VariantRenderer()
    body = renderer.substitute(
        version.body,
        variant_resolver(
            version, context, html=True, asset_link=lambda pid: ASSET_SCHEME + pid if pid in assets else ""
        ),
    )
    body = renderer.split(body).merge(recipient_values(recipient, system, html=True))
    size = PAGE_SIZES.get(version.print_format, "A4")
    mark = ""
    if proof_mark:
        mark = f"<div class='relais-proof-mark'>{slots.escape_html(proof_mark)}</div>"
    document = (
        "<!doctype html><html><head><meta charset='utf-8'><style>"
        f"@page {{ size: {size}; margin: 12mm; }}\n{_safe_css(version.css)}\n{PROOF_MARK_CSS if proof_mark else ''}"
        f"</style></head><body>{mark}{body}</body></html>"
    )
    loaded: dict[str, tuple[bytes, str]] = {}
    for public_id, asset in assets.items():
        if isinstance(asset, FrozenAsset):
            loaded[public_id] = (asset.read(), asset.content_type or "image/png")
            continue
        with asset.file.open("rb") as stream:
            loaded[public_id] = (stream.read(), asset.content_type or "image/png")
    return document, loaded


def _safe_css(css: str) -> str:
    """CSS cannot close the style element (a literal "</style" would end it)."""
    return re.sub(r"</\s*style", "", css, flags=re.IGNORECASE)


def _render_pdf_in_this_process(document: str, assets: Mapping[str, tuple[bytes, str]]) -> tuple[bytes, int]:
    fetcher = AssetOnlyFetcher(assets)
    rendered = weasyprint.HTML(string=document, url_fetcher=fetcher, base_url=ASSET_SCHEME).render()
    if len(rendered.pages) > PRINT_MAX_PAGES:
        raise RenderError(
            _("The document has %(count)d pages; %(max)d at most.")
            % {"count": len(rendered.pages), "max": PRINT_MAX_PAGES}
        )
    return rendered.write_pdf(), len(rendered.pages)


def render_pdf(
    document: str, assets: Mapping[str, tuple[bytes, str]], *, timeout: float = PRINT_TIMEOUT_SECONDS
) -> bytes:
    """PDF bytes of an HTML document, rendered in a forked child that is killed past ``timeout``
    seconds or ``PRINT_MAX_BYTES`` of output. Raises RenderError."""
    if len(document) > SOURCE_MAX_CHARS + 50_000:
        raise RenderError(_("The document is too large to print."))
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: render, send the outcome, leave without running any cleanup
        os.close(read_fd)
        try:
            outcome = ("ok", _render_pdf_in_this_process(document, assets)[0])
        except RenderError as error:
            outcome = ("error", str(error))
        except BaseException as error:
            outcome = ("error", f"{type(error).__name__}: {error}")
        with os.fdopen(write_fd, "wb") as pipe:
            pipe.write(pickle.dumps(outcome))
        os._exit(0)
    os.close(write_fd)
    received = bytearray()
    deadline = time.monotonic() + timeout
    try:
        with os.fdopen(read_fd, "rb", buffering=0) as pipe:
            while True:
                remaining = deadline - time.monotonic()
                ready = select.select([pipe], [], [], max(remaining, 0))[0] if remaining > 0 else []
                if not ready:
                    raise RenderError(
                        _("The print rendering took longer than %(seconds)d seconds and was stopped.")
                        % {"seconds": timeout}
                    )
                chunk = os.read(pipe.fileno(), 1 << 20)
                if not chunk:
                    break
                received += chunk
                if len(received) > PRINT_MAX_BYTES:
                    raise RenderError(
                        _("The PDF would be larger than %(size)d MB.") % {"size": PRINT_MAX_BYTES >> 20}
                    )
    except RenderError:
        os.kill(pid, signal.SIGKILL)
        raise
    finally:
        os.waitpid(pid, 0)
    status, payload = pickle.loads(bytes(received))  # noqa: S301 (from our own child process)
    if status != "ok":
        raise RenderError(payload)
    return payload


def render_print(
    version: TemplateVersion, context: VariantContext, recipient: Mapping[str, str], system: Mapping[str, str],
    *, proof_mark: str = "",
) -> bytes:
    document, assets = print_html(version, context, recipient, system, proof_mark=proof_mark)
    return render_pdf(document, assets)
