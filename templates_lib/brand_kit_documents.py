"""Block documents built from a network's brand kit (issue 20): the starter e-mail of a new
template (``kit_starter``, which ``templates_lib.services.template_create`` uses) and a changed kit
applied to a document (``apply_kit``). No write: the template services and the kit's services both
build on this module without importing each other.

``apply_kit`` changes in a block document only what still holds the previous kit's value — the
document's background, text colour and font, the buttons styled as the kit's button, sections and
headings in the primary colour, footers equal to the kit's footer, and the kit's logo — so a colour
or footer an author changed stays theirs.
"""

from __future__ import annotations

import copy

from local_stores.models import Network
from templates_lib.blocks.document import MAX_FONTS
from templates_lib.blocks.to_mjml import to_mjml
from templates_lib.brand_kit import BrandKit

STARTER_SLOTS = [
    {"name": "headline", "type": "short_text", "label": "Titre", "max_length": 80, "required": True,
     "default": "Nos nouveautés"},
    {"name": "intro", "type": "rich_text", "label": "Texte", "max_length": 1500, "required": True,
     "default": "Découvrez notre sélection du moment en magasin."},
    # optional: no default link passes every network's allowed domains, and a required slot without a
    # default would leave the first preview without any of the slots' defaults
    {"name": "link", "type": "url", "label": "Lien du bouton", "required": False},
]


def kit_values(kit: BrandKit | None) -> dict[str, object] | None:
    """What a document took from ``kit`` (None without a kit): kept before a change for ``apply_kit``."""
    if kit is None:
        return None
    return {
        "primary": kit.primary_color, "accent": kit.accent_color, "background": kit.background_color,
        "text_color": kit.text_color, "font_family": kit.font_family,
        "font_href": kit.font_file.stylesheet_url if kit.font_file_id else "",
        "logo": f"asset:{kit.logo.public_id}" if kit.logo_id else "",
        "button": (kit.button_background, kit.button_color, kit.button_radius),
        "footer_html": kit.footer_html,
    }


def blocks_of(document: dict):
    for section in document.get("sections", []):
        for column in section.get("columns", []):
            yield from column.get("blocks", [])


def has_source_block(document: dict) -> bool:
    return any(block.get("type") == "source" for block in blocks_of(document))


# --- Documents built from the kit -----------------------------------------------------------------


def _settings(kit: BrandKit) -> dict[str, object]:
    settings = {"background": kit.background_color, "width": 600, "font_family": kit.font_family,
                "text_color": kit.text_color, "line_height": "1.5", "css": ""}
    if kit.font_file_id:
        settings["fonts"] = [{"name": kit.font_file.name, "href": kit.font_file.stylesheet_url}]
    return settings


def starter_document(kit: BrandKit) -> dict[str, object]:
    """A starter e-mail in the kit's look: the logo, a heading slot, a text slot, a button and
    the kit's footer (slots ``STARTER_SLOTS``)."""
    sections: list[dict[str, object]] = []

    def section(background: str, blocks: list[dict[str, object]]) -> None:
        number = len(sections) + 1
        for index, block in enumerate(blocks, start=1):
            block["id"] = f"s{number}c1b{index}"
            block.setdefault("locked", False)
        sections.append({"id": f"s{number}", "type": "section", "locked": False, "background": background,
                         "padding": "16px", "columns": [{"id": f"s{number}c1", "blocks": blocks}]})

    if kit.logo_id:
        section(kit.primary_color, [{"type": "image", "src": f"asset:{kit.logo.public_id}", "alt": kit.logo.name,
                                     "width": "180px", "href": ""}])
    section("#ffffff", [
        {"type": "heading", "text": "{{ slot.headline }}", "level": 1, "color": kit.primary_color, "align": "left"},
        {"type": "text", "html": "Bonjour {{ recipient.first_name }},", "color": "", "font_size": "", "align": "left"},
        {"type": "text", "html": "{{ slot.intro }}", "color": "", "font_size": "", "align": "left"},
        {"type": "button", "label": "Découvrir", "href": "{{ slot.link }}", "background": kit.button_background,
         "color": kit.button_color, "radius": kit.button_radius},
    ])
    section("", [{"type": "footer", "html": kit.footer_html, "locked": True}])
    return {"settings": _settings(kit), "sections": sections}


def apply_kit(document: dict, kit: BrandKit, previous: dict[str, object] | None) -> dict:
    """``document`` with the kit's new values wherever it still holds the previous kit's (a new
    document; the given one is left as it is). Without a previous kit nothing came from a kit:
    nothing changes."""
    document = copy.deepcopy(document)
    if previous is None:
        return document
    new = kit_values(kit)
    settings = document.setdefault("settings", {})
    for key in ("background", "text_color", "font_family"):
        if settings.get(key) == previous[key]:
            settings[key] = new[key]
    if settings.get("font_family") == new["font_family"]:
        dropped = {previous["font_href"], new["font_href"]}
        fonts = [font for font in settings.get("fonts", []) if font.get("href") not in dropped]
        if new["font_href"]:
            fonts = [font for font in fonts if font.get("name") != kit.font_file.name][:MAX_FONTS - 1]
            fonts.append({"name": kit.font_file.name, "href": new["font_href"]})
        if fonts or "fonts" in settings:
            settings["fonts"] = fonts
    for section in document.get("sections", []):
        if section.get("background") == previous["primary"]:
            section["background"] = new["primary"]
    for block in blocks_of(document):
        kind = block.get("type")
        if kind == "heading" and block.get("color") == previous["primary"]:
            block["color"] = new["primary"]
        elif kind == "button" and (block.get("background"), block.get("color"), block.get("radius")) == previous["button"]:
            block["background"], block["color"], block["radius"] = new["button"]
        elif kind == "footer" and block.get("html") == previous["footer_html"]:
            block["html"] = new["footer_html"]
        elif kind == "image" and previous["logo"] and block.get("src") == previous["logo"] and new["logo"]:
            block["src"] = new["logo"]
            if kit.logo_id:
                block["alt"] = block.get("alt") or kit.logo.name
    return document


def kit_starter(network: Network) -> tuple[str, list[dict[str, object]]] | None:
    """The first draft's MJML and slots for a new e-mail template of ``network``: built from its
    brand kit; None when the network has none (the plain starter then)."""
    kit = BrandKit.objects.filter(network=network).select_related("font_file", "logo").first()
    if kit is None:
        return None
    return to_mjml(starter_document(kit)).source, copy.deepcopy(STARTER_SLOTS)
