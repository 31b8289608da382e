"""What a hand-written e-mail source may not carry, whichever editor wrote it: the rules the visual
editor's blocks obey (no script, no event handler, no ``javascript:`` link, no image from outside
the asset library, no font or style sheet from another server), applied to the expert's source
view too, each problem with its line (issue 20: "the same validation applies to both")."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from django.utils.translation import gettext as _

from templates_lib.merge import SourceError

_REFUSED_TAGS = {"script", "iframe", "object", "embed", "link", "meta", "base", "form", "input", "svg",
                 "math", "frame", "frameset", "applet", "style"}
_IMAGE_ATTRIBUTES = {"src", "background", "background-url", "background-image", "poster", "srcset", "icon"}
_LINK_ATTRIBUTES = {"href", "action", "formaction", "xlink:href"}
_SCRIPT_URL = re.compile(r"^\s*(?:java|vb)script\s*:|^\s*data\s*:", re.IGNORECASE)
_LOADS = re.compile(r"@import|url\s*\(|expression\s*\(|behavior\s*:|-moz-binding", re.IGNORECASE)
_ONE_FIELD = re.compile(r"^\{\{\s*(asset|slot)\.[a-z0-9_]+\s*\}\}$")


class _Scan(HTMLParser):
    def __init__(self, fonts: dict[str, str]) -> None:
        super().__init__(convert_charrefs=True)
        self.fonts = fonts
        self.problems: list[SourceError] = []
        self.in_style = False

    def add(self, message: str) -> None:
        self.problems.append(SourceError(self.getpos()[0], message))

    def handle_starttag(self, tag, attrs):
        if tag in _REFUSED_TAGS:
            self.add(_("<%(tag)s> is not allowed in an e-mail template.") % {"tag": tag})
        if tag == "mj-style":
            self.in_style = True
        values = dict(attrs)
        if tag == "mj-font":
            href = (values.get("href") or "").strip()
            if self.fonts.get(href) != (values.get("name") or ""):
                self.add(_("The font “%(name)s” is not one uploaded for this network: an e-mail may not load a "
                           "font from another server.") % {"name": (values.get("name") or "")[:60]})
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self.add(_("The attribute %(name)s (a script run by the reader's mail) is not allowed.")
                         % {"name": name})
            elif name in _IMAGE_ATTRIBUTES and value.strip() and not _ONE_FIELD.match(value.strip()):
                self.add(_("The image “%(src)s” is not from the asset library: choose it in the library "
                           "({{ asset.… }}) or make it an image slot.") % {"src": value.strip()[:80]})
            elif name in _LINK_ATTRIBUTES and _SCRIPT_URL.search(value):
                self.add(_("A link may not run a script or carry data (javascript:, data:)."))
            elif name in {"style", "font-family", "css-class"} and _LOADS.search(value):
                self.add(_("A style may not load anything from another server (@import, url())."))

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag):
        if tag == "mj-style":
            self.in_style = False

    def handle_data(self, data):
        if self.in_style and _LOADS.search(data):
            self.add(_("A style may not load anything from another server (@import, url())."))


def email_source_problems(source: str, *, fonts: dict[str, str]) -> list[SourceError]:
    """The line-numbered problems of an MJML source; ``fonts`` maps the network's uploaded font
    stylesheets (URL) to their font names, the only ``<mj-font>`` allowed."""
    scan = _Scan(fonts)
    scan.feed(source)
    scan.close()
    return scan.problems
