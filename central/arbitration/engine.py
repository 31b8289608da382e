"""The arbitration run: ``arbitrate`` picks the network's campaigns of the window, opens the run's
transaction, decides (``slices``), attaches the decisions and, for real, creates the deliveries."""

from __future__ import annotations

import time
from datetime import date

from django.db import connection, transaction
from django.utils import timezone

from central.arbitration.candidates import _plan
from central.arbitration.policy import (
    COMMIT_STATUSES,
    SIMULATION_STATUSES,
    _reviewed,
    national_reach,
    rules_for,
)
from central.arbitration.slices import _decide, _decide_in_slices, _drop_tables, _Job, _slice_bounds
from central.arbitration.work_tables import _attach, _sql, _tune
from central.models import ArbitrationRun, Campaign, Candidate, Delivery, NetworkRules, Suppression
from local_stores.models import Network


def _create_deliveries(run: ArbitrationRun) -> int:
    """One delivery per selected candidate; an existing one (a run made twice) is kept as is."""
    token = ("replace(gen_random_uuid()::text, '-', '')" if connection.vendor == "postgresql"
             else "lower(hex(randomblob(16)))")
    table = connection.ops.quote_name(Delivery._meta.db_table)
    candidates = connection.ops.quote_name(Candidate._meta.db_table)
    sql = (
        f"INSERT INTO {table} (campaign_id, customer_id, channel, status, token, attempts, last_error, "  # noqa: S608
        f"queued_at) "
        f"SELECT c.campaign_id, c.customer_id, c.channel, 'queued', 't_' || {token}, 0, '', %s "
        f"FROM {candidates} c WHERE c.run_id = %s AND c.selected "
        f"ON CONFLICT (campaign_id, customer_id, channel) DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [timezone.now(), run.pk])
        return cursor.rowcount


def arbitrate(*, network: Network, starts_on: date, ends_on: date, mode: str = ArbitrationRun.Mode.SIMULATION,
              started_by=None, gate=None) -> ArbitrationRun:
    """Arbitrate the network's campaigns sending in [starts_on, ends_on]. ``gate`` (for real runs)
    says why a campaign may not be sent, or None: only what it lets through is arbitrated."""
    started = time.perf_counter()
    rules = rules_for(network)
    statuses = COMMIT_STATUSES if mode == ArbitrationRun.Mode.COMMIT else SIMULATION_STATUSES
    campaigns = list(Campaign.objects.filter(network=network, send_date__range=(starts_on, ends_on),
                                             status__in=statuses).select_related("operation"))
    if mode == ArbitrationRun.Mode.COMMIT:
        if gate is None:
            raise ValueError("a real arbitration needs the send gate")
        campaigns = [campaign for campaign in campaigns if gate(campaign) is None]
    bounds = _slice_bounds(network) if campaigns else []
    tables: list[str] = []
    try:
        with transaction.atomic():
            run = _arbitrate(network, campaigns, rules, mode=mode, starts_on=starts_on, ends_on=ends_on,
                             started_by=started_by, bounds=bounds, tables=tables, started=started)
    except BaseException:
        _drop_tables(tables)
        raise
    return run


def _arbitrate(network: Network, campaigns: list[Campaign], rules: NetworkRules, *, mode: str, starts_on: date,
               ends_on: date, started_by, bounds: list[int], tables: list[str], started: float) -> ArbitrationRun:
    """The run, in the transaction ``arbitrate`` opened."""
    run = ArbitrationRun.objects.create(network=network, mode=mode, starts_on=starts_on, ends_on=ends_on,
                                        started_by=started_by)
    _tune()
    suppressed_channels = set(Suppression.objects.filter(network=network).values_list("channel", flat=True)
                              .distinct().order_by())
    planned, groups = _plan(campaigns, rules)
    job = _Job(run, rules, planned, groups, suppressed_channels, reach=national_reach(network, campaigns, mode=mode),
               reviewed=_reviewed(campaigns))
    counts = _decide_in_slices(job, bounds, tables) if bounds else _decide(job)
    written = sum(counts.values())
    _attach(run)
    if connection.vendor == "postgresql":  # the caller's transaction may go on: its own settings
        for setting in ("work_mem", "maintenance_work_mem", "jit", "enable_nestloop"):
            _sql(f"RESET {setting}")
    deliveries = _create_deliveries(run) if mode == ArbitrationRun.Mode.COMMIT else 0
    selected = counts.pop("", 0)
    run.summary = {
        "campaigns": len(campaigns), "candidates": written, "selected": selected, "excluded": dict(+counts),
        "deliveries": deliveries, "seconds": round(time.perf_counter() - started, 3),
    }
    run.finished_at = timezone.now()
    run.save(update_fields=["summary", "finished_at"])
    return run
