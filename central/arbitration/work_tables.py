"""The arbitration's working tables and the tables of its decisions: the connection's settings for a
run, the temporary tables every rule works in, which customers a statement decides (``_Slice``), and
on PostgreSQL each run's partition of ``central_candidate`` (made, indexed, attached, dropped)."""

from __future__ import annotations

from django.db import DataError, connection, transaction

from central.models import ArbitrationRun, Candidate

# --- The working tables ---------------------------------------------------------------------------
#
# A run works in temporary tables of its own connection (dropped at the end, and gone with a
# rollback): the candidates with their decision so far, the run's campaigns, the customers' past
# contacts. Every rule is one statement over them; the decisions are written to ``Candidate`` once,
# at the end, by one INSERT … SELECT. Names are constants of this module; every value is bound.

WORK = "relais_arb_candidate"  # (campaign, customer): the campaign's constants, address, reason so far
CAMPAIGNS = "relais_arb_campaign"  # one row per campaign of the run, with its rank in the order
PAST = "relais_arb_past"  # per customer: past contacts counted by each cap
HAD = "relais_arb_had"  # (customer, operation) pairs already contacted, for the run's operations
#: The campaigns by the branch (``jb``) whose customers they target: a branch's own campaigns under
#: its id, and every national campaign under the id of every node of the network (and 0, for the
#: customers without a branch) — so that one hash join on the customer's branch gives them all.
JOINS = "relais_arb_join"
#: Where head office's national sends of an operation do not go, by node (0: the customers without a
#: branch): a branch outside the operation (a pilot), one that declined or opted out of it, one with
#: its own version of it (``jlost``: that version) — the exceptions to ``JOINS``'s "every node".
REACH = "relais_arb_reach"
_TEMP_TABLES = (WORK, CAMPAIGNS, PAST, HAD, JOINS, REACH)


def _sql(statement: str, params=()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


def _tune() -> None:
    """This connection's settings for the run, for its transaction only (PostgreSQL)."""
    if connection.vendor == "postgresql":
        # Sorts and hashes of a few million narrow rows fit in memory rather than spill to disk;
        # for this transaction only. (temp_buffers may only change before a session's first
        # temporary table.)
        _sql("SET LOCAL work_mem = '256MB'")
        _sql("SET LOCAL maintenance_work_mem = '512MB'")  # the run's indexes, each built by one sort
        # A few statements over millions of rows: compiling them (JIT) costs more than it saves,
        # and a nested loop (one index probe per campaign, rows scattered over the table) is never
        # the right join here — the planner may pick one for a join on the customers' branch.
        _sql("SET LOCAL jit = off")
        _sql("SET LOCAL enable_nestloop = off")
        # The run's tables are read by simple plans (equalities, joins on ids): a sample of 6,000
        # rows describes them as well as the default 30,000, five times faster.
        _sql("SET LOCAL default_statistics_target = 20")
        try:
            with transaction.atomic():
                _sql("SET LOCAL temp_buffers = '512MB'")
        except DataError:
            pass  # this session has had temporary tables already: it keeps its temp_buffers


def _create_work_tables() -> None:
    for table in _TEMP_TABLES:
        _sql(f"DROP TABLE IF EXISTS {table}")
    _sql(f"CREATE TEMPORARY TABLE {CAMPAIGNS} (campaign_id bigint NOT NULL, corder integer NOT NULL, "
         f"branch_id bigint NULL, priority smallint NOT NULL, send_date date NOT NULL, "
         f"scheduled_at timestamp with time zone NOT NULL, channel varchar(8) NOT NULL, origin varchar(16) NOT NULL, "
         f"operation_id bigint NULL, quiet smallint NOT NULL, criteria integer NOT NULL, holdout integer NOT NULL)")
    _sql(f"CREATE TEMPORARY TABLE {WORK} (campaign_id bigint NOT NULL, customer_id bigint NOT NULL, "
         f"branch_id bigint NULL, corder integer NOT NULL, channel varchar(8) NOT NULL, origin varchar(16) NOT NULL, "
         f"operation_id bigint NULL, address varchar(254) NOT NULL, segment varchar(32) NOT NULL, "
         f"reason varchar(20) NULL)")


def _analyze(table: str) -> None:
    """Temporary tables get no statistics of their own: give the planner some (PostgreSQL)."""
    if connection.vendor == "postgresql":
        _sql(f"ANALYZE {table}")


def _drop_work_tables() -> None:
    for table in _TEMP_TABLES:
        _sql(f"DROP TABLE IF EXISTS {table}")


class _Slice:
    """Which of the network's customers a statement decides: all of them (the default), those
    whose id lies in [``low``, ``high``) (a bound left out is open), or those of ``ids``."""

    def __init__(self, low: int | None = None, high: int | None = None, ids: list[int] | None = None) -> None:
        self.low, self.high, self.ids = low, high, ids

    def where(self, column: str) -> tuple[str, list]:
        """`` AND …`` restricting ``column`` (a customer id) to the slice, and its parameters."""
        if self.ids is not None:
            return f" AND {column} = ANY(%s)", [self.ids]
        sql, params = "", []
        if self.low is not None:
            sql, params = sql + f" AND {column} >= %s", [*params, self.low]
        if self.high is not None:
            sql, params = sql + f" AND {column} < %s", [*params, self.high]
        return sql, params


EVERYONE = _Slice()

def partition_name(run_id: int) -> str:
    """The table holding a run's decisions on PostgreSQL (a partition of ``central_candidate``)."""
    return f"{Candidate._meta.db_table}_r{int(run_id)}"


def _load_table(run: ArbitrationRun, name: str | None = None) -> str:
    """Where decisions are written: on PostgreSQL a new table ``name`` (the run's partition by
    default), without index (``_index`` indexes it), else ``central_candidate`` itself. A
    simulation's table is UNLOGGED: a what-if that can be made again, it skips the write-ahead log
    (and would be emptied by a crash of the database server, its run then explaining nothing until
    simulated again); a real run's decisions, which explain what was sent, are logged."""
    if connection.vendor != "postgresql":
        return connection.ops.quote_name(Candidate._meta.db_table)
    part, parent = name or partition_name(run.pk), Candidate._meta.db_table
    unlogged = "UNLOGGED " if run.mode == ArbitrationRun.Mode.SIMULATION else ""
    _sql(f"DROP TABLE IF EXISTS {part}")
    _sql(f"CREATE {unlogged}TABLE {part} (LIKE {parent} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    return part


def _index(run: ArbitrationRun, table: str, customers: _Slice = EVERYONE) -> None:
    """Index a table of decisions in one pass per index (a sort, rather than a few million inserts
    into a growing tree) — the parent's indexes, which PostgreSQL adopts when the table is
    attached —, and say by a CHECK what it holds, which spares the attachment a scan of its own."""
    _sql(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY (run_id, customer_id, campaign_id)")
    _sql(f"CREATE INDEX {table}_campaign ON {table} (run_id, campaign_id)")
    sliced = ""
    if customers.low is not None:
        sliced += f" AND customer_id >= {int(customers.low)}"
    if customers.high is not None:
        sliced += f" AND customer_id < {int(customers.high)}"
    _sql(f"ALTER TABLE {table} ADD CONSTRAINT {table}_run CHECK (run_id = {int(run.pk)}{sliced})")
    _analyze(table)


def _attach(run: ArbitrationRun) -> None:
    """Make the run's indexed table its partition of ``central_candidate`` (PostgreSQL)."""
    if connection.vendor != "postgresql":
        return
    _sql(f"ALTER TABLE {Candidate._meta.db_table} ATTACH PARTITION {partition_name(run.pk)} "
         f"FOR VALUES IN ({int(run.pk)})")


def runs_drop_decisions(run_ids) -> None:
    """Before runs are deleted: drop their partitions at once (PostgreSQL), rather than deleting
    their millions of rows one by one."""
    if connection.vendor != "postgresql":
        return
    for run_id in run_ids:
        _sql(f"DROP TABLE IF EXISTS {partition_name(run_id)}")
