"""Celery entry points of central: load by id, call a service."""

from celery import shared_task

from central.services import customer_import_run


@shared_task(name="central.customer_import_run")
def customer_import_run_task(customer_import_id: int) -> None:
    customer_import_run(customer_import_id=customer_import_id)


@shared_task(name="central.operations_enrol_mandatory")
def operations_enrol_mandatory_task() -> int:
    """Enrol eligible branches (new ones included) in every published mandatory operation still
    running. Idempotent: scheduled by Celery beat every hour."""
    from django.utils import timezone

    from central.models import Operation, OperationMode, OperationStatus
    from central.services import operation_enrol_mandatory

    operations = Operation.objects.filter(
        mode=OperationMode.MANDATORY, status=OperationStatus.PUBLISHED, send_until__gt=timezone.localdate()
    )
    return sum(operation_enrol_mandatory(operation=operation) for operation in operations)


@shared_task(name="central.deadline_reminders_send")
def deadline_reminders_send_task() -> int:
    """Remind branches that have not answered before subscription deadlines (daily, idempotent)."""
    from central.services import deadline_reminders_send

    return deadline_reminders_send()
