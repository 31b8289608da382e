"""Proofs (BAT), approval policies, decisions and the audit trail.

A proof freezes a campaign at the moment approval is requested: what will be sent (the rendered
e-mail, SMS text or print PDF), to whom (target definition, list changes, audience count) and
when (send date), with the campaign's fingerprint (``central.campaigns.selectors.campaign_fingerprint``).
The send gate lets a campaign go only if an approved proof carries its current fingerprint.
"""

from __future__ import annotations

from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from central.models import Campaign, Channel
from local_stores.identifiers import new_public_id
from local_stores.models import Network, Node, Role


class Origin(models.TextChoices):
    NATIONAL = "national", _("National send")
    SUBSCRIPTION = "subscription", _("National operation joined by the branch")
    KIT = "kit", _("Kit used by the branch")
    LOCAL = "local", _("Free local campaign")


class ChangeLevel(models.TextChoices):
    """What the branch changed against the template's defaults, from least to most."""

    DEFAULTS = "defaults", _("Only dates and default values")
    TEXT = "text", _("Free-text slots")
    IMAGES = "images", _("Images")


class StepLevel(models.TextChoices):
    REGION = "region", _("The branch's region")
    HEAD_OFFICE = "head_office", _("Head office")


class OverBudget(models.TextChoices):
    EXTRA_STEP = "extra_step", _("needs one more approval, by head office")
    REFUSE = "refuse", _("is refused")


class ApprovalPolicy(models.Model):
    """Which approval steps a campaign needs. The first active policy of the network (by
    position) whose channel, origin and change level match (empty = any) applies; with none,
    ``DEFAULT_STEPS``. A print campaign always gets a head-office step unless the policy says
    otherwise."""

    public_id = models.CharField(max_length=24, unique=True, default=partial(new_public_id, "pol"), editable=False)
    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="approval_policies")
    name = models.CharField(_("name"), max_length=120)
    position = models.PositiveIntegerField(_("position"), default=0)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices, blank=True)
    origin = models.CharField(_("origin"), max_length=16, choices=Origin.choices, blank=True)
    changes = models.CharField(_("what the branch changed"), max_length=16, choices=ChangeLevel.choices, blank=True)
    #: [{"level": StepLevel, "role": Role, "quorum": int}], in order.
    steps = models.JSONField(_("steps"), default=list)
    print_without_head_office = models.BooleanField(
        _("print may go without a head-office step"), default=False,
        help_text=_("Print campaigns get a head-office step unless this is ticked."),
    )
    #: A campaign that would take its branch over its budget: one more head-office step, or refused.
    over_budget = models.CharField(_("over the branch's budget"), max_length=12, choices=OverBudget.choices,
                                   default=OverBudget.EXTRA_STEP)
    is_active = models.BooleanField(_("active"), default=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["network", "position", "id"]
        verbose_name = _("approval policy")
        verbose_name_plural = _("approval policies")

    def __str__(self) -> str:
        return self.name


#: The steps of a campaign no policy matches: its region's manager, then a head-office approver.
DEFAULT_STEPS = [
    {"level": StepLevel.REGION.value, "role": Role.REGIONAL_MANAGER.value, "quorum": 1},
    {"level": StepLevel.HEAD_OFFICE.value, "role": Role.APPROVER.value, "quorum": 1},
]
HEAD_OFFICE_STEP = {"level": StepLevel.HEAD_OFFICE.value, "role": Role.APPROVER.value, "quorum": 1}


class ProofStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for approval")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    CHANGES_REQUESTED = "changes", _("Changes requested")
    VOIDED = "voided", _("Void: the campaign changed")
    REVOKED = "revoked", _("Approval revoked")


class Proof(models.Model):
    """A campaign frozen for approval. Never edited after creation, except its progress (status,
    current step, escalation) — the content fields and hashes stay as requested."""

    public_id = models.CharField(max_length=24, unique=True, default=partial(new_public_id, "prf"), editable=False)
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="proofs")
    number = models.PositiveIntegerField(_("number"))
    #: The campaign's fingerprint when requested; the gate compares it with the current one.
    campaign_hash = models.CharField(max_length=64)
    #: SHA-256 of everything frozen below (rendered content, target, count, date, steps).
    content_hash = models.CharField(max_length=64)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    html = models.TextField(blank=True)
    text = models.TextField(blank=True)
    pdf = models.BinaryField(null=True, blank=True, editable=False)
    slot_values = models.JSONField(default=dict)
    #: Every input of the rendering, frozen when requested (``approvals.snapshot``): the template
    #: version and its hash, slot values, each branch variant's details and sender, assets by content
    #: hash, content-rule texts, and each variant's rendering hash. Dispatch renders only from it.
    snapshot = models.JSONField(default=dict, editable=False)
    default_values = models.JSONField(default=dict)
    slot_labels = models.JSONField(default=dict)
    target_criteria = models.JSONField(default=dict)
    overrides = models.JSONField(default=list)
    audience_count = models.PositiveIntegerField(_("audience"))
    send_date = models.DateField(_("send date"))
    origin = models.CharField(_("origin"), max_length=16, choices=Origin.choices)
    change_level = models.CharField(_("what the branch changed"), max_length=16, choices=ChangeLevel.choices)
    #: [{"level", "role", "node": node id, "node_name", "quorum"}], resolved when requested.
    steps = models.JSONField(default=list)
    current_step = models.PositiveIntegerField(default=0)
    #: Steps whose deadline passed: their decision is open to the next group up, by step index.
    escalated_steps = models.JSONField(default=list)
    #: Who authored or edited the campaign up to the request: they may not approve it.
    author_ids = models.JSONField(default=list)
    status = models.CharField(_("status"), max_length=10, choices=ProofStatus.choices, default=ProofStatus.PENDING)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    decision_deadline = models.DateField(_("decision deadline"))
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = _("proof")
        verbose_name_plural = _("proofs")
        constraints = [models.UniqueConstraint(fields=["campaign", "number"], name="proof_number_unique")]
        indexes = [models.Index(fields=["status", "decision_deadline"], name="proof_status_deadline")]

    def __str__(self) -> str:
        return f"BAT {self.number} — {self.campaign}"


class Verdict(models.TextChoices):
    APPROVE = "approve", _("Approve")
    REJECT = "reject", _("Reject")
    CHANGES = "changes", _("Request changes")


class Decision(models.Model):
    """One approver's verdict on one step of a proof. Each person decides a step once."""

    proof = models.ForeignKey(Proof, on_delete=models.PROTECT, related_name="decisions")
    step = models.PositiveIntegerField()
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    verdict = models.CharField(_("decision"), max_length=8, choices=Verdict.choices)
    comment = models.TextField(_("comment"), blank=True)
    #: {slot name: comment}
    slot_comments = models.JSONField(default=dict, blank=True)
    decided_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["decided_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["proof", "step", "decided_by"], name="decision_once_per_person_and_step")
        ]

    def __str__(self) -> str:
        return f"{self.get_verdict_display()} — {self.proof}"


class ProofAlert(models.Model):
    """A reminder or an escalation already done: the deadline task does each once."""

    class Kind(models.TextChoices):
        REMINDER = "reminder", _("Reminder")
        ESCALATION = "escalation", _("Escalation")

    proof = models.ForeignKey(Proof, on_delete=models.CASCADE, related_name="alerts")
    step = models.PositiveIntegerField()
    kind = models.CharField(max_length=12, choices=Kind.choices)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["proof", "step", "kind"], name="proof_alert_once")]

    def __str__(self) -> str:
        return f"{self.kind} {self.step} — {self.proof}"


class AuditAction(models.TextChoices):
    REQUESTED = "requested", _("Approval requested")
    APPROVED = "approved", _("Approved")
    STEP_DONE = "step_done", _("Step complete")
    REJECTED = "rejected", _("Rejected")
    CHANGES = "changes", _("Changes requested")
    VOIDED = "voided", _("Void")
    REVOKED = "revoked", _("Approval revoked")
    REMINDED = "reminded", _("Reminder sent")
    ESCALATED = "escalated", _("Escalated")
    POLICY = "policy", _("Policy changed")


class AuditEntryQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ValidationError("The audit trail is append-only.")

    def delete(self):
        raise ValidationError("The audit trail is append-only.")


class AuditEntry(models.Model):
    """Append-only: created, never changed or deleted (enforced here and, on PostgreSQL, by a
    trigger of the migration)."""

    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="+")
    branch = models.ForeignKey(Node, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    proof = models.ForeignKey(Proof, on_delete=models.PROTECT, null=True, blank=True, related_name="audit")
    action = models.CharField(_("action"), max_length=12, choices=AuditAction.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    details = models.JSONField(default=dict, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit trail")
        indexes = [models.Index(fields=["network", "at"], name="audit_network_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError("The audit trail is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("The audit trail is append-only.")
