"""Delivery and engagement events, as the e-mail providers report them.

Relais's own tracking (the open pixel, tracked links, the unsubscribe page) is recorded by
``central`` as ``TrackingEvent``; what a provider says about a message after it accepted it —
delivered, bounced, opened or clicked through its own tracking, unsubscribed, reported as spam — comes
through its tracking webhook, normalised by django-anymail, and is kept here, once per provider
event, tied to the delivery it is about."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from central.models import Delivery


class ProviderEvent(models.Model):
    """One event of an e-mail provider's tracking webhook, recorded once (its provider and its id)."""

    class Kind(models.TextChoices):
        DELIVERED = "delivered", _("Delivered")
        BOUNCED = "bounced", _("Bounced (hard)")
        DEFERRED = "deferred", _("Bounced (soft)")
        REJECTED = "rejected", _("Rejected by the provider")
        OPENED = "opened", _("Opened")
        CLICKED = "clicked", _("Clicked")
        UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
        COMPLAINED = "complained", _("Reported as spam")

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="provider_events")
    kind = models.CharField(_("event"), max_length=16, choices=Kind.choices)
    #: The provider, as django-anymail names it ("Mailgun", "Postmark"…).
    esp = models.CharField(_("provider"), max_length=40)
    #: The provider's id of the event; for a provider that gives none, a digest of the event itself.
    event_id = models.CharField(max_length=200)
    url = models.TextField(_("link"), blank=True)
    #: Why it bounced or was rejected, as the provider words it (never the recipient's address).
    detail = models.CharField(_("detail"), max_length=300, blank=True)
    occurred_at = models.DateTimeField(_("occurred on"))
    recorded_at = models.DateTimeField(_("recorded on"), auto_now_add=True)

    class Meta:
        verbose_name = _("provider event")
        verbose_name_plural = _("provider events")
        constraints = [models.UniqueConstraint(fields=["esp", "event_id"], name="provider_event_once")]
        indexes = [models.Index(fields=["delivery", "kind"], name="provider_event_delivery_kind")]

    def __str__(self) -> str:
        return f"{self.esp} {self.kind} {self.delivery_id}"


class DailyStat(models.Model):
    """One day of one campaign, built from the deliveries and the events by the roll-up task: the
    messages sent and failed that day, and the deliveries whose *first* event of each kind happened
    that day — so that the days of a campaign add up to its totals (a message opened on two days
    counts once, on the first). The campaign's network, branch, region, operation, channel and
    origin are copied in, so that every dashboard reads this table alone."""

    day = models.DateField(_("day"))
    campaign = models.ForeignKey("central.Campaign", on_delete=models.CASCADE, related_name="daily_stats")
    network = models.ForeignKey("local_stores.Network", on_delete=models.CASCADE, related_name="+", db_index=False)
    branch = models.ForeignKey("local_stores.Node", on_delete=models.CASCADE, null=True, related_name="+",
                               db_index=False)
    region = models.ForeignKey("local_stores.Node", on_delete=models.CASCADE, null=True, related_name="+",
                               db_index=False)
    operation = models.ForeignKey("central.Operation", on_delete=models.SET_NULL, null=True, related_name="+",
                                  db_index=False)
    channel = models.CharField(_("channel"), max_length=8)
    origin = models.CharField(_("origin"), max_length=16)
    sent = models.PositiveIntegerField(_("sent"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    delivered = models.PositiveIntegerField(_("delivered"), default=0)
    bounced_hard = models.PositiveIntegerField(_("hard bounces"), default=0)
    bounced_soft = models.PositiveIntegerField(_("soft bounces"), default=0)
    opened = models.PositiveIntegerField(_("opened"), default=0)
    clicked = models.PositiveIntegerField(_("clicked"), default=0)
    unsubscribed = models.PositiveIntegerField(_("unsubscribed"), default=0)
    complained = models.PositiveIntegerField(_("spam reports"), default=0)
    #: On the row of the day the campaign's send began (its send date before): the candidates of its
    #: real arbitration, and those excluded, by reason ({reason: count}).
    audience = models.PositiveIntegerField(_("audience"), default=0)
    excluded = models.JSONField(_("excluded"), default=dict, blank=True)
    #: On the same row: the purchases its recipients made in the network's attribution days from that
    #: day (``recipients`` customers, ``buyers`` of them bought, for ``revenue``); with a control group,
    #: the same for the customers held out (``holdout``…), and again for the recipients (``measured``…)
    #: — so that a sum over campaigns compares the campaigns with a control group only.
    recipients = models.PositiveIntegerField(_("recipients"), default=0)
    #: Of them, prospects (signed up in a branch, not yet in the CRM) when the row was built.
    prospects = models.PositiveIntegerField(_("prospects among the recipients"), default=0)
    buyers = models.PositiveIntegerField(_("buyers"), default=0)
    revenue = models.DecimalField(_("attributed revenue"), max_digits=14, decimal_places=2, default=0)
    holdout = models.PositiveIntegerField(_("control group"), default=0)
    holdout_buyers = models.PositiveIntegerField(_("buyers in the control group"), default=0)
    holdout_revenue = models.DecimalField(_("control group's revenue"), max_digits=14, decimal_places=2, default=0)
    measured = models.PositiveIntegerField(_("recipients with a control group"), default=0)
    measured_buyers = models.PositiveIntegerField(_("buyers among them"), default=0)
    measured_revenue = models.DecimalField(_("their revenue"), max_digits=14, decimal_places=2, default=0)

    class Meta:
        verbose_name = _("daily statistics")
        verbose_name_plural = _("daily statistics")
        constraints = [models.UniqueConstraint(fields=["campaign", "day"], name="daily_stat_once")]
        indexes = [
            models.Index(fields=["network", "day"], name="daily_stat_network_day"),
            models.Index(fields=["branch", "day"], name="daily_stat_branch_day"),
            models.Index(fields=["region", "day"], name="daily_stat_region_day"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.day}"


class RollupState(models.Model):
    """Where the roll-up task got to: it looks again at the campaigns whose deliveries or events
    changed since ``done_until`` (one row)."""

    done_until = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    campaigns = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"roll-ups done until {self.done_until}"


class PressureStat(models.Model):
    """The pressure customers actually received: for one network and one week (Monday to Sunday),
    how many customers got ``contacts`` marketing messages that week (1, 2, 3…), whatever sent them."""

    network = models.ForeignKey("local_stores.Network", on_delete=models.CASCADE, related_name="+")
    week = models.DateField(_("week of"))
    contacts = models.PositiveSmallIntegerField(_("messages in the week"))
    customers = models.PositiveIntegerField(_("customers"))

    class Meta:
        verbose_name = _("pressure received")
        verbose_name_plural = _("pressure received")
        constraints = [models.UniqueConstraint(fields=["network", "week", "contacts"], name="pressure_stat_once")]

    def __str__(self) -> str:
        return f"{self.network_id} {self.week} {self.contacts}: {self.customers}"
