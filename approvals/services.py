"""Writes of the approvals app: requesting a proof, deciding it, voiding and revoking it, the
policies, and the deadline task. The rules that cannot be bent live here, checked on every call:

- nobody approves a proof they authored or edited (``Proof.author_ids``);
- an approver acts only within their scope: they hold the step's role on the step's node (or,
  after escalation, are a head-office approver) *and* ``approve_proofs`` over the campaign's branch;
- each step is decided once (a rejection or a full quorum closes it; a person decides a step once);
- a rejection or a request for changes needs a comment.

The send gate (``send_gate``) is what ``central`` asks before scheduling or sending.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from approvals.models import (
    DEFAULT_STEPS,
    HEAD_OFFICE_STEP,
    ApprovalPolicy,
    AuditAction,
    AuditEntry,
    ChangeLevel,
    Decision,
    Origin,
    OverBudget,
    Proof,
    ProofAlert,
    ProofStatus,
    StepLevel,
    Verdict,
)
from approvals.snapshot import snapshot_build, snapshot_render
from central.budgets.costs import over_budget
from central.campaigns.selectors import campaign_audience_count, campaign_can_edit, campaign_fingerprint
from central.campaigns.services import campaign_check_date, campaign_status_set
from central.models import Campaign, CampaignEvent, CampaignStatus, Channel, OperationMode
from local_stores.models import Network, Node, NodeKind, Role
from local_stores.money import money
from local_stores.selectors import node_in_scope, people_holding
from local_stores.services import StateConflict  # the services of approvals raise it (the API answers 409)
from templates_lib import frozen, rendering, slots
from templates_lib.models import TemplateKind
from templates_lib.services import slot_values_clean

logger = logging.getLogger(__name__)

#: Proofs must be decided this many days before the send date (at the latest the day before).
DECISION_LEAD_DAYS = 2
#: Approvers are reminded this many days before the decision deadline.
REMINDER_DAYS_BEFORE = 1
TEXT_TYPES = (slots.SHORT_TEXT, slots.LONG_TEXT, slots.RICH_TEXT)
#: Campaign events that make their author an author of the campaign (not approvals' own status moves).
AUTHORING_ACTIONS = ("created", "customised", "target_exclude", "target_include", "target_reset")


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


def _head_office(network_id: int) -> Node:
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
    head_office = _head_office(campaign.network_id)
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


# --- Who may decide ----------------------------------------------------------------------------------


def _holds_role(user, *, role: str, node_id: int) -> bool:
    return user.groups.filter(relais_role__role=role, relais_role__node_id=node_id).exists()


def _scope_node(proof: Proof) -> Node:
    campaign = proof.campaign
    return campaign.branch if campaign.branch_id else _head_office(campaign.network_id)


def may_decide_step(user, proof: Proof, step: int) -> bool:
    """Within scope for this step: the step's role on the step's node (or head-office approver
    once the step is escalated), and approve_proofs over the campaign's branch."""
    if not user.is_authenticated or not user.is_active or step >= len(proof.steps):
        return False
    if not node_in_scope(user, _scope_node(proof), perm="approve_proofs"):
        return False
    definition = proof.steps[step]
    if _holds_role(user, role=definition["role"], node_id=definition["node"]):
        return True
    if step in (proof.escalated_steps or []):
        head_office = _head_office(proof.campaign.network_id)
        return _holds_role(user, role=Role.APPROVER, node_id=head_office.pk)
    return False


def decision_conflict(proof: Proof) -> str | None:
    """Why ``proof`` cannot be decided now by anyone (its state, or its campaign's), or None."""
    if proof.status != ProofStatus.PENDING:
        return _("This proof is no longer waiting for a decision.")
    if proof.campaign.status != CampaignStatus.AWAITING_APPROVAL:
        return _("This campaign is no longer waiting for approval.")
    return None


def decision_refusal(user, proof: Proof) -> str | None:
    """Why ``user`` may not decide ``proof`` now, or None."""
    conflict = decision_conflict(proof)
    if conflict:
        return conflict
    if user.pk in (proof.author_ids or []):
        return _("You authored or edited this campaign: someone else must approve it.")
    if not may_decide_step(user, proof, proof.current_step):
        return _("This step is not yours to decide.")
    if Decision.objects.filter(proof=proof, step=proof.current_step, decided_by=user).exists():
        return _("You already decided this step.")
    if Decision.objects.filter(proof=proof, decided_by=user).exists():
        return _("You already decided a step of this proof: each step needs someone else.")
    return None


def step_approvers(proof: Proof, step: int):
    """People who may decide ``step`` (for notifications), authors excluded."""
    definition = proof.steps[step]
    people = people_holding(role=definition["role"], nodes=[definition["node"]])
    if step in (proof.escalated_steps or []):
        head_office = _head_office(proof.campaign.network_id)
        people = people | people_holding(role=Role.APPROVER, nodes=[head_office.pk])
    return [person for person in people.distinct() if person.pk not in (proof.author_ids or [])
            and node_in_scope(person, _scope_node(proof), perm="approve_proofs")]


# --- Audit and notifications ----------------------------------------------------------------------


def _audit(proof: Proof | None, action: str, by=None, *, campaign: Campaign | None = None, network_id=None,
           **details) -> AuditEntry:
    campaign = campaign or (proof.campaign if proof else None)
    return AuditEntry.objects.create(
        network_id=network_id or campaign.network_id, branch_id=campaign.branch_id if campaign else None,
        campaign=campaign, proof=proof, action=action, by=by if by and by.is_authenticated else None,
        details={key: value for key, value in details.items() if value not in (None, "", [], {})},
    )


def _proof_url(proof: Proof) -> str:
    return settings.RELAIS_BASE_URL.rstrip("/") + f"/approvals/proofs/{proof.public_id}/"


def _notify(people, proof: Proof, *, subject: str, message: str) -> int:
    """One e-mail per person, in French (the network's language); queued after the transaction
    commits (the task ``approvals.notification_send``), so a rolled-back decision never mails anyone
    and the click does not wait for the mail server."""
    recipients = sorted({person.email for person in people if getattr(person, "email", "")})
    if not recipients:
        return 0
    with translation.override(settings.LANGUAGE_CODE):
        body = render_to_string("approvals/email/notification.txt", {
            "message": message, "proof": proof, "campaign": proof.campaign, "url": _proof_url(proof),
        })
    from approvals.tasks import notification_send_task

    transaction.on_commit(lambda: notification_send_task.delay(f"[Relais] {subject}", body, recipients))
    return len(recipients)


def _authors(proof: Proof):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(pk__in=proof.author_ids or [], is_active=True)


def _deciders(proof: Proof):
    from django.contrib.auth import get_user_model

    ids = proof.decisions.values_list("decided_by_id", flat=True)
    return get_user_model().objects.filter(pk__in=ids, is_active=True)


# --- Requesting a proof ----------------------------------------------------------------------------------


def _render(campaign: Campaign, number: int) -> dict[str, object]:
    """Freeze every input of the campaign's rendering (``approvals.snapshot``) and render the proof
    from that snapshot alone — exactly as dispatch will. The snapshot is returned under "snapshot"."""
    mark = f"BAT n° {number} — {timezone.localdate().strftime('%d/%m/%Y')}"
    try:
        snapshot = snapshot_build(campaign)
        rendered = snapshot_render(campaign, snapshot, number=number, proof_mark=mark)
    except (rendering.RenderError, frozen.SnapshotProblem) as error:
        raise ValidationError(_("The campaign cannot be rendered: %(error)s") % {"error": error}) from error
    kind = campaign.template_version.template.kind
    if kind == TemplateKind.EMAIL:
        return {"subject": rendered["subject"], "html": rendered["html"], "text": rendered["text"], "snapshot": snapshot}
    if kind == TemplateKind.SMS:
        return {"text": rendered["text"], "snapshot": snapshot}
    return {"pdf": rendered["pdf"], "snapshot": snapshot}


def _content_hash(fields: dict[str, object]) -> str:
    digest = hashlib.sha256()
    for key in sorted(fields):
        value = fields[key]
        digest.update(key.encode() + b"\0")
        digest.update(value if isinstance(value, bytes) else json.dumps(value, sort_keys=True, default=str).encode())
        digest.update(b"\0")
    return digest.hexdigest()


@transaction.atomic
def proof_request(*, campaign: Campaign, requested_by) -> Proof:
    """Freeze ``campaign`` into a proof and send it to its first approvers. The campaign must be
    a draft whose slots, date and target are all valid."""
    campaign = (Campaign.objects.select_for_update(of=("self",))
                .select_related("operation", "branch", "network", "template_version__template").get(pk=campaign.pk))
    if not campaign_can_edit(requested_by, campaign):
        raise PermissionDenied(_("You may not request approval for this campaign."))
    if campaign.status != CampaignStatus.DRAFT:
        raise ValidationError(_("Approval was already requested, or the campaign is no longer being prepared."))
    errors: dict[str, list[str]] = {}
    try:
        slot_values_clean(version=campaign.template_version, values=campaign.slot_values)
    except ValidationError as error:
        errors.update(error.message_dict if hasattr(error, "error_dict") else {"slot_values": error.messages})
    problems = campaign_check_date(campaign, campaign.send_date)
    if problems:
        errors["send_date"] = problems
    if errors:
        raise ValidationError(errors)
    number = (campaign.proofs.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    rendered = _render(campaign, number)
    audience = campaign_audience_count(fetched_by=requested_by, campaign=campaign)
    if audience == 0:
        raise ValidationError({"target": [_("Nobody would receive this campaign: widen the target first.")]})
    steps = steps_for(campaign)
    over, estimate, remaining = over_budget(campaign, audience=audience)
    if over:
        policy = policy_for(campaign)
        words = {"cost": f"{estimate.branch:.2f}", "remaining": f"{remaining:.2f}"}
        if policy is not None and policy.over_budget == OverBudget.REFUSE:
            raise ValidationError({"budget": [_(
                "This campaign would cost the branch %(cost)s and %(remaining)s remains of its budget: the network "
                "refuses campaigns over budget. Narrow the target, or ask head office for more budget.") % {
                "cost": money(estimate.branch), "remaining": money(remaining)}]})
        head_office = _head_office(campaign.network_id)
        steps.append({**HEAD_OFFICE_STEP, "node": head_office.pk, "node_name": head_office.name, "over_budget": words})
    overrides = sorted(campaign.overrides.values_list("customer__public_id", "action"))
    definitions = rendering.version_slots(campaign.template_version)
    frozen = {
        "channel": campaign.channel, "subject": rendered.get("subject", ""), "html": rendered.get("html", ""),
        "text": rendered.get("text", ""), "pdf": rendered.get("pdf") or b"",
        "slot_values": campaign.slot_values, "target_criteria": campaign.target_criteria,
        "overrides": [list(pair) for pair in overrides], "audience_count": audience,
        "send_date": campaign.send_date.isoformat(), "steps": steps,
        # every input of the rendering and each variant's rendering hash: the content hash covers them
        "snapshot": rendered["snapshot"],
    }
    authors = set(CampaignEvent.objects.filter(campaign=campaign, by__isnull=False, action__in=AUTHORING_ACTIONS)
                  .values_list("by_id", flat=True))
    authors |= {requested_by.pk} | ({campaign.created_by_id} if campaign.created_by_id else set())
    deadline = max(campaign.send_date - timedelta(days=DECISION_LEAD_DAYS), timezone.localdate())
    proof = Proof.objects.create(
        campaign=campaign, number=number, campaign_hash=campaign_fingerprint(campaign),
        content_hash=_content_hash(frozen), channel=campaign.channel, subject=frozen["subject"],
        html=frozen["html"], text=frozen["text"], pdf=rendered.get("pdf"), slot_values=campaign.slot_values,
        default_values={d.name: d.default for d in definitions}, slot_labels={d.name: d.label for d in definitions},
        target_criteria=campaign.target_criteria, overrides=frozen["overrides"], audience_count=audience,
        send_date=campaign.send_date, origin=campaign_origin(campaign), change_level=campaign_change_level(campaign),
        steps=frozen["steps"], author_ids=sorted(authors), requested_by=requested_by, decision_deadline=deadline,
        snapshot=frozen["snapshot"],
    )
    campaign_status_set(campaign=campaign, status=CampaignStatus.AWAITING_APPROVAL, by=requested_by,
                        note=f"BAT {number}")
    _audit(proof, AuditAction.REQUESTED, requested_by, content_hash=proof.content_hash,
           campaign_hash=proof.campaign_hash, audience=audience, send_date=campaign.send_date.isoformat(),
           steps=[f"{s['role']}@{s['node_name']}" for s in proof.steps])
    _notify(step_approvers(proof, 0), proof, subject=_("A proof waits for your approval"),
            message=_("“%(campaign)s” waits for your decision before %(date)s.") % {
                "campaign": campaign, "date": deadline.strftime("%d/%m/%Y")})
    return proof


# --- Deciding -------------------------------------------------------------------------------------------


def lock_campaign_and_proof(proof: Proof) -> tuple[Campaign, Proof]:
    """Lock ``proof``'s campaign row, then the proof's, and return both as they are now (the
    proof's ``campaign`` set to the locked one). The one lock order of every path that writes a
    campaign and its proofs (docs/approvals.md, "Concurrency: one lock order"): editing, deciding,
    revoking, requesting, voiding, scheduling and sending all take the campaign first, so two of
    them on the same campaign queue behind its row instead of deadlocking."""
    campaign = Campaign.objects.select_for_update(of=("self",)).select_related("branch", "network").get(
        pk=proof.campaign_id)
    proof = Proof.objects.select_for_update().get(pk=proof.pk)
    proof.campaign = campaign
    return campaign, proof


def _close(proof: Proof, status: str, reason: str = "") -> None:
    proof.status = status
    proof.closed_at = timezone.now()
    proof.closed_reason = reason
    proof.save(update_fields=["status", "closed_at", "closed_reason"])


def proof_decide(*, proof: Proof, decided_by, verdict: str, comment: str = "",
                 slot_comments: dict[str, str] | None = None) -> Decision:
    """Approve, reject, or request changes on the current step of ``proof``. Refused
    (PermissionDenied) to whoever may not decide it now; a rejection or a request for changes
    without a comment is a ValidationError. A proof no longer waiting (another request came first)
    is a StateConflict. A proof whose campaign changed behind its back is voided (and that is kept)
    instead of being decided: a ValidationError saying so."""
    with transaction.atomic():
        campaign, proof = lock_campaign_and_proof(proof)
        conflict = decision_conflict(proof)
        if conflict:
            raise StateConflict(conflict)
        refused = decision_refusal(decided_by, proof)
        if refused:
            raise PermissionDenied(refused)
        if campaign_fingerprint(campaign) == proof.campaign_hash:
            return _decide(proof, campaign, decided_by=decided_by, verdict=verdict, comment=comment,
                           slot_comments=slot_comments)
        _void(proof, by=None, reason=_("The campaign changed after the proof was made."))
    raise ValidationError(_("The campaign changed after this proof was made: the proof is void."))


def _decide(proof: Proof, campaign: Campaign, *, decided_by, verdict: str, comment: str,
            slot_comments: dict[str, str] | None) -> Decision:
    if verdict not in Verdict.values:
        raise ValidationError({"verdict": [_("Approve, reject or request changes.")]})
    comment = (comment or "").strip()
    slot_comments = {name: str(text).strip() for name, text in (slot_comments or {}).items()
                     if name in proof.slot_values or name in proof.slot_labels}
    slot_comments = {name: text for name, text in slot_comments.items() if text}
    if verdict != Verdict.APPROVE and not comment and not slot_comments:
        raise ValidationError({"comment": [_("Say why: a rejection or a request for changes needs a comment.")]})
    decision = Decision.objects.create(proof=proof, step=proof.current_step, decided_by=decided_by, verdict=verdict,
                                       comment=comment, slot_comments=slot_comments)
    if verdict == Verdict.APPROVE:
        approvals = proof.decisions.filter(step=proof.current_step, verdict=Verdict.APPROVE).count()
        if approvals < proof.steps[proof.current_step]["quorum"]:
            _audit(proof, AuditAction.APPROVED, decided_by, step=proof.current_step, comment=comment,
                   quorum=f"{approvals}/{proof.steps[proof.current_step]['quorum']}")
            return decision
        _audit(proof, AuditAction.STEP_DONE, decided_by, step=proof.current_step, comment=comment)
        if proof.current_step + 1 < len(proof.steps):
            proof.current_step += 1
            proof.save(update_fields=["current_step"])
            _notify(step_approvers(proof, proof.current_step), proof, subject=_("A proof waits for your approval"),
                    message=_("“%(campaign)s” waits for your decision before %(date)s.") % {
                        "campaign": campaign, "date": proof.decision_deadline.strftime("%d/%m/%Y")})
            return decision
        _close(proof, ProofStatus.APPROVED)
        campaign_status_set(campaign=campaign, status=CampaignStatus.APPROVED, by=decided_by,
                            note=f"BAT {proof.number}")
        _audit(proof, AuditAction.APPROVED, decided_by, final=True)
        _notify(_authors(proof), proof, subject=_("Your campaign is approved"),
                message=_("“%(campaign)s” is approved: it can be scheduled.") % {"campaign": campaign})
        return decision
    status = ProofStatus.REJECTED if verdict == Verdict.REJECT else ProofStatus.CHANGES_REQUESTED
    _close(proof, status, comment)
    campaign_status_set(campaign=campaign, status=CampaignStatus.DRAFT, by=decided_by, note=f"BAT {proof.number}")
    _audit(proof, AuditAction.REJECTED if verdict == Verdict.REJECT else AuditAction.CHANGES, decided_by,
           step=proof.current_step, comment=comment, slot_comments=slot_comments)
    _notify(_authors(proof), proof,
            subject=_("Your campaign was rejected") if verdict == Verdict.REJECT else _("Changes requested"),
            message=(_("“%(campaign)s”: %(verdict)s by %(name)s. %(comment)s") % {
                "campaign": campaign, "verdict": Verdict(verdict).label.lower(),
                "name": decided_by.get_full_name() or decided_by.get_username(), "comment": comment}).strip())
    return decision


# --- Void, revoke --------------------------------------------------------------------------------------


def _void(proof: Proof, *, by, reason: str) -> None:
    _close(proof, ProofStatus.VOIDED, reason)
    _audit(proof, AuditAction.VOIDED, by, reason=reason)
    people = list(_authors(proof)) + list(_deciders(proof))
    if proof.current_step < len(proof.steps):
        people += step_approvers(proof, proof.current_step)
    _notify(people, proof, subject=_("A proof is void"),
            message=_("Proof %(number)s of “%(campaign)s” is void: %(reason)s") % {
                "number": proof.number, "campaign": proof.campaign, "reason": reason})


def proofs_void_for_change(*, campaign: Campaign, by, what: list[str]) -> int:
    """The campaign changed (or was cancelled) after approval was requested: its live proofs no
    longer count. Called (through ``campaign_changed``) inside the transaction that changed the
    campaign, which holds the campaign's row lock: the proofs are locked second, as everywhere."""
    labels = {"slot_values": _("content"), "send_date": _("send date"), "target_criteria": _("target"),
              "target": _("target list"), "cancelled": _("cancelled")}
    changed = ", ".join(str(labels.get(name, name)) for name in what)
    who = (by.get_full_name() or by.get_username()) if by is not None else "Relais"
    reason = _("the campaign changed after the proof was made (%(what)s, by %(who)s).") % {"what": changed, "who": who}
    live = list(Proof.objects.select_for_update().filter(
        campaign=campaign, status__in=(ProofStatus.PENDING, ProofStatus.APPROVED)))
    for proof in live:
        proof.campaign = campaign
        _void(proof, by=by, reason=reason)
    return len(live)


def revoke_conflict(proof: Proof) -> str | None:
    """Why the approval of ``proof`` cannot be revoked now by anyone (its state, or its campaign's)."""
    if proof.status != ProofStatus.APPROVED:
        return _("Only an approved proof can be revoked.")
    if proof.campaign.status not in (CampaignStatus.APPROVED, CampaignStatus.SCHEDULED):
        return _("The first messages have left: approval can no longer be revoked.")
    return None


def revoke_permitted(user, proof: Proof) -> bool:
    """Whether ``user`` is an approver of ``proof`` (who alone may revoke it), whatever its state."""
    return any(may_decide_step(user, proof, step) for step in range(len(proof.steps)))


def revoke_refusal(user, proof: Proof) -> str | None:
    conflict = revoke_conflict(proof)
    if conflict:
        return conflict
    if not revoke_permitted(user, proof):
        return _("Only an approver of this proof can revoke it.")
    return None


@transaction.atomic
def approval_revoke(*, proof: Proof, revoked_by, reason: str) -> Proof:
    """Withdraw an approval until the first message leaves: the campaign goes back to draft. A
    proof no longer approved (an edit voided it, someone revoked it first) or a campaign already
    sending is a StateConflict."""
    campaign, proof = lock_campaign_and_proof(proof)
    conflict = revoke_conflict(proof)
    if conflict:
        raise StateConflict(conflict)
    refused = revoke_refusal(revoked_by, proof)
    if refused:
        raise PermissionDenied(refused)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Say why the approval is revoked.")]})
    _close(proof, ProofStatus.REVOKED, reason)
    campaign_status_set(campaign=campaign, status=CampaignStatus.DRAFT, by=revoked_by, note=reason)
    _audit(proof, AuditAction.REVOKED, revoked_by, reason=reason)
    _notify(list(_authors(proof)) + list(_deciders(proof)), proof, subject=_("Approval revoked"),
            message=_("The approval of “%(campaign)s” was revoked: %(reason)s") % {"campaign": campaign, "reason": reason})
    return proof


# --- The send gate -------------------------------------------------------------------------------------


def send_gate(campaign: Campaign) -> str | None:
    """Why ``campaign`` may not be scheduled or sent, or None: it needs an approved proof whose
    campaign fingerprint is the campaign's current one, every step of which has its quorum of
    approvals from people other than its authors. Named in ``settings.RELAIS_SEND_GATE``."""
    proof = (Proof.objects.filter(campaign_id=campaign.pk, status=ProofStatus.APPROVED)
             .order_by("-number").first())
    if proof is None:
        return _("No approved proof: request approval first.")
    if proof.campaign_hash != campaign_fingerprint(campaign):
        return _("The campaign changed since its proof was approved: request approval again.")
    if not proof.snapshot:
        return _("The approved proof holds no frozen rendering: request approval again.")
    counted: set[int] = set(proof.author_ids or [])  # authors never count, nor anyone twice across steps
    for index, step in enumerate(proof.steps):
        approvers = set(proof.decisions.filter(step=index, verdict=Verdict.APPROVE).values_list("decided_by_id", flat=True))
        approvers -= counted
        if len(approvers) < step["quorum"]:
            return _("The proof lacks an approval.")
        counted |= approvers
    return None


def proof_frozen_fields(proof: Proof) -> dict[str, object]:
    """The fields ``proof_request`` hashed into ``content_hash``, read back from the proof."""
    return {
        "channel": proof.channel, "subject": proof.subject, "html": proof.html, "text": proof.text,
        "pdf": bytes(proof.pdf or b""), "slot_values": proof.slot_values, "target_criteria": proof.target_criteria,
        "overrides": proof.overrides, "audience_count": proof.audience_count,
        "send_date": proof.send_date.isoformat(), "steps": proof.steps, "snapshot": proof.snapshot,
    }


def send_snapshot(campaign: Campaign) -> dict[str, object] | None:
    """The frozen snapshot dispatch renders ``campaign`` from: its approved proof's (the one the
    gate lets go), checked against the proof's content hash — a snapshot edited in the database
    after approval is refused (None). Named in ``settings.RELAIS_SEND_SNAPSHOT``."""
    proof = (Proof.objects.filter(campaign_id=campaign.pk, status=ProofStatus.APPROVED)
             .order_by("-number").first())
    if proof is None or not proof.snapshot or proof.campaign_hash != campaign_fingerprint(campaign):
        return None
    if _content_hash(proof_frozen_fields(proof)) != proof.content_hash:
        logger.error("proof %s: its frozen content no longer matches its hash", proof.public_id)
        return None
    return proof.snapshot


def proof_request_again(*, campaign: Campaign, requested_by) -> Proof:
    """An approved or scheduled campaign whose rendering inputs changed since (the branch's details):
    its approval is given up (the proof voided, the campaign back to draft) and a new proof, frozen
    with the current details, is requested at once."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update(of=("self",)).get(pk=campaign.pk)
        if not campaign_can_edit(requested_by, campaign):
            raise PermissionDenied(_("You may not request approval for this campaign."))
        if campaign.status not in (CampaignStatus.APPROVED, CampaignStatus.SCHEDULED):
            raise ValidationError(_("Only an approved or scheduled campaign can be approved again."))
        who = requested_by.get_full_name() or requested_by.get_username()
        reason = _("a new approval was requested with the branch's current details (by %(who)s).") % {"who": who}
        for proof in Proof.objects.select_for_update().filter(campaign=campaign, status=ProofStatus.APPROVED):
            proof.campaign = campaign
            _void(proof, by=requested_by, reason=reason)
        campaign_status_set(campaign=campaign, status=CampaignStatus.DRAFT, by=requested_by, note=reason)
        return proof_request(campaign=campaign, requested_by=requested_by)


# --- Policies ---------------------------------------------------------------------------------------------


def _require_policy_manager(user, network: Network) -> None:
    head_office = _head_office(network.pk)
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
    _audit(None, AuditAction.POLICY, saved_by, network_id=network.pk, policy=policy.public_id, name=policy.name,
           steps=policy.steps, channel=policy.channel, origin=policy.origin, changes=policy.changes,
           active=policy.is_active)
    return policy


# --- Deadlines (Celery beat) ------------------------------------------------------------------------------


def proof_deadlines_run(*, today=None) -> dict[str, int]:
    """Remind the current step's approvers the day before the decision deadline; once it has
    passed, open the step to head-office approvers (escalation) and tell them. Each (proof, step,
    kind) at most once, whatever the number of runs."""
    today = today or timezone.localdate()
    done = {"reminded": 0, "escalated": 0}
    pending = Proof.objects.filter(status=ProofStatus.PENDING, decision_deadline__lte=today + timedelta(
        days=REMINDER_DAYS_BEFORE)).select_related("campaign__branch", "campaign__network")
    for proof in pending:
        kind = ProofAlert.Kind.ESCALATION if proof.decision_deadline < today else ProofAlert.Kind.REMINDER
        with transaction.atomic():
            _campaign, locked = lock_campaign_and_proof(proof)  # the campaign first, as everywhere
            if locked.status != ProofStatus.PENDING:
                continue
            _alert, created = ProofAlert.objects.get_or_create(proof=locked, step=locked.current_step, kind=kind)
            if not created:
                continue
            if kind == ProofAlert.Kind.ESCALATION:
                locked.escalated_steps = sorted({*(locked.escalated_steps or []), locked.current_step})
                locked.save(update_fields=["escalated_steps"])
                _audit(locked, AuditAction.ESCALATED, None, step=locked.current_step)
                _notify(step_approvers(locked, locked.current_step), locked, subject=_("Overdue proof escalated to you"),
                        message=_("“%(campaign)s” was not decided by %(date)s: head-office approvers may now decide it.")
                        % {"campaign": locked.campaign, "date": locked.decision_deadline.strftime("%d/%m/%Y")})
                done["escalated"] += 1
            else:
                _audit(locked, AuditAction.REMINDED, None, step=locked.current_step)
                _notify(step_approvers(locked, locked.current_step), locked, subject=_("A proof waits for your decision"),
                        message=_("“%(campaign)s” must be decided by %(date)s.") % {
                            "campaign": locked.campaign, "date": locked.decision_deadline.strftime("%d/%m/%Y")})
                done["reminded"] += 1
    return done

