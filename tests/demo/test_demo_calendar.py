"""The demo's national calendar: a rolling year of operations around today (past, closed and open
ones, every mode, a pilot), periods, answers and customised campaigns, and what the demo accounts
find in it."""

import io
from datetime import date, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction
from django.db.models import F
from django.test import Client
from django.utils import timezone
from django.utils.html import escape

from central.calendar.selectors import operation_eligible_branches, operations_visible_to
from central.campaigns.selectors import campaign_edit_deadline, campaign_list
from central.models import (
    TARGETING_CRITERIA,
    CalendarPeriod,
    Campaign,
    CampaignEvent,
    CampaignStatus,
    Operation,
    OperationMode,
    OperationStatus,
    Participation,
    ParticipationStatus,
    TargetOverride,
)
from fixtures.demo_calendar import (
    CLOSED,
    OPEN,
    PAST,
    load_demo_calendar,
    open_national_opt_ins,
    plan_calendar,
    plan_periods,
)
from fixtures.demo_target_review import NAME as REVIEWED_OPERATION
from local_stores.models import Network, Node, NodeKind


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """The demo loaded once for the module, in a transaction rolled back at its end (each test
    runs in a savepoint inside it)."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            out = io.StringIO()
            call_command("demo_load", customers=600, stdout=out)
            yield out.getvalue()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def _users():
    return {user.username: user for user in get_user_model().objects.all()}


def _today():
    return timezone.localdate()


# --- The plan, for any day ---------------------------------------------------------------------------


def test_the_plan_has_every_kind_of_operation_whatever_the_day():
    start = date(2026, 1, 1)
    for offset in range(2 * 366):
        today = start + timedelta(days=offset)
        plan = plan_calendar(today)
        stages = {item.stage(today) for item in plan}
        assert PAST in stages, today
        assert {item.event.mode for item in plan} == set(OperationMode.values), today
        assert any(item.event.pilot_region for item in plan), today
        # A branch of any region always has an opt-in operation to answer.
        assert open_national_opt_ins(plan, today), today
        periods = plan_periods(today)
        assert all(ends_on >= today for _name, _kind, _starts_on, ends_on in periods), today
        for item in plan:
            assert item.send_from <= item.send_until, today
            assert item.send_from >= today - timedelta(days=150) or item.event.mode == OperationMode.KIT
            assert item.send_from <= today + timedelta(days=260), (today, item.event.key)  # Easter moves
            if item.event.mode == OperationMode.KIT:
                assert item.stage(today) == OPEN and item.send_until > today + timedelta(days=60)
            else:
                assert item.subscription_deadline < item.send_from
                assert set(item.event.allowed_criteria) <= set(TARGETING_CRITERIA)
                # No national operation falls in a blackout period.
                for _name, kind, starts_on, ends_on in periods:
                    if kind == CalendarPeriod.Kind.BLACKOUT:
                        assert ends_on < item.send_from or starts_on > item.send_until, (today, item.event.key)
    assert {item.stage(date(2026, 11, 22)) for item in plan_calendar(date(2026, 11, 22))} == {PAST, CLOSED, OPEN}


# --- The loaded demo ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_demo_has_a_year_of_operations_of_every_kind(demo):
    today = _today()
    comptoir = Network.objects.get(slug="comptoir")
    operations = list(Operation.objects.filter(network=comptoir))
    names = {operation.name for operation in operations}
    for expected in ("Soldes d'hiver", "Fête des mères", "L'été au Comptoir", "La rentrée gourmande", "Foire aux vins",
                     "Black Friday", "Noël gourmand", "Soirée dégustation"):
        assert expected in names
    assert all(operation.status == OperationStatus.PUBLISHED for operation in operations)
    assert {operation.mode for operation in operations} == set(OperationMode.values)
    assert "calendar operations" in demo and "campaigns" in demo

    wine_fair = next(operation for operation in operations if operation.name == "Foire aux vins")
    assert wine_fair.mode == OperationMode.OPT_IN and wine_fair.send_from.month == 9
    assert [v.template.kind for v in wine_fair.template_versions.select_related("template")] == ["email"]

    pilot = next(operation for operation in operations if operation.is_pilot)
    assert [node.code for node in pilot.eligible_nodes.all()] == ["ARA"]
    assert set(operation_eligible_branches(pilot).values_list("parent__code", flat=True)) == {"ARA"}
    assert not pilot.participations.exclude(branch__parent__code="ARA").exists()

    past = [operation for operation in operations if operation.send_until < today]
    assert past and all(operation.participations.exists() for operation in past if operation.mode != OperationMode.KIT)
    # the past operations' campaigns are the demo's history (fixtures/demo_history.py): all sent, no fake drafts
    assert all(campaign.status == CampaignStatus.SENT for campaign in Campaign.objects.filter(operation__in=past))
    assert any(operation.subscription_deadline and operation.subscription_deadline >= today
               and operation.mode == OperationMode.OPT_IN for operation in operations)

    mandatory = next(operation for operation in operations if operation.mode == OperationMode.MANDATORY)
    assert mandatory.opt_out_allowed
    answers = dict(mandatory.participations.values_list("branch__code", "status"))
    assert len(answers) == Node.objects.filter(network=comptoir, kind=NodeKind.BRANCH).count() == 12
    assert set(answers.values()) <= {ParticipationStatus.ENROLLED, ParticipationStatus.OPTED_OUT}

    kit = next(operation for operation in operations if operation.mode == OperationMode.KIT and operation.send_until >= today)
    assert kit.send_from <= today < kit.send_until
    kit_campaigns = Campaign.objects.filter(operation=kit)
    assert kit_campaigns.count() >= 3 and all(campaign.target_criteria for campaign in kit_campaigns)

    for operation in operations:
        allowed = set(operation.allowed_criteria)
        assert allowed and allowed <= set(TARGETING_CRITERIA)
        for campaign in Campaign.objects.filter(operation=operation):
            assert set(campaign.target_criteria) <= allowed
            assert operation.send_from <= campaign.send_date <= operation.send_until

    periods = CalendarPeriod.objects.filter(network=comptoir)
    assert periods.filter(kind=CalendarPeriod.Kind.BLACKOUT).count() in (1, 2)
    assert periods.filter(kind=CalendarPeriod.Kind.LOCAL_RESERVED).count() == 1
    blackout_days = [(p.starts_on, p.ends_on) for p in periods.filter(kind=CalendarPeriod.Kind.BLACKOUT)]
    for campaign in Campaign.objects.filter(network=comptoir).exclude(status=CampaignStatus.CANCELLED):
        assert not any(start <= campaign.send_date <= end for start, end in blackout_days)


@pytest.mark.django_db
def test_branches_are_busy_subscribing_to_the_soonest_open_operation(demo):
    today = _today()
    # the calendar's operations (head office's newsletter whose target the branches review is apart)
    busy = (Operation.objects.filter(network__slug="comptoir", mode=OperationMode.OPT_IN, is_pilot=False,
                                     subscription_deadline__gte=today).exclude(name=REVIEWED_OPERATION)
            .order_by("subscription_deadline").first())
    statuses = list(busy.participations.values_list("status", flat=True))
    assert statuses.count(ParticipationStatus.JOINED) >= 5
    assert statuses.count(ParticipationStatus.DECLINED) == 1
    assert not busy.participations.filter(branch__code="PAR11").exists()
    campaigns = Campaign.objects.filter(operation=busy, branch__isnull=False)
    # Customised by the branches themselves: another date in the window, a segment, their own price
    customised = campaigns.filter(events__action="customised", target_criteria__has_key="segment").distinct()
    assert customised.count() >= 4
    assert {campaign.send_date for campaign in customised} - {max(busy.send_from, today + timedelta(days=1))}
    assert TargetOverride.objects.filter(campaign__operation=busy).exists()
    joined = busy.participations.filter(status=ParticipationStatus.JOINED).select_related("decided_by")
    assert all(p.decided_by is not None and p.decided_by.username != "marie.dupont" for p in joined)
    event = CampaignEvent.objects.filter(campaign__in=customised, action="customised").first()
    assert "slot_values" in event.changes and event.by_id is not None


@pytest.mark.django_db
def test_claire_can_still_answer_an_operation_and_customise_a_campaign(demo):
    today = _today()
    claire = _users()["claire.bernard"]
    par11 = Node.objects.get(network__slug="comptoir", code="PAR11")
    answered = Participation.objects.filter(branch=par11).values("operation_id")
    answerable = [
        operation
        for operation in operations_visible_to(claire).filter(
            status=OperationStatus.PUBLISHED, mode=OperationMode.OPT_IN, subscription_deadline__gte=today
        ).exclude(pk__in=answered)
        if operation_eligible_branches(operation).filter(pk=par11.pk).exists()
    ]
    assert answerable
    # The pilot of another region is none of her business
    assert not operations_visible_to(claire).filter(is_pilot=True).exists()
    editable = [campaign for campaign in campaign_list(fetched_by=claire, branch=par11)
                if campaign_edit_deadline(campaign) >= today]
    assert editable
    assert any(campaign.operation.mode == OperationMode.KIT for campaign in editable)


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["claire.bernard", "marie.dupont"])
def test_the_calendar_page_shows_the_demo_to_a_branch_and_to_the_head_office(demo, username):
    today = _today()
    client = Client()
    client.force_login(_users()[username])
    response = client.get("/calendar/")
    assert response.status_code == 200
    open_one = (Operation.objects.filter(network__slug="comptoir", mode=OperationMode.OPT_IN, is_pilot=False,
                                         subscription_deadline__gte=today).order_by("send_from").first())
    response = client.get(f"/calendar/?month={open_one.send_from:%Y-%m}")
    assert response.status_code == 200
    assert escape(open_one.name) in response.content.decode()
    pilot = Operation.objects.get(network__slug="comptoir", is_pilot=True)
    page = client.get(f"/calendar/?month={pilot.send_from:%Y-%m}").content.decode()
    assert (escape(pilot.name) in page) == (username == "marie.dupont")


@pytest.mark.django_db
def test_no_branch_campaign_touches_another_branchs_customer(demo):
    overrides = TargetOverride.objects.filter(campaign__network__slug="comptoir", campaign__branch__isnull=False)
    assert overrides.exists()
    assert not overrides.exclude(customer__branch=F("campaign__branch")).exists()
    assert not overrides.exclude(customer__network=F("campaign__network")).exists()


@pytest.mark.django_db
def test_loading_again_changes_nothing(demo):
    comptoir = Network.objects.get(slug="comptoir")
    counts = (Operation.objects.count(), Participation.objects.count(), Campaign.objects.count(),
              CalendarPeriod.objects.count())
    out = io.StringIO()
    call_command("demo_load", stdout=out)
    assert "already loaded" in out.getvalue()
    summary = load_demo_calendar(network=comptoir, author=_users()["marie.dupont"], templates={}, today=_today())
    assert sum(summary.modes.values()) == counts[0]
    assert counts == (Operation.objects.count(), Participation.objects.count(), Campaign.objects.count(),
                      CalendarPeriod.objects.count())


@pytest.mark.django_db
def test_the_demo_approvers_find_proofs_waiting_for_them(demo):
    from approvals.models import ProofStatus
    from approvals.selectors import pending_proofs_for, proofs_visible_to

    users = _users()
    assert pending_proofs_for(fetched_by=users["paul.martin"])
    assert pending_proofs_for(fetched_by=users["sophie.leroy"])
    assert not pending_proofs_for(fetched_by=users["claire.bernard"])
    statuses = set(proofs_visible_to(users["marie.dupont"]).values_list("status", flat=True))
    assert {ProofStatus.PENDING, ProofStatus.APPROVED, ProofStatus.CHANGES_REQUESTED} <= statuses
    assert not proofs_visible_to(users["azur.marketing"]).exists()


@pytest.mark.django_db
def test_claire_finds_head_offices_target_to_review(demo):
    from central.campaigns.target_review_selectors import head_office_sends, review_counts, review_is_open

    today = _today()
    users = _users()
    letter = Operation.objects.get(network__slug="comptoir", name=REVIEWED_OPERATION)
    [send] = head_office_sends(letter)
    assert send.channel == "email" and send.send_date == today + timedelta(days=10)
    assert send.status in (CampaignStatus.APPROVED, CampaignStatus.SCHEDULED)
    assert review_is_open(letter) and letter.subscription_deadline == today + timedelta(days=7)
    counts = {row.branch.code: row for row in review_counts(fetched_by=users["marie.dupont"], operation=letter)}
    assert len(counts) == 12
    # two branches reviewed already (one removal with a reason, one addition each); claire has not
    for code in ("PAR15", "VERS"):
        assert (counts[code].removed, counts[code].added) == (1, 1)
    assert counts["PAR11"].kept > 0 and (counts["PAR11"].removed, counts["PAR11"].added) == (0, 0)
    client = Client()
    client.force_login(users["claire.bernard"])
    page = client.get(f"/network/operations/{letter.public_id}/target-review/")
    assert page.status_code == 200
    assert f'data-count="kept">{counts["PAR11"].kept}<' in page.content.decode()
