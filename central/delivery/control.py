"""Control of a send by the people running it: pause, resume, cancel, and where it stands."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from central.campaigns.selectors import campaign_can_edit
from central.delivery.errors import CANCELLED, FAILED, SENT
from central.delivery.send_state import campaign_send_check, send_blocked_reason
from central.delivery.sending import campaign_dispatch
from central.models import (
    Campaign,
    CampaignEvent,
    CampaignStatus,
    Delivery,
    DeliveryReason,
    DeliveryStatus,
)


def _require_sender(user, campaign: Campaign) -> None:
    if not campaign_can_edit(user, campaign):
        raise PermissionDenied(_("You may not change this campaign."))


@transaction.atomic
def campaign_send_pause(*, campaign: Campaign, paused_by) -> Campaign:
    """Stop a send: each chunk stops before its next message; what left stays sent, nothing else moves."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    _require_sender(paused_by, campaign)
    if campaign.status != CampaignStatus.SENDING:
        raise ValidationError(_("Only a campaign that is sending can be paused."))
    campaign.status = CampaignStatus.PAUSED
    campaign.save(update_fields=["status", "updated_at"])
    CampaignEvent.objects.create(campaign=campaign, action="paused", by=paused_by)
    return campaign


@transaction.atomic
def campaign_send_resume(*, campaign: Campaign, resumed_by) -> Campaign:
    """Go on with a paused send: only what is still queued is sent (nothing twice)."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    _require_sender(resumed_by, campaign)
    if campaign.status != CampaignStatus.PAUSED:
        raise ValidationError(_("Only a paused campaign can be resumed."))
    with translation.override(settings.LANGUAGE_CODE):
        problem = campaign_send_check(campaign)
    if problem:
        raise ValidationError(_("The send cannot go on: %(reason)s") % {"reason": problem})
    campaign.status = CampaignStatus.SENDING
    campaign.save(update_fields=["status", "updated_at"])
    CampaignEvent.objects.create(campaign=campaign, action="resumed", by=resumed_by)
    campaign_dispatch(campaign=campaign)
    return campaign


@transaction.atomic
def campaign_send_cancel(*, campaign: Campaign, cancelled_by) -> Campaign:
    """Stop a send for good: the deliveries still queued are cancelled (a message being handed to
    the provider at that moment still leaves, and counts as sent)."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    _require_sender(cancelled_by, campaign)
    if campaign.status not in (CampaignStatus.SENDING, CampaignStatus.PAUSED):
        raise ValidationError(_("Only a campaign that is sending or paused can have its send cancelled."))
    now = timezone.now()
    cancelled = Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.QUEUED).update(
        status=CANCELLED, reason=DeliveryReason.CAMPAIGN_CANCELLED, finished_at=now, retry_at=None)
    campaign.status = CampaignStatus.CANCELLED
    campaign.save(update_fields=["status", "updated_at"])
    CampaignEvent.objects.create(campaign=campaign, action="send_cancelled", by=cancelled_by,
                                 changes={"cancelled_deliveries": cancelled})
    return campaign

def campaign_send_progress(campaign: Campaign) -> dict[str, object]:
    """Where a campaign's send stands, for its page: counts by outcome, the pace over the last five
    minutes (messages per minute) and, at that pace, when it should end (None when unknown)."""
    counts = dict(Delivery.objects.filter(campaign_id=campaign.pk).order_by().values_list("status")
                  .annotate(n=Count("id")).values_list("status", "n"))
    now = timezone.now()
    window = timedelta(minutes=5)
    recent = Delivery.objects.filter(campaign_id=campaign.pk, status__in=[SENT, FAILED], finished_at__gt=now - window).count()
    rate = round(recent / (window.total_seconds() / 60), 1)
    remaining = counts.get(DeliveryStatus.QUEUED, 0) + counts.get(DeliveryStatus.SENDING, 0)
    return {
        "sent": counts.get(SENT, 0), "failed": counts.get(FAILED, 0), "cancelled": counts.get(CANCELLED, 0),
        "queued": counts.get(DeliveryStatus.QUEUED, 0), "sending": counts.get(DeliveryStatus.SENDING, 0),
        "total": sum(counts.values()), "rate_per_min": rate,
        "eta": now + timedelta(minutes=remaining / rate) if remaining and rate else None,
        "blocked_reason": send_blocked_reason(campaign),
    }
