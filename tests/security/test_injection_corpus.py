"""The injection corpus (tests/injection_payloads.py) through every field a branch manager or head
office can edit, by the pages (Django's test client, logged in with the right role) and by the API.

For every request: never a server error (the client does not raise; a 5xx is recorded). For every
output — the answer itself, the page or preview that then shows the value, the API's JSON, the
e-mail preview (a sandboxed ``srcdoc`` frame), the frozen proof, the MIME message, the SMS text and
the PDF text read back with pypdf:

* nothing executes: no ``<script>``, ``on*`` attribute or ``javascript:``/``vbscript:``/``data:``
  link of the payload's in an HTML page or in an e-mail whose value came from a branch; what head
  office writes as template source is its own HTML, shown only in a sandboxed frame (no
  ``allow-scripts``) or under a Content-Security-Policy with ``sandbox`` and ``default-src 'none'``;
* nothing is fetched outside the asset library: the payloads point at an HTTP server this module
  runs on loopback, which must receive no request, and at a marker file, whose content must never
  appear in any output (print previews and proofs are WeasyPrint PDFs);
* no secret (``SECRET_KEY``, the database password, secret-looking environment values) and no file
  content (``root:x:0:0``) in any output;
* every refusal is a 4xx or a form error.

The world is built once for the module (inside a transaction rolled back at the end); each test
runs in its own savepoint. The last test prints the figures.
"""

from __future__ import annotations

import base64
import csv
import email
import email.policy
import http.server
import io
import json
import os
import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import lxml.etree
import lxml.html
import pypdf
import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import Client, override_settings
from django.utils import timezone
from PIL import Image
from pypdf import PdfReader

from tests.conftest import World, build_world
from tests.injection_payloads import TOKEN, materialise

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()

EMAIL_BODY = """<mjml><mj-body><mj-section><mj-column>
<mj-text>{{ slot.headline }}</mj-text>
<mj-text>{{ slot.body }}</mj-text>
<mj-text>{{ slot.rich }}</mj-text>
<mj-button href="{{ slot.link }}">Voir</mj-button>
<mj-text>{{ slot.price }} {{ slot.price.conditions }}</mj-text>
<mj-text>Bonjour {{ recipient.first_name }} {{ recipient.last_name }}, {{ branch.name }} — {{ branch.address }}
{{ branch.postal_code }} {{ branch.city }} · {{ branch.phone }} · {{ branch.opening_hours }} · {{ branch.signature }}</mj-text>
<mj-text><a href="{{ branch.website_url }}">Site</a> <a href="{{ system.unsubscribe_url }}">Se désinscrire</a></mj-text>
</mj-column></mj-section></mj-body></mjml>"""
EMAIL_SLOTS = [
    {"name": "headline", "type": "short_text", "label": "Titre", "max_length": 200, "required": True, "default": "Titre"},
    {"name": "body", "type": "long_text", "label": "Texte", "max_length": 2000, "required": True, "default": "Texte"},
    {"name": "rich", "type": "rich_text", "label": "Mise en forme", "max_length": 4000, "required": False},
    {"name": "link", "type": "url", "label": "Lien", "required": False},
    {"name": "price", "type": "price", "label": "Prix", "required": False},
]
SMS_BODY = "{{ branch.name }} : {{ slot.message }} {{ slot.link }} {{ system.stop_mention }}"
SMS_SLOTS = [
    {"name": "message", "type": "long_text", "label": "Message", "max_length": 2000, "required": True, "default": "Promo"},
    {"name": "link", "type": "url", "label": "Lien", "required": False},
]
PRINT_BODY = ("<h1>{{ slot.headline }}</h1><p>{{ slot.body }}</p><div>{{ slot.rich }}</div>"
              "<p>{{ branch.name }} {{ branch.address }} {{ branch.city }} {{ branch.opening_hours }} "
              "{{ branch.signature }}</p><p>{{ recipient.first_name }} {{ recipient.last_name }}</p>")
PRINT_SLOTS = [
    {"name": "headline", "type": "short_text", "label": "Titre", "max_length": 200, "required": True, "default": "Titre"},
    {"name": "body", "type": "long_text", "label": "Texte", "max_length": 2000, "required": False},
    {"name": "rich", "type": "rich_text", "label": "Mise en forme", "max_length": 4000, "required": False},
]
#: A valid e-mail source with one place for a payload.
EMAIL_SKELETON = ("<mjml><mj-body><mj-section><mj-column><mj-text>{payload}</mj-text>"
                  "<mj-text><a href=\"{{{{ system.unsubscribe_url }}}}\">Se désinscrire</a></mj-text>"
                  "</mj-column></mj-section></mj-body></mjml>")
#: How many payloads one print rendering holds (a PDF costs a forked WeasyPrint run).
PRINT_BATCH = 40
#: RELAIS_INJECTION_FULL=1 sends every payload into every field (several minutes). By default each
#: group of fields gets the core payloads (one or more of every family) and its own share of the
#: rest (every STRIDE-th, from an offset of its own), so that the module stays near a minute and
#: every payload goes through at least one group (the figures printed say how many).
FULL = os.environ.get("RELAIS_INJECTION_FULL") == "1"
STRIDE = 1 if FULL else 16  # 16 offsets for 17 groups of fields (the 17th shares the 1st's): by default each payload goes to one or more
CORE = (
    "<script>alert('RLX')</script>", "<img src=x onerror=alert('RLX')>", "javascript:alert('RLX')",
    "<a href=\"&#106;avascript:alert('RLX')\">clic</a>", "{{ settings.SECRET_KEY }}", "{% include \"/etc/passwd\" %}",
    "{% load log %}{% get_admin_log 10 as log %}{{ log }}", "null\x00byte", "Soldes\r\nBcc: victim@example.com",
    "Soldes\rBcc: victim@example.com", "A" * 100_000,
)

URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "poster", "background", "codebase", "srcdoc",
                  "xlink:href", "{http://www.w3.org/1999/xlink}href", "dynsrc", "lowsrc"}
BAD_SCHEMES = ("javascript:", "vbscript:", "data:text", "data:application", "data:image/svg", "file:")
ACTIVE_TAGS = {"script", "iframe", "object", "embed", "base", "link", "meta", "applet", "frame", "frameset"}


# --------------------------------------------------------------------------------------------
# The figures, the loopback server, the marker file
# --------------------------------------------------------------------------------------------


@dataclass
class Tally:
    payloads: int = 0
    fields: set[str] = field(default_factory=set)
    requests: int = 0
    refusals: int = 0
    accepted: int = 0
    contained: int = 0  # head office's own source, accepted and shown sandboxed
    outputs: int = 0
    pdfs: int = 0
    mime_messages: int = 0
    sent: dict[str, int] = field(default_factory=dict)  # payload → how many field groups it went into
    groups: int = 0  # field groups that picked their payloads
    failures: list[str] = field(default_factory=list)


TALLY = Tally()


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []
    body = b""

    def do_GET(self):
        type(self).hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(type(self).body)

    do_POST = do_HEAD = do_GET

    def log_message(self, *args) -> None:
        pass


@dataclass
class Environment:
    port: int
    hits: list[str]
    fetched_marker: str
    marker_path: str
    marker_text: str
    secrets: dict[str, str]
    payloads: list[tuple[str, str]]


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Iterator[Environment]:
    """The loopback server (answers a marker any fetch would carry into an output), the marker
    file, the secrets no output may show, and the corpus with its placeholders filled."""
    handler = type("Recorder", (_Recorder,), {"hits": [], "body": f"RLXFETCHED{secrets.token_hex(6)}".encode()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    directory = tmp_path_factory.mktemp("marker")
    marker_text = f"RLXFILE{secrets.token_hex(6)}"
    marker = directory / "marker.css"
    marker.write_text(f'h1::after {{ content: "{marker_text}" }} body::before {{ content: "{marker_text}" }}\n'
                      f"/* {marker_text} */")
    hidden = {"SECRET_KEY": settings.SECRET_KEY, "/etc/passwd": "root:x:0:0", "marker file": marker_text,
              "loopback answer": handler.body.decode()}
    hidden |= {f"identity {name}": value for name, value in IDENTITY_SECRETS.items()}
    password = settings.DATABASES["default"].get("PASSWORD")
    if password:
        hidden["database password"] = password
    for name, value in os.environ.items():
        if re.search(r"SECRET|PASSWORD|TOKEN|_KEY", name) and len(value) >= 8:
            hidden[f"${name}"] = value
    try:
        yield Environment(port=server.server_address[1], hits=handler.hits, fetched_marker=handler.body.decode(),
                          marker_path=str(marker), marker_text=marker_text, secrets=hidden,
                          payloads=materialise(server.server_address[1], str(marker)))
    finally:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------------------------
# The world: two networks, every role; published e-mail, SMS and print templates with slots of
# every free type; drafts for head office; an operation N1 joined (three campaigns).
# --------------------------------------------------------------------------------------------


#: The sending identity's secrets of network beta (set in the scene): no output may show them.
IDENTITY_SECRETS = {name: ("relais:" if name == "webhook_secret" else "") + f"RLXID{name.upper()}{secrets.token_hex(6)}"
                    for name in ("email_secret", "webhook_secret", "sms_secret", "webhook_signing_key")}


@dataclass
class Scene:
    world: World
    email: object
    sms: object
    print: object
    drafts: dict[str, object]
    campaigns: dict[str, object]
    operation: object


@pytest.fixture(scope="module")
def scene(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[Scene]:
    from central.calendar.services import participation_answer
    from central.identity.services import identity_save
    from central.models import Campaign
    from templates_lib import services as template_services
    from tests.planning import plan

    media = override_settings(MEDIA_ROOT=str(tmp_path_factory.mktemp("media")))
    media.enable()
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            world = build_world()
            head_office = world.users["head_office"]
            identity_save(network=world.networks["beta"], saved_by=world.users["other_network_head_office"],
                          data={"from_local_part": "offres", "from_domain": "beta-mail.test", "smtp_host": "127.0.0.1",
                                "smtp_username": "beta", "sms_provider": "twilio", "sms_account": "AC1",
                                "sms_sender": "Beta"}, new_secrets=IDENTITY_SECRETS)

            def published(kind: str, name: str, **content) -> object:
                template = template_services.template_create(network=world.networks["alpha"], kind=kind, name=name,
                                                             created_by=head_office)
                draft = template.versions.get()
                template_services.draft_update(version=draft, edited_by=head_office, **content)
                return template_services.version_publish(version=draft, published_by=head_office)

            email_version = published("email", "Lettre injection", subject="{{ slot.headline }}", body=EMAIL_BODY,
                                      slots=EMAIL_SLOTS)
            sms_version = published("sms", "SMS injection", body=SMS_BODY, slots=SMS_SLOTS)
            print_version = published("print", "Flyer injection", body=PRINT_BODY, slots=PRINT_SLOTS)
            drafts = {
                kind: template_services.template_create(network=world.networks["alpha"], kind=kind,
                                                        name=f"Brouillon {kind}", created_by=head_office).versions.get()
                for kind in ("email", "sms", "print")
            }
            operation = plan(world, versions=[email_version, sms_version, print_version],
                             channels=["email", "sms", "post"])
            n1 = world.nodes["N1"]
            for external_id, fields in (("N1-sms", {"mobile": "0611111111", "consent_sms": "granted"}),
                                        ("N1-post", {"address_line1": "1 rue Nationale", "postal_code": "59000",
                                                     "city": "Lille", "consent_post": "granted"})):
                n1.customers.create(network=n1.network, external_id=external_id, last_name="Client", **fields)
            participation_answer(operation=operation, branch=n1, status="joined",
                                 answered_by=world.users["branch_manager"])
            campaigns = {campaign.template_version.template.kind: campaign
                         for campaign in Campaign.objects.filter(operation=operation, branch=world.nodes["N1"])}
            assert set(campaigns) == {"email", "sms", "print"}
            yield Scene(world=world, email=email_version, sms=sms_version, print=print_version, drafts=drafts,
                        campaigns=campaigns, operation=operation)
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            media.disable()


# --------------------------------------------------------------------------------------------
# Sending and checking
# --------------------------------------------------------------------------------------------


def _pdf_text(data: bytes) -> str:
    """The PDF's text (pypdf); a page of 100,000 characters is a longer array than pypdf's default
    limit allows."""
    with pypdf.apply_configuration(array_maximum_element_count=10_000_000,
                                   stream_parsing_work_maximum_count=50_000_000):
        reader = PdfReader(io.BytesIO(data))
        return "\n".join(page.extract_text() or "" for page in reader.pages)


def live_content(document: str) -> list[str]:
    """What could run in ``document`` (HTML) because of a payload: a script, handler, frame or
    link of the payload's (the token ``RLX``), or any link with a script or data scheme."""
    root = _parse(document)
    if root is None:
        return []
    problems = []
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        tag = element.tag.lower()
        attributes = {str(name).lower(): value for name, value in element.attrib.items()}
        everything = (element.text or "") + " ".join(value for name, value in attributes.items() if name != "srcdoc")
        if tag in ACTIVE_TAGS and TOKEN in everything:
            problems.append(f"<{tag}> {everything[:80]!r}")
        if tag == "meta" and "refresh" in attributes.get("http-equiv", "").lower():
            problems.append(f"<meta refresh> {attributes.get('content', '')[:80]!r}")
        for name, value in attributes.items():
            if name.startswith("on") and (TOKEN in value or "alert" in value):
                problems.append(f"{name}= {value[:80]!r}")
            if name in URL_ATTRIBUTES and name != "srcdoc":
                normalised = re.sub(r"[\x00-\x20]+", "", value).lower()
                if normalised.startswith(BAD_SCHEMES):
                    problems.append(f"{name}= {value[:80]!r}")
            if name == "style" and "expression(" in value.lower():
                problems.append(f"style= {value[:80]!r}")
        if tag == "iframe" and "srcdoc" in attributes:
            sandbox = attributes.get("sandbox")
            if sandbox is None or "allow-scripts" in sandbox or "allow-same-origin" in sandbox:
                problems.append(f"iframe srcdoc without a strict sandbox ({sandbox!r})")
    return problems


def _parse(document: str):
    """The document's tree as a browser would build it, or None for an empty one."""
    if not document.strip():
        return None
    try:
        return lxml.html.fromstring(document)
    except ValueError:  # a string declaring its own encoding
        return lxml.html.fromstring(document.encode("utf-8"))
    except lxml.etree.ParserError:  # nothing but whitespace or comments
        return None


def srcdocs(document: str) -> list[str]:
    root = _parse(document)
    if root is None:
        return []
    return [frame.get("srcdoc") for frame in root.iter("iframe") if frame.get("srcdoc") is not None]


class Probe:
    """Sends one payload into one or more fields and checks every output it gives."""

    def __init__(self, env: Environment, scene: Scene) -> None:
        self.env = env
        self.scene = scene
        self.clients: dict[str, Client] = {}

    def client(self, actor: str) -> Client:
        if actor not in self.clients:
            client = Client(raise_request_exception=False)
            if actor != "anonymous":
                client.force_login(self.scene.world.users[actor])
            self.clients[actor] = client
        return self.clients[actor]

    def fields(self, *names: str) -> None:
        TALLY.fields.update(names)

    def fail(self, label: str, payload: str, problem: str) -> None:
        TALLY.failures.append(f"{label} ← {payload[:70]!r}: {problem}")

    def send(self, actor: str, method: str, path: str, label: str, payload: str, *, data=None, json_body=None,
             **extra):
        client = self.client(actor)
        if json_body is not None:
            response = getattr(client, method)(path, json.dumps(json_body), content_type="application/json", **extra)
        elif data is not None:
            response = getattr(client, method)(path, data, **extra)
        else:
            response = getattr(client, method)(path, **extra)
        TALLY.requests += 1
        if response.status_code == 400 and response.get("Content-Type", "").startswith("application/json") \
                and not response.json():
            self.fail(label, payload, f"{method.upper()} {path} answered 400 without saying why")
        if response.status_code >= 500:
            exc = getattr(response, "exc_info", None)
            self.fail(label, payload, f"{method.upper()} {path} answered {response.status_code}"
                      + (f" ({exc[0].__name__}: {str(exc[1])[:200]})" if exc else ""))
        return response

    def form_outcome(self, response, payload: str) -> bool:
        """A page's answer to a form: saved (a redirect) or refused, and then saying why."""
        accepted = not form_refused(response)
        if not accepted and response.status_code < 500:
            body = response.content.decode("utf-8", "replace")
            if not any(mark in body for mark in ("invalid-feedback", "errorlist", "alert-danger", "text-danger",
                                                  'role="alert"')):
                self.fail(response.request["PATH_INFO"], payload,
                          f"refused ({response.status_code}) without an error shown")
        self.outcome(accepted)
        return accepted

    def outcome(self, accepted: bool) -> None:
        if accepted:
            TALLY.accepted += 1
        else:
            TALLY.refusals += 1

    # --- checks -------------------------------------------------------------------------------

    def leaks(self, label: str, payload: str, text: str) -> None:
        TALLY.outputs += 1
        for name, value in self.env.secrets.items():
            if value and value in text:
                self.fail(label, payload, f"the output shows {name}")

    def html(self, label: str, payload: str, document: str, *, authored: bool = False,
             sandboxed: bool = False) -> None:
        """An HTML page or e-mail. ``authored``: it shows head office's own template source, which
        may hold active content but only inside a sandboxed frame; ``sandboxed``: the document is
        that source itself, served under a sandboxing Content-Security-Policy (checked by the caller)."""
        self.leaks(label, payload, document)
        problems = [] if sandboxed else live_content(document)
        for frame in srcdocs(document):
            if not authored:
                problems += [f"in the e-mail preview: {problem}" for problem in live_content(frame)]
        for problem in problems:
            self.fail(label, payload, problem)

    def response(self, label: str, payload: str, response, *, authored: bool = False, sandboxed: bool = False) -> None:
        content_type = response.get("Content-Type", "")
        if content_type.startswith("application/pdf"):
            TALLY.pdfs += 1
            self.leaks(label, payload, _pdf_text(response.content))
        elif content_type.startswith("application/json"):
            text = response.content.decode("utf-8", "replace")
            self.leaks(label, payload, text)
            data = response.json()
            for key, value in _walk(data):
                if key == "html" and isinstance(value, str) and not authored:
                    for problem in live_content(value):
                        self.fail(label, payload, f"API html: {problem}")
                if key == "pdf_base64" and isinstance(value, str):
                    TALLY.pdfs += 1
                    self.leaks(label, payload, _pdf_text(base64.b64decode(value)))
        elif content_type.startswith("text/html"):
            self.html(label, payload, response.content.decode("utf-8", "replace"), authored=authored,
                      sandboxed=sandboxed)
        elif response.status_code not in (301, 302, 303, 204):
            self.leaks(label, payload, response.content.decode("utf-8", "replace"))

    def follow(self, actor: str, response, label: str, payload: str, *, authored: bool = False):
        """After a redirect (a saved form), the page it leads to, checked."""
        location = response["Location"]
        page = self.send(actor, "get", location, label, payload)
        self.response(label, payload, page, authored=authored)
        return page


def picked(env: Environment, key: int) -> list[tuple[str, str]]:
    """The payloads one group of fields gets: all of them (full mode), else every STRIDE-th from
    an offset of the group's own."""
    chosen = env.payloads if FULL else [
        (category, payload) for index, (category, payload) in enumerate(env.payloads)
        if index % STRIDE == key % STRIDE or payload in CORE]
    for _category, payload in chosen:
        TALLY.sent[payload] = TALLY.sent.get(payload, 0) + 1
    TALLY.groups += 1
    return chosen


def _walk(data, key=None):
    if isinstance(data, dict):
        for name, value in data.items():
            yield from _walk(value, name)
    elif isinstance(data, list):
        for value in data:
            yield from _walk(value, key)
    else:
        yield key, data


@pytest.fixture
def probe(env, scene) -> Iterator[Probe]:
    """A probe for one test; the test fails on any problem it recorded (all are listed)."""
    from django.core.cache import cache

    cache.clear()  # sign-up rate memory, previews
    start = len(TALLY.failures)
    yield Probe(env, scene)
    found = TALLY.failures[start:]
    if found:
        pytest.fail(f"{len(found)} problems:\n" + "\n".join(found[:30]), pytrace=False)


def form_refused(response) -> bool:
    """A page answered with its form again (errors shown) instead of redirecting."""
    return response.status_code != 302


def packed(items: list[tuple[str, str]], limit: int, most: int) -> Iterator[list[tuple[str, str]]]:
    """The payloads in batches of at most ``most`` and ``limit`` characters joined (a longer one
    alone): one rendering checks a whole batch."""
    batch: list[tuple[str, str]] = []
    size = 0
    for item in items:
        if batch and (size + len(item[1]) + 1 > limit or len(batch) == most):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += len(item[1]) + 1
    if batch:
        yield batch


def png(name: str = "image.png") -> io.BytesIO:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "PNG")
    buffer.seek(0)
    buffer.name = name
    return buffer


# --------------------------------------------------------------------------------------------
# Template library: head office
# --------------------------------------------------------------------------------------------


def test_template_name_and_description(probe, env, scene):
    network = scene.world.networks["alpha"]
    probe.fields("form: template.name", "form: template.description", "api: template.name",
                 "api: template.description")
    for _category, payload in picked(env, 1):
        response = probe.send("head_office", "post", "/templates/new/", "template create (form)", payload,
                              data={"network": network.pk, "kind": "sms", "name": payload, "description": payload})
        probe.form_outcome(response, payload)
        probe.response("template create (form)", payload, response)
        if response.status_code == 302:
            probe.follow("head_office", response, "template create (form) → draft page", payload)
        api = probe.send("head_office", "post", "/api/v1/templates/create/", "template create (API)", payload,
                         json_body={"network": "alpha", "kind": "sms", "name": payload, "description": payload})
        probe.outcome(api.status_code == 201)
        probe.response("template create (API)", payload, api)
    page = probe.send("head_office", "get", "/templates/", "template list", "")
    probe.response("template list", "(all)", page)
    listed = probe.send("branch_manager", "get", "/api/v1/templates/", "template list (API)", "")
    probe.response("template list (API)", "(all)", listed)


def _draft_form(version, **fields) -> dict:
    data = {"subject": version.subject, "preheader": version.preheader, "body": version.body, "css": version.css,
            "print_format": version.print_format or "a5_portrait",
            "slots-TOTAL_FORMS": "1", "slots-INITIAL_FORMS": "1", "slots-MIN_NUM_FORMS": "0",
            "slots-MAX_NUM_FORMS": "30", "slots-0-name": "headline", "slots-0-type": "short_text",
            "slots-0-label": "Titre", "slots-0-required": "on", "slots-0-max_length": "80",
            "slots-0-default": "Bonjour"}
    return data | fields


def _preview_refused(response) -> bool:
    body = response.content.decode("utf-8", "replace")
    return response.status_code >= 400 or 'role="alert"' in body


def test_email_source_subject_and_preheader(probe, env, scene):
    """Head office's e-mail draft: the live preview (form) and the API (save, check, preview)."""
    draft = scene.drafts["email"]
    url = f"/templates/versions/{draft.public_id}/"
    api = f"/api/v1/template-versions/{draft.public_id}/"
    probe.fields("form: version.subject", "form: version.preheader", "form: version.body (MJML)",
                 "api: version.subject", "api: version.preheader", "api: version.body (MJML)")
    for _category, payload in picked(env, 2):
        source = EMAIL_SKELETON.format(payload=payload)
        for label, fields in (("e-mail subject+preheader (form preview)", {"subject": payload, "preheader": payload}),
                              ("e-mail MJML (form preview)", {"body": source})):
            response = probe.send("head_office", "post", url + "preview/", label, payload,
                                  data=_draft_form(draft, **fields))
            refused = _preview_refused(response)
            probe.outcome(not refused)
            probe.response(label, payload, response, authored="body" in fields)
            if not refused and "body" in fields:
                TALLY.contained += 1
        plain = EMAIL_SKELETON.format(payload="Bonjour")
        for label, body in (("e-mail subject+preheader (API)", {"subject": payload, "preheader": payload,
                                                               "body": plain}),
                            ("e-mail MJML (API)", {"body": source, "subject": "Objet"})):
            saved = probe.send("head_office", "patch", api, label, payload, json_body=body)
            probe.outcome(saved.status_code == 200)
            probe.response(label, payload, saved, authored=True)
            if saved.status_code == 200:
                preview = probe.send("head_office", "post", api + "preview/", label + " → preview", payload,
                                     json_body={"slot_values": {}})
                probe.response(label + " → preview", payload, preview, authored="body" in body)
    page = probe.send("head_office", "get", url + "edit/", "e-mail draft page", "")
    probe.response("e-mail draft page", "(last saved)", page)


def test_sms_source(probe, env, scene):
    draft = scene.drafts["sms"]
    url = f"/templates/versions/{draft.public_id}/"
    api = f"/api/v1/template-versions/{draft.public_id}/"
    probe.fields("form: version.body (SMS)", "api: version.body (SMS)")
    for _category, payload in picked(env, 3):
        body = payload + " {{ system.stop_mention }}"
        response = probe.send("head_office", "post", url + "preview/", "SMS source (form preview)", payload,
                              data=_draft_form(draft, body=body))
        probe.outcome(not _preview_refused(response))
        probe.response("SMS source (form preview)", payload, response)
        saved = probe.send("head_office", "patch", api, "SMS source (API)", payload, json_body={"body": body})
        probe.outcome(saved.status_code == 200)
        probe.response("SMS source (API)", payload, saved)
        if saved.status_code == 200:
            preview = probe.send("head_office", "post", api + "preview/", "SMS source (API) → preview", payload,
                                 json_body={"slot_values": {}})
            probe.response("SMS source (API) → preview", payload, preview)


def test_print_source_and_css_fetch_nothing(probe, env, scene):
    """Head office's print HTML and CSS, many payloads per rendering: the PDF shows no file and
    no secret, and the loopback server gets no request (checked at the end of the module)."""
    draft = scene.drafts["print"]
    url = f"/templates/versions/{draft.public_id}/"
    api = f"/api/v1/template-versions/{draft.public_id}/"
    probe.fields("form: version.body (print HTML)", "form: version.css (print)", "api: version.body (print HTML)",
                 "api: version.css (print)")
    for number, batch in enumerate(packed(env.payloads, 20_000, PRINT_BATCH)):
        joined = "\n".join(payload for _category, payload in batch)
        shown = f"{len(batch)} payloads from {batch[0][1][:30]!r}"
        fields_sent = [("print HTML (form preview)", {"body": "<h1>{{ slot.headline }}</h1>\n" + joined})]
        if len(joined) < 20_000 or FULL:  # an oversize value once is enough (each costs a rendering)
            fields_sent.append(("print CSS (form preview)", {"css": joined}))
        for label, fields in fields_sent:
            response = probe.send("head_office", "post", url + "preview/", label, shown,
                                  data=_draft_form(draft, **fields))
            refused = _preview_refused(response)
            probe.outcome(not refused)
            probe.response(label, shown, response, authored=True)
            token = re.search(r"/templates/preview/([\w-]+)\.pdf", response.content.decode())
            if token:
                pdf = probe.send("head_office", "get", f"/templates/preview/{token.group(1)}.pdf", label + " → PDF",
                                 shown)
                probe.response(label + " → PDF", shown, pdf)
                TALLY.contained += 1
        saved = probe.send("head_office", "patch", api, "print HTML+CSS (API)", shown,
                           json_body={"body": "<p>{{ slot.headline }}</p>\n" + joined, "css": joined})
        probe.outcome(saved.status_code == 200)
        probe.response("print HTML+CSS (API)", shown, saved, authored=True)
        if saved.status_code == 200 and (FULL or number == 0):
            preview = probe.send("head_office", "post", api + "preview/", "print (API) → PDF", shown,
                                 json_body={"slot_values": {}})
            probe.response("print (API) → PDF", shown, preview)


def test_slot_definitions(probe, env, scene):
    """Slot labels, help texts, defaults and choices (form preview, API), then shown to branches."""
    from templates_lib import services as template_services

    draft = scene.drafts["email"]
    url = f"/templates/versions/{draft.public_id}/"
    api = f"/api/v1/template-versions/{draft.public_id}/"
    probe.fields("form: slot.label", "form: slot.help_text", "form: slot.default", "api: slot.label", "api: slot.help_text", "api: slot.default", "api: slot.choices")
    for _category, payload in picked(env, 4):
        data = _draft_form(draft, **{"slots-0-label": payload, "slots-0-help_text": payload,
                                     "slots-0-default": payload})
        response = probe.send("head_office", "post", url + "preview/", "slot definition (form preview)", payload,
                              data=data)
        probe.outcome(not _preview_refused(response))
        probe.response("slot definition (form preview)", payload, response)
        slots = [{"name": "headline", "type": "short_text", "label": payload, "help_text": payload,
                  "default": payload, "max_length": 200},
                 {"name": "pick", "type": "choice", "label": "Choix", "choices": [payload, "B"]}]
        saved = probe.send("head_office", "patch", api, "slot definition (API)", payload,
                           json_body={"slots": slots, "body": EMAIL_SKELETON.format(payload="{{ slot.headline }}")})
        probe.outcome(saved.status_code == 200)
        probe.response("slot definition (API)", payload, saved)
        if saved.status_code == 200 and "\x00" in payload:
            probe.fail("slot definition (API)", payload, "a NUL was stored: PostgreSQL's JSON refuses it (a 500 there)")
        if saved.status_code == 200:
            page = probe.send("head_office", "get", url + "edit/", "slot definition (API) → draft page", payload)
            probe.response("slot definition (API) → draft page", payload, page)
    # One published version whose slot texts are hostile, as a branch sees it (try page, campaign editor).
    hostile = "<script>alert('RLX')</script><img src=x onerror=alert('RLX')>{{ settings.SECRET_KEY }}"
    template = template_services.template_create(network=scene.world.networks["alpha"], kind="sms", name="Hostile",
                                                 created_by=scene.world.users["head_office"])
    version = template.versions.get()
    template_services.draft_update(version=version, edited_by=scene.world.users["head_office"], slots=[
        {"name": "headline", "type": "short_text", "label": hostile[:80], "help_text": hostile, "default": "Promo"},
        {"name": "pick", "type": "choice", "label": hostile[:80], "choices": [hostile, "B"], "required": False}])
    template_services.version_publish(version=version, published_by=scene.world.users["head_office"])
    page = probe.send("branch_manager", "get", f"/templates/{template.public_id}/try/", "hostile slot texts → try",
                      hostile)
    assert page.status_code == 200
    probe.response("hostile slot texts → try page", hostile, page)


def test_content_rules(probe, env, scene):
    probe.fields("form: rules.forbidden_patterns", "form: rules.allowed_link_domains", "form: rules.sms_stop_mention")
    for _category, payload in picked(env, 5):
        response = probe.send("head_office", "post", "/templates/rules/", "content rules (form)", payload, data={
            "forbidden_patterns": payload, "allowed_link_domains": payload, "sms_stop_mention": "STOP " + payload})
        probe.form_outcome(response, payload)
        probe.response("content rules (form)", payload, response)
        if response.status_code == 302:
            probe.follow("head_office", response, "content rules (form) → page", payload)
        only_mention = probe.send("head_office", "post", "/templates/rules/", "SMS stop mention (form)", payload,
                                  data={"forbidden_patterns": "", "allowed_link_domains": "",
                                        "sms_stop_mention": "STOP " + payload})
        probe.form_outcome(only_mention, payload)
        if only_mention.status_code == 302:
            preview = probe.send("head_office", "post", f"/api/v1/template-versions/{scene.sms.public_id}/preview/",
                                 "SMS stop mention → SMS preview", payload, json_body={"slot_values": {}})
            probe.response("SMS stop mention → SMS preview", payload, preview)


def test_assets(probe, env, scene):
    """Image names, tags and file names (form and API), and an SVG carrying script."""
    network = scene.world.networks["alpha"]
    probe.fields("form: asset.name", "form: asset.tags", "form: asset file name", "api: asset.name",
                 "api: asset.tags", "api: asset file name")
    for _category, payload in picked(env, 6):
        response = probe.send("head_office", "post", "/templates/assets/", "asset upload (form)", payload, data={
            "network": network.pk, "name": payload, "tags": payload, "file": png(payload[:200] + ".png")})
        probe.form_outcome(response, payload)
        probe.response("asset upload (form)", payload, response)
        api = probe.send("head_office", "post", "/api/v1/assets/upload/", "asset upload (API)", payload, data={
            "network": "alpha", "name": payload, "tags": payload, "file": png(payload[:200] + ".png")})
        probe.outcome(api.status_code == 201)
        probe.response("asset upload (API)", payload, api)
        if api.status_code == 201:
            stored = api.json()["url"]
            prefix = settings.RELAIS_BASE_URL.rstrip("/") + settings.MEDIA_URL + "assets/"
            parts = stored[len(prefix):].split("/")
            if not stored.startswith(prefix) or any(part in ("", ".", "..") for part in parts) or "\x00" in stored:
                probe.fail("asset upload (API)", payload, f"stored outside the asset library: {stored!r}")
    for name, content in (("evil.svg", b"<svg xmlns='http://www.w3.org/2000/svg' onload=\"alert('RLX')\">"
                                       b"<script>alert('RLX')</script></svg>"),
                          ("evil.png", b"<svg xmlns='http://www.w3.org/2000/svg' onload=\"alert('RLX')\"/>"),
                          ("evil.gif", b"GIF89a<script>alert('RLX')</script>")):
        probe.fields("form: asset file (SVG/polyglot)", "api: asset file (SVG/polyglot)")
        upload = io.BytesIO(content)
        upload.name = name
        refused = probe.send("head_office", "post", "/api/v1/assets/upload/", "SVG upload (API)", name,
                             data={"network": "alpha", "file": upload})
        assert refused.status_code == 400, name
        probe.outcome(False)
        upload.seek(0)
        page = probe.send("head_office", "post", "/templates/assets/", "SVG upload (form)", name,
                          data={"network": network.pk, "file": upload})
        assert form_refused(page), name
        probe.outcome(False)
    for actor, path in (("head_office", "/templates/assets/"), ("branch_manager", "/api/v1/assets/"),
                        ("head_office", "/api/v1/assets/?q=script")):
        listed = probe.send(actor, "get", path, "asset list", "(all)")
        probe.response("asset list", "(all)", listed)


# --------------------------------------------------------------------------------------------
# Branch side: slot values of the three campaigns, the try page, the API preview
# --------------------------------------------------------------------------------------------


def _campaign_form(campaign, **slots) -> dict:
    return {"send_date": campaign.send_date.isoformat(), **slots}


def test_email_campaign_slot_values(probe, env, scene):
    """N1 types each payload into every slot of its e-mail campaign: live preview (form), save
    (API), the page with its history, and the e-mail as the proof and the MIME message hold it."""
    campaign = scene.campaigns["email"]
    url = f"/network/campaigns/{campaign.public_id}/"
    api = f"/api/v1/campaigns/{campaign.public_id}/"
    probe.fields("form: campaign.slot headline", "form: campaign.slot body", "form: campaign.slot rich",
                 "form: campaign.slot link", "form: campaign.slot price conditions",
                 "api: campaign.slot headline", "api: campaign.slot body", "api: campaign.slot rich",
                 "api: campaign.slot link", "api: campaign.slot price")
    for index, (_category, payload) in enumerate(picked(env, 7)):
        texts = {"headline": payload, "body": payload, "rich": payload, "price__amount": "12",
                 "price__currency": "EUR", "price__conditions": payload}
        for label, slots in (("e-mail campaign text slots (live preview)", texts),
                             ("e-mail campaign link slot (live preview)", {"headline": "Titre", "body": "Texte",
                                                                            "link": payload})):
            response = probe.send("branch_manager", "post", url, label, payload, data=_campaign_form(campaign, **slots),
                                  HTTP_HX_REQUEST="true")
            probe.outcome(not _preview_refused(response))
            probe.response(label, payload, response)
        for label, values in (("e-mail campaign text slots (API)", {"headline": payload, "body": payload,
                                                                    "rich": payload,
                                                                    "price": {"amount": "5", "conditions": payload}}),
                              ("e-mail campaign link slot (API)", {"link": payload})):
            saved = probe.send("branch_manager", "patch", api, label, payload, json_body={"slot_values": values})
            probe.outcome(saved.status_code == 200)
            probe.response(label, payload, saved)
            if saved.status_code == 200:
                _email_outputs(probe, campaign)
        if index % 25 == 0:
            page = probe.send("branch_manager", "get", url, "e-mail campaign page", payload)
            probe.response("e-mail campaign page (history, preview)", payload, page)


def _email_outputs(probe: Probe, campaign) -> None:
    """The e-mail of the last saved values as the dispatch builds it (MIME, parsed back) and as
    the proof freezes it (viewer, frozen content, API)."""
    from central.delivery import content
    from central.models import Campaign, Delivery
    from templates_lib import rendering

    campaign = Campaign.objects.get(pk=campaign.pk)
    customer = probe.scene.world.customers["N1"]
    compiled = rendering.compile_email(campaign.template_version, content.variant_context(campaign))
    delivery = Delivery(campaign=campaign, customer=customer, channel="email", token=secrets.token_urlsafe(16))
    _messages_built(probe, "e-mail campaign → MIME", str(campaign.slot_values)[:60], campaign, delivery, compiled)


def _messages_built(probe: Probe, label: str, payload: str, campaign, delivery, compiled) -> None:
    """The delivery's e-mail both ways the dispatch builds it — the fast MIME builder (SMTP) and
    Django's message (django-anymail's backends) — parsed back and checked."""
    from central.delivery import content

    for way, build in (("SMTP", lambda: content.PrebuiltEmail(content.email_content(campaign, delivery, compiled)).raw),
                       ("Django", lambda: content.email_message(campaign, delivery, compiled).message().as_bytes())):
        try:
            raw = build()
        except Exception as error:  # any error here is a message that cannot be sent
            probe.fail(f"{label} ({way})", payload, f"the e-mail cannot be built: {type(error).__name__}: {error}")
        else:
            _mime_check(probe, f"{label} ({way})", payload, raw, campaign)


def _mime_check(probe: Probe, label: str, payload: str, raw: bytes, campaign) -> None:
    TALLY.mime_messages += 1
    message = email.message_from_bytes(raw, policy=email.policy.default)
    for header in ("Bcc", "X-Injected", "Cc"):
        if message[header] is not None:
            probe.fail(label, payload, f"injected header {header}: {message[header]!r}")
    if len(message.get_all("To") or []) != 1 or len(message.get_all("Subject") or []) != 1:
        probe.fail(label, payload, "the message does not have exactly one To and one Subject")
    html_part, text_part = message.get_body(("html",)), message.get_body(("plain",))
    text = text_part.get_content() if text_part else ""
    if html_part:
        probe.html(label, payload, html_part.get_content())
    probe.leaks(label, payload, text + str(message["Subject"]) + str(message["From"]))


def test_sms_campaign_slot_values(probe, env, scene):
    campaign = scene.campaigns["sms"]
    url = f"/network/campaigns/{campaign.public_id}/"
    api = f"/api/v1/campaigns/{campaign.public_id}/"
    probe.fields("form: campaign.slot SMS message", "form: campaign.slot SMS link", "api: campaign.slot SMS message",
                 "api: campaign.slot SMS link")
    for _category, payload in picked(env, 8):
        response = probe.send("branch_manager", "post", url, "SMS campaign (live preview)", payload,
                              data=_campaign_form(campaign, message=payload, link=""), HTTP_HX_REQUEST="true")
        probe.outcome(not _preview_refused(response))
        probe.response("SMS campaign (live preview)", payload, response)
        for label, values in (("SMS campaign message (API)", {"message": payload}),
                              ("SMS campaign link (API)", {"message": "Promo", "link": payload})):
            saved = probe.send("branch_manager", "patch", api, label, payload, json_body={"slot_values": values})
            probe.outcome(saved.status_code == 200)
            probe.response(label, payload, saved)
        preview = probe.send("branch_manager", "post", f"/api/v1/template-versions/{scene.sms.public_id}/preview/",
                             "SMS template preview (API)", payload, json_body={"slot_values": {"message": payload}})
        probe.outcome(preview.status_code == 200)
        probe.response("SMS template preview (API)", payload, preview)
        if preview.status_code == 200 and "\r" in preview.json()["text"]:
            probe.fail("SMS text", payload, "a carriage return reached the SMS text")


def test_print_campaign_slot_values_fetch_nothing(probe, env, scene):
    """N1's print campaign, many payloads per rendering (the slots' lengths allow): the preview
    PDF (form and API) and a frozen print proof hold no file, no secret, fetched nothing."""
    from approvals.services import proof_request
    from central.models import Campaign

    campaign = scene.campaigns["print"]
    url = f"/network/campaigns/{campaign.public_id}/"
    probe.fields("form: campaign.slot print headline", "form: campaign.slot print body",
                 "form: campaign.slot print rich", "api: template preview print slots")
    singles = [payload for _category, payload in env.payloads if len(payload) > 150 or "\x00" in payload]
    for payload in singles:  # refused alone (too long, control characters): no rendering needed
        response = probe.send("branch_manager", "post", url, "print campaign (live preview)", payload,
                              data=_campaign_form(campaign, headline=payload, body=payload, rich=payload),
                              HTTP_HX_REQUEST="true")
        probe.outcome(not _preview_refused(response))
        probe.response("print campaign (live preview)", payload, response)
    rest = [payload for _category, payload in env.payloads if payload not in singles]
    for number, batch in enumerate([p for _c, p in pack] for pack in packed([("", p) for p in rest], 1_900, 20)):
        joined = "\n".join(batch)
        shown = f"{len(batch)} payloads from {batch[0][:30]!r}"
        response = probe.send("branch_manager", "post", url, "print campaign (live preview)", shown,
                              data=_campaign_form(campaign, headline=batch[0], body=joined, rich=joined),
                              HTTP_HX_REQUEST="true")
        refused = _preview_refused(response)
        probe.outcome(not refused)
        probe.response("print campaign (live preview)", shown, response)
        token = re.search(r"/templates/preview/([\w-]+)\.pdf", response.content.decode())
        if token:
            pdf = probe.send("branch_manager", "get", f"/templates/preview/{token.group(1)}.pdf",
                             "print campaign → PDF", shown)
            probe.response("print campaign → PDF", shown, pdf)
        if FULL or number % 4 == 0:
            api = probe.send("branch_manager", "post", f"/api/v1/template-versions/{scene.print.public_id}/preview/",
                             "print template preview (API)", shown,
                             json_body={"slot_values": {"headline": "Titre", "body": joined, "rich": joined}})
            probe.outcome(api.status_code == 200)
            probe.response("print template preview (API)", shown, api)
    # the frozen proof of the last accepted batch
    from central.campaigns.services import campaign_update

    campaign_update(campaign=campaign, updated_by=scene.world.users["branch_manager"],
                    slot_values={"headline": "Titre", "body": "\n".join(rest[:12]), "rich": "\n".join(rest[:12])})
    proof = proof_request(campaign=Campaign.objects.get(pk=campaign.pk), requested_by=scene.world.users["branch_manager"])
    for path in (f"/approvals/proofs/{proof.public_id}/pdf/", f"/api/v1/proofs/{proof.public_id}/pdf/",
                 f"/approvals/proofs/{proof.public_id}/"):
        response = probe.send("regional_manager", "get", path, "print proof", "(batch 1)")
        assert response.status_code == 200, path
        probe.response("print proof", "(batch 1)", response)


def test_try_page_and_api_preview(probe, env, scene):
    """The library's "try it" page (form, htmx) and the API preview of the e-mail version."""
    template = scene.email.template
    probe.fields("form: try page slot values", "api: template preview e-mail slots")
    for _category, payload in picked(env, 9):
        response = probe.send("branch_manager", "post", f"/templates/{template.public_id}/try/",
                              "try page (live preview)", payload, data={
                                  "headline": payload, "body": payload, "rich": payload,
                                  "price__amount": "3", "price__currency": "EUR", "price__conditions": payload},
                              HTTP_HX_REQUEST="true")
        probe.outcome(not _preview_refused(response))
        probe.response("try page (live preview)", payload, response)
        api = probe.send("branch_manager", "post", f"/api/v1/template-versions/{scene.email.public_id}/preview/",
                         "e-mail template preview (API)", payload,
                         json_body={"slot_values": {"headline": "Titre", "body": payload, "rich": payload,
                                                    "link": payload if payload.startswith("http") else None}})
        probe.outcome(api.status_code == 200)
        probe.response("e-mail template preview (API)", payload, api)


# --------------------------------------------------------------------------------------------
# Approvals: comments, slot comments, revocation reasons; the proof viewer
# --------------------------------------------------------------------------------------------


def test_approval_comments(probe, env, scene):
    """The regional manager requests changes with each payload as comment and slot comment
    (form, then API), and revokes with it as reason; the proof page and the branch's editor
    show them."""
    from approvals.services import proof_request
    from central.campaigns.services import campaign_update
    from central.models import Campaign

    campaign = scene.campaigns["sms"]
    manager = scene.world.users["branch_manager"]
    campaign_update(campaign=campaign, updated_by=manager, slot_values={"message": "Promo"})
    probe.fields("form: decision.comment", "form: decision.slot_comment", "api: decision.comment",
                 "api: decision.slot_comments")
    for index, (_category, payload) in enumerate(picked(env, 10)):
        proof = proof_request(campaign=Campaign.objects.get(pk=campaign.pk), requested_by=manager)
        if index % 2 == 0:
            response = probe.send("regional_manager", "post", f"/approvals/proofs/{proof.public_id}/decide/",
                                  "decision (form)", payload,
                                  data={"verdict": "changes", "comment": payload, "slot__message": payload})
            accepted = response.status_code == 302
            probe.response("decision (form)", payload, response)
        else:
            response = probe.send("regional_manager", "post", f"/api/v1/proofs/{proof.public_id}/decisions/",
                                  "decision (API)", payload,
                                  json_body={"verdict": "changes", "comment": payload,
                                             "slot_comments": {"message": payload}})
            accepted = response.status_code in (200, 201)
            probe.response("decision (API)", payload, response)
        probe.outcome(accepted)
        if accepted:
            page = probe.send("regional_manager", "get", f"/approvals/proofs/{proof.public_id}/", "proof page",
                              payload)
            probe.response("proof page (decision shown)", payload, page)
            if index % 10 == 0:
                editor = probe.send("branch_manager", "get", f"/network/campaigns/{campaign.public_id}/",
                                    "campaign page (comments shown)", payload)
                probe.response("campaign page (comments shown)", payload, editor)
        else:
            probe.send("regional_manager", "post", f"/api/v1/proofs/{proof.public_id}/decisions/",
                       "decision (reset)", "", json_body={"verdict": "changes", "comment": "à revoir"})
    audit = probe.send("head_office", "get", "/approvals/audit.csv", "audit export", "(all)")
    probe.leaks("audit export", "(all)", b"".join(audit.streaming_content).decode()
                if audit.streaming else audit.content.decode())


def test_revocation_reason(probe, env, scene):
    from approvals.models import ApprovalPolicy
    from approvals.policies import policy_save
    from approvals.services import proof_decide, proof_request
    from central.models import Campaign

    campaign = scene.campaigns["sms"]
    ApprovalPolicy.objects.filter(network=scene.world.networks["alpha"]).delete()
    policy_save(network=scene.world.networks["alpha"], saved_by=scene.world.users["head_office"], name="SMS",
                position=0, channel="sms", steps=[{"level": "head_office", "role": "approver", "quorum": 1}],
                is_active=True)
    probe.fields("form: revocation.reason", "api: revocation.reason")
    sample = picked(env, 16)[::2]
    for index, (_category, payload) in enumerate(sample):
        proof = proof_request(campaign=Campaign.objects.get(pk=campaign.pk),
                              requested_by=scene.world.users["branch_manager"])
        proof_decide(proof=proof, decided_by=scene.world.users["approver"], verdict="approve")
        proof.refresh_from_db()
        assert proof.status == "approved"
        if index % 2 == 0:
            response = probe.send("approver", "post", f"/approvals/proofs/{proof.public_id}/revoke/",
                                  "revocation (form)", payload, data={"reason": payload})
        else:
            response = probe.send("approver", "post", f"/api/v1/proofs/{proof.public_id}/revoke/",
                                  "revocation (API)", payload, json_body={"reason": payload})
        proof.refresh_from_db()
        accepted = proof.status == "revoked"
        if accepted and response.status_code >= 400:
            probe.fail("revocation", payload, f"revoked but answered {response.status_code}")
        probe.outcome(accepted)
        probe.response("revocation", payload, response)
        if not accepted:
            from approvals.services import approval_revoke

            approval_revoke(proof=proof, revoked_by=scene.world.users["approver"], reason="reset")
        page = probe.send("approver", "get", f"/approvals/proofs/{proof.public_id}/", "proof page (revoked)",
                          payload)
        probe.response("proof page (revoked)", payload, page)


def test_email_proof_is_served_sandboxed(probe, env, scene):
    """A proof frozen from branch values holding the payloads: the viewer's frame and the frozen
    content; and a template whose head-office source holds active content: only ever served under
    the sandboxing policy."""
    from approvals.services import proof_request
    from central.campaigns.services import campaign_update
    from central.models import Campaign
    from templates_lib import services as template_services
    from tests.planning import plan

    manager = scene.world.users["branch_manager"]
    campaign = scene.campaigns["email"]
    branch_values = [p for _c, p in env.payloads if len(p) <= 200 and "\x00" not in p][:40]
    campaign_update(campaign=campaign, updated_by=manager, slot_values={
        "headline": branch_values[0], "body": "\n".join(branch_values)[:2000], "rich": "\n".join(branch_values)[:4000]})
    proof = proof_request(campaign=Campaign.objects.get(pk=campaign.pk), requested_by=manager)
    # head office's own active content in the source
    head_office = scene.world.users["head_office"]
    template = template_services.template_create(network=scene.world.networks["alpha"], kind="email",
                                                 name="Source active", created_by=head_office)
    draft = template.versions.get()
    active = ("<mj-raw><script>alert('RLX')</script><img src=\"x\" onerror=\"alert('RLX')\" /></mj-raw>"
              "<mj-text><a href=\"javascript:alert('RLX')\">x</a></mj-text>")
    body = ("<mjml><mj-body><mj-section><mj-column>" + active + "<mj-text><a href=\"{{ system.unsubscribe_url }}\">"
            "stop</a></mj-text></mj-column></mj-section></mj-body></mjml>")
    # since issue 20 the source view refuses it on save, naming each part ...
    with pytest.raises(ValidationError) as refused:
        template_services.draft_update(version=draft, edited_by=head_office, subject="Objet", body=body)
    named = " ".join(refused.value.message_dict["body"])
    assert "<script>" in named and "onerror" in named and "javascript:" in named
    # ... and a version saved before that rule (written here straight to the database) is still
    # only ever served sandboxed
    from templates_lib.models import TemplateVersion

    TemplateVersion.objects.filter(pk=draft.pk).update(subject="Objet", body=body)
    draft.refresh_from_db()
    draft.content_hash = draft.compute_hash()
    TemplateVersion.objects.filter(pk=draft.pk).update(status="published", content_hash=draft.content_hash,
                                                       published_by=head_office, published_at=timezone.now())
    version = TemplateVersion.objects.get(pk=draft.pk)
    operation = plan(scene.world, versions=[version], channels=["email"], name="Source active")
    from central.calendar.services import participation_answer

    participation_answer(operation=operation, branch=scene.world.nodes["N2"], status="joined",
                         answered_by=scene.world.users["sibling_branch_manager"])
    authored = proof_request(campaign=Campaign.objects.get(operation=operation),
                             requested_by=scene.world.users["sibling_branch_manager"])
    probe.fields("proof viewer (frozen e-mail)")
    for current, is_authored in ((proof, False), (authored, True)):
        viewer = probe.send("regional_manager", "get", f"/approvals/proofs/{current.public_id}/", "proof viewer",
                            str(is_authored))
        probe.response("proof viewer", f"authored={is_authored}", viewer)
        frame = re.search(r"<iframe[^>]*data-testid=\"proof-frame\"[^>]*>", viewer.content.decode())
        assert frame and " sandbox " in frame.group(0) and "allow-" not in frame.group(0)
        for path in (f"/approvals/proofs/{current.public_id}/content/", f"/api/v1/proofs/{current.public_id}/content/"):
            content = probe.send("regional_manager", "get", path, "frozen e-mail", path)
            policy = content.get("Content-Security-Policy", "")
            assert "sandbox" in policy and "default-src 'none'" in policy and "script-src" not in policy, policy
            assert "allow-scripts" not in policy
            probe.response("frozen e-mail", f"authored={is_authored}", content, sandboxed=is_authored)
        if is_authored:
            TALLY.contained += 1
            assert "<script>alert('RLX')</script>" in current.html  # kept as authored: the sandbox is what holds it


# --------------------------------------------------------------------------------------------
# Calendar, rules, budgets, policies, transfers
# --------------------------------------------------------------------------------------------


def _operation_form(scene, payload: str) -> dict:
    start = TODAY + timedelta(days=40)
    return {"name": payload, "theme": payload, "description": payload, "mode": "opt_in", "channels": ["sms"],
            "template_versions": [scene.sms.pk], "send_from": start.isoformat(),
            "send_until": (start + timedelta(days=10)).isoformat(),
            "subscription_deadline": (start - timedelta(days=10)).isoformat(), "allowed_criteria": ["segment"]}


def test_operations(probe, env, scene):
    probe.fields("form: operation.name", "form: operation.theme", "form: operation.description",
                 "api: operation.name", "api: operation.theme", "api: operation.description")
    operation_id = scene.operation.public_id
    for _category, payload in picked(env, 11):
        response = probe.send("head_office", "post", "/calendar/operations/new/", "operation (form)", payload,
                              data=_operation_form(scene, payload))
        probe.form_outcome(response, payload)
        probe.response("operation (form)", payload, response)
        if response.status_code == 302:
            probe.follow("head_office", response, "operation (form) → page", payload)
        fields = {"name": payload, "theme": payload, "description": payload}
        data = _operation_form(scene, payload)
        api = probe.send("head_office", "post", "/api/v1/operations/", "operation (API)", payload, json_body={
            **fields, "network": "alpha", "mode": "opt_in", "channels": ["sms"],
            "template_versions": [scene.sms.public_id], "send_from": data["send_from"], "send_until": data["send_until"],
            "subscription_deadline": data["subscription_deadline"], "allowed_criteria": ["segment"]})
        probe.outcome(api.status_code == 201)
        probe.response("operation (API)", payload, api)
        patched = probe.send("head_office", "patch", f"/api/v1/operations/{operation_id}/", "operation (API patch)",
                             payload, json_body=fields)
        probe.outcome(patched.status_code == 200)
        probe.response("operation (API patch)", payload, patched)
    for actor, path in (("head_office", "/calendar/"), ("branch_manager", "/network/operations/"),
                        ("branch_manager", "/api/v1/operations/"), ("head_office", "/calendar/operations/new/")):
        page = probe.send(actor, "get", path, "operation lists", "(all)")
        probe.response("operation lists", "(all)", page)
    feed = probe.send("branch_manager", "get", "/calendar/feed/", "calendar feed settings", "(all)")
    probe.response("calendar feed settings", "(all)", feed)


def test_periods_rules_suppressions(probe, env, scene):
    from tests.central.rules.test_rules_and_simulation import _rules_form

    day = TODAY + timedelta(days=200)
    probe.fields("form: period.name", "form: rules.segment_caps", "api: rules.segment_caps",
                 "form: suppression.address", "form: suppression.reason")
    rules = probe.send("head_office", "get", "/api/v1/network-rules/alpha/", "rules (API)", "")
    base = {key: value for key, value in rules.json().items() if key not in ("network", "updated_by", "updated_at")}
    for _category, payload in picked(env, 12):
        period = probe.send("head_office", "post", "/calendar/periods/", "period (form)", payload, data={
            "action": "add", "kind": "blackout", "name": payload, "starts_on": day.isoformat(),
            "ends_on": day.isoformat()})
        probe.form_outcome(period, payload)
        probe.response("period (form)", payload, period)
        segment = probe.send("head_office", "post", "/calendar/rules/", "segment caps (form)", payload,
                             data=_rules_form(segment_caps=f"{payload} = 3"))
        probe.form_outcome(segment, payload)
        probe.response("segment caps (form)", payload, segment)
        if segment.status_code == 302:
            probe.follow("head_office", segment, "segment caps (form) → page", payload)
        api = probe.send("head_office", "patch", "/api/v1/network-rules/alpha/", "segment caps (API)", payload,
                         json_body={**base, "segment_caps": {payload: 3}})
        probe.outcome(api.status_code == 200)
        probe.response("segment caps (API)", payload, api)
        if api.status_code == 200 and "\x00" in payload:
            probe.fail("segment caps (API)", payload, "a NUL was stored: PostgreSQL's JSON refuses it (a 500 there)")
        suppression = probe.send("head_office", "post", "/calendar/suppressions/", "suppression (form)", payload,
                                 data={"network": "alpha", "action": "add", "channel": "email", "address": payload,
                                       "reason": payload})
        probe.form_outcome(suppression, payload)
        probe.response("suppression (form)", payload, suppression)
    for path in ("/calendar/periods/", "/calendar/suppressions/", "/calendar/rules/"):
        page = probe.send("head_office", "get", path, "rules pages", "(all)")
        probe.response("rules pages", "(all)", page)


def test_budgets_policies_transfers(probe, env, scene):
    world = scene.world
    probe.fields("form: budget.note", "api: budget.note", "form: policy.name", "api: policy.name",
                 "form: transfer.customer", "form: transfer.note")
    for index, (_category, payload) in enumerate(picked(env, 13)):
        year = 2040 + index
        budget = probe.send("head_office", "post", "/budgets/allocate/", "budget note (form)", payload, data={
            "node": world.nodes["N1"].pk, "starts_on": f"{year}-01-01", "ends_on": f"{year}-06-30", "amount": "10",
            "note": payload})
        probe.form_outcome(budget, payload)
        probe.response("budget note (form)", payload, budget)
        api = probe.send("head_office", "post", "/api/v1/budgets/", "budget note (API)", payload, json_body={
            "node": world.nodes["N2"].public_id, "starts_on": f"{year}-07-01", "ends_on": f"{year}-12-31",
            "amount": "10", "note": payload})
        probe.outcome(api.status_code == 201)
        probe.response("budget note (API)", payload, api)
        policy = probe.send("head_office", "post", "/approvals/policies/new/", "policy name (form)", payload, data={
            "name": payload, "position": str(100 + index), "channel": "sms", "origin": "", "changes": "",
            "step1_level": "region", "step1_role": "regional_manager", "step1_quorum": "1", "is_active": "on"})
        probe.form_outcome(policy, payload)
        probe.response("policy name (form)", payload, policy)
        policy_api = probe.send("head_office", "post", "/api/v1/approval-policies/", "policy name (API)", payload,
                                json_body={"network": "alpha", "name": payload, "position": 1000 + index,
                                           "steps": [{"level": "region", "role": "regional_manager", "quorum": 1}]})
        probe.outcome(policy_api.status_code == 201)
        probe.response("policy name (API)", payload, policy_api)
        transfer = probe.send("branch_manager", "post", "/network/transfers/", "transfer (form)", payload, data={
            "to_branch": world.nodes["N1"].public_id, "customer": payload, "note": payload})
        probe.form_outcome(transfer, payload)
        probe.response("transfer (form)", payload, transfer)
    for actor, path in (("head_office", "/budgets/"), ("branch_manager", "/budgets/"),
                        ("head_office", "/api/v1/budgets/"), ("head_office", "/approvals/policies/"),
                        ("head_office", "/api/v1/approval-policies/"), ("branch_manager", "/network/transfers/"),
                        ("head_office", "/network/transfers/")):
        page = probe.send(actor, "get", path, "lists", "(all)")
        probe.response(f"list {path}", "(all)", page)


# --------------------------------------------------------------------------------------------
# Branch settings, customers (import, API), sign-up page
# --------------------------------------------------------------------------------------------

CONTACT = {"phone": "03 20 00 00 00", "email": "lille@example.test", "opening_hours": "9h-19h",
           "manager_signature": "Anne", "website_url": "https://example.test/lille", "facebook_url": "",
           "instagram_url": ""}


def test_branch_settings(probe, env, scene):
    """N1's details, by its manager (contact) and by head office (identity too); they fill the
    e-mail (branch fields), and the branch's name is the From of its e-mails (MIME checked)."""
    from central.delivery import content
    from central.models import Campaign, Delivery
    from local_stores.models import Node
    from templates_lib import rendering

    node = scene.world.nodes["N1"]
    url = f"/network/branches/{node.public_id}/edit/"
    probe.fields("form: branch.phone", "form: branch.opening_hours", "form: branch.manager_signature",
                 "form: branch.email", "form: branch.website_url", "form: branch.facebook_url",
                 "form: branch.instagram_url", "form: branch.name", "form: branch.address_line1",
                 "form: branch.address_line2", "form: branch.city", "form: branch.postal_code")
    campaign = scene.campaigns["email"]
    for index, (_category, payload) in enumerate(picked(env, 14)):
        for actor, label, data in (
                ("branch_manager", "branch contact (form)", {**CONTACT, "phone": payload, "opening_hours": payload,
                                                            "manager_signature": payload}),
                ("branch_manager", "branch links (form)", {**CONTACT, "email": payload, "website_url": payload,
                                                          "facebook_url": payload, "instagram_url": payload}),
                ("head_office", "branch identity (form)", {**CONTACT, "name": payload, "address_line1": payload,
                                                          "address_line2": payload, "city": payload,
                                                          "postal_code": payload[:16], "is_active": "on"})):
            response = probe.send(actor, "post", url, label, payload, data=data)
            accepted = response.status_code == 302
            probe.outcome(accepted)
            probe.response(label, payload, response)
            if accepted and index % (1 if FULL else 4) == 0:
                probe.follow(actor, response, label + " → branch page", payload)
            if accepted and label == "branch identity (form)":
                fresh = Campaign.objects.select_related("branch", "network").get(pk=campaign.pk)
                compiled = rendering.compile_email(fresh.template_version, content.variant_context(fresh))
                delivery = Delivery(campaign=fresh, customer=scene.world.customers["N1"], channel="email",
                                    token=secrets.token_urlsafe(16))
                _messages_built(probe, "branch name → MIME", payload, fresh, delivery, compiled)
    Node.objects.filter(pk=node.pk).update(name="Lille")
    for actor, path in (("branch_manager", f"/api/v1/branches/{node.public_id}/"), ("head_office", "/network/branches/")):
        page = probe.send(actor, "get", path, "branch lists", "(all)")
        probe.response("branch lists", "(all)", page)


def _customer_csv(payloads: list[str], prefix: str) -> bytes:
    """Two rows per payload: its names, street, city and consent source; then its segment,
    interests and postal code (the strictly checked columns would refuse the first row whole)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["external_id", "branch_code", "first_name", "last_name", "email", "address_line1",
                     "postal_code", "city", "segment", "interests", "consent_email", "consent_source"])
    for index, payload in enumerate(payloads):
        writer.writerow([f"{prefix}-{index}", "N1", payload, payload, f"c{prefix.lower()}{index}@example.test",
                         payload, "59000", payload, "", "", "granted", payload])
        writer.writerow([f"{prefix}-{index}-b", "N1", "Camille", "Martin", f"b{prefix.lower()}{index}@example.test",
                         "", payload, "", payload, payload, "granted", ""])
    return buffer.getvalue().encode("utf-8")


def test_customer_import_and_api(probe, env, scene, django_capture_on_commit_callbacks):
    """A customer file whose every text column holds the payloads (form, then API with another
    file): the import report, the list, each customer's page, the CSV export, the API, and the
    e-mail each of them would receive (MIME)."""
    from central.delivery import content
    from central.models import Customer, Delivery
    from templates_lib import rendering

    payloads = [payload for _category, payload in env.payloads]
    probe.fields("import: customer.first_name", "import: customer.last_name", "import: customer.address_line1",
                 "import: customer.postal_code", "import: customer.city", "import: customer.segment",
                 "import: customer.interests", "import: customer.consent_source", "api import: customer (same columns)")
    upload = io.BytesIO(_customer_csv(payloads, "INJ"))
    upload.name = "clients.csv"
    with django_capture_on_commit_callbacks(execute=True):  # the import runs once its record is committed
        response = probe.send("head_office", "post", "/customers/import/", "customer import (form)", "(file)",
                              data={"network": scene.world.networks["alpha"].pk, "kind": "customers", "file": upload})
    assert response.status_code == 302, response.content[:500]
    report = probe.follow("head_office", response, "customer import report", "(file)")
    assert report.status_code == 200
    upload = io.BytesIO(_customer_csv(payloads, "API"))
    upload.name = "clients.csv"
    with django_capture_on_commit_callbacks(execute=True):
        api = probe.send("head_office", "post", "/api/v1/customer-imports/", "customer import (API)", "(file)",
                         data={"network": "alpha", "file": upload})
    assert api.status_code in (201, 202), api.content[:500]
    probe.response("customer import (API)", "(file)", api)
    imported = {customer.external_id: customer for customer in Customer.objects.filter(external_id__startswith="INJ-")}
    assert len(imported) > len(payloads) // 2, "the import did not run"
    assert Customer.objects.filter(external_id__startswith="API-").count() == len(imported)
    for index, payload in enumerate(payloads):
        for suffix in ("", "-b"):
            probe.outcome(f"INJ-{index}{suffix}" in imported)
        if "\x00" in payload and f"INJ-{index}" in imported:
            probe.fail("customer import", payload, "a NUL was stored: PostgreSQL refuses it (the whole file failed there)")
        customer = imported.get(f"INJ-{index}") or imported.get(f"INJ-{index}-b")
        if customer is None:
            continue
        if index % (1 if FULL else 6) == 0:
            page = probe.send("branch_manager", "get", f"/customers/{customer.public_id}/", "customer page", payload)
            probe.response("customer page", payload, page)
            detail = probe.send("branch_manager", "get", f"/api/v1/customers/{customer.public_id}/", "customer (API)",
                                payload)
            probe.response("customer (API)", payload, detail)
    campaign = scene.campaigns["email"]
    compiled = rendering.compile_email(campaign.template_version, content.variant_context(campaign))
    for customer in list(imported.values())[::1 if FULL else 8]:
        delivery = Delivery(campaign=campaign, customer=customer, channel="email", token=secrets.token_urlsafe(16))
        _messages_built(probe, "customer → MIME", customer.first_name, campaign, delivery, compiled)
    for actor, path in (("branch_manager", "/customers/"), ("head_office", "/customers/?q=script"),
                        ("branch_manager", "/api/v1/customers/?page_size=500")):
        page = probe.send(actor, "get", path, "customer lists", "(all)")
        probe.response("customer lists", "(all)", page)
    export = probe.send("head_office", "get", "/customers/export.csv", "customer export", "(all)")
    text = b"".join(export.streaming_content).decode() if export.streaming else export.content.decode()
    probe.leaks("customer export", "(all)", text)
    for row in csv.reader(io.StringIO(text)):
        for cell in row:
            if cell[:1] in ("=", "+", "-", "@") and not re.fullmatch(r"[-+]?\d[\d.,: -]*", cell):
                probe.fail("customer export", cell, "a cell a spreadsheet would run as a formula")


def test_signup_page(probe, env, scene):
    """The public sign-up page of N1 (no login): names typed by anyone; the confirmation e-mail."""
    url = f"/join/{scene.world.nodes['N1'].public_id}/"
    probe.fields("public: signup.first_name", "public: signup.last_name", "public: signup.email",
                 "public: signup.mobile")
    for index, (_category, payload) in enumerate(picked(env, 15)):
        mail.outbox = []
        address = f"203.0.{index // 200}.{index % 200 + 1}"
        response = probe.send("anonymous", "post", url, "signup names", payload, data={
            "first_name": payload, "last_name": payload, "email": f"p{index}@example.test", "consent_email": "on",
            "mobile": ""}, REMOTE_ADDR=address)
        probe.outcome(response.status_code == 200)
        probe.response("signup names", payload, response)
        for message in mail.outbox:
            _mime_check(probe, "signup confirmation e-mail", payload, message.message().as_bytes(), None)
        contact = probe.send("anonymous", "post", url, "signup contact", payload, data={
            "first_name": "Léa", "last_name": "Martin", "email": payload, "consent_email": "on", "mobile": payload,
            "consent_sms": "on"}, REMOTE_ADDR=address)
        probe.outcome(contact.status_code == 200)
        probe.response("signup contact", payload, contact)
    page = probe.send("head_office", "get", "/customers/?audience_kind=prospect", "prospects", "(all)")
    probe.response("prospects", "(all)", page)


IDENTITY_FORM = {"network": "beta", "from_local_part": "offres", "from_domain": "beta-mail.test", "from_name": "branch",
                 "reply_to": "branch", "reply_to_address": "", "email_method": "smtp", "esp": "", "smtp_host": "127.0.0.1",
                 "smtp_port": "587", "smtp_username": "beta", "smtp_security": "starttls", "email_secret": "",
                 "webhook_secret": "", "sms_provider": "twilio", "sms_account": "AC1", "sms_secret": "",
                 "sms_sender": "Beta", "esp_api_url": "", "esp_secret_key": "", "webhook_signing_key": ""}


def test_sending_identity(probe, env, scene):
    """Network beta's sending identity, by its head office (form and API): every text field; the
    page and the answers never show the identity's secrets (``IDENTITY_SECRETS`` are in ``hidden``)."""
    probe.fields("form: identity.from_local_part", "form: identity.from_domain", "form: identity.smtp_host",
                 "form: identity.smtp_username", "form: identity.sms_account", "form: identity.reply_to_address",
                 "api: identity.sms_sender")
    url, api = "/network/identity/?network=beta", "/api/v1/network/identity/?network=beta"
    for index, (_category, payload) in enumerate(picked(env, 17)):
        for label, data in (("identity address (form)", {**IDENTITY_FORM, "from_local_part": payload,
                                                         "from_domain": payload}),
                            ("identity account (form)", {**IDENTITY_FORM, "smtp_host": payload, "smtp_username": payload,
                                                         "sms_account": payload, "reply_to": "fixed",
                                                         "reply_to_address": payload})):
            response = probe.send("other_network_head_office", "post", url, label, payload, data=data)
            accepted = probe.form_outcome(response, payload)
            probe.response(label, payload, response)
            if accepted and index % (1 if FULL else 4) == 0:
                probe.follow("other_network_head_office", response, label + " → identity page", payload)
        answer = probe.send("other_network_head_office", "patch", api, "identity (API)", payload,
                            json_body={"sms_sender": payload[:11], "smtp_username": payload})
        probe.outcome(answer.status_code == 200)
        probe.response("identity (API)", payload, answer)
    page = probe.send("other_network_head_office", "get", url, "identity page", "(all)")
    probe.response("identity page", "(all)", page)


# --------------------------------------------------------------------------------------------
# Nothing fetched; the figures
# --------------------------------------------------------------------------------------------


def test_zz_nothing_was_fetched_and_the_figures(env, capsys):
    """Runs last: the loopback server got no request at all, and the figures of the whole module."""
    TALLY.payloads = len(env.payloads)
    used = [TALLY.sent.get(payload, 0) for _category, payload in env.payloads]
    with capsys.disabled():
        print(f"\ninjection corpus ({'full' if FULL else f'every {STRIDE}th payload per field group'}): "
              f"{TALLY.payloads} payloads ({sum(1 for n in used if n)} sent, each into {min(used)} to {max(used)} "
              f"field groups), {len(TALLY.fields)} fields, {TALLY.requests} requests, {TALLY.refusals} refusals "
              f"(4xx or form error), {TALLY.accepted} accepted and neutralised (of which {TALLY.contained} "
              f"head-office sources shown sandboxed), {TALLY.outputs} outputs checked ({TALLY.pdfs} PDFs, "
              f"{TALLY.mime_messages} MIME messages), loopback requests: {len(env.hits)}, "
              f"problems: {len(TALLY.failures)}")
    assert env.hits == [], f"the loopback server was fetched: {env.hits[:10]}"
    if TALLY.groups == 17:  # the whole module ran (its 17 groups of fields, not a selection of its tests)
        assert all(used), "some payloads were never sent"
