"""Celery entry points of central: load by id, call a service."""

import time

from celery import shared_task
from django.contrib.auth import get_user_model
from django.utils import timezone

from central.calendar.deadlines import deadline_reminders_send
from central.calendar.services import operation_enrol_mandatory
from central.customers.services import customer_import_run
from central.delivery.mail_merge import campaign_print_produce
from central.delivery.printing.services import MAX_AUTOMATIC_RETRIES, print_handoff_deliver, retry_delay
from central.delivery.sending import (
    campaign_dispatch,
    campaigns_send_due,
    dispatch_chunk,
    dispatch_chunk_enqueue,
    dispatch_recover,
)
from central.identity.services import identity_test_send
from central.models import Campaign, CampaignStatus, CustomerImport, Operation, OperationMode, OperationStatus
from central.rules.simulation_queue import simulation_queued_run


@shared_task(name="central.customer_import_run")
def customer_import_run_task(customer_import_id: int) -> None:

    if not CustomerImport.objects.filter(pk=customer_import_id).exists():
        return  # deleted since it was queued, or a forged message: nothing to run
    customer_import_run(customer_import_id=customer_import_id)


@shared_task(name="central.operations_enrol_mandatory")
def operations_enrol_mandatory_task() -> int:
    """Enrol eligible branches (new ones included) in every published mandatory operation still
    running. Idempotent: scheduled by Celery beat every hour."""


    operations = Operation.objects.filter(
        mode=OperationMode.MANDATORY, status=OperationStatus.PUBLISHED, send_until__gt=timezone.localdate()
    )
    return sum(operation_enrol_mandatory(operation=operation) for operation in operations)


@shared_task(name="central.deadline_reminders_send")
def deadline_reminders_send_task() -> int:
    """Remind branches that have not answered before subscription deadlines (daily, idempotent)."""

    return deadline_reminders_send()


# --- Dispatch (central/delivery/) -------------------------------------------------------------------

#: In-process (eager) runs wait for a retry or the end of quiet hours only this long; later ones are
#: taken up by dispatch_recover or a new campaign_dispatch.
EAGER_MAX_WAIT_SECONDS = 5.0


@shared_task(name="central.campaign_dispatch")
def campaign_dispatch_task(campaign_id: int) -> int:

    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None or campaign.status != CampaignStatus.SENDING:
        return 0  # paused, cancelled or finished since it was queued, or a forged message: nothing to send
    return campaign_dispatch(campaign=campaign)


@shared_task(bind=True, name="central.dispatch_chunk")
def dispatch_chunk_task(self, campaign_id: int, first_id: int, last_id: int) -> dict:
    """Send one chunk; when it must wait (retries, quiet hours), queue itself again for then."""



    while True:
        result = dispatch_chunk(campaign_id=campaign_id, first_id=first_id, last_id=last_id)
        if result.resume_at is None:
            return result.as_dict()
        if not (self.request.is_eager or self.app.conf.task_always_eager):
            dispatch_chunk_enqueue(campaign_id=campaign_id, first_id=first_id, last_id=last_id, eta=result.resume_at)
            return result.as_dict()
        wait = (result.resume_at - timezone.now()).total_seconds()
        if wait > EAGER_MAX_WAIT_SECONDS:
            return result.as_dict()
        time.sleep(max(wait, 0))


@shared_task(name="central.campaign_print")
def campaign_print_task(campaign_id: int) -> int:

    return len(campaign_print_produce(campaign_id=campaign_id))


@shared_task(bind=True, name="central.print_handoff_deliver", max_retries=4)
def print_handoff_deliver_task(self, handoff_id: int) -> str:
    """One attempt at handing a print run to the printer (central/delivery/printing/services.py). A failure that
    trying again may mend is retried by Celery: 4 times, after 1, 2, 4 and 8 minutes (in-process
    runs retry at once, without waiting). Head office's Retry queues a new round."""

    retry = self.request.retries
    while True:
        handoff = print_handoff_deliver(handoff_id=handoff_id)
        if handoff is None:
            return "missing"  # deleted since it was queued, or a forged message
        retry += 1
        if not getattr(handoff, "worth_retrying", False) or retry > min(self.max_retries, MAX_AUTOMATIC_RETRIES):
            return handoff.status
        if not (self.request.is_eager or self.app.conf.task_always_eager):
            raise self.retry(countdown=retry_delay(retry))


@shared_task(name="central.dispatch_recover")
def dispatch_recover_task() -> dict:
    """Every 5 minutes (Celery beat): interrupted sends queued again, stalled campaigns dispatched."""

    return dispatch_recover()


@shared_task(name="central.campaigns_send_due")
def campaigns_send_due_task() -> dict[str, int]:
    """The day's scheduled campaigns: arbitrate, start, dispatch (Celery beat, idempotent)."""

    return campaigns_send_due()


@shared_task(name="central.arbitration_simulate")
def arbitration_simulate_task(queued_id: int) -> str | None:
    """Head office's *Simulate*, queued by the click (central/rules/simulation_queue.py)."""

    run = simulation_queued_run(queued_id=queued_id)
    return run.public_id if run is not None else None


@shared_task(name="central.identity_test_send")
def identity_test_send_task(identity_id: int, sent_by_id: int, to: str, ip: str = "") -> bool:
    """The test e-mail of a network's sending identity, queued from its page (docs/sending-identity.md)."""
    sent_by = get_user_model().objects.filter(pk=sent_by_id).first()
    ok, _result = identity_test_send(identity_id=identity_id, sent_by=sent_by, to=to, ip=ip or None)
    return ok
