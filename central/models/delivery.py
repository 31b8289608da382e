"""Delivery: each message to send (a selected candidate of a committed arbitration), why it was
cancelled or failed, and what its recipient did with it."""

from functools import partial

from django.db import models
from django.utils.translation import gettext_lazy as _

from central.models.campaigns import Campaign
from central.models.customers import Channel, Customer
from local_stores.identifiers import new_public_id


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
