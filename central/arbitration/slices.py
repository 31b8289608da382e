"""A run's customers decided: on this connection, or in slices of customers, each on a connection
(and a core) of its own, applying "one message per address" together (docs/arbitration.md, "On
both cores")."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from central.arbitration.candidates import _insert_candidates, _Planned, _write_campaigns
from central.arbitration.caps import _caps_and_write, _exclude_ranked, _past_counts
from central.arbitration.work_tables import (
    EVERYONE,
    WORK,
    _create_work_tables,
    _drop_work_tables,
    _index,
    _load_table,
    _Slice,
    _sql,
    _tune,
    partition_name,
)
from central.channels import registry as channels
from central.models import ArbitrationRun, Candidate, Customer, NetworkRules, Reason
from local_stores.models import Network

logger = logging.getLogger("central.arbitration")

class _Job:
    """What each connection deciding customers of a run needs: the run, its rules, its campaigns."""

    def __init__(self, run: ArbitrationRun, rules: NetworkRules, planned: list[_Planned], groups: dict[str, int],
                 suppressed_channels: set[str], reach: list[tuple] = (), reviewed: frozenset[str] = frozenset()) -> None:
        self.run, self.rules, self.planned, self.groups = run, rules, planned, groups
        self.suppressed_channels = suppressed_channels
        self.operations = sorted({item.operation_id for item in planned if item.operation_id is not None})
        self.reach, self.reviewed = list(reach), reviewed


def _candidates(job: _Job, customers: _Slice) -> None:
    """The working tables of this connection, with the slice's candidates in, less the losers of
    "one message per customer per operation" (an UPDATE with a window function)."""
    _create_work_tables()
    _write_campaigns(job.planned, job.run.network_id, job.reach)
    _insert_candidates(job.run, job.groups, job.rules, job.suppressed_channels, job.operations, customers,
                       job.reviewed)
    if job.rules.one_per_operation:
        _exclude_ranked(Reason.SAME_OPERATION, partition="c.customer_id, c.operation_id", order="c.corder",
                        where="c.operation_id IS NOT NULL")


def _matched_codes() -> list[str]:
    """The channels whose candidates carry an address to compare (the registry's)."""
    return [spec.code for spec in channels.with_matched_address()]


def _matched_in() -> str:
    return ", ".join(["%s"] * len(_matched_codes()))


def _exclude_shared_addresses() -> None:
    """One message per address per campaign: the customer of lowest id keeps it."""
    _exclude_ranked(Reason.DUPLICATE_ADDRESS, partition="c.campaign_id, c.address", order="c.customer_id",
                    where=f"c.channel IN ({_matched_in()}) AND c.address <> ''", params=_matched_codes(), rare=True)


def _decide(job: _Job, customers: _Slice = EVERYONE, table: str | None = None,
            exchange: _Exchange | None = None) -> Counter:
    """Decide the slice's customers and write their decisions to ``table`` (PostgreSQL: a new
    table, indexed here) or ``central_candidate``, and count them by reason: the candidates, one message per operation, one
    per address (with the other slices through ``exchange``, if any), then the caps, who lost to
    whom, and the writing of every decision (one statement)."""
    _candidates(job, customers)
    if exchange is None:
        _exclude_shared_addresses()
    else:
        _exclude_shared_addresses_with(exchange)
    past = _past_counts(job.run, job.rules, customers)
    target = _load_table(job.run, table)
    _caps_and_write(job.run, job.rules, past, job.operations, target)
    _drop_work_tables()
    if connection.vendor == "postgresql":
        _index(job.run, target, customers)
    with connection.cursor() as cursor:  # the decisions by reason ("" = selected)
        cursor.execute(f"SELECT reason, COUNT(*) FROM {target} WHERE run_id = %s GROUP BY reason",  # noqa: S608
                       [job.run.pk])
        return Counter(dict(cursor.fetchall()))


# --- On both cores --------------------------------------------------------------------------------
#
# PostgreSQL runs a statement on one core (it parallelises neither an INSERT … SELECT, nor window
# functions, nor anything that reads a temporary table). Every rule but "one message per address"
# is about one customer's candidates, so a large network's customers are cut in slices of
# consecutive ids, each decided on a connection (and a core) of its own, in a table of its own;
# the customers who share an address with another are decided first, together, and the losers of
# that rule handed to each slice. The run's partition is then a table partitioned by customer id,
# whose partitions are the slices' tables. Only outside a transaction: the slices' connections see
# what is committed, and commit their tables (dropped again if the run fails).


def _slice_bounds(network: Network) -> list[int]:
    """The ids cutting the network's customers in slices of equal size, one per connection — or
    none: decide on this connection (a small network, a database other than PostgreSQL, or a
    caller's transaction whose writes other connections would not see)."""
    workers = int(getattr(settings, "RELAIS_ARBITRATION_WORKERS", 1))
    if connection.vendor != "postgresql" or connection.in_atomic_block or workers < 2:
        return []
    customers = connection.ops.quote_name(Customer._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*), MIN(id), MAX(id) FROM {customers} WHERE network_id = %s",  # noqa: S608
                       [network.pk])
        count, first, last = cursor.fetchone()
    if count < int(getattr(settings, "RELAIS_ARBITRATION_PARALLEL_FROM", 0)) or count < workers:
        return []
    # equal ranges of ids: a network's customers are imported in large batches, so their ids are
    # nearly consecutive (an exact median would cost a sort of every id)
    return sorted({first + (last - first + 1) * number // workers for number in range(1, workers)})


class _Exchange:
    """How the slices apply "one message per address per campaign" together, the customer of lowest
    id keeping the message: each slice gives the hashes of the addresses of its candidates still in
    (and which of them it holds for two customers or more); the hashes held twice or by two slices
    are the addresses that may be shared; each slice gives its candidates with one of those, and
    the losers are decided from them all — exactly, on the addresses themselves. Two meeting points
    (a barrier); a slice that fails breaks it, and the others stop."""

    def __init__(self, parties: int) -> None:
        self._barrier = threading.Barrier(parties)
        self._lock = threading.Lock()
        self._hashes: list[set[int]] = []
        self._held_twice: set[int] = set()
        self._rows: list[tuple[int, int, str]] = []
        self._shared: list[int] | None = None
        self._losers: set[tuple[int, int]] | None = None

    def shared_hashes(self, hashes: list[int], held_twice: list[int]) -> list[int]:
        held = set(hashes)
        with self._lock:
            self._hashes.append(held)
            self._held_twice.update(held_twice)
        self._barrier.wait()
        with self._lock:
            if self._shared is None:
                shared = set(self._held_twice)
                for number, one in enumerate(self._hashes):
                    for other in self._hashes[number + 1:]:
                        shared |= one & other
                self._shared = sorted(shared)
            return self._shared

    def losers(self, rows: list[tuple[int, int, str]]) -> set[tuple[int, int]]:
        with self._lock:
            self._rows += rows
        self._barrier.wait()
        with self._lock:
            if self._losers is None:
                first: dict[tuple[int, str], int] = {}
                for campaign_id, customer_id, address in self._rows:
                    key = (campaign_id, address)
                    first[key] = min(first.get(key, customer_id), customer_id)
                self._losers = {(campaign_id, customer_id) for campaign_id, customer_id, address in self._rows
                                if first[(campaign_id, address)] != customer_id}
            return self._losers

    def abort(self) -> None:
        self._barrier.abort()


def _exclude_shared_addresses_with(exchange: _Exchange) -> None:
    """This slice's part of "one message per address", decided with the other slices."""
    still_in = f"FROM {WORK} WHERE reason IS NULL AND channel IN ({_matched_in()}) AND address <> ''"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT array_agg(h), array_agg(h) FILTER (WHERE twice) FROM (SELECT hashtext(address) AS h, "  # noqa: S608
                       f"MIN(customer_id) <> MAX(customer_id) AS twice {still_in} GROUP BY hashtext(address)) a",
                       _matched_codes())
        hashes, held_twice = cursor.fetchone()
        shared = exchange.shared_hashes(hashes or [], held_twice or [])
        rows: list[tuple[int, int, str]] = []
        if shared:
            cursor.execute(f"SELECT campaign_id, customer_id, address {still_in} "
                           f"AND hashtext(address) = ANY(%s)", [*_matched_codes(), shared])
            rows = [tuple(row) for row in cursor.fetchall()]
    mine = {(campaign_id, customer_id) for campaign_id, customer_id, _address in rows}
    losers = [pair for pair in exchange.losers(rows) if pair in mine]
    if losers:
        _sql(f"UPDATE {WORK} SET reason = %s WHERE reason IS NULL AND (campaign_id, customer_id) IN "  # noqa: S608
             f"(SELECT * FROM unnest(%s::bigint[], %s::bigint[]))",
             [Reason.DUPLICATE_ADDRESS, [pair[0] for pair in losers], [pair[1] for pair in losers]])


def _decide_apart(job: _Job, customers: _Slice, table: str, exchange: _Exchange) -> Counter:
    """A slice decided on a connection of this thread's own, in a transaction of its own."""
    try:
        with transaction.atomic():
            _tune()
            return _decide(job, customers, table, exchange)
    except BaseException:
        exchange.abort()  # the other slices stop at their next meeting point
        raise
    finally:
        connection.close()


def _decide_in_slices(job: _Job, bounds: list[int], tables: list[str]) -> Counter:
    """The run decided in slices, one per connection at once, then put together as the run's
    partition. ``tables`` receives the slices' tables as they are made (dropped if the run fails)."""
    part = partition_name(job.run.pk)
    slices = [_Slice(low, high) for low, high in zip([None, *bounds], [*bounds, None], strict=True)]
    tables += [f"{part}_s{number}" for number in range(len(slices))]
    exchange = _Exchange(len(slices))
    with ThreadPoolExecutor(max_workers=len(slices), thread_name_prefix="arbitration") as pool:
        futures = [pool.submit(_decide_apart, job, customers, table, exchange)
                   for customers, table in zip(slices, tables, strict=True)]
        failures = [future.exception() for future in futures if future.exception() is not None]
    if failures:  # the failure itself, rather than a slice stopped because another one failed
        raise min(failures, key=lambda error: isinstance(error, threading.BrokenBarrierError))
    counts = sum((future.result() for future in futures), Counter())
    _sql(f"CREATE TABLE {part} (LIKE {Candidate._meta.db_table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
         f"PARTITION BY RANGE (customer_id)")
    for customers, table in zip(slices, tables, strict=True):
        low = "MINVALUE" if customers.low is None else int(customers.low)
        high = "MAXVALUE" if customers.high is None else int(customers.high)
        _sql(f"ALTER TABLE {part} ATTACH PARTITION {table} FOR VALUES FROM ({low}) TO ({high})")
    return counts


def _drop_tables(tables: list[str]) -> None:
    """After a failed run: the slices' tables, which their own connections committed."""
    for table in tables:
        try:
            _sql(f"DROP TABLE IF EXISTS {table}")
        except DatabaseError:
            logger.exception("arbitration: could not drop %s after a failed run", table)
