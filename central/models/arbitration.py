"""The arbitration: the contacts the pressure caps count, each run (a simulation or the real one),
and its candidates with their decision and the reason of each exclusion."""

from functools import partial

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from central.models.calendar import Operation
from central.models.campaigns import Campaign
from central.models.customers import Channel, Customer
from central.models.rules import Origin
from local_stores.identifiers import new_public_id
from local_stores.models import Network, Node


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
