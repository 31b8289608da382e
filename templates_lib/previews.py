"""Previews shown while someone fills slots (the template library's "try it" page, a branch
customising its campaign): render a version for a branch and hand back what the preview partial
``templates_lib/_preview.html`` shows. A print preview's PDF is kept a short while in the cache,
readable only by whoever asked for it (``pdf_for``). ``render_for_kind`` renders one preview of a
version whatever its kind (e-mail, SMS or print)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.cache import cache

from local_stores.models import Node
from templates_lib import rendering, rendering_print
from templates_lib.models import ContentRules, TemplateKind, TemplateVersion

PREVIEW_TTL = 15 * 60
SAMPLE_CAMPAIGN = {"offer_code": "OFFRE-2026", "start_date": "", "end_date": "", "send_date": ""}


def preview_context(
    *, user, version: TemplateVersion, values: dict, branch: Node | None, campaign: dict | None = None,
) -> dict[str, object]:
    """Render ``version`` with ``values`` and ``branch``'s details; a rendering problem becomes a
    message (``preview_error``)."""
    context = rendering.VariantContext(slot_values=values, branch=branch, campaign=campaign or SAMPLE_CAMPAIGN)
    try:
        output = render_for_kind(version, context)
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


def render_for_kind(version: TemplateVersion, context: rendering.VariantContext, recipient=None, system=None):
    """One preview of ``version`` whatever its kind: RenderedEmail, SMS text, or PDF bytes."""
    recipient = recipient or rendering.SAMPLE_RECIPIENT
    system = system or preview_system_values(version)
    kind = version.template.kind
    if kind == TemplateKind.EMAIL:
        return rendering.render_email(rendering.compile_email(version, context), recipient, system)
    if kind == TemplateKind.SMS:
        return rendering.render_sms(rendering.compile_sms(version, context), recipient, system)
    return rendering_print.render_print(version, context, recipient, system)


def preview_system_values(version: TemplateVersion) -> dict[str, str]:
    rules = ContentRules.objects.filter(network_id=version.template.network_id).first()
    return {
        "unsubscribe_url": settings.RELAIS_BASE_URL.rstrip("/") + "/u/preview",
        "view_online_url": settings.RELAIS_BASE_URL.rstrip("/") + "/v/preview",
        "stop_mention": rules.sms_stop_mention if rules else "STOP au 36173",
    }
