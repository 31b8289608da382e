"""django-anymail's tracking signal, handed to the reporting service, and central's erasure
(connected in apps.ready)."""

from anymail.signals import tracking
from django.dispatch import receiver

from central.signals import customer_erased
from reporting.services import provider_event_record, provider_events_erase


@receiver(tracking, dispatch_uid="relais-provider-events")
def record_provider_event(sender, event, esp_name, network_id=None, **kwargs) -> None:
    # a network's own webhook (central.identity.webhooks) names its network: only its deliveries
    provider_event_record(esp_name=esp_name, event=event, network_id=network_id)


@receiver(customer_erased, dispatch_uid="relais-erase-provider-events")
def erase_provider_events(sender, customer, **kwargs) -> None:
    provider_events_erase(customer=customer)
