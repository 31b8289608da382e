"""Celery entry points of reporting."""

from celery import shared_task

from reporting.services import rollups_refresh


@shared_task(name="reporting.rollups_refresh")
def rollups_refresh_task() -> dict:
    """The daily statistics of the campaigns whose deliveries or events changed (Celery beat,
    every 10 minutes; safe to run twice)."""

    return rollups_refresh()
