"""E-mail send benchmark: render + MIME + SMTP, end to end through Celery and a real broker.

Target (../shared/targets.md): "email send, end to end (render + MIME + SMTP) through Celery and a
real broker to a local SMTP sink: ≥ 0.9 × the raw ceiling, ≥ 400 msg/s"; baseline in the same run:
"the raw ceiling — one process rendering and sending prebuilt messages on one persistent SMTP
connection".

One run:

1. (re)creates its own PostgreSQL database (``relais_send_bench`` by default: dropped and created
   again, then migrated), and builds one network, one branch, the demo templates
   (``load_demo_templates``: the "newsletter" e-mail) and N customers with e-mail consent (seeded);
2. **short cut, stated in the output**: the e-mail campaign is created directly in status
   *sending* with its N queued deliveries (``bulk_create``), not through proof → approvals →
   arbitration → ``campaign_send_start`` (that path is covered by tests/central/delivery/test_dispatch_worker.py;
   it makes the same rows);
3. starts an SMTP sink on loopback, **in a separate process**, that only counts messages and their
   distinct Message-IDs: by default a lean asyncio SMTP receiver (``LeanSmtpProtocol``: the
   message data found whole in the buffer), or ``--sink aiosmtpd`` (aiosmtpd's ``Controller``, whose
   line-by-line DATA handling costs ≈ 1.6–2 ms of CPU per message here, on the cores the sender
   needs: the sink, not Relais, was then the bottleneck); and points Django's SMTP backend at it
   (``config.settings.test`` with ``RELAIS_TEST_WORKER_PROCESS=1``/``RELAIS_TEST_SMTP_PORT``, as
   tests/central/delivery/test_dispatch_worker.py configures its workers). The e-mail rate limit is switched off
   (``RELAIS_RATE_LIMIT_EMAIL=0``: the default 20/s is a provider setting, not what is measured);
4. **raw ceiling** (the baseline): this process sends the N messages of the campaign with the
   dispatch's own ``EmailChannel.send`` (the variant compiled once; per recipient the render,
   tracked links, MIME — what the end-to-end path does, with the same connection class — and
   ``send_messages`` on one persistent SMTP connection), the deliveries and customers loaded
   beforehand (untimed), no database write; the sink must have received N messages, N distinct;
5. **end to end**: one Celery worker (``--concurrency 2``, prefork, as the machine has 2 cores) on a
   private Redis queue; the clock starts before ``campaign_dispatch`` and stops when the campaign is
   *sent* (one SMTP connection per chunk: 100 for 20,000 messages, against 1 for the raw run —
   opening and closing one costs ≈ 0.8 ms, negligible); then every delivery must be *sent* and the sink must have received
   exactly N messages with N distinct Message-IDs (no loss, no duplicate);
6. steps 4 and 5 are repeated ``--rounds`` times (3) on the same rows, reset in between (deliveries
   queued again with the same tokens, Contacts deleted, ``VACUUM ANALYZE``); the verdict is on the
   medians, and every round must be exactly once. Each phase also records where the machine's CPU
   went, in ms per message: the sender or the worker's processes, the sink, the PostgreSQL
   backends of the benchmark's database (sampled every 100 ms), and the rest of the machine —
   anybody else's work, which on a shared 2-core machine decides the end-to-end figure;
7. unless ``--no-profile``: ``dispatch_chunk`` of a second campaign (one chunk, 200 deliveries) in
   this process under cProfile, untimed for the verdict, and where its time goes.

The worker and the sink are stopped at the end, even on failure; the private queue is purged.

Usage (from the project root; PostgreSQL and Redis on 127.0.0.1)::

    .venv/bin/python bench/send_benchmark.py [--customers 20000] [--rounds 3] [--sink lean|aiosmtpd]
                                             [--seed N] [--no-profile]

Results: printed, and written to bench/out/send-benchmark.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

OUT_DIR = PROJECT_ROOT / "bench" / "out"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/relais_send_bench"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/14"
TARGET_RATIO = 0.9
TARGET_RATE = 400.0
PROFILE_CHUNK = 200
SEED = 20261122

# --- the SMTP sink (its own process) ------------------------------------------------------------

_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


class CountingHandler:
    """Accepts every message; counts them (one per recipient) and their distinct Message-IDs."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.total = 0
        self.ids: set[bytes] = set()

    def count(self, content: bytes, recipients: int) -> None:
        head = content[: content.find(b"\r\n\r\n") + 2] if b"\r\n\r\n" in content else content
        found = _MESSAGE_ID.search(head)
        with self.lock:
            self.total += recipients
            self.ids.add(found.group(1) if found else b"?")

    async def handle_DATA(self, server, session, envelope):  # (aiosmtpd's handler hook)
        self.count(envelope.content, len(envelope.rcpt_tos))
        return "250 OK"

    def stats(self) -> tuple[int, int]:
        with self.lock:
            return self.total, len(self.ids)

    def reset(self) -> None:
        with self.lock:
            self.total, self.ids = 0, set()


class LeanSmtpProtocol(asyncio.Protocol):
    """A minimal SMTP receiver (RFC 5321 as smtplib speaks it: EHLO/HELO, MAIL, RCPT, DATA, RSET,
    NOOP, QUIT; no pipelining, no TLS, no AUTH): commands line by line, but the message data found
    whole in the buffer (its end, CRLF.CRLF, searched in C) instead of aiosmtpd's line-by-line
    coroutine, which costs ≈ 1.5 ms of CPU per 14 KB message on this machine — on the 2 cores that
    the workers need. Every message is counted by the same ``CountingHandler.count``."""

    def __init__(self, handler: CountingHandler) -> None:
        self.handler = handler
        self.buffer = bytearray()
        self.in_data = False
        self.searched = 0
        self.recipients = 0

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(b"220 relais-bench-sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.buffer:
            if self.in_data:
                if self.buffer.startswith(b".\r\n"):  # an empty message
                    content, used = b"", 3
                else:
                    end = self.buffer.find(b"\r\n.\r\n", max(0, self.searched - 4))
                    if end == -1:
                        self.searched = len(self.buffer)
                        return
                    content, used = bytes(self.buffer[: end + 2]), end + 5
                del self.buffer[:used]
                self.in_data, self.searched = False, 0
                self.handler.count(content, self.recipients)
                self.recipients = 0
                self.transport.write(b"250 2.0.0 OK\r\n")
                continue
            newline = self.buffer.find(b"\r\n")
            if newline == -1:
                return
            line = bytes(self.buffer[:newline])
            del self.buffer[: newline + 2]
            verb = line[:4].upper()
            if verb == b"EHLO":
                self.transport.write(b"250-relais-bench-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
            elif verb in (b"HELO", b"NOOP"):
                self.transport.write(b"250 OK\r\n")
            elif verb in (b"MAIL", b"RSET"):
                self.recipients = 0
                self.transport.write(b"250 OK\r\n")
            elif verb == b"RCPT":
                self.recipients += 1
                self.transport.write(b"250 OK\r\n")
            elif verb == b"DATA":
                if not self.recipients:
                    self.transport.write(b"503 5.5.1 RCPT first\r\n")
                    continue
                self.in_data = True
                self.transport.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
            elif verb == b"QUIT":
                self.transport.write(b"221 Bye\r\n")
                self.transport.close()
                return
            else:
                self.transport.write(b"500 5.5.2 Command not recognised\r\n")


def _serve_lean(handler: CountingHandler, port: int, started: threading.Event, holder: dict) -> None:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(loop.create_server(lambda: LeanSmtpProtocol(handler), "127.0.0.1", port))
    holder.update(loop=loop, server=server)
    started.set()
    loop.run_forever()
    server.close()
    loop.run_until_complete(server.wait_closed())
    loop.close()


def sink_main(port: int, pipe, kind: str = "lean") -> None:
    """The sink process: an SMTP server in its own event-loop thread (the lean one, or aiosmtpd's
    Controller); this thread answers the pipe: "stats" → (messages, distinct Message-IDs, the
    process's CPU seconds so far), "reset", "stop"."""
    import resource

    handler = CountingHandler()
    if kind == "aiosmtpd":
        from aiosmtpd.controller import Controller

        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        stop = controller.stop
    else:
        started, holder = threading.Event(), {}
        thread = threading.Thread(target=_serve_lean, args=(handler, port, started, holder), daemon=True)
        thread.start()
        started.wait(10)

        def stop() -> None:
            holder["loop"].call_soon_threadsafe(holder["loop"].stop)
            thread.join(10)
    pipe.send("ready")
    try:
        while True:
            command = pipe.recv()
            if command == "stats":
                usage = resource.getrusage(resource.RUSAGE_SELF)
                pipe.send((*handler.stats(), usage.ru_utime + usage.ru_stime))
            elif command == "reset":
                handler.reset()
                pipe.send("ok")
            else:
                break
    finally:
        stop()


class Sink:
    def __init__(self, port: int, kind: str = "lean") -> None:
        context = multiprocessing.get_context("spawn")
        self.port, self.kind = port, kind
        self.pipe, child = context.Pipe()
        self.process = context.Process(target=sink_main, args=(port, child, kind), daemon=True)

    def start(self) -> Sink:
        self.process.start()
        if not self.pipe.poll(30) or self.pipe.recv() != "ready":
            raise SystemExit("the SMTP sink did not start")
        return self

    def stats(self) -> tuple[int, int]:
        return self.full_stats()[:2]

    def full_stats(self) -> tuple[int, int, float]:
        """(messages, distinct Message-IDs, the sink process's CPU seconds since it started)."""
        self.pipe.send("stats")
        return self.pipe.recv()

    def reset(self) -> None:
        self.pipe.send("reset")
        self.pipe.recv()

    def stop(self) -> None:
        if self.process.is_alive():
            with contextlib.suppress(OSError):
                self.pipe.send("stop")
            self.process.join(10)
            if self.process.is_alive():
                self.process.kill()
                self.process.join(5)


# --- CPU accounting -------------------------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields) - idle) / _TICKS, sum(fields) / _TICKS


class BackendSampler:
    """The CPU of the PostgreSQL backends serving one database (``postgres: … <database> …`` in
    their command line), sampled every 100 ms so that the short-lived ones (a connection per task)
    are counted up to their last sample."""

    def __init__(self, database: str) -> None:
        self.database = database.encode()
        self.seen: dict[int, tuple[float, float]] = {}  # pid → (CPU at first sight, last CPU)
        self.others: set[int] = set()  # processes that are not such backends (their command line read once)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def sample(self) -> None:
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in self.others:
                continue
            pid = int(entry)
            try:
                if pid not in self.seen:
                    with open(f"/proc/{entry}/cmdline", "rb") as line:
                        command = line.read()
                    if not command.startswith(b"postgres:") or self.database not in command.split():
                        self.others.add(pid)
                        continue
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                    fields = stat.read().rpartition(")")[2].split()
            except OSError:
                continue
            cpu = (int(fields[11]) + int(fields[12])) / _TICKS
            first = self.seen.get(pid, (cpu, cpu))[0]
            self.seen[pid] = (first, cpu)

    def run(self) -> None:
        while not self.stop.wait(0.1):
            self.sample()

    def __enter__(self) -> BackendSampler:
        self.sample()
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sample()

    def cpu(self) -> float:
        return sum(last - first for first, last in self.seen.values())


def group_cpu(group: int) -> float:
    """CPU seconds (user + system) of the live processes of process group ``group``."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                fields = stat.read().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == group:  # pgrp
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICKS


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- database and workload ------------------------------------------------------------------------


def recreate_database(url: str) -> None:
    """Drop and create the benchmark's own database (nothing else is touched)."""
    from bench.databases import recreate_postgres

    recreate_postgres(url, may_drop=lambda name: name.endswith("_bench"),
                      refusal="refusing to drop {name!r}: the send benchmark's database name must end in _bench")


def build_workload(customers: int, seed: int):
    """One network, one branch, the demo templates, ``customers`` customers with e-mail consent,
    and a campaign in status *sending* with one queued delivery per customer (ORM short cut)."""
    import random

    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.utils import timezone

    from bench.frozen_proof import approved_proof_for
    from central.models import Campaign, CampaignStatus, Channel, ConsentStatus, Customer, Delivery
    from fixtures.demo_templates import load_demo_templates
    from fixtures.generate import NamePool
    from local_stores.models import Node, NodeKind, Role
    from local_stores.services import network_create, node_create, role_grant
    from templates_lib import rendering

    call_command("migrate", verbosity=0, interactive=False)
    network = network_create(name="Bench send", slug="bench-send", head_office_name="Siège")
    head_office = Node.objects.get(network=network, kind=NodeKind.HEAD_OFFICE)
    region = node_create(parent=head_office, kind=NodeKind.REGION, code="R1", name="Région")
    branch = node_create(parent=region, kind=NodeKind.BRANCH, code="B1", name="Comptoir Bench",
                         address_line1="1 rue du Test", postal_code="75001", city="Paris", phone="01 02 03 04 05",
                         opening_hours="9h-19h", manager_signature="L'équipe", email="b1@comptoir.example.test")
    author = get_user_model().objects.create(username="bench-send")
    role_grant(user=author, node=head_office, role=Role.HEAD_OFFICE_MARKETER)
    newsletter = load_demo_templates(network=network, author=author)["newsletter"]
    slot_values = {slot.name: slot.default for slot in rendering.version_slots(newsletter)}

    rng = random.Random(seed)
    names = NamePool(seed, size=400)
    now = timezone.now()
    Customer.objects.bulk_create([
        Customer(network=network, branch=branch, external_id=f"send-{index}",
                 first_name=rng.choice(names.first_female), last_name=rng.choice(names.last),
                 email=f"client{index}@exemple.test", city="Paris",
                 consent_email=ConsentStatus.GRANTED, consent_email_at=now, consent_email_source="benchmark")
        for index in range(customers)
    ], batch_size=5000)
    campaign = Campaign.objects.create(network=network, branch=branch, template_version=newsletter,
                                       channel=Channel.EMAIL, slot_values=slot_values,
                                       send_date=timezone.localdate(), status=CampaignStatus.SENDING)
    approved_proof_for(campaign, by=author)  # dispatch renders only from an approved proof's snapshot
    ids = Customer.objects.filter(network=network).order_by("pk").values_list("pk", flat=True)
    Delivery.objects.bulk_create([Delivery(campaign=campaign, customer_id=pk, channel=Channel.EMAIL) for pk in ids],
                                 batch_size=5000)
    return network, branch, newsletter, slot_values, campaign


# --- the worker --------------------------------------------------------------------------------


class Worker:
    """One Celery worker process (its own process group) on the private queue."""

    def __init__(self, env: dict[str, str], queue: str, log_path: Path) -> None:
        self.env, self.queue, self.log_path = env, queue, log_path
        self.name = f"{queue}@{socket.gethostname()}"
        self.process: subprocess.Popen | None = None

    def start(self, concurrency: int) -> None:
        from config.celery import app

        log = self.log_path.open("w")
        self.process = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", self.queue, "-n", self.name,
             "--concurrency", str(concurrency), "--pool", "prefork", "--without-gossip", "--without-mingle",
             "--loglevel", "warning"],
            cwd=PROJECT_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the worker stopped:\n{self.log()}")
            if app.control.ping(destination=[self.name], timeout=1.0):
                return
        raise SystemExit(f"the worker did not answer:\n{self.log()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def log(self) -> str:
        return self.log_path.read_text()[-3000:] if self.log_path.exists() else ""


# --- measurements ------------------------------------------------------------------------------


def cpu_split(messages: int, seconds: float, machine: tuple[float, float], parts: dict[str, float]) -> dict:
    """Where the CPU went during a phase, in ms per message: the named processes, and the rest of
    the machine (PostgreSQL, Redis, this process's polling, anyone else's work)."""
    busy = machine[0]
    split = {name: round(value * 1000 / messages, 3) for name, value in parts.items()}
    split["rest_of_machine"] = round((busy - sum(parts.values())) * 1000 / messages, 3)
    split["machine_busy_cores"] = round(busy / seconds, 2)
    return split


def reset_send(campaign) -> None:
    """The campaign's deliveries queued again as they were created (same tokens, so the same
    Message-IDs), its Contacts deleted, the campaign *sending*: the next round sends it all again."""
    from django.db import connection

    from central.models import Campaign, CampaignStatus, Contact, Delivery, DeliveryStatus

    Delivery.objects.filter(campaign=campaign).update(
        status=DeliveryStatus.QUEUED, attempts=0, claimed_at=None, retry_at=None, sent_at=None, finished_at=None,
        provider_id="", reason="", last_error="", segments=None, cost=None)
    Contact.objects.filter(customer__network_id=campaign.network_id).delete()
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SENDING)
    with connection.cursor() as cursor:  # the dead row versions of the previous round, gone
        cursor.execute(f"VACUUM ANALYZE {Delivery._meta.db_table}, {Contact._meta.db_table}")


def raw_ceiling(campaign, sink: Sink) -> dict[str, object]:
    """One process, one persistent SMTP connection: the dispatch's ``EmailChannel.send`` for every
    delivery (render + MIME + SMTP), the rows read beforehand, nothing written."""
    from django.conf import settings
    from django.utils import translation

    from central.delivery.channels import EmailChannel
    from central.delivery.send_state import campaign_for_send
    from central.models import Delivery

    campaign = campaign_for_send(campaign.pk)
    deliveries = list(Delivery.objects.filter(campaign=campaign).select_related("customer").order_by("pk"))
    channel = EmailChannel(campaign)
    sink_cpu, machine, process = sink.full_stats()[2], machine_cpu(), time.process_time()
    started = time.perf_counter()
    with translation.override(settings.LANGUAGE_CODE):
        for delivery in deliveries:
            channel.send(delivery)
    channel.close()
    seconds = time.perf_counter() - started
    process = time.process_time() - process
    machine = tuple(after - before for after, before in zip(machine_cpu(), machine, strict=True))
    sink_cpu = sink.full_stats()[2] - sink_cpu
    return {"messages": len(deliveries), "seconds": round(seconds, 3), "rate": round(len(deliveries) / seconds, 1),
            "cpu_ms_per_message": cpu_split(len(deliveries), seconds, machine, {"sender": process, "sink": sink_cpu})}


def end_to_end(campaign, sink: Sink, worker: Worker, timeout: float) -> dict[str, object]:
    from django.db import connection
    from django.db.models import Count, Max, Min

    from central.delivery.sending import campaign_dispatch
    from central.models import Campaign, CampaignStatus, Delivery

    sampler = BackendSampler(connection.settings_dict["NAME"])
    sink_cpu, machine, worker_cpu = sink.full_stats()[2], machine_cpu(), group_cpu(worker.process.pid)
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    with sampler:
        chunks = campaign_dispatch(campaign=campaign)  # autocommit: the tasks are queued at once
        deadline = started + timeout
        while Campaign.objects.filter(pk=campaign.pk).values_list("status", flat=True).get() != CampaignStatus.SENT:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"the send did not end in {timeout:.0f} s")
            time.sleep(0.05)
        seconds = time.perf_counter() - started
    machine = tuple(after - before for after, before in zip(machine_cpu(), machine, strict=True))
    worker_cpu = group_cpu(worker.process.pid) - worker_cpu
    received, distinct, sink_now = sink.full_stats()
    deliveries = Delivery.objects.filter(campaign=campaign)
    counts = dict(deliveries.order_by().values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    span = deliveries.aggregate(first=Min("sent_at"), last=Max("sent_at"))
    total = deliveries.count()
    return {
        "messages": total, "chunks": chunks, "seconds": round(seconds, 3), "rate": round(total / seconds, 1),
        "db_span_seconds": round((span["last"] - started_at).total_seconds(), 3) if span["last"] else None,
        "statuses": counts, "sink_received": received, "sink_distinct_message_ids": distinct,
        "cpu_ms_per_message": cpu_split(total, seconds, machine, {
            "worker": worker_cpu, "sink": sink_now - sink_cpu, "postgresql_of_this_database": sampler.cpu()}),
    }


def profile_chunk(network, branch, newsletter, slot_values, out: Path) -> dict[str, object]:
    """``dispatch_chunk`` of one chunk (a second campaign, PROFILE_CHUNK deliveries) under cProfile
    in this process: where a chunk's time goes."""
    import cProfile
    import pstats

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from bench.frozen_proof import approved_proof_for
    from central.delivery.sending import dispatch_chunk
    from central.models import Campaign, CampaignStatus, Channel, Customer, Delivery

    campaign = Campaign.objects.create(network=network, branch=branch, template_version=newsletter,
                                       channel=Channel.EMAIL, slot_values=slot_values,
                                       send_date=timezone.localdate(), status=CampaignStatus.SENDING)
    approved_proof_for(campaign, by=get_user_model().objects.get(username="bench-send"))
    ids = list(Customer.objects.filter(network=network).order_by("pk").values_list("pk", flat=True)[:PROFILE_CHUNK])
    Delivery.objects.bulk_create([Delivery(campaign=campaign, customer_id=pk, channel=Channel.EMAIL) for pk in ids])
    span = Delivery.objects.filter(campaign=campaign).order_by("pk").values_list("pk", flat=True)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    result = dispatch_chunk(campaign_id=campaign.pk, first_id=span.first(), last_id=span.last())
    profiler.disable()
    seconds = time.perf_counter() - started
    profiler.dump_stats(out)
    stats = pstats.Stats(profiler)
    wanted = {  # (file suffix, function) → label
        ("central/delivery/claims.py", "claim_batch"): "claim a batch (UPDATE … RETURNING)",
        ("central/delivery/claims.py", "_recheck"): "campaign, claim and consent again (one query per message)",
        ("central/delivery/rate_limit.py", "acquire"): "rate limiter",
        ("central/delivery/content.py", "email_content"): "render + tracked links",
        ("templates_lib/mime.py", "build_message"): "MIME (templates_lib.mime)",
        ("django/core/mail/backends/smtp.py", "send_messages"): "SMTP (Django's backend, smtplib)",
        ("central/delivery/claims.py", "_mark_sent"): "mark a batch sent + its Contacts (one transaction)",
        ("django/db/backends/utils.py", "execute"): "SQL through Django's cursor",
        ("central/delivery/send_state.py", "campaign_finish_if_done"): "campaign finish check",
    }
    breakdown = {}
    for (filename, _line, function), row in stats.stats.items():  # type: ignore[attr-defined]
        for (suffix, name), label in wanted.items():
            if function == name and filename.endswith(suffix):
                cumulative = row[3]
                breakdown[label] = round(breakdown.get(label, 0.0) + cumulative * 1000 / len(ids), 3)
    return {"messages": len(ids), "seconds": round(seconds, 3), "rate_under_profiler": round(len(ids) / seconds, 1),
            "result": result.as_dict(), "ms_per_message": breakdown, "profile": str(out.relative_to(PROJECT_ROOT))}


def machine_info() -> dict[str, object]:
    from bench.generate_network import host_info

    info = host_info()
    import aiosmtpd
    import celery
    import redis

    info.update(celery=celery.__version__, aiosmtpd=aiosmtpd.__version__, redis_py=redis.__version__)
    return info


# --- main ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--concurrency", type=int, default=2, help="worker pool processes (default 2)")
    parser.add_argument("--database-url", default=os.environ.get("SEND_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--broker-url", default=os.environ.get("SEND_BENCH_BROKER_URL", DEFAULT_BROKER_URL))
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds the end-to-end send may take")
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile of one chunk")
    parser.add_argument("--rounds", type=int, default=3,
                        help="raw ceiling then end to end, this many times on the same rows (reset between): the "
                             "verdict is on the medians (default 3)")
    parser.add_argument("--sink", choices=["lean", "aiosmtpd"], default="lean",
                        help="the SMTP sink: a lean asyncio receiver (default) or aiosmtpd's Controller")
    arguments = parser.parse_args(argv)
    OUT_DIR.mkdir(parents=True, exist_ok=True)

    port = free_port()
    queue = f"relais-send-bench-{uuid.uuid4().hex[:10]}"
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.test", "RELAIS_MODE": "demo", "DEBUG": "false",
        "DATABASE_URL": arguments.database_url, "CELERY_BROKER_URL": arguments.broker_url,
        "CELERY_TASK_ALWAYS_EAGER": "false", "CELERY_QUEUE": queue, "RELAIS_DISPATCH_QUEUE": queue,
        "RELAIS_TEST_WORKER_PROCESS": "1", "RELAIS_TEST_SMTP_PORT": str(port),
        "RELAIS_RATE_LIMIT_EMAIL": "0", "RELAIS_BASE_URL": "https://relais.example.test", "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    sink = Sink(port, arguments.sink).start()
    worker: Worker | None = None
    try:
        recreate_database(arguments.database_url)
        import django

        django.setup()
        from django.conf import settings

        from config.celery import app

        print(f"Relais e-mail send benchmark — {arguments.customers:,} customers, seed {arguments.seed}")
        started = time.perf_counter()
        network, branch, newsletter, slot_values, campaign = build_workload(arguments.customers, arguments.seed)
        info = machine_info()
        print(f"  machine: {info['cpus']} cores, {info['cpu_model']}, {info['memory_gb']} GB; Python {info['python']},"
              f" PostgreSQL {info['postgresql']}, Celery {info['celery']}, aiosmtpd {info['aiosmtpd']}")
        print(f"  set-up: database {urlsplit(arguments.database_url).path.lstrip('/')} recreated and migrated, "
              f"{arguments.customers:,} customers in {time.perf_counter() - started:.1f} s")
        print("  SHORT CUT: the campaign is created directly in status 'sending' with its queued deliveries "
              "(ORM bulk_create), not through proof/approvals/arbitration/campaign_send_start")
        sink_name = "lean asyncio SMTP receiver" if arguments.sink == "lean" else "aiosmtpd Controller"
        print(f"  SMTP sink: {sink_name} in its own process on 127.0.0.1:{port}; e-mail rate limit off "
              "(RELAIS_RATE_LIMIT_EMAIL=0); template: demo 'newsletter'")
        from central.delivery.claims import dispatch_batch_size

        print(f"  dispatch: chunks of {settings.RELAIS_DISPATCH_CHUNK_SIZE}, claimed and marked sent in batches of "
              f"{dispatch_batch_size()}")

        rounds = []
        for number in range(1, arguments.rounds + 1):
            if number > 1:
                reset_send(campaign)
            print(f"  round {number}/{arguments.rounds}:")
            raw = raw_ceiling(campaign, sink)
            received, distinct = sink.stats()
            raw.update(sink_received=received, sink_distinct_message_ids=distinct)
            print(f"    raw ceiling (1 process, EmailChannel.send, 1 persistent SMTP connection): "
                  f"{raw['messages']:,} messages in {raw['seconds']:.2f} s = {raw['rate']:.0f} msg/s "
                  f"(sink: {received:,} received, {distinct:,} distinct Message-IDs)")
            print(f"      CPU, ms per message: {raw['cpu_ms_per_message']}")
            if not received == distinct == raw["messages"]:
                raise SystemExit(f"the sink received {received} messages ({distinct} distinct) of the raw run, "
                                 f"expected {raw['messages']}")
            sink.reset()

            worker = Worker({**os.environ, **env}, queue, OUT_DIR / "send-benchmark-worker.log")
            worker.start(arguments.concurrency)
            e2e = end_to_end(campaign, sink, worker, arguments.timeout)
            worker.stop()
            sink.reset()
            exact = (e2e["sink_received"] == arguments.customers == e2e["sink_distinct_message_ids"]
                     and e2e["statuses"] == {"sent": arguments.customers})
            print(f"    end to end (campaign_dispatch → Redis queue → 1 worker, --concurrency {arguments.concurrency} → "
                  f"sink): {e2e['messages']:,} messages, {e2e['chunks']} chunks, {e2e['seconds']:.2f} s = "
                  f"{e2e['rate']:.0f} msg/s")
            print(f"      CPU, ms per message: {e2e['cpu_ms_per_message']}")
            print(f"      check: deliveries {e2e['statuses']}; sink received {e2e['sink_received']:,}, distinct "
                  f"Message-IDs {e2e['sink_distinct_message_ids']:,}, expected {arguments.customers:,} → "
                  f"{'OK' if exact else 'WRONG'}")
            ratio = e2e["rate"] / raw["rate"]
            print(f"      ratio {ratio:.2f}")
            rounds.append({"raw_ceiling": raw, "end_to_end": e2e, "ratio": round(ratio, 3), "exactly_once": exact})

        ok_count = all(item["exactly_once"] for item in rounds)
        raw_rate = statistics.median(item["raw_ceiling"]["rate"] for item in rounds)
        e2e_rate = statistics.median(item["end_to_end"]["rate"] for item in rounds)
        ratio = statistics.median(item["ratio"] for item in rounds)
        verdict = "PASS" if ok_count and ratio >= TARGET_RATIO and e2e_rate >= TARGET_RATE else "FAIL"
        print(f"  median of {len(rounds)} round(s): raw ceiling {raw_rate:.0f} msg/s, end to end {e2e_rate:.0f} msg/s, "
              f"ratio {ratio:.2f} (target ≥ {TARGET_RATIO}; end to end target ≥ {TARGET_RATE:.0f} msg/s); every "
              f"message exactly once: {'yes' if ok_count else 'NO'} → {verdict}")

        profile = None
        if not arguments.no_profile:
            sink.reset()
            profile = profile_chunk(network, branch, newsletter, slot_values, OUT_DIR / "send-benchmark-chunk.prof")
            print(f"  one chunk in-process under cProfile ({profile['messages']} messages, {profile['seconds']:.2f} s, "
                  f"{profile['rate_under_profiler']:.0f} msg/s under the profiler); ms per message, cumulative:")
            for label, value in sorted(profile["ms_per_message"].items(), key=lambda item: -item[1]):
                print(f"    {value:7.3f}  {label}")

        results = {
            "benchmark": "send", "at": datetime.now(UTC).isoformat(timespec="seconds"), "customers": arguments.customers,
            "seed": arguments.seed, "concurrency": arguments.concurrency, "machine": info,
            "short_cut": "campaign created in status sending with its deliveries by bulk_create",
            "rate_limit_email": 0, "chunk_size": settings.RELAIS_DISPATCH_CHUNK_SIZE,
            "batch_size": dispatch_batch_size(), "sink": arguments.sink,
            "rounds": rounds, "median": {"raw_ceiling_rate": raw_rate, "end_to_end_rate": e2e_rate, "ratio": ratio},
            "exactly_once": ok_count,
            "target": {"ratio": TARGET_RATIO, "rate": TARGET_RATE}, "verdict": verdict, "profile": profile,
        }
        (OUT_DIR / "send-benchmark.json").write_text(json.dumps(results, indent=2, default=str))
        print(f"  results: {(OUT_DIR / 'send-benchmark.json').relative_to(PROJECT_ROOT)}")
        return 0 if verdict == "PASS" else 1
    finally:
        if worker is not None:
            worker.stop()
            try:
                with app.connection_for_write() as broker:
                    broker.default_channel.queue_purge(queue)
            except Exception as error:  # best effort: the queue is private anyway
                print(f"  (could not purge {queue}: {error})")
        sink.stop()


if __name__ == "__main__":
    sys.exit(main())
