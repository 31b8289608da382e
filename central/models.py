"""The customer referential and consent.

Consent's current state lives on the customer row (one column per channel) so that targeting
and arbitration read it with no join; every change is also written to ``ConsentEvent``, the
history a customer page shows and an auditor asks for.
"""

from decimal import Decimal
from functools import partial

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from local_stores.identifiers import new_public_id
from local_stores.models import Network, Node


class Channel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("SMS")
    POST = "post", _("Post")


class ConsentStatus(models.TextChoices):
    GRANTED = "granted", _("Granted")
    DENIED = "denied", _("Denied")
    UNKNOWN = "unknown", _("Unknown")


def reachable_condition(channel: str) -> models.Q:
    """Customers that ``channel`` may reach: consent granted, no global objection, and an address
    for it. The audience indexes of ``Customer`` are partial on exactly this condition, so that
    counting an audience reads the index only."""
    consent = models.Q(**{f"consent_{channel}": ConsentStatus.GRANTED}, objected_at__isnull=True)
    if channel == Channel.EMAIL:
        return consent & ~models.Q(email="")
    if channel == Channel.SMS:
        return consent & ~models.Q(mobile="")
    return consent & ~models.Q(address_line1="") & ~models.Q(postal_code="")


#: What the targeting criteria and the audience's network filter read, carried in the audience
#: indexes so that a count never visits the table (see docs/benchmarks.md, "Audience count").
_AUDIENCE_COLUMNS = ["network", "last_purchase_on", "rfm_recency", "rfm_frequency", "rfm_monetary", "postal_code",
                     "interests"]


class Civility(models.TextChoices):
    MADAME = "mme", _("Ms")
    MONSIEUR = "m", _("Mr")
    NONE = "", _("—")


class Customer(models.Model):
    # Indexes are declared in Meta, not by unique=/db_index=: on PostgreSQL those would add a
    # second "_like" index per column, and every index slows the import down.
    public_id = models.CharField(max_length=24, default=partial(new_public_id, "cus"), editable=False)
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="customers", db_index=False)
    external_id = models.CharField(_("CRM id"), max_length=64)
    branch = models.ForeignKey(
        Node, on_delete=models.PROTECT, related_name="customers", verbose_name=_("branch"), db_index=False
    )
    civility = models.CharField(_("civility"), max_length=3, choices=Civility.choices, blank=True)
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    email = models.CharField(_("e-mail"), max_length=254, blank=True)
    mobile = models.CharField(_("mobile"), max_length=20, blank=True)
    address_line1 = models.CharField(_("address"), max_length=200, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=16, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    country = models.CharField(_("country"), max_length=2, default="FR")
    # Targeting attributes
    segment = models.CharField(_("segment"), max_length=32, blank=True)
    rfm_recency = models.PositiveSmallIntegerField(_("recency score"), null=True, blank=True)
    rfm_frequency = models.PositiveSmallIntegerField(_("frequency score"), null=True, blank=True)
    rfm_monetary = models.PositiveSmallIntegerField(_("monetary score"), null=True, blank=True)
    #: Tags kept as ",wine,cheese," so that "has tag X" is one portable LIKE '%,X,%'.
    interests = models.CharField(_("interests"), max_length=500, blank=True)
    last_purchase_on = models.DateField(_("last purchase"), null=True, blank=True)
    lifetime_value = models.DecimalField(
        _("lifetime value"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    preferred_channel = models.CharField(
        _("preferred channel"), max_length=8, choices=Channel.choices, blank=True
    )
    # Consent per channel (current state; history in ConsentEvent)
    consent_email = models.CharField(
        _("e-mail consent"), max_length=8, choices=ConsentStatus.choices, default=ConsentStatus.UNKNOWN
    )
    consent_email_at = models.DateTimeField(_("e-mail consent given or refused on"), null=True, blank=True)
    consent_email_source = models.CharField(_("e-mail consent source"), max_length=120, blank=True)
    consent_sms = models.CharField(
        _("SMS consent"), max_length=8, choices=ConsentStatus.choices, default=ConsentStatus.UNKNOWN
    )
    consent_sms_at = models.DateTimeField(_("SMS consent given or refused on"), null=True, blank=True)
    consent_sms_source = models.CharField(_("SMS consent source"), max_length=120, blank=True)
    consent_post = models.CharField(
        _("post consent"), max_length=8, choices=ConsentStatus.choices, default=ConsentStatus.UNKNOWN
    )
    consent_post_at = models.DateTimeField(_("post consent given or refused on"), null=True, blank=True)
    consent_post_source = models.CharField(_("post consent source"), max_length=120, blank=True)
    #: RGPD art. 21: a global objection to marketing beats every consent.
    objected_at = models.DateTimeField(_("objected to marketing on"), null=True, blank=True)
    objection_source = models.CharField(max_length=120, blank=True)
    #: Someone who signed up on a branch's page and is not (yet) in the CRM: the CRM import turns
    #: them into a customer when it brings the same e-mail address or mobile number.
    is_prospect = models.BooleanField(_("prospect"), default=False, db_default=False)
    #: RGPD art. 17: erased on request — every personal field emptied, the addresses kept only as
    #: hashes on the suppression list; the row stays for the statistics it is counted in.
    erased_at = models.DateTimeField(_("erased on"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["last_name", "first_name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["network", "external_id"], name="customer_external_id_unique"),
            models.UniqueConstraint(fields=["public_id"], name="customer_public_id_unique"),
        ]
        indexes = [
            models.Index(fields=["branch", "last_name"], name="customer_branch_name"),
            models.Index(fields=["email"], name="customer_email"),
            models.Index(fields=["branch", "segment"], name="customer_branch_segment"),
            *(
                models.Index(fields=["branch", "segment"], include=_AUDIENCE_COLUMNS, name=f"customer_reach_{channel}",
                             condition=reachable_condition(channel))
                for channel in ("email", "sms", "post")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.public_id

    @property
    def full_name(self) -> str:
        return str(self)

    @property
    def has_objected(self) -> bool:
        return self.objected_at is not None

    @property
    def interest_list(self) -> list[str]:
        return [tag for tag in self.interests.split(",") if tag]

    def consent_for(self, channel: str) -> str:
        """The consent that applies to ``channel``: denied whenever the customer objected."""
        if self.has_objected:
            return ConsentStatus.DENIED
        return getattr(self, f"consent_{channel}")


class ConsentEvent(models.Model):
    """One change of consent, as it happened: never edited, never deleted (but by erasure)."""

    ALL_CHANNELS = "all"

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="consent_events", verbose_name=_("customer"), db_index=False
    )
    #: a Channel value, or "all" for the global objection
    channel = models.CharField(_("channel"), max_length=8)
    #: a ConsentStatus value, or "objected"/"withdrawn"
    status = models.CharField(_("status"), max_length=12)
    occurred_at = models.DateTimeField(_("occurred on"))
    source = models.CharField(_("source"), max_length=120, blank=True)
    recorded_at = models.DateTimeField(_("recorded on"))
    customer_import = models.ForeignKey(
        "CustomerImport", on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("import")
    )

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("consent change")
        verbose_name_plural = _("consent changes")
        indexes = [models.Index(fields=["customer", "channel", "-occurred_at"], name="consent_event_lookup")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.channel} {self.status}"


class CustomerImport(models.Model):
    """One CSV import: the file, who sent it, how far it went and the report of each bad row."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    class Kind(models.TextChoices):
        CUSTOMERS = "customers", _("Customers")
        PURCHASES = "purchases", _("Purchases")

    public_id = models.CharField(
        max_length=24, unique=True, default=partial(new_public_id, "imp"), editable=False
    )
    network = models.ForeignKey(
        Network, on_delete=models.PROTECT, related_name="customer_imports", verbose_name=_("network")
    )
    #: What the file holds: customers (upserted by CRM id) or their purchases (recorded by purchase id).
    kind = models.CharField(_("content"), max_length=10, choices=Kind.choices, default=Kind.CUSTOMERS)
    file = models.FileField(_("file"), upload_to="imports/%Y/%m/")
    original_name = models.CharField(_("file name"), max_length=255)
    #: The uploader's language: the report's messages are written in it.
    language = models.CharField(_("language"), max_length=8, default="fr")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("sent by"),
    )
    created_at = models.DateTimeField(_("sent on"), auto_now_add=True)
    started_at = models.DateTimeField(_("started on"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished on"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.PENDING)
    rows_total = models.PositiveIntegerField(_("rows read"), default=0)
    #: New customers (purchases) recorded, and those already known that the file updated.
    rows_created = models.PositiveIntegerField(_("rows created"), default=0)
    rows_updated = models.PositiveIntegerField(_("rows updated"), default=0)
    rows_rejected = models.PositiveIntegerField(_("rows rejected"), default=0)
    #: [{"line": 4, "field": "email", "reason": "…", "value": "…"}, …] — at most ERROR_LIMIT entries.
    errors = models.JSONField(_("rejected rows"), default=list, blank=True)
    failure_reason = models.TextField(_("why it failed"), blank=True)

    ERROR_LIMIT = 10_000

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("customer import")
        verbose_name_plural = _("customer imports")

    def __str__(self) -> str:
        return f"{self.original_name} ({self.get_status_display()})"

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.DONE, self.Status.FAILED}


class Purchase(models.Model):
    """A purchase a customer made, as the CRM exports it (imported by CSV): what campaigns are
    credited with when it falls in the days after their send (see reporting)."""

    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="+", db_index=False)
    #: The CRM's id of the purchase (receipt, order), or "#" and a digest of the row when the file
    #: gives none: the same file imported twice records each purchase once.
    key = models.CharField(_("purchase id"), max_length=64)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="purchases",
                                 verbose_name=_("customer"), db_index=False)
    branch = models.ForeignKey(Node, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("branch"),
                               db_index=False)
    purchased_on = models.DateField(_("date"))
    #: In the network's currency; a refund is negative.
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    customer_import = models.ForeignKey(CustomerImport, on_delete=models.SET_NULL, null=True, related_name="+",
                                        db_index=False)
    recorded_at = models.DateTimeField(_("recorded on"))

    class Meta:
        verbose_name = _("purchase")
        verbose_name_plural = _("purchases")
        constraints = [models.UniqueConstraint(fields=["network", "key"], name="purchase_once")]
        indexes = [models.Index(fields=["customer", "purchased_on"], name="purchase_customer_day"),
                   models.Index(fields=["network", "purchased_on"], name="purchase_network_day"),
                   # the roll-up task looks for purchases recorded since its last run
                   models.Index(fields=["recorded_at"], name="purchase_recorded_at")]

    def __str__(self) -> str:
        return f"{self.key} {self.purchased_on} {self.amount}"


# --- The national calendar -----------------------------------------------------------------------


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


# --- Campaigns -------------------------------------------------------------------------------------


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



# --- The network's rules and arbitration -------------------------------------------------------------


class Origin(models.TextChoices):
    """Where a campaign comes from, for the priority order."""

    TRANSACTIONAL = "transactional", _("Transactional")
    LOCAL = "local", _("Local (a branch's own, or a kit it used)")
    NATIONAL = "national", _("National (an operation of the calendar)")


class NetworkRules(models.Model):
    """How the network settles conflicts between campaigns before sending (one row per network;
    the defaults below apply until head office changes them)."""

    network = models.OneToOneField(Network, on_delete=models.CASCADE, related_name="rules")
    #: Origins from the highest priority to the lowest.
    priority_order = models.JSONField(_("priority order"), default=list)
    cap_total = models.PositiveSmallIntegerField(_("marketing contacts per customer"), default=2)
    cap_days = models.PositiveSmallIntegerField(_("over this many days"), default=7)
    #: {channel: {"count": n, "days": d}}: e.g. 1 SMS per 14 days.
    channel_caps = models.JSONField(_("caps per channel"), default=dict, blank=True)
    #: {segment: n}: the customers of a segment get n marketing contacts over ``cap_days`` instead of
    #: ``cap_total`` (e.g. more for loyal customers, none for a segment being rested).
    segment_caps = models.JSONField(_("caps per segment"), default=dict, blank=True)
    #: Slots of ``cap_total`` only national (resp. local) campaigns may use.
    national_reserved = models.PositiveSmallIntegerField(_("slots reserved for national"), default=0)
    local_reserved = models.PositiveSmallIntegerField(_("slots reserved for local"), default=0)
    #: ISO weekdays (1 = Monday … 7 = Sunday) on which nothing marketing is sent.
    quiet_weekdays = models.JSONField(_("quiet days"), default=list, blank=True)
    quiet_from = models.TimeField(_("quiet hours from"), null=True, blank=True)
    quiet_until = models.TimeField(_("quiet hours until"), null=True, blank=True)
    one_per_operation = models.BooleanField(_("one message per customer per operation"), default=True)
    #: A recipient's purchases in this many days from the day a campaign's send began are credited
    #: to it (and its control group's, over the same days).
    attribution_days = models.PositiveSmallIntegerField(_("days a purchase is credited to a campaign"), default=14)
    #: What each channel costs (the network's currency): an e-mail, an SMS segment, a printed page, a
    #: printed copy (paper, envelope, enclosing) and the postage of a letter.
    cost_email = models.DecimalField(_("cost of an e-mail"), max_digits=8, decimal_places=4, default=Decimal("0.0010"))
    cost_sms_segment = models.DecimalField(_("cost of an SMS segment"), max_digits=8, decimal_places=4,
                                           default=Decimal("0.0450"))
    cost_print_page = models.DecimalField(_("cost of a printed page"), max_digits=8, decimal_places=4,
                                          default=Decimal("0.0800"))
    cost_print_copy = models.DecimalField(_("cost of a printed copy"), max_digits=8, decimal_places=4,
                                          default=Decimal("0.1500"))
    cost_postage = models.DecimalField(_("postage of a letter"), max_digits=8, decimal_places=4,
                                       default=Decimal("0.9000"))
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("network rules")
        verbose_name_plural = _("network rules")

    def __str__(self) -> str:
        return f"rules of {self.network_id}"

    @property
    def order(self) -> list[str]:
        return list(self.priority_order or [Origin.TRANSACTIONAL, Origin.LOCAL, Origin.NATIONAL])


class Suppression(models.Model):
    """An address that must never be contacted again (a hard bounce, a complaint, an erased
    customer): only its SHA-256 is kept, of the lower-cased e-mail or of the mobile as stored
    (lower-cased, E.164 after import), exactly what the arbitration hashes."""

    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="suppressions")
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    value_hash = models.CharField(max_length=64)
    reason = models.CharField(_("reason"), max_length=40)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["network", "channel", "value_hash"], name="suppression_unique")]

    def __str__(self) -> str:
        return f"{self.channel} {self.value_hash[:12]}…"


class Contact(models.Model):
    """A marketing message a customer received (sent by Relais, or imported from before): what the
    pressure caps count."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts", db_index=False)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    origin = models.CharField(max_length=16, choices=Origin.choices)
    operation = models.ForeignKey(Operation, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    contacted_on = models.DateField()

    class Meta:
        indexes = [models.Index(fields=["customer", "contacted_on"], name="contact_customer_day")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.channel} {self.contacted_on}"


class ArbitrationRun(models.Model):
    """One arbitration of a network's campaigns sending in [starts_on, ends_on]: a simulation (what
    if) or the real one that makes deliveries."""

    class Mode(models.TextChoices):
        SIMULATION = "simulation", _("Simulation")
        COMMIT = "commit", _("For sending")

    public_id = models.CharField(max_length=24, unique=True, default=partial(new_public_id, "arb"), editable=False)
    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="arbitration_runs")
    mode = models.CharField(max_length=12, choices=Mode.choices)
    starts_on = models.DateField()
    ends_on = models.DateField()
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    #: {"candidates": n, "selected": n, "excluded": {reason: n}, "seconds": s}
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.mode} {self.starts_on}–{self.ends_on}"


class Reason(models.TextChoices):
    """Why a candidate (customer, campaign) is excluded; the order is the order of the checks."""

    OBJECTION = "objection", _("objected to all marketing")
    NO_CONSENT = "no_consent", _("no consent for this channel")
    NO_ADDRESS = "no_address", _("no address for this channel")
    SUPPRESSED = "suppressed", _("address on the suppression list")
    NOT_OWNER = "not_owner", _("customer of another branch")
    NOT_ELIGIBLE = "not_eligible", _("the customer's branch is not part of the operation")
    BRANCH_DECLINED = "branch_declined", _("the customer's branch declined or opted out of the operation")
    BRANCH_VERSION = "branch_version", _("the customer's branch sends its own version of the operation")
    REMOVED_BY_BRANCH = "removed_by_branch", _("removed by the customer's branch when it reviewed the target")
    QUIET_PERIOD = "quiet_period", _("send date on a quiet day")
    ALREADY_CONTACTED = "already_contacted", _("already contacted for this operation")
    SAME_OPERATION = "same_operation", _("another message of the same operation goes first")
    DUPLICATE_ADDRESS = "duplicate_address", _("same address as another customer of the campaign")
    CHANNEL_CAP = "channel_cap", _("channel pressure cap reached")
    QUOTA = "quota", _("slots reserved for the other origin")
    PRESSURE_CAP = "pressure_cap", _("pressure cap reached")
    HOLDOUT = "holdout", _("held out at random: the campaign's control group")


class Candidate(models.Model):
    """A (customer, campaign) pair of an arbitration run and its decision.

    Written a few million at a time by the arbitration engine, from rows it has just read in the
    same transaction: the foreign keys have no database constraint (PostgreSQL would check each of
    them for each row at commit — over a minute at network-1M). Django's deletions still cascade.

    On PostgreSQL the table is partitioned by run (migration 0010): the engine loads a run's rows
    into a table of their own, builds its two indexes in one pass each, then attaches it; deleting a
    run drops its partition (central/signals.py). The key is the pair itself, within its run."""

    pk = models.CompositePrimaryKey("run", "customer", "campaign")
    run = models.ForeignKey(ArbitrationRun, on_delete=models.CASCADE, related_name="candidates", db_index=False,
                            db_constraint=False)
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+", db_index=False,
                                 db_constraint=False)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+", db_index=False,
                                 db_constraint=False)
    branch = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="+", db_index=False, null=True,
                               db_constraint=False)
    channel = models.CharField(max_length=8)
    origin = models.CharField(max_length=16)
    operation = models.ForeignKey(Operation, on_delete=models.CASCADE, null=True, related_name="+", db_index=False,
                                  db_constraint=False)
    #: Lower is first: 0 for a "national priority" operation, then the rank of the origin + 1.
    priority = models.PositiveSmallIntegerField()
    send_date = models.DateField()
    scheduled_at = models.DateTimeField()
    selected = models.BooleanField(null=True)
    reason = models.CharField(max_length=20, choices=Reason.choices, blank=True)
    lost_to = models.ForeignKey(Campaign, on_delete=models.SET_NULL, null=True, related_name="+", db_index=False,
                                db_constraint=False)

    class Meta:
        indexes = [models.Index(fields=["run", "campaign"], name="candidate_run_campaign")]

    def __str__(self) -> str:
        return f"{self.run_id} {self.campaign_id} {self.customer_id}"


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


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class DeliveryReason(models.TextChoices):
    """Why a delivery was cancelled or failed (see central/delivery/)."""

    # cancelled: checked again just before the message leaves
    OBJECTION = "objection", _("objected to all marketing")
    NO_CONSENT = "no_consent", _("no consent for this channel")
    NO_ADDRESS = "no_address", _("no address for this channel")
    SUPPRESSED = "suppressed", _("address on the suppression list")
    SMS_STOP = "sms_stop", _("replied STOP to an earlier SMS")
    CAMPAIGN_CANCELLED = "campaign_cancelled", _("the campaign's send was cancelled")
    # failed
    HARD_BOUNCE = "hard_bounce", _("the address does not exist (hard bounce)")
    REJECTED = "rejected", _("refused by the provider")
    GAVE_UP = "gave_up", _("temporary errors until the last attempt")
    ERROR = "error", _("unexpected error")


class Delivery(models.Model):
    """One message to send: a selected candidate of a committed arbitration."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="deliveries", db_index=False)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="deliveries")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED)
    #: In tracking and unsubscribe links: 130 random bits, never guessable from another.
    token = models.CharField(max_length=40, unique=True, default=partial(new_public_id, "t", 26))
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    #: Why it was cancelled or failed: a DeliveryReason value.
    #: (Database defaults for the new columns: the arbitration creates deliveries by a raw INSERT.)
    reason = models.CharField(max_length=20, choices=DeliveryReason.choices, blank=True, db_default="")
    queued_at = models.DateTimeField(auto_now_add=True)
    #: When a worker took it (queued → sending): a claim older than a send can last was interrupted.
    claimed_at = models.DateTimeField(null=True, blank=True)
    #: A temporary error: not to be tried again before this time (exponential back-off).
    retry_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    #: When it ended: sent, failed or cancelled.
    finished_at = models.DateTimeField(null=True, blank=True)
    #: The e-mail's Message-ID, or the SMS provider's message id.
    provider_id = models.CharField(max_length=200, blank=True, db_default="")
    #: SMS only: parts billed, and their cost (segments × the provider's price per segment).
    segments = models.PositiveSmallIntegerField(null=True, blank=True)
    cost = models.DecimalField(max_digits=9, decimal_places=4, null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "customer", "channel"], name="one_delivery_per_recipient")
        ]
        indexes = [
            models.Index(fields=["campaign", "status"], name="delivery_campaign_status"),
            # the providers' tracking webhooks find the delivery of a message by its id
            models.Index(fields=["provider_id"], name="delivery_provider_id", condition=~models.Q(provider_id="")),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} → {self.customer_id} ({self.status})"


class TrackingEvent(models.Model):
    """What a recipient did with a message, recorded by the public endpoints for reporting: the first
    open, each distinct link clicked (once per link), the unsubscription."""

    class Kind(models.TextChoices):
        OPEN = "open", _("Opened")
        CLICK = "click", _("Clicked")
        UNSUBSCRIBE = "unsubscribe", _("Unsubscribed")

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="tracking_events", db_index=False)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    url = models.TextField(blank=True)
    #: SHA-256 of ``url`` (empty for opens and unsubscriptions): what the unique constraint compares.
    url_hash = models.CharField(max_length=64, blank=True)
    at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["delivery", "kind", "url_hash"], name="one_tracking_event_per_kind_url")
        ]

    def __str__(self) -> str:
        return f"{self.delivery_id} {self.kind}"


class PrintFile(models.Model):
    """A print-ready PDF of a post campaign: the mail merge (one page per recipient with the address
    block; a campaign resumed after an interruption may have several parts) or the store's flyer."""

    class Kind(models.TextChoices):
        MAIL_MERGE = "mail_merge", _("Mail merge")
        FLYER = "flyer", _("Flyer for the store")

    #: Its name in the download links (random: the files hold names and addresses).
    public_id = models.CharField(max_length=24, unique=True, default=partial(new_public_id, "prt"), editable=False)
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="print_files")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    file = models.FileField(upload_to="print/")
    pages = models.PositiveIntegerField(default=0)
    recipients = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["campaign", "kind", "created_at", "id"]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.kind}"


# --- The print hand-off to the network's printer (central/printing.py) -------------------------------


class PrinterSettings(models.Model):
    """How a network's print runs reach its printer: not at all (downloaded from the campaign page),
    by SFTP, or by e-mail with links. The password and the private key are kept encrypted (Fernet,
    keyed from SECRET_KEY) and never shown back."""

    class Method(models.TextChoices):
        NONE = "none", _("None: head office and the branch download the files")
        SFTP = "sftp", _("SFTP upload")
        EMAIL = "email", _("E-mail with download links")

    network = models.OneToOneField(Network, on_delete=models.CASCADE, related_name="printer_settings")
    method = models.CharField(_("hand-off"), max_length=8, choices=Method.choices, default=Method.NONE)
    host = models.CharField(_("SFTP host"), max_length=255, blank=True)
    port = models.PositiveIntegerField(_("SFTP port"), default=22)
    username = models.CharField(_("SFTP user name"), max_length=150, blank=True)
    password_encrypted = models.TextField(blank=True, editable=False)
    private_key_encrypted = models.TextField(blank=True, editable=False)
    remote_directory = models.CharField(_("remote directory"), max_length=255, blank=True)
    host_key_fingerprint = models.CharField(_("host key fingerprint"), max_length=100, blank=True)
    email = models.EmailField(_("printer's e-mail address"), blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")

    class Meta:
        verbose_name = _("printer settings")
        verbose_name_plural = _("printer settings")

    def __str__(self) -> str:
        return f"{self.network_id} {self.method}"


class PrintHandoffStatus(models.TextChoices):
    PREPARED = "prepared", _("Prepared")
    DELIVERED = "delivered", _("Delivered to the printer")
    FAILED = "failed", _("Failed")


class PrintHandoff(models.Model):
    """One print run (a mail-merge PDF) handed to the printer: the PDF, the approved BAT exactly as
    frozen in its proof, and a CSV manifest (one line per piece). Prepared, then delivered or
    failed with its reason; each attempt counted."""

    public_id = models.CharField(max_length=24, unique=True, default=partial(new_public_id, "prh"), editable=False)
    print_file = models.OneToOneField(PrintFile, on_delete=models.CASCADE, related_name="handoff")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="print_handoffs")
    status = models.CharField(_("status"), max_length=10, choices=PrintHandoffStatus.choices,
                              default=PrintHandoffStatus.PREPARED)
    manifest = models.FileField(upload_to="print/")
    bat = models.FileField(upload_to="print/", blank=True)
    bat_number = models.PositiveIntegerField(null=True, blank=True)
    pdf_sha256 = models.CharField(max_length=64)
    bat_sha256 = models.CharField(max_length=64, blank=True)
    manifest_sha256 = models.CharField(max_length=64)
    pieces = models.PositiveIntegerField(default=0)
    pages = models.PositiveIntegerField(default=0)
    method = models.CharField(max_length=8, choices=PrinterSettings.Method.choices, blank=True)
    destination = models.CharField(max_length=400, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    reason = models.TextField(blank=True)
    prepared_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["campaign", "prepared_at", "id"]

    def __str__(self) -> str:
        return self.public_id


# --- The network's rules: audit, and customer ownership transfers ------------------------------------


class NetworkRulesEvent(models.Model):
    """Audit trail of the network's rules: a change of the rules (each field as before → after), an
    address put on or taken off the suppression list (only its hash prefix). Only ever added."""

    class Action(models.TextChoices):
        RULES_CHANGED = "rules_changed", _("Rules changed")
        SUPPRESSION_ADDED = "suppression_added", _("Address suppressed")
        SUPPRESSION_REMOVED = "suppression_removed", _("Address taken off the suppression list")

    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="rules_events")
    action = models.CharField(max_length=24, choices=Action.choices)
    changes = models.JSONField(default=dict, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.network_id} {self.action}"


class TransferStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    ACCEPTED = "accepted", _("Accepted")
    REFUSED = "refused", _("Refused")


class OwnershipTransfer(models.Model):
    """A customer moving from one branch of the network to another: requested by the branch that
    wants them (or done at once by head office), decided by head office or the regional manager
    over both branches. The row is the record: who asked, who decided, when, and why."""

    public_id = models.CharField(max_length=24, unique=True, default=partial(new_public_id, "otr"), editable=False)
    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="ownership_transfers")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="ownership_transfers")
    from_branch = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="+", verbose_name=_("from"))
    to_branch = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="+", verbose_name=_("to"))
    status = models.CharField(_("status"), max_length=10, choices=TransferStatus.choices,
                              default=TransferStatus.REQUESTED)
    #: What the requester typed to designate the customer (their CRM id, e-mail or mobile): all
    #: they are shown of a customer who is not theirs yet.
    requested_as = models.CharField(_("customer"), max_length=254, blank=True)
    note = models.TextField(_("why"), blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    requested_at = models.DateTimeField(_("requested on"))
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    decided_at = models.DateTimeField(_("decided on"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = _("ownership transfer")
        verbose_name_plural = _("ownership transfers")
        constraints = [
            models.UniqueConstraint(fields=["customer"], condition=models.Q(status="requested"),
                                    name="one_open_transfer_per_customer"),
        ]
        indexes = [models.Index(fields=["network", "status"], name="transfer_network_status")]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.from_branch_id} → {self.to_branch_id} ({self.status})"


# --- Budgets and prospects ---------------------------------------------------------------------------


class Budget(models.Model):
    """What head office gives a branch to spend on marketing over a period (its campaigns whose send
    date falls in it). An allocation to a region is split among its branches, one row each."""

    public_id = models.CharField(max_length=24, unique=True, default=partial(new_public_id, "bud"), editable=False)
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="budgets")
    branch = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="budgets", verbose_name=_("branch"))
    #: The region whose allocation this row is a share of (empty: allocated to the branch itself).
    region = models.ForeignKey(Node, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                               verbose_name=_("region"))
    starts_on = models.DateField(_("from"))
    ends_on = models.DateField(_("until"))
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["starts_on", "branch__name"]
        verbose_name = _("budget")
        verbose_name_plural = _("budgets")
        indexes = [models.Index(fields=["branch", "starts_on"], name="budget_branch_start")]

    def __str__(self) -> str:
        return f"{self.branch} {self.starts_on}→{self.ends_on}: {self.amount}"


class SignupRequest(models.Model):
    """A visitor's sign-up on a branch's page, kept as the proof of their consent: when, on which
    page, the text they were shown, a hash of their IP address. With an e-mail address it waits for
    the confirmation link (double opt-in) and is all Relais keeps until then; confirmed (or with a
    mobile number only), it makes the prospect."""

    public_id = models.CharField(max_length=24, unique=True, default=partial(new_public_id, "sgn"), editable=False)
    branch = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="+")
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    email = models.CharField(_("e-mail"), max_length=254, blank=True)
    mobile = models.CharField(_("mobile"), max_length=20, blank=True)
    consent_email = models.BooleanField(default=False)
    consent_sms = models.BooleanField(default=False)
    page = models.CharField(_("page"), max_length=300)
    text_shown = models.TextField(_("text shown"))
    ip_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    customer = models.ForeignKey(Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        verbose_name = _("sign-up")
        verbose_name_plural = _("sign-ups")
        indexes = [models.Index(fields=["ip_hash", "created_at"], name="signup_ip_time")]

    def __str__(self) -> str:
        return self.public_id
