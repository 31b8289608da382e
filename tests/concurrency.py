"""Calls run at the same moment in real threads, each on its own database connection: the races the
concurrency tests play (approvals, saved import mappings…)."""

from __future__ import annotations

import threading
import time

from django.db import connection


def race(*calls, head_start: float = 0.0):
    """Run ``calls`` in threads released together (all but the last held back ``head_start``
    seconds); their responses (or the exceptions they raised)."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index: int, call) -> None:
        try:
            barrier.wait(timeout=30)
            if index < len(calls) - 1:
                time.sleep(head_start)
            results[index] = call()
        except Exception as error:  # reported by the test, never swallowed
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a request never finished"
    return results
