"""Writes to the template library: templates, versions, assets and content rules.

Every check an author needs happens when a draft is saved (merge fields and slots with their line
numbers, MJML validity, the SMS opt-out mention), so nothing is discovered at send time.
"""

from __future__ import annotations

import re

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from local_stores.models import Network
from templates_lib import merge, previews, rendering, slots
from templates_lib.brand_kit import network_font_stylesheets
from templates_lib.brand_kit_documents import kit_starter
from templates_lib.models import (
    Asset,
    ContentRules,
    PrintFormat,
    Template,
    TemplateKind,
    TemplateVersion,
    VersionStatus,
)
from templates_lib.selectors import (
    current_draft,
    guardrails_for,
    live_asset_ids,
    live_asset_tags,
    networks_managed_by,
)
from templates_lib.source_scan import email_source_problems

ASSET_MAX_BYTES = 5 * 1024 * 1024
ASSET_MAX_SIDE = 6000
ASSET_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}

STARTER_BODIES = {
    TemplateKind.EMAIL: (
        '<mjml>\n  <mj-body background-color="#f4f4f4">\n    <mj-section background-color="#ffffff">\n'
        '      <mj-column>\n        <mj-text font-size="20px">{{ slot.headline }}</mj-text>\n'
        "        <mj-text>Bonjour {{ recipient.first_name }},</mj-text>\n"
        "        <mj-text>{{ branch.name }} — {{ branch.address }}</mj-text>\n"
        '        <mj-text font-size="11px"><a href="{{ system.unsubscribe_url }}">Se désinscrire</a></mj-text>\n'
        "      </mj-column>\n    </mj-section>\n  </mj-body>\n</mjml>\n"
    ),
    TemplateKind.SMS: "{{ branch.name }} : {{ slot.headline }} {{ system.stop_mention }}",
    TemplateKind.PRINT: "<h1>{{ slot.headline }}</h1>\n<p>{{ branch.name }}<br>{{ branch.address }}</p>\n",
}
STARTER_SLOTS = [
    {
        "name": "headline",
        "type": "short_text",
        "label": "Titre",
        "max_length": 80,
        "required": True,
        "default": "Nos nouveautés",
    }
]


def _require_manager(user, network: Network) -> None:
    if not networks_managed_by(user).filter(pk=network.pk).exists():
        raise PermissionDenied(_("You do not manage the templates of this network."))


@transaction.atomic
def template_create(*, network: Network, kind: str, name: str, created_by, description: str = "") -> Template:
    """A new template with its first draft (a small starter content to edit)."""
    _require_manager(created_by, network)
    if kind not in TemplateKind.values:
        raise ValidationError({"kind": _("Choose e-mail, SMS or print.")})
    if not name.strip():
        raise ValidationError({"name": _("Give the template a name.")})
    template = Template.objects.create(
        network=network, kind=kind, name=name.strip()[:120], description=description, created_by=created_by
    )
    body, starter_slots = STARTER_BODIES[kind], STARTER_SLOTS
    if kind == TemplateKind.EMAIL:

        body, starter_slots = kit_starter(network) or (body, starter_slots)
    TemplateVersion.objects.create(
        template=template,
        number=1,
        body=body,
        slots=starter_slots,
        created_by=created_by,
        subject="{{ slot.headline }}" if kind == TemplateKind.EMAIL else "",
        print_format=PrintFormat.A5_PORTRAIT if kind == TemplateKind.PRINT else "",
    )
    return template


def version_check(version: TemplateVersion, *, lines: dict[str, dict[str, int]] | None = None) -> dict[str, list[str]]:
    """Every problem of a version's content, by field (empty when it is sound). ``lines``, if
    given, receives the line of each message that has one, by field (for the source editor)."""
    errors: dict[str, list[str]] = {}
    lines = {} if lines is None else lines
    kind = version.template.kind
    try:
        definitions = slots.parse_definitions(version.slots, kind=kind)
    except ValidationError as error:
        errors["slots"] = error.messages
        definitions = []
    slot_types = {definition.name: definition.type for definition in definitions}
    assets = live_asset_ids(version.template.network)
    namespaces = {"recipient", "branch", "campaign", "system", "slot"}
    if kind != TemplateKind.SMS:
        namespaces.add("asset")
    sources = {"body": version.body}
    if kind == TemplateKind.EMAIL:
        sources["subject"] = version.subject
        sources["preheader"] = version.preheader
    if kind == TemplateKind.PRINT:
        sources["css"] = version.css
    for name, source in sources.items():
        if len(source) > rendering.SOURCE_MAX_CHARS:
            errors.setdefault(name, []).append(
                _("The source is longer than %(max)d characters.") % {"max": rendering.SOURCE_MAX_CHARS}
            )
        problems = merge.check_source(
            source, slots=slot_types, assets=assets, allowed_namespaces=set() if name == "css" else namespaces
        )
        if problems:
            errors.setdefault(name, []).extend(str(problem) for problem in problems)
            lines.setdefault(name, {}).update((str(problem), problem.line) for problem in problems)
    if re.search(r"<\s*mj-include", version.body, re.IGNORECASE):
        errors.setdefault("body", []).append(_("mj-include is not allowed: a template is self-contained."))
    if kind == TemplateKind.EMAIL:
        dangers = email_source_problems(version.body, fonts=network_font_stylesheets(version.template.network))
        for problem in dangers:
            errors.setdefault("body", []).append(str(problem))
            lines.setdefault("body", {})[str(problem)] = problem.line
        if not version.subject.strip():
            errors.setdefault("subject", []).append(_("An e-mail needs a subject."))
        if merge.FieldRef("system", "unsubscribe_url") not in merge.fields_used(version.body):
            errors.setdefault("body", []).append(
                _("A marketing e-mail must contain the unsubscribe link {{ system.unsubscribe_url }}.")
            )
        if "body" not in errors:
            try:
                rendering.mjml_to_html(version.body)
            except rendering.RenderError as error:
                errors.setdefault("body", []).append(str(error))
                if error.line:
                    lines.setdefault("body", {})[str(error)] = error.line
    if kind == TemplateKind.SMS and not any(
        ref.namespace == "system" and ref.name == "stop_mention" for ref in merge.fields_used(version.body)
    ):
        errors.setdefault("body", []).append(
            _("A marketing SMS must contain the opt-out mention {{ system.stop_mention }}.")
        )
    if kind == TemplateKind.PRINT and version.print_format not in PrintFormat.values:
        errors.setdefault("print_format", []).append(_("Choose a print format."))
    return errors


@transaction.atomic
def draft_update(*, version: TemplateVersion, edited_by, **fields: object) -> TemplateVersion:
    """Change a draft's content; ValidationError (by field, with line numbers) if unsound.
    A published version is refused: it never changes."""
    _require_manager(edited_by, version.template.network)
    version = (
        TemplateVersion.objects.select_for_update().select_related("template__network").get(pk=version.pk)
    )
    if version.is_published:
        raise ValidationError(_("A published version never changes: create a new version instead."))
    allowed = {"subject", "preheader", "body", "css", "print_format", "slots"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError(_("Unknown fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))})
    for name, value in fields.items():
        setattr(version, name, value)
    errors = version_check(version)
    if errors:
        raise ValidationError(errors)
    definitions = slots.parse_definitions(version.slots, kind=version.template.kind)
    version.slots = [definition.as_dict() for definition in definitions]
    version.save()
    return version


@transaction.atomic
def version_publish(*, version: TemplateVersion, published_by) -> TemplateVersion:
    """Publish a draft: from now on it never changes. Its defaults must pass the network's rules
    and it must render, so that a branch starting from it gets a sound message."""
    _require_manager(published_by, version.template.network)
    version = (
        TemplateVersion.objects.select_for_update().select_related("template__network").get(pk=version.pk)
    )
    if version.is_published:
        raise ValidationError(_("This version is already published."))
    errors = version_check(version)
    if errors:
        raise ValidationError(errors)
    definitions = rendering.version_slots(version)
    network = version.template.network
    assets = live_asset_tags(network)
    untagged = _tags_without_images(definitions, assets)
    if untagged:
        raise ValidationError({"slots": untagged})
    try:
        defaults = slots.clean_values(
            definitions,
            {d.name: d.default for d in definitions if d.default is not None},
            guardrails=guardrails_for(network),
            asset_ids=assets,
            asset_tags=assets,
        )
    except ValidationError as error:
        raise ValidationError(
            {"slots": [_("The default values must pass the network's rules:"), *error.messages]}
        ) from error
    try:
        previews.render_for_kind(version, rendering.VariantContext(slot_values=defaults))
    except rendering.RenderError as error:
        raise ValidationError({"body": [str(error)]}) from error
    version.content_hash = version.compute_hash()
    version.status = VersionStatus.PUBLISHED
    version.published_at = timezone.now()
    version.published_by = published_by
    TemplateVersion.objects.filter(pk=version.pk).update(
        status=version.status,
        content_hash=version.content_hash,
        published_at=version.published_at,
        published_by=published_by,
    )
    return version


def _tags_without_images(definitions: list[slots.SlotDefinition], assets: dict[str, str]) -> list[str]:
    """A message per image slot limited to a tag that no image of the library carries (a branch
    would have nothing to choose from)."""
    return [
        _("%(label)s: no image of the library is tagged “%(tag)s”.") % {"label": d.label, "tag": d.tag}
        for d in definitions
        if d.type == slots.IMAGE and d.tag and not any(slots.asset_has_tag(t, d.tag) for t in assets.values())
    ]


@transaction.atomic
def version_new_draft(*, template: Template, created_by) -> TemplateVersion:
    """Start the next version from the latest one (the existing draft, if any, is returned)."""
    _require_manager(created_by, template.network)
    Template.objects.select_for_update().filter(pk=template.pk).first()
    draft = current_draft(template)
    if draft:
        return draft
    latest = template.versions.order_by("-number").first()
    return TemplateVersion.objects.create(
        template=template,
        number=latest.number + 1,
        subject=latest.subject,
        preheader=latest.preheader,
        body=latest.body,
        css=latest.css,
        print_format=latest.print_format,
        slots=latest.slots,
        created_by=created_by,
    )


def template_set_archived(*, template: Template, archived: bool, changed_by) -> Template:
    """Archive (hide from branches) or restore a template; its versions stay as they are."""
    _require_manager(changed_by, template.network)
    Template.objects.filter(pk=template.pk).update(is_archived=archived)
    template.is_archived = archived
    return template


def _normalise_tags(tags: str) -> str:
    cleaned = [slugify(tag) for tag in re.split(r"[,|]", tags)]  # "Noël" → "noel"
    cleaned = [tag[:30] for tag in dict.fromkeys(cleaned) if tag]
    return "," + ",".join(cleaned) + "," if cleaned else ""


@transaction.atomic
def asset_upload(
    *, network: Network, uploaded_file: UploadedFile, name: str, tags: str, uploaded_by
) -> Asset:
    """Add an image to the library: PNG, JPEG, WebP or GIF (no SVG: it can carry script), at most
    5 MB and 6000 px a side, checked by decoding it."""
    _require_manager(uploaded_by, network)
    if uploaded_file.size > ASSET_MAX_BYTES:
        raise ValidationError({"file": _("The image weighs more than 5 MB.")})
    try:
        with Image.open(uploaded_file) as image:
            image_format = image.format
            width, height = image.size
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ValidationError({"file": _("This file is not an image Relais can read.")}) from error
    if image_format not in ASSET_FORMATS:
        raise ValidationError({"file": _("Use a PNG, JPEG, WebP or GIF image.")})
    if max(width, height) > ASSET_MAX_SIDE:
        raise ValidationError(
            {"file": _("The image is larger than %(side)d pixels.") % {"side": ASSET_MAX_SIDE}}
        )
    uploaded_file.seek(0)
    return Asset.objects.create(
        network=network,
        name=(name.strip() or uploaded_file.name)[:120],
        file=uploaded_file,
        content_type=ASSET_FORMATS[image_format],
        size=uploaded_file.size,
        tags=_normalise_tags(tags),
        uploaded_by=uploaded_by,
    )


def asset_set_archived(*, asset: Asset, archived: bool, changed_by) -> Asset:
    _require_manager(changed_by, asset.network)
    Asset.objects.filter(pk=asset.pk).update(is_archived=archived)
    asset.is_archived = archived
    return asset


_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def content_rules_update(
    *, network: Network, updated_by, forbidden_patterns: str, allowed_link_domains: str, sms_stop_mention: str
) -> ContentRules:
    """Set the network's guardrails; every pattern must compile, every domain be a domain."""
    _require_manager(updated_by, network)
    errors: dict[str, list[str]] = {}
    for number, line in enumerate(forbidden_patterns.splitlines(), start=1):
        if not line.strip():
            continue
        if len(line) > 200:
            errors.setdefault("forbidden_patterns", []).append(
                _("Line %(line)d is longer than 200 characters.") % {"line": number}
            )
            continue
        try:
            re.compile(line.strip())
        except re.error as error:
            errors.setdefault("forbidden_patterns", []).append(
                _("Line %(line)d is not a valid regular expression: %(error)s")
                % {"line": number, "error": error}
            )
    for number, line in enumerate(allowed_link_domains.splitlines(), start=1):
        if line.strip() and not _DOMAIN.match(line.strip().lower().lstrip(".")):
            errors.setdefault("allowed_link_domains", []).append(
                _("Line %(line)d is not a domain name such as example.com.") % {"line": number}
            )
    if "STOP" not in sms_stop_mention.upper():
        errors.setdefault("sms_stop_mention", []).append(
            _("The mention must tell how to opt out, e.g. “STOP au 36173”.")
        )
    if errors:
        raise ValidationError(errors)
    rules, _created = ContentRules.objects.update_or_create(
        network=network,
        defaults={
            "forbidden_patterns": forbidden_patterns.strip(),
            "allowed_link_domains": allowed_link_domains.strip().lower(),
            "sms_stop_mention": sms_stop_mention.strip(),
        },
    )
    return rules


def slot_values_clean(*, version: TemplateVersion, values: dict[str, object]) -> dict[str, object]:
    """Check what a branch typed into a version's slots against the slot types and the network's
    rules; ValidationError keyed by slot name."""
    network = version.template.network
    assets = live_asset_tags(network)
    return slots.clean_values(
        rendering.version_slots(version),
        values,
        guardrails=guardrails_for(network),
        asset_ids=assets,
        asset_tags=assets,
    )
