"""Campaigns: each concrete send and its status, a branch's own texts in head office's send and its
changes to the target, the audit trail, and a branch's review of head office's national target."""

from functools import partial

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from central.models.calendar import Operation
from central.models.customers import Channel, Customer
from local_stores.identifiers import new_public_id
from local_stores.models import Network, Node


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Being prepared")
    AWAITING_APPROVAL = "awaiting", _("Awaiting approval")
    APPROVED = "approved", _("Approved")
    SCHEDULED = "scheduled", _("Scheduled")
    SENDING = "sending", _("Sending")
    PAUSED = "paused", _("Sending paused")
    SENT = "sent", _("Sent")
    CANCELLED = "cancelled", _("Cancelled")


#: Statuses in which a campaign may still be changed (a change sends it back to draft: its proof
#: no longer counts) and cancelled.
CAMPAIGN_OPEN_STATUSES = (CampaignStatus.DRAFT, CampaignStatus.AWAITING_APPROVAL, CampaignStatus.APPROVED,
                          CampaignStatus.SCHEDULED)


#: A campaign in one of these statuses is never cancelled by a side effect (a branch declining or
#: opting out of its operation): the branch cancels it, or lets it finish, first.
WITHDRAWAL_BLOCKING_STATUSES = (CampaignStatus.AWAITING_APPROVAL, CampaignStatus.APPROVED, CampaignStatus.SCHEDULED,
                                CampaignStatus.SENDING, CampaignStatus.PAUSED)


class Campaign(models.Model):
    """One concrete send: a branch (or the head office, branch empty) × a template version × slot
    values × a target × a send date × a channel. Joining an operation or using a kit creates one."""

    public_id = models.CharField(max_length=24, unique=True, default=partial(new_public_id, "cmp"), editable=False)
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="campaigns")
    branch = models.ForeignKey(Node, on_delete=models.PROTECT, null=True, blank=True, related_name="campaigns",
                               verbose_name=_("branch"))
    operation = models.ForeignKey(Operation, on_delete=models.PROTECT, null=True, blank=True, related_name="campaigns",
                                  verbose_name=_("operation"))
    template_version = models.ForeignKey("templates_lib.TemplateVersion", on_delete=models.PROTECT,
                                         related_name="campaigns", verbose_name=_("template version"))
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    slot_values = models.JSONField(_("slot values"), default=dict, blank=True)
    #: Head office's national send: the slots each reached branch may fill (``LocalSlotValues``),
    #: head office's value being the default. Slot names, text-like types only.
    local_slots = models.JSONField(_("slots each branch may fill"), default=list, blank=True)
    #: {criterion: value} among the operation's allowed criteria (see TARGETING_CRITERIA).
    target_criteria = models.JSONField(_("target"), default=dict, blank=True)
    send_date = models.DateField(_("send date"))
    status = models.CharField(_("status"), max_length=10, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["send_date", "id"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        indexes = [models.Index(fields=["network", "channel", "send_date"], name="campaign_channel_date")]

    def __str__(self) -> str:
        return f"{self.operation or self.template_version.template} — {self.branch or _('head office')}"


class LocalSlotValues(models.Model):
    """A branch's own text in head office's national send (a *local slot*): the values of the
    campaign's ``local_slots`` the branch filled. Its customers' message uses them in place of head
    office's (the proof freezes them in the branch's variant); a slot left empty keeps head office's."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="local_slot_values")
    branch = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="+", verbose_name=_("branch"))
    values = models.JSONField(_("values"), default=dict, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    at = models.DateTimeField(_("saved on"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "branch"], name="one_local_values_per_branch")]
        verbose_name = _("branch's local texts")
        verbose_name_plural = _("branches' local texts")

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.branch_id}"


class TargetOverride(models.Model):
    """A customer the branch removed from, or added to, its campaign's proposed list."""

    class Action(models.TextChoices):
        EXCLUDE = "exclude", _("Removed from the list")
        INCLUDE = "include", _("Added to the list")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="overrides")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=8, choices=Action.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "customer"], name="one_override_per_customer")]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.action} {self.customer_id}"


class CampaignEvent(models.Model):
    """Audit trail of a campaign: creation, customisation, date and target changes (what changed)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=24)
    changes = models.JSONField(default=dict, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.action}"


class NationalTargetReview(models.Model):
    """A branch's review of head office's national target for an operation: one of its customers
    that head office's send proposes, removed (with a reason from a short list), or one of its own
    customers added. What a branch has not reviewed by the deadline goes as proposed."""

    class Action(models.TextChoices):
        REMOVE = "remove", _("Removed")
        ADD = "add", _("Added")

    class RemovalReason(models.TextChoices):
        RECENT_CONTACT = "recent_contact", _("Contacted recently by the branch")
        COMPLAINT = "complaint", _("Complaint or dispute in progress")
        NOT_RELEVANT = "not_relevant", _("The offer does not suit this customer")
        PERSONAL = "personal", _("Personal relationship: the branch speaks to them itself")
        OTHER = "other", _("Other")

    operation = models.ForeignKey(Operation, on_delete=models.CASCADE, related_name="target_reviews")
    branch = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    action = models.CharField(_("action"), max_length=8, choices=Action.choices)
    reason = models.CharField(_("reason"), max_length=16, choices=RemovalReason.choices, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    at = models.DateTimeField(_("reviewed on"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["operation", "customer"], name="one_review_per_customer")]
        indexes = [models.Index(fields=["operation", "branch"], name="review_operation_branch")]
        verbose_name = _("national target review")
        verbose_name_plural = _("national target reviews")

    def __str__(self) -> str:
        return f"{self.operation_id} {self.action} {self.customer_id}"
