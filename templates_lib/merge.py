"""The template language authors may use: merge fields, and nothing else.

A template's source is MJML (email), text (SMS) or HTML (print) in which the only dynamic parts
are merge fields written ``{{ namespace.name }}`` (``{{ slot.offer.amount }}`` for a part of a
price slot). Every other use of ``{{``, ``}}``, ``{%`` or ``{#`` is refused when the template is
saved, with its line number, and so is an unknown field or slot. There are no loops, filters,
attribute lookups or includes: a value can never become code.

Rendering happens in two phases:

* **variant** (once per template version × slot values × branch × campaign): slot, branch,
  campaign and asset fields are replaced by their (escaped) values; recipient and system fields
  are replaced by placeholders carrying a random nonce, which no value can forge;
* **recipient** (once per message): the placeholders are replaced by the recipient's values.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from django.utils.translation import gettext as _

# Fields a template may use, per namespace. Slots and assets are checked against the version's
# declared slots and the network's asset library.
RECIPIENT_FIELDS = ("civility", "first_name", "last_name", "full_name", "email", "city")
BRANCH_FIELDS = (
    "name",
    "address",
    "postal_code",
    "city",
    "phone",
    "email",
    "opening_hours",
    "signature",
    "manager_name",
    "logo_url",
    "website_url",
    "facebook_url",
    "instagram_url",
)
CAMPAIGN_FIELDS = ("offer_code", "start_date", "end_date", "send_date")
SYSTEM_FIELDS = ("unsubscribe_url", "view_online_url", "stop_mention")
PRICE_PARTS = ("amount", "conditions")

#: Namespaces resolved per recipient (the rest are resolved once per variant).
PER_RECIPIENT = frozenset({"recipient", "system"})

_FIELD = re.compile(r"\{\{\s*([a-z]+)\.([a-z0-9_]+)(?:\.([a-z]+))?\s*\}\}")
_ANY_TAG = re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}")


@dataclass(frozen=True)
class FieldRef:
    namespace: str
    name: str
    part: str = ""

    @property
    def key(self) -> str:
        return ".".join(filter(None, (self.namespace, self.name, self.part)))


@dataclass(frozen=True)
class SourceError:
    line: int
    message: str

    def __str__(self) -> str:
        return _("line %(line)d: %(message)s") % {"line": self.line, "message": self.message}


def line_of(source: str, offset: int) -> int:
    return source.count("\n", 0, offset) + 1


def check_source(
    source: str,
    *,
    slots: Mapping[str, str],
    assets: Iterable[str] = (),
    allowed_namespaces: Iterable[str] | None = None,
) -> list[SourceError]:
    """Every problem of ``source``'s merge fields, with its line. ``slots`` maps each declared
    slot name to its type; ``assets`` are the public ids of the network's library."""
    errors: list[SourceError] = []
    known = {
        "recipient": set(RECIPIENT_FIELDS),
        "branch": set(BRANCH_FIELDS),
        "campaign": set(CAMPAIGN_FIELDS),
        "system": set(SYSTEM_FIELDS),
        "slot": set(slots),
        "asset": set(assets),
    }
    allowed = set(allowed_namespaces) if allowed_namespaces is not None else set(known)
    covered: list[tuple[int, int]] = []
    for match in _FIELD.finditer(source):
        covered.append(match.span())
        namespace, name, part = match.groups()
        line = line_of(source, match.start())
        if namespace not in known or namespace not in allowed:
            errors.append(
                SourceError(line, _("unknown merge field “%(field)s”.") % {"field": match.group(0)})
            )
        elif name not in known[namespace]:
            if namespace == "slot":
                message = _("“%(field)s” uses a slot that is not declared.") % {"field": match.group(0)}
            elif namespace == "asset":
                message = _("“%(field)s” is not an image of the asset library.") % {"field": match.group(0)}
            else:
                message = _("unknown merge field “%(field)s”. Allowed: %(allowed)s.") % {
                    "field": match.group(0),
                    "allowed": ", ".join(f"{namespace}.{f}" for f in sorted(known[namespace])),
                }
            errors.append(SourceError(line, message))
        elif part and not (namespace == "slot" and slots.get(name) == "price" and part in PRICE_PARTS):
            errors.append(
                SourceError(
                    line,
                    _("“%(field)s”: only a price slot has parts (amount, conditions).")
                    % {"field": match.group(0)},
                )
            )
    for match in _ANY_TAG.finditer(source):
        if not any(start <= match.start() < end for start, end in covered):
            errors.append(
                SourceError(
                    line_of(source, match.start()),
                    _(
                        "“%(tag)s” is not allowed: the only dynamic parts are merge fields such as {{ recipient.first_name }}."
                    )
                    % {"tag": match.group(0)},
                )
            )
    errors.sort(key=lambda error: error.line)
    return errors


def fields_used(source: str) -> set[FieldRef]:
    return {FieldRef(*(part or "" for part in match.groups())) for match in _FIELD.finditer(source)}


@dataclass(frozen=True)
class Compiled:
    """A variant's output with the per-recipient fields still open: literal chunks interleaved
    with the fields to merge (``chunks`` has one more item than ``fields``)."""

    chunks: tuple[str, ...]
    fields: tuple[FieldRef, ...]

    def merge(self, values: Mapping[str, str]) -> str:
        """Fill the per-recipient fields (``values`` keyed like ``recipient.first_name``); the
        values must already be escaped for the output's context."""
        if not self.fields:
            return self.chunks[0]
        parts = [self.chunks[0]]
        for field, chunk in zip(self.fields, self.chunks[1:], strict=True):
            parts.append(values.get(field.key, ""))
            parts.append(chunk)
        return "".join(parts)

    def bind(self, resolve: Callable[[FieldRef], str]) -> Compiled:
        """Fill the per-variant fields with ``resolve``'s (escaped) values and keep the
        per-recipient ones open: the result is the variant, ready for ``merge``."""
        chunks = [self.chunks[0]]
        fields: list[FieldRef] = []
        for field, chunk in zip(self.fields, self.chunks[1:], strict=True):
            if field.namespace in PER_RECIPIENT:
                fields.append(field)
                chunks.append(chunk)
            else:
                chunks[-1] += resolve(field) + chunk
        return Compiled(chunks=tuple(chunks), fields=tuple(fields))


def open_all(source: str, renderer: VariantRenderer) -> str:
    """Replace every merge field of ``source`` by a placeholder of ``renderer`` (per-variant ones
    included): the output can then go through MJML and the CSS inliner, which re-serialise HTML,
    before any value is inserted — so that the values' escaping survives."""
    return renderer.substitute(source, renderer.placeholder)


class VariantRenderer:
    """Phase one: substitute the per-variant fields and mark the per-recipient ones. One renderer
    may substitute several sources (subject, body) and then split each output."""

    def __init__(self) -> None:
        self.nonce = secrets.token_hex(6)
        self.fields: list[FieldRef] = []
        self._pattern = re.compile(rf"RLS{self.nonce}X(\d+)Z")

    def substitute(self, source: str, resolve: Callable[[FieldRef], str]) -> str:
        """``resolve`` gives each per-variant field's value, already escaped for the output."""

        def replace(match: re.Match) -> str:
            ref = FieldRef(*(part or "" for part in match.groups()))
            if ref.namespace in PER_RECIPIENT:
                return self.placeholder(ref)
            return resolve(ref)

        return _FIELD.sub(replace, source)

    def placeholder(self, ref: FieldRef) -> str:
        self.fields.append(ref)
        return f"RLS{self.nonce}X{len(self.fields) - 1}Z"

    def split(self, output: str) -> Compiled:
        """Cut an output (after MJML, CSS inlining…) at the placeholders it still carries."""
        pieces = self._pattern.split(output)
        return Compiled(chunks=tuple(pieces[0::2]), fields=tuple(self.fields[int(i)] for i in pieces[1::2]))
