"""A proof's slot values as the approver reads them in the comparison: an image by its name in the
library (never its ``ast_…`` identifier), rich text as its sanitised formatting (never ``<strong>``
shown as characters), a price in words, anything else as text."""

from __future__ import annotations

import nh3
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from templates_lib import rendering, slots
from templates_lib.models import Asset


def _plain(value: object) -> str:
    """A value without a type: a price in words, a list joined, a mapping's values."""
    if value in (None, ""):
        return ""
    if isinstance(value, dict):
        if "amount" in value:
            try:
                text = slots.format_price(value)
            except (KeyError, ArithmeticError, ValueError):
                text = f"{value.get('amount')} {value.get('currency', '')}".strip()
            return f"{text} — {value['conditions']}" if value.get("conditions") else text
        return ", ".join(str(item) for item in value.values() if item not in (None, ""))
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def slot_displays(proof, values: list[dict]) -> dict[str, object]:
    """For each slot of the proof's template, a function turning a value into what the page shows."""
    version = proof.campaign.template_version
    types = {definition.name: definition.type for definition in (rendering.version_slots(version) if version else [])}
    image_ids = {str(value) for name, kind in types.items() if kind == slots.IMAGE
                 for source in values for value in [source.get(name)] if value}
    names = dict(Asset.objects.filter(network_id=proof.campaign.network_id, public_id__in=image_ids)
                 .values_list("public_id", "name")) if image_ids else {}

    def show(name: str, value: object) -> str | SafeString:
        kind = types.get(name)
        if value in (None, ""):
            return ""
        if kind == slots.IMAGE:
            return names.get(str(value), _("an image no longer in the library"))
        if kind == slots.RICH_TEXT and isinstance(value, str):
            return mark_safe(nh3.clean(value, tags=slots.RICH_TAGS, attributes={"a": {"href"}}))  # noqa: S308 - sanitised
        return _plain(value)

    return show
