"""Queueing Celery tasks by name: a service never imports ``central.tasks`` (the tasks import the
services), it names the task it wants run."""

from __future__ import annotations

from celery import current_app
from django.db import transaction


def _registered(name: str):
    task = current_app.tasks.get(name)
    if task is None:  # a web process: the apps' tasks modules are imported on first need (autodiscovery)
        current_app.loader.import_default_modules()
        task = current_app.tasks.get(name)
    return task


def task_send(name: str, *, args: list | tuple = (), **options) -> None:
    """Queue the task registered as ``name`` now. Looked up in the app's registry rather than sent
    with ``send_task``, so that in-process (eager) runs still run it at once."""
    task = _registered(name)
    if task is None:
        current_app.send_task(name, args=list(args), **options)
    else:
        task.apply_async(args=list(args), **options)


def task_send_on_commit(name: str, *, args: list | tuple = (), **options) -> None:
    """Queue the task ``name`` once the current transaction commits (nothing if it rolls back)."""
    transaction.on_commit(lambda: task_send(name, args=args, **options))
