"""Reading an import's CSV file, shared by the customers' and the purchases' imports: the file's
decoding (UTF-8 with or without BOM, else detected among the encodings CRM exports use, or
chosen), its dialect (';', ',' or tab), its header renamed to the import's columns (a mapping, the
synonyms) and checked against the allowed and required columns, and the cells both imports parse the same way (dates, amounts, NUL
characters). A problem with the file as a whole is an ``ImportFileError``; one with a row, a
``RowError``."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import IO

from django.utils.translation import gettext as _


@dataclass
class RowError:
    line: int
    field: str
    reason: str
    value: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "field": self.field, "reason": self.reason, "value": self.value[:80]}


class ImportFileError(ValueError):
    """The file as a whole cannot be read (encoding, missing or unknown columns)."""


def parse_date(raw: str) -> date:
    """A date as ISO or French spreadsheets write it; ValueError for anything else (a year of
    twenty digits included: ``date`` raises OverflowError for it)."""
    try:
        if "/" in raw:  # 31/12/2025, as French spreadsheets write it
            day, month, year = raw.split("/")
            return date(int(year), int(month), int(day))
        return date.fromisoformat(raw)
    except OverflowError as error:
        raise ValueError(str(error)) from error


def nul_cells(line: int, row: dict[str, str]) -> list[RowError]:
    """The row's cells holding a NUL character, each as an error. PostgreSQL stores no NUL: one in a
    cell would fail the whole file instead of its row."""
    return [RowError(line, name, _("%(label)s: the text contains control characters.") % {"label": name},
                     value.replace("\x00", "").strip())
            for name, value in row.items() if name and isinstance(value, str) and "\x00" in value]


def parse_amount(raw: str, *, negative: bool = False) -> Decimal:
    """An amount written 1250.50, 1 250,50 or -12.90 (``negative``: a refund), to the cent;
    InvalidOperation for anything else (and for 10 billion or more)."""
    amount = Decimal(raw.replace(",", ".").replace(" ", "").replace("\u00a0", ""))
    if not amount.is_finite() or abs(amount) >= Decimal("1e10") or (amount < 0 and not negative):
        raise InvalidOperation
    return amount.quantize(Decimal("0.01"))


#: The encodings a person may choose (upload form, API, command); "" detects it.
ENCODINGS = ("", "utf-8", "cp1252", "iso8859_15")
#: What the detector may answer when the file is not UTF-8: the encodings CRM exports really use.
LIKELY_ENCODINGS = ["cp1252", "iso8859_15", "utf_16", "cp850", "mac_roman"]
#: French Excel's default, read when the detector is not sure.
FALLBACK_ENCODING = "cp1252"
SAMPLE_BYTES = 64 * 1024
IGNORE = "ignore"


def normalise_header(name: str) -> str:
    """A file's column name as compared: trimmed, casefolded, accents removed, spaces, dashes and
    dots as underscores ("Code  magasin" → "code_magasin", "E-mail" → "e_mail", "Prénom" → "prenom")."""
    text = unicodedata.normalize("NFKD", name.replace("\ufeff", "").strip().casefold())
    text = "".join(char for char in text if not unicodedata.combining(char))
    return re.sub(r"[\s\-.'/]+", "_", text).strip("_")


def detect_encoding(sample: bytes) -> str:
    """The encoding of a file's first bytes: UTF-8 (with or without BOM) when they are; else what the
    detector finds among ``LIKELY_ENCODINGS``, or ``FALLBACK_ENCODING`` when it is not sure."""
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as error:
        # an error in the last 3 bytes of a full sample is a character cut by the sample's end
        if len(sample) < SAMPLE_BYTES or error.start < len(sample) - 3:
            return _not_utf8_encoding(sample)
    return "utf-8-sig"


def _not_utf8_encoding(sample: bytes) -> str:
    """French Excel's Windows-1252 when the bytes are that (a file whose only non-ASCII characters
    are "€" and "’" looks like DOS or Mac Roman to the detector), else what the detector finds."""
    if b"\x00" not in sample:  # NULs: UTF-16 without BOM, the detector's to tell
        try:
            sample.decode("cp1252")
        except UnicodeDecodeError:
            pass
        else:
            return "cp1252"
    from charset_normalizer import from_bytes

    best = from_bytes(sample, cp_isolation=LIKELY_ENCODINGS).best()
    return best.encoding if best is not None and best.encoding != "utf_8" else FALLBACK_ENCODING


def encoding_label(encoding: str) -> str:
    return {"utf-8-sig": "UTF-8", "utf-8": "UTF-8", "cp1252": "Windows-1252", "iso8859_15": "ISO-8859-15",
            "utf_16": "UTF-16", "utf-16": "UTF-16", "cp850": "DOS (850)", "mac_roman": "Mac Roman"}.get(
        encoding, encoding)


class UndecodableFileError(ImportFileError, UnicodeDecodeError):
    """A line of the file that cannot be decoded in its encoding: the whole file's error (the
    customers' import), still a UnicodeDecodeError for a caller that reports the line itself."""

    def __init__(self, message: str, error: UnicodeDecodeError) -> None:
        UnicodeDecodeError.__init__(self, error.encoding, error.object, error.start, error.end, error.reason)
        self.message = message

    def __str__(self) -> str:
        return self.message


class DecodeErrors:
    """Reads the text wrapper's lines, turning a decoding error into the whole file's error."""

    def __init__(self, text: io.TextIOWrapper, encoding: str) -> None:
        self.text, self.encoding = text, encoding

    def __iter__(self):
        return self

    def __next__(self) -> str:
        try:
            return next(self.text)
        except UnicodeDecodeError as error:
            raise UndecodableFileError(_decode_message(self.encoding), error) from error


def _decode_message(encoding: str) -> str:
    return _("The file cannot be read as %(encoding)s text: choose its encoding (or “detect”) and send it "
             "again.") % {"encoding": encoding_label(encoding)}


def read_header(stream: IO[bytes], encoding: str = "") -> tuple[io.TextIOWrapper, str, list[str], str]:
    """The file's text, its encoding, its header's raw names and its delimiter (";", "," or tab),
    the header line read. ``encoding`` "" detects it on the first 64 KB."""
    sample = b""
    if not encoding:
        sample = stream.read(SAMPLE_BYTES)
        encoding = detect_encoding(sample)
    elif encoding == "utf-8":
        encoding = "utf-8-sig"
    # the caller's stream is read through a wrapper of ours: closing the text closes only that
    text = io.TextIOWrapper(io.BufferedReader(_Prefixed(sample, stream)), encoding=encoding, newline="")
    try:
        header_line = text.readline()
    except UnicodeDecodeError as error:
        raise ImportFileError(_decode_message(encoding)) from error
    header_line = header_line.lstrip("\ufeff")
    if not header_line.strip():
        raise ImportFileError(_("The file is empty."))
    counts = {";": header_line.count(";"), ",": header_line.count(","), "\t": header_line.count("\t")}
    delimiter = max(counts, key=lambda key: (counts[key], key == ";"))
    if not counts[delimiter]:
        delimiter = ","
    try:
        cells = next(csv.reader([header_line], delimiter=delimiter))
    except csv.Error as error:  # a header line over csv's field limit (128 KiB), a quote left open
        raise ImportFileError(_("The file's first line cannot be read as column names: save it again as CSV "
                                "(UTF-8).")) from error
    header = [name.replace("\x00", "").strip() for name in cells]  # PostgreSQL stores no NUL
    return text, encoding, header, delimiter


def rows_error(line: int) -> ImportFileError:
    """A row csv cannot read (a cell over its field limit, 128 KiB: a quote left open), as the file's error."""
    return ImportFileError(_("The file cannot be read after line %(line)d: save it again as CSV (UTF-8).")
                           % {"line": line})


class CheckedDictReader(csv.DictReader):
    """A DictReader whose csv errors are the whole file's error, naming the last line read."""

    def __next__(self) -> dict:
        try:
            return super().__next__()
        except csv.Error as error:
            raise rows_error(self.line_num + 1) from error  # the header, then the rows read


class _Prefixed(io.RawIOBase):
    """The sample already read, then the rest of the stream: the file read once, in pieces."""

    def __init__(self, prefix: bytes, rest: IO[bytes]) -> None:
        self.prefix, self.rest = prefix, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.prefix:
            size = min(len(buffer), len(self.prefix))
            buffer[:size], self.prefix = self.prefix[:size], self.prefix[size:]
            return size
        data = self.rest.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def map_header(
    header: list[str], columns: tuple[str, ...], *, mapping: dict[str, str] | None = None,
    synonyms: dict[str, str] | None = None,
) -> tuple[list[str], list[str]]:
    """The header renamed to the import's column names and the file's names left unknown. A name is
    taken from ``mapping`` (file header → column or "ignore", compared normalised), else is a column's
    own name, else a synonym's. An ignored column is named "" (the reader drops it)."""
    chosen = {normalise_header(key): value for key, value in (mapping or {}).items()}
    known = {normalise_header(name): name for name in columns}
    known_synonyms = {normalise_header(key): value for key, value in (synonyms or {}).items() if value in columns}
    renamed, unknown = [], []
    for raw in header:
        key = normalise_header(raw)
        target = chosen.get(key) or known.get(key) or known_synonyms.get(key)
        if target == IGNORE:
            renamed.append("")
        elif target:
            renamed.append(target)
        else:
            renamed.append(raw.strip().lower())
            unknown.append(raw)
    return renamed, unknown


def open_csv(
    stream: IO[bytes], columns: tuple[str, ...], required: tuple[str, ...], *, needs_email_or_mobile: bool = False,
    allow_unknown: bool = False, encoding: str = "",
    mapping: dict[str, str] | Callable[[list[str]], dict[str, str]] | None = None,
    synonyms: dict[str, str] | None = None,
) -> tuple[csv.DictReader, list[str]]:
    """A DictReader over the file (``encoding``, or detected: UTF-8 with or without BOM, else
    Windows-1252 and the like; ';', ',' or tab separated) whose header, renamed to the import's
    column names once (``mapping``, or what it answers for the file's header, then ``synonyms``: ``map_header``), names ``required`` columns
    and no others than ``columns`` (and, ``needs_email_or_mobile``, an ``email`` or a ``mobile``
    column: a customer file). ``allow_unknown``: other columns are let through (the caller reports
    and ignores them: the structure import). A line that cannot be decoded raises ImportFileError."""
    text, encoding, raw_header, delimiter = read_header(stream, encoding)
    if callable(mapping):  # the mapping saved for this set of headers
        mapping = mapping(raw_header)
    header, unknown = map_header(raw_header, columns, mapping=mapping, synonyms=synonyms)
    if unknown and not allow_unknown:
        raise ImportFileError(
            _("Unknown column(s): %(unknown)s. Allowed columns: %(allowed)s.")
            % {"unknown": ", ".join(unknown), "allowed": ", ".join(columns)}
        )
    missing = [name for name in required if name not in header]
    if missing:
        raise ImportFileError(_("Missing required column(s): %(missing)s.") % {"missing": ", ".join(missing)})
    if needs_email_or_mobile and "email" not in header and "mobile" not in header:
        raise ImportFileError(_("The file needs an “email” or a “mobile” column."))
    duplicated = {name for name in header if name and header.count(name) > 1}
    if duplicated:
        raise ImportFileError(
            _("Column(s) appear twice: %(names)s.") % {"names": ", ".join(sorted(duplicated))}
        )
    return CheckedDictReader(DecodeErrors(text, encoding), fieldnames=header, delimiter=delimiter, restval=""), header
