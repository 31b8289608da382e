"""The visual editor's services, called by its views: read a draft as blocks, check and save a
document as the draft's MJML (through ``services.draft_update``: one source of truth), and
preview an unsaved document.

Every problem comes back keyed by block id (or ``"document"``) and by field (subject, preheader,
slots); with any problem nothing is saved. The network's brand kit font is always offered (besides
the web-safe stacks and any ``extra_fonts`` given).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from templates_lib import previews, rendering, services, slots
from templates_lib.blocks.checks import check, check_version_source
from templates_lib.blocks.document import normalise
from templates_lib.blocks.from_mjml import ParseResult, parse
from templates_lib.blocks.to_mjml import MjmlOutput, to_mjml
from templates_lib.brand_kit import kit_font_families
from templates_lib.models import TemplateVersion


class BlockErrors(ValidationError):
    """Problems of a document: ``by_block`` (block id or ``"document"`` → messages) and
    ``by_field`` (``subject``, ``preheader``, ``slots`` → messages)."""

    def __init__(self, by_block: dict[str, list[str]], by_field: dict[str, list[str]] | None = None) -> None:
        self.by_block = {key: list(messages) for key, messages in by_block.items() if messages}
        self.by_field = {key: list(messages) for key, messages in (by_field or {}).items() if messages}
        merged: dict[str, list[str]] = {}
        for source in (self.by_block, self.by_field):
            for key, messages in source.items():
                merged.setdefault(key, []).extend(messages)
        super().__init__(merged or {"document": [_("The document could not be saved.")]})


@dataclass
class PreviewResult:
    html: str | None
    errors: dict[str, list[str]] = field(default_factory=dict)
    by_block: dict[str, list[str]] = field(default_factory=dict)
    by_field: dict[str, list[str]] = field(default_factory=dict)


def document_for(version: TemplateVersion) -> ParseResult:
    """The version's MJML as a block document, with what could not be read as blocks."""
    return parse(version.body)


def _merge(target: dict[str, list[str]], extra: dict[str, list[str]]) -> None:
    for key, messages in extra.items():
        for message in messages:
            if message not in target.setdefault(key, []):
                target[key].append(message)


def _checked(
    *, version: TemplateVersion, document: object, slot_list: list, subject: str, preheader: str,
    extra_fonts: Iterable[str],
) -> tuple[dict, MjmlOutput, list[dict]]:
    """The clean document, its MJML and the slot declarations; BlockErrors if anything is wrong."""
    try:
        clean = normalise(document)
    except ValidationError as error:
        raise BlockErrors(error.message_dict) from error
    by_field: dict[str, list[str]] = {}
    declarations: list[dict] = []
    if not isinstance(slot_list, list) or not all(isinstance(item, dict) for item in slot_list):
        by_field["slots"] = [_("The slots are a list of slot declarations.")]
        slot_list = []
    try:
        declarations = [d.as_dict() for d in slots.parse_definitions(slot_list, kind=version.template.kind)]
    except ValidationError as error:
        _merge(by_field, {"slots": error.messages})
    network = version.template.network
    by_block = check(clean, network=network, slot_definitions=declarations or slot_list,
                     extra_fonts=[*extra_fonts, *kit_font_families(network)])
    output = to_mjml(clean)
    source_by_block, source_by_field = check_version_source(
        version=version, output=output, slots=slot_list, subject=subject, preheader=preheader
    )
    _merge(by_block, source_by_block)
    _merge(by_field, source_by_field)
    if by_block or by_field:
        raise BlockErrors(by_block, by_field)
    return clean, output, declarations


def save_document(
    *, version: TemplateVersion, document: object, slots: list, subject: str, preheader: str, edited_by,
    extra_fonts: Iterable[str] = (),
) -> TemplateVersion:
    """Check ``document`` and save it as the draft's MJML (with its slots, subject and preheader);
    BlockErrors, and nothing saved, on any problem. PermissionDenied if ``edited_by`` does not
    manage the network's templates."""
    if version.is_published:
        raise BlockErrors({"document": [_("A published version never changes: create a new version instead.")]})
    subject, preheader = str(subject or ""), str(preheader or "")
    _clean, output, _declarations = _checked(
        version=version, document=document, slot_list=slots, subject=subject, preheader=preheader,
        extra_fonts=extra_fonts,
    )
    try:
        return services.draft_update(
            version=version, edited_by=edited_by, body=output.source, slots=slots, subject=subject,
            preheader=preheader,
        )
    except ValidationError as error:
        if hasattr(error, "error_dict"):
            by_field = error.message_dict
            body = by_field.pop("body", [])
            raise BlockErrors({"document": body} if body else {}, by_field) from error
        raise BlockErrors({"document": error.messages}) from error


def preview_document(
    *, version: TemplateVersion, document: object, slots: list, subject: str, preheader: str,
    extra_fonts: Iterable[str] = (),
) -> PreviewResult:
    """The e-mail an unsaved document makes, with the slots' default values and no branch (or the
    problems that stop it). Nothing is written to the database."""
    subject, preheader = str(subject or ""), str(preheader or "")
    try:
        _clean, output, declarations = _checked(
            version=version, document=document, slot_list=slots, subject=subject, preheader=preheader,
            extra_fonts=extra_fonts,
        )
    except BlockErrors as error:
        return PreviewResult(html=None, errors=error.message_dict, by_block=error.by_block, by_field=error.by_field)
    candidate = copy.copy(version)
    candidate.body, candidate.subject, candidate.preheader = output.source, subject, preheader
    candidate.slots = declarations
    candidate.content_hash = ""
    defaults = {d["name"]: d["default"] for d in declarations if d.get("default") is not None}
    try:
        values = services.slot_values_clean(version=candidate, values=defaults)
    except ValidationError:
        values = {}
    context = rendering.VariantContext(slot_values=values, campaign=previews.SAMPLE_CAMPAIGN)
    try:
        rendered = previews.render_for_kind(candidate, context)
    except rendering.RenderError as error:
        return PreviewResult(html=None, errors={"document": [str(error)]}, by_block={"document": [str(error)]})
    return PreviewResult(html=rendered.html)
