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
