"""Uploaded fonts in e-mails (issue 20): a document loads the brand kit's font by ``<mj-font>`` on
Relais's own media URL (nothing else), the font family may be the kit's font before a web-safe stack,
and Relais never fetches the font (nor anything) when it previews or renders an e-mail."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import css_inline
import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from fixtures.demo_brand_kit import FOOTER
from fixtures.demo_templates import load_demo_templates
from templates_lib import previews, rendering, services
from templates_lib.blocks import saving
from templates_lib.blocks.checks import check
from templates_lib.blocks.document import empty_document, normalise
from templates_lib.blocks.from_mjml import parse
from templates_lib.blocks.to_mjml import to_mjml
from templates_lib.brand_kit_documents import STARTER_SLOTS, apply_kit, kit_values, starter_document
from templates_lib.brand_kit_services import font_upload, kit_update
from templates_lib.models import TemplateVersion

pytestmark = pytest.mark.django_db

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
KIT = {"primary_color": "#6b1d2a", "accent_color": "#8a1c1c", "background_color": "#f5efe6",
       "text_color": "#3b2a1a", "font_stack": "Helvetica, Arial, sans-serif", "button_background": "#6b1d2a",
       "button_color": "#ffffff", "button_radius": "3px", "footer_html": FOOTER}
OWN = "/media/assets/fonts/2026/12/fnt_abc.css"


#: A loopback HTTP server in a process of its own (css-inline holds the GIL while it fetches, so a
#: server thread in this process could not answer): it prints its port, then one line per request.
SERVER = """
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

class Recorder(BaseHTTPRequestHandler):
    def do_GET(self):
        print(self.path, flush=True)
        body = b"@font-face { font-family: 'Brand Sans'; src: url('x.ttf'); }"
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

server = HTTPServer(("127.0.0.1", 0), Recorder)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


class Requests:
    """The paths the loopback server was asked for, read from its output."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process, self.seen = process, []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.seen.append(line.strip())

    def wait_for(self, count: int, seconds: float = 10) -> list[str]:
        deadline = time.monotonic() + seconds
        while len(self.seen) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.seen)


@pytest.fixture
def loopback():
    process = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)  # noqa: S603 (our own script)
    try:
        port = int(process.stdout.readline())
        yield f"http://127.0.0.1:{port}", Requests(process)
    finally:
        process.kill()
        process.wait()


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def with_fonts(fonts, **settings):
    document = empty_document()
    document["settings"].update(fonts=fonts, **settings)
    return document


def upload(world, name="Brand Sans"):
    data = DEJAVU.read_bytes()
    return font_upload(network=world.networks["alpha"], uploaded_file=SimpleUploadedFile("brand.ttf", data),
                       name=name, uploaded_by=world.users["head_office"])


def test_normalise_keeps_our_own_font_stylesheets_and_refuses_any_other(settings):
    settings.RELAIS_BASE_URL = "https://relais.example"
    fonts = [{"name": "Brand Sans", "href": OWN}, {"name": "Titres", "href": "https://relais.example" + OWN}]
    assert normalise(with_fonts(fonts))["settings"]["fonts"] == fonts
    assert normalise({"settings": {}, "sections": []})["settings"]["fonts"] == []
    for href in ["https://fonts.googleapis.com/css?family=Roboto", "https://relais.example.evil.test" + OWN,
                 "//evil.test" + OWN, "/media/imports/2026/12/customers.css", "/media/assets/fonts/2026/12/a.ttf",
                 "javascript:alert(1)", "/media/assets/fonts/2026/12/../../../x.css", "http://relais.example" + OWN]:
        with pytest.raises(ValidationError) as caught:
            normalise(with_fonts([{"name": "Brand Sans", "href": href}]))
        assert list(caught.value.message_dict) == ["document"], href
        assert "uploaded to Relais" in caught.value.message_dict["document"][0]
    refused = [
        [{"name": f"F{n}", "href": OWN} for n in range(4)],  # more than three
        [{"name": "A", "href": OWN}, {"name": "A", "href": OWN}],  # the same name twice
        [{"name": "x;}", "href": OWN}],  # not a font name
        [{"name": "A", "href": OWN, "onload": "x"}],  # more than a name and an address
        "Brand Sans",
    ]
    for fonts in refused:
        with pytest.raises(ValidationError) as caught:
            normalise(with_fonts(fonts))
        assert list(caught.value.message_dict) == ["document"]


def test_mj_font_comes_back_from_the_mjml_and_an_outside_one_is_named_and_dropped():
    document = normalise(with_fonts([{"name": "Brand Sans", "href": OWN}], font_family="Brand Sans, Arial"))
    source = to_mjml(document).source
    assert f'<mj-font name="Brand Sans" href="{OWN}" />' in source
    assert source.index("<mj-font") < source.index("<mj-attributes>") < source.index("<mj-body")
    parsed = parse(source)
    assert parsed.problems == [] and parsed.document == document
    outside = source.replace(OWN, "https://fonts.example/roboto.css")
    parsed = parse(outside)
    assert parsed.document["settings"]["fonts"] == []
    line = outside.split("\n").index('    <mj-font name="Brand Sans" href="https://fonts.example/roboto.css" />') + 1
    assert [problem.line for problem in parsed.problems] == [line]
    assert "drops it" in parsed.problems[0].message


def test_the_font_family_is_a_web_safe_stack_or_the_kits_font_before_one(world, media):
    alpha, author = world.networks["alpha"], world.users["head_office"]
    font = upload(world)
    own = [{"name": "Brand Sans", "href": font.stylesheet_url}]
    document = normalise(with_fonts(own, font_family="Brand Sans, Georgia, Times New Roman, serif"))
    assert check(document, network=alpha)["document"][0].startswith("The font “Brand Sans, Georgia")
    assert check(document, network=alpha, extra_fonts=["Brand Sans"]) == {}
    # the stylesheet must be one of this network's fonts, under its own name
    renamed = normalise(with_fonts([{"name": "Other", "href": font.stylesheet_url}]))
    assert "not one uploaded for this network" in check(renamed, network=alpha)["document"][0]
    relative = normalise(with_fonts([{"name": "Brand Sans", "href": font.stylesheet.url}]))
    assert check(relative, network=alpha) == {}
    unknown = normalise(with_fonts([{"name": "Brand Sans", "href": OWN}]))
    assert "not one uploaded for this network" in check(unknown, network=world.networks["alpha"])["document"][0]
    assert "not one uploaded for this network" in check(
        with_fonts(own), network=world.networks["beta"])["document"][0]
    # saving offers the network's kit font by itself (before a web-safe stack, never alone)
    kit_update(network=alpha, edited_by=author, **KIT, font_file=font)
    template = services.template_create(network=alpha, kind="email", name="Police", created_by=author)
    draft = template.versions.get()
    fields = {"slots": draft.slots, "subject": draft.subject, "preheader": draft.preheader}
    for family, sound in [("Brand Sans, Georgia, Times New Roman, serif", True), ("Brand Sans", False)]:
        candidate = parse(draft.body).document
        candidate["settings"]["font_family"] = family
        result = saving.preview_document(version=draft, document=candidate, **fields)
        assert (result.html is not None) == sound, result.errors


def test_a_kit_with_an_uploaded_font_makes_e_mails_that_never_fetch_it(world, media, settings, loopback):
    base, requests = loopback
    settings.RELAIS_BASE_URL = base  # the font's stylesheet is "on our own site": the loopback server
    alpha, author = world.networks["alpha"], world.users["head_office"]
    load_demo_templates(network=alpha, author=author)
    font = upload(world)
    assert font.stylesheet_url.startswith(base + "/media/assets/fonts/")
    kit = kit_update(network=alpha, edited_by=author, **KIT, font_file=font).kit
    starter = starter_document(kit)
    assert check(normalise(starter), network=alpha, slot_definitions=STARTER_SLOTS,
                 extra_fonts=[kit.font_family]) == {}

    template = services.template_create(network=alpha, kind="email", name="Lettre", created_by=author)
    draft = template.versions.get()
    assert f'<mj-font name="Brand Sans" href="{font.stylesheet_url}" />' in draft.body
    assert services.version_check(draft) == {}
    parsed = parse(draft.body)
    assert parsed.problems == [] and parsed.document["settings"]["fonts"] == [
        {"name": "Brand Sans", "href": font.stylesheet_url}]
    assert parsed.document["settings"]["font_family"] == "Brand Sans, Helvetica, Arial, sans-serif"

    fields = {"slots": draft.slots, "subject": draft.subject, "preheader": draft.preheader}
    preview = saving.preview_document(version=draft, document=parsed.document, **fields)
    assert preview.errors == {} and font.stylesheet_url in preview.html and "Brand Sans" in preview.html
    saved = saving.save_document(version=draft, document=parsed.document, edited_by=author, **fields)
    assert saved.body == to_mjml(normalise(parsed.document)).source
    sent = previews.render_for_kind(TemplateVersion.objects.get(pk=draft.pk), rendering.VariantContext(
        slot_values={"headline": "Titre", "intro": "Texte", "link": "https://www.comptoir-saveurs.fr/"}))
    assert font.stylesheet_url in sent.html and "Brand Sans" in sent.html
    time.sleep(0.5)  # anything asked of the server would be printed by now
    assert requests.seen == []  # neither the preview, the save nor the rendering asked the font's server

    # the MJML's HTML does link the stylesheet: an inliner loading remote stylesheets would ask for it
    compiled = rendering.mjml_to_html(draft.body)
    assert f'<link href="{font.stylesheet_url}" rel="stylesheet"' in compiled
    assert urllib.request.urlopen(font.stylesheet_url, timeout=5).status == 200  # noqa: S310 (the server answers)
    assert len(requests.wait_for(1)) == 1
    css_inline.CSSInliner(load_remote_stylesheets=True).inline(compiled)
    assert len(requests.wait_for(2)) == 2, "a remote-loading inliner reaches the server: the zero above means something"


def test_a_changed_font_in_the_kit_replaces_the_previous_one(world, media):
    alpha, author = world.networks["alpha"], world.users["head_office"]
    first, second = upload(world), upload(world, name="Titres Maison")
    kit = kit_update(network=alpha, edited_by=author, **KIT, font_file=first).kit
    template = services.template_create(network=alpha, kind="email", name="Lettre", created_by=author)
    previous = kit_values(kit)
    kit = kit_update(network=alpha, edited_by=author, font_file=second).kit
    draft = template.versions.order_by("-number").first()
    assert second.stylesheet_url in draft.body and first.stylesheet_url not in draft.body
    document = parse(draft.body).document
    assert document["settings"]["fonts"] == [{"name": "Titres Maison", "href": second.stylesheet_url}]
    assert document["settings"]["font_family"] == "Titres Maison, Helvetica, Arial, sans-serif"
    assert check(normalise(document), network=alpha, slot_definitions=draft.slots,
                 extra_fonts=[kit.font_family]) == {}
    changed = apply_kit(starter_document(kit), kit, previous)
    assert normalise(changed)["settings"]["fonts"] == [{"name": "Titres Maison", "href": second.stylesheet_url}]
    crowded = starter_document(kit)
    crowded["settings"]["fonts"] = [{"name": f"F{n}", "href": OWN} for n in range(3)]
    crowded["settings"]["font_family"] = previous["font_family"]
    assert len(apply_kit(crowded, kit, previous)["settings"]["fonts"]) == 3
