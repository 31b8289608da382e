"""The fault-injection run (tests/fault/) is opt-in: it starts its own Redis, Celery workers and
beat, restarts the machine's PostgreSQL once and sends tens of thousands of e-mails, so a plain
``pytest`` never collects it. ``RELAIS_FAULT_INJECTION=1`` (scripts/fault-injection.sh sets it)
opts in."""

import os

if os.environ.get("RELAIS_FAULT_INJECTION") != "1":
    collect_ignore_glob = ["test_*.py"]
