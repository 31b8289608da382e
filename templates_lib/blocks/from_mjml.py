"""MJML → block document: reads what ``to_mjml`` writes and hand-written MJML of the same shape.

The source is tokenised by the standard library's HTML parser (MJML's "ending tags" — mj-text,
mj-button… — keep their content raw, as MJML does). What the document cannot hold is never lost
silently: an element the editor does not know, or a known one with a property it cannot hold,
becomes a locked ``source`` block (its MJML verbatim); a head or body setting it cannot hold is
named as dropped. Each problem carries its line.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import NamedTuple

from django.utils.translation import gettext as _

from templates_lib.blocks import document as doc
from templates_lib.blocks.to_mjml import FOOTER, HEADING, LOCKED

_RAW_ELEMENTS = (
    "mj-text", "mj-button", "mj-raw", "mj-social-element", "mj-table", "mj-navbar-link", "mj-style",
    "mj-accordion-title", "mj-accordion-text", "mj-title", "mj-preview", "script", "style",
)
_IMAGE_FIELD = re.compile(r"^\{\{\s*(asset|slot)\.([a-z0-9_]{1,40})\s*\}\}$")
_MERGE_FIELD = re.compile(r"^\{\{\s*[a-z]+\.[a-z0-9_]+(?:\.[a-z]+)?\s*\}\}$")
_HEADING_LEVEL = re.compile(r"^rl-h([123])$")


class Problem(NamedTuple):
    line: int
    message: str

    def __str__(self) -> str:
        return _("line %(line)d: %(message)s") % {"line": self.line, "message": self.message}


@dataclass
class ParseResult:
    document: dict
    problems: list[Problem] = field(default_factory=list)


@dataclass
class _Node:
    tag: str  # "#comment" for a comment
    attrs: list[tuple[str, str | None]]
    start: int
    line: int
    inner_start: int = 0
    inner_end: int = 0
    end: int = 0
    children: list[_Node] = field(default_factory=list)
    text: list[str] = field(default_factory=list)  # non-blank text directly inside


class _Unholdable(Exception):
    """A property of an element the document cannot hold (the message says which)."""


class _Tree(HTMLParser):
    CDATA_CONTENT_ELEMENTS = _RAW_ELEMENTS

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.source = source
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", source)]
        self.root = _Node("#root", [], 0, 1)
        self.stack = [self.root]
        self.problems: list[Problem] = []

    def _offset(self) -> int:
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    def handle_starttag(self, tag, attrs):
        start = self._offset()
        node = _Node(tag, attrs, start, self.getpos()[0])
        node.inner_start = start + len(self.get_starttag_text() or "")
        self.stack[-1].children.append(node)
        self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        start = self._offset()
        node = _Node(tag, attrs, start, self.getpos()[0])
        node.inner_start = node.inner_end = node.end = start + len(self.get_starttag_text() or "")
        self.stack[-1].children.append(node)

    def handle_endtag(self, tag):
        start = self._offset()
        close = self.source.find(">", start)
        end = close + 1 if close >= 0 else len(self.source)
        if not any(node.tag == tag for node in self.stack[1:]):
            self.problems.append(Problem(self.getpos()[0], _("</%(tag)s> closes nothing; ignored.") % {"tag": tag}))
            return
        while self.stack[-1].tag != tag:
            node = self.stack.pop()
            self.problems.append(Problem(node.line, _("<%(tag)s> is never closed.") % {"tag": node.tag}))
            node.inner_end = node.end = start
        node = self.stack.pop()
        node.inner_end, node.end = start, end

    def handle_data(self, data):
        if data.strip() and self.stack[-1].tag not in _RAW_ELEMENTS:
            self.stack[-1].text.append(data.strip())

    def handle_comment(self, data):
        start = self._offset()
        end = start + len(data) + 7
        self.stack[-1].children.append(_Node("#comment", [], start, self.getpos()[0], start, end, end))

    def finish(self) -> _Node:
        self.close()
        while len(self.stack) > 1:
            node = self.stack.pop()
            self.problems.append(Problem(node.line, _("<%(tag)s> is never closed.") % {"tag": node.tag}))
            node.inner_end = node.end = len(self.source)
        return self.root


class _RichCheck(HTMLParser):
    """Whether an element's content is rich text the editor holds (its tags, attributes, links)."""

    def __init__(self, tags: set[str]) -> None:
        super().__init__(convert_charrefs=True)
        self.tags = tags
        self.refused: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.tags:
            self.refused.append(_("the tag <%(tag)s>") % {"tag": tag})
            return
        allowed = doc.RICH_ATTRIBUTES.get(tag, set())
        for name, value in attrs:
            if name not in allowed:
                self.refused.append(_("the attribute %(name)s of <%(tag)s>") % {"name": name, "tag": tag})
            elif name == "href" and not re.match(r"^(https?:|mailto:)", value or "", re.IGNORECASE) and not (
                _MERGE_FIELD.match(value or "")
            ):
                self.refused.append(_("the link “%(href)s”") % {"href": (value or "")[:60]})

    handle_startendtag = handle_starttag

    def handle_comment(self, data):
        self.refused.append(_("a comment"))


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def dropped(self, node: _Node, what: str) -> None:
        self.problems.append(Problem(node.line, _("%(what)s: the editor cannot hold it and drops it on saving.")
                                     % {"what": what}))

    def as_source(self, node: _Node, block_id: str, reason: str) -> dict:
        self.problems.append(Problem(node.line, _("%(reason)s; kept as a source block.") % {"reason": reason}))
        block = doc.new_block("source", block_id)
        block["mjml"] = self.source[node.start:node.end].strip()
        return block

    # --- head --------------------------------------------------------------------------------

    def head(self, node: _Node, raw: dict) -> None:
        styles: list[str] = []
        for child in node.children:
            if child.tag == "mj-attributes":
                for default in child.children:
                    allowed = {"mj-all": {"font-family": "font_family"},
                               "mj-text": {"color": "text_color", "line-height": "line_height"}}.get(default.tag)
                    if allowed is None:
                        self.dropped(default, _("<%(tag)s> in <mj-attributes>") % {"tag": default.tag})
                        continue
                    for name, value in default.attrs:
                        if name in allowed:
                            raw[allowed[name]] = value or ""
                        else:
                            self.dropped(default, _("the default %(name)s of <%(tag)s>")
                                         % {"name": name, "tag": default.tag})
            elif child.tag == "mj-font":
                self.font(child, raw)
            elif child.tag == "mj-style":
                for name, value in child.attrs:
                    if (name, value) != ("inline", "inline"):
                        self.dropped(child, _("the attribute %(name)s of <mj-style>") % {"name": name})
                styles.append(self.source[child.inner_start:child.inner_end].strip())
            else:
                label = _("a comment") if child.tag == "#comment" else f"<{child.tag}>"
                self.dropped(child, _("%(what)s in <mj-head>") % {"what": label})
        if styles:
            raw["css"] = "\n".join(filter(None, styles))

    def font(self, node: _Node, raw: dict) -> None:
        """An uploaded font (``<mj-font name href>``), kept when it is one of Relais's own."""
        values = dict(node.attrs)
        if set(values) != {"name", "href"} or len(node.attrs) != 2 or node.children or node.text:
            self.dropped(node, _("<mj-font> other than a name and the address of its style sheet"))
            return
        problem = doc.font_problem(values["name"] or "", values["href"] or "")
        fonts = raw.setdefault("fonts", [])
        if problem:
            self.dropped(node, _("<mj-font> (%(problem)s)") % {"problem": problem.rstrip(".")})
        elif len(fonts) >= doc.MAX_FONTS or any(font["name"] == values["name"] for font in fonts):
            self.dropped(node, _("<mj-font> beyond %(max)d different fonts") % {"max": doc.MAX_FONTS})
        else:
            fonts.append({"name": values["name"] or "", "href": values["href"] or ""})

    # --- body --------------------------------------------------------------------------------

    def attributes(self, node: _Node, allowed: set[str]) -> dict[str, str]:
        values: dict[str, str] = {}
        for name, value in node.attrs:
            if name not in allowed:
                raise _Unholdable(_("the attribute %(name)s of <%(tag)s> is not one the editor holds")
                                  % {"name": name, "tag": node.tag})
            if name in values:
                raise _Unholdable(_("<%(tag)s> has the attribute %(name)s twice") % {"name": name, "tag": node.tag})
            values[name] = value or ""
        return values

    def classes(self, values: dict[str, str], allowed: set[str]) -> set[str]:
        found = set(values.get("css-class", "").split())
        if found - allowed:
            raise _Unholdable(_("the class “%(name)s” is not one the editor holds")
                              % {"name": " ".join(sorted(found - allowed))})
        return found

    def inner(self, node: _Node) -> str:
        return self.source[node.inner_start:node.inner_end].strip()

    def rich(self, node: _Node, *, inline: bool) -> str:
        content = self.inner(node)
        checker = _RichCheck(doc.INLINE_TAGS if inline else doc.TEXT_TAGS)
        checker.feed(content)
        checker.close()
        if checker.refused:
            raise _Unholdable(_("the text holds %(what)s, which the editor does not")
                              % {"what": ", ".join(dict.fromkeys(checker.refused))})
        return content

    def text_block(self, node: _Node) -> dict:
        values = self.attributes(node, {"css-class", "color", "font-size", "align", "font-weight"})
        classes = set(values.get("css-class", "").split())
        locked = LOCKED in classes
        if HEADING in classes:
            levels = [m.group(1) for c in classes if (m := _HEADING_LEVEL.match(c))]
            self.classes(values, {HEADING, LOCKED, *(f"rl-h{n}" for n in levels[:1])})
            if len(levels) != 1:
                raise _Unholdable(_("a heading has one level, rl-h1, rl-h2 or rl-h3"))
            level = int(levels[0])
            if values.get("font-size") != doc.HEADING_SIZES[level] or values.get("font-weight") != "bold":
                raise _Unholdable(_("a level %(level)d heading is bold, %(size)s")
                                  % {"level": level, "size": doc.HEADING_SIZES[level]})
            return {"type": "heading", "locked": locked, "text": self.rich(node, inline=True), "level": level,
                    "color": values.get("color", ""), "align": values.get("align", "left")}
        if "font-weight" in values:
            raise _Unholdable(_("the attribute font-weight of <mj-text> is not one the editor holds"))
        if FOOTER in classes:
            self.classes(values, {FOOTER, LOCKED})
            if set(values) - {"css-class", "font-size"} or values.get("font-size") != doc.FOOTER_SIZE:
                raise _Unholdable(_("a footer has the size %(size)s and no colour or alignment of its own")
                                  % {"size": doc.FOOTER_SIZE})
            return {"type": "footer", "locked": locked, "html": self.rich(node, inline=False)}
        self.classes(values, {LOCKED})
        return {"type": "text", "locked": locked, "html": self.rich(node, inline=False), "color": values.get("color", ""),
                "font_size": values.get("font-size", ""), "align": values.get("align", "left")}

    def image_block(self, node: _Node) -> dict:
        values = self.attributes(node, {"css-class", "src", "alt", "width", "href"})
        locked = LOCKED in self.classes(values, {LOCKED})
        match = _IMAGE_FIELD.match(values.get("src", "").strip())
        if "src" not in values:  # an image not chosen yet
            return {"type": "image", "locked": locked, "src": "", "alt": values.get("alt", ""),
                    "width": values.get("width", ""), "href": values.get("href", "")}
        if not match:
            raise _Unholdable(_("the image “%(src)s” is neither from the asset library nor an image slot")
                              % {"src": values.get("src", "")[:80]})
        return {"type": "image", "locked": locked, "src": f"{match.group(1)}:{match.group(2)}",
                "alt": values.get("alt", ""), "width": values.get("width", ""), "href": values.get("href", "")}

    def button_block(self, node: _Node) -> dict:
        values = self.attributes(node, {"css-class", "href", "background-color", "color", "border-radius"})
        locked = LOCKED in self.classes(values, {LOCKED})
        label = self.inner(node)
        if "<" in label:
            raise _Unholdable(_("a button's label is plain text"))
        return {"type": "button", "locked": locked, "label": html.unescape(label), "href": values.get("href", ""),
                "background": values.get("background-color", ""), "color": values.get("color", ""),
                "radius": values.get("border-radius", "")}

    def social_block(self, node: _Node) -> dict:
        values = self.attributes(node, {"css-class", "icon-size"})
        locked = LOCKED in self.classes(values, {LOCKED})
        if values.get("icon-size") != "0px":
            raise _Unholdable(_("social links with icons are not held by the editor (icons come from outside)"))
        links = []
        for child in node.children:
            if child.tag != "mj-social-element":
                raise _Unholdable(_("<%(tag)s> in <mj-social>") % {"tag": child.tag})
            element = self.attributes(child, {"name", "src", "href"})
            network = element.get("name", "").removesuffix("-noshare")
            if (element.get("name") != f"{network}-noshare" or network not in doc.SOCIAL_NETWORKS
                    or element.get("src", None) != "" or self.inner(child) != doc.SOCIAL_NETWORKS[network]):
                raise _Unholdable(_("a social link the editor does not hold (%(name)s)")
                                  % {"name": element.get("name", "")[:40]})
            links.append({"network": network, "href": element.get("href", "")})
        if node.text:
            raise _Unholdable(_("text inside <mj-social>"))
        return {"type": "social", "locked": locked, "links": links}

    def block(self, node: _Node, block_id: str) -> dict:
        if node.tag == "#comment":
            return self.as_source(node, block_id, _("a comment"))
        readers = {
            "mj-text": self.text_block,
            "mj-image": self.image_block,
            "mj-button": self.button_block,
            "mj-social": self.social_block,
            "mj-divider": lambda n: {"type": "divider", "locked": LOCKED in self.classes(
                v := self.attributes(n, {"css-class", "border-color", "border-width"}), {LOCKED}),
                "color": v.get("border-color", ""), "thickness": v.get("border-width", "")},
            "mj-spacer": lambda n: {"type": "spacer", "locked": LOCKED in self.classes(
                v := self.attributes(n, {"css-class", "height"}), {LOCKED}), "height": v.get("height", "")},
        }
        if node.tag not in readers:
            return self.as_source(node, block_id, _("<%(tag)s> is not a block the editor knows") % {"tag": node.tag})
        try:
            raw = readers[node.tag](node)
            if node.text and node.tag not in _RAW_ELEMENTS:
                raise _Unholdable(_("text inside <%(tag)s>") % {"tag": node.tag})
            errors = doc._Errors()
            block = doc.normalise_block(raw, block_id, errors)
            if errors.by_key:
                raise _Unholdable(" ".join(errors.by_key[block_id]).rstrip("."))
        except _Unholdable as reason:
            return self.as_source(node, block_id, _("<%(tag)s>: %(reason)s") % {"tag": node.tag, "reason": reason})
        return block

    def section(self, node: _Node, section_id: str) -> dict:
        if node.tag != "mj-section":
            label = _("a comment") if node.tag == "#comment" else (
                _("<%(tag)s> is not a block the editor knows") % {"tag": node.tag})
            return self.as_source(node, section_id, label)
        try:
            values = self.attributes(node, {"css-class", "background-color", "padding"})
            locked = LOCKED in self.classes(values, {LOCKED})
            if node.text:
                raise _Unholdable(_("text inside <mj-section>"))
            columns = node.children
            if any(child.tag != "mj-column" for child in columns):
                raise _Unholdable(_("a section holds columns only"))
            if not 1 <= len(columns) <= doc.MAX_COLUMNS:
                raise _Unholdable(_("a section has 1 to %(max)d columns") % {"max": doc.MAX_COLUMNS})
            for column in columns:
                self.attributes(column, set())
                if column.text:
                    raise _Unholdable(_("text outside a block in <mj-column>"))
            errors = doc._Errors()
            section = doc.new_section(section_id, 0)
            section["locked"] = locked
            section["background"] = doc._colour({"background": values.get("background-color", "")}, "background",
                                                section_id, errors)
            section["padding"] = doc._size({"padding": values.get("padding", "")}, "padding", section_id, errors,
                                           doc._PADDING, "16px 0")
            if errors.by_key:
                raise _Unholdable(" ".join(errors.by_key[section_id]).rstrip("."))
        except _Unholdable as reason:
            return self.as_source(node, section_id, _("<%(tag)s>: %(reason)s") % {"tag": node.tag, "reason": reason})
        for c_index, column in enumerate(columns, start=1):
            column_id = f"{section_id}c{c_index}"
            section["columns"].append({"id": column_id, "blocks": [
                self.block(child, f"{column_id}b{b_index}") for b_index, child in enumerate(column.children, start=1)
            ]})
        return section


def parse(source: str) -> ParseResult:
    """The block document of an MJML source, and what it could not hold (by line)."""
    source = source.replace("\r\n", "\n").replace("\r", "\n")
    tree = _Tree(source)
    tree.feed(source)
    root = tree.finish()
    reader = _Reader(source)
    reader.problems.extend(tree.problems)
    raw_settings: dict[str, object] = {}
    document = {"settings": {}, "sections": []}
    roots = [node for node in root.children if node.tag != "#comment"]
    if len(roots) != 1 or roots[0].tag != "mjml":
        reader.problems.append(Problem(1, _("the source is not one <mjml> element.")))
        mjml_node = next((node for node in roots if node.tag == "mjml"), None)
    else:
        mjml_node = roots[0]
    for node in root.children:
        if node.tag == "#comment":
            reader.dropped(node, _("a comment"))
    body = None
    if mjml_node is not None:
        for name, _value in mjml_node.attrs:
            reader.dropped(mjml_node, _("the attribute %(name)s of <mjml>") % {"name": name})
        for child in mjml_node.children:
            if child.tag == "mj-head":
                reader.head(child, raw_settings)
            elif child.tag == "mj-body" and body is None:
                body = child
            else:
                reader.dropped(child, _("a comment") if child.tag == "#comment" else f"<{child.tag}>")
    if body is not None:
        for name, value in body.attrs:
            if name == "background-color":
                raw_settings["background"] = value or ""
            elif name == "width":
                raw_settings["width"] = value or ""
            else:
                reader.dropped(body, _("the attribute %(name)s of <mj-body>") % {"name": name})
        if body.text:
            reader.dropped(body, _("text outside a block"))
        document["sections"] = [
            reader.section(child, f"s{index}") for index, child in enumerate(body.children, start=1)
        ]
    errors = doc._Errors()
    document["settings"] = doc._settings(raw_settings, errors)
    for message in errors.by_key.get("document", []):
        reader.problems.append(Problem(body.line if body is not None else 1, _("%(message)s It is dropped.")
                                       % {"message": message}))
    reader.problems.sort(key=lambda problem: problem.line)
    return ParseResult(document=document, problems=reader.problems)
