"""The French translation: complete, compiled, in step with the source, and served.

When a test here fails after you added, changed or removed a UI string, refresh the catalogue and
translate it, then commit both files of ``locale/fr/LC_MESSAGES/``::

    .venv/bin/python manage.py makemessages -l fr --ignore=.venv --ignore=bench --ignore=tests --no-obsolete
    # translate every new entry of django.po: no empty msgstr, and remove the "#, fuzzy" flags
    .venv/bin/python manage.py compilemessages --ignore=.venv

These tests need GNU gettext (``msgfmt``, ``xgettext``), like ``makemessages`` itself.
"""

from __future__ import annotations

import contextlib
import gettext
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

BASE_DIR = Path(settings.BASE_DIR)
LC_MESSAGES = BASE_DIR / "locale" / "fr" / "LC_MESSAGES"
PO_FILE = LC_MESSAGES / "django.po"
MO_FILE = LC_MESSAGES / "django.mo"

#: The same exclusions as the makemessages command above.
IGNORED_DIRS = (".venv", "bench", "tests")
#: What makemessages reads for the "django" domain (its default extensions).
SOURCE_SUFFIXES = (".py", ".html", ".txt")

HOW_TO_FIX = (
    "Run `.venv/bin/python manage.py makemessages -l fr --ignore=.venv --ignore=bench --ignore=tests "
    "--no-obsolete` (or `make messages`), translate the new entries of locale/fr/LC_MESSAGES/django.po, "
    "then `.venv/bin/python manage.py compilemessages --ignore=.venv` and commit django.po and django.mo."
)


# --- A small PO reader (no third-party dependency) -------------------------------------------

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
_KEYWORD = re.compile(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(\".*\")\s*$")
_STRING = re.compile(r'^"((?:[^"\\]|\\.)*)"$')


def _unquote(quoted: str, where: str) -> str:
    match = _STRING.match(quoted.strip())
    if not match:
        raise AssertionError(f"{where}: not a PO string: {quoted!r}")
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), match.group(1))


@dataclass
class Entry:
    line: int
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False

    @property
    def key(self) -> tuple[str | None, str, str | None]:
        return (self.msgctxt, self.msgid, self.msgid_plural)

    @property
    def is_header(self) -> bool:
        return self.msgid == "" and self.msgctxt is None

    def __str__(self) -> str:
        context = f" (context {self.msgctxt!r})" if self.msgctxt else ""
        return f"line {self.line}: {self.msgid!r}{context}"


def parse_po(path: Path) -> list[Entry]:
    """Every entry of a PO file, the header (msgid "") included."""
    entries: list[Entry] = []
    current: Entry | None = None
    target: tuple[str, int | None] | None = None

    def start(line_number: int) -> Entry:
        entry = Entry(line=line_number)
        entries.append(entry)
        return entry

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        obsolete = line.startswith("#~")
        if obsolete:
            line = line[2:].strip()
            if line.startswith("|"):  # previous msgid of an obsolete entry
                continue
        if not line:
            current, target = None, None
            continue
        if line.startswith("#"):
            if current is not None and current.msgstr:  # comments open the next entry
                current, target = None, None
            if current is None:
                current = start(number)
            if line.startswith("#,"):
                current.flags.update(flag.strip() for flag in line[2:].split(",") if flag.strip())
            continue
        where = f"{path.name}:{number}"
        match = _KEYWORD.match(line)
        if match:
            keyword, index, quoted = match.groups()
            if keyword in {"msgctxt", "msgid"} and current is not None and current.msgstr:
                current = None
            if current is None:
                current = start(number)
            current.obsolete = current.obsolete or obsolete
            value = _unquote(quoted, where)
            if keyword == "msgctxt":
                current.msgctxt, target = value, ("msgctxt", None)
            elif keyword == "msgid":
                current.msgid, target = value, ("msgid", None)
            elif keyword == "msgid_plural":
                current.msgid_plural, target = value, ("msgid_plural", None)
            else:
                slot = int(index) if index is not None else 0
                current.msgstr[slot], target = value, ("msgstr", slot)
            continue
        if line.startswith('"') and current is not None and target is not None:
            value = _unquote(line, where)
            name, slot = target
            if name == "msgstr":
                current.msgstr[slot] += value
            else:
                setattr(current, name, (getattr(current, name) or "") + value)
            continue
        raise AssertionError(f"{where}: cannot read {raw!r}")
    return entries


def _messages(entries: list[Entry]) -> list[Entry]:
    return [entry for entry in entries if not entry.is_header and not entry.obsolete]


def _header(entries: list[Entry]) -> Entry:
    headers = [entry for entry in entries if entry.is_header]
    assert len(headers) == 1, 'django.po must have exactly one header entry (msgid "")'
    return headers[0]


def _gettext_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"GNU gettext's {name} is not installed (apt-get install gettext); {HOW_TO_FIX}")
    return path


def _catalog_key(entry: Entry) -> str:
    return f"{entry.msgctxt}\x04{entry.msgid}" if entry.msgctxt is not None else entry.msgid


@pytest.fixture(scope="module")
def po_entries() -> list[Entry]:
    assert PO_FILE.is_file(), f"{PO_FILE} is missing. {HOW_TO_FIX}"
    return parse_po(PO_FILE)


# --- (a) The catalogue is complete, valid and compiled ---------------------------------------


def test_po_header_is_french_and_not_fuzzy(po_entries):
    header = _header(po_entries)
    assert "fuzzy" not in header.flags, "Remove the '#, fuzzy' flag of the django.po header."
    text = header.msgstr.get(0, "")
    assert "Language: fr\n" in text
    assert "Content-Type: text/plain; charset=UTF-8\n" in text
    assert "Plural-Forms: nplurals=2; plural=(n > 1);\n" in text


def test_every_entry_is_translated_and_none_is_fuzzy(po_entries):
    messages = _messages(po_entries)
    assert messages, "django.po has no entry at all"
    fuzzy = [str(entry) for entry in messages if "fuzzy" in entry.flags]
    expected_forms = {0, 1}
    untranslated = [
        str(entry)
        for entry in messages
        if (set(entry.msgstr) != (expected_forms if entry.msgid_plural is not None else {0}))
        or not all(text.strip() for text in entry.msgstr.values())
    ]
    assert not untranslated, "Untranslated entries in django.po:\n" + "\n".join(untranslated)
    assert not fuzzy, (
        "Fuzzy entries in django.po (check the translation, then remove '#, fuzzy'):\n" + "\n".join(fuzzy)
    )


_PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[sdifr]|\{\{\s*[\w.]+\s*\}\}|\{\w*\}")
_TAG = re.compile(r"</?[a-zA-Z][^>]*>")


def test_translations_keep_placeholders_and_html(po_entries):
    problems = []
    for entry in _messages(po_entries):
        sources = [entry.msgid] + ([entry.msgid_plural] if entry.msgid_plural is not None else [])
        placeholders = {m.group(0) for source in sources for m in _PLACEHOLDER.finditer(source)}
        tags = sorted(_TAG.findall(entry.msgid))
        for slot, text in entry.msgstr.items():
            found = {m.group(0) for m in _PLACEHOLDER.finditer(text)}
            if found != placeholders:
                problems.append(
                    f"{entry} msgstr[{slot}]: placeholders {sorted(found)} != {sorted(placeholders)}"
                )
            if sorted(_TAG.findall(text)) != tags:
                problems.append(f"{entry} msgstr[{slot}]: HTML tags differ from the msgid")
    assert not problems, "\n".join(problems)


def test_po_file_compiles_cleanly():
    msgfmt = _gettext_tool("msgfmt")
    result = subprocess.run(  # noqa: S603 - a fixed gettext binary, our own paths
        [msgfmt, "--check", "-o", "/dev/null", str(PO_FILE)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, f"msgfmt --check failed:\n{result.stderr}"


def test_committed_mo_serves_every_translation_of_the_po(po_entries):
    assert MO_FILE.is_file(), f"{MO_FILE} is missing. {HOW_TO_FIX}"
    with MO_FILE.open("rb") as stream:
        catalog = gettext.GNUTranslations(stream)
    stale = []
    for entry in _messages(po_entries):
        if entry.msgid_plural is None:
            served = (
                catalog.pgettext(entry.msgctxt, entry.msgid)
                if entry.msgctxt is not None
                else catalog.gettext(entry.msgid)
            )
            if served != entry.msgstr.get(0):
                stale.append(f"{entry}: the .mo gives {served!r}")
            continue
        # French: n = 0 and n = 1 take the singular form, n > 1 the plural one.
        for n, slot in ((0, 0), (1, 0), (2, 1), (5, 1)):
            if entry.msgctxt is not None:
                served = catalog.npgettext(entry.msgctxt, entry.msgid, entry.msgid_plural, n)
            else:
                served = catalog.ngettext(entry.msgid, entry.msgid_plural, n)
            if served != entry.msgstr.get(slot):
                stale.append(f"{entry} (n={n}): the .mo gives {served!r}")
    assert not stale, f"django.mo is older than django.po. {HOW_TO_FIX}\n" + "\n".join(stale)


def test_committed_mo_is_exactly_the_compiled_po(tmp_path):
    """Nothing in the .mo that the .po no longer has (the header, regenerated on every run, aside)."""
    msgfmt = _gettext_tool("msgfmt")
    fresh = tmp_path / "django.mo"
    subprocess.run(  # noqa: S603 - a fixed gettext binary, our own paths
        [msgfmt, "-o", str(fresh), str(PO_FILE)], check=True, capture_output=True, timeout=30
    )

    def catalog_of(path: Path) -> dict:
        with path.open("rb") as stream:
            # _catalog is the parsed table of a GNUTranslations (stable since Python 2).
            table = dict(gettext.GNUTranslations(stream)._catalog)
        table.pop("", None)
        return table

    committed, expected = catalog_of(MO_FILE), catalog_of(fresh)
    extra = sorted(str(key) for key in committed.keys() - expected.keys())
    missing = sorted(str(key) for key in expected.keys() - committed.keys())
    changed = sorted(
        str(key) for key in committed.keys() & expected.keys() if committed[key] != expected[key]
    )
    assert not (extra or missing or changed), (
        f"django.mo does not match django.po. {HOW_TO_FIX}\n"
        f"only in the .mo: {extra}\nonly in the .po: {missing}\ntranslated differently: {changed}"
    )


def test_mo_file_is_committed_not_ignored():
    git = shutil.which("git")
    if git is None or not (BASE_DIR / ".git").exists():
        pytest.skip("not a git checkout")
    result = subprocess.run(  # noqa: S603 - the git binary, our own paths
        [git, "check-ignore", "-q", str(MO_FILE.relative_to(BASE_DIR))], cwd=BASE_DIR, timeout=30
    )
    assert result.returncode == 1, "locale/fr/LC_MESSAGES/django.mo is git-ignored: it must be committed."


# --- (b) The catalogue has every string the source marks for translation ----------------------


def _copy_sources(destination: Path) -> None:
    """The project's translatable sources, as makemessages would read them from BASE_DIR."""

    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped = set()
        at_root = Path(directory) == BASE_DIR
        for name in names:
            path = Path(directory) / name
            if path.is_dir():
                if (
                    name.startswith(".")
                    or name == "__pycache__"
                    or name.endswith(".egg-info")
                    or (at_root and name in {*IGNORED_DIRS, "locale", "node_modules", "staticfiles"})
                ):
                    skipped.add(name)
            elif not name.endswith(SOURCE_SUFFIXES):
                skipped.add(name)
        return skipped

    shutil.copytree(BASE_DIR, destination, ignore=ignore, symlinks=True)


@pytest.fixture(scope="module")
def extracted_entries(tmp_path_factory) -> list[Entry]:
    """Run makemessages on a copy of the sources, into a scratch locale directory."""
    _gettext_tool("xgettext")
    _gettext_tool("msgmerge")
    workdir = tmp_path_factory.mktemp("makemessages")
    sources = workdir / "src"
    scratch_locale = workdir / "locale"
    _copy_sources(sources)
    # makemessages walks the current directory and writes into LOCALE_PATHS[0].
    with override_settings(LOCALE_PATHS=[str(scratch_locale)]), contextlib.chdir(sources):
        call_command(
            "makemessages",
            locale=["fr"],
            ignore_patterns=list(IGNORED_DIRS),
            no_obsolete=True,
            verbosity=0,
        )
    extracted = scratch_locale / "fr" / "LC_MESSAGES" / "django.po"
    assert extracted.is_file(), "makemessages produced no django.po"
    return parse_po(extracted)


def _describe(key: tuple[str | None, str, str | None]) -> str:
    context, msgid, plural = key
    text = repr(msgid)
    if plural is not None:
        text += f" / plural {plural!r}"
    if context is not None:
        text += f" (context {context!r})"
    return text


def test_every_marked_string_is_in_the_catalogue(extracted_entries, po_entries):
    marked = {entry.key for entry in _messages(extracted_entries)}
    catalogued = {entry.key for entry in _messages(po_entries)}
    missing = sorted(marked - catalogued, key=lambda key: (key[1], key[0] or "", key[2] or ""))
    assert not missing, (
        f"{len(missing)} string(s) marked for translation are not in locale/fr/LC_MESSAGES/django.po. "
        f"{HOW_TO_FIX}\n" + "\n".join(_describe(key) for key in missing)
    )


def test_catalogue_has_no_string_the_source_dropped(extracted_entries, po_entries):
    marked = {entry.key for entry in _messages(extracted_entries)}
    stale = sorted(
        (entry.key for entry in _messages(po_entries) if entry.key not in marked),
        key=lambda key: (key[1], key[0] or "", key[2] or ""),
    )
    assert not stale, (
        f"django.po still has {len(stale)} string(s) the source no longer marks. {HOW_TO_FIX}\n"
        + "\n".join(_describe(key) for key in stale)
    )
    obsolete = [str(entry) for entry in po_entries if entry.obsolete]
    assert not obsolete, (
        "Obsolete (#~) entries in django.po: run makemessages with --no-obsolete.\n" + "\n".join(obsolete)
    )


_JS_GETTEXT = re.compile(r"\b(?:gettext|ngettext|pgettext|npgettext|interpolate)\s*\(")


def test_no_javascript_of_ours_needs_a_djangojs_catalogue():
    """Only the "django" domain is kept. Our own JavaScript calling gettext() would need a
    "djangojs" catalogue too (makemessages -d djangojs, JavaScriptCatalog view)."""
    skipped = {*IGNORED_DIRS, "locale", "node_modules", "staticfiles", "__pycache__"}
    calling = []
    for directory, dirnames, filenames in os.walk(BASE_DIR):
        dirnames[:] = [name for name in dirnames if name not in skipped and not name.startswith(".")]
        for name in filenames:
            if name.endswith((".js", ".mjs")):
                path = Path(directory) / name
                if _JS_GETTEXT.search(path.read_text(encoding="utf-8", errors="replace")):
                    calling.append(str(path.relative_to(BASE_DIR)))
    assert not calling, "JavaScript that calls gettext() but has no djangojs catalogue:\n" + "\n".join(
        calling
    )


# --- (c) Pages are served in French ------------------------------------------------------------


@pytest.mark.django_db
def test_login_page_is_french_for_a_french_browser(client):
    response = client.get("/accounts/login/", headers={"accept-language": "fr-FR,fr;q=0.9,en;q=0.5"})
    assert response.status_code == 200
    page = response.content.decode()
    assert '<html lang="fr">' in page
    assert "Mot de passe" in page
    assert "Connexion à Relais" in page
    assert "Log in to Relais" not in page
    assert "Password" not in page


@pytest.mark.django_db
@override_settings(LANGUAGE_CODE="fr")  # the production default; the test settings use English
def test_login_page_is_french_by_default(client):
    page = client.get("/accounts/login/").content.decode()
    assert "Mot de passe" in page
    assert "Log in to Relais" not in page


@pytest.mark.django_db
def test_login_page_stays_english_for_an_english_browser(client):
    page = client.get("/accounts/login/", headers={"accept-language": "en"}).content.decode()
    assert "Log in to Relais" in page
    assert "Mot de passe" not in page
