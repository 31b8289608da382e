"""A campaign's send as a whole: the check of its rendering against the approved proof (and the
stop when they differ), and its end (*sent*) when no delivery is left."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Count, Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from central.delivery.content import campaign_snapshot
from central.models import (
    Campaign,
    CampaignEvent,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
)
from templates_lib import frozen

logger = logging.getLogger(__name__)


def campaign_for_send(campaign_id: int) -> Campaign | None:
    return (Campaign.objects.select_related("network", "branch", "operation", "template_version__template")
            .filter(pk=campaign_id).first())

def campaign_send_check(campaign: Campaign) -> str | None:
    """Before the first message of a send: why it must not go, or None — the approved proof's
    snapshot rendered again, every variant, and compared with the hashes the proof froze
    (``frozen.verify``), and checked against the proof's own content hash (``campaign_snapshot``)."""
    snapshot = campaign_snapshot(campaign)
    if not snapshot:
        return _("The approved proof holds no frozen rendering, or it was altered: request approval again.")
    return frozen.verify(snapshot)


def campaign_send_block(*, campaign_id: int, reason: str) -> bool:
    """Stop a send whose rendering no longer matches its proof: the campaign is paused (nothing
    more leaves) and the reason is kept in its history, for its page. True if it was sending."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        if campaign is None or campaign.status not in (CampaignStatus.SENDING, CampaignStatus.PAUSED):
            return False
        was_sending = campaign.status == CampaignStatus.SENDING
        if was_sending:
            campaign.status = CampaignStatus.PAUSED
            campaign.save(update_fields=["status", "updated_at"])
        CampaignEvent.objects.create(campaign=campaign, action="send_blocked", changes={"reason": str(reason)})
    logger.warning("send of campaign %s stopped: %s", campaign.public_id, reason)
    return was_sending


def send_blocked_reason(campaign: Campaign) -> str:
    """Why a paused campaign's send was stopped by the check against its proof, or ""."""
    if campaign.status != CampaignStatus.PAUSED:
        return ""
    last = CampaignEvent.objects.filter(campaign=campaign).order_by("-id").first()
    return str(last.changes.get("reason", "")) if last is not None and last.action == "send_blocked" else ""

def campaign_finish_if_done(*, campaign_id: int) -> bool:
    """A sending (or paused) campaign with nothing left to send is *sent*; once, with its counts."""
    remaining = Delivery.objects.filter(campaign_id=OuterRef("pk"),
                                        status__in=[DeliveryStatus.QUEUED, DeliveryStatus.SENDING])
    with transaction.atomic():
        done = Campaign.objects.filter(pk=campaign_id, status__in=[CampaignStatus.SENDING, CampaignStatus.PAUSED]).exclude(
            Exists(remaining)).update(status=CampaignStatus.SENT, updated_at=timezone.now())
        if done:
            counts = dict(Delivery.objects.filter(campaign_id=campaign_id).order_by().values_list("status")
                          .annotate(n=Count("id")).values_list("status", "n"))
            CampaignEvent.objects.create(campaign_id=campaign_id, action="sent", changes=counts)
    return bool(done)
