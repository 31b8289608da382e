"""The clashes a campaign meets while it is planned (reads on behalf of a user): blackout periods,
periods reserved for local campaigns, other campaigns on the same channel a few days apart whose
audience overlaps, and the customers the pressure rules are expected to exclude (from the latest
simulation). Above both the campaigns' and the rules' selectors, which it reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Q
from django.utils.translation import gettext as _

from central.calendar.selectors import blackout_periods_on
from central.campaigns.selectors import campaign_audience
from central.models import CalendarPeriod, Campaign, CampaignStatus
from central.rules.selectors import campaign_pressure_exclusions
from local_stores.selectors import UserLike

#: Two campaigns "clash" when they send on the same channel within this many days of each other.
CLASH_WINDOW_DAYS = 2

#: The most other campaigns compared.
CLASH_LIST_LIMIT = 20


@dataclass(frozen=True)
class Clash:
    """A warning shown while planning: another campaign on the same channel within a few days with
    customers in common, or a period of the calendar."""

    #: "campaign" | "blackout" | "local_reserved" | "pressure" (``overlap``: how many of the
    #: customers the network's pressure rules are expected to exclude, per the latest simulation)
    kind: str
    label: str
    send_date: date | None = None
    overlap: int | None = None
    blocking: bool = False


def campaign_clashes(
    *, fetched_by: UserLike, campaign: Campaign, send_date: date | None = None,
    criteria: dict[str, object] | None = None,
) -> list[Clash]:
    """What collides with ``campaign`` if sent on ``send_date`` (default: its own) to ``criteria``
    (default: its own): blackout periods (blocking), a national campaign in a period reserved for
    local ones, and campaigns on the same channel within CLASH_WINDOW_DAYS whose audience overlaps
    (counted on the customers ``fetched_by`` sees), and how many of its customers the pressure
    rules are expected to exclude on that day (from the latest simulation that arbitrated it on
    that day). Other campaigns' names are shown only as far as the user may see them."""
    day = send_date or campaign.send_date
    clashes = [
        Clash("blackout", period.name, blocking=True)
        for period in blackout_periods_on(network_id=campaign.network_id, day=day, channel=campaign.channel)
    ]
    if campaign.branch_id is None:
        clashes += [
            Clash("local_reserved", period.name)
            for period in CalendarPeriod.objects.filter(
                network_id=campaign.network_id, kind=CalendarPeriod.Kind.LOCAL_RESERVED,
                starts_on__lte=day, ends_on__gte=day,
            )
            if not period.channels or campaign.channel in period.channels
        ]
    window = (day - timedelta(days=CLASH_WINDOW_DAYS), day + timedelta(days=CLASH_WINDOW_DAYS))
    others = (
        Campaign.objects.filter(network_id=campaign.network_id, channel=campaign.channel, send_date__range=window)
        .exclude(status=CampaignStatus.CANCELLED)
        .exclude(pk=campaign.pk)
        .select_related("operation", "branch", "template_version__template")
        .order_by("send_date", "id")
    )
    if campaign.branch_id is not None:  # a branch's customers meet only its own and national campaigns
        others = others.filter(Q(branch_id=campaign.branch_id) | Q(branch__isnull=True))
    audience = campaign_audience(fetched_by=fetched_by, campaign=campaign, criteria=criteria)
    for other in others[:CLASH_LIST_LIMIT]:
        other_audience = campaign_audience(fetched_by=fetched_by, campaign=other)
        overlap = audience.filter(pk__in=other_audience.values("pk")).count()
        if overlap:
            clashes.append(Clash("campaign", _campaign_label(other), send_date=other.send_date, overlap=overlap))
    excluded = campaign_pressure_exclusions(fetched_by=fetched_by, campaign=campaign, day=day)
    if excluded:
        clashes.append(Clash("pressure", _("the network's pressure rules"), send_date=day, overlap=excluded))
    return clashes


def _campaign_label(campaign: Campaign) -> str:
    name = campaign.operation.name if campaign.operation_id else campaign.template_version.template.name
    where = campaign.branch.name if campaign.branch_id else _("national")
    return f"{name} ({where})"
