"""Celery entry points of central: load by id, call a service."""

from celery import shared_task

from central.services import customer_import_run


@shared_task(name="central.customer_import_run")
def customer_import_run_task(customer_import_id: int) -> None:
    customer_import_run(customer_import_id=customer_import_id)
