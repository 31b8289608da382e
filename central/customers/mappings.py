"""How a CRM file's columns become Relais' columns: the saved mappings of a network (found again by
the file's set of headers), a mapping checked before it is used, and the preview of a file's first
rows with their problems (the upload page's mapping step)."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from typing import IO

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from central.customers import csv_files, importing
from central.customers.columns import COLUMNS, SYNONYMS
from central.customers.csv_files import IGNORE, ImportFileError, normalise_header
from central.models import CustomerImportMapping
from local_stores.models import Network, Node, NodeKind

PREVIEW_ROWS = 10


def header_signature(header: list[str]) -> str:
    """The file's layout: its headers normalised, sorted, joined by "|"."""
    return "|".join(sorted({normalise_header(name) for name in header if name.strip()}))[:2000]


def check_mapping(mapping: object) -> dict[str, str]:
    """``mapping`` as {file header: Relais column or "ignore"}; ValidationError({"mapping": …}) for
    anything else, naming each unknown target column."""
    if not isinstance(mapping, dict) or not all(isinstance(key, str) and isinstance(value, str)
                                                for key, value in mapping.items()):
        raise ValidationError({"mapping": _("Give the mapping as a JSON object: file column → Relais column "
                                            "(or “ignore”).")})
    if any("\x00" in key for key in mapping):  # PostgreSQL stores no NUL
        raise ValidationError({"mapping": _("A file column's name in the mapping contains control characters.")})
    unknown = sorted({value for value in mapping.values() if value not in COLUMNS and value != IGNORE})
    if unknown:
        raise ValidationError({"mapping": _("Unknown Relais column(s): %(unknown)s. Allowed: %(allowed)s or "
                                            "“ignore”.") % {"unknown": ", ".join(unknown),
                                                           "allowed": ", ".join(COLUMNS)}})
    return {key.strip(): value for key, value in mapping.items() if key.strip()}


def mapping_named(*, network: Network, name: str) -> CustomerImportMapping:
    """The network's saved mapping of that name; ValidationError({"mapping": …}) when there is none."""
    found = CustomerImportMapping.objects.filter(network=network, name=name.strip()).first()
    if found is None:
        raise ValidationError({"mapping": _("No saved mapping is named “%(name)s” in this network.")
                                          % {"name": name.strip()[:100]}})
    return found


def mapping_for_header(*, network: Network, header: list[str]) -> CustomerImportMapping | None:
    """The network's saved mapping for files with this set of headers, if any (the latest saved)."""
    return (CustomerImportMapping.objects.filter(network=network, header_signature=header_signature(header))
            .order_by("-updated_at").first())


def mapping_save(
    *, network: Network, header: list[str], mapping: dict[str, str], encoding: str = "", created_by=None,
    name: str = "",
) -> CustomerImportMapping:
    """Save ``mapping`` for the files of this set of headers: the record saved for them before is
    updated (renamed when ``name`` is given); a new one takes ``name`` or a dated one.
    ValidationError({"mapping_name": …}) when another set of headers' mapping has that name. Saves
    of one network are one after the other (its row locked): two at once never clash."""
    mapping, name = check_mapping(mapping), name.strip()[:90]
    signature = header_signature(header)
    with transaction.atomic():
        Network.objects.select_for_update().filter(pk=network.pk).first()
        record = CustomerImportMapping.objects.filter(network=network, header_signature=signature).first()
        taken = CustomerImportMapping.objects.filter(network=network, name=name).exclude(
            pk=record.pk if record is not None else None)
        if name and taken.exists():
            raise ValidationError({"mapping_name": _("A mapping of other columns is already named “%(name)s”: "
                                                     "choose another name.") % {"name": name}})
        if record is None:
            base = name or (_("Columns of %(date)s") % {"date": f"{timezone.localdate():%Y-%m-%d}"})[:90]
            name, number = base, 1
            while CustomerImportMapping.objects.filter(network=network, name=name).exists():
                number += 1
                name = f"{base} ({number})"
            record = CustomerImportMapping(network=network, header_signature=signature)
        if name:
            record.name = name
        record.mapping, record.encoding, record.created_by = mapping, encoding, created_by
        record.save()
    return record


def resolve_mapping(*, network: Network, header: list[str], mapping: dict[str, str]) -> dict[str, str]:
    """The mapping to read a file with: the one given, else the one saved for its headers, else none."""
    if mapping:
        return mapping
    saved = mapping_for_header(network=network, header=header)
    return dict(saved.mapping) if saved is not None else {}


@dataclass
class Preview:
    """A file's header (as written), its encoding and delimiter, the headers neither a column nor a
    synonym nor mapped, and its first rows ({"line", "cells", "errors": [RowError]})."""

    header: list[str]
    encoding: str
    delimiter: str
    unknown: list[str]
    guessed: dict[str, str] = field(default_factory=dict)
    rows: list[dict] = field(default_factory=list)
    file_error: str = ""


def preview(
    stream: IO[bytes], *, network: Network, encoding: str = "", mapping: dict[str, str] | None = None
) -> Preview:
    """What the mapping step shows: the file read with ``mapping`` (or the network's saved one for its
    headers), its unknown headers, and its first ``PREVIEW_ROWS`` rows checked as the import would."""
    text, used_encoding, raw_header, delimiter = csv_files.read_header(stream, encoding)
    mapping = resolve_mapping(network=network, header=raw_header, mapping=mapping or {})
    renamed, unknown = csv_files.map_header(raw_header, COLUMNS, mapping=mapping, synonyms=SYNONYMS)
    result = Preview(header=raw_header, encoding=used_encoding, delimiter=delimiter, unknown=unknown,
                     guessed={raw: name for raw, name in zip(raw_header, renamed, strict=True) if name in COLUMNS})
    branch_ids = dict(Node.objects.filter(network=network, kind=NodeKind.BRANCH, is_active=True)
                      .values_list("code", "id"))
    validator = importing.RowValidator(branch_ids=branch_ids, default_source="preview", now=timezone.now())
    reader = csv.reader(csv_files.DecodeErrors(text, used_encoding), delimiter=delimiter)
    try:
        for line, cells in enumerate(reader, start=2):
            if len(result.rows) >= PREVIEW_ROWS:
                break
            row: dict = {name: cells[index] if index < len(cells) else "" for index, name in enumerate(renamed)}
            if len(cells) > len(renamed):
                row[None] = cells[len(renamed):]
            _staged, errors = validator.validate(line, row)
            result.rows.append({"line": line, "cells": cells[:len(raw_header)],
                                "errors": errors})
    except ImportFileError as error:
        result.file_error = str(error)
    except csv.Error:  # a cell over csv's field limit (a quote left open)
        result.file_error = str(csv_files.rows_error(result.rows[-1]["line"] if result.rows else 1))
    return result
