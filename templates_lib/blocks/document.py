"""The block document of the visual e-mail editor (docs/visual-editor.md): plain JSON-ready dicts
shared by the browser script and Python.

``normalise`` takes what the browser posts (untrusted) and returns a clean document — every field
present, typed and within bounds, rich text sanitised — or raises ValidationError with messages
keyed by block id (``"document"`` for the settings and the whole).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping

import nh3
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

#: Web-safe font stacks offered by the editor (a brand kit may add its own names).
FONT_STACKS = (
    "Helvetica, Arial, sans-serif",
    "Arial, Helvetica, sans-serif",
    "Verdana, Geneva, sans-serif",
    "Tahoma, Geneva, sans-serif",
    "Trebuchet MS, Helvetica, sans-serif",
    "Georgia, Times New Roman, serif",
    "Times New Roman, Times, serif",
    "Courier New, Courier, monospace",
)
BLOCK_TYPES = ("heading", "text", "image", "button", "divider", "spacer", "social", "footer", "source")
SOCIAL_NETWORKS = {
    "facebook": "Facebook",
    "instagram": "Instagram",
    "x": "X",
    "linkedin": "LinkedIn",
    "youtube": "YouTube",
    "web": "Web",
}
ALIGNS = ("left", "center", "right", "justify")
HEADING_ALIGNS = ("left", "center", "right")
#: The font size of each heading level (``mj-text font-size``), always bold.
HEADING_SIZES = {1: "24px", 2: "20px", 3: "17px"}
FOOTER_SIZE = "11px"
MAX_BLOCKS = 200
MAX_COLUMNS = 3
#: At most this many uploaded fonts (``<mj-font>``) in one document.
MAX_FONTS = 3
MIN_WIDTH, MAX_WIDTH, DEFAULT_WIDTH = 320, 800, 600
LIMITS = {
    "html": 20_000,
    "text": 1_000,
    "alt": 300,
    "label": 120,
    "href": 1_000,
    "src": 120,
    "css": 10_000,
    "mjml": 50_000,
    "font_family": 200,
}
#: How each field is named to the user.
FIELD_LABELS = {
    "html": gettext_lazy("Text"), "text": gettext_lazy("Text"), "alt": gettext_lazy("Alternative text"),
    "src": gettext_lazy("Image"), "width": gettext_lazy("Width"), "href": gettext_lazy("Link"),
    "label": gettext_lazy("Label"), "background": gettext_lazy("Background colour"),
    "color": gettext_lazy("Colour"), "font_size": gettext_lazy("Font size"), "align": gettext_lazy("Alignment"),
    "radius": gettext_lazy("Corner radius"), "thickness": gettext_lazy("Thickness"),
    "height": gettext_lazy("Height"), "mjml": gettext_lazy("MJML source"), "padding": gettext_lazy("Padding"),
    "font_family": gettext_lazy("Font"), "text_color": gettext_lazy("Text colour"),
    "line_height": gettext_lazy("Line height"), "css": gettext_lazy("Style sheet"),
}
TEXT_TAGS = {"p", "br", "b", "strong", "i", "em", "a", "span", "ul", "ol", "li"}
INLINE_TAGS = {"br", "b", "strong", "i", "em", "a", "span"}
RICH_ATTRIBUTES = {"a": {"href"}, "span": {"class"}}

_COLOUR = re.compile(r"^#(?:[0-9a-f]{3}|[0-9a-f]{6})$")
_LENGTH = r"(?:0|\d{1,4}(?:px|%))"
_PADDING = re.compile(rf"^{_LENGTH}(?: {_LENGTH}){{0,3}}$")
_PX = re.compile(r"^\d{1,4}px$")
_PX_OR_PERCENT = re.compile(rf"^{_LENGTH}$")
_LINE_HEIGHT = re.compile(r"^(?:\d(?:\.\d{1,2})?|\d{1,3}(?:px|%))$")
_FONT_FAMILY = re.compile(r"^[A-Za-z0-9 ,\-]*$")
#: An uploaded font's name (as ``brand_kit_services.font_upload`` accepts it).
FONT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 \-]{0,59}$")
#: Where an uploaded font's stylesheet lives under the media URL (``FontFile.stylesheet``).
_FONT_STYLESHEET_PATH = re.compile(r"^assets/fonts/\d{4}/\d{2}/[A-Za-z0-9_-]{1,80}\.css$")
_ID = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_CLASS = re.compile(r"^[A-Za-z][A-Za-z0-9_ -]{0,80}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SOURCE_IMAGE = re.compile(r"^(?:asset|slot):[a-z0-9_]{1,40}$")
_DANGEROUS_HTML = re.compile(
    r"<\s*(?:script|style|iframe|img|object|embed|svg|math|link|meta|form|input)\b|\bon[a-z]+\s*=|"
    r"(?:java|vb)script\s*:|data\s*:[a-z]+/",
    re.IGNORECASE,
)


def empty_document() -> dict:
    """A new document: the settings and one section with one empty column."""
    return {
        "settings": {
            "background": "#f4f4f4",
            "width": DEFAULT_WIDTH,
            "font_family": FONT_STACKS[0],
            "text_color": "#333333",
            "line_height": "1.5",
            "css": "",
            "fonts": [],
        },
        "sections": [new_section("s1")],
    }


def new_section(section_id: str, columns: int = 1) -> dict:
    return {
        "id": section_id,
        "type": "section",
        "locked": False,
        "background": "",
        "padding": "",
        "columns": [{"id": f"{section_id}c{n}", "blocks": []} for n in range(1, columns + 1)],
    }


def new_block(block_type: str, block_id: str) -> dict:
    """A block of ``block_type`` with its fields empty (their defaults)."""
    fields = {
        "heading": {"text": "", "level": 1, "color": "", "align": "left"},
        "text": {"html": "", "color": "", "font_size": "", "align": "left"},
        "image": {"src": "", "alt": "", "width": "", "href": ""},
        "button": {"label": "", "href": "", "background": "", "color": "", "radius": ""},
        "divider": {"color": "", "thickness": ""},
        "spacer": {"height": ""},
        "social": {"links": []},
        "footer": {"html": ""},
        "source": {"mjml": ""},
    }[block_type]
    return {"id": block_id, "type": block_type, "locked": block_type == "source", **copy.deepcopy(fields)}


def sanitise_rich(html: str, *, inline: bool = False) -> str:
    """Rich text reduced to the editor's tags (links keep only their address, spans their class)."""

    def keep(element: str, attribute: str, value: str) -> str | None:
        if element == "span" and attribute == "class":
            return value if _CLASS.match(value) else None
        return value

    return nh3.clean(
        html,
        tags=INLINE_TAGS if inline else TEXT_TAGS,
        attributes=RICH_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel=None,
        strip_comments=True,
        attribute_filter=keep,
    ).strip()


def font_stylesheet_prefixes() -> tuple[str, ...]:
    """The beginnings of the URLs of uploaded fonts' stylesheets: Relais's own media URL, relative
    (``/media/``) and absolute on the site (``RELAIS_BASE_URL``), or the media URL itself when it is
    absolute."""
    media = django_settings.MEDIA_URL or "/media/"
    if re.match(r"^https?://", media, re.IGNORECASE):
        return (media,)
    media = "/" + media.lstrip("/")
    return (media, django_settings.RELAIS_BASE_URL.rstrip("/") + media)


def is_own_font_stylesheet(href: str) -> bool:
    """Whether ``href`` is the URL of an uploaded font's stylesheet on Relais's own media."""
    return any(
        href.startswith(prefix) and _FONT_STYLESHEET_PATH.match(href[len(prefix):])
        for prefix in font_stylesheet_prefixes()
    )


def font_problem(name: object, href: object) -> str | None:
    """Why ``{name, href}`` is not a font a document may load (None when it is one)."""
    if not isinstance(name, str) or not FONT_NAME.match(name):
        return _("A font's name is made of letters, digits, spaces or hyphens (at most 60).")
    if not isinstance(href, str) or not is_own_font_stylesheet(href):
        return _("The font “%(name)s” must be one uploaded to Relais (its style sheet on Relais's own "
                 "address); fonts from other servers are not allowed.") % {"name": name}
    return None


def iter_blocks(document: Mapping):
    """Every (section, column or None, block) of a document, sections' source blocks included."""
    for section in document.get("sections", []):
        if section.get("type") == "source":
            yield section, None, section
            continue
        for column in section.get("columns", []):
            for block in column.get("blocks", []):
                yield section, column, block


class _Errors:
    def __init__(self) -> None:
        self.by_key: dict[str, list[str]] = {}

    def add(self, key: str, message: str) -> None:
        self.by_key.setdefault(key, []).append(message)


def _string(raw: Mapping, name: str, key: str, errors: _Errors, *, limit: int | None = None) -> str:
    value = raw.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        errors.add(key, _("%(field)s must be text.") % {"field": FIELD_LABELS.get(name, name)})
        return ""
    value = str(value).replace("\r\n", "\n").replace("\r", "\n")
    if _CONTROL.search(value):
        errors.add(key, _("%(field)s contains control characters.") % {"field": FIELD_LABELS.get(name, name)})
        return ""
    limit = limit or LIMITS.get(name, 200)
    if len(value) > limit:
        errors.add(
            key, _("%(field)s is %(length)d characters long, %(max)d at most.")
            % {"field": FIELD_LABELS.get(name, name), "length": len(value), "max": limit},
        )
        return ""
    return value.strip()


def _colour(raw: Mapping, name: str, key: str, errors: _Errors) -> str:
    value = _string(raw, name, key, errors).lower()
    if value and not _COLOUR.match(value):
        errors.add(key, _("%(field)s: “%(value)s” is not a colour such as #a1b2c3 or #abc.")
                   % {"field": FIELD_LABELS.get(name, name), "value": value[:40]})
        return ""
    return value


def _size(raw: Mapping, name: str, key: str, errors: _Errors, pattern: re.Pattern, example: str) -> str:
    value = _string(raw, name, key, errors)
    if value and not pattern.match(value):
        errors.add(key, _("%(field)s: “%(value)s” is not a size such as %(example)s.")
                   % {"field": FIELD_LABELS.get(name, name), "value": value[:40], "example": example})
        return ""
    return value


def _choice(raw: Mapping, name: str, key: str, errors: _Errors, choices: tuple, default: str) -> str:
    value = _string(raw, name, key, errors) or default
    if value not in choices:
        errors.add(key, _("%(field)s must be one of %(choices)s.") % {"field": FIELD_LABELS.get(name, name), "choices": ", ".join(choices)})
        return default
    return value


def _rich(raw: Mapping, name: str, key: str, errors: _Errors, *, inline: bool) -> str:
    value = _string(raw, name, key, errors)
    if _DANGEROUS_HTML.search(value):
        errors.add(key, _("The text contains something that is not allowed in an e-mail "
                          "(script, style, event handler, javascript: or data: link, embedded image or frame)."))
        return ""
    return sanitise_rich(value, inline=inline)


def normalise_block(raw: object, block_id: str, errors: _Errors) -> dict | None:
    """One block, clean; problems go to ``errors`` under ``block_id``."""
    if not isinstance(raw, Mapping):
        errors.add(block_id, _("A block must be an object."))
        return None
    block_type = raw.get("type")
    if block_type not in BLOCK_TYPES:
        errors.add(block_id, _("“%(type)s” is not a block type the editor knows.") % {"type": str(block_type)[:40]})
        return None
    block = new_block(block_type, block_id)
    block["locked"] = bool(raw.get("locked", False)) or block_type == "source"
    key = block_id
    if block_type == "heading":
        block["text"] = _rich(raw, "text", key, errors, inline=True)
        level = raw.get("level", 1)
        if isinstance(level, bool) or str(level) not in {"1", "2", "3"}:
            errors.add(key, _("A heading's level is 1, 2 or 3."))
            level = 1
        block["level"] = int(level)
        block["color"] = _colour(raw, "color", key, errors)
        block["align"] = _choice(raw, "align", key, errors, HEADING_ALIGNS, "left")
    elif block_type == "text":
        block["html"] = _rich(raw, "html", key, errors, inline=False)
        block["color"] = _colour(raw, "color", key, errors)
        block["font_size"] = _size(raw, "font_size", key, errors, _PX, "14px")
        block["align"] = _choice(raw, "align", key, errors, ALIGNS, "left")
    elif block_type == "image":
        block["src"] = _string(raw, "src", key, errors)
        if block["src"] and not _SOURCE_IMAGE.match(block["src"]):
            errors.add(key, _("An image comes from the asset library or is an image slot."))
            block["src"] = ""
        block["alt"] = _string(raw, "alt", key, errors)
        block["width"] = _size(raw, "width", key, errors, _PX, "180px")
        block["href"] = _string(raw, "href", key, errors)
    elif block_type == "button":
        block["label"] = _string(raw, "label", key, errors)
        block["href"] = _string(raw, "href", key, errors)
        block["background"] = _colour(raw, "background", key, errors)
        block["color"] = _colour(raw, "color", key, errors)
        block["radius"] = _size(raw, "radius", key, errors, _PX_OR_PERCENT, "4px")
    elif block_type == "divider":
        block["color"] = _colour(raw, "color", key, errors)
        block["thickness"] = _size(raw, "thickness", key, errors, _PX, "1px")
    elif block_type == "spacer":
        block["height"] = _size(raw, "height", key, errors, _PX, "20px")
    elif block_type == "social":
        links = raw.get("links") or []
        if not isinstance(links, list) or len(links) > 10:
            errors.add(key, _("Social links are a list of at most 10 links."))
            links = []
        for link in links:
            if not isinstance(link, Mapping) or link.get("network") not in SOCIAL_NETWORKS:
                errors.add(key, _("A social link's network is one of %(networks)s.")
                           % {"networks": ", ".join(SOCIAL_NETWORKS)})
                continue
            block["links"].append({"network": link["network"], "href": _string(link, "href", key, errors)})
    elif block_type == "footer":
        block["html"] = _rich(raw, "html", key, errors, inline=False)
    elif block_type == "source":
        block["mjml"] = _string(raw, "mjml", key, errors)
    return block


def _settings(raw: object, errors: _Errors) -> dict:
    settings = empty_document()["settings"] | {"background": "", "font_family": "", "text_color": "",
                                               "line_height": "", "css": "", "fonts": []}
    if not isinstance(raw, Mapping):
        errors.add("document", _("The document's settings are missing."))
        return settings
    key = "document"
    settings["background"] = _colour(raw, "background", key, errors)
    width = raw.get("width", DEFAULT_WIDTH)
    try:
        width = int(str(width).removesuffix("px")) if not isinstance(width, bool) else 0
    except ValueError:
        width = 0
    if not MIN_WIDTH <= width <= MAX_WIDTH:
        errors.add(key, _("The width is from %(min)d to %(max)d pixels.") % {"min": MIN_WIDTH, "max": MAX_WIDTH})
        width = DEFAULT_WIDTH
    settings["width"] = width
    settings["font_family"] = _string(raw, "font_family", key, errors)
    if not _FONT_FAMILY.match(settings["font_family"]):
        errors.add(key, _("The font is a list of font names separated by commas."))
        settings["font_family"] = ""
    settings["text_color"] = _colour(raw, "text_color", key, errors)
    settings["line_height"] = _size(raw, "line_height", key, errors, _LINE_HEIGHT, "1.5")
    settings["css"] = _string(raw, "css", key, errors)
    if "<" in settings["css"]:
        errors.add(key, _("The style sheet cannot contain “<”."))
        settings["css"] = ""
    settings["fonts"] = _fonts(raw.get("fonts"), errors)
    return settings


def _fonts(raw: object, errors: _Errors) -> list[dict[str, str]]:
    """The uploaded fonts a document loads: at most ``MAX_FONTS`` ``{name, href}``, each href the
    stylesheet of a font uploaded to Relais, each name once."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, list) or len(raw) > MAX_FONTS:
        errors.add("document", _("The uploaded fonts are a list of at most %(max)d fonts.") % {"max": MAX_FONTS})
        return []
    fonts: list[dict[str, str]] = []
    for item in raw:
        if not isinstance(item, Mapping) or set(item) - {"name", "href"}:
            errors.add("document", _("An uploaded font is given by its name and the address of its style sheet."))
            continue
        name, href = item.get("name"), item.get("href")
        problem = font_problem(name, href)
        if problem:
            errors.add("document", problem)
        elif any(font["name"] == name for font in fonts):
            errors.add("document", _("The font “%(name)s” is loaded twice.") % {"name": name})
        else:
            fonts.append({"name": name, "href": href})
    return fonts


def normalise(raw: object, *, keep_ids: bool = True) -> dict:
    """A clean document from untrusted JSON, or ValidationError keyed by block id.

    Ids the browser gave are kept when they are valid and unique (``keep_ids``); otherwise each
    section, column and block gets its id by position (``s2``, ``s2c1``, ``s2c1b3``)."""
    errors = _Errors()
    if not isinstance(raw, Mapping):
        raise ValidationError({"document": [_("The document is not a block document.")]})
    document = {"settings": _settings(raw.get("settings"), errors), "sections": []}
    sections = raw.get("sections")
    if not isinstance(sections, list):
        errors.add("document", _("The document has no list of sections."))
        sections = []
    seen: set[str] = set()

    def identify(item: Mapping, positional: str) -> str:
        given = item.get("id")
        if keep_ids and isinstance(given, str) and _ID.match(given) and given not in seen:
            seen.add(given)
            return given
        candidate = positional
        while candidate in seen:
            candidate += "x"
        seen.add(candidate)
        return candidate

    count = 0
    for s_index, raw_section in enumerate(sections, start=1):
        if not isinstance(raw_section, Mapping):
            errors.add("document", _("Section %(number)d is not a section.") % {"number": s_index})
            continue
        section_id = identify(raw_section, f"s{s_index}")
        count += 1
        if raw_section.get("type") == "source":
            block = normalise_block(raw_section, section_id, errors)
            if block:
                document["sections"].append(block)
            continue
        if raw_section.get("type", "section") != "section":
            errors.add(section_id, _("“%(type)s” is not a section type the editor knows.")
                       % {"type": str(raw_section.get("type"))[:40]})
            continue
        section = new_section(section_id, 0)
        section["locked"] = bool(raw_section.get("locked", False))
        section["background"] = _colour(raw_section, "background", section_id, errors)
        section["padding"] = _size(raw_section, "padding", section_id, errors, _PADDING, "16px 0")
        columns = raw_section.get("columns")
        if not isinstance(columns, list) or not 1 <= len(columns) <= MAX_COLUMNS:
            errors.add(section_id, _("A section has 1 to %(max)d columns.") % {"max": MAX_COLUMNS})
            columns = columns[:MAX_COLUMNS] if isinstance(columns, list) else []
        for c_index, raw_column in enumerate(columns, start=1):
            if not isinstance(raw_column, Mapping):
                errors.add(section_id, _("Column %(number)d is not a column.") % {"number": c_index})
                continue
            column = {"id": identify(raw_column, f"{section_id}c{c_index}"), "blocks": []}
            blocks = raw_column.get("blocks")
            if not isinstance(blocks, list):
                blocks = []
            for b_index, raw_block in enumerate(blocks, start=1):
                count += 1
                if count > MAX_BLOCKS:
                    break
                block_id = identify(raw_block if isinstance(raw_block, Mapping) else {}, f"{column['id']}b{b_index}")
                block = normalise_block(raw_block, block_id, errors)
                if block:
                    column["blocks"].append(block)
            section["columns"].append(column)
        document["sections"].append(section)
    if count > MAX_BLOCKS:
        errors.add("document", _("A document has at most %(max)d blocks.") % {"max": MAX_BLOCKS})
    if errors.by_key:
        raise ValidationError(errors.by_key)
    return document


def renumber(document: Mapping) -> dict:
    """A copy of ``document`` with every id given by position (as a parsed source has them)."""
    result = copy.deepcopy(dict(document))
    for s_index, section in enumerate(result["sections"], start=1):
        section["id"] = f"s{s_index}"
        for c_index, column in enumerate(section.get("columns", []) if section["type"] == "section" else [], start=1):
            column["id"] = f"s{s_index}c{c_index}"
            for b_index, block in enumerate(column["blocks"], start=1):
                block["id"] = f"{column['id']}b{b_index}"
    return result
