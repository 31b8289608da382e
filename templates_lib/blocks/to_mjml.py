"""Block document → MJML: deterministic, one element per line, every attribute value escaped.

``lines`` maps each section and block id to the lines it occupies, so that a line-numbered
problem of the MJML (merge fields, MJML validity) can be shown on its block.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field

from templates_lib.blocks.document import FOOTER_SIZE, HEADING_SIZES, SOCIAL_NETWORKS

LOCKED, HEADING, FOOTER = "rl-locked", "rl-heading", "rl-footer"


@dataclass
class MjmlOutput:
    source: str
    lines: dict[str, tuple[int, int]] = field(default_factory=dict)

    def block_at(self, line: int) -> str:
        """The innermost block (or section) on ``line``; ``"document"`` for the head and the frame."""
        found, size = "document", None
        for block_id, (first, last) in self.lines.items():
            if first <= line <= last and (size is None or last - first < size):
                found, size = block_id, last - first
        return found


def attribute(name: str, value: object) -> str:
    return f' {name}="{html.escape(str(value), quote=True)}"'


def _attributes(pairs: list[tuple[str, object]]) -> str:
    return "".join(attribute(name, value) for name, value in pairs if value not in ("", None))


def image_src(src: str) -> str:
    namespace, _, name = src.partition(":")
    return "{{ " + namespace + "." + name + " }}" if name else ""


def _classes(*names: str, locked: bool) -> str:
    return " ".join([*filter(None, names), *([LOCKED] if locked else [])])


def block_lines(block: Mapping) -> list[str]:
    """The MJML of one block (its first line is not indented; the caller indents)."""
    kind, locked = block["type"], block.get("locked", False)
    if kind == "heading":
        level = block["level"]
        attrs = _attributes([
            ("css-class", _classes(HEADING, f"rl-h{level}", locked=locked)),
            ("font-size", HEADING_SIZES[level]), ("font-weight", "bold"),
            ("color", block["color"]), ("align", "" if block["align"] == "left" else block["align"]),
        ])
        return [f"<mj-text{attrs}>{block['text']}</mj-text>"]
    if kind == "text":
        attrs = _attributes([
            ("css-class", _classes(locked=locked)), ("color", block["color"]), ("font-size", block["font_size"]),
            ("align", "" if block["align"] == "left" else block["align"]),
        ])
        return [f"<mj-text{attrs}>{block['html']}</mj-text>"]
    if kind == "footer":
        attrs = _attributes([("css-class", _classes(FOOTER, locked=locked)), ("font-size", FOOTER_SIZE)])
        return [f"<mj-text{attrs}>{block['html']}</mj-text>"]
    if kind == "image":
        attrs = _attributes([("css-class", _classes(locked=locked)), ("src", image_src(block["src"]))])
        attrs += attribute("alt", block["alt"])
        attrs += _attributes([("width", block["width"]), ("href", block["href"])])
        return [f"<mj-image{attrs} />"]
    if kind == "button":
        attrs = _attributes([
            ("css-class", _classes(locked=locked)), ("href", block["href"]),
            ("background-color", block["background"]), ("color", block["color"]),
            ("border-radius", block["radius"]),
        ])
        return [f"<mj-button{attrs}>{html.escape(block['label'], quote=False)}</mj-button>"]
    if kind == "divider":
        attrs = _attributes([
            ("css-class", _classes(locked=locked)), ("border-color", block["color"]),
            ("border-width", block["thickness"]),
        ])
        return [f"<mj-divider{attrs} />"]
    if kind == "spacer":
        attrs = _attributes([("css-class", _classes(locked=locked)), ("height", block["height"])])
        return [f"<mj-spacer{attrs} />"]
    if kind == "social":
        attrs = _attributes([("css-class", _classes(locked=locked)), ("icon-size", "0px")])
        if not block["links"]:
            return [f"<mj-social{attrs}></mj-social>"]
        lines = [f"<mj-social{attrs}>"]
        for link in block["links"]:
            network = link["network"]
            element = _attributes([("name", f"{network}-noshare")]) + attribute("src", "")
            element += attribute("href", link["href"])
            lines.append(f"  <mj-social-element{element}>{SOCIAL_NETWORKS[network]}</mj-social-element>")
        lines.append("</mj-social>")
        return lines
    if kind == "source":
        return block["mjml"].split("\n")
    raise ValueError(f"unknown block type {kind!r}")


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.spans: dict[str, tuple[int, int]] = {}

    def write(self, indent: int, text_lines: list[str], block_id: str | None = None) -> None:
        first = len(self.lines) + 1
        for index, line in enumerate(text_lines):
            self.lines.append(("  " * indent + line) if index == 0 or not block_id else line)
        if block_id:
            self.spans[block_id] = (first, len(self.lines))

    def write_nested(self, indent: int, text_lines: list[str], block_id: str) -> None:
        """Lines of a block made here (each indented), not verbatim source."""
        first = len(self.lines) + 1
        self.lines.extend("  " * indent + line for line in text_lines)
        self.spans[block_id] = (first, len(self.lines))


def to_mjml(document: Mapping) -> MjmlOutput:
    """The MJML of a (normalised) document."""
    settings = document["settings"]
    out = _Writer()
    out.write(0, ["<mjml>"])
    head: list[str] = [
        f"<mj-font{attribute('name', font['name'])}{attribute('href', font['href'])} />"
        for font in settings.get("fonts", [])
    ]
    defaults: list[str] = []
    if settings.get("font_family"):
        defaults.append(f"<mj-all{attribute('font-family', settings['font_family'])} />")
    text_defaults = _attributes([("color", settings.get("text_color")), ("line-height", settings.get("line_height"))])
    if text_defaults:
        defaults.append(f"<mj-text{text_defaults} />")
    if defaults:
        head += ["<mj-attributes>", *("  " + line for line in defaults), "</mj-attributes>"]
    if settings.get("css"):
        head.append(f'<mj-style inline="inline">{settings["css"]}</mj-style>')
    if head:
        out.write(1, ["<mj-head>"])
        for line in head:
            out.write(2, [line])
        out.write(1, ["</mj-head>"])
    body = _attributes([("background-color", settings.get("background")), ("width", f"{settings['width']}px")])
    out.write(1, [f"<mj-body{body}>"])
    for section in document["sections"]:
        if section["type"] == "source":
            out.write(2, block_lines(section), section["id"])
            continue
        first = len(out.lines) + 1
        attrs = _attributes([
            ("css-class", _classes(locked=section.get("locked", False))),
            ("background-color", section["background"]), ("padding", section["padding"]),
        ])
        out.write(2, [f"<mj-section{attrs}>"])
        for column in section["columns"]:
            column_first = len(out.lines) + 1
            out.write(3, ["<mj-column>"])
            for block in column["blocks"]:
                if block["type"] == "social":
                    out.write_nested(4, block_lines(block), block["id"])
                else:  # a text's or a source's own lines stay as they are
                    out.write(4, block_lines(block), block["id"])
            out.write(3, ["</mj-column>"])
            out.spans[column["id"]] = (column_first, len(out.lines))
        out.write(2, ["</mj-section>"])
        out.spans[section["id"]] = (first, len(out.lines))
    out.write(1, ["</mj-body>"])
    out.write(0, ["</mjml>"])
    return MjmlOutput(source="\n".join(out.lines) + "\n", lines=out.spans)
