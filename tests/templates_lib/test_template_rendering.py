"""Rendering of template versions: injection values stay inert text in every output (e-mail HTML,
text and subject; SMS; print PDF), the print renderer fetches nothing but the asset library, SMS
segments are counted right, slot values and recipients' values land where they should."""

import base64
import io
import re
import socket
import threading
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from PIL import Image
from pypdf import PdfReader

from local_stores.models import Node, NodeKind, Role
from local_stores.services import network_create, role_grant
from templates_lib import rendering, rendering_print, services
from tests.factories import UserFactory

VICTIM = {
    "civility": "M.",
    "first_name": "Victor",
    "last_name": "Cible",
    "full_name": "Victor Cible",
    "email": "victim@example.test",
    "city": "Lille",
}
SYSTEM = {
    "unsubscribe_url": "https://relais.example/u/tok-123",
    "view_online_url": "https://relais.example/v/tok-123",
    "stop_mention": "STOP au 36173",
}

#: Values that would be code somewhere: template languages, HTML, dangerous URLs, MJML.
PAYLOADS = [
    "{{ recipient.email }}",
    "{{recipient.email}}",
    "{% load static %}{% static 'x' %}",
    "{# hidden #}visible",
    "{{7*7}}",
    "{% for x in range(3) %}{{ x }}{% endfor %}",
    "${7*7} #{7*7} <%= 7*7 %> [[${7*7}]]",
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    '"><svg onload=alert(1)>',
    "javascript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "file:///etc/passwd",
    '<mj-include path="/etc/passwd" />',
    "</mj-text></mj-column></mj-section><mj-raw><script>alert(1)</script></mj-raw>",
    "RLS0123456789abX0Z",  # shaped like a merge placeholder, without the secret nonce
]
PAYLOAD_IDS = [f"p{i}" for i in range(len(PAYLOADS))]
HOSTILE_LINK = 'https://example.com/?q="><script>alert(1)</script>{{ recipient.email }}'


EMAIL_BODY = """<mjml>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text>SHORT[{{ slot.short }}]</mj-text>
        <mj-text>LONG[{{ slot.long }}]</mj-text>
        <mj-text>RICH[{{ slot.rich }}]</mj-text>
        <mj-button href="{{ slot.link }}">Voir</mj-button>
        <mj-text>Bonjour {{ recipient.first_name }}, <a href="{{ system.unsubscribe_url }}">Se désinscrire</a></mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>
"""
TEXT_SLOTS = [
    {"name": "short", "type": "short_text", "label": "Court", "required": False},
    {"name": "long", "type": "long_text", "label": "Long", "required": False},
    {"name": "rich", "type": "rich_text", "label": "Riche", "required": False},
    {"name": "link", "type": "url", "label": "Lien", "required": False},
]


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Compiled variants are cached by version pk; pks repeat across tests."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def author(db):
    """A network's head-office marketer: lighter than ``world`` for tests that only render."""
    network = network_create(name="Gamma", slug="gamma", head_office_name="Gamma HQ")
    user = UserFactory(username="gamma_head_office")
    role_grant(
        user=user,
        node=Node.objects.get(network=network, kind=NodeKind.HEAD_OFFICE),
        role=Role.HEAD_OFFICE_MARKETER,
    )
    return SimpleNamespace(networks={"alpha": network}, users={"head_office": user})


def make_version(world, kind: str, *, body: str, slots_: list, subject: str = "", css: str = ""):
    """A draft of a new template of ``world``'s alpha network, its content set through the service."""
    head_office = world.users["head_office"]
    template = services.template_create(
        network=world.networks["alpha"], kind=kind, name=f"T {kind}", created_by=head_office
    )
    fields = {"body": body, "slots": slots_}
    if kind == "email":
        fields["subject"] = subject
    if kind == "print":
        fields["css"] = css
    return services.draft_update(version=template.versions.get(), edited_by=head_office, **fields)


class _Scanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [(tag, name, value or "") for name, value in attrs]

    handle_startendtag = handle_starttag


def scan(html: str) -> _Scanner:
    scanner = _Scanner()
    scanner.feed(html)
    scanner.close()
    return scanner


def assert_no_active_content(html: str) -> None:
    """Structural check, as a browser parses it: no script-like element, no event handler, no
    dangerous URL in an attribute."""
    scanner = scan(html)
    assert not {"script", "iframe", "object", "embed", "svg", "mj-include", "mj-raw"} & set(scanner.tags)
    for tag, name, value in scanner.attributes:
        assert not name.startswith("on"), f"event handler {name}= on <{tag}>"
        if name in {"href", "src", "action", "formaction", "background", "poster"}:
            scheme = re.sub(r"[\s\x00-\x1f]", "", value).lower()
            assert not scheme.startswith(("javascript:", "data:", "file:", "vbscript:")), (tag, name, value)


def around(text: str, needle: str, width: int = 70) -> str:
    """The part of ``text`` around ``needle``, for a readable failure message."""
    at = text.lower().find(needle.lower())
    return text[max(at - width, 0) : at + len(needle) + width] if at >= 0 else ""


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def pdf_image_sizes(pdf: bytes) -> list[tuple[int, int]]:
    return [image.image.size for page in PdfReader(io.BytesIO(pdf)).pages for image in page.images]


def png_bytes(size: tuple[int, int], colour: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


# --- 2. injection: e-mail -----------------------------------------------------------------------


def render_injection_email(world, payload: str):
    version = make_version(
        world,
        "email",
        body=EMAIL_BODY,
        subject="{{ slot.short }} pour {{ recipient.first_name }}",
        slots_=TEXT_SLOTS,
    )
    values = services.slot_values_clean(
        version=version,
        values={
            "short": payload,
            "long": f"{payload}\n{payload}",
            "rich": payload,
            "link": "https://example.com/",
        },
    )
    compiled = rendering.compile_email(version, rendering.VariantContext(slot_values=values))
    return rendering.render_email(compiled, VICTIM, SYSTEM)


@pytest.mark.parametrize("payload", PAYLOADS, ids=PAYLOAD_IDS)
def test_email_slot_values_stay_inert_text(author, payload):
    # given an e-mail whose short, long and rich text slots hold an injection attempt
    # when the variant is compiled and rendered for a recipient
    email = render_injection_email(author, payload)
    # then the HTML carries no code: no script, no event handler, no dangerous URL, no MJML tag…
    assert_no_active_content(email.html)
    # …the recipient's e-mail was not merged in anywhere: a value's {{ recipient.email }} is text…
    for output in (email.html, email.text, email.subject):
        assert VICTIM["email"] not in output
    # …and the subject and the text alternative show the value literally
    assert email.subject == f"{payload} pour Victor"
    assert squash(f"SHORT[{payload}]") in squash(email.text)
    # while the template's own per-recipient field was merged
    assert "Bonjour Victor" in email.html
    # and the final HTML (after MJML and CSS inlining) still has the values escaped: no raw
    # "<script" anywhere, braces as &#123; &#125; so that no later template engine sees a tag
    assert "<script" not in email.html.lower(), f"raw <script in the HTML: …{around(email.html, '<script')}…"
    for tag in ("{{", "}}", "{%", "%}", "{#", "#}"):
        assert tag not in email.html, f"raw {tag!r} in the HTML: …{around(email.html, tag)}…"
    if "{" in payload:
        assert "&#123;" in email.html


@pytest.mark.parametrize(
    "url",
    [
        'https://example.com/?q="><script>alert(1)</script>',
        'https://example.com/" onmouseover="alert(1)',
        "https://example.com/{{ recipient.email }}",
        "https://example.com/#{% load static %}",
        "https://example.com/a'b<c>",
    ],
)
def test_email_url_slot_stays_one_inert_attribute(author, url):
    # given an e-mail with a link slot
    version = make_version(author, "email", body=EMAIL_BODY, subject="Offre", slots_=TEXT_SLOTS)
    values = services.slot_values_clean(version=version, values={"link": url})
    # when rendered
    compiled = rendering.compile_email(version, rendering.VariantContext(slot_values=values))
    email = rendering.render_email(compiled, VICTIM, SYSTEM)
    # then the link is one href attribute holding the value, nothing else became markup
    assert_no_active_content(email.html)
    hrefs = [value for tag, name, value in scan(email.html).attributes if tag == "a" and name == "href"]
    assert url in hrefs
    assert VICTIM["email"] not in email.html and VICTIM["email"] not in email.text
    # and, as for text, the final HTML keeps it escaped (no raw "<script", braces as entities)
    assert "<script" not in email.html.lower(), f"raw <script in the HTML: …{around(email.html, '<script')}…"
    for tag in ("{{", "{%"):
        assert tag not in email.html, f"raw {tag!r} in the HTML: …{around(email.html, tag)}…"


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "file:///etc/passwd",
        "http://169.254.169.254/latest/meta-data",
    ],
)
def test_dangerous_urls_never_reach_a_url_slot(author, url):
    version = make_version(author, "email", body=EMAIL_BODY, subject="Offre", slots_=TEXT_SLOTS)
    with pytest.raises(ValidationError) as caught:
        services.slot_values_clean(version=version, values={"link": url})
    assert "Lien" in " ".join(caught.value.message_dict["link"])


# --- 2. injection: SMS --------------------------------------------------------------------------


@pytest.mark.parametrize("payload", PAYLOADS, ids=PAYLOAD_IDS)
def test_sms_slot_values_stay_inert_literal(author, payload):
    # given an SMS whose slot holds an injection attempt
    version = make_version(
        author,
        "sms",
        body="{{ slot.short }} | {{ slot.long }} | {{ recipient.first_name }} {{ system.stop_mention }}",
        slots_=[TEXT_SLOTS[0], TEXT_SLOTS[1]],
    )
    values = services.slot_values_clean(version=version, values={"short": payload, "long": payload})
    # when it is compiled and merged for a recipient
    compiled = rendering.compile_sms(version, rendering.VariantContext(slot_values=values))
    text = rendering.render_sms(compiled, VICTIM, SYSTEM)
    # then the value is there literally; only the template's own fields were merged
    assert text == f"{payload} | {payload} | Victor STOP au 36173"
    assert VICTIM["email"] not in text


def test_sms_url_slot_stays_literal(author):
    version = make_version(
        author, "sms", body="Voir {{ slot.link }} {{ system.stop_mention }}", slots_=[TEXT_SLOTS[3]]
    )
    url = "https://example.com/{{ recipient.email }}?x={% load %}"
    values = services.slot_values_clean(version=version, values={"link": url})
    text = rendering.render_sms(
        rendering.compile_sms(version, rendering.VariantContext(slot_values=values)), VICTIM, SYSTEM
    )
    assert text == f"Voir {url} STOP au 36173"


# --- 2. injection: print ------------------------------------------------------------------------


def test_print_slot_values_stay_inert_text_in_the_pdf(author):
    # given a print template whose text slots hold every injection attempt (one PDF for all)
    version = make_version(
        author,
        "print",
        body="<p>SHORT[{{ slot.short }}]</p>\n<p>LONG[{{ slot.long }}]</p>\n<div>RICH[{{ slot.rich }}]</div>\n"
        '<p>Pour {{ recipient.first_name }} <a href="{{ slot.link }}">lien</a></p>',
        slots_=TEXT_SLOTS,
    )
    long_value = "\n".join(PAYLOADS)
    rich_value = "".join(PAYLOADS[:8]) + '<img src="file:///etc/passwd"><b>gras</b>'
    values = services.slot_values_clean(
        version=version,
        values={
            "short": "{{ recipient.email }}",
            "long": long_value,
            "rich": rich_value,
            "link": HOSTILE_LINK,
        },
    )
    context = rendering.VariantContext(slot_values=values)
    # when the document is built and printed
    document, assets = rendering_print.print_html(version, context, VICTIM, SYSTEM)
    pdf = rendering_print.render_pdf(document, assets)
    # then the document carries no code and the PDF shows the characters literally
    body = document.split("<body>", 1)[1]
    assert_no_active_content(body)
    assert "<script" not in body.lower()
    assert [v for t, n, v in scan(body).attributes if t == "a" and n == "href"] == [HOSTILE_LINK]
    text = pdf_text(pdf)
    flat = squash(text)
    assert "SHORT[{{recipient.email}}]" in flat
    for payload in PAYLOADS:
        assert squash(payload) in flat, payload
    assert "Victor" in text
    assert VICTIM["email"] not in text
    assert "root:" not in text
    assert pdf_image_sizes(pdf) == []


# --- 3. print: no fetch but the asset library ---------------------------------------------------


class _Listener:
    """A TCP port on 127.0.0.1 that records every connection made to it."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(8)
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _address = self.socket.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.socket.close()


@pytest.fixture
def listener():
    probe = _Listener()
    yield probe
    probe.close()


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def upload_asset(world, network: str, actor: str, size: tuple[int, int], colour: str = "red"):
    return services.asset_upload(
        network=world.networks[network],
        uploaded_file=SimpleUploadedFile("pic.png", png_bytes(size, colour), content_type="image/png"),
        name="Logo",
        tags="logo",
        uploaded_by=world.users[actor],
    )


ASSET_SIZE = (16, 12)
DATA_IMAGE_SIZE = (3, 5)


def hostile_print_version(world, port: int, asset, foreign_asset):
    data_uri = "data:image/png;base64," + base64.b64encode(png_bytes(DATA_IMAGE_SIZE, "blue")).decode()
    body = f"""<h1>Fetch test</h1>
<img src="file:///etc/passwd" alt="">
<img src="file:///etc/hostname">
<img src="http://127.0.0.1:{port}/probe.png">
<img src="http://127.0.0.1:9/discard.png">
<img src="http://169.254.169.254/latest/meta-data/">
<img src="{data_uri}">
<img src="relais-asset:{foreign_asset.public_id}">
<img src="/etc/passwd">
<img src="../../../../etc/passwd">
<link rel="stylesheet" href="file:///etc/passwd">
<link rel="stylesheet" href="http://127.0.0.1:{port}/link.css">
<object data="file:///etc/passwd" type="text/plain"></object>
<embed src="file:///etc/passwd" type="text/plain">
<iframe src="file:///etc/passwd"></iframe>
<p style="background: url(http://127.0.0.1:{port}/inline-bg.png)">Inline style</p>
<style>@import url("file:///etc/passwd"); @import url(http://127.0.0.1:{port}/body-import.css);</style>
<p>Logo: <img src="{{{{ asset.{asset.public_id} }}}}" alt="logo"></p>
"""
    css = f"""@import url("file:///etc/passwd");
@import url(http://127.0.0.1:{port}/import.css);
@import "http://169.254.169.254/latest/meta-data/iam";
@font-face {{ font-family: Evil; src: url(file:///etc/passwd); }}
@font-face {{ font-family: Evil2; src: url(http://127.0.0.1:{port}/font.woff); }}
body {{ font-family: Evil, Evil2, sans-serif; background-image: url(http://169.254.169.254/latest/meta-data); }}
h1 {{ background: url("{data_uri}"); }}
p {{ list-style-image: url(file:///etc/passwd); }}
"""
    return make_version(world, "print", body=body, css=css, slots_=[])


def test_asset_only_fetcher_refuses_everything_but_the_library():
    # given a fetcher holding one asset
    fetcher = rendering_print.AssetOnlyFetcher({"ast_good": (b"PNGDATA", "image/png")})
    # when asked for the asset, it serves it
    response = fetcher.fetch("relais-asset:ast_good")
    assert response.read() == b"PNGDATA"
    # and everything else is refused and recorded
    hostile = [
        "file:///etc/passwd",
        "http://127.0.0.1:9/x.png",
        "http://169.254.169.254/latest/meta-data",
        "data:image/png;base64,iVBORw0KGgo=",
        "https://example.com/a.css",
        "relais-asset:ast_other",
        "relais-asset:../../etc/passwd",
        "RELAIS-ASSET:ast_good/../x",
    ]
    for url in hostile:
        with pytest.raises(ValueError):
            fetcher.fetch(url)
    assert fetcher.refused == hostile


def test_print_renders_without_fetching_anything_but_its_asset(world, media, listener, monkeypatch):
    # given a library image, one of another network, and a print template full of external references
    asset = upload_asset(world, "alpha", "head_office", ASSET_SIZE)
    foreign = upload_asset(world, "beta", "other_network_head_office", (7, 7), "green")
    version = hostile_print_version(world, listener.port, asset, foreign)
    fetchers = []

    class RecordingFetcher(rendering_print.AssetOnlyFetcher):
        def __init__(self, assets):
            super().__init__(assets)
            self.served = []
            fetchers.append(self)

        def fetch(self, url, headers=None):
            response = super().fetch(url, headers)
            self.served.append(url)
            return response

    monkeypatch.setattr(rendering_print, "AssetOnlyFetcher", RecordingFetcher)
    # when it is rendered (in this process, to see the fetcher)
    document, assets = rendering_print.print_html(version, rendering.VariantContext(), VICTIM, SYSTEM)
    pdf, pages = rendering_print._render_pdf_in_this_process(document, assets)
    # then only the library image was served…
    (fetcher,) = fetchers
    assert fetcher.served == [f"relais-asset:{asset.public_id}"]
    assert set(assets) == {asset.public_id}
    # …every external reference that was requested was refused, none reached the network…
    refused = " ".join(fetcher.refused)
    for reference in [
        "file:///etc/passwd",
        f"http://127.0.0.1:{listener.port}/probe.png",
        "http://169.254.169.254/latest/meta-data",
        "data:image/png;base64,",
        f"relais-asset:{foreign.public_id}",
        f"http://127.0.0.1:{listener.port}/body-import.css",
        f"http://127.0.0.1:{listener.port}/link.css",
        f"http://127.0.0.1:{listener.port}/inline-bg.png",
    ]:
        assert reference in refused, reference
    assert listener.connections == 0
    # …nothing of /etc/passwd is in the PDF, and the library image is embedded (the data: one not)
    assert pages == 1
    assert "root:" not in pdf_text(pdf)
    assert pdf_image_sizes(pdf) == [ASSET_SIZE]


def test_print_in_the_forked_child_fetches_nothing_and_embeds_the_asset(world, media, listener):
    # given the same hostile template
    asset = upload_asset(world, "alpha", "head_office", ASSET_SIZE)
    foreign = upload_asset(world, "beta", "other_network_head_office", (7, 7), "green")
    version = hostile_print_version(world, listener.port, asset, foreign)
    # when it is printed the way the application does (forked child)
    pdf = rendering_print.render_print(version, rendering.VariantContext(), VICTIM, SYSTEM)
    # then the PDF is made, without any connection, /etc/passwd or foreign image, with the asset
    assert pdf.startswith(b"%PDF")
    assert listener.connections == 0
    text = pdf_text(pdf)
    assert "root:" not in text
    assert "Fetch test" in text
    assert pdf_image_sizes(pdf) == [ASSET_SIZE]


def test_image_slot_of_the_library_is_embedded_in_the_pdf(world, media):
    # given a print template with an image slot filled with a library image
    asset = upload_asset(world, "alpha", "head_office", ASSET_SIZE)
    version = make_version(
        world,
        "print",
        body='<h1>{{ slot.title }}</h1><img src="{{ slot.photo }}" alt="">',
        slots_=[
            {"name": "title", "type": "short_text", "label": "Titre"},
            {"name": "photo", "type": "image", "label": "Photo"},
        ],
    )
    values = services.slot_values_clean(
        version=version, values={"title": "Vitrine", "photo": asset.public_id}
    )
    # when printed
    pdf = rendering_print.render_print(version, rendering.VariantContext(slot_values=values), VICTIM, SYSTEM)
    # then the image is in the PDF
    assert pdf_image_sizes(pdf) == [ASSET_SIZE]
    assert "Vitrine" in pdf_text(pdf)


def test_email_shows_library_images_by_their_public_url(world, media):
    # given an e-mail with an image slot and a fixed library image
    asset = upload_asset(world, "alpha", "head_office", ASSET_SIZE)
    other = upload_asset(world, "alpha", "head_office", (5, 5), "blue")
    body = EMAIL_BODY.replace(
        "<mj-text>SHORT",
        f'<mj-image src="{{{{ slot.photo }}}}" alt="" /><mj-image src="{{{{ asset.{other.public_id} }}}}" /><mj-text>SHORT',
    )
    version = make_version(
        world,
        "email",
        body=body,
        subject="Offre",
        slots_=[*TEXT_SLOTS, {"name": "photo", "type": "image", "label": "Photo"}],
    )
    values = services.slot_values_clean(version=version, values={"photo": asset.public_id})
    # when rendered
    email = rendering.render_email(
        rendering.compile_email(version, rendering.VariantContext(slot_values=values)), VICTIM, SYSTEM
    )
    # then both images point at their public URL, exactly
    sources = [value for tag, name, value in scan(email.html).attributes if tag == "img" and name == "src"]
    assert sources == [rendering.asset_public_url(asset), rendering.asset_public_url(other)]


def test_css_cannot_close_the_style_element(author):
    # given print CSS trying to end the style element and inject markup
    version = make_version(
        author,
        "print",
        body="<p>Corps</p>",
        css="p { color: red; }</style><script>alert(1)</script><style>",
        slots_=[],
    )
    # when the document is built
    document, _assets = rendering_print.print_html(version, rendering.VariantContext(), VICTIM, SYSTEM)
    # then the CSS stayed inside one style element
    assert document.lower().count("</style") == 1
    assert "<script>" not in document.split("</style>", 1)[1]


# --- 6. SMS segments ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments", "per_segment"),
    [
        ("", "GSM-7", 0, 0, 160),
        ("a", "GSM-7", 1, 1, 160),
        ("a" * 160, "GSM-7", 160, 1, 160),
        ("a" * 161, "GSM-7", 161, 2, 153),
        ("a" * 306, "GSM-7", 306, 2, 153),
        ("a" * 307, "GSM-7", 307, 3, 153),
        ("a" * 459, "GSM-7", 459, 3, 153),
        ("a" * 460, "GSM-7", 460, 4, 153),
        ("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉÄÖÑÜ§¿äöñüà\n", "GSM-7", 41, 1, 160),
        ("€", "GSM-7", 2, 1, 160),
        ("[]", "GSM-7", 4, 1, 160),
        ("€" * 80, "GSM-7", 160, 1, 160),
        ("€" * 81, "GSM-7", 162, 2, 153),
        ("a" * 159 + "€", "GSM-7", 161, 2, 153),
        ("a" * 158 + "[]", "GSM-7", 162, 2, 153),
        ("^{}\\[~]|€", "GSM-7", 18, 1, 160),
        ("ê", "UCS-2", 1, 1, 70),
        ("ê" * 70, "UCS-2", 70, 1, 70),
        ("ê" * 71, "UCS-2", 71, 2, 67),
        ("a" * 69 + "ê", "UCS-2", 70, 1, 70),
        ("a" * 70 + "ê", "UCS-2", 71, 2, 67),
        ("ê" * 134, "UCS-2", 134, 2, 67),
        ("ê" * 135, "UCS-2", 135, 3, 67),
        ("😀", "UCS-2", 2, 1, 70),
        ("😀" * 35, "UCS-2", 70, 1, 70),
        ("😀" * 36, "UCS-2", 72, 2, 67),
        ("a" * 159 + "😀", "UCS-2", 161, 3, 67),
        ("Soldes € " + "x" * 140 + " ç", "UCS-2", 151, 3, 67),  # ç (lowercase) is not GSM-7
    ],
)
def test_sms_segments_are_counted_per_encoding(text, encoding, units, segments, per_segment):
    count = rendering.sms_count(text)
    assert (count.encoding, count.units, count.segments, count.per_segment) == (
        encoding,
        units,
        segments,
        per_segment,
    )


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        # a GSM-7 escape pair (€ = ESC + e) is never split between two parts: 152 + € does not fit 153
        ("a" * 152 + "€" + "a" * 152, 3),
        # a UTF-16 surrogate pair (😀) is never split between two parts: 66 + 😀 does not fit 67
        ("ê" * 66 + "😀" + "ê" * 66, 3),
    ],
)
def test_sms_segments_never_split_a_two_unit_character(text, segments):
    assert rendering.sms_count(text).segments == segments


def test_sms_rendered_for_a_recipient_is_counted(world):
    # given an SMS with a euro price and the stop mention
    version = make_version(
        world,
        "sms",
        body="{{ recipient.first_name }}, {{ slot.offer }} chez {{ branch.name }} {{ system.stop_mention }}",
        slots_=[{"name": "offer", "type": "price", "label": "Prix"}],
    )
    values = services.slot_values_clean(version=version, values={"offer": "9.90"})
    compiled = rendering.compile_sms(
        version, rendering.VariantContext(slot_values=values, branch=world.nodes["N1"])
    )
    text = rendering.render_sms(compiled, VICTIM, SYSTEM)
    # then the message reads as expected; the price's no-break space became a plain space, so the
    # SMS stays GSM-7 (€ counting two)
    assert text == "Victor, 9.90 € chez Lille STOP au 36173"
    assert rendering.sms_count(text) == rendering.SmsCount("GSM-7", len(text) + 1, 1, 160)


# --- 7. print: slot values in the PDF -----------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "price", "date_text"),
    [("en", "1,234.50€", "Dec.24,2025"), ("fr", "1234,50€", "24décembre2025")],
)
def test_pdf_contains_the_slot_values_formatted(world, language, price, date_text):
    # given a print template with text, price (amount and conditions) and date slots
    version = make_version(
        world,
        "print",
        body="<h1>{{ slot.headline }}</h1>\n<p>{{ slot.offer.amount }}</p>\n<p>{{ slot.offer.conditions }}</p>\n"
        "<p>Until {{ slot.until }}</p>\n<p>{{ branch.name }} {{ recipient.first_name }}</p>",
        slots_=[
            {"name": "headline", "type": "short_text", "label": "Titre"},
            {"name": "offer", "type": "price", "label": "Offre"},
            {"name": "until", "type": "date", "label": "Jusqu'au"},
        ],
    )
    values = services.slot_values_clean(
        version=version,
        values={
            "headline": "Grande braderie",
            "offer": {"amount": "1234,5", "conditions": "Dès 2 achetés"},
            "until": "2025-12-24",
        },
    )
    context = rendering.VariantContext(slot_values=values, branch=world.nodes["N1"])
    # when printed in the given language
    with translation.override(language):
        pdf = rendering_print.render_print(version, context, VICTIM, SYSTEM)
    # then the PDF reads back with every value, formatted for the language
    text = pdf_text(pdf)
    flat = squash(text)
    assert "Grande braderie" in text
    assert price in flat
    assert "Dès2achetés" in flat
    assert date_text in flat
    assert "LilleVictor" in flat


@pytest.mark.parametrize(("print_format", "size"), [("A4 landscape", "A4 landscape"), ("A5", "A5")])
def test_print_format_sets_the_page_size(author, print_format, size):
    version = make_version(author, "print", body="<p>{{ slot.short }}</p>", slots_=[TEXT_SLOTS[0]])
    version = services.draft_update(
        version=version, edited_by=author.users["head_office"], print_format=print_format
    )
    document, _assets = rendering_print.print_html(version, rendering.VariantContext(), VICTIM, SYSTEM)
    assert f"size: {size};" in document


# --- 8. e-mail: compile once, merge per recipient -----------------------------------------------

MERGE_BODY = """<mjml>
  <mj-head>
    <mj-style inline="inline">.promo { color: #ff0000; font-weight: bold; }</mj-style>
  </mj-head>
  <mj-body>
    <mj-section background-color="#abcdef">
      <mj-column>
        <mj-text css-class="promo">{{ slot.headline }}</mj-text>
        <mj-text color="#123456">Bonjour {{ recipient.first_name }} de {{ recipient.city }}</mj-text>
        <mj-text><a href="{{ system.unsubscribe_url }}">Se désinscrire</a></mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>
"""


@pytest.fixture
def merge_version(author):
    return make_version(
        author,
        "email",
        body=MERGE_BODY,
        subject="{{ recipient.first_name }}, {{ slot.headline }}",
        slots_=[{"name": "headline", "type": "short_text", "label": "Titre"}],
    )


def test_email_is_compiled_once_and_merged_per_recipient(merge_version, monkeypatch):
    # given a compiled variant
    values = services.slot_values_clean(version=merge_version, values={"headline": "Braderie"})
    compiled = rendering.compile_email(merge_version, rendering.VariantContext(slot_values=values))
    # (from now on MJML and CSS inlining must not run again)
    monkeypatch.setattr(rendering, "mjml_to_html", lambda *a: pytest.fail("MJML compiled per recipient"))
    monkeypatch.setattr(rendering, "_INLINER", None)
    # when two recipients are rendered
    anne = rendering.render_email(compiled, {**VICTIM, "first_name": "Anne", "email": "anne@x.test"}, SYSTEM)
    bruno = rendering.render_email(
        compiled,
        {**VICTIM, "first_name": "Bruno", "email": "bruno@x.test"},
        {**SYSTEM, "unsubscribe_url": "https://relais.example/u/bruno"},
    )
    # then each gets their own name, in subject, HTML and text, and their own unsubscribe link
    assert anne.subject == "Anne, Braderie"
    assert bruno.subject == "Bruno, Braderie"
    assert "Bonjour Anne de Lille" in anne.html and "Bruno" not in anne.html
    assert "Bonjour Bruno de Lille" in bruno.html and "Anne" not in bruno.html
    assert "Bonjour Anne" in anne.text and "Bonjour Bruno" in bruno.text
    assert 'href="https://relais.example/u/bruno"' in bruno.html
    assert "https://relais.example/u/bruno" not in anne.html
    # and compiling the same variant again is a cache hit
    assert rendering.compile_email(merge_version, rendering.VariantContext(slot_values=values)) == compiled


@pytest.mark.parametrize(
    ("first_name", "escaped"),
    [
        ("<b>Bob</b>", "&lt;b&gt;Bob&lt;/b&gt;"),
        ('"><script>alert(1)</script>', "&lt;script&gt;"),
        ("{{ recipient.email }}", "&#123;&#123; recipient.email &#125;&#125;"),
        ("Tom & Jerry", "Tom &amp; Jerry"),
    ],
)
def test_recipient_values_are_escaped_in_html_and_literal_in_text(merge_version, first_name, escaped):
    values = services.slot_values_clean(version=merge_version, values={"headline": "Braderie"})
    compiled = rendering.compile_email(merge_version, rendering.VariantContext(slot_values=values))
    # when a recipient with markup in their name is rendered
    email = rendering.render_email(compiled, {**VICTIM, "first_name": first_name}, SYSTEM)
    # then the HTML shows it escaped, the text and subject literally, nothing expanded
    assert escaped in email.html
    assert first_name not in email.html
    assert_no_active_content(email.html)
    assert f"Bonjour {first_name} de Lille" in email.text
    assert email.subject == f"{first_name}, Braderie"
    assert VICTIM["email"] not in email.html + email.text + email.subject


def test_recipient_unsubscribe_url_is_attribute_escaped(merge_version):
    values = services.slot_values_clean(version=merge_version, values={"headline": "Braderie"})
    compiled = rendering.compile_email(merge_version, rendering.VariantContext(slot_values=values))
    email = rendering.render_email(
        compiled,
        VICTIM,
        {**SYSTEM, "unsubscribe_url": 'https://relais.example/u/x?a=1&b="><script>x</script>'},
    )
    assert_no_active_content(email.html)
    hrefs = [value for tag, name, value in scan(email.html).attributes if tag == "a" and name == "href"]
    assert 'https://relais.example/u/x?a=1&b="><script>x</script>' in hrefs


def test_email_css_is_inlined_and_a_text_alternative_exists(merge_version):
    values = services.slot_values_clean(version=merge_version, values={"headline": "Braderie"})
    compiled = rendering.compile_email(merge_version, rendering.VariantContext(slot_values=values))
    email = rendering.render_email(compiled, VICTIM, SYSTEM)
    styles = [
        value.replace(" ", "").lower() for _tag, name, value in scan(email.html).attributes if name == "style"
    ]
    # the mj-style rule and the MJML attributes end as style= attributes
    assert any("color:#ff0000" in style and "font-weight:bold" in style for style in styles)
    assert any("color:#123456" in style for style in styles)
    assert any("#abcdef" in style for style in styles)
    # and a plain-text alternative carries the content, without markup
    assert "Braderie" in email.text
    assert "Bonjour Victor de Lille" in email.text
    assert "<div" not in email.text and "<a " not in email.text
    assert "https://relais.example/u/tok-123" in email.text


def test_email_preheader_is_escaped(author):
    version = make_version(author, "email", body=EMAIL_BODY, subject="Offre", slots_=TEXT_SLOTS)
    version = services.draft_update(
        version=version, edited_by=author.users["head_office"], preheader="<script>alert(1)</script> & co"
    )
    compiled = rendering.compile_email(version, rendering.VariantContext())
    email = rendering.render_email(compiled, VICTIM, SYSTEM)
    assert_no_active_content(email.html)
    assert "&lt;script&gt;" in email.html
