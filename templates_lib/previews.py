"""Previews shown while someone fills slots (the template library's "try it" page, a branch
customising its campaign): render a version for a branch and hand back what the preview partial
``templates_lib/_preview.html`` shows. A print preview's PDF is kept a short while in the cache,
readable only by whoever asked for it (``pdf_for``)."""

from __future__ import annotations

import secrets

from django.core.cache import cache

from local_stores.models import Node
from templates_lib import rendering
from templates_lib.models import TemplateKind, TemplateVersion

PREVIEW_TTL = 15 * 60
SAMPLE_CAMPAIGN = {"offer_code": "OFFRE-2026", "start_date": "", "end_date": "", "send_date": ""}


def preview_context(
    *, user, version: TemplateVersion, values: dict, branch: Node | None, campaign: dict | None = None,
) -> dict[str, object]:
    """Render ``version`` with ``values`` and ``branch``'s details; a rendering problem becomes a
    message (``preview_error``)."""
    context = rendering.VariantContext(slot_values=values, branch=branch, campaign=campaign or SAMPLE_CAMPAIGN)
    try:
        output = rendering.render_for_kind(version, context)
    except rendering.RenderError as error:
        return {"preview_error": str(error)}
    kind = version.template.kind
    if kind == TemplateKind.EMAIL:
        return {"email": output}
    if kind == TemplateKind.SMS:
        return {"sms": output, "sms_count": rendering.sms_count(output)}
    token = secrets.token_urlsafe(16)
    cache.set(f"relais:preview-pdf:{token}", (user.pk, output), PREVIEW_TTL)
    return {"pdf_token": token}


def pdf_for(*, user, token: str) -> bytes | None:
    cached = cache.get(f"relais:preview-pdf:{token}")
    if not cached or cached[0] != user.pk:
        return None
    return cached[1]
