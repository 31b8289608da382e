"""The send through a real broker and real Celery worker processes, to a real SMTP server on
loopback: every recipient gets exactly one message; a worker killed (SIGKILL) in the middle of a
send loses nothing, and sends nothing twice but, at most, the message it was handing over.

On PostgreSQL with a real broker (CELERY_BROKER_URL: Redis or RabbitMQ) the tests start their own
worker processes, on a private queue (``RELAIS_DISPATCH_QUEUE``), reading the test database and
sending to the test's SMTP server (``RELAIS_TEST_WORKER_PROCESS``, see config/settings/test.py); the
CI's own worker never sees these tasks. On SQLite (an in-memory database no other process can read)
the first test runs in-process and the killed-worker test is skipped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from central.delivery import sending
from central.models import Campaign, CampaignStatus, Delivery, DeliveryStatus
from tests.dispatching import email_campaign

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery_worker]
BASE_DIR = Path(__file__).resolve().parents[3]


def real_worker_possible() -> bool:
    return connection.vendor == "postgresql" and not django_settings.CELERY_BROKER_URL.startswith("memory")


class Workers:
    """Worker processes started (and stopped) by the test, each in its own process group."""

    def __init__(self, queue: str, smtp_port: int, log_dir: Path, **env: str) -> None:
        db = connection.settings_dict
        self.queue, self.log_dir, self.processes = queue, log_dir, []
        self.env = {
            **os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": f"postgres://{db['USER']}{':' + db['PASSWORD'] if db['PASSWORD'] else ''}@{db['HOST'] or '127.0.0.1'}"
                            f":{db['PORT'] or 5432}/{db['NAME']}",
            "CELERY_QUEUE": queue, "RELAIS_DISPATCH_QUEUE": queue, "RELAIS_TEST_WORKER_PROCESS": "1",
            "RELAIS_TEST_SMTP_PORT": str(smtp_port), "RELAIS_BASE_URL": django_settings.RELAIS_BASE_URL, **env,
        }

    def start(self) -> subprocess.Popen:
        from config.celery import app

        name = f"{self.queue}-{len(self.processes)}@{socket.gethostname()}"
        log = (self.log_dir / f"worker-{len(self.processes)}.log").open("w")
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", self.queue, "-n", name,
             "--concurrency", "2", "--without-gossip", "--without-mingle", "--loglevel", "warning"],
            cwd=BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(process)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"the worker stopped: {self.log()}")
            if app.control.ping(destination=[name], timeout=1.0):
                return process
        raise AssertionError(f"the worker did not answer: {self.log()}")

    def kill(self, process: subprocess.Popen) -> None:
        """SIGKILL to the worker and its pool processes: no shutdown, no acknowledgement."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(10)

    def log(self) -> str:
        return "\n".join(path.read_text()[-3000:] for path in sorted(self.log_dir.glob("worker-*.log")))


@pytest.fixture
def workers(transactional_world, settings, sink, tmp_path):
    """Real worker processes on a private queue when the set-up allows it, else None (in-process)."""
    if not real_worker_possible():
        yield None
        return
    from config.celery import app

    queue = f"relais-dispatch-test-{uuid.uuid4().hex[:10]}"
    settings.RELAIS_BASE_URL = "http://127.0.0.1:8000"
    settings.RELAIS_DISPATCH_QUEUE = queue
    group = Workers(queue, sink.port, tmp_path, RELAIS_RATE_LIMIT_EMAIL="10", CELERY_VISIBILITY_TIMEOUT="8",
                    RELAIS_DISPATCH_RETRY_SECONDS="1")
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        yield group
    finally:
        app.conf.task_always_eager = eager
        group.stop()
        with app.connection_for_write() as broker:
            broker.default_channel.queue_purge(queue)


def wait_for(condition, timeout: float, what: str, workers: Workers | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen in {timeout} s" + (f"\n{workers.log()}" if workers else ""))


def test_every_recipient_gets_exactly_one_message_through_the_broker_and_a_real_worker(
        transactional_world, settings, sink, workers):
    settings.RELAIS_DISPATCH_CHUNK_SIZE = 7
    settings.RELAIS_DISPATCH_RETRY_SECONDS = 1  # (for the in-process run; the workers have theirs)
    campaign = email_campaign(transactional_world, 30)
    sink.handler.received.clear()  # (the approvals' notifications: committed for real here)
    sink.handler.connections = 0
    sink.handler.greylist["c3@example.test"] = 1  # its chunk's task queues itself again, with an eta
    if workers is not None:
        workers.start()
    chunks = sending.campaign_dispatch(campaign=campaign)  # not in a transaction: queued at once
    assert chunks == 5
    wait_for(lambda: Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.SENT, 120,
             "the end of the send", workers)
    expected = sorted(Delivery.objects.filter(campaign=campaign).values_list("customer__email", flat=True))
    assert len(expected) == 31
    assert sink.handler.addresses() == expected  # each exactly once
    assert set(Delivery.objects.filter(campaign=campaign).values_list("status", flat=True)) == {DeliveryStatus.SENT}
    assert Delivery.objects.get(campaign=campaign, customer__email="c3@example.test").attempts == 2
    if workers is not None:
        assert sink.handler.connections == chunks + 1  # one per chunk, and the retry's


def test_a_killed_worker_loses_nothing_and_a_restarted_one_finishes_the_send(
        transactional_world, settings, sink, workers):
    if workers is None:
        pytest.skip("needs PostgreSQL and a real broker: worker processes must share the database")
    settings.RELAIS_DISPATCH_CHUNK_SIZE = 8
    campaign = email_campaign(transactional_world, 59)  # 60 messages: a burst of 10, then 10 per second
    sink.handler.received.clear()
    first = workers.start()
    sending.campaign_dispatch(campaign=campaign)
    sent = Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.SENT)
    wait_for(lambda: sent.count() >= 15, 60, "the first messages", workers)
    workers.kill(first)  # mid-send: unacknowledged chunk tasks, perhaps a message being handed over
    in_flight = set(Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.SENDING)
                    .values_list("customer__email", flat=True))
    sent_before = sent.count()
    assert 15 <= sent_before < 60, "the worker was not killed in the middle of the send"
    assert len(sink.handler.received) >= sent_before
    # the broker redelivers the killed worker's tasks (after the visibility timeout, on Redis); the
    # recovery task queues its interrupted claims again and dispatches the rest
    workers.start()
    sending.dispatch_recover(stale_after=timedelta(0))
    # while waiting, the periodic recovery runs as beat runs it in production (every 5 minutes, here
    # every 10 s, for claims older than 30 s: a live batch of 50 at 10 messages/s takes 5 s): one CI
    # run in two once left deliveries waiting for it (see the closing note of 2026-11-29)
    last_recovery = [time.monotonic()]

    def sent_all() -> bool:
        if time.monotonic() - last_recovery[0] > 10:
            sending.dispatch_recover(stale_after=timedelta(seconds=30))
            last_recovery[0] = time.monotonic()
        return Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.SENT

    wait_for(sent_all, 120, "the end of the send", workers)
    expected = set(Delivery.objects.filter(campaign=campaign).values_list("customer__email", flat=True))
    counts = {address: sink.handler.count(address) for address in expected}
    assert all(count >= 1 for count in counts.values()), "a message was lost"
    twice = {address for address, count in counts.items() if count > 1}
    assert twice <= in_flight, f"sent twice but not in flight when the worker died: {twice - in_flight}"
    assert max(counts.values()) <= 2
    assert set(Delivery.objects.filter(campaign=campaign).values_list("status", flat=True)) == {DeliveryStatus.SENT}
