"""Local slots of a co-signed national send: a module of the service layer (like
``central/campaigns/target_review.py``), beside ``central/campaigns/services.py``.

Head office marks some slots of its national send as *local* (``Campaign.local_slots``): each
branch its send reaches may write its own text there (``LocalSlotValues``), head office's value
being the default. The proof freezes each branch's merged values in that branch's variant
(``approvals.snapshot``), so each customer reads their own branch's text, as approved.

Writes (``local_slots_set``, ``local_slot_values_save``) are keyword-only, run in their own
transaction, lock the campaign first (the lock order of docs/approvals.md), are safe to call twice
and write what they did to the campaign's history. The reads here take objects already fetched
through the scoping selectors (the campaign, the branch).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from central.calendar.selectors import national_send_exceptions, operation_eligible_branches
from central.campaigns.selectors import campaign_can_edit
from central.models import Campaign, CampaignEvent, CampaignStatus, LocalSlotValues
from local_stores.models import Node, NodeKind
from local_stores.selectors import node_in_scope
from templates_lib import rendering
from templates_lib import slots as slot_types
from templates_lib.services import slot_values_clean
from templates_lib.slots import SlotDefinition

#: The slot types a branch may fill in head office's message: texts, dates, prices and offers,
#: choices (no image, no link, no rich text).
LOCAL_SLOT_TYPES = (slot_types.SHORT_TEXT, slot_types.LONG_TEXT, slot_types.PRICE, slot_types.DATE,
                    slot_types.CHOICE)


# --- Reads (of a campaign and a branch already read through the scoping selectors) ---------------


def local_slot_candidates(campaign: Campaign) -> list[SlotDefinition]:
    """The slots of the campaign's version head office may mark as local (the allowed types)."""
    return [d for d in rendering.version_slots(campaign.template_version) if d.type in LOCAL_SLOT_TYPES]


def local_slot_definitions(campaign: Campaign) -> list[SlotDefinition]:
    """The campaign's local slots, in the version's order (a name the version no longer has, or of
    a type no longer allowed, is left out)."""
    if campaign.branch_id is not None:
        return []
    marked = set(campaign.local_slots or [])
    return [d for d in local_slot_candidates(campaign) if d.name in marked]


def branch_local_values(campaign: Campaign, branch: Node) -> dict[str, object]:
    """What ``branch`` wrote in the campaign's local slots (only slots still local)."""
    names = {d.name for d in local_slot_definitions(campaign)}
    row = LocalSlotValues.objects.filter(campaign_id=campaign.pk, branch_id=branch.pk).first()
    return {name: value for name, value in (row.values if row else {}).items() if name in names}


def local_values_by_branch(campaign: Campaign) -> dict[int, dict[str, object]]:
    """{branch id: the branch's merged slot values (head office's, updated by the branch's own)}
    for every branch that wrote something in a slot still local: what the proof freezes."""
    names = {d.name for d in local_slot_definitions(campaign)}
    if not names:
        return {}
    merged: dict[int, dict[str, object]] = {}
    for branch_id, values in (LocalSlotValues.objects.filter(campaign_id=campaign.pk)
                              .values_list("branch_id", "values")):
        own = {name: value for name, value in (values or {}).items() if name in names and value is not None}
        if own:
            merged[branch_id] = {**campaign.slot_values, **own}
    return merged


def local_texts_frozen_reason(campaign: Campaign) -> str:
    """Why branches may no longer write their local texts in ``campaign`` ("" while they may)."""
    if campaign.status == CampaignStatus.DRAFT:
        return ""
    requested = next((event.at for event in CampaignEvent.objects.filter(campaign_id=campaign.pk, action="status")
                      .order_by("-at", "-id")
                      if (event.changes or {}).get("status", [None, None])[1] == CampaignStatus.AWAITING_APPROVAL),
                     None)
    if requested is not None:
        return _("Head office's proof was requested on %(date)s: the local texts are frozen in it.") % {
            "date": date_format(timezone.localtime(requested), "SHORT_DATETIME_FORMAT")}
    return _("Head office's message is no longer being prepared: the local texts are frozen.")


# --- Writes ---------------------------------------------------------------------------------------


def local_slots_set(*, campaign: Campaign, slots: list[str], by) -> Campaign:
    """Head office marks the slots of its national send each branch may fill. Only who may edit the
    national campaign, only while it is a draft; names among the version's slots of an allowed
    type. Recorded in the campaign's history when it changes."""

    with transaction.atomic():
        campaign = (Campaign.objects.select_for_update(of=("self",))
                    .select_related("template_version__template").get(pk=campaign.pk))
        if campaign.branch_id is not None or not campaign_can_edit(by, campaign):
            raise PermissionDenied(_("Only head office marks the slots of its national send each branch may fill."))
        if campaign.status != CampaignStatus.DRAFT:
            raise ValidationError({"local_slots": [_(
                "The slots each branch may fill change only while head office's message is being prepared.")]})
        candidates = [d.name for d in local_slot_candidates(campaign)]
        wanted = [str(name).strip() for name in slots or [] if str(name).strip()]
        unknown = sorted(set(wanted) - set(candidates))
        if unknown:
            raise ValidationError({"local_slots": [_(
                "Branches may fill only text, date, price or choice slots of this template (not %(names)s).") % {
                "names": ", ".join(unknown)}]})
        chosen = [name for name in candidates if name in set(wanted)]
        if chosen != list(campaign.local_slots or []):
            CampaignEvent.objects.create(campaign=campaign, action="local_slots", by=by,
                                         changes={"local_slots": [list(campaign.local_slots or []), chosen]})
            campaign.local_slots = chosen
            campaign.save(update_fields=["local_slots", "updated_at"])
    return campaign


def _check_branch(campaign: Campaign, branch: Node, by) -> None:

    if not node_in_scope(by, branch, perm="change_node"):
        raise PermissionDenied(_("You do not act for this branch."))
    if campaign.branch_id is not None or campaign.operation_id is None:
        raise ValidationError(_("Only head office's national send of an operation has texts its branches write."))
    if branch.kind != NodeKind.BRANCH or branch.network_id != campaign.network_id:
        raise ValidationError(_("Head office's send does not reach %(branch)s.") % {"branch": branch.name})
    operation = campaign.operation
    if (not operation_eligible_branches(operation).filter(pk=branch.pk).exists()
            or branch.pk in national_send_exceptions(operation)):
        raise ValidationError(_("Head office's send does not reach %(branch)s's customers: there is no text of "
                                "yours in it.") % {"branch": branch.name})


def local_slot_values_save(*, campaign: Campaign, branch: Node, values: dict[str, object], by) -> dict[str, object]:
    """A branch writes its own texts in the local slots of head office's national send. Who acts for
    the branch (change_node), a send that reaches its customers, only the slots head office marked
    local, only while head office's message is a draft (once its proof is requested the texts are
    frozen in it). The values are checked like head office's — the slot types and the network's
    content rules — on head office's values updated by the branch's; errors by slot name. An empty
    value gives the slot back to head office's default. Returns the branch's values as stored."""

    with transaction.atomic():
        campaign = (Campaign.objects.select_for_update(of=("self",))
                    .select_related("operation", "template_version__template").get(pk=campaign.pk))
        _check_branch(campaign, branch, by)
        frozen = local_texts_frozen_reason(campaign)
        if frozen:
            raise ValidationError(frozen)
        definitions = {d.name: d for d in local_slot_definitions(campaign)}
        errors: dict[str, list[str]] = {}
        for name in sorted(set(values) - set(definitions)):
            errors[name] = [_("Head office does not let branches fill “%(name)s”.") % {"name": name}]
        if errors:
            raise ValidationError(errors)
        given = {name: value for name, value in values.items()
                 if not (value is None or (isinstance(value, str) and not value.strip())
                         or (isinstance(value, dict) and not str(value.get("amount", "")).strip()))}
        try:
            cleaned = slot_values_clean(version=campaign.template_version, values={**campaign.slot_values, **given})
        except ValidationError as error:
            problems = error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}
            raise ValidationError({name: messages for name, messages in problems.items()
                                   if name in given} or {"__all__": [m for ms in problems.values() for m in ms]}) from error
        own = {name: cleaned[name] for name in definitions if name in given and cleaned.get(name) is not None}
        row = LocalSlotValues.objects.select_for_update().filter(campaign=campaign, branch=branch).first()
        before = dict(row.values) if row else {}
        if own == before:
            return own
        if own:
            LocalSlotValues.objects.update_or_create(campaign=campaign, branch=branch,
                                                     defaults={"values": own, "by": by, "at": timezone.now()})
        elif row is not None:
            row.delete()
        CampaignEvent.objects.create(campaign=campaign, action="local_slot_values", by=by, changes={
            "branch": branch.name,
            "slot_values": {name: [before.get(name), own.get(name)] for name in sorted(set(before) | set(own))
                            if before.get(name) != own.get(name)}})
    return own
