"""Reporting's reads, each taking the acting user: the daily statistics they may see, and totals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db.models import QuerySet, Sum
from django.utils.translation import gettext as _

from central.campaigns.selectors import campaigns_visible_to
from central.channels import registry as channels
from central.models import NetworkRules, Reason
from central.rules.selectors import network_rules_of
from local_stores.models import Network, NodeKind
from local_stores.selectors import nodes_in_scope
from reporting.models import DailyStat, PressureStat
from reporting.services import METRICS


def report_scope(user) -> tuple[str, object]:
    """What ``user``'s reports cover: ("network", None) for head office, ("region", the region) for
    a regional manager, ("branch", the branch) for a branch's manager, ("none", None) for others."""
    nodes = nodes_in_scope(user)
    kinds = set(nodes.values_list("kind", flat=True))
    if NodeKind.HEAD_OFFICE in kinds:
        return "network", None
    if NodeKind.REGION in kinds:
        return "region", nodes.filter(kind=NodeKind.REGION).order_by("path").first()
    branches = list(nodes.filter(kind=NodeKind.BRANCH).order_by("path")[:2])
    if len(branches) == 1:
        return "branch", branches[0]
    return ("region", None) if branches else ("none", None)


def attribution_days_for(user) -> int:
    """The attribution days of the network ``user`` reports on (the default without one)."""
    node = nodes_in_scope(user).select_related("network").order_by("path").first()
    if node is None:
        return NetworkRules._meta.get_field("attribution_days").default
    return network_rules_of(node.network).attribution_days


#: The breakdown a report opens on, by scope.
DEFAULT_BREAKDOWN = {"network": "operation", "region": "branch", "branch": "campaign", "none": "campaign"}


def stats_visible_to(user) -> QuerySet[DailyStat]:
    """The scoping selector for statistics: the days of the campaigns ``user`` sees (a branch its
    own, a region its branches', head office its network's)."""
    return DailyStat.objects.filter(campaign__in=campaigns_visible_to(user).values("pk"))


@dataclass(frozen=True)
class Totals:
    """Metrics added up, and the rates a report shows: each over the messages sent, but the
    click-to-open rate (over those opened)."""

    audience: int = 0
    sent: int = 0
    failed: int = 0
    delivered: int = 0
    bounced_hard: int = 0
    bounced_soft: int = 0
    opened: int = 0
    clicked: int = 0
    unsubscribed: int = 0
    complained: int = 0
    recipients: int = 0
    prospects: int = 0
    buyers: int = 0
    revenue: Decimal = Decimal(0)
    holdout: int = 0
    holdout_buyers: int = 0
    holdout_revenue: Decimal = Decimal(0)
    measured: int = 0
    measured_buyers: int = 0
    measured_revenue: Decimal = Decimal(0)

    @staticmethod
    def _rate(part: int, whole: int) -> float | None:
        return part / whole if whole else None

    @property
    def delivery_rate(self) -> float | None:
        """None when nothing says whether messages were delivered (no provider reported a delivery
        or a bounce: SMTP, SMS): 0 % there would be a falsehood."""
        if not (self.delivered or self.bounced_hard or self.bounced_soft):
            return None
        return self._rate(self.delivered, self.sent)

    @property
    def bounce_rate(self) -> float | None:
        return self._rate(self.bounced_hard + self.bounced_soft, self.sent)

    @property
    def open_rate(self) -> float | None:
        return self._rate(self.opened, self.sent)

    @property
    def click_rate(self) -> float | None:
        return self._rate(self.clicked, self.sent)

    @property
    def click_to_open_rate(self) -> float | None:
        return self._rate(self.clicked, self.opened)

    @property
    def unsubscribe_rate(self) -> float | None:
        return self._rate(self.unsubscribed, self.sent)

    @property
    def complaint_rate(self) -> float | None:
        return self._rate(self.complained, self.sent)

    # --- What the purchases say (attributed revenue, and against the control groups) ---

    @property
    def conversion_rate(self) -> float | None:
        """The recipients who bought in the attribution days."""
        return self._rate(self.buyers, self.recipients)

    @property
    def revenue_per_recipient(self) -> Decimal | None:
        return (self.revenue / self.recipients).quantize(Decimal("0.01")) if self.recipients else None

    @property
    def holdout_conversion_rate(self) -> float | None:
        return self._rate(self.holdout_buyers, self.holdout)

    @property
    def measured_conversion_rate(self) -> float | None:
        """The recipients who bought, over the campaigns that had a control group only."""
        return self._rate(self.measured_buyers, self.measured) if self.holdout else None

    @property
    def conversion_uplift(self) -> float | None:
        """Percentage points the recipients bought more than their control groups (campaigns with one)."""
        if not (self.holdout and self.measured):
            return None
        return self.measured_buyers / self.measured - self.holdout_buyers / self.holdout

    @property
    def incremental_revenue(self) -> Decimal | None:
        """What the messages earned beyond what the recipients would have spent anyway: their revenue
        per head less their control groups', times the recipients (campaigns with a control group)."""
        if not (self.holdout and self.measured):
            return None
        per_head = self.measured_revenue / self.measured - self.holdout_revenue / self.holdout
        return (per_head * self.measured).quantize(Decimal("0.01"))

    @property
    def revenue_uplift(self) -> float | None:
        """How much more the recipients spent per head than their control groups, relatively."""
        if not (self.holdout and self.measured and self.holdout_revenue > 0):
            return None
        return float((self.measured_revenue / self.measured) / (self.holdout_revenue / self.holdout) - 1)


def stats_excluded(stats: QuerySet[DailyStat]) -> list[tuple[str, str, int]]:
    """The candidates of ``stats``' campaigns (already scoped) excluded by their real arbitration,
    by reason: (reason, label, count), most first."""
    counts: dict[str, int] = {}
    for excluded in stats.exclude(excluded={}).order_by().values_list("excluded", flat=True):
        for reason, count in excluded.items():
            counts[reason] = counts.get(reason, 0) + count
    labels = dict(Reason.choices)
    return [(reason, str(labels.get(reason, reason)), count)
            for reason, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


def totals_sum(parts) -> Totals:
    """Totals added up: those of the groups of a breakdown give the whole (each row of the
    statistics belongs to exactly one group), without another query."""
    sums: dict = {}
    for part in parts:
        for metric in METRICS:
            sums[metric] = sums.get(metric, 0) + getattr(part, metric)
    return _totals(sums)


def stats_totals(stats: QuerySet[DailyStat]) -> Totals:
    """The metrics of ``stats`` (already scoped) added up: one query."""
    return _totals(stats.order_by().aggregate(**{metric: Sum(metric) for metric in METRICS}))


#: The metrics that are amounts (Decimal), the others being counts.
_AMOUNTS = {"revenue", "holdout_revenue", "measured_revenue"}


def _totals(sums: dict) -> Totals:
    return Totals(**{metric: sums.get(metric) or (Decimal(0) if metric in _AMOUNTS else 0) for metric in METRICS})


#: How a dashboard breaks its statistics down: the column grouped by, and the one naming each group.
BREAKDOWNS = {
    "day": ("day", "day"),
    "operation": ("operation_id", "operation__name"),
    "region": ("region_id", "region__name"),
    "branch": ("branch_id", "branch__name"),
    "channel": ("channel", "channel"),
    "campaign": ("campaign_id", "campaign__public_id"),
}


def stats_for_period(user, *, starts_on, ends_on, channel: str = "") -> QuerySet[DailyStat]:
    """The statistics ``user`` sees, of the days in [starts_on, ends_on] (and of one channel)."""
    stats = stats_visible_to(user).filter(day__range=(starts_on, ends_on))
    return stats.filter(channel=channel) if channel else stats


#: What the chart and the rankings need (the others stay 0): fewer sums, for the larger groupings.
ENGAGEMENT = ("sent", "opened", "clicked", "unsubscribed", "bounced_hard", "bounced_soft", "delivered")


def stats_breakdown(stats: QuerySet[DailyStat], by: str, metrics=METRICS) -> list[tuple[object, str, Totals]]:
    """``stats`` (already scoped) added up per group: (key, label, totals) — of ``metrics`` only,
    the others 0 —, in the order of the key for days, of the messages sent otherwise (most first).
    One query."""
    key, label = BREAKDOWNS[by]
    columns = [key] if key == label else [key, label]
    groups = (stats.order_by().values(*columns).annotate(**{metric: Sum(metric) for metric in metrics}))
    result = [(row[key], str(row[label]) if row[label] is not None else "", _totals(row)) for row in groups]
    if by == "day":
        return sorted(result, key=lambda item: item[0])
    return sorted(result, key=lambda item: (-item[2].sent, item[1]))


def breakdown_for(user, stats: QuerySet[DailyStat], by: str) -> list[tuple[object, str, Totals]]:
    """``stats_breakdown`` with readable labels: a campaign by its operation or template and its
    branch (among the campaigns ``user`` sees), a channel by its name, the groups without a value
    by what that means."""
    rows = stats_breakdown(stats, by)
    if by == "campaign":
        names = {campaign.pk: str(campaign) for campaign in campaigns_visible_to(user).filter(pk__in=[r[0] for r in rows])}
        return [(key, names.get(key, label), totals) for key, label, totals in rows]
    if by == "channel":
        return [(key, str(channels.get(key).label), totals) for key, label, totals in rows]
    empty = {"operation": _("Without an operation"), "region": _("Head office"), "branch": _("Head office")}.get(by, "")
    return [(key, label or empty, totals) for key, label, totals in rows]


#: Below this many branches with messages sent in the period, a branch is not compared with the
#: others: quartiles of three branches would all but name them.
COMPARISON_MIN_BRANCHES = 5
COMPARED_RATES = ("open_rate", "click_rate", "unsubscribe_rate", "bounce_rate")


@dataclass(frozen=True)
class Comparison:
    """One rate of a branch beside the network's branches: their lower quartile, median and upper
    quartile — figures only, no branch named."""

    rate: str
    own: float | None
    lower: float | None
    median: float | None
    upper: float | None


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)

    def at(share: float) -> float:  # linear interpolation between the closest ranks
        position = share * (len(ordered) - 1)
        low = int(position)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (position - low)

    return at(0.25), at(0.5), at(0.75)


def branch_comparison(*, branch, starts_on, ends_on, channel: str = "") -> list[Comparison] | None:
    """How ``branch`` compares with the branches of its network over the period: its rates beside
    their quartiles, over the branches that sent messages — or None when fewer than
    ``COMPARISON_MIN_BRANCHES`` did. The caller has already checked that the user sees ``branch``;
    what is read of the other branches leaves this function as quartiles only."""
    stats = DailyStat.objects.filter(network_id=branch.network_id, branch__isnull=False,
                                     day__range=(starts_on, ends_on))
    if channel:
        stats = stats.filter(channel=channel)
    per_branch = {key: totals for key, _label, totals in stats_breakdown(stats, "branch", ENGAGEMENT) if totals.sent}
    if len(per_branch) < COMPARISON_MIN_BRANCHES:
        return None
    own = per_branch.get(branch.pk, Totals())
    comparisons = []
    for rate in COMPARED_RATES:
        values = [getattr(totals, rate) for totals in per_branch.values() if getattr(totals, rate) is not None]
        lower, median, upper = _quartiles(values) if values else (None, None, None)
        comparisons.append(Comparison(rate=rate, own=getattr(own, rate), lower=lower, median=median, upper=upper))
    return comparisons


#: A local campaign is ranked once it has sent this many messages: a rate over a handful means little.
LEADERBOARD_MIN_SENT = 100


def local_leaderboard(user, *, network_id: int | None, starts_on, ends_on, channel: str = "",
                      limit: int = 10) -> list[tuple[object, Totals]]:
    """The best local campaigns (branches' own: kits and free campaigns) of the period, for head
    office: those of ``LEADERBOARD_MIN_SENT`` messages or more, by click rate, then open rate, then
    messages sent — among the campaigns ``user`` sees. [(campaign, totals)]"""
    stats = stats_for_period(user, starts_on=starts_on, ends_on=ends_on, channel=channel).filter(origin="local")
    if network_id is not None:
        stats = stats.filter(network_id=network_id)
    rows = [(key, totals) for key, _label, totals in stats_breakdown(stats, "campaign", ENGAGEMENT)
            if totals.sent >= LEADERBOARD_MIN_SENT]
    rows.sort(key=lambda row: (-(row[1].click_rate or 0), -(row[1].open_rate or 0), -row[1].sent, row[0]))
    rows = rows[:limit]
    campaigns = campaigns_visible_to(user).filter(pk__in=[key for key, _totals in rows]).in_bulk()
    return [(campaigns[key], totals) for key, totals in rows if key in campaigns]


#: The pressure's buckets: 1, 2, 3 messages in a week, and 4 or more.
PRESSURE_BUCKETS = (1, 2, 3, 4)


@dataclass(frozen=True)
class PressureBucket:
    contacts: int  # the last bucket means "this many or more"
    customer_weeks: int
    share: float | None


def pressure_received(user, *, starts_on, ends_on) -> list[PressureBucket]:
    """How many marketing messages the customers of the networks whose head office ``user``
    belongs to received per week, over the weeks (Monday to Sunday) that overlap [starts_on,
    ends_on]: per bucket, the
    customer-weeks and their share (customers not contacted in a week are not counted). Empty for
    anyone but head office."""
    networks = Network.objects.filter(nodes__in=nodes_in_scope(user).filter(kind=NodeKind.HEAD_OFFICE))
    first_week = starts_on - timedelta(days=starts_on.weekday())
    rows = (PressureStat.objects.filter(network__in=networks, week__range=(first_week, ends_on)).order_by()
            .values("contacts").annotate(n=Sum("customers")))
    counts = dict.fromkeys(PRESSURE_BUCKETS, 0)
    for row in rows:
        counts[min(row["contacts"], PRESSURE_BUCKETS[-1])] += row["n"]
    total = sum(counts.values())
    return [PressureBucket(contacts=bucket, customer_weeks=count, share=count / total if total else None)
            for bucket, count in counts.items()]
