"""Rendering of template versions: e-mail and SMS, and what every kind shares.

E-mail: a *variant* (version × slot values × branch × campaign) is compiled once — merge of the
per-variant fields, MJML → HTML (mjml-python), CSS inlined (css-inline), plain-text alternative
(inscriptis) — and kept in the cache; per recipient only the merge of recipient and system
fields runs. SMS: the same two phases on plain text, plus GSM-7/UCS-2 segment counting. Both
build on what every kind shares here: the values of the per-variant fields (``VariantContext``,
``variant_resolver``) and the library images a variant may show (``variant_assets``).

Print (HTML + CSS to PDF) is ``templates_lib.rendering_print``; one preview of a version whatever
its kind, ``templates_lib.previews.render_for_kind``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import css_inline
import mjml
from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.utils import translation
from django.utils.translation import gettext as _
from inscriptis import get_text
from inscriptis.model.config import ParserConfig

from local_stores.models import Role
from local_stores.selectors import people_holding
from templates_lib import merge, slots
from templates_lib.models import Asset, TemplateVersion

SAMPLE_RECIPIENT = {
    "civility": "Mme",
    "first_name": "Camille",
    "last_name": "Martin",
    "full_name": "Camille Martin",
    "email": "camille.martin@exemple.fr",
    "city": "Lyon",
}
ASSET_SCHEME = "relais-asset:"
SOURCE_MAX_CHARS = 200_000
_INLINER = css_inline.CSSInliner(keep_style_tags=True, load_remote_stylesheets=False)
_TEXT_CONFIG = ParserConfig(display_links=True)


class RenderError(Exception):
    """The template cannot be rendered; the message says why, for the author, and ``line`` where
    in the source when it is known (the source editor highlights it)."""

    def __init__(self, *args: object, line: int | None = None) -> None:
        super().__init__(*args)
        self.line = line


# --- values of the per-variant fields --------------------------------------------------------


@dataclass
class VariantContext:
    """Everything a variant needs besides the version: slot values, branch, campaign fields."""

    slot_values: Mapping[str, object] = field(default_factory=dict)
    branch: object | None = None  # a local_stores Node, or a FrozenBranch (a proof's snapshot)
    campaign: Mapping[str, str] = field(default_factory=dict)
    #: A proof's frozen assets by public id (``FrozenAsset``): when given, images come from these
    #: content-addressed copies only, never from the live library.
    assets: Mapping[str, FrozenAsset] | None = None

    def cache_key(self, version: TemplateVersion, purpose: str) -> str:
        branch = self.branch
        branch_part = [
            getattr(branch, name, "")
            for name in (
                "pk",
                "name",
                "address_line1",
                "postal_code",
                "city",
                "phone",
                "email",
                "opening_hours",
                "manager_signature",
                "manager_name",
                "website_url",
                "facebook_url",
                "instagram_url",
            )
        ] + [str(getattr(branch, "logo", ""))]
        frozen_assets = None if self.assets is None else sorted((k, a.sha256, a.path) for k, a in self.assets.items())
        raw = json.dumps(
            [
                frozen_assets,
                version.pk,
                version.content_hash or version.compute_hash(),
                self.slot_values,
                branch_part,
                dict(self.campaign),
                translation.get_language(),
                purpose,
            ],
            sort_keys=True,
            default=str,
        )
        return "relais:variant:" + hashlib.sha256(raw.encode()).hexdigest()


def asset_public_url(asset: Asset) -> str:
    return settings.RELAIS_BASE_URL.rstrip("/") + asset.file.url


@dataclass(frozen=True)
class FrozenAsset:
    """An image frozen by a proof: a content-addressed copy in the default storage, whose name
    holds the SHA-256 of its bytes (``templates_lib.frozen``). Its URL therefore never serves other
    bytes, and reading it checks the hash."""

    public_id: str
    sha256: str
    path: str
    content_type: str = "image/png"

    def url(self) -> str:

        return settings.RELAIS_BASE_URL.rstrip("/") + default_storage.url(self.path)

    def read(self) -> bytes:

        with default_storage.open(self.path, "rb") as stream:
            data = stream.read()
        if hashlib.sha256(data).hexdigest() != self.sha256:
            raise RenderError(_("The approved image %(name)s was changed after approval.") % {"name": self.public_id})
        return data


@dataclass(frozen=True)
class FrozenBranch:
    """A branch's details as a proof froze them: the attributes a Node offers to merge fields."""

    pk: str = ""
    name: str = ""
    address_line1: str = ""
    address_line2: str = ""
    postal_code: str = ""
    city: str = ""
    phone: str = ""
    email: str = ""
    opening_hours: str = ""
    manager_signature: str = ""
    manager_name: str = ""
    website_url: str = ""
    facebook_url: str = ""
    instagram_url: str = ""
    logo: FrozenAsset | None = None


def branch_manager_name(branch) -> str:
    """The name of a branch's manager: the first person (by account) holding the branch-manager role
    on the branch itself, or ""."""

    person = people_holding(role=Role.BRANCH_MANAGER, nodes=[branch.pk]).order_by("pk").first()
    return person.get_full_name().strip() if person else ""


def _branch_value(branch, name: str) -> str:
    if branch is None:
        return ""
    if name == "manager_name":
        return branch.manager_name if isinstance(branch, FrozenBranch) else branch_manager_name(branch)
    if name == "address":
        return ", ".join(filter(None, [branch.address_line1, branch.address_line2]))
    if name == "signature":
        return branch.manager_signature
    if name == "logo_url":
        if isinstance(branch, FrozenBranch):
            return branch.logo.url() if branch.logo else ""
        return settings.RELAIS_BASE_URL.rstrip("/") + branch.logo.url if branch.logo else ""
    return str(getattr(branch, name, "") or "")


def variant_resolver(
    version: TemplateVersion, context: VariantContext, *, html: bool, asset_link: Callable[[str], str]
):
    definitions = {definition.name: definition for definition in version_slots(version)}

    def text(value: str) -> str:
        if not html:
            return value
        escaped = slots.escape_html(value)
        return escaped.replace("\n", "<br>")

    def resolve(ref: merge.FieldRef) -> str:
        if ref.namespace == "slot":
            definition = definitions[ref.name]
            return slots.display(
                definition,
                context.slot_values.get(ref.name),
                context="html" if html else "text",
                asset_url=asset_link,
                part=ref.part,
            )
        if ref.namespace == "branch":
            return text(_branch_value(context.branch, ref.name))
        if ref.namespace == "campaign":
            return text(str(context.campaign.get(ref.name, "")))
        if ref.namespace == "asset":
            return slots.escape_html(asset_link(ref.name)) if html else asset_link(ref.name)
        return ""

    return resolve


def version_slots(version: TemplateVersion) -> list[slots.SlotDefinition]:
    return [slots.SlotDefinition(**item) for item in version.slots]


# --- e-mail ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledEmail:
    subject: merge.Compiled
    html: merge.Compiled
    text: merge.Compiled


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str


def _with_preheader(source: str, preheader: str) -> str:
    if not preheader:
        return source
    preview = f"<mj-preview>{slots.escape_html(preheader)}</mj-preview>"
    if "<mj-head>" in source:
        return source.replace("<mj-head>", "<mj-head>" + preview, 1)
    return re.sub(
        r"<mjml([^>]*)>", lambda m: f"<mjml{m.group(1)}><mj-head>{preview}</mj-head>", source, count=1
    )


_TAG = re.compile(
    r"""<(/?)([a-zA-Z][\w:-]*)((?:\s+[^\s=/>"']+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+))?)*)\s*(/?)>"""
)


def locate_mjml_problem(source: str) -> tuple[int, str] | None:
    """Where an MJML source breaks, for the author: a tag left open or closed by the wrong end
    tag, or a tag that never ends (often a missing quote). MRML does not always say where."""
    text = re.sub(r"<!--.*?-->", lambda m: " " * len(m.group(0)), source, flags=re.DOTALL)
    covered: list[tuple[int, int]] = []
    stack: list[tuple[str, int]] = []
    for match in _TAG.finditer(text):
        covered.append(match.span())
        closing, name, _attributes, self_closing = match.groups()
        if not (name.startswith("mj-") or name == "mjml"):
            continue
        line = merge.line_of(source, match.start())
        if self_closing:
            continue
        if not closing:
            stack.append((name, line))
        elif not stack:
            return line, _("</%(name)s> closes nothing.") % {"name": name}
        elif stack[-1][0] != name:
            opened, opened_line = stack[-1]
            return line, _("</%(name)s> found where <%(opened)s> (line %(opened_line)d) should be closed.") % {
                "name": name, "opened": opened, "opened_line": opened_line}
        else:
            stack.pop()
    for start in (m.start() for m in re.finditer(r"<[a-zA-Z/]", text)):
        if not any(begin <= start < end for begin, end in covered):
            return merge.line_of(source, start), _("this tag does not end properly (check its quotes and its “>”).")
    if stack:
        name, line = stack[-1]
        return line, _("<%(name)s> is never closed.") % {"name": name}
    return None


def mjml_to_html(source: str) -> str:
    """MJML → HTML; a malformed source raises RenderError with the line of the problem."""
    source = source.replace("\r\n", "\n").replace("\r", "\n")  # LF only: MRML refuses a CR in <mj-head>
    if re.search(r"<\s*mj-include", source, re.IGNORECASE):
        raise RenderError(_("mj-include is not allowed: a template is self-contained."))
    try:
        # fonts={}: no web fonts from Google's servers (MJML's default "Ubuntu"), which would tell a
        # third party each time a preview or a message is opened; the font stacks fall back to
        # Helvetica and Arial.
        return mjml.mjml2html(source, fonts={})
    except ValueError as error:
        message = str(error)
        position = re.search(r"position (\d+)", message)
        line = merge.line_of(source, int(position.group(1))) if position else None
        located = None if line else locate_mjml_problem(source)
        if located:
            raise RenderError(_("The MJML is not valid (line %(line)d): %(error)s") % {
                "line": located[0], "error": located[1]}, line=located[0]) from error
        if line:
            raise RenderError(
                _("The MJML is not valid (line %(line)d): %(error)s") % {"line": line, "error": message}, line=line
            ) from error
        raise RenderError(_("The MJML is not valid: %(error)s") % {"error": message}) from error


@dataclass(frozen=True)
class CompiledSource:
    """An e-mail version compiled once, whatever its variant: every merge field still open."""

    subject: merge.Compiled
    html: merge.Compiled
    text: merge.Compiled


def compile_email_source(version: TemplateVersion) -> CompiledSource:
    """MJML → HTML → inlined CSS → text, with every merge field as a placeholder (cached per
    version content). Values are inserted afterwards, so no re-serialisation undoes their escaping."""
    key = "relais:email-source:" + (version.content_hash or version.compute_hash())
    compiled = cache.get(key)
    if compiled is None:
        renderer = merge.VariantRenderer()
        subject = merge.open_all(version.subject, renderer)
        html = _INLINER.inline(mjml_to_html(merge.open_all(_with_preheader(version.body, version.preheader), renderer)))
        text = "\n".join(line.strip() for line in get_text(html, _TEXT_CONFIG).splitlines())
        text = re.sub(r"\n{3,}", "\n\n", text).strip()
        compiled = CompiledSource(subject=renderer.split(subject), html=renderer.split(html), text=renderer.split(text))
        cache.set(key, compiled, timeout=7 * 24 * 3600)
    return compiled


def compile_email(version: TemplateVersion, context: VariantContext) -> CompiledEmail:
    """Compile one variant (cached): everything but the recipient's own fields."""
    key = context.cache_key(version, "email")
    compiled = cache.get(key)
    if compiled is not None:
        return compiled
    source = compile_email_source(version)
    assets = variant_assets(version, context)
    html_resolve = variant_resolver(version, context, html=True, asset_link=lambda pid: _asset_url(assets, pid))
    text_resolve = variant_resolver(version, context, html=False, asset_link=lambda pid: _asset_url(assets, pid))
    compiled = CompiledEmail(
        subject=source.subject.bind(text_resolve), html=source.html.bind(html_resolve), text=source.text.bind(text_resolve)
    )
    cache.set(key, compiled, timeout=24 * 3600)
    return compiled


def recipient_values(
    recipient: Mapping[str, str], system: Mapping[str, str], *, html: bool
) -> dict[str, str]:
    values = {f"recipient.{name}": str(recipient.get(name, "") or "") for name in merge.RECIPIENT_FIELDS}
    values |= {f"system.{name}": str(system.get(name, "") or "") for name in merge.SYSTEM_FIELDS}
    if html:
        values = {key: slots.escape_html(value) for key, value in values.items()}
    return values


def render_email(
    compiled: CompiledEmail, recipient: Mapping[str, str], system: Mapping[str, str]
) -> RenderedEmail:
    """The per-recipient step: only a merge of already-compiled chunks."""
    html_values = recipient_values(recipient, system, html=True)
    text_values = recipient_values(recipient, system, html=False)
    return RenderedEmail(
        subject=compiled.subject.merge(text_values).replace("\r", " ").replace("\n", " ").strip(),
        html=compiled.html.merge(html_values),
        text=compiled.text.merge(text_values),
    )


# --- SMS ---------------------------------------------------------------------------------------

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")


@dataclass(frozen=True)
class SmsCount:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (an extended character counts two) or UTF-16 code units
    segments: int
    per_segment: int


def sms_count(text: str) -> SmsCount:
    """Encoding and number of segments: GSM-7 160 per single SMS, 153 per part of a long one;
    UCS-2 (any character outside GSM-7) 70, and 67 per part. A character never straddles two
    parts: a GSM-7 extended character (escape + character) or a UCS-2 surrogate pair that does
    not fit starts the next part."""
    if all(char in GSM7_BASIC or char in GSM7_EXTENDED for char in text):
        sizes = [2 if char in GSM7_EXTENDED else 1 for char in text]
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        sizes = [len(char.encode("utf-16-le")) // 2 for char in text]
        single, multi, encoding = 70, 67, "UCS-2"
    units = sum(sizes)
    if units <= single:
        return SmsCount(encoding, units, 1 if units else 0, single)
    segments, used = 1, 0
    for size in sizes:
        if used + size > multi:
            segments, used = segments + 1, 0
        used += size
    return SmsCount(encoding, units, segments, multi)


def compile_sms(version: TemplateVersion, context: VariantContext) -> merge.Compiled:
    key = context.cache_key(version, "sms")
    compiled = cache.get(key)
    if compiled is None:
        renderer = merge.VariantRenderer()
        compiled = renderer.split(
            renderer.substitute(version.body, variant_resolver(version, context, html=False, asset_link=str))
        )
        cache.set(key, compiled, timeout=24 * 3600)
    return compiled


#: Typographic characters outside GSM-7 that have a GSM-7 look-alike: replacing them keeps an
#: SMS at 160 characters instead of 70 (what SMS providers call "smart encoding").
GSM7_LOOKALIKES = str.maketrans({
    "\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"',
    "\u00ab": '"', "\u00bb": '"', "\u2013": "-", "\u2014": "-", "\u2026": "...",
})


def render_sms(compiled: merge.Compiled, recipient: Mapping[str, str], system: Mapping[str, str]) -> str:
    text = compiled.merge(recipient_values(recipient, system, html=False)).strip()
    return text.translate(GSM7_LOOKALIKES)


# --- the library images of a variant -----------------------------------------------------------


def assets_wanted(version: TemplateVersion, slot_values: Mapping[str, object]) -> set[str]:
    """The public ids of the library images a variant may show (referenced by the source or a slot)."""
    wanted = {ref.name for ref in merge.fields_used(version.body) if ref.namespace == "asset"}
    image_slots = {definition.name for definition in version_slots(version) if definition.type == slots.IMAGE}
    return wanted | {str(slot_values[name]) for name in image_slots if slot_values.get(name)}


def variant_assets(version: TemplateVersion, context: VariantContext) -> dict[str, Asset | FrozenAsset]:
    """The network's assets the variant may show (referenced by the source or a slot); for a
    frozen context, only the proof's frozen copies."""
    wanted = assets_wanted(version, context.slot_values)
    if not wanted:
        return {}
    if context.assets is not None:
        return {public_id: context.assets[public_id] for public_id in sorted(wanted) if public_id in context.assets}
    return {
        asset.public_id: asset
        for asset in Asset.objects.filter(network_id=version.template.network_id, public_id__in=wanted)
    }


def _asset_url(assets: Mapping[str, Asset], public_id: str) -> str:
    """The public URL of a library image (unescaped: the resolver escapes for its context)."""
    asset = assets.get(public_id)
    if isinstance(asset, FrozenAsset):
        return asset.url()
    return asset_public_url(asset) if asset else ""
