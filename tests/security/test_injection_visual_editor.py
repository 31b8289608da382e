"""The injection corpus (tests/injection_payloads.py) through every input of the visual editor, by
``saving.save_document``: each payload is refused with a message on the block it was typed into
(``"document"`` for the settings), nothing saved, or stored neutralised — the saved MJML carries
no script, event handler, ``javascript:`` link, outside image or style sheet, or template syntax."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable

import lxml.html
import pytest
from django.core.cache import cache

from fixtures.demo_templates import load_demo_templates
from templates_lib import services
from templates_lib.blocks import saving
from templates_lib.models import TemplateVersion
from tests.injection_payloads import materialise

pytestmark = pytest.mark.django_db

PAYLOADS = materialise(9, "/nonexistent/relais-marker")
FOOTER_LINK = ' <a href="{{ system.unsubscribe_url }}">Se désinscrire</a>'


def _block(document: dict, section: int, block: int) -> dict:
    return document["sections"][section]["columns"][0]["blocks"][block]


def _social(document: dict, payload: str) -> None:
    document["sections"][2]["columns"][0]["blocks"].append(
        {"id": "social", "type": "social", "locked": False, "links": [{"network": "facebook", "href": payload}]})


#: input → (how to put the payload in, the key its refusal must be under)
INPUTS: dict[str, tuple[Callable[[dict, str], None], str]] = {
    "text html": (lambda d, p: _block(d, 1, 2).update(html=p), "s2c1b3"),
    "heading text": (lambda d, p: _block(d, 1, 1).update(text=p), "s2c1b2"),
    "image alt": (lambda d, p: _block(d, 0, 0).update(alt=p), "s1c1b1"),
    "image src": (lambda d, p: _block(d, 0, 0).update(src=p), "s1c1b1"),
    "image href": (lambda d, p: _block(d, 0, 0).update(href=p), "s1c1b1"),
    "button label": (lambda d, p: _block(d, 1, 5).update(label=p), "s2c1b6"),
    "button href": (lambda d, p: _block(d, 1, 5).update(href=p), "s2c1b6"),
    "social href": (_social, "social"),
    "footer html": (lambda d, p: _block(d, 2, 1).update(html=p + FOOTER_LINK), "s3c1b2"),
    "settings css": (lambda d, p: d["settings"].update(css=p), "document"),
    "font family": (lambda d, p: d["settings"].update(font_family=p), "document"),
    "text colour": (lambda d, p: d["settings"].update(text_color=p), "document"),
    "button colour": (lambda d, p: _block(d, 1, 5).update(background=p), "s2c1b6"),
    "section background": (lambda d, p: d["sections"][1].update(background=p), "s2"),
}

_RAW_UNSAFE = {
    "script": re.compile(r"<\s*script", re.IGNORECASE),
    "javascript link": re.compile(r"(?:java|vb)script\s*:", re.IGNORECASE),
    "template syntax": re.compile(r"\{%|%\}|\{#|#\}"),
    "included file": re.compile(r"<\s*mj-(?:include|font)", re.IGNORECASE),
}
_STYLE_UNSAFE = re.compile(r"@import|url\s*\(|expression\s*\(|behavior|binding", re.IGNORECASE)
_FIELD = re.compile(r"^\{\{ (?:asset|slot)\.[a-z0-9_]+ \}\}$")


def unsafe(body: str) -> list[str]:
    """What the saved MJML carries that could run or fetch: raw markers, and, read as HTML, every
    element and attribute (text that merely mentions ``onclick=`` or ``file:`` is harmless)."""
    found = [what for what, pattern in _RAW_UNSAFE.items() if pattern.search(body)]
    for style in re.findall(r"<mj-style[^>]*>(.*?)</mj-style>", body, re.DOTALL):
        if _STYLE_UNSAFE.search(style):
            found.append("style sheet: " + style[:60])
    tree = lxml.html.fromstring(body)
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        if element.tag in {"script", "style", "iframe", "object", "embed", "link", "meta", "img", "mj-raw", "svg"}:
            found.append(f"<{element.tag}>")
        for name, value in element.attrib.items():
            if name.startswith("on"):
                found.append(f"handler {name}")
            if name in {"src", "background-url", "background", "srcset"} and not _FIELD.match(value):
                found.append(f"image {value[:60]}")
            if name == "href" and not re.match(r"^(?:https?://[^\s]*|mailto:[^\s]+|\{\{ [a-z]+\.[a-z_]+ \}\})$", value):
                found.append(f"link {value[:60]}")
            if name == "href" and re.search(r"127\.0\.0\.1|localhost|169\.254|\[::", value):
                found.append(f"internal link {value[:60]}")
            if name in {"style", "font-family", "css-class"} and _STYLE_UNSAFE.search(value):
                found.append(f"style {value[:60]}")
    return found


@pytest.fixture
def draft(world):
    cache.clear()
    published = load_demo_templates(network=world.networks["alpha"], author=world.users["head_office"])["newsletter"]
    return services.version_new_draft(template=published.template, created_by=world.users["head_office"])


@pytest.mark.parametrize("name", INPUTS)
def test_every_payload_is_refused_on_its_block_or_stored_neutralised(draft, world, name):
    put, key = INPUTS[name]
    base = saving.document_for(draft).document
    assert saving.document_for(draft).problems == []
    refused = stored = 0
    failures: list[str] = []
    for category, payload in PAYLOADS:
        document = copy.deepcopy(base)
        put(document, payload)
        before = TemplateVersion.objects.get(pk=draft.pk).body
        try:
            saving.save_document(version=draft, document=document, slots=draft.slots, subject=draft.subject,
                                 preheader=draft.preheader, edited_by=world.users["head_office"])
        except saving.BlockErrors as error:
            refused += 1
            if key not in error.by_block or not error.by_block[key]:
                failures.append(f"{category} {payload[:60]!r}: refused, but on {sorted(error.by_block)}")
            if TemplateVersion.objects.get(pk=draft.pk).body != before:
                failures.append(f"{category} {payload[:60]!r}: refused, yet the body changed")
            continue
        stored += 1
        body = TemplateVersion.objects.get(pk=draft.pk).body
        for what in unsafe(body):
            failures.append(f"{category} {payload[:60]!r}: stored with {what}")
    assert not failures, "\n".join(failures)
    assert refused + stored == len(PAYLOADS) and refused > 0


def test_the_detector_sees_what_it_looks_for():
    """The check above can fail: each kind of unsafe MJML is seen, harmless text is not."""
    harmless = ('<mjml><mj-body><mj-section><mj-column><mj-text>onclick= file: 127.0.0.1 @import'
                '</mj-text><mj-image src="{{ asset.ast_x }}" alt="&quot; onerror=&quot;x" /></mj-column>'
                '</mj-section></mj-body></mjml>')
    assert unsafe(harmless) == []
    for bad in ('<mj-text><a href="https://127.0.0.1/">x</a></mj-text>', '<mj-image src="http://x.example/a.png" />',
                '<mj-text><b onclick="x()">x</b></mj-text>', '<mj-style>@import "x.css";</mj-style>',
                "<mj-text>{% load x %}</mj-text>", '<mj-button href="javascript:x()">x</mj-button>',
                "<mj-raw><p>x</p></mj-raw>", '<mj-text><a href="file:///etc/passwd">x</a></mj-text>'):
        assert unsafe(f"<mjml><mj-body>{bad}</mj-body></mjml>"), bad
