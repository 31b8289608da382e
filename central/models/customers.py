"""The customer referential and consent.

Consent's current state lives on the customer row (one column per channel) so that targeting
and arbitration read it with no join; every change is also written to ``ConsentEvent``, the
history a customer page shows and an auditor asks for.

Also here, as they belong to the customer: the channels (what every sending concept names), the
CSV imports that bring customers and purchases, a visitor's sign-up on a branch's page (the proof
of a prospect's consent) and a customer's move from one branch to another.
"""

from functools import partial

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from central.channels import registry as channels
from local_stores.identifiers import new_public_id
from local_stores.models import Network, Node


class Channel(models.TextChoices):
    """The channels' codes as the model fields' choices: the same values, in the same order, as
    the registry ``central.channels`` declares (a test checks it; a new channel adds its line here,
    with its migration)."""

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
    spec = channels.get(channel)
    condition = models.Q(**{spec.consent_field: ConsentStatus.GRANTED}, objected_at__isnull=True)
    for name in spec.address_fields:
        condition &= ~models.Q(**{name: ""})
    return condition


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
    #: Who created the customer by hand (none: the CRM import or a sign-up), and who last edited them
    #: by hand (central/customers/by_hand.py; the network's audit trail has every edit).
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("created by"))
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("last edited by"))

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
    #: The person who recorded a change by hand (a form or the API); none for the import, a link,
    #: an SMS STOP, a sign-up.
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+", verbose_name=_("recorded by"))

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
        #: Uploaded, waiting for its unknown columns to be mapped on the upload page.
        MAPPING = "mapping", _("Columns to map")

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
    #: The file's encoding as chosen ("" detects it: UTF-8, else Windows-1252 and the like).
    encoding = models.CharField(_("file encoding"), max_length=16, blank=True)
    #: {file header: Relais column or "ignore"} for the headers that are neither columns nor synonyms.
    column_mapping = models.JSONField(_("column mapping"), default=dict, blank=True)

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


class CustomerImportMapping(models.Model):
    """How a network's CRM files name their columns: {file header: Relais column or "ignore"}, saved
    once and used again for every file with the same set of headers (``header_signature``)."""

    network = models.ForeignKey(
        Network, on_delete=models.CASCADE, related_name="customer_import_mappings", verbose_name=_("network")
    )
    name = models.CharField(_("name"), max_length=100)
    #: The file's headers, normalised, sorted and joined by "|": the same file layout finds its mapping.
    header_signature = models.CharField(_("headers"), max_length=2000)
    mapping = models.JSONField(_("column mapping"), default=dict)
    encoding = models.CharField(_("file encoding"), max_length=16, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("saved by")
    )
    updated_at = models.DateTimeField(_("updated on"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("customer import mapping")
        verbose_name_plural = _("customer import mappings")
        constraints = [
            models.UniqueConstraint(fields=["network", "name"], name="import_mapping_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


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
