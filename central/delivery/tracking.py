"""The services behind the public endpoints of a message (``central.delivery.public_views``): its token
looked up, opens, clicks and unsubscriptions recorded, the message viewed online."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation

from central.customers.consent import customer_objection_record
from central.delivery.content import FrozenSend, recipient_values, system_values, variant_context
from central.delivery.links import click_target, tracked_html
from central.delivery.send_state import campaign_for_send
from central.models import (
    Delivery,
    TrackingEvent,
)
from templates_lib import frozen, rendering

logger = logging.getLogger(__name__)


UNSUBSCRIBE_SOURCE = "unsubscribe link"

# --- The public endpoints' services ------------------------------------------------------------------


def delivery_for_token(token: str) -> Delivery | None:
    return Delivery.objects.select_related("customer", "campaign__network").filter(token=token).first()


def tracking_record(*, delivery: Delivery, kind: str, url: str = "", at: datetime | None = None) -> None:
    """Record an open, a click or an unsubscription, once per (delivery, kind, link)."""
    TrackingEvent.objects.bulk_create([TrackingEvent(
        delivery=delivery, kind=kind, url=url, url_hash=hashlib.sha256(url.encode()).hexdigest() if url else "",
        at=at or timezone.now())], ignore_conflicts=True)


def unsubscribe(*, delivery: Delivery) -> bool:
    """The recipient of ``delivery`` unsubscribes (the link's page, or their mail client's one-click
    POST): a global objection, for every channel and every message not yet sent."""
    with transaction.atomic():
        objected = customer_objection_record(customer=delivery.customer, source=UNSUBSCRIBE_SOURCE)
        tracking_record(delivery=delivery, kind=TrackingEvent.Kind.UNSUBSCRIBE)
    return objected


def tracking_open(*, token: str) -> None:
    delivery = Delivery.objects.filter(token=token).only("pk").first()
    if delivery is not None:
        tracking_record(delivery=delivery, kind=TrackingEvent.Kind.OPEN)


def tracking_click(*, token: str, signed: str) -> str:
    """The target of a tracked link, the click recorded; ``signing.BadSignature`` for a forged one."""
    target = click_target(token, signed)
    delivery = Delivery.objects.filter(token=token).only("pk").first()
    if delivery is not None:
        tracking_record(delivery=delivery, kind=TrackingEvent.Kind.CLICK, url=target)
    return target


def message_view_online(*, delivery: Delivery) -> str:
    """The HTML of an e-mail delivery as its recipient got it (links tracked, no open pixel)."""
    campaign = campaign_for_send(delivery.campaign_id)
    with translation.override(settings.LANGUAGE_CODE):
        try:  # what was approved and sent, not the branch's details of today
            send = FrozenSend(campaign)
            compiled = rendering.compile_email(send.version, send.context(send.key_for(delivery.customer)))
        except frozen.SnapshotProblem:  # a message sent before proofs froze their inputs (or since altered)
            logger.warning("view online of campaign %s: no valid frozen snapshot, live rendering", campaign.public_id)
            compiled = rendering.compile_email(campaign.template_version, variant_context(campaign))
        rendered = rendering.render_email(compiled, recipient_values(delivery.customer), system_values(delivery.token))
    return tracked_html(rendered.html, delivery.token, pixel=False)
