"""Campaigns: joining creates them, customisation is checked (slots, date in the window, no
blackout, allowed criteria only), targets stay among the branch's own customers (count and list
included), clashes are shown, every change is audited, and deadline reminders go out once."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from central.calendar.deadlines import deadline_reminders_send
from central.calendar.services import participation_answer
from central.campaigns.clashes import campaign_clashes
from central.campaigns.selectors import (
    campaign_audience,
    campaign_audience_count,
    campaign_get,
    campaigns_visible_to,
)
from central.campaigns.services import (
    campaign_target_change,
    campaign_update,
    kit_use,
    national_campaign_create,
)
from central.models import (
    CalendarPeriod,
    Campaign,
    CampaignEvent,
    CampaignStatus,
    ConsentStatus,
    Customer,
    DeadlineReminder,
    OperationMode,
)
from tests.planning import plan, sms_version

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def add_customers(world, branch_code: str, count: int, **fields) -> list[Customer]:
    branch = world.nodes[branch_code]
    values = {"consent_sms": ConsentStatus.GRANTED, "mobile": "0600000000", "segment": "gold"} | fields
    return [
        Customer.objects.create(network=branch.network, branch=branch, external_id=f"{branch_code}-x{index}-{id(fields)}",
                                last_name=f"Client {branch_code} {index}", **values)
        for index in range(count)
    ]


@pytest.fixture
def joined(world):
    """N1 joined an opt-in SMS operation: its campaign, ready to customise."""
    operation = plan(world, versions=[sms_version(world)], allowed_criteria=["segment", "postal_code_prefix"])
    participation_answer(operation=operation, branch=world.nodes["N1"], status="joined",
                         answered_by=world.users["branch_manager"])
    return Campaign.objects.get(operation=operation, branch=world.nodes["N1"])


def test_joining_creates_the_campaign_with_defaults_and_declining_cancels_it(world, joined):
    assert joined.status == CampaignStatus.DRAFT
    assert joined.channel == "sms"
    assert joined.slot_values == {"message": "vins de fête"}
    assert joined.send_date == joined.operation.send_from
    participation_answer(operation=joined.operation, branch=world.nodes["N1"], status="declined",
                         answered_by=world.users["branch_manager"])
    joined.refresh_from_db()
    assert joined.status == CampaignStatus.CANCELLED
    participation_answer(operation=joined.operation, branch=world.nodes["N1"], status="joined",
                         answered_by=world.users["branch_manager"])
    assert Campaign.objects.filter(operation=joined.operation, branch=world.nodes["N1"],
                                   status=CampaignStatus.DRAFT).count() == 1


def test_a_mandatory_operation_gives_each_eligible_branch_one_campaign_even_if_enrolled_twice(world):
    from central.calendar.services import operation_enrol_mandatory

    operation = plan(world, mode=OperationMode.MANDATORY, versions=[sms_version(world)])
    operation_enrol_mandatory(operation=operation)
    branches = sorted(Campaign.objects.filter(operation=operation).values_list("branch__code", flat=True))
    assert branches == ["N1", "N2", "S1"]


def test_customisation_is_saved_and_audited_with_before_and_after(world, joined):
    manager = world.users["branch_manager"]
    new_date = joined.operation.send_from + timedelta(days=2)
    campaign_update(campaign=joined, updated_by=manager, slot_values={"message": "huîtres et muscadet"},
                    send_date=new_date, target_criteria={"segment": "gold"})
    joined.refresh_from_db()
    assert joined.slot_values == {"message": "huîtres et muscadet"}
    assert joined.send_date == new_date
    assert joined.target_criteria == {"segment": "gold"}
    event = CampaignEvent.objects.filter(campaign=joined, action="customised").get()
    assert event.by == manager
    assert event.changes["slot_values"] == {"message": ["vins de fête", "huîtres et muscadet"]}
    assert event.changes["send_date"] == [joined.operation.send_from.isoformat(), new_date.isoformat()]
    assert event.changes["target_criteria"] == [{}, {"segment": "gold"}]


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"send_date": "before"}, "send_date", "send window"),
        ({"send_date": "after"}, "send_date", "send window"),
        ({"send_date": "past"}, "send_date", "from tomorrow"),
        ({"target_criteria": {"min_rfm": 10}}, "target_min_rfm", "not allowed for this operation"),
        ({"target_criteria": {"income": 3}}, "target_income", "not a targeting criterion"),
        ({"target_criteria": {"postal_code_prefix": "59 OR 1=1"}}, "target_postal_code_prefix", "postal code"),
        ({"slot_values": {"message": ""}}, "message", ""),
        ({"slot_values": {"message": "x" * 61}}, "message", ""),
    ],
)
def test_unsound_customisation_is_refused_with_a_clear_message_and_changes_nothing(world, joined, change, field, says):
    operation = joined.operation
    dates = {"before": operation.send_from - timedelta(days=1), "after": operation.send_until + timedelta(days=1),
             "past": TODAY - timedelta(days=1)}
    if "send_date" in change:
        change = {"send_date": dates[change["send_date"]]}
    with pytest.raises(ValidationError) as error:
        campaign_update(campaign=joined, updated_by=world.users["branch_manager"], **change)
    assert field in error.value.message_dict
    assert says in " ".join(error.value.message_dict[field])
    assert CampaignEvent.objects.filter(campaign=joined, action="customised").count() == 0


def test_a_blackout_period_blocks_the_date_for_its_channel_only(world, joined):
    day = joined.operation.send_from + timedelta(days=3)
    CalendarPeriod.objects.create(network=world.networks["alpha"], kind="blackout", name="Inventaire",
                                  starts_on=day, ends_on=day, channels=["sms"])
    with pytest.raises(ValidationError) as error:
        campaign_update(campaign=joined, updated_by=world.users["branch_manager"], send_date=day)
    assert "Inventaire" in error.value.message_dict["send_date"][0]
    clashes = campaign_clashes(fetched_by=world.users["branch_manager"], campaign=joined, send_date=day)
    assert [(c.kind, c.blocking) for c in clashes] == [("blackout", True)]
    CalendarPeriod.objects.filter(name="Inventaire").update(channels=["email"])
    campaign_update(campaign=joined, updated_by=world.users["branch_manager"], send_date=day)


def test_changes_stop_at_the_subscription_deadline(world, joined):
    type(joined.operation).objects.filter(pk=joined.operation_id).update(subscription_deadline=TODAY - timedelta(days=1))
    joined.refresh_from_db()
    with pytest.raises(ValidationError, match="Changes were possible until"):
        campaign_update(campaign=joined, updated_by=world.users["branch_manager"], slot_values={"message": "x"})


def test_only_who_acts_for_the_branch_changes_its_campaign(world, joined):
    for actor in ("sibling_branch_manager", "regional_manager", "analyst", "approver"):
        with pytest.raises(PermissionDenied):
            campaign_update(campaign=joined, updated_by=world.users[actor], slot_values={"message": "x"})


def test_the_audience_holds_only_the_branchs_own_reachable_customers(world, joined):
    add_customers(world, "N1", 3)
    add_customers(world, "N1", 2, segment="silver")
    add_customers(world, "N1", 1, consent_sms=ConsentStatus.DENIED)
    add_customers(world, "N1", 1, objected_at=timezone.now())
    add_customers(world, "N1", 1, mobile="")
    add_customers(world, "N2", 4)  # the sibling branch's customers never count
    add_customers(world, "W1", 4)
    manager = world.users["branch_manager"]
    assert campaign_audience_count(fetched_by=manager, campaign=joined) == 5
    assert campaign_audience_count(fetched_by=manager, campaign=joined, criteria={"segment": "gold"}) == 3
    assert {c.branch.code for c in campaign_audience(fetched_by=manager, campaign=joined)} == {"N1"}
    # Someone outside the branch's scope counts nothing, whatever the campaign.
    assert campaign_audience_count(fetched_by=world.users["sibling_branch_manager"], campaign=joined) == 0


def test_a_national_campaign_targets_the_whole_network(world):
    operation = plan(world, versions=[sms_version(world)])
    campaign = national_campaign_create(operation=operation, template_version=operation.template_versions.get(),
                                        created_by=world.users["head_office"])
    add_customers(world, "N1", 2)
    add_customers(world, "S1", 3)
    add_customers(world, "W1", 4)  # another network
    assert campaign_audience_count(fetched_by=world.users["head_office"], campaign=campaign) == 5
    with pytest.raises(PermissionDenied):
        national_campaign_create(operation=operation, template_version=operation.template_versions.get(),
                                 created_by=world.users["branch_manager"])


def test_the_proposed_list_can_lose_and_gain_own_customers_only(world, joined):
    manager = world.users["branch_manager"]
    gold = add_customers(world, "N1", 2)
    silver = add_customers(world, "N1", 1, segment="silver")
    unreachable = add_customers(world, "N1", 1, consent_sms=ConsentStatus.DENIED)
    campaign_update(campaign=joined, updated_by=manager, target_criteria={"segment": "gold"})
    campaign_target_change(campaign=joined, customer_public_id=gold[0].public_id, action="exclude", changed_by=manager)
    campaign_target_change(campaign=joined, customer_public_id=silver[0].public_id, action="include", changed_by=manager)
    audience = set(campaign_audience(fetched_by=manager, campaign=joined).values_list("pk", flat=True))
    assert audience == {gold[1].pk, silver[0].pk}
    assert campaign_audience_count(fetched_by=manager, campaign=joined) == 2

    sibling_customer = add_customers(world, "N2", 1)[0]
    for foreign in (sibling_customer.public_id, world.customers["W1"].public_id, "cus_doesnotexist0000"):
        with pytest.raises(ValidationError) as error:
            campaign_target_change(campaign=joined, customer_public_id=foreign, action="include", changed_by=manager)
        assert error.value.message_dict["customer"] == [f"No customer of Lille has the id “{foreign}”."]
    with pytest.raises(ValidationError, match="cannot be reached by SMS"):
        campaign_target_change(campaign=joined, customer_public_id=unreachable[0].public_id, action="include",
                               changed_by=manager)
    campaign_target_change(campaign=joined, customer_public_id=gold[0].public_id, action="reset", changed_by=manager)
    assert campaign_audience_count(fetched_by=manager, campaign=joined) == 3
    actions = list(CampaignEvent.objects.filter(campaign=joined).values_list("action", flat=True))
    assert actions[:3] == ["target_reset", "target_include", "target_exclude"]


def test_clashes_show_overlapping_campaigns_on_the_same_channel_within_days(world, joined):
    manager = world.users["branch_manager"]
    add_customers(world, "N1", 4)
    kit = plan(world, name="Kit SMS", mode=OperationMode.KIT, versions=[joined.template_version],
               allowed_criteria=["segment"])
    other = kit_use(operation=kit, branch=world.nodes["N1"], template_version=joined.template_version, used_by=manager)
    campaign_update(campaign=other, updated_by=manager, send_date=joined.send_date + timedelta(days=1))
    clashes = campaign_clashes(fetched_by=manager, campaign=joined)
    assert [(c.kind, c.overlap, c.blocking) for c in clashes] == [("campaign", 4, False)]
    assert "Kit SMS" in clashes[0].label
    # A week later nothing clashes; a sibling branch's campaigns never do.
    assert campaign_clashes(fetched_by=manager, campaign=joined, send_date=joined.send_date + timedelta(days=5)) == []
    sibling = kit_use(operation=kit, branch=world.nodes["N2"], template_version=joined.template_version,
                      used_by=world.users["sibling_branch_manager"])
    assert all(c.label != sibling.operation.name + " (Arras)" for c in campaign_clashes(fetched_by=manager, campaign=joined))


def test_a_national_campaign_in_a_period_reserved_for_local_campaigns_warns_without_blocking(world):
    operation = plan(world, versions=[sms_version(world)])
    campaign = national_campaign_create(operation=operation, template_version=operation.template_versions.get(),
                                        created_by=world.users["head_office"])
    CalendarPeriod.objects.create(network=world.networks["alpha"], kind="local_reserved", name="Semaine locale",
                                  starts_on=campaign.send_date, ends_on=campaign.send_date + timedelta(days=6))
    clashes = campaign_clashes(fetched_by=world.users["head_office"], campaign=campaign)
    assert [(c.kind, c.blocking) for c in clashes] == [("local_reserved", False)]
    campaign_update(campaign=campaign, updated_by=world.users["head_office"], send_date=campaign.send_date + timedelta(days=1))


def test_campaigns_are_scoped_foreign_and_missing_alike(world, joined):
    from django.http import Http404

    assert list(campaigns_visible_to(world.users["branch_manager"])) == [joined]
    assert list(campaigns_visible_to(world.users["regional_manager"])) == [joined]
    for actor in ("sibling_branch_manager", "other_region_manager", "other_network_head_office", "nobody"):
        assert not campaigns_visible_to(world.users[actor]).exists()
        for public_id in (joined.public_id, "cmp_doesnotexist0000"):
            with pytest.raises(Http404):
                campaign_get(fetched_by=world.users[actor], public_id=public_id)


def test_kits_are_used_freely_within_their_window(world):
    version = sms_version(world)
    kit = plan(world, mode=OperationMode.KIT, versions=[version])
    manager = world.users["branch_manager"]
    first = kit_use(operation=kit, branch=world.nodes["N1"], template_version=version, used_by=manager)
    second = kit_use(operation=kit, branch=world.nodes["N1"], template_version=version, used_by=manager)
    assert first.pk != second.pk
    with pytest.raises(PermissionDenied):
        kit_use(operation=kit, branch=world.nodes["N2"], template_version=version, used_by=manager)
    opt_in = plan(world, name="Opt-in", versions=[version])
    with pytest.raises(ValidationError, match="Only a published kit"):
        kit_use(operation=opt_in, branch=world.nodes["N1"], template_version=version, used_by=manager)


def test_a_kit_whose_window_has_closed_creates_no_campaign(world):
    version = sms_version(world)
    kit = plan(world, mode=OperationMode.KIT, versions=[version], send_from=TODAY - timedelta(days=10),
               send_until=TODAY)
    with pytest.raises(ValidationError, match="send window is over"):
        kit_use(operation=kit, branch=world.nodes["N1"], template_version=version, used_by=world.users["branch_manager"])
    assert not Campaign.objects.filter(operation=kit).exists()


@pytest.mark.parametrize("missing", ["name", "send_from", "send_until", "mode"])
def test_an_operation_without_its_essentials_is_refused_field_by_field(world, missing):
    blank = {"name": "", "send_from": None, "send_until": None, "mode": "sometimes"}[missing]
    with pytest.raises(ValidationError) as refused:
        plan(world, publish=False, **{missing: blank})
    assert missing in refused.value.message_dict


def test_reminders_go_once_to_the_managers_of_branches_that_have_not_answered(world, settings):
    settings.RELAIS_REMINDER_DAYS = (7, 2)
    for user in world.users.values():
        user.email = f"{user.username}@example.test"
        user.save()
    operation = plan(world, subscription_deadline=TODAY + timedelta(days=7))
    participation_answer(operation=operation, branch=world.nodes["N2"], status="declined",
                         answered_by=world.users["sibling_branch_manager"])
    assert deadline_reminders_send() == 2  # N1 and S1 have not answered; N2 has
    assert sorted(message.to[0] for message in mail.outbox) == [
        "branch_manager@example.test", "other_region_manager@example.test"]
    assert "Foire aux vins" in mail.outbox[0].subject
    assert "/network/operations/" in mail.outbox[0].body
    assert deadline_reminders_send() == 0  # the task running again sends nothing more
    assert len(mail.outbox) == 2
    assert DeadlineReminder.objects.filter(operation=operation).count() == 2
    # Two days before, the second step goes out, to those still silent.
    participation_answer(operation=operation, branch=world.nodes["S1"], status="joined",
                         answered_by=world.users["other_region_manager"])
    assert deadline_reminders_send(today=TODAY + timedelta(days=5)) == 1
