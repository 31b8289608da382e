"""The scheduled tasks run each network on its own day (its time zone, issue 22): a campaign due on a
day is sent when that day has begun where its network is, not where the installation is; the same
for proof reminders/escalations and subscription-deadline reminders.

The clock is set to one instant (``timezone.now``) at which Tokyo (UTC+9) is already on the send day
while Los Angeles (UTC−8) and Paris are still on the day before."""

from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone

from approvals.services import proof_deadlines_run, proof_request
from central.calendar.deadlines import deadline_reminders_send
from central.campaigns.services import campaign_schedule, campaign_update
from central.delivery.sending import campaigns_send_due
from central.models import Campaign, CampaignStatus
from local_stores.locale import latest_today, network_today
from tests.dispatching import SLOT_VALUES, add_customers, approve_all, email_version
from tests.planning import joined_campaign

pytestmark = pytest.mark.django_db

TOKYO, LOS_ANGELES = "Asia/Tokyo", "America/Los_Angeles"


def _clock_at_eve_of(monkeypatch, day):
    """20:00 UTC on the day before ``day``: 05:00 on ``day`` in Tokyo, 12:00 the day before in Los Angeles."""
    instant = datetime.combine(day - timedelta(days=1), time(20, 0), tzinfo=UTC)
    monkeypatch.setattr(timezone, "now", lambda: instant)


def _zone(network, name):
    network.time_zone = name
    network.save(update_fields=["time_zone"])


def test_network_today_follows_its_zone_and_latest_today_bounds_every_zone(world, monkeypatch):
    network = world.networks["alpha"]
    day = timezone.localdate() + timedelta(days=10)
    _clock_at_eve_of(monkeypatch, day)
    _zone(network, TOKYO)
    assert network_today(network) == day
    _zone(network, LOS_ANGELES)
    assert network_today(network) == day - timedelta(days=1)
    _zone(network, "Not/A_Zone")  # a stale name: the installation's (Paris, 21:00 the day before)
    assert network_today(network) == day - timedelta(days=1)
    assert latest_today() == day  # 10:00 on the day at UTC+14


def test_a_scheduled_campaign_leaves_when_its_day_begins_where_its_network_is(world, monkeypatch,
                                                                              django_capture_on_commit_callbacks):
    manager = world.users["branch_manager"]
    campaign = joined_campaign(world, version=email_version(world), reachable=0)
    add_customers(world, 2)
    campaign_update(campaign=campaign, updated_by=manager, slot_values=SLOT_VALUES)
    approve_all(world, proof_request(campaign=campaign, requested_by=manager))
    campaign_schedule(campaign=Campaign.objects.get(pk=campaign.pk), scheduled_by=manager)
    day = Campaign.objects.get(pk=campaign.pk).send_date
    _clock_at_eve_of(monkeypatch, day)

    _zone(campaign.network, LOS_ANGELES)  # still the day before there
    with django_capture_on_commit_callbacks(execute=True):
        assert campaigns_send_due() == {"runs": 0, "campaigns": 0, "deliveries": 0}
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.SCHEDULED

    _zone(campaign.network, TOKYO)  # the day has begun there
    with django_capture_on_commit_callbacks(execute=True):
        done = campaigns_send_due()
    assert done["runs"] == 1 and done["campaigns"] == 1
    assert Campaign.objects.get(pk=campaign.pk).status in (CampaignStatus.SENDING, CampaignStatus.SENT)


def test_proof_reminders_and_escalations_follow_the_networks_day(world, monkeypatch):
    manager = world.users["branch_manager"]
    campaign = joined_campaign(world)
    proof = proof_request(campaign=campaign, requested_by=manager)
    # the reminder goes the day before the deadline: that day has begun in Tokyo, not in Los Angeles
    _clock_at_eve_of(monkeypatch, proof.decision_deadline - timedelta(days=1))
    _zone(campaign.network, LOS_ANGELES)
    assert proof_deadlines_run() == {"reminded": 0, "escalated": 0}
    _zone(campaign.network, TOKYO)
    assert proof_deadlines_run() == {"reminded": 1, "escalated": 0}


def test_subscription_deadline_reminders_follow_the_networks_day(world, monkeypatch, settings):
    from central.models import Operation, OperationMode, OperationStatus

    campaign = joined_campaign(world)
    operation = campaign.operation
    Operation.objects.filter(pk=operation.pk).update(mode=OperationMode.OPT_IN, status=OperationStatus.PUBLISHED)
    operation.refresh_from_db()
    settings.RELAIS_REMINDER_DAYS = [2]
    deadline = operation.subscription_deadline or (timezone.localdate() + timedelta(days=5))
    Operation.objects.filter(pk=operation.pk).update(subscription_deadline=deadline)
    operation.participations.all().delete()  # nobody has answered yet
    _clock_at_eve_of(monkeypatch, deadline - timedelta(days=2))
    _zone(operation.network, LOS_ANGELES)
    assert deadline_reminders_send() == 0
    _zone(operation.network, TOKYO)
    assert deadline_reminders_send() > 0


def test_quiet_hours_are_the_networks_own_hours(world):
    """20:30 → 08:00 in New York: 08:00 in Paris (02:00 in New York) is still quiet there, and the
    quiet hours end at 08:00 New York time — whatever zone the worker runs in."""
    from datetime import time as clock
    from zoneinfo import ZoneInfo

    from central.arbitration import rules_for
    from central.delivery.quiet_hours import quiet_hours_end

    _zone(world.networks["alpha"], "America/New_York")
    rules = rules_for(world.networks["alpha"])
    rules.quiet_from, rules.quiet_until = clock(20, 30), clock(8, 0)
    paris_morning = datetime(2026, 3, 2, 8, 0, tzinfo=ZoneInfo("Europe/Paris"))  # 02:00 in New York
    end = quiet_hours_end(rules, paris_morning)
    assert end == datetime(2026, 3, 2, 8, 0, tzinfo=ZoneInfo("America/New_York"))
    new_york_noon = datetime(2026, 3, 2, 12, 0, tzinfo=ZoneInfo("America/New_York"))  # 18:00 in Paris
    assert quiet_hours_end(rules, new_york_noon) is None
