"""Head office's *Simulate* (the network's arbitration over some days), queued instead of run inside
the click (issue 19, defect 11): on the reference network it takes seconds (docs/benchmarks.md).

The click checks the request (``simulation_check``), records a *queued* simulation — an
``ArbitrationRun`` without ``finished_at``, which every reader of simulations already skips — and
queues the task ``central.arbitration_simulate`` after the commit. The task runs the simulation
(``arbitration_simulate``) and removes the queued record; meanwhile the arbitration page shows that
it is running and asks again every few seconds (htmx), then reloads with the results. Where tasks
run in-process (the embedded demo, the tests) it is done before the page is shown again."""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from central.models import ArbitrationRun
from central.rules.services import arbitration_simulate, simulation_check
from central.task_queue import task_send_on_commit
from local_stores.models import Network

#: A queued simulation not done after this long is taken as lost (its worker died, the broker lost
#: it): it is no longer shown as running, and removed by the next simulation of the network.
QUEUED_AT_MOST = timedelta(hours=1)


def arbitration_simulate_queue(*, network: Network, starts_on, ends_on, run_by) -> ArbitrationRun:
    """Queue a simulation of ``network`` over [starts_on, ends_on] by ``run_by`` (refused at once,
    as ``arbitration_simulate`` would refuse it); the queued record."""
    simulation_check(network=network, starts_on=starts_on, ends_on=ends_on, run_by=run_by)
    with transaction.atomic():
        queued = ArbitrationRun.objects.create(network=network, mode=ArbitrationRun.Mode.SIMULATION,
                                               starts_on=starts_on, ends_on=ends_on, started_by=run_by,
                                               summary={"queued": True})
        task_send_on_commit("central.arbitration_simulate", args=[queued.pk])
    return queued


def simulation_queued_run(*, queued_id: int) -> ArbitrationRun | None:
    """Run the queued simulation ``queued_id`` (the task's body), then remove its record — also
    when it fails, or when its author may no longer simulate (then nothing runs). Its run, or None
    if there was nothing (left) to run. Safe to run twice: the second finds no record."""
    queued = (ArbitrationRun.objects.filter(pk=queued_id, finished_at__isnull=True, summary__queued=True)
              .select_related("network", "started_by").first())
    if queued is None:
        return None
    try:
        return arbitration_simulate(network=queued.network, starts_on=queued.starts_on, ends_on=queued.ends_on,
                                    run_by=queued.started_by)
    except (PermissionDenied, ValidationError):
        return None  # rights withdrawn (or author deleted) since the click
    finally:
        ArbitrationRun.objects.filter(pk=queued.pk, finished_at__isnull=True).delete()
        ArbitrationRun.objects.filter(network_id=queued.network_id, finished_at__isnull=True, summary__queued=True,
                                      started_at__lt=timezone.now() - QUEUED_AT_MOST).delete()


def simulation_queued(*, network: Network, starts_on, ends_on) -> ArbitrationRun | None:
    """The latest simulation of ``network`` queued and not done yet whose days cover [starts_on,
    ends_on] (not one queued longer than QUEUED_AT_MOST ago)."""
    return (ArbitrationRun.objects.filter(network=network, mode=ArbitrationRun.Mode.SIMULATION, finished_at__isnull=True,
                                          summary__queued=True, starts_on__lte=starts_on, ends_on__gte=ends_on,
                                          started_at__gte=timezone.now() - QUEUED_AT_MOST)
            .order_by("-started_at", "-id").first())
