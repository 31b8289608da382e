"""People read names and labels in their language: no internal identifier, code or untranslated
string on any page a role reaches.

The demo network is loaded once for the module (few customers). For each role, the Django test
client opens every page of the menu and every page those pages link to (same origin, GET; logout,
language, downloads, the API and the admin aside), in English and in French. Each page's HTML is
parsed; attribute values (hrefs, ids, data-…) and <script>/<style> are dropped, and every text node
is checked:

- no public identifier (``cus_…``, ``ast_…``, ``nod_…``: every prefix the models draw their
  ``public_id`` with, read from the models themselves);
- no raw choice code where its label belongs (``post, sms``, ``fidele``), no Python dict, no markup
  shown as text;
- in French, no English message of the catalogue left (a text equal to an msgid whose French
  translation differs), and the typography of French: a non-breaking space before « : ; ? ! »;
- in English, no French message of the catalogue (a text equal to an msgstr that differs from its
  msgid) and no French typography.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import urldefrag, urlsplit

import pytest
from django.apps import apps
from django.test import Client

from central.customers.labels import SEGMENT_LABELS
from fixtures.demo import load_demo
from local_stores.identifiers import new_public_id
from tests.architecture.test_translations import PO_FILE, parse_po
from tests.conftest import built_once

pytestmark = pytest.mark.django_db

#: the demo's accounts, one per role
ROLES = {
    "head_office": "marie.dupont",
    "regional_manager": "paul.martin",
    "branch_manager": "claire.bernard",
    "approver": "sophie.leroy",
    "analyst": "luc.moreau",
}

#: paths never followed: leaving, switching language, files, the API and Django's admin, and the
#: links put in messages (they record an open, a click or an unsubscription)
SKIPPED = re.compile(
    r"^/(?:accounts/logout|i18n/|api/|admin/|calendar\.ics|u/|t/|v/|media/|static/|healthz)"
    r"|\.(?:csv|ics|pdf|zip|png|jpe?g|svg|json|xlsx)$|/(?:download|export|file|artwork)\b"
)
#: a page kind (its path with ids and numbers blanked, and its query's keys) is opened this often
PER_KIND = 2
#: texts that are right in either language: each language's name in itself (the language menu), and
#: the demo network's own content, written in French by its head office (slot labels, names)
EITHER_LANGUAGE = {"English", "Français"}
DEMO_CONTENT = ("Thème", "Lien", "Courrier personnalisé — anniversaire client")
#: elements whose text nobody reads
HIDDEN = {"script", "style", "template"}
#: elements whose text is typed by people or shows source on purpose (markup, column names and codes
#: there are content: the import's documentation names its columns and values)
SOURCE = {"textarea", "pre", "code"}


# --- What must not be shown ----------------------------------------------------------------------


def public_id_prefixes() -> set[str]:
    """Every prefix a model draws a public identifier with (``partial(new_public_id, "cus")``)."""
    prefixes = set()
    for model in apps.get_models():
        for model_field in model._meta.get_fields():
            default = getattr(model_field, "default", None)
            if isinstance(default, functools.partial) and default.func is new_public_id:
                prefixes.add(default.args[0])
    return prefixes


@functools.cache
def identifier_pattern() -> re.Pattern[str]:
    prefixes = sorted(public_id_prefixes(), key=len, reverse=True)
    assert {"cus", "ast", "nod", "cmp", "net", "prf"} <= set(prefixes), prefixes
    return re.compile(r"\b(?:" + "|".join(prefixes) + r")_[a-z2-9]{8,}")


@functools.cache
def choice_codes() -> frozenset[str]:
    """The stored codes of choice fields whose label says something else (``fidele``, ``post``)."""
    codes = set()
    for model in apps.get_models():
        if model._meta.app_label not in {"local_stores", "central", "approvals", "templates_lib", "reporting"}:
            continue
        for model_field in model._meta.get_fields():
            for value, label in getattr(model_field, "flatchoices", None) or ():
                if isinstance(value, str) and len(value) > 2 and str(label) != value:
                    codes.add(value)
    return frozenset(codes)


def _placeholders_to_regex(message: str) -> re.Pattern[str] | None:
    parts = re.split(r"%\(\w+\)[sdfi]|%[sdfi]|\{\w*\}", message)
    literal = "".join(parts)
    if len(parts) == 1 or len(re.findall(r"[A-Za-zÀ-ÿ]", literal)) < 6:
        return None
    return re.compile(r"(?:.+?)".join(re.escape(part) for part in parts), re.DOTALL)


@functools.cache
def catalogue() -> dict[str, tuple[frozenset[str], list[re.Pattern[str]]]]:
    """Per language, the texts that belong to the *other* language: for French pages, the English
    msgids translated differently; for English pages, those French msgstrs."""
    english: set[str] = set()
    french: set[str] = set()
    english_patterns: list[re.Pattern[str]] = []
    french_patterns: list[re.Pattern[str]] = []
    for entry in parse_po(PO_FILE):
        if entry.obsolete or not entry.msgid or "fuzzy" in entry.flags:
            continue
        pairs = [(entry.msgid, entry.msgstr.get(0, ""))]
        if entry.msgid_plural is not None:
            pairs.append((entry.msgid_plural, entry.msgstr.get(1, "")))
        for msgid, msgstr in pairs:
            msgid, msgstr = _normal(msgid), _normal(msgstr)
            if not msgstr or _bare(msgid) == _bare(msgstr) or len(re.findall(r"[A-Za-z]", msgid)) < 3:
                continue
            for text, exact, patterns in ((msgid, english, english_patterns), (msgstr, french, french_patterns)):
                pattern = _placeholders_to_regex(text)
                if pattern is not None:
                    patterns.append(pattern)
                elif not re.search(r"%\(\w+\)[sdfi]|%[sdfi]|\{\w*\}", text):
                    exact.add(_bare(text))
    return {"fr": (frozenset(english), english_patterns), "en": (frozenset(french), french_patterns)}


@functools.cache
def all_msgids() -> frozenset[str]:
    """Every English message (a lower-case word such as "customers" is a label, not a stored code)."""
    return frozenset(_normal(entry.msgid) for entry in parse_po(PO_FILE) if entry.msgid)


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u00a0", " ").replace("\u202f", " ")).strip()


def _bare(text: str) -> str:
    """A label without what surrounds it: ``(region)`` → ``region``, ``Name :`` → ``Name``."""
    return _normal(text).strip(" :;.,…()[]«»\"'·—–-").strip()


# --- Reading a page -----------------------------------------------------------------------------


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[tuple[str, bool]] = []  # (text, inside a source element)
        self.links: list[str] = []
        self._open: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.links.append(href)
        if tag not in {"br", "img", "input", "meta", "link", "hr", "wbr", "source", "col", "area", "base"}:
            self._open.append(tag)

    def handle_endtag(self, tag):
        if tag in self._open:
            while self._open and self._open.pop() != tag:
                pass

    def handle_data(self, data):
        if HIDDEN.intersection(self._open) or not data.strip():
            return
        self.texts.append((data, bool(SOURCE.intersection(self._open))))


def _kind(url: str) -> tuple[str, tuple[str, ...]]:
    parts = urlsplit(url)
    path = re.sub(r"/[a-z]{1,3}_[a-z2-9]{8,}|/\d+|/[0-9a-f-]{32,36}", "/*", parts.path)
    keys = tuple(sorted({pair.split("=")[0] for pair in parts.query.split("&") if pair}))
    return path, keys


def _same_origin(href: str) -> str | None:
    href, _fragment = urldefrag(href)
    parts = urlsplit(href)
    if parts.scheme in {"http", "https"} and parts.netloc == "testserver":
        href = parts.path + ("?" + parts.query if parts.query else "")
    elif parts.scheme or parts.netloc or not href.startswith("/"):
        return None
    return None if SKIPPED.search(urlsplit(href).path) else href


def crawl(client: Client) -> Iterator[tuple[str, _Page]]:
    """The home page, the menu's pages, and the pages they link to (one level), each kind of page
    at most ``PER_KIND`` times."""
    seen: set[str] = set()
    kinds: dict[tuple, int] = defaultdict(int)

    def fetch(url: str) -> _Page | None:
        seen.add(url)
        kind = _kind(url)
        if kinds[kind] >= PER_KIND:
            return None
        kinds[kind] += 1
        response = client.get(url)
        if response.status_code != 200 or not response.get("Content-Type", "").startswith("text/html"):
            return None
        page = _Page()
        page.feed(response.content.decode())
        page.close()
        return page

    home = fetch("/")
    assert home is not None
    yield "/", home
    level_one = {}
    for url in dict.fromkeys(filter(None, map(_same_origin, home.links))):
        if url not in seen and (page := fetch(url)) is not None:
            level_one[url] = page
            yield url, page
    for page in level_one.values():
        for link in dict.fromkeys(filter(None, map(_same_origin, page.links))):
            if link not in seen and (child := fetch(link)) is not None:
                yield link, child


# --- The checks -----------------------------------------------------------------------------------

#: a French label: « Objet : » (the rest of the French typography is checked on the catalogue below)
_FRENCH_LABEL = re.compile(r"(?:(?<=[^\s\u00a0\u202f(])|(?<= )):\s*$")
_FRENCH_PUNCTUATION = re.compile(r"(?:(?<=[^\s\u00a0\u202f(«])|(?<= ))[:;?!](?=\s|$)")
_FRENCH_TYPOGRAPHY = re.compile(r"[\u00a0\u202f][:;?!]|«|»")
_PYTHON_REPR = re.compile(r"\{'\w+': |\[\{'|': '")
_MARKUP = re.compile(r"</?(?:strong|em|b|i|p|br|span|div|a|ul|li)\b[^>]*>")


def problems_in(text: str, *, language: str, source: bool) -> list[str]:
    found = []
    normal = _normal(text)
    for match in identifier_pattern().finditer(text):
        # a source snippet for template authors (``{{ asset.ast_… }}`` in a <code>) is code, not words
        if not (source and text[: match.start()].endswith("asset.")):
            found.append(f"internal identifier {match.group()!r}")
            break
    codes = [part.strip() for part in normal.split(",")]
    if not source and normal not in all_msgids() and all(code in choice_codes() for code in codes):
        found.append("stored code(s) instead of their label")
    if normal in SEGMENT_LABELS and str(SEGMENT_LABELS[normal]) != normal:
        found.append("a segment's code instead of its name")
    if _PYTHON_REPR.search(text):
        found.append("a Python value")
    if not source and _MARKUP.search(text):
        found.append("markup shown as text")
    exact, patterns = catalogue()[language]
    bare = _bare(normal)
    foreign = not source and (bare in exact or any(pattern.fullmatch(normal) for pattern in patterns))
    if foreign and normal not in EITHER_LANGUAGE and not any(content in normal for content in DEMO_CONTENT):
        found.append("untranslated (a message of the other language)")
    if language == "fr" and not source and _FRENCH_LABEL.search(text):
        found.append("French typography: a label ends with a non-breaking space and « : »")
    if language == "en" and not source and _FRENCH_TYPOGRAPHY.search(text):
        found.append("French typography in English")
    return found


def slot_name_pattern() -> re.Pattern[str]:
    """The templates' slot names (``headline``, ``event_date``) shown alone or as ``headline:``, where
    their label belongs."""
    from templates_lib.models import TemplateVersion

    names = {
        item["name"]
        for slots_of in TemplateVersion.objects.values_list("slots", flat=True)
        for item in slots_of or []
        # (short names such as "text" or "link" are also everyday words of the English interface)
        if item.get("label") and item["label"] != item["name"] and ("_" in item["name"] or len(item["name"]) >= 8)
    }
    assert names, "the demo's templates declare no slot"
    return re.compile(r"^(?:" + "|".join(map(re.escape, sorted(names))) + r")(?:\s*:|$)")


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with built_once(django_db_blocker, lambda: load_demo(customers=40)) as loaded:
        yield loaded


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("role", list(ROLES))
def test_pages_show_names_and_labels_in_the_reader_s_language(demo, role, language):
    from django.contrib.auth import get_user_model

    client = Client()
    client.force_login(get_user_model().objects.get(username=ROLES[role]))
    client.cookies["django_language"] = language
    report: dict[tuple[str, str], list[str]] = defaultdict(list)
    slot_name = slot_name_pattern()
    pages = 0
    for url, page in crawl(client):
        pages += 1
        for text, source in page.texts:
            found = problems_in(text, language=language, source=source)
            if not source and slot_name.match(_normal(text)):
                found.append("a slot's name instead of its label")
            for problem in found:
                shown = _normal(text)
                key = (problem, shown[:90])
                if len(report[key]) < 2:
                    report[key].append(url)
    assert pages >= 8, f"only {pages} pages reached"
    lines = [f"{problem}: {text!r} on {', '.join(urls)}" for (problem, text), urls in sorted(report.items())]
    assert not lines, f"{role} ({language}), {len(lines)} problems on {pages} pages:\n" + "\n".join(lines)


def test_the_checks_catch_what_they_look_for():
    """The checks themselves, on texts a page must not show."""
    assert problems_in(f"Client {new_public_id('cus')}", language="en", source=False)
    assert problems_in(f"{new_public_id('ast')}", language="en", source=True)
    assert not problems_in(f"{{{{ asset.{new_public_id('ast')} }}}}", language="en", source=True)
    assert problems_in("post, sms", language="en", source=False)
    assert problems_in("fidele", language="fr", source=False)
    assert problems_in("{'text': 'Hello'}", language="en", source=False)
    assert problems_in("Offer <strong>-20%</strong>", language="en", source=False)
    assert problems_in("Offre :", language="fr", source=False)
    assert problems_in("Offre:", language="fr", source=False)
    assert not problems_in("Offre\u00a0:", language="fr", source=False)
    assert not problems_in("10:30", language="fr", source=False)
    assert problems_in("Offre\u00a0:", language="en", source=False)


def french_typography_problems(msgstr: str) -> list[str]:
    """A French message's typography: a non-breaking space before « : ; ? ! », « » quotes."""
    found = []
    text = re.sub(r"%\(\w+\)[sdfi]", "x", msgstr)  # a placeholder before « : » is a word
    text = re.sub(r"<[^>]+>", "", text)  # markup's attributes are not read
    text = re.sub(r"\w+://\S+", "", text)
    if _FRENCH_PUNCTUATION.search(text):
        found.append("a non-breaking space before : ; ? !")
    if '"' in text:
        found.append("« » quotes")
    return found


def test_the_french_catalogue_follows_french_typography():
    problems = [
        f"{entry.msgid!r} → {msgstr!r}: {', '.join(found)}"
        for entry in parse_po(PO_FILE)
        if entry.msgid and not entry.obsolete and "fuzzy" not in entry.flags
        for msgstr in entry.msgstr.values()
        if (found := french_typography_problems(msgstr))
    ]
    assert not problems, f"{len(problems)} French messages:\n" + "\n".join(problems)


@pytest.mark.parametrize("role", list(ROLES))
def test_the_api_is_in_the_menu_of_head_office_only(demo, role):
    """The API's reference is for head office's developers and administrators, not a store's menu."""
    from django.contrib.auth import get_user_model

    client = Client()
    client.force_login(get_user_model().objects.get(username=ROLES[role]))
    page = _Page()
    page.feed(client.get("/").content.decode())
    assert ("/api/docs/" in page.links) is (role == "head_office")


def test_codes_have_labels_in_the_reader_s_language():
    from django.utils import translation

    from central.customers.labels import channel_labels, segment_label

    with translation.override("fr"):
        assert channel_labels(["post", "sms"]) == "Courrier, SMS"
        assert channel_labels("email, sms") == "E-mail, SMS"
        assert segment_label("fidele") == "Fidèle" and segment_label("inactif") == "Inactif"
        assert segment_label("clients-du-dimanche") == "clients-du-dimanche"  # the network's own word, as imported
    with translation.override("en"):
        assert channel_labels(["post", "sms"]) == "Post, SMS"
        assert segment_label("fidele") == "Loyal"


def test_a_price_slot_offers_the_network_s_currency_only(settings):
    from templates_lib import slots
    from templates_lib.forms import slot_values_form

    definition = slots.SlotDefinition(name="offer", type=slots.PRICE, label="Offer")
    form = slot_values_form([definition], [])
    assert [code for code, _label in form.fields["offer__currency"].choices] == ["EUR"]
    settings.RELAIS_CURRENCY = "CHF"
    form = slot_values_form([definition], [])
    assert [code for code, _label in form.fields["offer__currency"].choices] == ["CHF"]
