"""The network's rules: how conflicts between campaigns are settled before sending (priority order,
pressure caps, quiet days) and what each channel costs, their audit trail, and the suppression list."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from central.models.customers import Channel
from local_stores.models import Network


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
