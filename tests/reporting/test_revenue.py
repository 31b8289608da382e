"""Attributed revenue and the control group: a scripted send with a hold-out and known purchases
gives exactly the expected revenue, conversion and uplift; the hold-out is drawn by the arbitration
(reason ``holdout``), the same in a simulation and the real run, and nobody held out is sent anything."""

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from central.arbitration import arbitrate, holdout_drawn
from central.delivery import sending
from central.models import ArbitrationRun, Candidate, Delivery, DeliveryStatus, Reason
from central.purchases.services import purchase_import_load
from central.rules.selectors import customer_why_not
from central.rules.services import network_rules_update
from reporting.models import DailyStat
from reporting.selectors import stats_totals
from reporting.services import rollups_refresh
from tests.dispatching import add_customers, email_version, to_sending
from tests.planning import joined_campaign

pytestmark = pytest.mark.django_db


def held_out_campaign(world, customers: int, share: int, django_capture_on_commit_callbacks):
    campaign = joined_campaign(world, version=email_version(world), reachable=0, holdout_percent=share)
    add_customers(world, customers, prefix="buyer")
    campaign = to_sending(world, campaign)
    with django_capture_on_commit_callbacks(execute=True):
        sending.campaign_dispatch(campaign=campaign)
    return campaign


def test_a_scripted_send_with_a_control_group_gives_the_exact_revenue_and_uplift(
        world, django_capture_on_commit_callbacks):
    campaign = held_out_campaign(world, 40, 25, django_capture_on_commit_callbacks)
    decided = Candidate.objects.filter(campaign=campaign, run__mode=ArbitrationRun.Mode.COMMIT)
    control = sorted(decided.filter(reason=Reason.HOLDOUT).values_list("customer__external_id", flat=True))
    recipients = sorted(Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.SENT)
                        .values_list("customer__external_id", flat=True))
    # the draw is the documented one: a customer is held out when hash(customer, campaign) < 25 %
    eligible = decided.filter(reason__in=["", Reason.HOLDOUT]).values_list("customer_id", "customer__external_id")
    assert control == sorted(ext for pk, ext in eligible if holdout_drawn(pk, campaign.pk) < 2500)
    assert len(control) >= 3 and len(recipients) >= 3 and not set(control) & set(recipients)
    today = timezone.localdate()  # the send began today: 14 attribution days by default, today included

    def day(offset: int) -> str:
        return (today + timedelta(days=offset)).isoformat()

    # three recipients buy in the window (one twice, one also the day before the send and the day
    # after the window: neither counts); one customer of the control group buys, another only after
    rows = [
        f"R1,{recipients[0]},N1,{day(0)},100.00", f"R2,{recipients[0]},N1,{day(3)},50.00",
        f"R3,{recipients[1]},,{day(13)},30.50", f"R4,{recipients[2]},N1,{day(-1)},999",
        f"R5,{recipients[2]},N2,{day(5)},19.50", f"R6,{recipients[2]},N1,{day(14)},999",
        f"R7,{control[0]},N1,{day(2)},40.00", f"R8,{control[1]},N1,{day(20)},999",
    ]
    result = purchase_import_load(
        network=world.networks["alpha"],
        stream=io.BytesIO(("purchase_id,customer_external_id,branch_code,purchased_on,amount\n"
                           + "\n".join(rows) + "\n").encode()),
        now=timezone.now() + timedelta(days=30))
    assert (result.rows_created, result.rows_rejected) == (8, 0)
    rollups_refresh(everything=True)
    totals = stats_totals(DailyStat.objects.filter(campaign=campaign))
    treated, held = len(recipients), len(control)
    assert (totals.recipients, totals.buyers, totals.revenue) == (treated, 3, Decimal("200.00"))
    assert (totals.holdout, totals.holdout_buyers, totals.holdout_revenue) == (held, 1, Decimal("40.00"))
    assert totals.conversion_rate == 3 / treated
    assert totals.holdout_conversion_rate == 1 / held
    assert totals.conversion_uplift == pytest.approx(3 / treated - 1 / held)
    per_head = Decimal("200.00") / treated - Decimal("40.00") / held
    assert totals.incremental_revenue == (per_head * treated).quantize(Decimal("0.01"))
    assert totals.revenue_uplift == pytest.approx(float((Decimal(200) / treated) / (Decimal(40) / held) - 1))
    # the audience and its exclusions count the control group under its own reason
    row = DailyStat.objects.get(campaign=campaign, day=today)
    assert row.excluded.get(Reason.HOLDOUT) == held and row.audience == treated + held + sum(
        count for reason, count in row.excluded.items() if reason != Reason.HOLDOUT)
    # the dashboard, its export and the API say the same, for the branch; its sibling sees none of it
    query = {"starts_on": today.isoformat(), "ends_on": today.isoformat(), "by": "campaign"}
    manager = world.client_for("branch_manager")
    page = manager.get("/reports/", query).content.decode()
    assert 'data-testid="revenue">€200.00<' in page and 'data-testid="holdout"' in page
    api = manager.get("/api/v1/reports/", query).json()["totals"]
    assert (api["revenue"], api["buyers"], api["holdout"], api["holdout_revenue"]) == (200.0, 3, held, 40.0)
    assert api["incremental_revenue"] == float(totals.incremental_revenue)
    exported = b"".join(manager.get("/reports/", {**query, "export": "csv"}).streaming_content).decode()
    header, line = exported.splitlines()[:2]
    assert "attributed revenue" in header and ",200.0," in line
    sibling = world.client_for("sibling_branch_manager")
    assert sibling.get("/api/v1/reports/", query).json()["totals"]["revenue"] == 0
    assert 'data-testid="revenue"' not in sibling.get("/reports/", query).content.decode()
    # a purchase imported later is taken up by the next incremental run; the run twice changes nothing
    purchase_import_load(network=world.networks["alpha"], now=timezone.now() + timedelta(days=30),
                         stream=io.BytesIO(f"customer_external_id,purchased_on,amount\n{recipients[3]},{day(1)},10\n"
                                           .encode()))
    rollups_refresh()
    rollups_refresh()
    assert stats_totals(DailyStat.objects.filter(campaign=campaign)).revenue == Decimal("210.00")
    # a shorter window (the network's rules) credits less: today and the next two days (R1, the late one)
    network_rules_update(network=world.networks["alpha"], updated_by=world.users["head_office"], attribution_days=3)
    rollups_refresh()
    assert stats_totals(DailyStat.objects.filter(campaign=campaign)).revenue == Decimal("110.00")


def test_the_control_group_is_drawn_the_same_by_a_simulation_and_the_real_run_and_receives_nothing(world):
    campaign = joined_campaign(world, version=email_version(world), reachable=0, holdout_percent=20)
    add_customers(world, 500, prefix="draw")
    network = world.networks["alpha"]
    simulation = arbitrate(network=network, starts_on=campaign.send_date, ends_on=campaign.send_date)
    simulated = set(Candidate.objects.filter(run=simulation, campaign=campaign, reason=Reason.HOLDOUT)
                    .values_list("customer_id", flat=True))
    eligible = Candidate.objects.filter(run=simulation, campaign=campaign, reason__in=["", Reason.HOLDOUT]).count()
    assert 0.15 * eligible <= len(simulated) <= 0.25 * eligible  # 20 % drawn at random
    campaign = to_sending(world, campaign)
    real = ArbitrationRun.objects.filter(mode=ArbitrationRun.Mode.COMMIT).latest("pk")
    assert set(Candidate.objects.filter(run=real, campaign=campaign, reason=Reason.HOLDOUT)
               .values_list("customer_id", flat=True)) == simulated
    assert not Delivery.objects.filter(campaign=campaign, customer_id__in=simulated).exists()
    assert Delivery.objects.filter(campaign=campaign).count() == eligible - len(simulated)
    # "why not?" says it in words
    held = Candidate.objects.filter(run=real, reason=Reason.HOLDOUT).select_related("customer").first().customer
    why = customer_why_not(fetched_by=world.users["head_office"], customer=held)
    assert any("control group (20 % of the customers)" in line.text for line in why.lines)


def test_an_operation_refuses_a_control_group_over_half_the_customers(world):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        joined_campaign(world, version=email_version(world), reachable=0, holdout_percent=60)
    assert "holdout_percent" in error.value.message_dict
    response = world.client_for("head_office").patch(
        "/api/v1/network-rules/alpha/", {"attribution_days": 0}, content_type="application/json")
    assert response.status_code == 400 and "attribution_days" in response.json()


def test_reports_tell_prospects_apart_among_the_recipients(world, django_capture_on_commit_callbacks):
    from tests.dispatching import email_campaign

    campaign = email_campaign(world, 3, is_prospect=True)  # three prospects, and Anne, a customer
    with django_capture_on_commit_callbacks(execute=True):
        sending.campaign_dispatch(campaign=campaign)
    rollups_refresh(everything=True)
    totals = stats_totals(DailyStat.objects.filter(campaign=campaign))
    assert (totals.recipients, totals.prospects) == (4, 3)
    today = timezone.localdate().isoformat()
    manager = world.client_for("branch_manager")
    page = manager.get("/reports/", {"starts_on": today, "ends_on": today, "by": "campaign"}).content.decode()
    assert "3 recipients were prospects" in page
    assert manager.get("/api/v1/reports/", {"starts_on": today, "ends_on": today}).json()["totals"]["prospects"] == 3
