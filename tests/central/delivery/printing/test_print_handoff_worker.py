"""The print hand-off's automatic retries through a real broker and a real Celery worker: a printer
whose SFTP server refuses gets the first attempt and Celery's 4 retries, spaced by the growing
delays (RELAIS_PRINT_RETRY_SECONDS × 1, 2, 4, 8; a quarter of a second here), then nothing more —
the run stays *failed* with its reason, even once the server accepts again; head office's Retry
then delivers it.

On PostgreSQL with a real broker (CELERY_BROKER_URL: Redis or RabbitMQ) the test starts its own
worker process on a private queue, reading the test database (tests/central/delivery/test_dispatch_worker.py's
``Workers``). Elsewhere (SQLite, or no broker) the task runs in-process, where the retries come at
once: the count and the bound are checked, not the spacing."""

from __future__ import annotations

import time
import uuid

import pytest

from central.delivery import sending
from central.delivery.printing.services import print_handoff_retry
from central.models import PrintHandoff
from central.tasks import print_handoff_deliver_task
from tests.central.delivery.printing.test_print_handoff import SftpServer, sftp_printer
from tests.central.delivery.test_dispatch_worker import Workers, real_worker_possible, wait_for
from tests.dispatching import add_customers, print_version, to_sending
from tests.planning import joined_campaign

# Not marked celery_worker: the test starts (and stops) a worker of its own, on its own queue, with
# its short retry delay; the print run before it is made in-process.
pytestmark = pytest.mark.django_db(transaction=True)
RETRY_SECONDS = 0.25


@pytest.fixture
def worker(transactional_world, settings, tmp_path):
    """A real worker process on a private queue when the set-up allows it, else None (in-process)."""
    settings.RELAIS_PRINT_RETRY_SECONDS = RETRY_SECONDS
    if not real_worker_possible():
        yield None
        return
    from config.celery import app

    queue = f"relais-print-test-{uuid.uuid4().hex[:10]}"
    group = Workers(queue, 1, tmp_path, RELAIS_PRINT_RETRY_SECONDS=str(RETRY_SECONDS))
    group.start()
    eager = app.conf.task_always_eager
    try:
        yield group
    finally:
        app.conf.task_always_eager = eager
        group.stop()
        with app.connection_for_write() as broker:
            broker.default_channel.queue_purge(queue)


def test_automatic_retries_are_spaced_and_bounded_then_head_office_retries(transactional_world, worker, tmp_path):
    world = transactional_world
    (tmp_path / "sftp" / "incoming").mkdir(parents=True)
    # the print run, made in-process before the printer is set: its hand-off waits, prepared
    campaign = joined_campaign(world, version=print_version(world), channels=["post"], reachable=0)
    add_customers(world, 2, prefix="p", channel="post")
    sending.campaign_dispatch(campaign=to_sending(world, campaign))
    handoff = PrintHandoff.objects.get(campaign=campaign)
    assert (handoff.status, handoff.attempts) == ("prepared", 0)
    with SftpServer(tmp_path / "sftp") as server:
        sftp_printer(world, server)
        server.refuse = True
        options = {}
        if worker is not None:  # from now on, tasks go through the broker to the test's worker
            from config.celery import app

            app.conf.task_always_eager = False
            options = {"queue": worker.queue}
        print_handoff_deliver_task.apply_async(args=[handoff.pk], **options)
        attempts = lambda: PrintHandoff.objects.get(pk=handoff.pk).attempts  # noqa: E731
        wait_for(lambda: attempts() == 5, 30, "five attempts", worker)
        if worker is not None:
            gaps = [later - earlier for earlier, later in zip(server.login_times, server.login_times[1:], strict=False)]
            assert len(gaps) == 4
            for index, gap in enumerate(gaps):  # 0.25, 0.5, 1, 2 s at least (the broker adds its delay)
                assert gap >= RETRY_SECONDS * 2 ** index * 0.9, gaps
            assert gaps[3] > gaps[0]
        server.refuse = False
        if worker is not None:
            time.sleep(RETRY_SECONDS * 2 ** 4 * 1.5)  # past when a fifth retry would have come
        handoff.refresh_from_db()
        assert (handoff.status, handoff.attempts, server.logins) == ("failed", 5, 5)
        assert handoff.reason == "SFTP: the server refused the user name or its password or key"
        assert server.files() == {}
        # head office's Retry: a new round, delivered at once (routed to the test's worker, if any)
        if worker is not None:
            print_handoff_deliver_task.apply_async(args=[handoff.pk], queue=worker.queue)
        else:
            print_handoff_retry(handoff=handoff, retried_by=world.users["head_office"])
        wait_for(lambda: PrintHandoff.objects.get(pk=handoff.pk).status == "delivered", 30, "the delivery", worker)
        handoff.refresh_from_db()
        assert (handoff.attempts, server.logins, len(server.files())) == (6, 6, 3)
