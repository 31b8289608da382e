"""What people read in place of stored codes: a customer segment's name, a channel list's labels.

Segments are the network's own words, imported from its CRM (``customers.segment``, free text). The
usual ones — those of the import's documentation and of the demo — get a name in the reader's
language; any other is the network's own word and is shown as it was imported.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from central.models import Channel

#: the usual segment codes (French CRMs write them without accents), and their names
SEGMENT_LABELS: dict[str, Promise] = {
    "vip": _("VIP"),
    "fidele": _("Loyal"),
    "loyal": _("Loyal"),
    "occasionnel": _("Occasional"),
    "occasional": _("Occasional"),
    "nouveau": _("New customer"),
    "new": _("New customer"),
    "inactif": _("Inactive"),
    "inactive": _("Inactive"),
}


def segment_label(code: object) -> str:
    """``fidele`` → "Loyal" / « Fidèle »; a segment of the network's own is shown as imported."""
    text = str(code or "").strip()
    label = SEGMENT_LABELS.get(text.lower())
    return str(label) if label is not None else text


def channel_labels(codes: Iterable[str] | str) -> str:
    """``["post", "sms"]`` (or ``"post, sms"``) → "Post, SMS" / « Courrier, SMS »."""
    if isinstance(codes, str):
        codes = [code.strip() for code in codes.split(",") if code.strip()]
    labels = dict(Channel.choices)
    return ", ".join(str(labels.get(code, code)) for code in codes)


def consent_recorded_by(event) -> str:
    """Who a consent change came from: the person who typed it in, "import <file>", the customer
    themself (an unsubscribe link), an SMS STOP; "" when the history does not say."""
    if event.recorded_by_id is not None:
        return event.recorded_by.get_full_name() or event.recorded_by.get_username()
    if event.customer_import_id is not None:
        return _("import %(file)s") % {"file": event.customer_import.original_name}
    if event.source.startswith("unsubscribe link"):
        return str(_("customer (unsubscribe link)"))
    if event.source.startswith("SMS STOP"):
        return "SMS STOP"
    return ""


def criterion_value(name: str, value: object) -> object:
    """A target criterion's value as people read it (a segment by its name)."""
    if name == "segment":
        if isinstance(value, (list, tuple)):
            return [segment_label(item) for item in value]
        return segment_label(value)
    return value
