"""django-anymail's tracking signal, handed to the reporting service (connected in apps.ready)."""

from anymail.signals import tracking
from django.dispatch import receiver

from reporting.services import provider_event_record


@receiver(tracking, dispatch_uid="relais-provider-events")
def record_provider_event(sender, event, esp_name, **kwargs) -> None:
    provider_event_record(esp_name=esp_name, event=event)
