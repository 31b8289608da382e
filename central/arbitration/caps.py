"""The rules over a customer's candidates: the ranked exclusions (one per operation, one per address),
the past contacts each cap counts, then the caps per channel, the quota, the overall cap, who each
loser lost to, the control group — and every decision written (docs/arbitration.md, steps 2 and 3)."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection

from central.arbitration.work_tables import CAMPAIGNS, EVERYONE, JOINS, PAST, WORK, _analyze, _Slice, _sql
from central.models import ArbitrationRun, Contact, NetworkRules, Origin, Reason


def _past_counts(run: ArbitrationRun, rules: NetworkRules, customers: _Slice = EVERYONE) -> dict[tuple, str]:
    """One pass over the contacts before the window: per customer, the count each cap needs
    (its days, and its channel or origin). Returns the column of each (days, field, value)."""
    wanted = {(rules.cap_days, None, None)}
    for channel, cap in (rules.channel_caps or {}).items():
        wanted.add((int(cap.get("days", rules.cap_days)), "channel", channel))
    for origin in (Origin.LOCAL, Origin.NATIONAL):
        wanted.add((rules.cap_days, "origin", origin))
    columns, sums, params = {}, [], []
    for number, (days, field, value) in enumerate(sorted(wanted, key=str)):
        columns[(days, field, value)] = f"p{number}"
        condition = "contacted_on >= %s" + (f" AND {field} = %s" if field else "")
        sums.append(f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END) AS p{number}")
        params += [run.starts_on - timedelta(days=days), *([value] if field else [])]
    longest = max(days for days, _field, _value in wanted)
    contacts = connection.ops.quote_name(Contact._meta.db_table)
    sliced, sliced_params = customers.where("customer_id")
    _sql(f"CREATE TEMPORARY TABLE {PAST} AS SELECT customer_id, {', '.join(sums)} FROM {contacts} "  # noqa: S608
         f"WHERE contacted_on >= %s AND contacted_on < %s{sliced} GROUP BY customer_id",
         [*params, run.starts_on - timedelta(days=longest), run.starts_on, *sliced_params])
    _analyze(PAST)
    return columns


def _exclude_ranked(reason: str, *, partition: str, order: str, where: str, params=(), rare: bool = False) -> int:
    """Exclude for ``reason`` the candidates still in (``where``) that are not the first of their
    ``partition`` (columns of ``c``) in ``order``: one UPDATE with a window function. ``rare``:
    partitions of more than one candidate are rare (shared addresses), so they are found first by
    a hashed GROUP BY and only their candidates are sorted."""
    shared, shared_params = "", []
    if rare:
        columns = partition.replace("c.", "")
        shared = (f" AND ({partition}) IN (SELECT {columns} FROM {WORK} c WHERE c.reason IS NULL AND {where} "  # noqa: S608
                  f"GROUP BY {columns} HAVING COUNT(*) > 1)")
        shared_params = list(params)
    # The losers by their physical row (ctid, rowid): fetched directly, without a second scan and a
    # join of the whole table.
    row, matches = (("ctid", "ctid = ANY(ARRAY({}))") if connection.vendor == "postgresql"
                    else ("rowid", "rowid IN ({})"))
    losers = (f"SELECT r.row FROM (SELECT c.{row} AS row, ROW_NUMBER() OVER (PARTITION BY {partition} "  # noqa: S608
              f"ORDER BY {order}) AS rn FROM {WORK} c WHERE c.reason IS NULL AND {where}{shared}) r WHERE r.rn > 1")
    return _sql(f"UPDATE {WORK} SET reason = %s WHERE {matches.format(losers)}",  # noqa: S608
                [reason, *params, *shared_params])


class _Sql:
    """A fragment of SQL and its parameters, in order."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.params: list = []

    def add(self, text: str, *params) -> _Sql:
        self.parts.append(text)
        self.params.extend(params)
        return self

    def join(self, separator: str) -> str:
        return separator.join(self.parts)


_KEY = 2**32
_RUNNING = "OVER (PARTITION BY {t}.customer_id ORDER BY {t}.corder ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
_WHOLE = "OVER (PARTITION BY {t}.customer_id)"


def _channel_caps(caps: list[tuple[str, int, int]], past: dict[tuple, str]) -> tuple[_Sql, _Sql]:
    """Step 1, per channel: the rank among the customer's candidates of that channel still in (the
    running counts), and the CASE branches excluding who goes over the channel's cap."""
    running, limits = _Sql(), _Sql()
    for number, (channel, count, days) in enumerate(caps):
        running.add(f"SUM(CASE WHEN w.reason IS NULL AND w.channel = %s THEN 1 ELSE 0 END) "
                    f"{_RUNNING.format(t='w')} AS ch{number}", channel)
        limits.add(f"WHEN w.channel = %s AND w.ch{number} > %s - w.{past[(days, 'channel', channel)]} THEN %s",
                   channel, count, Reason.CHANNEL_CAP)
    return running, limits


def _cap_total(rules: NetworkRules) -> tuple[str, list]:
    """The customer's overall cap: their segment's, if the network gives it one."""
    segment_caps = sorted((rules.segment_caps or {}).items())
    cap_total = "%s"
    cap_params: list = [rules.cap_total]
    if segment_caps:
        cap_total = f"(CASE w.segment {' '.join('WHEN %s THEN %s' for _segment in segment_caps)} ELSE %s END)"
        cap_params = [v for pair in segment_caps for v in pair] + [rules.cap_total]
    return cap_total, cap_params


def _quota(rules: NetworkRules, past: dict[tuple, str], cap_total: str, cap_params: list) -> _Sql:
    """Step 2, the quota: the rank among the customer's candidates of one origin still in, over
    the overall cap less what is reserved for the other origin."""
    quota = _Sql()
    for origin, reserved_for_other in ((Origin.LOCAL, rules.national_reserved), (Origin.NATIONAL, rules.local_reserved)):
        if reserved_for_other:
            quota.add(f"WHEN w.origin = %s AND SUM(CASE WHEN w.reason_c IS NULL AND w.origin = %s THEN 1 ELSE 0 END) "
                      f"{_RUNNING.format(t='w')} > {cap_total} - %s - w.{past[(rules.cap_days, 'origin', origin)]} "
                      f"THEN %s", origin, origin, *cap_params, reserved_for_other, Reason.QUOTA)
    return quota


def _lost_to(operations: list[int], caps: list[tuple[str, int, int]], key: str) -> tuple[_Sql, _Sql]:
    """Step 4, who each loser lost to: the customer's first selected message of the operation; the
    last selected campaign (the one that took the last slot) of the channel, of the origin, of
    marketing — the winners' columns, and the CASE branches naming each loser's."""
    whole = _WHOLE.format(t="w")
    winners, lost = _Sql(), _Sql()
    for number, operation_id in enumerate(operations):
        winners.add(f"MIN(CASE WHEN w.reason_e IS NULL AND w.operation_id = %s THEN {key} END) {whole} AS op{number}",
                    operation_id)
        lost.add(f"WHEN w.reason_e = %s AND w.operation_id = %s THEN w.op{number}", Reason.SAME_OPERATION, operation_id)
    for number, (channel, _count, _days) in enumerate(caps):
        winners.add(f"MAX(CASE WHEN w.reason_e IS NULL AND w.channel = %s THEN {key} END) {whole} AS last_ch{number}",
                    channel)
        lost.add(f"WHEN w.reason_e = %s AND w.channel = %s THEN w.last_ch{number}", Reason.CHANNEL_CAP, channel)
    for origin in (Origin.LOCAL, Origin.NATIONAL):
        winners.add(f"MAX(CASE WHEN w.reason_e IS NULL AND w.origin = %s THEN {key} END) {whole} AS last_{origin}",
                    origin)
        lost.add(f"WHEN w.reason_e = %s AND w.origin = %s THEN w.last_{origin}", Reason.QUOTA, origin)
    winners.add(f"MAX(CASE WHEN w.reason_e IS NULL AND w.origin <> %s THEN {key} END) {whole} AS last_marketing",
                Origin.TRANSACTIONAL)
    lost.add("WHEN w.reason_e = %s THEN w.last_marketing", Reason.PRESSURE_CAP)
    return winners, lost


def _caps_and_write(run: ArbitrationRun, rules: NetworkRules, past: dict[tuple, str], operations: list[int],
                    table: str) -> int:
    """The caps per channel, then the quota, then the overall cap, then who each loser lost to,
    and every decision written to ``Candidate`` — one INSERT … SELECT. Each cap is a running count,
    over the customer's candidates in the order of the rules, of those still in after the previous
    cap; all of them share one sort (customer, rank of the campaign), which also puts the rows in
    the order of the (run, customer) index."""
    caps = sorted((channel, int(cap.get("count", 0)), int(cap.get("days", rules.cap_days)))
                  for channel, cap in (rules.channel_caps or {}).items())
    past_columns = ", ".join(f"COALESCE(p.{column}, 0) AS {column}" for column in sorted(set(past.values())))
    # A campaign's place in the order and its id in one number (ids stay below 2³²): the MIN or MAX
    # of it over a customer's candidates names the first or last campaign without another join.
    key = f"w.corder * {_KEY} + w.campaign_id"
    # 1. per channel: the rank among the customer's candidates of that channel still in
    running, limits = _channel_caps(caps, past)
    # Only the candidates still in go through the caps (and the losers of "one per operation",
    # whose winner is known at the end); the others are written as they are.
    level_c = _Sql().add("SELECT w.campaign_id, w.customer_id, w.branch_id, w.corder, w.channel, w.origin, "
                         f"w.operation_id, w.segment, w.reason, {past_columns}" + "".join(f", {part}" for part in running.parts),
                         *running.params)
    level_c.add(f"FROM {WORK} w LEFT JOIN {PAST} p ON p.customer_id = w.customer_id "
                "WHERE w.reason IS NULL OR w.reason = %s", Reason.SAME_OPERATION)
    reason_c = (f"CASE WHEN w.reason IS NOT NULL THEN w.reason {limits.join(' ')} ELSE NULL END" if caps
                else "w.reason")
    cap_total, cap_params = _cap_total(rules)
    # 2. the quota: the rank among the customer's candidates of one origin still in
    quota = _quota(rules, past, cap_total, cap_params)
    reason_d = (f"CASE WHEN w.reason_c IS NOT NULL THEN w.reason_c {quota.join(' ')} ELSE NULL END" if quota.parts
                else "w.reason_c")
    # 3. the overall cap on marketing
    total = past[(rules.cap_days, None, None)]
    reason_e = (f"CASE WHEN w.reason_d IS NOT NULL THEN w.reason_d WHEN w.origin <> %s AND "
                f"SUM(CASE WHEN w.reason_d IS NULL AND w.origin <> %s THEN 1 ELSE 0 END) {_RUNNING.format(t='w')} "
                f"> {cap_total} - w.{total} THEN %s ELSE NULL END")
    reason_e_params = [Origin.TRANSACTIONAL, Origin.TRANSACTIONAL, *cap_params, Reason.PRESSURE_CAP]
    # 4. who each loser lost to: the customer's first selected message of the operation; the last
    # selected campaign (the one that took the last slot) of the channel, of the origin, of marketing
    winners, lost = _lost_to(operations, caps, key)
    # 5. the control group: of those the rules select, the campaign's share drawn at random (the same
    # draw in every run: a hash of the customer and the campaign) receives nothing
    held = f"(k.holdout > 0 AND {holdout_draw('f.customer_id', 'f.campaign_id')} < k.holdout)"
    # Names are the models' and this module's, values are all bound.
    columns = ("run_id, campaign_id, customer_id, branch_id, channel, origin, operation_id, priority, send_date, "
               "scheduled_at, selected, reason, lost_to_id")
    sql = (
        f"INSERT INTO {table} ({columns}) "  # noqa: S608
        f"SELECT %s, f.campaign_id, f.customer_id, f.branch_id, f.channel, f.origin, f.operation_id, k.priority, "
        f"k.send_date, k.scheduled_at, f.reason_e IS NULL AND NOT {held}, "
        f"CASE WHEN f.reason_e IS NOT NULL THEN f.reason_e WHEN {held} THEN %s ELSE '' END, f.lost_key %% {_KEY} FROM ("
        f"SELECT w.*, CASE {lost.join(' ')} ELSE NULL END AS lost_key FROM ("
        f"SELECT w.*, {', '.join(winners.parts)} FROM ("
        f"SELECT w.*, {reason_e} AS reason_e FROM ("
        f"SELECT w.*, {reason_d} AS reason_d FROM ("
        f"SELECT w.*, {reason_c} AS reason_c FROM ({level_c.join(' ')}) w"
        f") w) w) w) w) f JOIN {CAMPAIGNS} k ON k.campaign_id = f.campaign_id "
        f"UNION ALL SELECT %s, w.campaign_id, w.customer_id, w.branch_id, w.channel, w.origin, w.operation_id, "
        f"k.priority, k.send_date, k.scheduled_at, %s, w.reason, "
        f"CASE WHEN w.reason = %s THEN w.campaign_id WHEN w.reason = %s THEN j.jlost END "
        f"FROM {WORK} w JOIN {CAMPAIGNS} k ON k.campaign_id = w.campaign_id "
        f"LEFT JOIN {JOINS} j ON w.reason = %s AND j.campaign_id = w.campaign_id AND j.jb = COALESCE(w.branch_id, 0) "
        f"WHERE w.reason <> %s"
    )
    params = [run.pk, Reason.HOLDOUT, *lost.params, *winners.params, *reason_e_params, *quota.params, *limits.params, *level_c.params,
              run.pk, False, Reason.DUPLICATE_ADDRESS, Reason.BRANCH_VERSION, Reason.BRANCH_VERSION,
              Reason.SAME_OPERATION]
    return _sql(sql, params)


def holdout_draw(customer: str, campaign: str) -> str:
    """SQL for a number in [0, 10000) drawn from a customer id and a campaign id (columns or
    values): the same pair always draws the same number, and ids that follow each other draw numbers
    spread over the range (a multiplicative hash modulo the prime 2³¹ − 1). A customer is in a
    campaign's control group when it is below the group's share in hundredths of a percent."""
    return f"((({customer}) * 2654435761 + ({campaign}) * 40503) %% 2147483647) %% 10000"


def holdout_drawn(customer_id: int, campaign_id: int) -> int:
    """``holdout_draw`` in Python (for checks and the reference implementation)."""
    return ((customer_id * 2654435761 + campaign_id * 40503) % 2147483647) % 10000
