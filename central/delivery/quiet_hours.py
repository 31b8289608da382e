"""Quiet hours: the network's local hours (``NetworkRules.quiet_from``/``quiet_until``, in the
network's time zone, ``Network.time_zone``) when no message leaves; a chunk stops and is
re-scheduled for their end."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from central.models import (
    NetworkRules,
)
from local_stores.locale import network_zone


def quiet_hours_end(rules: NetworkRules, now: datetime) -> datetime | None:
    """If ``now`` falls in the network's quiet hours (its local time; ``quiet_from`` after
    ``quiet_until`` spans midnight, e.g. 20:30 → 08:00), when they end; else None."""
    start, end = rules.quiet_from, rules.quiet_until
    if start is None or end is None or start == end:
        return None
    # the network's clock, whoever runs this (a worker in the installation's zone, a page in the viewer's)
    local = timezone.localtime(now, network_zone(rules.network) or timezone.get_default_timezone())
    moment = local.time()
    if start < end:
        inside, day = start <= moment < end, local.date()
    else:
        inside = moment >= start or moment < end
        day = local.date() if moment < end else local.date() + timedelta(days=1)
    if not inside:
        return None
    return datetime.combine(day, end, tzinfo=local.tzinfo)
