"""Writes for the brand kit (issue 20): the kit itself, uploaded fonts, and applying a changed kit
to the templates built on it (as new drafts only, through ``brand_kit_documents.apply_kit``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import nh3
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from local_stores.models import Network
from templates_lib import merge
from templates_lib.brand_kit import BrandKit, FontFile, FontFormat
from templates_lib.brand_kit_documents import apply_kit, has_source_block, kit_values
from templates_lib.models import Asset, Template, TemplateKind, VersionStatus
from templates_lib.services import _require_manager, draft_update, version_new_draft

FONT_MAX_BYTES = 2 * 1024 * 1024
FOOTER_MAX_CHARS = 4000
FOOTER_TAGS = {"p", "br", "b", "strong", "i", "em", "a", "span"}
_COLOUR = re.compile(r"^#[0-9a-f]{6}$")
_RADIUS = re.compile(r"^(\d{1,2})(px)?$")
_FONT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 \-]{0,59}$")
_FONT_SIGNATURES = {b"wOF2": FontFormat.WOFF2, b"wOFF": FontFormat.WOFF, b"\x00\x01\x00\x00": FontFormat.TTF,
                    b"true": FontFormat.TTF, b"OTTO": FontFormat.TTF}
COLOUR_FIELDS = ("primary_color", "accent_color", "background_color", "text_color", "button_background",
                 "button_color")
KIT_FIELDS = {*COLOUR_FIELDS, "font_stack", "font_file", "logo", "button_radius", "footer_html"}
UNSUBSCRIBE = merge.FieldRef("system", "unsubscribe_url")

def font_stacks() -> list[tuple[str, str]]:
    """The web-safe font stacks a kit may choose (label, CSS stack), from the block document module."""
    from templates_lib.blocks.document import FONT_STACKS

    if isinstance(FONT_STACKS, dict):
        return [(str(label), stack) for label, stack in FONT_STACKS.items()]
    return [(stack.split(",")[0].strip("'\" "), stack) for stack in FONT_STACKS]


# --- Fonts ---------------------------------------------------------------------------------------


def _font_format(data: bytes) -> str | None:
    """The font's format read from its header, then the whole font read by fontTools; None when
    the file is not a font fontTools can read."""
    import io

    from fontTools.ttLib import TTFont, TTLibError

    font_format = _FONT_SIGNATURES.get(data[:4])
    if font_format is None:
        return None
    try:
        with TTFont(io.BytesIO(data)) as font:
            font["name"]  # a font without its naming table is not one a mail client can use
            font["cmap"]
    except (TTLibError, KeyError, AssertionError, ValueError, OSError, EOFError, Exception):
        return None
    return font_format


@transaction.atomic
def font_upload(*, network: Network, uploaded_file: UploadedFile, name: str, uploaded_by) -> FontFile:
    """Add a font for the network's e-mails: WOFF2, WOFF or TrueType, at most 2 MB, checked by
    reading it; its @font-face stylesheet is written beside it."""
    _require_manager(uploaded_by, network)
    name = " ".join(name.split())
    if not _FONT_NAME.match(name):
        raise ValidationError({"font_name": _(
            "Give the font a name of letters, digits, spaces or hyphens (at most 60), e.g. Brand Sans.")})
    if uploaded_file.size > FONT_MAX_BYTES:
        raise ValidationError({"font_upload": _("The font file weighs more than 2 MB.")})
    data = uploaded_file.read()
    font_format = _font_format(data)
    if font_format is None:
        raise ValidationError({"font_upload": _(
            "This file is not a font Relais can read: use a WOFF2, WOFF or TrueType (.ttf) font.")})
    extension = {FontFormat.WOFF2: "woff2", FontFormat.WOFF: "woff", FontFormat.TTF: "ttf"}[font_format]
    font = FontFile(network=network, name=name, format=font_format, size=len(data), uploaded_by=uploaded_by)
    font.file.save(f"{font.public_id}.{extension}", ContentFile(data), save=False)
    file_name = font.file.name.rsplit("/", 1)[-1]
    css = (f"@font-face {{ font-family: '{name}'; src: url('{file_name}') format('{font_format}'); "
           "font-display: swap; }\n")
    font.stylesheet.save(f"{font.public_id}.css", ContentFile(css.encode()), save=False)
    font.save()
    return font


# --- The kit ------------------------------------------------------------------------------------


def clean_footer(html: str) -> str:
    return nh3.clean(html.replace("\r\n", "\n").replace("\r", "\n").strip(), tags=FOOTER_TAGS,
                     attributes={"a": {"href"}}, url_schemes={"http", "https", "mailto"}, link_rel=None)


def _validate(network: Network, values: dict[str, object]) -> dict[str, object]:
    errors: dict[str, list[str]] = {}
    cleaned = dict(values)
    for name in COLOUR_FIELDS:
        if name in values:
            colour = str(values[name] or "").strip().lower()
            if not _COLOUR.match(colour):
                errors[name] = [_("Give a colour as # and six hexadecimal digits, e.g. #6b1d2a.")]
            cleaned[name] = colour
    if "font_stack" in values and values["font_stack"] not in {stack for _label, stack in font_stacks()}:
        errors["font_stack"] = [_("Choose one of the fonts every mail client has.")]
    font_file = values.get("font_file")
    if font_file is not None and (not isinstance(font_file, FontFile) or font_file.network_id != network.pk):
        errors["font_file"] = [_("Choose a font uploaded for this network.")]
    logo = values.get("logo")
    if logo is not None and (not isinstance(logo, Asset) or logo.network_id != network.pk or logo.is_archived):
        errors["logo"] = [_("Choose the logo among the images of the network's library.")]
    if "button_radius" in values:
        match = _RADIUS.match(str(values["button_radius"] or "").strip())
        if not match or int(match.group(1)) > 40:
            errors["button_radius"] = [_("Give the corner radius in pixels, from 0 to 40, e.g. 4px.")]
        else:
            cleaned["button_radius"] = f"{int(match.group(1))}px"
    if "footer_html" in values:
        footer = clean_footer(str(values["footer_html"] or ""))
        cleaned["footer_html"] = footer
        problems: list[str] = []
        if len(footer) > FOOTER_MAX_CHARS:
            problems.append(_("The footer is longer than %(max)d characters.") % {"max": FOOTER_MAX_CHARS})
        if UNSUBSCRIBE not in merge.fields_used(footer):
            problems.append(_("The footer must contain the unsubscribe link {{ system.unsubscribe_url }}."))
        text = re.sub(r"\{\{.*?\}\}", "", nh3.clean(footer, tags=set())).strip()
        if len(text) < 20:
            problems.append(_("The footer must carry the legal mentions (company name, address, registration)."))
        problems.extend(str(problem) for problem in merge.check_source(
            footer, slots={}, allowed_namespaces={"recipient", "branch", "system", "campaign"}))
        if problems:
            errors["footer_html"] = problems
    if errors:
        raise ValidationError(errors)
    return cleaned


@dataclass
class KitUpdate:
    kit: BrandKit
    created: bool
    drafts: list[Template] = field(default_factory=list)
    skipped: list[Template] = field(default_factory=list)

    @property
    def message(self) -> str:
        """What happened, for head office: the kit saved and how many templates have a new draft."""
        count = len(self.drafts)
        if count == 0:
            text = _("Brand kit saved. No template needed a new draft.")
        else:
            text = ngettext("Brand kit saved. %(count)d template has a new draft with the new brand kit.",
                            "Brand kit saved. %(count)d templates have a new draft with the new brand kit.",
                            count) % {"count": count}
        if self.skipped:
            text += " " + ngettext(
                "%(count)d template's draft could not take it (its draft has errors): %(names)s.",
                "%(count)d templates' drafts could not take it (their drafts have errors): %(names)s.",
                len(self.skipped)) % {"count": len(self.skipped), "names": ", ".join(t.name for t in self.skipped)}
        return text


@transaction.atomic
def kit_update(*, network: Network, edited_by, **fields: object) -> KitUpdate:
    """Create or change the network's brand kit (head office template managers only); then every
    e-mail template built on the previous kit gets a draft with the new one. Published versions
    never change."""
    _require_manager(edited_by, network)
    unknown = set(fields) - KIT_FIELDS
    if unknown:
        raise ValidationError(_("Unknown fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))})
    kit = BrandKit.objects.select_for_update(of=("self",)).filter(network=network).select_related("font_file", "logo").first()
    created = kit is None
    if created and "footer_html" not in fields:
        raise ValidationError({"footer_html": [_("The footer must contain the unsubscribe link {{ system.unsubscribe_url }}.")]})
    cleaned = _validate(network, fields)
    previous = kit_values(kit)
    kit = kit or BrandKit(network=network)
    for name, value in cleaned.items():
        setattr(kit, name, value)
    kit.updated_by = edited_by
    kit.save()
    result = KitUpdate(kit=kit, created=created)
    if previous is not None and previous != kit_values(kit):
        _redraft(result, network, previous, edited_by)
    return result


def _redraft(result: KitUpdate, network: Network, previous: dict[str, object], user) -> None:
    from templates_lib.blocks.from_mjml import parse
    from templates_lib.blocks.to_mjml import to_mjml

    templates = Template.objects.filter(network=network, kind=TemplateKind.EMAIL, is_archived=False).order_by("name")
    for template in templates:
        latest = template.versions.order_by("-number").first()
        if latest is None:
            continue
        parsed = parse(latest.body)
        if parsed.problems or has_source_block(parsed.document):
            continue
        body = to_mjml(apply_kit(parsed.document, result.kit, previous)).source
        if body == to_mjml(parsed.document).source:
            continue
        sid = transaction.savepoint()
        try:
            draft = latest if latest.status == VersionStatus.DRAFT else version_new_draft(template=template, created_by=user)
            draft_update(version=draft, edited_by=user, body=body)
        except ValidationError:
            transaction.savepoint_rollback(sid)
            result.skipped.append(template)
        else:
            transaction.savepoint_commit(sid)
            result.drafts.append(template)
