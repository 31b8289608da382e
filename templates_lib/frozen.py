"""Frozen rendering inputs: what a proof (BAT) freezes, and rendering from it alone.

A *snapshot* (a JSON object kept on the proof) holds every input of a campaign's rendering:

- ``template_version``: the version's id and the SHA-256 of its content (``compute_hash``);
- ``slot_values`` and ``campaign`` (the campaign's merge fields: dates, offer code);
- ``variants``: one per branch the campaign may speak for, by key (a branch's public id, or
  ``HEAD_OFFICE`` for head office's own details), each with the branch's details (``branch``) and
  the sender identity (``sender``: display name, address, Reply-To, Message-ID domain), and the
  branch's own slot values where it filled a national send's local slots (``slot_values``);
- ``assets``: every library image the rendering may show, by public id, as a content-addressed
  copy (``FrozenAsset``: the SHA-256 of the bytes and the storage name ``frozen/ab/<sha>.<ext>``,
  which the hash names, so it never holds other bytes); a branch's logo likewise;
- ``system``: the content-rule texts read at send time (the SMS STOP mention) and the
  unsubscribe mailto of the List-Unsubscribe header;
- ``variant_hashes``: for each variant, the SHA-256 of its rendering for the sample recipient.

``variant_context`` and ``render_sample`` render only from those: neither the live branch, nor the
library, nor the content rules are read. ``verify`` renders every variant again and compares with
``variant_hashes`` (and each frozen file with its hash): what dispatch runs before the first
message of a send.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import os
from collections.abc import Mapping

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils.translation import gettext as _

from templates_lib import rendering, rendering_print
from templates_lib.models import TemplateKind, TemplateVersion

SNAPSHOT_FORMAT = 1
HEAD_OFFICE = "head_office"
FROZEN_DIR = "frozen"
BRANCH_DETAILS = ("name", "address_line1", "address_line2", "postal_code", "city", "phone", "email",
                  "opening_hours", "manager_signature", "manager_name", "website_url", "facebook_url", "instagram_url")
#: The sample's system fields: the proof shows placeholders for the per-message links.
SAMPLE_LINKS = {"unsubscribe_url": "/u/preview", "view_online_url": "/v/preview"}


class SnapshotProblem(Exception):
    """The frozen snapshot cannot be rendered as approved; the message says why, for the page."""


# --- Freezing ----------------------------------------------------------------------------------


def freeze_bytes(data: bytes, *, name: str = "", content_type: str = "") -> dict[str, str]:
    """A content-addressed copy of ``data`` in the default storage: ``frozen/ab/<sha256><ext>``.
    The same bytes are stored once, whatever the number of proofs."""
    digest = hashlib.sha256(data).hexdigest()
    extension = os.path.splitext(name)[1].lower()[:8] or mimetypes.guess_extension(content_type or "") or ""
    path = f"{FROZEN_DIR}/{digest[:2]}/{digest}{extension}"
    if not default_storage.exists(path):
        path = default_storage.save(path, ContentFile(data))
    return {"sha256": digest, "path": path,
            "content_type": content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"}


def _freeze_file(field_file, content_type: str = "", *, what: str = "") -> dict[str, str] | None:
    if not field_file:
        return None
    try:
        with field_file.open("rb") as stream:
            data = stream.read()
    except OSError as error:
        raise SnapshotProblem(_("%(what)s cannot be read: its file is missing.") % {"what": what}) from error
    return freeze_bytes(data, name=field_file.name, content_type=content_type)


def freeze_asset(asset) -> dict[str, str]:
    return _freeze_file(asset.file, asset.content_type, what=_("The image %(name)s") % {"name": asset.name}) or {}


def branch_details(node) -> dict[str, object]:
    """A node's details as messages use them (its logo frozen by content)."""
    details: dict[str, object] = {"pk": node.public_id}
    details |= {name: str(getattr(node, name, "") or "") for name in BRANCH_DETAILS}
    details["manager_name"] = rendering.branch_manager_name(node)  # (the person, not a field of the branch)
    details["logo"] = _freeze_file(node.logo, what=_("The logo of %(branch)s") % {"branch": node.name}) if node.logo else None
    return details


def branch_changes(frozen_details: Mapping[str, object], node) -> list[str]:
    """The details of ``node`` (field names, logo included) that differ from those a proof froze."""
    current = {name: str(getattr(node, name, "") or "") for name in BRANCH_DETAILS}
    current["manager_name"] = rendering.branch_manager_name(node)
    changed = [name for name in BRANCH_DETAILS if current[name] != frozen_details.get(name, "")]
    logo = frozen_details.get("logo") or {}
    if node.logo:
        with node.logo.open("rb") as stream:
            logo_hash = hashlib.sha256(stream.read()).hexdigest()
    else:
        logo_hash = None
    if logo_hash != (logo.get("sha256") if logo else None):
        changed.append("logo")
    return changed


def sender(*, name: str, reply_to: str = "", address: str = "", from_identity: bool = False) -> dict[str, object]:
    """The sender identity of a variant: the display name on ``address`` (the network's sending
    identity's, frozen with the proof), else on the platform's address."""
    from email.utils import parseaddr

    address = address or parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or "no-reply@relais.localhost"
    frozen_sender = {"name": " ".join(name.split()), "address": address, "reply_to": [reply_to] if reply_to else [],
                     "domain": address.rpartition("@")[2] or "relais.localhost"}
    return frozen_sender | ({"from_identity": True} if from_identity else {})


# --- Reading ----------------------------------------------------------------------------------


def _asset(public_id: str, frozen: Mapping[str, str]) -> rendering.FrozenAsset:
    return rendering.FrozenAsset(public_id=public_id, sha256=frozen["sha256"], path=frozen["path"],
                                 content_type=frozen.get("content_type") or "image/png")


def frozen_branch(details: Mapping[str, object] | None) -> rendering.FrozenBranch | None:
    if not details:
        return None
    logo = details.get("logo")
    return rendering.FrozenBranch(**{name: str(details.get(name) or "") for name in ("pk", *BRANCH_DETAILS)},
                                  logo=_asset("logo", logo) if logo else None)


def variant_key(snapshot: Mapping[str, object], branch_public_id: str | None) -> str:
    """The variant a recipient gets: their owner branch's when the snapshot has it (a co-signed
    national send), else the snapshot's default (the campaign's branch, or head office)."""
    variants = snapshot.get("variants") or {}
    if branch_public_id and branch_public_id in variants:
        return branch_public_id
    return str(snapshot.get("default_variant") or HEAD_OFFICE)


def version_of(snapshot: Mapping[str, object]) -> TemplateVersion:
    """The frozen template version, checked against its frozen hash."""
    frozen = snapshot.get("template_version") or {}
    version = TemplateVersion.objects.select_related("template").filter(pk=frozen.get("id")).first()
    if version is None or version.compute_hash() != frozen.get("content_hash"):
        raise SnapshotProblem(_("The approved template version changed or is gone."))
    return version


def variant_context(snapshot: Mapping[str, object], key: str) -> rendering.VariantContext:
    """The variant ``key`` of a snapshot, with nothing read from the live branch or library."""
    variant = (snapshot.get("variants") or {}).get(key)
    if variant is None:
        raise SnapshotProblem(_("The approved proof has no variant for this branch."))
    assets = {public_id: _asset(public_id, frozen) for public_id, frozen in (snapshot.get("assets") or {}).items()}
    # a branch's own texts in a national send's local slots, else the campaign's values
    values = variant.get("slot_values") or snapshot.get("slot_values") or {}
    return rendering.VariantContext(slot_values=dict(values),
                                    branch=frozen_branch(variant.get("branch")),
                                    campaign=dict(snapshot.get("campaign") or {}), assets=assets)


def sender_of(snapshot: Mapping[str, object], key: str) -> dict[str, object]:
    return dict(((snapshot.get("variants") or {}).get(key) or {}).get("sender") or {})


def stop_mention(snapshot: Mapping[str, object]) -> str:
    return str((snapshot.get("system") or {}).get("stop_mention", ""))


def sample_system(snapshot: Mapping[str, object]) -> dict[str, str]:
    base = settings.RELAIS_BASE_URL.rstrip("/")
    return {name: base + path for name, path in SAMPLE_LINKS.items()} | {"stop_mention": stop_mention(snapshot)}


# --- Rendering --------------------------------------------------------------------------------


def render_sample(version: TemplateVersion, snapshot: Mapping[str, object], key: str, *,
                  proof_mark: str = "", pdf: bool = True) -> dict[str, object]:
    """Variant ``key`` rendered for the sample recipient from the snapshot alone: the e-mail's
    subject, HTML and text; the SMS text; the print HTML document (and its PDF when ``pdf``)."""
    context = variant_context(snapshot, key)
    system = sample_system(snapshot)
    recipient = rendering.SAMPLE_RECIPIENT
    kind = version.template.kind
    if kind == TemplateKind.EMAIL:
        email = rendering.render_email(rendering.compile_email(version, context), recipient, system)
        return {"subject": email.subject, "html": email.html, "text": email.text}
    if kind == TemplateKind.SMS:
        return {"text": rendering.render_sms(rendering.compile_sms(version, context), recipient, system)}
    document, assets = rendering_print.print_html(version, context, recipient, system)
    rendered: dict[str, object] = {"document": document,
                                   "assets": sorted((name, hashlib.sha256(data).hexdigest()) for name, (data, _t)
                                                    in assets.items())}
    if pdf:
        rendered["pdf"] = rendering_print.render_print(version, context, recipient, system, proof_mark=proof_mark)
    return rendered


def rendering_hash(rendered: Mapping[str, object]) -> str:
    """SHA-256 of a sample rendering: e-mail subject, HTML and text; SMS text; print document and the
    hashes of the images it loads (a PDF carries its creation time, so the document stands for it)."""
    parts = {key: value for key, value in rendered.items() if key != "pdf"}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def variant_hashes(version: TemplateVersion, snapshot: Mapping[str, object]) -> dict[str, str]:
    return {key: rendering_hash(render_sample(version, snapshot, key, pdf=False))
            for key in sorted(snapshot.get("variants") or {})}


def verify(snapshot: Mapping[str, object]) -> str | None:
    """Why the snapshot no longer renders as approved, or None: the frozen version's hash, every
    frozen file's bytes, and each variant rendered again for the sample recipient against its frozen
    hash."""
    if not snapshot or snapshot.get("format") != SNAPSHOT_FORMAT:
        return _("The approved proof holds no frozen rendering: request approval again.")
    try:
        for public_id, frozen in (snapshot.get("assets") or {}).items():
            _asset(public_id, frozen).read()
        for variant in (snapshot.get("variants") or {}).values():
            logo = (variant.get("branch") or {}).get("logo")
            if logo:
                _asset(_("the logo of %(branch)s") % {"branch": variant["branch"].get("name", "")}, logo).read()
    except rendering.RenderError as error:  # a frozen file whose bytes no longer have its hash
        return str(error)
    except OSError:
        return _("An approved image is missing from the storage.")
    try:
        version = version_of(snapshot)
        expected = snapshot.get("variant_hashes") or {}
        with_translation = _language(snapshot)
        with with_translation:
            for key in sorted(snapshot.get("variants") or {}):
                if rendering_hash(render_sample(version, snapshot, key, pdf=False)) != expected.get(key):
                    name = ((snapshot["variants"][key].get("branch") or {}).get("name")) or key
                    return _("The message for %(branch)s no longer matches its approved proof.") % {"branch": name}
    except SnapshotProblem as problem:
        return str(problem)
    except rendering.RenderError as error:
        return _("The approved message cannot be rendered again: %(error)s") % {"error": error}
    except OSError:
        return _("An approved image is missing from the storage.")
    return None


def _language(snapshot: Mapping[str, object]):
    from django.utils import translation

    return translation.override(str(snapshot.get("language") or settings.LANGUAGE_CODE))
