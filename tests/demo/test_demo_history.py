"""The demo's year of history (fixtures/demo_history.py): on a freshly loaded demo, every report
has figures — the dashboard of head office, of a region and of a branch, its chart, the local
leaderboard, the branch beside the network's branches, the budgets — and they are those of the
deliveries and the providers' events underneath, as the roll-up task built them."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from central.models import (
    Campaign,
    CampaignStatus,
    Candidate,
    Contact,
    Delivery,
    DeliveryStatus,
    Purchase,
    Reason,
)
from fixtures.demo import load_demo
from local_stores.models import Network
from reporting.models import DailyStat, ProviderEvent
from tests.conftest import built_once

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with built_once(django_db_blocker, lambda: load_demo(customers=800)) as loaded:
        yield loaded


def _client(client, username):
    client.force_login(get_user_model().objects.get(username=username))
    return client


def _year():
    today = timezone.localdate()
    return {"starts_on": (today - timedelta(days=365)).isoformat(), "ends_on": today.isoformat(), "channel": ""}


def test_head_office_dashboard_shows_sends_opens_clicks_and_revenue(demo, client):
    response = _client(client, "marie.dupont").get(reverse("reporting:dashboard"))  # the last 30 days
    assert response.status_code == 200
    totals = response.context["totals"]
    assert totals.sent > 0 and totals.opened > 0 and totals.clicked > 0
    assert totals.delivered > 0 and totals.revenue > 0 and totals.buyers > 0
    assert response.context["chart"] is not None and "<svg" in response.content.decode()
    assert len(response.context["rows"]) > 1  # broken down by operation
    assert "No message was sent" not in response.content.decode()
    year = client.get(reverse("reporting:dashboard"), {**_year(), "by": "branch"})
    totals = year.context["totals"]
    assert totals.bounced_hard > 0 and totals.bounced_soft > 0 and totals.unsubscribed > 0
    assert totals.holdout > 0 and totals.holdout_buyers > 0  # control groups, measured
    assert totals.incremental_revenue is not None
    assert len([row for row in year.context["rows"] if row[2].sent]) >= 10  # the branches (and head office)
    assert year.context["excluded"], "the real arbitrations excluded some candidates"


def test_the_figures_are_those_of_the_deliveries_and_events(demo, client):
    comptoir = Network.objects.get(slug="comptoir")
    sent = Delivery.objects.filter(campaign__network=comptoir, status=DeliveryStatus.SENT)
    year = _client(client, "marie.dupont").get(reverse("reporting:dashboard"), {**_year(), "by": "channel"})
    totals = year.context["totals"]
    assert totals.sent == sent.count() > 0
    assert Contact.objects.filter(customer__network=comptoir).count() == sent.count()  # one per message, as sent
    opened = ProviderEvent.objects.filter(delivery__campaign__network=comptoir, kind=ProviderEvent.Kind.OPENED)
    assert totals.opened == opened.values("delivery").distinct().count() > 0
    clicked = ProviderEvent.objects.filter(delivery__campaign__network=comptoir, kind=ProviderEvent.Kind.CLICKED)
    assert totals.clicked == clicked.values("delivery").distinct().count() > 0
    # every campaign of the history is sent, and what it sent is rolled up
    history = Campaign.objects.filter(network=comptoir, deliveries__isnull=False).distinct()
    assert set(history.values_list("status", flat=True)) == {CampaignStatus.SENT}
    assert DailyStat.objects.filter(network=comptoir).values("campaign").distinct().count() == history.count()
    # the control groups bought less than the recipients of the same campaigns
    assert totals.measured_conversion_rate > totals.holdout_conversion_rate
    assert Purchase.objects.filter(network=comptoir).count() > 1000
    assert sum(row[2].sent for row in year.context["rows"]) == totals.sent


def test_control_group_customers_got_no_message_of_their_campaign(demo):
    held = list(Candidate.objects.filter(reason=Reason.HOLDOUT).values_list("campaign_id", "customer_id"))
    assert held
    sent = set(Delivery.objects.filter(campaign_id__in={c for c, _ in held}).values_list("campaign_id", "customer_id"))
    assert not sent & set(held)


def test_leaderboard_lists_branches_local_campaigns_with_figures(demo, client):
    response = _client(client, "marie.dupont").get(reverse("reporting:dashboard"), {**_year(), "by": "operation"})
    leaderboard = response.context["leaderboard"]
    assert leaderboard
    assert all(campaign.branch_id and totals.sent >= 100 for campaign, totals in leaderboard)
    assert leaderboard[0][0].branch.name in response.content.decode()
    assert response.context["pressure_total"] > 1


def test_regional_manager_sees_the_branches_of_the_region(demo, client):
    response = _client(client, "paul.martin").get(reverse("reporting:dashboard"))
    rows = response.context["rows"]
    assert response.context["totals"].sent > 0
    assert {label for _key, label, totals in rows if totals.sent} <= {
        "Comptoir Paris 11e", "Comptoir Paris 15e", "Comptoir Versailles", "Comptoir Boulogne"}
    assert len([row for row in rows if row[2].sent]) >= 2


@pytest.mark.parametrize("username", ["claire.bernard", "karim.haddad"])
def test_branch_manager_sees_the_branch_beside_the_network(demo, client, username):
    response = _client(client, username).get(reverse("reporting:dashboard"))  # the last 30 days
    assert response.status_code == 200
    assert response.context["totals"].sent > 0
    comparison = response.context["comparison"]
    assert comparison is not None, "at least five branches sent messages in the last 30 days"
    rates = {c.rate: c for c in comparison}
    assert rates["open_rate"].median and rates["open_rate"].median > 0
    assert rates["click_rate"].upper and rates["click_rate"].upper > 0
    assert response.context["chart"] is not None


@pytest.mark.parametrize("username", ["marie.dupont", "paul.martin", "claire.bernard"])
def test_budgets_show_money_spent(demo, client, username):
    today = timezone.localdate()
    response = _client(client, username).get(reverse("budgets:budget-list"), {
        "starts_on": (today - timedelta(days=365)).isoformat(), "ends_on": today.isoformat()})
    assert response.status_code == 200
    totals = response.context["totals"]
    assert totals["allocated"] > 0
    assert totals["spent"] > Decimal("0.00")
    assert totals["spent"] < totals["allocated"]


def test_provider_events_of_every_kind_at_plausible_rates(demo):
    comptoir = Network.objects.get(slug="comptoir")
    assert DailyStat.objects.filter(network=comptoir).exists()
    counts = dict(ProviderEvent.objects.filter(delivery__campaign__network=comptoir).values_list("kind")
                  .annotate(n=Count("id")).values_list("kind", "n"))
    assert set(counts) >= {"delivered", "opened", "clicked", "bounced", "deferred"}
    assert counts["opened"] < counts["delivered"] and counts["clicked"] < counts["opened"]
