"""Requesting approval of what the author sees (issue 19, defect 2).

The campaign editor previews what is typed without saving it. A request for approval that froze
the campaign *as last saved* would put the old text in the proof while the preview showed the new
one. ``proof_request_with_values`` saves the values typed and freezes them in one transaction: the
proof holds exactly what was typed, or nothing happens at all."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from approvals.models import Proof
from approvals.services import proof_request
from central.campaigns.selectors import campaign_can_edit
from central.campaigns.services import campaign_update
from central.models import Campaign, CampaignStatus


@transaction.atomic
def proof_request_with_values(
    *, campaign: Campaign, requested_by, slot_values: dict | None, send_date: date | None,
    target_criteria: dict | None,
) -> Proof:
    """Save ``slot_values``, ``send_date`` and ``target_criteria`` (checked as ``campaign_update``
    checks them; None leaves a part as saved) then request approval (``proof_request``) of the draft
    campaign, in one transaction. All or nothing: a refused value (ValidationError keyed by field,
    as ``campaign_update``'s) or a refused request (``proof_request``'s: nobody in the target, over
    budget…) leaves the campaign as it was and requests nothing. Only a draft: a campaign already
    waiting for approval or approved is refused rather than silently withdrawn."""
    campaign = Campaign.objects.select_for_update(of=("self",)).get(pk=campaign.pk)
    if not campaign_can_edit(requested_by, campaign):
        raise PermissionDenied(_("You may not request approval for this campaign."))
    if campaign.status != CampaignStatus.DRAFT:
        raise ValidationError(_("Approval was already requested, or the campaign is no longer being prepared."))
    campaign_update(campaign=campaign, updated_by=requested_by, slot_values=slot_values, send_date=send_date,
                    target_criteria=target_criteria)
    return proof_request(campaign=campaign, requested_by=requested_by)
