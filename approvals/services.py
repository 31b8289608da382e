"""Writes of the approvals app: requesting a proof, deciding it, voiding and revoking it, the send
gate, and the deadline task. The rules that cannot be bent live here, checked on every call:

- nobody approves a proof they authored or edited (``Proof.author_ids``);
- an approver acts only within their scope: they hold the step's role on the step's node (or,
  after escalation, are a head-office approver) *and* ``approve_proofs`` over the campaign's branch;
- each step is decided once (a rejection or a full quorum closes it; a person decides a step once);
- a rejection or a request for changes needs a comment.

Which approval a campaign needs and the policies live in ``approvals.policies``, who may
decide or revoke in ``approvals.deciders``, the audit trail and notifications in ``approvals.audit``.

The send gate (``send_gate``) is what ``central`` asks before scheduling or sending.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from approvals.audit import audit_record, notify, proof_authors, proof_deciders
from approvals.deciders import (
    decision_conflict,
    decision_refusal,
    revoke_conflict,
    revoke_refusal,
    step_approvers,
)
from approvals.models import (
    HEAD_OFFICE_STEP,
    AuditAction,
    Decision,
    OverBudget,
    Proof,
    ProofAlert,
    ProofStatus,
    Verdict,
)
from approvals.policies import campaign_change_level, campaign_origin, head_office_node, policy_for, steps_for
from approvals.snapshot import snapshot_build, snapshot_render
from central.budgets.costs import over_budget
from central.campaigns.selectors import campaign_audience_count, campaign_can_edit, campaign_fingerprint
from central.campaigns.services import campaign_check_date, campaign_status_set
from central.identity.selectors import sender_changed
from central.models import Campaign, CampaignEvent, CampaignStatus
from local_stores.locale import latest_today, network_today
from local_stores.money import money
from local_stores.services import StateConflict  # the services of approvals raise it (the API answers 409)
from templates_lib import frozen, rendering
from templates_lib.models import TemplateKind
from templates_lib.services import slot_values_clean

logger = logging.getLogger(__name__)

#: Proofs must be decided this many days before the send date (at the latest the day before).
DECISION_LEAD_DAYS = 2
#: Approvers are reminded this many days before the decision deadline.
REMINDER_DAYS_BEFORE = 1
#: Campaign events that make their author an author of the campaign (not approvals' own status moves).
AUTHORING_ACTIONS = ("created", "customised", "target_exclude", "target_include", "target_reset")


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
        head_office = head_office_node(campaign.network_id)
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
    audit_record(proof, AuditAction.REQUESTED, requested_by, content_hash=proof.content_hash,
           campaign_hash=proof.campaign_hash, audience=audience, send_date=campaign.send_date.isoformat(),
           steps=[f"{s['role']}@{s['node_name']}" for s in proof.steps])
    notify(step_approvers(proof, 0), proof, subject=_("A proof waits for your approval"),
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
            audit_record(proof, AuditAction.APPROVED, decided_by, step=proof.current_step, comment=comment,
                   quorum=f"{approvals}/{proof.steps[proof.current_step]['quorum']}")
            return decision
        audit_record(proof, AuditAction.STEP_DONE, decided_by, step=proof.current_step, comment=comment)
        if proof.current_step + 1 < len(proof.steps):
            proof.current_step += 1
            proof.save(update_fields=["current_step"])
            notify(step_approvers(proof, proof.current_step), proof, subject=_("A proof waits for your approval"),
                    message=_("“%(campaign)s” waits for your decision before %(date)s.") % {
                        "campaign": campaign, "date": proof.decision_deadline.strftime("%d/%m/%Y")})
            return decision
        _close(proof, ProofStatus.APPROVED)
        campaign_status_set(campaign=campaign, status=CampaignStatus.APPROVED, by=decided_by,
                            note=f"BAT {proof.number}")
        audit_record(proof, AuditAction.APPROVED, decided_by, final=True)
        notify(proof_authors(proof), proof, subject=_("Your campaign is approved"),
                message=_("“%(campaign)s” is approved: it can be scheduled.") % {"campaign": campaign})
        return decision
    status = ProofStatus.REJECTED if verdict == Verdict.REJECT else ProofStatus.CHANGES_REQUESTED
    _close(proof, status, comment)
    campaign_status_set(campaign=campaign, status=CampaignStatus.DRAFT, by=decided_by, note=f"BAT {proof.number}")
    audit_record(proof, AuditAction.REJECTED if verdict == Verdict.REJECT else AuditAction.CHANGES, decided_by,
           step=proof.current_step, comment=comment, slot_comments=slot_comments)
    notify(proof_authors(proof), proof,
            subject=_("Your campaign was rejected") if verdict == Verdict.REJECT else _("Changes requested"),
            message=(_("“%(campaign)s”: %(verdict)s by %(name)s. %(comment)s") % {
                "campaign": campaign, "verdict": Verdict(verdict).label.lower(),
                "name": decided_by.get_full_name() or decided_by.get_username(), "comment": comment}).strip())
    return decision


# --- Void, revoke --------------------------------------------------------------------------------------


def _void(proof: Proof, *, by, reason: str) -> None:
    _close(proof, ProofStatus.VOIDED, reason)
    audit_record(proof, AuditAction.VOIDED, by, reason=reason)
    people = list(proof_authors(proof)) + list(proof_deciders(proof))
    if proof.current_step < len(proof.steps):
        people += step_approvers(proof, proof.current_step)
    notify(people, proof, subject=_("A proof is void"),
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
    audit_record(proof, AuditAction.REVOKED, revoked_by, reason=reason)
    notify(list(proof_authors(proof)) + list(proof_deciders(proof)), proof, subject=_("Approval revoked"),
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
    default_sender = frozen.sender_of(proof.snapshot, frozen.variant_key(proof.snapshot, None))
    changed = sender_changed(campaign.network_id, str(default_sender.get("address") or ""),
                             frozen_from_identity=bool(default_sender.get("from_identity")))
    if changed and proof.channel == "email":
        return changed
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


# --- Deadlines (Celery beat) ------------------------------------------------------------------------------


def proof_deadlines_run(*, today=None) -> dict[str, int]:
    """Remind the current step's approvers the day before the decision deadline; once it has
    passed, open the step to head-office approvers (escalation) and tell them. Each (proof, step,
    kind) at most once, whatever the number of runs."""
    done = {"reminded": 0, "escalated": 0}
    pending = Proof.objects.filter(status=ProofStatus.PENDING, decision_deadline__lte=(today or latest_today()) + timedelta(
        days=REMINDER_DAYS_BEFORE)).select_related("campaign__branch", "campaign__network")
    for proof in pending:
        day = today or network_today(proof.campaign.network)  # the proof's network's day (its time zone)
        if proof.decision_deadline > day + timedelta(days=REMINDER_DAYS_BEFORE):
            continue
        kind = ProofAlert.Kind.ESCALATION if proof.decision_deadline < day else ProofAlert.Kind.REMINDER
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
                audit_record(locked, AuditAction.ESCALATED, None, step=locked.current_step)
                notify(step_approvers(locked, locked.current_step), locked, subject=_("Overdue proof escalated to you"),
                        message=_("“%(campaign)s” was not decided by %(date)s: head-office approvers may now decide it.")
                        % {"campaign": locked.campaign, "date": locked.decision_deadline.strftime("%d/%m/%Y")})
                done["escalated"] += 1
            else:
                audit_record(locked, AuditAction.REMINDED, None, step=locked.current_step)
                notify(step_approvers(locked, locked.current_step), locked, subject=_("A proof waits for your decision"),
                        message=_("“%(campaign)s” must be decided by %(date)s.") % {
                            "campaign": locked.campaign, "date": locked.decision_deadline.strftime("%d/%m/%Y")})
                done["reminded"] += 1
    return done
