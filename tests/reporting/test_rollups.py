"""The daily roll-ups, on a scripted send whose answer is written by hand: ten e-mails sent, known
opens (one of them on two days), clicks, deliveries, bounces, a spam report and an unsubscription,
from Relais's own tracking and from the provider. The totals, each metric's day and the rates are
exact; the task run twice gives the same rows; an event recorded later is taken up by the next
incremental run; and a user sees only the statistics of the campaigns they see."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from central.delivery import sending, tracking
from central.models import (
    Campaign,
    CampaignStatus,
    ConsentStatus,
    Delivery,
    DeliveryStatus,
    Reason,
    TrackingEvent,
)
from reporting.models import DailyStat, ProviderEvent
from reporting.selectors import stats_excluded, stats_totals, stats_visible_to
from reporting.services import rollups_refresh
from tests.dispatching import add_customers, email_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture
def scripted(world, django_capture_on_commit_callbacks):
    """Ten e-mails of N1 sent today (and a customer who refused e-mail, excluded by the
    arbitration); their events today and tomorrow. Returns (campaign, today, tomorrow)."""
    add_customers(world, 1, prefix="refusing", consent_email=ConsentStatus.DENIED)
    campaign = email_campaign(world, 9)
    with django_capture_on_commit_callbacks(execute=True):
        sending.campaign_dispatch(campaign=campaign)
    deliveries = list(Delivery.objects.filter(campaign=campaign).order_by("pk"))
    assert [d.status for d in deliveries] == [DeliveryStatus.SENT] * 10
    now = timezone.now()
    today, later = timezone.localdate(now), now + timedelta(days=1)

    def track(index, kind, at=now, url=""):
        tracking.tracking_record(delivery=deliveries[index], kind=kind, url=url, at=at)

    def provider(index, kind, at=now):
        ProviderEvent.objects.create(delivery=deliveries[index], kind=kind, esp="Mailgun",
                                     event_id=f"{index}-{kind}-{at.isoformat()}", occurred_at=at)

    for index in range(4):
        track(index, TrackingEvent.Kind.OPEN)           # 0–3 opened today…
    track(0, TrackingEvent.Kind.OPEN, at=later)          # … 0 again tomorrow: counted once, today
    provider(1, ProviderEvent.Kind.OPENED, at=later)     # … 1 seen by the provider's tracking too
    provider(4, ProviderEvent.Kind.OPENED, at=later)     # 4 opened tomorrow only
    track(0, TrackingEvent.Kind.CLICK, url="https://shop.example/a")
    track(0, TrackingEvent.Kind.CLICK, url="https://shop.example/b")  # a second link: one clicker
    provider(1, ProviderEvent.Kind.CLICKED)
    for index in range(8):
        provider(index, ProviderEvent.Kind.DELIVERED)
    provider(8, ProviderEvent.Kind.BOUNCED)
    provider(9, ProviderEvent.Kind.DEFERRED)
    provider(2, ProviderEvent.Kind.COMPLAINED)
    track(3, TrackingEvent.Kind.UNSUBSCRIBE)
    return campaign, today, timezone.localdate(later)


def rows(campaign):
    return list(DailyStat.objects.filter(campaign=campaign).order_by("day").values(
        "day", "sent", "failed", "delivered", "bounced_hard", "bounced_soft", "opened", "clicked", "unsubscribed",
        "complained", "channel", "origin", "branch__code", "region__code"))


def test_a_scripted_send_gives_exactly_the_expected_days_totals_and_rates(world, scripted):
    campaign, today, tomorrow = scripted
    assert rollups_refresh(everything=True)["campaigns"] == 1
    base = {"failed": 0, "channel": "email", "origin": "national", "branch__code": "N1", "region__code": "NORTH"}
    assert rows(campaign) == [
        {"day": today, "sent": 10, "delivered": 8, "bounced_hard": 1, "bounced_soft": 1, "opened": 4, "clicked": 2,
         "unsubscribed": 1, "complained": 1, **base},
        {"day": tomorrow, "sent": 0, "delivered": 0, "bounced_hard": 0, "bounced_soft": 0, "opened": 1, "clicked": 0,
         "unsubscribed": 0, "complained": 0, **base},
    ]
    totals = stats_totals(DailyStat.objects.filter(campaign=campaign))
    assert (totals.audience, totals.sent, totals.opened, totals.clicked) == (11, 10, 5, 2)
    assert stats_excluded(DailyStat.objects.filter(campaign=campaign)) == [
        (Reason.NO_CONSENT, str(Reason.NO_CONSENT.label), 1)]
    assert (totals.delivery_rate, totals.bounce_rate, totals.open_rate, totals.click_rate) == (0.8, 0.2, 0.5, 0.2)
    assert (totals.click_to_open_rate, totals.unsubscribe_rate, totals.complaint_rate) == (0.4, 0.1, 0.1)
    # messages whose delivery nobody reports (SMTP, SMS): no delivery rate rather than 0 %
    from reporting.selectors import Totals

    assert Totals(sent=10, opened=3).delivery_rate is None and Totals(sent=10, bounced_soft=1).delivery_rate == 0


def test_the_task_run_twice_gives_the_same_rows_and_a_later_event_is_taken_up(world, scripted):
    campaign, _today, _tomorrow = scripted
    rollups_refresh()
    first = rows(campaign)
    rollups_refresh()
    rollups_refresh(everything=True)
    assert rows(campaign) == first
    # a click recorded after the last run: the next incremental run counts it
    delivery = Delivery.objects.filter(campaign=campaign).order_by("pk")[5]
    tracking.tracking_record(delivery=delivery, kind=TrackingEvent.Kind.CLICK, url="https://shop.example/c")
    assert rollups_refresh()["campaigns"] >= 1
    assert stats_totals(DailyStat.objects.filter(campaign=campaign)).clicked == 3


def test_a_user_sees_the_statistics_of_the_campaigns_they_see_and_no_other(world, scripted):
    campaign, _today, _tomorrow = scripted
    rollups_refresh(everything=True)
    expected = set(DailyStat.objects.filter(campaign=campaign).values_list("pk", flat=True))
    assert len(expected) == 2
    for actor in ("branch_manager", "regional_manager", "head_office", "analyst"):
        assert set(stats_visible_to(world.users[actor]).values_list("pk", flat=True)) == expected, actor
    for actor in ("sibling_branch_manager", "other_region_manager", "other_network_head_office", "nobody"):
        assert not stats_visible_to(world.users[actor]).exists(), actor
        assert stats_totals(stats_visible_to(world.users[actor])).sent == 0


# --- The dashboard ----------------------------------------------------------------------------------

URL = "/reports/"


def period(day, **extra):
    return {"starts_on": day.isoformat(), "ends_on": (day + timedelta(days=1)).isoformat(), "by": "campaign", **extra}


def test_the_branch_sees_its_figures_and_no_other_branch_does(world, scripted):
    campaign, today, _tomorrow = scripted
    rollups_refresh(everything=True)
    page = world.client_for("branch_manager").get(URL, period(today))
    assert page.status_code == 200
    text = page.content.decode()
    assert "50.0\u00a0%" in text and "20.0\u00a0%" in text  # open and click rates
    assert "<svg" in text and 'role="img"' in text and "kozea" not in text  # the chart, no script fetched
    assert str(campaign) in text
    sibling = world.client_for("sibling_branch_manager").get(URL, period(today)).content.decode()
    assert "No message was sent in this period" in sibling and str(campaign) not in sibling


def test_the_table_downloads_as_csv_and_xlsx_scoped_like_the_page(world, scripted):
    import io

    from openpyxl import load_workbook

    campaign, today, _tomorrow = scripted
    rollups_refresh(everything=True)
    mine = world.client_for("branch_manager").get(URL, period(today, export="csv"))
    assert mine["Content-Type"].startswith("text/csv")
    lines = b"".join(mine.streaming_content).decode("utf-8-sig").splitlines()
    assert len(lines) == 2 and lines[1].startswith(str(campaign)) and ",11,10,8," in lines[1]
    theirs = world.client_for("other_region_manager").get(URL, period(today, export="csv"))
    assert len(b"".join(theirs.streaming_content).decode("utf-8-sig").splitlines()) == 1  # the header alone
    workbook = load_workbook(io.BytesIO(world.client_for("head_office").get(URL, period(today, export="xlsx")).content))
    rows = list(workbook.active.iter_rows(values_only=True))
    assert rows[0][:3] == ("Campaign", "audience", "sent") and rows[1][:4] == (str(campaign), 11, 10, 8)


def test_a_bad_period_is_refused_with_its_reason(world):
    client = world.client_for("head_office")
    response = client.get(URL, {"starts_on": "2026-11-10", "ends_on": "2026-11-01", "by": "operation"})
    assert response.status_code == 400
    assert "The last day comes before the first." in response.content.decode()
    assert client.get(URL, {"starts_on": "yesterday", "ends_on": "2026-11-01", "by": "nothing"}).status_code == 400
    assert world.client_for("anonymous").get(URL).status_code == 302


def test_a_branch_is_compared_with_the_quartiles_of_the_others_never_with_their_names(world, scripted):
    from local_stores.models import NodeKind
    from local_stores.services import node_create
    from reporting.selectors import COMPARISON_MIN_BRANCHES

    campaign, today, _tomorrow = scripted
    rollups_refresh(everything=True)
    client = world.client_for("branch_manager")
    assert "Too few branches" in client.get(URL, period(today)).content.decode()
    # four more branches (five in all with N1) sent messages: opens of 10 %, 20 %, 30 %, 40 %
    north = world.nodes["NORTH"]
    for number in range(1, COMPARISON_MIN_BRANCHES):
        branch = node_create(parent=north, kind=NodeKind.BRANCH, code=f"X{number}", name=f"Secret shop {number}")
        theirs = Campaign.objects.create(network=campaign.network, branch=branch, channel="email", send_date=today,
                                         template_version=campaign.template_version, status=CampaignStatus.SENT)
        DailyStat.objects.create(day=today, campaign=theirs, network=campaign.network, branch=branch, region=north,
                                 channel="email", origin="local", sent=100, opened=10 * number, clicked=number)
    text = client.get(URL, period(today)).content.decode()
    # the branch code as a word: a random CSRF token may hold the letters "X1"
    assert "Lower quartile" in text and "Secret shop" not in text
    assert not re.search(r"(?<![A-Za-z0-9])X1(?![A-Za-z0-9])", text)
    # open rates 10, 20, 30, 40 and N1's 50 %: quartiles 20 %, 30 %, 40 %
    cells = re.sub(r"<td [^>]*>", "<td>", text)  # the cells' classes and phone labels aside
    assert "20.0\u00a0%</td><td>30.0\u00a0%</td><td>40.0\u00a0%" in cells


# --- The API ----------------------------------------------------------------------------------------

API = "/api/v1/reports/"


def test_the_api_gives_the_dashboards_figures_scoped_the_same_way(world, scripted):
    campaign, today, _tomorrow = scripted
    rollups_refresh(everything=True)
    mine = world.client_for("branch_manager").get(API, period(today)).json()
    assert mine["scope"] == "branch" and mine["by"] == "campaign"
    assert {key: mine["totals"][key] for key in ("sent", "opened", "clicked", "delivered")} == {
        "sent": 10, "opened": 5, "clicked": 2, "delivered": 8}
    assert mine["totals"]["open_rate"] == 0.5 and mine["totals"]["click_to_open_rate"] == 0.4
    assert [row["label"] for row in mine["breakdown"]] == [str(campaign)]
    assert mine["comparison"] is None  # one branch sent: nothing to compare with
    theirs = world.client_for("other_network_head_office").get(API, period(today)).json()
    assert theirs["totals"]["sent"] == 0 and theirs["breakdown"] == []
    by_day = world.client_for("head_office").get(API, period(today, by="day")).json()
    assert [(row["key"], row["opened"]) for row in by_day["breakdown"]] == [
        (today.isoformat(), 4), ((today + timedelta(days=1)).isoformat(), 1)]


def test_the_api_refuses_bad_parameters_field_by_field_and_strangers(world):
    client = world.client_for("head_office")
    response = client.get(API, {"starts_on": "2026-11-10", "ends_on": "2026-11-01"})
    assert response.status_code == 400 and "ends_on" in response.json()
    response = client.get(API, {"starts_on": "soon", "ends_on": "2026-11-01", "channel": "fax", "by": "mood"})
    assert response.status_code == 400 and set(response.json()) == {"starts_on", "channel", "by"}
    assert world.client_for("anonymous").get(API, {"starts_on": "2026-11-01", "ends_on": "2026-11-02"}).status_code in (
        401, 403)


def test_head_office_sees_its_best_local_campaigns_a_branch_does_not(world, scripted):
    campaign, today, _tomorrow = scripted
    rollups_refresh(everything=True)  # N1's campaign joins a national operation: not local, not ranked
    made = {}
    for code, sent, clicked in (("N1", 200, 10), ("N2", 300, 30), ("S1", 150, 30), ("N2", 99, 50)):
        local = Campaign.objects.create(network=campaign.network, branch=world.nodes[code], channel="email",
                                        send_date=today, template_version=campaign.template_version,
                                        status=CampaignStatus.SENT)
        made[(code, sent)] = local
        DailyStat.objects.create(day=today, campaign=local, network=campaign.network, branch=world.nodes[code],
                                 channel="email", origin="local", sent=sent, opened=sent // 2, clicked=clicked)
    text = world.client_for("head_office").get(URL, period(today, by="operation")).content.decode()
    section = text[text.index("Best local campaigns"):text.index("By operation")]
    # by click rate: S1 20 %, N2 10 %, N1 5 %; N2's campaign of 99 messages is not ranked
    assert [section.index(str(made[key])) for key in (("S1", 150), ("N2", 300), ("N1", 200))] == sorted(
        section.index(str(made[key])) for key in (("S1", 150), ("N2", 300), ("N1", 200)))
    assert "20.0\u00a0%" in section and '<td class="text-end">99</td>' not in section
    assert "Best local campaigns" not in world.client_for("branch_manager").get(URL, period(today)).content.decode()
    beta = world.client_for("other_network_head_office").get(URL, period(today)).content.decode()
    assert "No message was sent in this period" in beta and all(str(local) not in beta for local in made.values())


def test_the_pressure_received_per_week_for_head_office_only(world, scripted):
    from central.models import Contact, Customer, Origin
    from reporting.selectors import pressure_received

    campaign, today, _tomorrow = scripted  # its ten e-mails: ten customers contacted once this week
    monday = today - timedelta(days=today.weekday())
    extra = {"A": 1, "B": 2, "C": 4}  # three of them get more this week: 2, 3 and 5 messages in all
    recipients = list(Customer.objects.filter(deliveries__campaign=campaign).order_by("pk")[:3])
    for customer, more in zip(recipients, extra.values(), strict=True):
        for _ in range(more):
            Contact.objects.create(customer=customer, channel="sms", origin=Origin.LOCAL, contacted_on=monday)
    Contact.objects.create(customer=world.customers["W1"], channel="email", origin=Origin.LOCAL, contacted_on=monday)
    rollups_refresh(everything=True)
    buckets = pressure_received(world.users["head_office"], starts_on=monday, ends_on=monday + timedelta(days=6))
    assert [(b.contacts, b.customer_weeks) for b in buckets] == [(1, 7), (2, 1), (3, 1), (4, 1)]
    assert buckets[0].share == 0.7
    beta = pressure_received(world.users["other_network_head_office"], starts_on=monday, ends_on=monday + timedelta(6))
    assert [(b.contacts, b.customer_weeks) for b in beta] == [(1, 1), (2, 0), (3, 0), (4, 0)]
    assert pressure_received(world.users["branch_manager"], starts_on=monday, ends_on=monday)[0].share is None
    page = world.client_for("head_office").get(URL, period(today)).content.decode()
    assert "The pressure customers received" in page and "70.0\u00a0%" in page
    assert "The pressure customers received" not in world.client_for("branch_manager").get(URL, period(today)).content.decode()


def test_head_office_promotes_a_local_campaign_to_a_credited_template(world, scripted):
    from templates_lib.models import Template

    campaign, today, _tomorrow = scripted
    local = Campaign.objects.create(network=campaign.network, branch=world.nodes["N2"], channel="email", send_date=today,
                                    template_version=campaign.template_version, status=CampaignStatus.SENT,
                                    slot_values={"headline": "Soirée dégustation", "offer": "-10 % sur les rosés"},
                                    created_by=world.users["sibling_branch_manager"])
    response = world.client_for("head_office").post(f"/reports/campaigns/{local.public_id}/promote/")
    assert response.status_code == 302 and "/templates/versions/" in response["Location"]
    template = Template.objects.exclude(pk=campaign.template_version.template_id).get(
        network=campaign.network, name__endswith="Arras")
    author = world.users["sibling_branch_manager"].get_full_name()
    assert "Arras" in template.description and author and author in template.description
    assert local.public_id in template.description
    draft = template.versions.get()
    assert (draft.status, draft.body, draft.subject) == ("draft", campaign.template_version.body,
                                                         campaign.template_version.subject)
    assert {slot["name"]: slot["default"] for slot in draft.slots} == {
        "headline": "Soirée dégustation", "offer": "-10 % sur les rosés"}
    # a national campaign is not promoted (a message says why); a branch may not promote, nor see others'
    before = Template.objects.count()
    refused = world.client_for("head_office").post(f"/reports/campaigns/{campaign.public_id}/promote/", follow=True)
    assert "Only a branch&#x27;s own campaign can be promoted" in refused.content.decode()
    assert world.client_for("branch_manager").post(f"/reports/campaigns/{local.public_id}/promote/").status_code == 404
    assert world.client_for("sibling_branch_manager").post(
        f"/reports/campaigns/{local.public_id}/promote/").status_code == 403
    assert world.client_for("head_office").get(f"/reports/campaigns/{local.public_id}/promote/").status_code == 405
    assert Template.objects.count() == before


def test_every_table_of_the_dashboard_downloads_scoped_like_the_page(world, scripted):
    _campaign, today, _tomorrow = scripted
    rollups_refresh(everything=True)
    query = period(today)
    manager = world.client_for("branch_manager")
    excluded = b"".join(manager.get(URL, {**query, "table": "excluded", "export": "csv"}).streaming_content).decode()
    assert "no_consent,1" in excluded.replace("\r", "")
    comparison = manager.get(URL, {**query, "table": "comparison", "export": "xlsx"})
    assert comparison.status_code == 200 and comparison.content[:2] == b"PK"
    # head office's tables are not a branch's
    assert manager.get(URL, {**query, "table": "leaderboard", "export": "csv"}).status_code == 404
    assert manager.get(URL, {**query, "table": "pressure", "export": "csv"}).status_code == 404
    head_office = world.client_for("head_office")
    pressure = b"".join(head_office.get(URL, {**query, "table": "pressure", "export": "csv"}).streaming_content).decode()
    assert pressure.splitlines()[0].lstrip("\ufeff").startswith("messages in a week")
    leaderboard = head_office.get(URL, {**query, "table": "leaderboard", "export": "csv"})
    assert leaderboard.status_code == 200
    assert head_office.get(URL, {**query, "table": "nothing", "export": "csv"}).status_code == 404
    sibling = b"".join(world.client_for("sibling_branch_manager").get(
        URL, {**query, "table": "excluded", "export": "csv"}).streaming_content).decode()
    assert "no_consent" not in sibling
