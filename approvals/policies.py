"""Which approval a campaign needs: its origin and what the branch changed, the matching policy and
the steps it resolves to (``steps_for``); and the writes of the policies themselves (``policy_save``),
head office's alone."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from approvals.audit import audit_record
from approvals.models import (
    DEFAULT_STEPS,
    HEAD_OFFICE_STEP,
    ApprovalPolicy,
    AuditAction,
    ChangeLevel,
    Origin,
    StepLevel,
)
from central.models import Campaign, Channel, OperationMode
from local_stores.models import Network, Node, NodeKind, Role
from local_stores.selectors import node_in_scope
from templates_lib import rendering, slots

#: Slot types whose change makes a campaign's change level "text".
TEXT_TYPES = (slots.SHORT_TEXT, slots.LONG_TEXT, slots.RICH_TEXT)


# --- What a campaign needs --------------------------------------------------------------------------


def campaign_origin(campaign: Campaign) -> str:
    if campaign.branch_id is None:
        return Origin.NATIONAL
    if campaign.operation_id is None:
        return Origin.LOCAL
    return Origin.KIT if campaign.operation.mode == OperationMode.KIT else Origin.SUBSCRIPTION


def campaign_defaults(campaign: Campaign) -> dict[str, object]:
    return {d.name: d.default for d in rendering.version_slots(campaign.template_version)}


def campaign_change_level(campaign: Campaign) -> str:
    """What the branch changed against the template's defaults: images, free text, or nothing
    but dates and defaults."""
    definitions = rendering.version_slots(campaign.template_version)
    changed = [d for d in definitions if (campaign.slot_values.get(d.name) or None) != (d.default or None)]
    if any(d.type == slots.IMAGE for d in changed):
        return ChangeLevel.IMAGES
    if any(d.type in TEXT_TYPES for d in changed):
        return ChangeLevel.TEXT
    return ChangeLevel.DEFAULTS


def policy_for(campaign: Campaign) -> ApprovalPolicy | None:
    origin, level = campaign_origin(campaign), campaign_change_level(campaign)
    for policy in ApprovalPolicy.objects.filter(network_id=campaign.network_id, is_active=True):
        if (policy.channel in ("", campaign.channel) and policy.origin in ("", origin)
                and policy.changes in ("", level)):
            return policy
    return None


def head_office_node(network_id: int) -> Node:
    return Node.objects.get(network_id=network_id, kind=NodeKind.HEAD_OFFICE)


def _region_of(branch: Node) -> Node | None:
    node = branch.parent
    while node is not None and node.kind != NodeKind.REGION:
        node = node.parent
    return node


def steps_for(campaign: Campaign) -> list[dict[str, object]]:
    """The approval steps of ``campaign``, resolved to nodes: the matching policy's (or the
    default), a region step dropped where there is no region (a national send, a branch directly
    under head office), and a head-office step added to print unless the policy waives it."""
    policy = policy_for(campaign)
    wanted = list(policy.steps if policy else DEFAULT_STEPS)
    if (campaign.channel == Channel.POST and not (policy and policy.print_without_head_office)
            and not any(step["level"] == StepLevel.HEAD_OFFICE for step in wanted)):
        wanted.append(HEAD_OFFICE_STEP)
    head_office = head_office_node(campaign.network_id)
    region = _region_of(campaign.branch) if campaign.branch_id else None
    resolved = []
    for step in wanted:
        node = head_office if step["level"] == StepLevel.HEAD_OFFICE else region
        if node is None:
            continue
        resolved.append({"level": step["level"], "role": step["role"], "quorum": max(1, int(step.get("quorum", 1))),
                         "node": node.pk, "node_name": node.name})
    if not resolved:
        resolved.append({**HEAD_OFFICE_STEP, "node": head_office.pk, "node_name": head_office.name})
    return resolved


# --- Policies ---------------------------------------------------------------------------------------------


def _require_policy_manager(user, network: Network) -> None:
    head_office = head_office_node(network.pk)
    if not node_in_scope(user, head_office, perm="manage_network"):
        raise PermissionDenied(_("Only head office sets the approval policies."))


def policy_clean_steps(raw) -> list[dict[str, object]]:
    if not isinstance(raw, list) or not raw:
        raise ValidationError({"steps": [_("Give at least one step.")]})
    steps, errors = [], []
    for index, step in enumerate(raw, start=1):
        if not isinstance(step, dict):
            errors.append(_("Step %(n)s is not understood.") % {"n": index})
            continue
        level, role = step.get("level"), step.get("role")
        try:
            quorum = int(step.get("quorum", 1))
        except (TypeError, ValueError):
            quorum = 0
        if level not in StepLevel.values:
            errors.append(_("Step %(n)s: choose the branch's region or head office.") % {"n": index})
        if role not in (Role.REGIONAL_MANAGER, Role.APPROVER):
            errors.append(_("Step %(n)s: choose regional manager or approver.") % {"n": index})
        if not 1 <= quorum <= 5:
            errors.append(_("Step %(n)s: the quorum is a number from 1 to 5.") % {"n": index})
        steps.append({"level": level, "role": role, "quorum": quorum})
    if errors:
        raise ValidationError({"steps": errors})
    return steps


@transaction.atomic
def policy_save(*, network: Network, saved_by, policy: ApprovalPolicy | None = None, **fields) -> ApprovalPolicy:
    _require_policy_manager(saved_by, network)
    allowed = {"name", "position", "channel", "origin", "changes", "steps", "print_without_head_office", "is_active"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError(_("Unknown fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))})
    policy = policy or ApprovalPolicy(network=network)
    errors: dict[str, list[str]] = {}
    if "steps" in fields:
        try:
            fields["steps"] = policy_clean_steps(fields["steps"])
        except ValidationError as error:
            errors.update(error.message_dict)
    for name, value in fields.items():
        setattr(policy, name, value)
    if not (policy.name or "").strip():
        errors.setdefault("name", []).append(_("Give the policy a name."))
    for name, choices in (("channel", Channel.values), ("origin", Origin.values), ("changes", ChangeLevel.values)):
        if getattr(policy, name) not in ("", *choices):
            errors.setdefault(name, []).append(_("Not one of the choices."))
    if not policy.steps:
        errors.setdefault("steps", []).append(_("Give at least one step."))
    if errors:
        raise ValidationError(errors)
    policy.updated_by = saved_by
    policy.save()
    audit_record(None, AuditAction.POLICY, saved_by, network_id=network.pk, policy=policy.public_id, name=policy.name,
           steps=policy.steps, channel=policy.channel, origin=policy.origin, changes=policy.changes,
           active=policy.is_active)
    return policy
