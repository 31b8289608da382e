"""Arbitration on small hand-built cases whose right answer is written by hand: consent and
objection, ownership, suppression, quiet days, one message per operation, duplicate addresses,
priority and its exception, ties, the caps over their rolling windows and the quota. The same
tests run on SQLite (``make test``) and on PostgreSQL (CI's second run)."""

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from central.arbitration import arbitrate, rules_for
from central.models import (
    ArbitrationRun,
    Campaign,
    CampaignEvent,
    CampaignStatus,
    Candidate,
    ConsentStatus,
    Contact,
    Customer,
    Delivery,
    OperationMode,
    Origin,
    Reason,
    Suppression,
    TargetOverride,
)
from tests.planning import plan, sms_version

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
# a Wednesday three to four weeks ahead, inside plan()'s send window (20 to 30 days)
DAY = TODAY + timedelta(days=20 + (2 - (TODAY + timedelta(days=20)).weekday()) % 7)


@pytest.fixture
def version(world):
    return sms_version(world)


@pytest.fixture
def national(world, version):
    return plan(world, name="Opération nationale", versions=[version])


@pytest.fixture
def kit(world, version):
    return plan(world, name="Kit local", mode=OperationMode.KIT, versions=[version])


def customer(world, name, *, branch="N1", email=None, **fields):
    node = world.nodes[branch]
    values = {"consent_email": ConsentStatus.GRANTED, "consent_sms": ConsentStatus.GRANTED,
              "email": f"{name.lower()}@example.test" if email is None else email,
              "mobile": f"06{int(hashlib.md5(name.encode()).hexdigest(), 16) % 10**8:08d}"} | fields  # noqa: S324
    return Customer.objects.create(network=node.network, branch=node, external_id=f"x-{name}", last_name=name,
                                   **values)


def campaign(world, version, *, operation=None, branch="N1", channel="email", day=DAY, criteria=None):
    return Campaign.objects.create(
        network=world.networks["alpha"], branch=world.nodes[branch] if branch else None, operation=operation,
        template_version=version, channel=channel, send_date=day, status=CampaignStatus.SCHEDULED,
        target_criteria=criteria or {})


def decisions(run):
    """{(campaign id, customer name): (selected, reason, lost_to id)}"""
    return {(c.campaign_id, c.customer.last_name): (c.selected, c.reason, c.lost_to_id)
            for c in Candidate.objects.filter(run=run).select_related("customer")}


def simulate(world):
    return arbitrate(network=world.networks["alpha"], starts_on=DAY - timedelta(days=3), ends_on=DAY + timedelta(days=3))


def test_consent_objection_address_and_suppression_each_give_their_reason(world, version, kit):
    for name in ("Ok", "Objecting", "Refusing", "Addressless", "Suppressed"):
        customer(world, name, **({"objected_at": timezone.now()} if name == "Objecting" else {}),
                 **({"consent_email": ConsentStatus.DENIED} if name == "Refusing" else {}),
                 **({"email": ""} if name == "Addressless" else {}))
    Suppression.objects.create(network=world.networks["alpha"], channel="email", reason="hard bounce",
                               value_hash=hashlib.sha256(b"suppressed@example.test").hexdigest())
    Customer.objects.filter(last_name="Suppressed").update(email="Suppressed@Example.test")  # case does not matter
    local = campaign(world, version, operation=kit)
    result = decisions(simulate(world))
    assert {name: result[(local.pk, name)][:2] for name in ("Ok", "Objecting", "Refusing", "Addressless", "Suppressed")} == {
        "Ok": (True, ""), "Objecting": (False, Reason.OBJECTION), "Refusing": (False, Reason.NO_CONSENT),
        "Addressless": (False, Reason.NO_ADDRESS), "Suppressed": (False, Reason.SUPPRESSED)}
    # the customer of another branch (N2's "Anne"… of the world fixture) is not even a candidate of N1
    assert all(key[1] != "Voisin" for key in result)


def test_a_customer_added_by_hand_who_moved_to_another_branch_is_not_owned(world, version, kit):
    moved = customer(world, "Moved")
    local = campaign(world, version, operation=kit, criteria={"segment": "nobody-has-this"})
    TargetOverride.objects.create(campaign=local, customer=moved, action=TargetOverride.Action.INCLUDE)
    Customer.objects.filter(pk=moved.pk).update(branch=world.nodes["N2"])
    assert decisions(simulate(world))[(local.pk, "Moved")] == (False, Reason.NOT_OWNER, None)


def test_local_beats_national_under_the_cap_unless_the_operation_has_national_priority(world, version, national, kit):
    rules = rules_for(world.networks["alpha"])
    rules.cap_total = 1
    rules.save()
    customer(world, "Alice")
    theirs = campaign(world, version, operation=national)
    ours = campaign(world, version, operation=kit)
    result = decisions(simulate(world))
    assert result[(ours.pk, "Alice")] == (True, "", None)
    assert result[(theirs.pk, "Alice")] == (False, Reason.PRESSURE_CAP, ours.pk)
    national.national_priority = True
    national.save()
    result = decisions(simulate(world))
    assert result[(theirs.pk, "Alice")] == (True, "", None)
    assert result[(ours.pk, "Alice")] == (False, Reason.PRESSURE_CAP, theirs.pk)


def test_the_priority_order_is_the_networks(world, version, national, kit):
    rules = rules_for(world.networks["alpha"])
    rules.cap_total, rules.priority_order = 1, [Origin.NATIONAL, Origin.LOCAL]
    rules.save()
    customer(world, "Alice")
    theirs, ours = campaign(world, version, operation=national), campaign(world, version, operation=kit)
    result = decisions(simulate(world))
    assert result[(theirs.pk, "Alice")][0] is True and result[(ours.pk, "Alice")][:2] == (False, Reason.PRESSURE_CAP)


def test_ties_go_to_the_earlier_scheduled_then_the_earlier_created(world, version, kit):
    rules = rules_for(world.networks["alpha"])
    rules.cap_total = 1
    rules.save()
    customer(world, "Alice")
    first_created, second_created = campaign(world, version, operation=kit), campaign(world, version, operation=kit)
    assert decisions(simulate(world))[(first_created.pk, "Alice")][0] is True
    CampaignEvent.objects.create(campaign=second_created, action="scheduled")
    CampaignEvent.objects.filter(campaign=second_created).update(at=timezone.now() - timedelta(days=2))
    CampaignEvent.objects.create(campaign=first_created, action="scheduled")
    result = decisions(simulate(world))
    assert result[(second_created.pk, "Alice")][0] is True
    assert result[(first_created.pk, "Alice")] == (False, Reason.PRESSURE_CAP, second_created.pk)


def test_the_cap_counts_past_contacts_of_its_rolling_window_only(world, version, kit):
    rules = rules_for(world.networks["alpha"])
    rules.cap_total, rules.cap_days = 2, 7
    rules.save()
    recent, older = customer(world, "Recent"), customer(world, "Older")
    start = DAY - timedelta(days=3)
    Contact.objects.create(customer=recent, channel="email", origin=Origin.LOCAL, contacted_on=start - timedelta(days=2))
    Contact.objects.create(customer=older, channel="email", origin=Origin.LOCAL, contacted_on=start - timedelta(days=8))
    one, two = campaign(world, version, operation=kit), campaign(world, version, operation=kit)
    result = decisions(simulate(world))
    assert result[(one.pk, "Recent")][0] is True and result[(two.pk, "Recent")] == (False, Reason.PRESSURE_CAP, one.pk)
    assert result[(one.pk, "Older")][0] is True and result[(two.pk, "Older")][0] is True


def test_one_sms_per_fortnight(world, version, kit):
    rules = rules_for(world.networks["alpha"])
    rules.cap_total, rules.channel_caps = 5, {"sms": {"count": 1, "days": 14}}
    rules.save()
    customer(world, "Fresh")
    texted = customer(world, "Texted")
    Contact.objects.create(customer=texted, channel="sms", origin=Origin.LOCAL,
                           contacted_on=DAY - timedelta(days=3 + 10))
    one, two = campaign(world, version, operation=kit, channel="sms"), campaign(world, version, operation=kit, channel="sms")
    mail = campaign(world, version, operation=kit, channel="email")
    result = decisions(simulate(world))
    assert result[(one.pk, "Fresh")][0] is True and result[(two.pk, "Fresh")] == (False, Reason.CHANNEL_CAP, one.pk)
    assert result[(one.pk, "Texted")][:2] == (False, Reason.CHANNEL_CAP)
    assert result[(two.pk, "Texted")][:2] == (False, Reason.CHANNEL_CAP)
    assert result[(mail.pk, "Texted")][0] is True  # e-mail is not capped by the SMS rule


def test_the_quota_keeps_a_slot_for_national(world, version, national, kit):
    rules = rules_for(world.networks["alpha"])
    rules.cap_total, rules.national_reserved = 2, 1
    rules.save()
    customer(world, "Alice")
    local_one, local_two = campaign(world, version, operation=kit), campaign(world, version, operation=kit)
    theirs = campaign(world, version, operation=national)
    result = decisions(simulate(world))
    assert result[(local_one.pk, "Alice")][0] is True
    assert result[(local_two.pk, "Alice")][:2] == (False, Reason.QUOTA)
    assert result[(theirs.pk, "Alice")][0] is True


def test_a_segment_with_a_cap_of_its_own(world, version, kit):
    """cap 2 per 7 days for everyone, 3 for the "fidèle" segment, none for "repos": of four local
    campaigns, a loyal customer gets three, a regular one two, a rested one none; a loyal customer
    contacted once last week gets two more."""
    rules = rules_for(world.networks["alpha"])
    rules.cap_total, rules.cap_days, rules.segment_caps = 2, 7, {"fidèle": 3, "repos": 0}
    rules.save()
    customer(world, "Loyal", segment="fidèle")
    customer(world, "Regular", segment="standard")
    customer(world, "Rested", segment="repos")
    seen = customer(world, "Seen", segment="fidèle")
    Contact.objects.create(customer=seen, channel="email", origin=Origin.LOCAL, contacted_on=DAY - timedelta(days=5))
    campaigns = [campaign(world, version, operation=kit) for _ in range(4)]
    result = decisions(simulate(world))
    selected = {name: [result[(c.pk, name)][0] for c in campaigns] for name in ("Loyal", "Regular", "Rested", "Seen")}
    assert selected == {"Loyal": [True, True, True, False], "Regular": [True, True, False, False],
                        "Rested": [False, False, False, False], "Seen": [True, True, False, False]}
    assert result[(campaigns[3].pk, "Loyal")] == (False, Reason.PRESSURE_CAP, campaigns[2].pk)
    assert result[(campaigns[0].pk, "Rested")] == (False, Reason.PRESSURE_CAP, None)


def test_a_segment_cap_also_bounds_the_quota(world, version, national, kit):
    """cap 2 with one slot kept for national, 3 for "fidèle": a loyal customer may get two local
    messages (3 − 1), a regular one one."""
    rules = rules_for(world.networks["alpha"])
    rules.cap_total, rules.national_reserved, rules.segment_caps = 2, 1, {"fidèle": 3}
    rules.save()
    customer(world, "Loyal", segment="fidèle")
    customer(world, "Regular")
    local = [campaign(world, version, operation=kit) for _ in range(3)]
    result = decisions(simulate(world))
    assert [result[(c.pk, "Loyal")][:2] for c in local] == [(True, ""), (True, ""), (False, Reason.QUOTA)]
    assert [result[(c.pk, "Regular")][:2] for c in local] == [(True, ""), (False, Reason.QUOTA), (False, Reason.QUOTA)]


def test_nothing_goes_on_a_quiet_day(world, version, kit):
    rules = rules_for(world.networks["alpha"])
    rules.quiet_weekdays = [7]
    rules.save()
    customer(world, "Alice")
    sunday = DAY + timedelta(days=(6 - DAY.weekday()) % 7)
    on_sunday, on_wednesday = campaign(world, version, operation=kit, day=sunday), campaign(world, version, operation=kit)
    run = arbitrate(network=world.networks["alpha"], starts_on=DAY, ends_on=sunday)
    result = decisions(run)
    assert result[(on_sunday.pk, "Alice")][:2] == (False, Reason.QUIET_PERIOD)
    assert result[(on_wednesday.pk, "Alice")][0] is True


def test_one_message_per_operation_and_never_twice_the_same_operation(world, version, national):
    alice, bob = customer(world, "Alice"), customer(world, "Bob")
    by_mail = campaign(world, version, operation=national, channel="email")
    by_sms = campaign(world, version, operation=national, channel="sms")
    Contact.objects.create(customer=bob, channel="email", origin=Origin.NATIONAL, operation=national,
                           contacted_on=TODAY - timedelta(days=1))
    result = decisions(simulate(world))
    assert result[(by_mail.pk, "Alice")][0] is True
    assert result[(by_sms.pk, "Alice")] == (False, Reason.SAME_OPERATION, by_mail.pk)
    assert result[(by_mail.pk, "Bob")][:2] == (False, Reason.ALREADY_CONTACTED)
    assert alice.pk != bob.pk


def test_two_customers_sharing_an_address_get_one_message(world, version, kit):
    first = customer(world, "First", email="family@example.test")
    customer(world, "Second", email="Family@example.test")
    local = campaign(world, version, operation=kit)
    result = decisions(simulate(world))
    assert result[(local.pk, "First")][0] is True and first.pk
    assert result[(local.pk, "Second")] == (False, Reason.DUPLICATE_ADDRESS, local.pk)


def test_a_simulation_looks_at_drafts_a_real_run_only_at_what_the_gate_lets_through(world, version, kit):
    customer(world, "Alice")
    approved = campaign(world, version, operation=kit)
    draft = campaign(world, version, operation=kit)
    Campaign.objects.filter(pk=draft.pk).update(status=CampaignStatus.DRAFT)
    assert {key[0] for key in decisions(simulate(world))} >= {approved.pk, draft.pk}
    refused = {approved.pk}
    run = arbitrate(network=world.networks["alpha"], starts_on=DAY, ends_on=DAY, mode=ArbitrationRun.Mode.COMMIT,
                    gate=lambda c: "no proof" if c.pk in refused else None)
    assert run.summary["campaigns"] == 0 and not Delivery.objects.exists()


def test_a_real_run_makes_one_delivery_per_selected_candidate_even_when_run_twice(world, version, kit):
    for name in ("Alice", "Bob", "Refusing"):
        customer(world, name, **({"consent_email": ConsentStatus.DENIED} if name == "Refusing" else {}))
    local = campaign(world, version, operation=kit)
    for _ in range(2):
        run = arbitrate(network=world.networks["alpha"], starts_on=DAY, ends_on=DAY, mode=ArbitrationRun.Mode.COMMIT,
                        gate=lambda c: None)
    names = set(Delivery.objects.filter(campaign=local).values_list("customer__last_name", flat=True))
    assert names == {"Alice", "Bob", "Nord"}  # Anne Nord, N1's customer of the world fixture, accepts e-mail
    assert run.summary["excluded"] == {Reason.NO_CONSENT: 1}
    tokens = list(Delivery.objects.values_list("token", flat=True))
    assert len(set(tokens)) == len(tokens) == 3 and all(len(token) >= 30 for token in tokens)
