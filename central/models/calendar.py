"""The national calendar: a network's operations, its blackout and reserved periods, and each
branch's answer to an operation (with the reminders sent before its subscription deadline)."""

from functools import partial

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from local_stores.identifiers import new_public_id
from local_stores.models import Network, Node


class OperationMode(models.TextChoices):
    OPT_IN = "opt_in", _("Opt-in: branches subscribe before the deadline")
    MANDATORY = "mandatory", _("Mandatory: eligible branches are enrolled")
    KIT = "kit", _("Kit: a branch uses it when it wants")


class OperationStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")
    CANCELLED = "cancelled", _("Cancelled")


#: The few targeting criteria an operation may open to branches (no query builder).
TARGETING_CRITERIA = {
    "segment": _("Segment"),
    "interest": _("Interest"),
    "bought_within_days": _("Bought in the last N days"),
    "min_rfm": _("Minimum RFM score"),
    "postal_code_prefix": _("Postal code starts with"),
    "audience_kind": _("Customers or prospects"),
}


#: The values of the "audience_kind" criterion (empty: both).
AUDIENCE_KINDS = {"customers": _("CRM customers only"), "prospects": _("Prospects only (signed up in a branch)")}


class Operation(models.Model):
    """An entry of a network's national calendar, e.g. the wine fair in September."""

    public_id = models.CharField(max_length=24, unique=True, default=partial(new_public_id, "op"), editable=False)
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="operations", verbose_name=_("network"))
    name = models.CharField(_("name"), max_length=120)
    theme = models.CharField(_("theme"), max_length=80, blank=True)
    description = models.TextField(_("description"), blank=True)
    #: Channel values ("email", "sms", "post") the operation sends on.
    channels = models.JSONField(_("channels"), default=list)
    mode = models.CharField(_("mode"), max_length=10, choices=OperationMode.choices)
    opt_out_allowed = models.BooleanField(_("branches may opt out"), default=False)
    template_versions = models.ManyToManyField(
        "templates_lib.TemplateVersion", related_name="operations", blank=True, verbose_name=_("template versions")
    )
    send_from = models.DateField(_("earliest send date"))
    send_until = models.DateField(_("latest send date"))
    subscription_deadline = models.DateField(_("subscription deadline"), null=True, blank=True)
    #: Regions or branches eligible; none means every branch of the network.
    eligible_nodes = models.ManyToManyField(Node, related_name="+", blank=True, verbose_name=_("eligible regions or branches"))
    is_pilot = models.BooleanField(_("pilot on part of the network"), default=False)
    #: An exception to the network's priority order: this operation's campaigns come first.
    national_priority = models.BooleanField(_("national priority"), default=False)
    #: The share of each campaign's selected customers held out at random (its control group, reason
    #: ``holdout``): they receive nothing, so that their purchases measure what the message changed.
    holdout_percent = models.PositiveSmallIntegerField(_("control group (%)"), default=0)
    #: The share of its campaigns' cost head office pays for the branches (co-funding): the rest is
    #: taken from each branch's budget.
    cofunding_percent = models.PositiveSmallIntegerField(_("paid by head office (%)"), default=0)
    allowed_criteria = models.JSONField(_("targeting criteria branches may use"), default=list, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=OperationStatus.choices, default=OperationStatus.DRAFT)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["send_from", "name"]
        verbose_name = _("operation")
        verbose_name_plural = _("operations")
        indexes = [models.Index(fields=["network", "send_from"], name="operation_network_date")]

    def __str__(self) -> str:
        return self.name


class CalendarPeriod(models.Model):
    """A blackout period (no marketing sends) or a period reserved for local campaigns."""

    class Kind(models.TextChoices):
        BLACKOUT = "blackout", _("Blackout: nothing is sent")
        LOCAL_RESERVED = "local_reserved", _("Reserved for local campaigns")

    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="calendar_periods")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=120)
    starts_on = models.DateField(_("from"))
    ends_on = models.DateField(_("to"))
    #: Channels concerned; empty means all.
    channels = models.JSONField(_("channels"), default=list, blank=True)

    class Meta:
        ordering = ["starts_on"]
        verbose_name = _("calendar period")
        verbose_name_plural = _("calendar periods")

    def __str__(self) -> str:
        return self.name


class ParticipationStatus(models.TextChoices):
    JOINED = "joined", _("Joined")
    DECLINED = "declined", _("Declined")
    ENROLLED = "enrolled", _("Enrolled (mandatory)")
    OPTED_OUT = "opted_out", _("Opted out")


class Participation(models.Model):
    """A branch's answer to an operation (one row per operation and branch)."""

    operation = models.ForeignKey(Operation, on_delete=models.CASCADE, related_name="participations")
    branch = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="participations")
    status = models.CharField(_("status"), max_length=10, choices=ParticipationStatus.choices)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    decided_at = models.DateTimeField(_("decided on"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["operation", "branch"], name="one_participation_per_branch")]
        verbose_name = _("participation")
        verbose_name_plural = _("participations")

    def __str__(self) -> str:
        return f"{self.branch} — {self.operation}: {self.status}"

    @property
    def is_in(self) -> bool:
        return self.status in {ParticipationStatus.JOINED, ParticipationStatus.ENROLLED}


class ParticipationEvent(models.Model):
    """Audit trail: who joined, declined, was enrolled or opted out, and when."""

    participation = models.ForeignKey(Participation, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(max_length=10, choices=ParticipationStatus.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.participation_id} {self.status}"


class DeadlineReminder(models.Model):
    """A reminder e-mailed to a branch that had not answered an operation N days before its
    subscription deadline: one row per (operation, branch, N) makes the reminder task idempotent."""

    operation = models.ForeignKey(Operation, on_delete=models.CASCADE, related_name="reminders")
    branch = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="+")
    days_before = models.PositiveSmallIntegerField()
    recipients = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["operation", "branch", "days_before"], name="one_reminder_per_step")
        ]

    def __str__(self) -> str:
        return f"{self.operation_id} {self.branch_id} J-{self.days_before}"


class CalendarFeedToken(models.Model):
    """The secret in a user's iCalendar feed URL. Revoking it makes the URL answer 404."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed_tokens")
    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"feed of {self.user_id}"
