"""What a block document must pass before it is saved, keyed by block id (``"document"`` for the
settings and the whole): library images with their alt text, links to the network's allowed
domains (or one link field), sanitised rich text, merge fields from the whitelist only, web-safe
fonts or the brand kit's uploaded font (each ``<mj-font>`` the stylesheet of a font uploaded for
the network), a harmless style sheet, the unsubscribe link in the footer — and then the version's
own checks on the MJML made from it, each line-numbered problem shown on its block.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from html.parser import HTMLParser

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from local_stores.models import Network
from templates_lib import merge, services, slots
from templates_lib.blocks import document as doc
from templates_lib.blocks.to_mjml import MjmlOutput
from templates_lib.brand_kit import network_font_stylesheets
from templates_lib.models import TemplateVersion
from templates_lib.selectors import guardrails_for, live_asset_ids

#: The fields a link may be, besides an address: one of these, or ``{{ slot.x }}`` of a url slot.
LINK_FIELDS = {
    ("branch", "website_url"), ("branch", "facebook_url"), ("branch", "instagram_url"),
    ("system", "unsubscribe_url"), ("system", "view_online_url"),
}
_ONE_FIELD = re.compile(r"^\{\{\s*([a-z]+)\.([a-z0-9_]+)\s*\}\}$")
_CSS_FORBIDDEN = re.compile(r"@import|url\s*\(|expression\s*\(|</?\s*style|javascript:|vbscript:|behavior\s*:|"
                            r"-moz-binding|\\", re.IGNORECASE)
_SOURCE_TAGS = {"script", "iframe", "object", "embed", "link", "meta", "style", "svg", "math", "form", "input",
                "base", "mj-include", "mj-font", "frame", "frameset", "applet"}
_SOURCE_FORBIDDEN = re.compile(r"<\s*/?\s*(?:script|iframe|mj-include|mj-font|style|link)\b|(?:java|vb)script\s*:|"
                               r"data\s*:|@import|url\s*\(|expression\s*\(", re.IGNORECASE)
_IMAGE_ATTRIBUTES = {"src", "background", "background-url", "poster", "srcset", "icon", "background-image"}


def slot_types(slot_definitions: Iterable) -> dict[str, str]:
    """Declared slot names and types, from TemplateVersion.slots dicts or SlotDefinition objects."""
    types: dict[str, str] = {}
    for item in slot_definitions or ():
        if isinstance(item, Mapping):
            types[str(item.get("name", ""))] = str(item.get("type", ""))
        else:
            types[item.name] = item.type
    return types


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.hrefs.extend(value or "" for name, value in attrs if name == "href")

    def handle_data(self, data):
        self.text.append(data)


class _SourceScan(HTMLParser):
    """Tags and attributes of a source block, for what no block may carry."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.handlers: set[str] = set()
        self.images: list[str] = []
        self.hrefs: list[str] = []
        self.styles: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.add(name)
            elif name in _IMAGE_ATTRIBUTES and (value or "").strip():
                self.images.append(value or "")
            elif name == "href":
                self.hrefs.append(value or "")
            elif name in {"style", "font-family", "css-class"}:
                self.styles.append(value or "")

    handle_startendtag = handle_starttag


class _Checker:
    def __init__(self, *, network: Network, slot_definitions, extra_fonts: Iterable[str]) -> None:
        self.guardrails = guardrails_for(network)
        self.assets = live_asset_ids(network)
        self.slots = slot_types(slot_definitions)
        extra = [font for font in extra_fonts if font]
        # a brand kit's font is offered as given and before each web-safe stack (its fallback)
        self.fonts = {*doc.FONT_STACKS, *extra, *(f"{font}, {stack}" for font in extra for stack in doc.FONT_STACKS)}
        self.network = network
        self.errors: dict[str, list[str]] = {}

    def add(self, key: str, message: str) -> None:
        if message not in self.errors.setdefault(key, []):
            self.errors[key].append(message)

    def link(self, key: str, href: str, label: str, *, mailto: bool = False) -> None:
        href = href.strip()
        field = _ONE_FIELD.match(href)
        if field:
            namespace, name = field.groups()
            if namespace == "slot":
                if self.slots.get(name) != slots.URL:
                    self.add(key, _("%(label)s: “%(field)s” is not a link slot.") % {"label": label, "field": href})
            elif (namespace, name) not in LINK_FIELDS:
                self.add(key, _("%(label)s: “%(field)s” is not a link field.") % {"label": label, "field": href})
            return
        if "{" in href or "}" in href:
            self.add(key, _("%(label)s: a link is an address or exactly one link field such as "
                            "{{ branch.website_url }}.") % {"label": label})
            return
        if mailto and href.lower().startswith("mailto:") and re.match(r"^mailto:[^\s?&<>\"]+@[^\s?&<>\"]+$", href):
            return
        try:
            self.guardrails.check_url(href, label)
        except ValidationError as error:
            for message in error.messages:
                self.add(key, message)

    def text(self, key: str, text: str, label: str) -> None:
        try:
            self.guardrails.check_text(text, label)
        except ValidationError as error:
            for message in error.messages:
                self.add(key, message)

    def plain(self, key: str, text: str, label: str) -> None:
        """A plain text (alt text, a button's label): checked like a text, and never markup-like."""
        if doc._DANGEROUS_HTML.search(text) or "<" in text:
            self.add(key, _("%(label)s: plain text only, without “<” or anything that looks like script.")
                     % {"label": label})
        self.text(key, text, label)
        self.merge_fields(key, text)

    def merge_fields(self, key: str, text: str, *, href: bool = False) -> None:
        for problem in merge.check_source(text, slots=self.slots, assets=self.assets):
            self.add(key, problem.message)
        if not href:
            for ref in merge.fields_used(text):
                if ref.namespace == "slot" and self.slots.get(ref.name) == slots.IMAGE:
                    self.add(key, _("“%(field)s” is an image slot: it goes in an image block.")
                             % {"field": "{{ slot." + ref.name + " }}"})

    def rich(self, key: str, html: str, *, inline: bool, label: str) -> None:
        if doc._DANGEROUS_HTML.search(html) or doc.sanitise_rich(html, inline=inline) != html.strip():
            self.add(key, _("%(label)s: the text holds markup that is not allowed (only paragraphs, line breaks, "
                            "bold, italic, lists, links and classed spans).") % {"label": label})
            return
        parser = _Links()
        parser.feed(html)
        parser.close()
        self.text(key, "".join(parser.text), label)
        for href in parser.hrefs:
            self.link(key, href, label, mailto=True)
        self.merge_fields(key, re.sub(r'href="[^"]*"', "", html))
        for href in parser.hrefs:
            self.merge_fields(key, href, href=True)

    def block(self, block: Mapping) -> None:
        key, kind = block["id"], block["type"]
        if kind == "heading":
            self.rich(key, block["text"], inline=True, label=_("Heading"))
            if not block["text"].strip():
                self.add(key, _("Heading: write the heading or make it a slot."))
        elif kind == "text":
            self.rich(key, block["html"], inline=False, label=_("Text"))
        elif kind == "footer":
            self.rich(key, block["html"], inline=False, label=_("Footer"))
            if merge.FieldRef("system", "unsubscribe_url") not in merge.fields_used(block["html"]):
                self.add(key, _("Footer: it must contain the unsubscribe link {{ system.unsubscribe_url }}."))
        elif kind == "image":
            self.image(block)
        elif kind == "button":
            label = _("Button")
            if not block["label"].strip():
                self.add(key, _("Button: give the button a label."))
            if not block["href"].strip():
                self.add(key, _("Button: give the button a link."))
            else:
                self.link(key, block["href"], label)
                self.merge_fields(key, block["href"], href=True)
            self.plain(key, block["label"], label)
        elif kind == "social":
            for link in block["links"]:
                label = doc.SOCIAL_NETWORKS.get(link["network"], _("Social link"))
                if not link["href"].strip():
                    self.add(key, _("%(label)s: give the link.") % {"label": label})
                    continue
                self.link(key, link["href"], label)
                self.merge_fields(key, link["href"], href=True)
        elif kind == "source":
            self.source(block)

    def image(self, block: Mapping) -> None:
        key, src = block["id"], block["src"]
        label = _("Image")
        namespace, _sep, name = src.partition(":")
        if not src:
            self.add(key, _("Image: choose an image from the library or an image slot."))
        elif namespace == "asset" and name not in self.assets:
            self.add(key, _("Image: it is not an image of the network's asset library."))
        elif namespace == "slot" and self.slots.get(name) != slots.IMAGE:
            self.add(key, _("Image: “%(name)s” is not a declared image slot.") % {"name": name})
        elif namespace not in {"asset", "slot"}:
            self.add(key, _("Image: only images from the asset library or image slots."))
        if namespace != "slot" and not block["alt"].strip():
            self.add(key, _("Image: describe the image (alternative text) for those who do not see it."))
        self.plain(key, block["alt"], label)
        if block["href"].strip():
            self.link(key, block["href"], label)
            self.merge_fields(key, block["href"], href=True)

    def source(self, block: Mapping) -> None:
        key, mjml = block["id"], block["mjml"]
        scan = _SourceScan()
        scan.feed(mjml)
        scan.close()
        refused = sorted(scan.tags & _SOURCE_TAGS)
        if refused or scan.handlers or _SOURCE_FORBIDDEN.search(mjml) or any(
            doc._DANGEROUS_HTML.search(style) or _CSS_FORBIDDEN.search(style) for style in scan.styles
        ):
            self.add(key, _("This source block holds what no block may carry (script, event handler, "
                            "javascript: or data: link, included file, outside font or style sheet)."))
        for src in scan.images:
            field = _ONE_FIELD.match(src.strip())
            if not field or field.group(1) not in {"asset", "slot"}:
                self.add(key, _("This source block shows an image from outside the asset library (“%(src)s”).")
                         % {"src": src[:80]})
        for href in scan.hrefs:
            self.link(key, href, _("Source block"), mailto=True)
        self.merge_fields(key, mjml, href=True)

    def settings(self, settings: Mapping) -> None:
        font = settings.get("font_family", "")
        if font and font not in self.fonts:
            self.add("document", _("The font “%(font)s” is not one of the fonts offered (%(fonts)s).")
                     % {"font": font[:60], "fonts": "; ".join(sorted(self.fonts))})
        self.uploaded_fonts(settings.get("fonts", []))
        css = re.sub(r"/\*.*?\*/", "", settings.get("css", ""), flags=re.DOTALL)
        if _CSS_FORBIDDEN.search(css) or "<" in css:
            self.add("document", _("The style sheet may not load anything (@import, url(), outside fonts), "
                                   "run anything (expression, javascript:) or hold “<” or “\\”."))
        if merge.check_source(settings.get("css", ""), slots={}, allowed_namespaces=set()):
            self.add("document", _("The style sheet cannot hold merge fields or “{{”."))


    def uploaded_fonts(self, fonts: Iterable[Mapping]) -> None:
        """Each ``<mj-font>`` is the stylesheet of a font uploaded for this network, under its name."""
        if not fonts:
            return
        own = network_font_stylesheets(self.network)
        for font in fonts:
            problem = doc.font_problem(font.get("name"), font.get("href"))
            if problem:
                self.add("document", problem)
            elif own.get(font["href"]) != font["name"]:
                self.add("document", _("The font “%(name)s” is not one uploaded for this network (under that name).")
                         % {"name": font["name"][:60]})


def check(
    document: Mapping, *, network: Network, slot_definitions: Iterable = (), extra_fonts: Iterable[str] = ()
) -> dict[str, list[str]]:
    """Every problem of a (normalised) document, by block id or ``"document"``; empty when sound."""
    checker = _Checker(network=network, slot_definitions=slot_definitions, extra_fonts=extra_fonts)
    checker.settings(document["settings"])
    for _section, _column, block in doc.iter_blocks(document):
        checker.block(block)
    return {key: messages for key, messages in checker.errors.items() if messages}


def _strip_line(message: str, line: int) -> str:
    prefix = _("line %(line)d: %(message)s") % {"line": line, "message": ""}
    return message.removeprefix(prefix)


def check_version_source(
    *, version: TemplateVersion, output: MjmlOutput, **fields: object
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The version's own checks (``services.version_check``) on an unsaved copy holding the MJML
    of ``output`` and ``fields`` (subject, preheader, slots): (problems by block id, problems of
    the other fields). Nothing is written."""
    candidate = copy.copy(version)
    candidate.body = output.source
    for name, value in fields.items():
        setattr(candidate, name, value)
    lines: dict[str, dict[str, int]] = {}
    found = services.version_check(candidate, lines=lines)
    by_block: dict[str, list[str]] = {}
    by_field: dict[str, list[str]] = {}
    for name, messages in found.items():
        for message in messages:
            line = lines.get(name, {}).get(message)
            if name != "body":
                by_field.setdefault(name, []).append(message)
            elif line:
                key = output.block_at(line)
                text = _strip_line(message, line)
                if text not in by_block.get(key, []):
                    by_block.setdefault(key, []).append(text)
            else:
                by_block.setdefault("document", []).append(message)
    return by_block, by_field
