"""Fault injection: an e-mail send to N recipients (``RELAIS_FAULT_RECIPIENTS``, 100,000 by default)
through a real broker and real Celery workers to an SMTP server on loopback, while workers are
killed, PostgreSQL is restarted and the broker is stopped — then nothing may be lost, and only the
messages in flight at a fault may arrive twice. Opt-in: ``RELAIS_FAULT_INJECTION=1`` (see
tests/fault/conftest.py); ``scripts/fault-injection.sh`` runs it.

What runs, all started by the test and stopped in a ``finally``:

- a **private Redis** (``redis-server`` on 127.0.0.1:``RELAIS_FAULT_REDIS_PORT``, 6390; no
  persistence, like the CI's) as the Celery broker — the machine's shared Redis is never touched;
- **Celery workers** (``RELAIS_FAULT_WORKERS`` × ``--concurrency`` ``RELAIS_FAULT_CONCURRENCY``,
  2 × 2, prefork) and **Celery beat** (the project's ``DatabaseScheduler`` and schedule), with
  ``config.settings.test`` + ``RELAIS_TEST_WORKER_PROCESS=1`` so that they send to the SMTP sink;
- the **SMTP sink** (tests/fault/sink.py), its own process: the Message-ID of every message received.

The database is pytest-django's test database of ``DATABASE_URL`` (PostgreSQL only; the script
uses ``relais_fault``, so ``test_relais_fault``), which the workers and beat share.

**Short cut (as bench/send_benchmark.py, whose ``build_workload`` is used):** the campaign is created
directly in status *sending* with its N queued deliveries (``bulk_create``), not through proof,
approvals, the arbitration and ``campaign_send_start`` (tests/central/delivery/test_dispatch_worker.py covers that
path; it makes the same rows). The e-mail rate limit is off (``RELAIS_RATE_LIMIT_EMAIL=0``).

**Recovery runs as in production:** beat sends ``central.dispatch_recover`` on the project's
schedule, from django-celery-beat's tables, where head office may change times in the admin — which
the test does, as an admin would (``RELAIS_FAULT_RECOVER_EVERY``, 15 s instead of 300 s), with
``RELAIS_DISPATCH_STALE_SECONDS`` at ``RELAIS_FAULT_STALE_SECONDS`` (60 s instead of 900 s) so
that a run lasts minutes rather than hours. Nothing calls the recovery but beat. The broker's
visibility timeout stays the production one (4 h): a killed worker's unacknowledged tasks do not
come back during the run; the recovery has to make up for them.

**Scenario 1, faults during the send** (seeded, ``RELAIS_FAULT_SEED``; times chosen at random
points of the send's progress, then a random fraction of a second): ``RELAIS_FAULT_KILLS`` (5)
SIGKILLs of a whole worker (main and pool processes; a new one started after each), one restart of
PostgreSQL (``pg_ctlcluster … restart``: every connection cut), and the broker stopped for
``RELAIS_FAULT_BROKER_OUTAGE`` seconds (60; ``redis-cli shutdown nosave``: every queued task lost).
Then: every delivery *sent*, or *failed* with a reason — none left queued or sending, none sent
without the sink having it (0 lost); one Contact per sent delivery; duplicates at the sink only
among the messages claimed at a fault, at most a batch (``RELAIS_DISPATCH_BATCH_SIZE``) per worker
process hit by it (docs/dispatch.md: "at most one batch per worker process").

**Scenario 2, a clean pause and resume** (``RELAIS_FAULT_PAUSE_RECIPIENTS``, min(N, 10,000)):
paused at a random point (``campaign_send_pause``), nothing moves while paused, resumed
(``campaign_send_resume``): every recipient exactly once.

Figures: printed (run with ``-s``) and written to bench/out/fault-injection.json.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import InterfaceError, OperationalError, connection, transaction

PROJECT_ROOT = Path(__file__).resolve().parents[2]
OUT_DIR = PROJECT_ROOT / "bench" / "out"
LOG_DIR = OUT_DIR / "fault-injection-logs"

RECIPIENTS = int(os.environ.get("RELAIS_FAULT_RECIPIENTS", "100000"))
PAUSE_RECIPIENTS = int(os.environ.get("RELAIS_FAULT_PAUSE_RECIPIENTS", str(min(RECIPIENTS, 10_000))))
SEED = int(os.environ.get("RELAIS_FAULT_SEED", "20261130"))
KILLS = int(os.environ.get("RELAIS_FAULT_KILLS", "5"))
WORKERS = int(os.environ.get("RELAIS_FAULT_WORKERS", "2"))
CONCURRENCY = int(os.environ.get("RELAIS_FAULT_CONCURRENCY", "2"))
BROKER_OUTAGE = float(os.environ.get("RELAIS_FAULT_BROKER_OUTAGE", "60"))
STALE_SECONDS = int(os.environ.get("RELAIS_FAULT_STALE_SECONDS", "60"))
RECOVER_EVERY = int(os.environ.get("RELAIS_FAULT_RECOVER_EVERY", "15"))
REDIS_PORT = int(os.environ.get("RELAIS_FAULT_REDIS_PORT", "6390"))
PG_RESTART = os.environ.get("RELAIS_FAULT_PG_RESTART", "1") == "1"
QUEUE = "relais-fault"

pytestmark = [pytest.mark.django_db(transaction=True)]


# --- the processes the test runs ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def redis_ping(port: int) -> bool:
    return subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), "ping"],  # noqa: S603, S607
                          capture_output=True, text=True, check=False).stdout.strip() == "PONG"


class PrivateRedis:
    """A redis-server of the test's own, in the foreground (its process is ours)."""

    def __init__(self, port: int, directory: Path) -> None:
        self.port, self.directory, self.process = port, directory, None

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",  # noqa: S607
             "--appendonly", "no", "--dir", str(self.directory), "--daemonize", "no",
             "--logfile", str(self.directory / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 20
        while not redis_ping(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the private Redis did not start on port {self.port}")
            time.sleep(0.1)

    def shutdown(self) -> None:
        """As an operator would stop it: ``redis-cli shutdown nosave`` (its data is lost)."""
        if self.process is None or self.process.poll() is not None:
            return
        subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(self.port), "shutdown", "nosave"],  # noqa: S603, S607
                       capture_output=True, check=False)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


class Fleet:
    """The Celery workers and beat, each in its own process group."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.workers: list[subprocess.Popen] = []
        self.started = 0
        self.beat: subprocess.Popen | None = None
        self.unexpected_exits: list[str] = []

    def _spawn(self, arguments: list[str], log_name: str) -> subprocess.Popen:
        log = (LOG_DIR / log_name).open("w")
        return subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
            [sys.executable, "-m", "celery", "-A", "config", *arguments], cwd=PROJECT_ROOT, env=self.env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def start_worker(self) -> subprocess.Popen:
        from config.celery import app

        number = self.started
        self.started += 1
        name = f"fault-w{number}@{socket.gethostname()}"
        process = self._spawn(["worker", "-Q", QUEUE, "-n", name, "--concurrency", str(CONCURRENCY),
                               "--pool", "prefork", "--without-gossip", "--without-mingle", "--loglevel", "warning"],
                              f"worker-{number}.log")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"worker {number} stopped at start: {self.log(f'worker-{number}.log')}")
            with contextlib.suppress(Exception):
                if app.control.ping(destination=[name], timeout=1.0):
                    self.workers.append(process)
                    return process
        raise AssertionError(f"worker {number} did not answer: {self.log(f'worker-{number}.log')}")

    def start_beat(self) -> None:
        self.beat = self._spawn(["beat", "--loglevel", "warning"], "beat.log")

    def kill(self, process: subprocess.Popen) -> None:
        """SIGKILL to the worker's main and pool processes at once: no shutdown, no acknowledgement."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        self.workers.remove(process)

    def supervise(self) -> None:
        """What a process supervisor does: a worker or beat that exited on its own is noted and started again."""
        for process in list(self.workers):
            if process.poll() is not None:
                self.unexpected_exits.append(f"worker pid {process.pid} exited with {process.returncode}")
                self.workers.remove(process)
                self.start_worker()
        if self.beat is not None and self.beat.poll() is not None:
            self.unexpected_exits.append(f"beat exited with {self.beat.returncode}")
            self.start_beat()

    def stop(self) -> None:
        for process in [*self.workers, *([self.beat] if self.beat else [])]:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in [*self.workers, *([self.beat] if self.beat else [])]:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)

    @staticmethod
    def log(name: str) -> str:
        path = LOG_DIR / name
        return path.read_text()[-3000:] if path.exists() else ""


# --- PostgreSQL -------------------------------------------------------------------------------------


def pg_ready() -> bool:
    return subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"], check=False).returncode == 0  # noqa: S607


def pg_cluster(action: str) -> None:
    version = sorted(os.listdir("/etc/postgresql"))[0]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action],  # noqa: S603, S607
                   check=True, capture_output=True, timeout=120)
    deadline = time.monotonic() + 60
    while not pg_ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"PostgreSQL is not ready after {action}")
        time.sleep(0.2)


def db(call):
    """``call()`` on this process's connection, retried while PostgreSQL restarts."""
    deadline = time.monotonic() + 120
    while True:
        try:
            return call()
        except (OperationalError, InterfaceError):
            if time.monotonic() > deadline:
                raise
            with contextlib.suppress(Exception):
                connection.close()
            time.sleep(0.5)


# --- the send -----------------------------------------------------------------------------------------


def worker_env(smtp_port: int, broker_url: str) -> dict[str, str]:
    database = connection.settings_dict
    password = f":{database['PASSWORD']}" if database["PASSWORD"] else ""
    return {
        **os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{database['USER']}{password}@{database['HOST'] or '127.0.0.1'}:"
                        f"{database['PORT'] or 5432}/{database['NAME']}",
        "CELERY_BROKER_URL": broker_url, "CELERY_QUEUE": QUEUE, "RELAIS_DISPATCH_QUEUE": QUEUE,
        "RELAIS_TEST_WORKER_PROCESS": "1", "RELAIS_TEST_SMTP_PORT": str(smtp_port),
        "RELAIS_RATE_LIMIT_EMAIL": "0", "RELAIS_DISPATCH_STALE_SECONDS": str(STALE_SECONDS),
        "RELAIS_BASE_URL": django_settings.RELAIS_BASE_URL, "LOG_LEVEL": "WARNING",
    }


def use_broker(url: str) -> None:
    """This process's Celery app (configured from settings at start-up) publishes to the private broker."""
    from config.celery import app

    app.conf.broker_url = url
    app.conf.broker_read_url = app.conf.broker_write_url = None
    app.conf.task_always_eager = False
    if app._pool is not None:  # a pool opened on another broker (none in a run of this module alone)
        app._pool.force_close_all()
        app._pool = None


def recover_every(seconds: int) -> dict[str, object]:
    """As head office would in the admin: the beat entry of ``central.dispatch_recover`` every
    ``seconds`` instead of 300 (django-celery-beat notices the change within its 5 s loop)."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    deadline = time.monotonic() + 60
    while not (entry := PeriodicTask.objects.filter(task="central.dispatch_recover").first()):
        if time.monotonic() > deadline:
            raise AssertionError(f"beat did not install its schedule: {Fleet.log('beat.log')}")
        time.sleep(0.5)
    before = entry.schedule.run_every.total_seconds()
    entry.interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period=IntervalSchedule.SECONDS)
    entry.save()  # (PeriodicTasks.changed: beat reloads)
    return {"entry": entry.name, "project_schedule_seconds": before, "run_every_seconds": seconds}


def counts(campaign_id: int) -> dict[str, int]:
    from django.db.models import Count

    from central.models import Delivery

    return db(lambda: dict(Delivery.objects.filter(campaign_id=campaign_id).order_by().values_list("status")
                           .annotate(n=Count("id")).values_list("status", "n")))


def done_count(campaign_id: int) -> int:
    from central.models import Delivery, DeliveryStatus

    return db(lambda: Delivery.objects.filter(campaign_id=campaign_id,
                                              status__in=[DeliveryStatus.SENT, DeliveryStatus.FAILED]).count())


def in_flight(campaign_id: int) -> set[str]:
    """The tokens of the deliveries claimed and not ended (status *sending*) right now."""
    from central.models import Delivery, DeliveryStatus

    return db(lambda: set(Delivery.objects.filter(campaign_id=campaign_id, status=DeliveryStatus.SENDING)
                          .values_list("token", flat=True)))


def campaign_status(campaign_id: int) -> str:
    from central.models import Campaign

    return db(lambda: Campaign.objects.filter(pk=campaign_id).values_list("status", flat=True).get())


def token_of(message_id: bytes) -> str:
    return message_id.decode(errors="replace").strip("<>").partition("@")[0]


def fault_plan(rng: random.Random) -> list[dict[str, object]]:
    """The faults, in a random order, each at a random fraction of the send's progress."""
    kinds = ["kill"] * KILLS + (["pg_restart"] if PG_RESTART else []) + (["broker_outage"] if BROKER_OUTAGE else [])
    rng.shuffle(kinds)
    fractions = sorted(rng.uniform(0.05, 0.85) for _ in kinds)
    return [{"kind": kind, "at_fraction": round(fraction, 4), "delay": round(rng.uniform(0.0, 1.0), 3)}
            for kind, fraction in zip(kinds, fractions, strict=True)]


def wait_until(condition, timeout: float, what: str, fleet: Fleet) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        fleet.supervise()
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen in {timeout:.0f} s; worker logs:\n"
                                 + "\n".join(Fleet.log(f"worker-{n}.log") for n in range(fleet.started)))
        time.sleep(0.5)


def run_faults(campaign_id: int, total: int, plan: list[dict], rng: random.Random, fleet: Fleet,
               broker: PrivateRedis, sink, timeout: float) -> list[dict]:
    """Each fault when the send reaches its point; after it, what it left in flight: the messages
    claimed at the fault that are still *sending* 3 s later (a live batch commits its sent marks
    within a second) and that the sink already has — those the recovery will send a second time."""
    from central.delivery.claims import dispatch_batch_size

    batch = dispatch_batch_size()
    events = []
    started = time.monotonic()
    for step in plan:
        threshold = int(step["at_fraction"] * total)
        wait_until(lambda threshold=threshold: done_count(campaign_id) >= threshold, timeout,
                   f"progress to {threshold}", fleet)
        time.sleep(step["delay"])
        event = {**step, "at_seconds": round(time.monotonic() - started, 1), "done_before": done_count(campaign_id)}
        if step["kind"] == "kill":
            victim = fleet.workers[rng.randrange(len(fleet.workers))]
            fleet.kill(victim)
            event["in_flight"] = sorted(in_flight(campaign_id))
            event["bound"] = batch * CONCURRENCY  # the killed worker's processes
            fleet.start_worker()
        elif step["kind"] == "pg_restart":
            began = time.monotonic()
            pg_cluster("restart")
            event["pg_down_seconds"] = round(time.monotonic() - began, 1)
            event["in_flight"] = sorted(in_flight(campaign_id))
            event["bound"] = batch * CONCURRENCY * len(fleet.workers)  # every worker process's connection cut
        else:
            broker.shutdown()
            began = time.monotonic()
            time.sleep(BROKER_OUTAGE)
            broker.start()
            event["broker_down_seconds"] = round(time.monotonic() - began, 1)
            event["in_flight"] = sorted(in_flight(campaign_id))
            event["bound"] = 0  # the database stays: a chunk that goes on commits what it sent
        event["in_flight_count"] = len(event["in_flight"])
        earlier = set().union(*(set(previous["in_flight"]) for previous in events))
        event["in_flight_new"] = len(set(event["in_flight"]) - earlier)
        time.sleep(3)
        stuck = set(event["in_flight"]) & in_flight(campaign_id)
        at_sink = {token_of(message_id) for message_id in sink.ids()}
        doomed_before = set().union(*(set(previous["doomed"]) for previous in events))
        event["doomed"] = sorted((stuck & at_sink) - doomed_before)
        event["doomed_count"] = len(event["doomed"])
        events.append(event)
        print(f"  fault {len(events)}/{len(plan)}: {event['kind']} at {event['at_seconds']} s "
              f"({event['done_before']:,} ended), {event['in_flight_count']} claimed at that moment "
              f"({event['in_flight_new']} not claimed at an earlier fault); in flight (at the sink, sent mark not "
              f"committed): {event['doomed_count']}, bound {event['bound']}", flush=True)
    return events


def duplicate_report(received: dict[bytes, int], tokens: set[str], events: list[dict]) -> dict[str, object]:
    """Duplicates of this campaign at the sink, each attributed to the first fault at which it was
    claimed (a claim a fault interrupted stays *sending* until the recovery takes it back, so later
    faults see it again)."""
    copies = Counter()
    for message_id, times in received.items():
        token = token_of(message_id)
        if token in tokens:
            copies[token] += times
    extra = {token: times - 1 for token, times in copies.items() if times > 1}
    by_event = [0] * len(events)
    unexplained = []
    for token, more in extra.items():
        owners = [index for index, event in enumerate(events) if token in set(event["in_flight"])]
        if owners:
            by_event[owners[0]] += more
        else:
            unexplained.append(token)
    doomed = set().union(*(set(event["doomed"]) for event in events))
    return {"received_for_campaign": sum(copies.values()), "distinct": len(copies),
            "in_flight_at_faults": len(doomed), "duplicated_not_in_flight": sorted(set(extra) - doomed),
            "in_flight_not_duplicated": sorted(doomed - set(extra)),
            "duplicates": sum(extra.values()), "duplicated_messages": len(extra), "by_event": by_event,
            "unexplained": unexplained, "copies": copies}


def test_send_survives_killed_workers_a_database_restart_and_a_broker_outage(settings):
    assert connection.vendor == "postgresql", "the fault-injection run needs PostgreSQL (DATABASE_URL)"
    from django.contrib.auth import get_user_model

    from bench.frozen_proof import approved_proof_for
    from bench.send_benchmark import build_workload
    from central.delivery.claims import dispatch_batch_size
    from central.delivery.control import campaign_send_pause, campaign_send_resume
    from central.delivery.sending import campaign_dispatch
    from central.models import Campaign, CampaignStatus, Channel, Contact, Customer, Delivery, DeliveryStatus
    from tests.fault.sink import RecordingSink

    LOG_DIR.mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED)
    assert not redis_ping(REDIS_PORT), f"something already answers on 127.0.0.1:{REDIS_PORT}: not ours to stop"
    broker_url = f"redis://127.0.0.1:{REDIS_PORT}/0"
    settings.RELAIS_DISPATCH_QUEUE = QUEUE
    settings.RELAIS_RATE_LIMIT_REDIS_URL = ""
    settings.RELAIS_BASE_URL = "https://relais.example.test"
    use_broker(broker_url)
    smtp_port = free_port()
    sink = RecordingSink(smtp_port).start()
    broker = PrivateRedis(REDIS_PORT, LOG_DIR)
    fleet = Fleet(worker_env(smtp_port, broker_url))
    results: dict[str, object] = {"test": "fault-injection", "at": datetime.now(UTC).isoformat(timespec="seconds"),
                                  "seed": SEED, "recipients": RECIPIENTS}
    began = time.monotonic()
    try:
        broker.start()
        print(f"\nRelais fault injection — {RECIPIENTS:,} recipients, seed {SEED}; {WORKERS} workers × "
              f"--concurrency {CONCURRENCY}; broker: private Redis on :{REDIS_PORT}; database "
              f"{connection.settings_dict['NAME']}", flush=True)
        started = time.monotonic()
        network, branch, newsletter, slot_values, campaign = build_workload(RECIPIENTS, SEED)
        results["setup_seconds"] = round(time.monotonic() - started, 1)
        print(f"  set-up: {RECIPIENTS:,} customers and queued deliveries in {results['setup_seconds']} s "
              "(SHORT CUT: campaign created in status 'sending' by bulk_create)", flush=True)
        for _ in range(WORKERS):
            fleet.start_worker()
        fleet.start_beat()
        results["recovery"] = {**recover_every(RECOVER_EVERY), "stale_seconds": STALE_SECONDS}
        batch = dispatch_batch_size()
        results.update(batch_size=batch, chunk_size=settings.RELAIS_DISPATCH_CHUNK_SIZE, workers=WORKERS,
                       concurrency=CONCURRENCY)

        # --- scenario 1: faults during the send --------------------------------------------------
        plan = fault_plan(rng)
        timeout = 900 + RECIPIENTS * 0.03
        started = time.monotonic()
        chunks = campaign_dispatch(campaign=campaign)  # autocommit: queued at once
        events = run_faults(campaign.pk, RECIPIENTS, plan, rng, fleet, broker, sink, timeout)
        wait_until(lambda: campaign_status(campaign.pk) == CampaignStatus.SENT, timeout, "the end of the send", fleet)
        send_seconds = round(time.monotonic() - started, 1)
        time.sleep(2)  # (nothing should still be arriving: every task ended)
        received = sink.ids()
        final = counts(campaign.pk)
        deliveries = list(Delivery.objects.filter(campaign=campaign).values_list("token", "status", "reason"))
        tokens = {token for token, _status, _reason in deliveries}
        dups = duplicate_report(received, tokens, events)
        copies = dups.pop("copies")
        failed_by_reason = Counter(reason or "(none)" for _t, status, reason in deliveries if status == DeliveryStatus.FAILED)
        not_ended = [token for token, status, _r in deliveries if status not in (DeliveryStatus.SENT, DeliveryStatus.FAILED)]
        sent_not_received = [token for token, status, _r in deliveries if status == DeliveryStatus.SENT and not copies[token]]
        received_not_sent = [token for token, status, _r in deliveries if status != DeliveryStatus.SENT and copies[token]]
        contacts = Contact.objects.filter(customer__network=network).count()
        bound = sum(event["bound"] for event in events)
        scenario1 = {
            "recipients": RECIPIENTS, "chunks": chunks, "send_seconds": send_seconds,
            "messages_per_second": round(RECIPIENTS / send_seconds, 1),
            "seconds_after_last_fault": round(send_seconds - max((e["at_seconds"] for e in events), default=0), 1),
            "kills": sum(event["kind"] == "kill" for event in events),
            "pg_restarts": sum(event["kind"] == "pg_restart" for event in events),
            "broker_outage_seconds": sum(event.get("broker_down_seconds", 0) for event in events),
            "statuses": final, "sent": final.get(DeliveryStatus.SENT, 0), "failed": final.get(DeliveryStatus.FAILED, 0),
            "failed_by_reason": dict(failed_by_reason), "lost": len(not_ended) + len(sent_not_received),
            "not_ended": len(not_ended), "sent_not_received": len(sent_not_received),
            "received_but_not_sent": len(received_not_sent), "contacts": contacts,
            "sink_total_messages": sum(received.values()), **dups, "max_in_flight_bound": bound,
            "events": [{k: v for k, v in event.items() if k not in ("in_flight", "doomed")} for event in events],
            "unexpected_process_exits": list(fleet.unexpected_exits),
        }
        results["scenario_faults"] = scenario1
        print(f"  scenario 1 (faults): {scenario1['kills']} worker kills, {scenario1['pg_restarts']} PostgreSQL "
              f"restart(s), broker down {scenario1['broker_outage_seconds']} s; send took {send_seconds} s "
              f"({scenario1['messages_per_second']} msg/s overall; {scenario1['seconds_after_last_fault']} s after "
              "the last fault)", flush=True)
        print(f"    deliveries: sent {scenario1['sent']:,}, failed {scenario1['failed']:,} {dict(failed_by_reason)}, "
              f"lost {scenario1['lost']} (not ended {len(not_ended)}, sent but never received {len(sent_not_received)})")
        print(f"    sink: {scenario1['sink_total_messages']:,} messages, {dups['distinct']:,} distinct; duplicates "
              f"{dups['duplicates']} (per fault {dups['by_event']}, bounds {[e['bound'] for e in events]}, total bound "
              f"{bound}); unexplained {len(dups['unexplained'])}; Contacts {contacts:,}", flush=True)
        print(f"    in flight at the faults (at the sink, sent mark not committed): {dups['in_flight_at_faults']} "
              f"(per fault {[e['doomed_count'] for e in events]}); duplicated but not in flight: "
              f"{len(dups['duplicated_not_in_flight'])}; in flight but not duplicated: "
              f"{len(dups['in_flight_not_duplicated'])}", flush=True)

        # --- scenario 2: a clean pause and resume ------------------------------------------------
        author = get_user_model().objects.get(username="bench-send")  # build_workload's head-office marketer
        # (one transaction: beat's recovery would finish a sending campaign seen without its deliveries)
        with transaction.atomic():
            second = Campaign.objects.create(network=network, branch=branch, template_version=newsletter,
                                             channel=Channel.EMAIL, slot_values=slot_values,
                                             send_date=campaign.send_date, status=CampaignStatus.SENDING)
            approved_proof_for(second, by=author)  # dispatch renders only from an approved proof's snapshot
            ids = Customer.objects.filter(network=network).order_by("pk").values_list("pk", flat=True)[:PAUSE_RECIPIENTS]
            Delivery.objects.bulk_create([Delivery(campaign=second, customer_id=pk, channel=Channel.EMAIL)
                                          for pk in ids], batch_size=5000)
        pause_at = int(rng.uniform(0.2, 0.7) * PAUSE_RECIPIENTS)
        started = time.monotonic()
        campaign_dispatch(campaign=second)
        wait_until(lambda: done_count(second.pk) >= pause_at, timeout, "progress before the pause", fleet)
        campaign_send_pause(campaign=second, paused_by=author)
        wait_until(lambda: not in_flight(second.pk), 120, "the chunks stopping", fleet)
        time.sleep(3)
        paused = counts(second.pk)
        sink_at_pause = sink.total()
        time.sleep(10)  # paused: nothing leaves, nothing changes
        still = counts(second.pk)
        sink_still = sink.total()
        campaign_send_resume(campaign=second, resumed_by=author)
        wait_until(lambda: campaign_status(second.pk) == CampaignStatus.SENT, timeout, "the end of the resumed send",
                   fleet)
        time.sleep(2)
        second_tokens = set(Delivery.objects.filter(campaign=second).values_list("token", flat=True))
        second_copies = Counter()
        for message_id, times in sink.ids().items():
            if token_of(message_id) in second_tokens:
                second_copies[token_of(message_id)] += times
        second_final = counts(second.pk)
        scenario2 = {
            "recipients": PAUSE_RECIPIENTS, "paused_after": pause_at, "at_pause": paused, "ten_seconds_later": still,
            "sink_moved_while_paused": sink_still - sink_at_pause, "seconds": round(time.monotonic() - started, 1),
            "statuses": second_final, "received": sum(second_copies.values()), "distinct": len(second_copies),
            "duplicates": sum(times - 1 for times in second_copies.values()),
        }
        results["scenario_pause_resume"] = scenario2
        print(f"  scenario 2 (pause/resume): {PAUSE_RECIPIENTS:,} recipients, paused with "
              f"{paused.get(DeliveryStatus.SENT, 0):,} sent (nothing moved in 10 s: "
              f"{paused == still and sink_still == sink_at_pause}), resumed; statuses {second_final}; sink "
              f"{scenario2['received']:,} received, {scenario2['distinct']:,} distinct, duplicates "
              f"{scenario2['duplicates']}", flush=True)

        # --- the verdict -------------------------------------------------------------------------
        assert scenario1["kills"] == KILLS and scenario1["pg_restarts"] == int(PG_RESTART)
        assert not not_ended, f"{len(not_ended)} deliveries never ended (lost)"
        assert not sent_not_received, f"{len(sent_not_received)} deliveries marked sent never reached the sink"
        assert not received_not_sent, f"{len(received_not_sent)} received at the sink but not marked sent"
        assert all(reason != "(none)" for reason in failed_by_reason), "a failure without its reason"
        assert contacts == scenario1["sent"], "one Contact per sent delivery"
        assert not dups["unexplained"], f"duplicates of messages not in flight at any fault: {dups['unexplained'][:10]}"
        for event, extra in zip(events, dups["by_event"], strict=True):
            assert extra <= event["bound"], f"{extra} duplicates at {event['kind']}, above its bound {event['bound']}"
        assert dups["duplicates"] <= bound
        assert not dups["duplicated_not_in_flight"], "sent twice, but not in flight at a fault"
        for event in events:
            assert event["doomed_count"] <= event["bound"], f"{event['doomed_count']} in flight at {event['kind']}"
        assert paused.get(DeliveryStatus.SENDING, 0) == 0 and paused == still and sink_still == sink_at_pause
        assert 0 < paused.get(DeliveryStatus.SENT, 0) < PAUSE_RECIPIENTS
        assert second_final == {DeliveryStatus.SENT: PAUSE_RECIPIENTS}
        assert scenario2["received"] == scenario2["distinct"] == PAUSE_RECIPIENTS
    finally:
        results["elapsed_seconds"] = round(time.monotonic() - began, 1)
        fleet.stop()
        broker.shutdown()
        sink.stop()
        if not pg_ready():  # the machine's PostgreSQL is shared: never leave it down
            with contextlib.suppress(Exception):
                pg_cluster("start")
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        (OUT_DIR / "fault-injection.json").write_text(json.dumps(results, indent=2, default=str))
        print(f"  elapsed {results['elapsed_seconds']} s; results: bench/out/fault-injection.json; "
              f"logs: {LOG_DIR.relative_to(PROJECT_ROOT)}/", flush=True)
