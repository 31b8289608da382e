"""Writes of campaigns: created from an operation (a branch's answer, a kit, head office's send),
customised, moved along their approval path, scheduled, sent, cancelled."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from central.calendar.selectors import blackout_periods_on, operation_eligible_branches, require_planner
from central.campaigns.selectors import campaign_allowed_criteria, campaign_can_edit, campaign_edit_deadline
from central.campaigns.targeting import criteria_clean, reachable_on
from central.channels import registry as channels
from central.customers.selectors import customers_visible_to
from central.identity.selectors import identity_problem
from central.models import (
    CAMPAIGN_OPEN_STATUSES,
    WITHDRAWAL_BLOCKING_STATUSES,
    Campaign,
    CampaignEvent,
    CampaignStatus,
    Customer,
    Operation,
    OperationMode,
    OperationStatus,
    Participation,
    TargetOverride,
)
from central.signals import campaign_changed
from local_stores.models import Node
from local_stores.selectors import node_in_scope
from templates_lib.rendering import version_slots
from templates_lib.services import slot_values_clean


def _default_slot_values(version) -> dict[str, object]:
    defaults = {definition.name: definition.default for definition in version_slots(version)}
    try:
        return slot_values_clean(version=version, values=defaults)
    except ValidationError:
        return {name: value for name, value in defaults.items() if value not in (None, "")}


def _campaigns_for(*, operation: Operation, branch: Node | None, created_by, versions=None) -> list[Campaign]:
    """Draft campaigns of ``branch`` for ``operation``: one per template version, dated on the
    first day of the send window, with the template's default slot values and an empty target."""
    versions = list(versions if versions is not None else operation.template_versions.select_related("template"))
    first_day = max(operation.send_from, timezone.localdate() + timedelta(days=1))
    if first_day > operation.send_until:
        raise ValidationError(_("The send window of “%(operation)s” has closed (last send date %(date)s).")
                              % {"operation": operation.name, "date": date_format(operation.send_until)})
    campaigns = Campaign.objects.bulk_create([
        Campaign(
            network_id=operation.network_id, branch=branch, operation=operation, template_version=version,
            channel=channels.for_template_kind(version.template.kind).code, slot_values=_default_slot_values(version),
            send_date=first_day, created_by=created_by,
        )
        for version in versions
    ])
    CampaignEvent.objects.bulk_create([
        CampaignEvent(campaign=campaign, action="created", by=created_by, changes={
            "template": f"{campaign.template_version.template.name} v{campaign.template_version.number}",
            "send_date": campaign.send_date.isoformat(),
        })
        for campaign in campaigns
    ])
    return campaigns


def campaign_describe(campaign: Campaign) -> str:
    """“Template” (channel, send date, state): how a campaign is named to a person."""
    return _("“%(name)s” (%(channel)s, %(date)s, %(state)s)") % {
        "name": campaign.template_version.template.name, "channel": campaign.get_channel_display(),
        "date": date_format(campaign.send_date), "state": campaign.get_status_display()}


def participation_withdrawal_check(*, operation: Operation, branch: Node) -> None:
    """Declining or opting out cancels only drafts: refused (ValidationError on ``status``, naming
    them) while the branch has campaigns of the operation beyond a draft and not finished."""
    # All of them locked first (in one order), like every path that changes a campaign and then its
    # proofs: a draft sent for approval meanwhile is read in its new state, and refuses the answer.
    locked = Campaign.objects.select_for_update(of=("self",)).filter(operation=operation, branch=branch)
    blocking = [campaign for campaign in locked.select_related("template_version__template").order_by("pk")
                if campaign.status in WITHDRAWAL_BLOCKING_STATUSES]
    if blocking:
        blocking.sort(key=lambda campaign: (campaign.send_date, campaign.pk))
        raise ValidationError({"status": [
            _("%(branch)s still has campaigns of this operation under way; cancel or finish these first: "
              "%(campaigns)s.") % {"branch": branch.name,
                                   "campaigns": "; ".join(campaign_describe(campaign) for campaign in blocking)}]})


def _cancel_campaigns(*, operation: Operation, branch: Node, cancelled_by, reason: str,
                      statuses=(CampaignStatus.DRAFT,)) -> int:
    # Locked first (in one order), like every path that changes a campaign and then its proofs.
    campaigns = list(Campaign.objects.select_for_update().filter(
        operation=operation, branch=branch, status__in=statuses).order_by("pk"))
    for campaign in campaigns:
        previous = campaign.status
        campaign.status = CampaignStatus.CANCELLED
        campaign.save(update_fields=["status", "updated_at"])
        CampaignEvent.objects.create(campaign=campaign, action="cancelled", by=cancelled_by, changes={"reason": reason})
        if previous != CampaignStatus.DRAFT:
            campaign_changed.send(sender=Campaign, campaign=campaign, by=cancelled_by, what=["cancelled"],
                                  previous_status=previous)
    return len(campaigns)


def participation_campaigns_sync(participation: Participation, *, by) -> None:
    """Joining or being enrolled creates the branch's campaigns; declining or opting out cancels
    the drafts only (participation_answer refused it while any campaign was further along)."""
    has_live = Campaign.objects.filter(
        operation=participation.operation, branch=participation.branch
    ).exclude(status=CampaignStatus.CANCELLED).exists()
    if participation.is_in and not has_live:
        _campaigns_for(operation=participation.operation, branch=participation.branch, created_by=by)
    elif not participation.is_in:
        _cancel_campaigns(operation=participation.operation, branch=participation.branch, cancelled_by=by,
                          reason=participation.status)


@transaction.atomic
def kit_use(*, operation: Operation, branch: Node, template_version, used_by) -> Campaign:
    """A branch uses a kit: one new draft campaign with one of the kit's template versions."""
    if not node_in_scope(used_by, branch, perm="change_node"):
        raise PermissionDenied(_("You do not act for this branch."))
    if operation.mode != OperationMode.KIT or operation.status != OperationStatus.PUBLISHED:
        raise ValidationError(_("Only a published kit can be used freely."))
    if not operation_eligible_branches(operation).filter(pk=branch.pk).exists():
        raise ValidationError(_("This operation is not open to %(branch)s.") % {"branch": branch.name})
    if operation.send_until <= timezone.localdate():
        raise ValidationError(_("This kit's send window is over."))
    if not operation.template_versions.filter(pk=template_version.pk).exists():
        raise ValidationError({"template_version": [_("Choose one of the kit's templates.")]})
    return _campaigns_for(operation=operation, branch=branch, created_by=used_by, versions=[template_version])[0]


@transaction.atomic
def national_campaign_create(*, operation: Operation, template_version, created_by) -> Campaign:
    """The head office plans a national send of an operation (to every reachable customer)."""
    require_planner(created_by, operation.network)
    if operation.status != OperationStatus.PUBLISHED:
        raise ValidationError(_("Publish the operation first."))
    if not operation.template_versions.filter(pk=template_version.pk).exists():
        raise ValidationError({"template_version": [_("Choose one of the operation's templates.")]})
    return _campaigns_for(operation=operation, branch=None, created_by=created_by, versions=[template_version])[0]


def _require_editable(campaign: Campaign, user) -> None:
    if not campaign_can_edit(user, campaign):
        raise PermissionDenied(_("You may not change this campaign."))
    if campaign.status not in CAMPAIGN_OPEN_STATUSES:
        raise ValidationError(_("This campaign is no longer being prepared."))
    deadline = campaign_edit_deadline(campaign)
    if timezone.localdate() > deadline:
        raise ValidationError(_("Changes were possible until %(date)s.") % {"date": deadline.strftime("%d/%m/%Y")})


def campaign_check_date(campaign: Campaign, send_date) -> list[str]:
    """Why ``send_date`` cannot be this campaign's, if it cannot."""
    problems = []
    tomorrow = timezone.localdate() + timedelta(days=1)
    if send_date < tomorrow:
        problems.append(_("Pick a date from tomorrow on."))
    operation = campaign.operation
    if operation is not None and not operation.send_from <= send_date <= operation.send_until:
        problems.append(_("Pick a date between %(start)s and %(end)s, the operation's send window.") % {
            "start": operation.send_from.strftime("%d/%m/%Y"), "end": operation.send_until.strftime("%d/%m/%Y")})
    for period in blackout_periods_on(network_id=campaign.network_id, day=send_date, channel=campaign.channel):
        problems.append(_("%(date)s falls in the blackout period “%(name)s”: nothing is sent then.") % {
            "date": send_date.strftime("%d/%m/%Y"), "name": period.name})
    return problems


def _jsonable(value: object) -> object:
    return value.isoformat() if hasattr(value, "isoformat") else value


@transaction.atomic
def campaign_update(
    *, campaign: Campaign, updated_by, slot_values: dict | None = None, send_date=None,
    target_criteria: dict | None = None,
) -> Campaign:
    """Customise a draft campaign: slot values (checked against the slot types and the network's
    rules), the send date (inside the operation's window, not in a blackout period) and the target
    (only the operation's allowed criteria). All or nothing: ValidationError keyed by field (slot
    errors keyed by slot name). Every change is recorded with its before and after."""
    campaign = Campaign.objects.select_for_update(of=("self",)).select_related("operation", "template_version__template").get(
        pk=campaign.pk)
    _require_editable(campaign, updated_by)
    errors: dict[str, list[str]] = {}
    changes: dict[str, object] = {}
    if slot_values is not None:
        try:
            cleaned = slot_values_clean(version=campaign.template_version, values=slot_values)
        except ValidationError as error:
            errors.update(error.message_dict if hasattr(error, "error_dict") else {"slot_values": error.messages})
        else:
            changed = {
                name: [campaign.slot_values.get(name), cleaned.get(name)]
                for name in sorted(set(cleaned) | set(campaign.slot_values))
                if campaign.slot_values.get(name) != cleaned.get(name)
            }
            if changed:
                changes["slot_values"] = changed
                campaign.slot_values = cleaned
    if send_date is not None:
        problems = campaign_check_date(campaign, send_date)
        if problems:
            errors["send_date"] = problems
        elif send_date != campaign.send_date:
            changes["send_date"] = [campaign.send_date.isoformat(), send_date.isoformat()]
            campaign.send_date = send_date
    if target_criteria is not None:
        try:
            criteria = criteria_clean(target_criteria, allowed=campaign_allowed_criteria(campaign))
        except ValidationError as error:
            errors.update({f"target_{name}": messages for name, messages in error.message_dict.items()})
        else:
            if criteria != campaign.target_criteria:
                changes["target_criteria"] = [campaign.target_criteria, criteria]
                campaign.target_criteria = criteria
    if errors:
        raise ValidationError(errors)
    if changes:
        campaign.save()
        CampaignEvent.objects.create(
            campaign=campaign, action="customised", by=updated_by,
            changes={key: [_jsonable(v) for v in pair] if isinstance(pair, list) else {
                name: [_jsonable(v) for v in values] for name, values in pair.items()}
                for key, pair in changes.items()},
        )
        _back_to_draft(campaign, by=updated_by, what=sorted(changes))
    return campaign


def _back_to_draft(campaign: Campaign, *, by, what: list[str]) -> None:
    """A change of content, target or date after approval was requested: the campaign is a draft
    again, and ``campaign_changed`` tells the approvals app, which voids the proof and tells its
    authors and approvers why. (The send gate compares content hashes anyway: even without this,
    a changed campaign could not be sent.)"""
    previous = campaign.status
    if previous != CampaignStatus.DRAFT:
        campaign.status = CampaignStatus.DRAFT
        campaign.save(update_fields=["status", "updated_at"])
    campaign_changed.send(sender=Campaign, campaign=campaign, by=by, what=what, previous_status=previous)


def campaign_status_set(*, campaign: Campaign, status: str, by, note: str = "") -> Campaign:
    """Move a campaign along its approval path (awaiting approval, approved, draft again). Called
    by the approvals app, which owns the rules; recorded in the campaign's history."""
    allowed_from = {
        CampaignStatus.AWAITING_APPROVAL: (CampaignStatus.DRAFT,),
        CampaignStatus.APPROVED: (CampaignStatus.AWAITING_APPROVAL,),
        CampaignStatus.DRAFT: (CampaignStatus.DRAFT, CampaignStatus.AWAITING_APPROVAL, CampaignStatus.APPROVED,
                               CampaignStatus.SCHEDULED),
    }
    if status not in allowed_from:
        raise ValidationError(_("Unknown approval status."))
    if campaign.status not in allowed_from[status]:
        raise ValidationError(_("This campaign is no longer waiting for approval."))
    if campaign.status != status:
        before = campaign.status
        campaign.status = status
        campaign.save(update_fields=["status", "updated_at"])
        CampaignEvent.objects.create(campaign=campaign, action="status", by=by,
                                     changes={"status": [before, status], **({"note": note} if note else {})})
    return campaign


def send_gate_check(campaign: Campaign) -> str | None:
    """Why ``campaign`` may not be scheduled or sent, or None. Asks the send gate named by
    ``settings.RELAIS_SEND_GATE`` (the approvals app's: an approved proof of exactly the
    campaign's current content, target and date, with every required step). Without a gate,
    nothing may be sent. Before the gate, the network's sending identity
    (``central.identity.selectors.identity_problem``): a network that cannot send on the campaign's
    channel is refused with what is missing."""
    gate_path = getattr(settings, "RELAIS_SEND_GATE", "")
    if not gate_path:
        return _("No send gate is configured: nothing can be sent.")
    return identity_problem(campaign.network_id, campaign.channel) or import_string(gate_path)(campaign)


@transaction.atomic
def campaign_schedule(*, campaign: Campaign, scheduled_by) -> Campaign:
    """Put an approved campaign in the send queue for its date. Only through the send gate."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if not campaign_can_edit(scheduled_by, campaign):
        raise PermissionDenied(_("You may not change this campaign."))
    if campaign.status != CampaignStatus.APPROVED:
        raise ValidationError(_("Only an approved campaign can be scheduled."))
    refused = send_gate_check(campaign)
    if refused:
        raise ValidationError(refused)
    campaign.status = CampaignStatus.SCHEDULED
    campaign.save(update_fields=["status", "updated_at"])
    CampaignEvent.objects.create(campaign=campaign, action="scheduled", by=scheduled_by,
                                 changes={"send_date": campaign.send_date.isoformat()})
    return campaign


@transaction.atomic
def campaign_send_start(*, campaign: Campaign, started_by=None) -> Campaign:
    """The first message is about to leave: from now on approval can no longer be revoked nor the
    campaign changed. Refused unless the send gate lets this exact campaign go."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status != CampaignStatus.SCHEDULED:
        raise ValidationError(_("Only a scheduled campaign can start sending."))
    refused = send_gate_check(campaign)
    if refused:
        raise ValidationError(refused)
    campaign.status = CampaignStatus.SENDING
    campaign.save(update_fields=["status", "updated_at"])
    CampaignEvent.objects.create(campaign=campaign, action="sending", by=started_by)
    return campaign


def _own_customer(campaign: Campaign, user, customer_public_id: str):
    """A customer of the campaign's branch (or network, for a national one) that ``user`` sees;
    the same message for a foreign id and a missing one."""
    customers = customers_visible_to(user).filter(network_id=campaign.network_id)
    if campaign.branch_id is not None:
        customers = customers.filter(branch_id=campaign.branch_id)
    customer = customers.filter(public_id=(customer_public_id or "").strip()).first()
    if customer is None:
        owner = campaign.branch.name if campaign.branch_id else campaign.network.name
        raise ValidationError({"customer": [_("No customer of %(owner)s has the id “%(id)s”.") % {
            "owner": owner, "id": customer_public_id}]})
    return customer


@transaction.atomic
def campaign_target_change(*, campaign: Campaign, customer_public_id: str, action: str, changed_by) -> TargetOverride | None:
    """Remove one of the branch's own customers from the proposed list, add one, or undo either
    (``action`` "exclude", "include" or "reset"). Only until the edit deadline; an added customer
    must be reachable on the campaign's channel."""
    campaign = Campaign.objects.select_for_update(of=("self",)).select_related("operation", "branch", "network").get(pk=campaign.pk)
    _require_editable(campaign, changed_by)
    customer = _own_customer(campaign, changed_by, customer_public_id)
    if action not in ("exclude", "include", "reset"):
        raise ValidationError({"action": [_("Remove, add or restore a customer.")]})
    if action == "include" and not Customer.objects.filter(pk=customer.pk).filter(reachable_on(campaign.channel)).exists():
        raise ValidationError({"customer": [_("%(name)s cannot be reached by %(channel)s (no consent, an objection or no address).") % {
            "name": customer.full_name, "channel": campaign.get_channel_display()}]})
    previous = TargetOverride.objects.filter(campaign=campaign, customer=customer).first()
    if action == "reset":
        if previous:
            previous.delete()
    else:
        TargetOverride.objects.update_or_create(campaign=campaign, customer=customer, defaults={"action": action})
    if (previous.action if previous else "reset") != action:
        CampaignEvent.objects.create(campaign=campaign, action=f"target_{action}", by=changed_by,
                                     changes={"customer": customer.public_id, "name": customer.full_name})
        _back_to_draft(campaign, by=changed_by, what=["target"])
    return TargetOverride.objects.filter(campaign=campaign, customer=customer).first()


@transaction.atomic
def campaign_cancel(*, campaign: Campaign, cancelled_by) -> Campaign:
    # Re-read under a row lock: a stale copy must not cancel a campaign that has started sending
    # meanwhile (no select_related: PostgreSQL refuses FOR UPDATE on the nullable join).
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    _require_editable(campaign, cancelled_by)
    previous = campaign.status
    campaign.status = CampaignStatus.CANCELLED
    campaign.save(update_fields=["status", "updated_at"])
    CampaignEvent.objects.create(campaign=campaign, action="cancelled", by=cancelled_by)
    if previous != CampaignStatus.DRAFT:
        campaign_changed.send(sender=Campaign, campaign=campaign, by=cancelled_by, what=["cancelled"],
                              previous_status=previous)
    return campaign
