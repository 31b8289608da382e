"""An SMTP server on loopback, in its own process, that records the Message-ID of every message it
accepts (how many times each arrived). The SMTP dialogue is the send benchmark's lean asyncio
receiver (``bench.send_benchmark.LeanSmtpProtocol``); only what is recorded differs."""

from __future__ import annotations

import multiprocessing
import re
import threading
from collections import Counter

from bench.send_benchmark import Sink, _serve_lean

_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


class RecordingHandler:
    """Every accepted message: its Message-ID counted (one per recipient)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ids: Counter[bytes] = Counter()
        self.total = 0

    def count(self, content: bytes, recipients: int) -> None:
        end = content.find(b"\r\n\r\n")
        found = _MESSAGE_ID.search(content[: end + 2] if end >= 0 else content)
        with self.lock:
            self.total += recipients
            self.ids[found.group(1) if found else b"?"] += recipients


def sink_main(port: int, pipe) -> None:
    """The sink process: the SMTP server in an event-loop thread; this thread answers the pipe:
    "total" → messages so far, "ids" → {Message-ID: times received}, "stop"."""
    handler = RecordingHandler()
    started, holder = threading.Event(), {}
    thread = threading.Thread(target=_serve_lean, args=(handler, port, started, holder), daemon=True)
    thread.start()
    started.wait(10)
    pipe.send("ready")
    try:
        while True:
            command = pipe.recv()
            with handler.lock:
                if command == "total":
                    pipe.send(handler.total)
                elif command == "ids":
                    pipe.send(dict(handler.ids))
                else:
                    break
    finally:
        holder["loop"].call_soon_threadsafe(holder["loop"].stop)
        thread.join(10)


class RecordingSink(Sink):
    """The benchmark's sink process (same start-up and stop), recording each Message-ID's count."""

    def __init__(self, port: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.port = port
        self.pipe, child = context.Pipe()
        self.process = context.Process(target=sink_main, args=(port, child), daemon=True)

    def start(self) -> RecordingSink:
        self.process.start()
        if not self.pipe.poll(30) or self.pipe.recv() != "ready":
            raise RuntimeError("the SMTP sink did not start")
        return self

    def total(self) -> int:
        self.pipe.send("total")
        return self.pipe.recv()

    def ids(self) -> dict[bytes, int]:
        self.pipe.send("ids")
        return self.pipe.recv()
