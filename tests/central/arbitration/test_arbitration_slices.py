"""A large network's arbitration is decided in slices of customers, each on a connection of its own
(PostgreSQL, outside a transaction: docs/arbitration.md, "On both cores"). Its decisions must be
those of the one-connection engine, which tests/central/arbitration/test_arbitration.py checks against answers written
by hand: here both engines decide the same seeded network of a few hundred customers, with every
rule at work — customers sharing an address across slices included — and every decision is
compared. PostgreSQL only: SQLite has one connection."""

import bisect
import hashlib
import random
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from central.arbitration import arbitrate, partition_name, rules_for
from central.arbitration import slices as arbitration_slices
from central.models import (
    ArbitrationRun,
    Campaign,
    CampaignStatus,
    Candidate,
    ConsentStatus,
    Contact,
    Customer,
    OperationMode,
    Origin,
    Reason,
    Suppression,
    TargetOverride,
)
from tests.planning import plan, sms_version

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="slices run on PostgreSQL only"),
]

from tests.central.arbitration.test_arbitration import DAY  # noqa: E402


def _digest(value: str) -> str:
    return hashlib.sha256(value.lower().encode()).hexdigest()


def _network(world) -> None:
    """300 customers of N1, N2 and S1 (consents, objections, segments, shared e-mails and mobiles,
    a suppressed address), their past contacts, and a week of campaigns: a national operation
    joined by the three branches (one flagged "national priority"), two head-office sends, local
    kit campaigns by e-mail and SMS, customers added and removed by hand."""
    rng = random.Random(20261129)
    alpha = world.networks["alpha"]
    rules = rules_for(alpha)
    rules.cap_total, rules.cap_days, rules.national_reserved = 2, 7, 1
    rules.channel_caps = {"sms": {"count": 1, "days": 14}}
    rules.segment_caps = {"fidèle": 3}
    rules.save()
    version = sms_version(world)
    def twin(name):  # the first and the last customer share an address no one else has: different slices
        return Customer.objects.create(network=alpha, branch=world.nodes["N1"], external_id=name, last_name=name,
                                       email="twins@example.test", mobile="0688888888", segment="standard",
                                       consent_email=ConsentStatus.GRANTED, consent_sms=ConsentStatus.GRANTED)

    twin("Twin A")
    customers = []
    for number in range(300):
        branch = world.nodes[rng.choice(["N1", "N1", "N2", "S1"])]
        family = rng.random() < 0.1  # shares an e-mail (and often a mobile) with others, anywhere in the ids
        customers.append(Customer(
            network=alpha, branch=branch, external_id=f"s-{number}", last_name=f"C{number}",
            email=f"family{rng.randrange(8)}@example.test" if family else f"c{number}@example.test",
            mobile=f"0699{rng.randrange(8):06d}" if family and rng.random() < 0.7 else f"06{number:08d}",
            consent_email=ConsentStatus.GRANTED if rng.random() < 0.8 else ConsentStatus.DENIED,
            consent_sms=ConsentStatus.GRANTED if rng.random() < 0.6 else ConsentStatus.DENIED,
            segment=rng.choice(["fidèle", "standard", "standard"]),
        ))
    customers = Customer.objects.bulk_create(customers)
    twin("Twin B")
    for index in rng.sample(range(300), 6):
        Customer.objects.filter(pk=customers[index].pk).update(objected_at=timezone.now() - timedelta(days=30))
    Suppression.objects.create(network=alpha, channel="email", value_hash=_digest(customers[5].email))
    national = plan(world, name="Nationale", versions=[version])
    urgent = plan(world, name="Prioritaire", versions=[version], national_priority=True)
    kit = plan(world, name="Kit", mode=OperationMode.KIT, versions=[version])
    for customer in rng.sample(customers, 120):
        for _ in range(rng.randrange(1, 3)):
            Contact.objects.create(customer=customer, channel=rng.choice(["email", "sms"]),
                                   origin=rng.choice([Origin.LOCAL, Origin.NATIONAL]),
                                   operation=national if rng.random() < 0.1 else None,
                                   contacted_on=DAY - timedelta(days=rng.randrange(1, 20)))
    made = []

    def campaign(*, operation, branch, channel, day, criteria=None):
        made.append(Campaign.objects.create(
            network=alpha, branch=world.nodes[branch] if branch else None, operation=operation,
            template_version=version, channel=channel, send_date=day, status=CampaignStatus.SCHEDULED,
            target_criteria=criteria or {}))
        return made[-1]

    for branch in ("N1", "N2", "S1"):
        campaign(operation=national, branch=branch, channel="email", day=DAY)
        campaign(operation=national, branch=branch, channel="sms", day=DAY + timedelta(days=1))
        campaign(operation=urgent, branch=branch, channel="email", day=DAY + timedelta(days=2))
        for offset in range(3):
            campaign(operation=kit, branch=branch, channel=rng.choice(["email", "sms"]), day=DAY + timedelta(days=offset),
                     criteria={"segment": ["fidèle"]} if offset == 2 else None)
    campaign(operation=None, branch=None, channel="email", day=DAY)
    head_office_sms = campaign(operation=None, branch=None, channel="sms", day=DAY + timedelta(days=1))
    for customer in rng.sample(customers, 5):
        TargetOverride.objects.create(campaign=made[3], customer=customer, action=TargetOverride.Action.INCLUDE)
    for customer in rng.sample(customers, 5):
        TargetOverride.objects.create(campaign=head_office_sms, customer=customer, action=TargetOverride.Action.EXCLUDE)


def _decisions(run):
    return {(c.campaign_id, c.customer_id): (c.selected, c.reason, c.lost_to_id)
            for c in Candidate.objects.filter(run=run)}


def _run(world, settings, workers):
    settings.RELAIS_ARBITRATION_WORKERS = workers
    settings.RELAIS_ARBITRATION_PARALLEL_FROM = 0
    return arbitrate(network=world.networks["alpha"], starts_on=DAY, ends_on=DAY + timedelta(days=6))


def _tables(like: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_class WHERE relname LIKE %s", [like])
        return {row[0] for row in cursor.fetchall()}


def test_slices_on_their_own_connections_decide_exactly_as_one_connection(transactional_world, settings):
    _network(transactional_world)
    alone = _decisions(_run(transactional_world, settings, 1))
    run = _run(transactional_world, settings, 3)
    sliced = _decisions(run)
    assert sliced == alone
    reasons = {reason for _selected, reason, _lost in alone.values()}
    # the workload is not trivial: every rule decided something, and some addresses are shared
    # by customers of different slices
    assert reasons >= {"", Reason.NO_CONSENT, Reason.OBJECTION, Reason.SUPPRESSED, Reason.NOT_OWNER,
                       Reason.SAME_OPERATION, Reason.DUPLICATE_ADDRESS, Reason.CHANNEL_CAP, Reason.QUOTA,
                       Reason.PRESSURE_CAP, Reason.ALREADY_CONTACTED}
    assert run.summary["candidates"] == len(alone) > 1000
    # … and some customer lost "one per address" to a customer of another slice: the second twin
    twin_b = Customer.objects.get(last_name="Twin B")
    assert {reason for (_c, customer), (_s, reason, _l) in alone.items() if customer == twin_b.pk} >= {
        Reason.DUPLICATE_ADDRESS}
    bounds = arbitration_slices._slice_bounds(transactional_world.networks["alpha"])
    emails = dict(Customer.objects.values_list("pk", "email"))
    losers = [customer for (_campaign, customer), (_s, reason, _l) in alone.items() if reason == Reason.DUPLICATE_ADDRESS]
    assert any(bisect.bisect(bounds, min(pk for pk, email in emails.items() if email == emails[loser]))
               != bisect.bisect(bounds, loser) for loser in losers)
    # the run's partition is partitioned in turn, by customer, one partition per slice
    part = partition_name(run.pk)
    assert _tables(f"{part}%") >= {part, f"{part}_s0", f"{part}_s1", f"{part}_s2"}
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM pg_inherits WHERE inhparent = %s::regclass", [part])
        assert cursor.fetchone()[0] == 3
    run.delete()
    assert _tables(f"{part}%") == set()
    assert not Candidate.objects.filter(run_id=run.pk).exists()


def test_a_slice_that_fails_leaves_no_run_and_no_table_behind(transactional_world, settings, monkeypatch):
    _network(transactional_world)
    real = arbitration_slices._caps_and_write  # looked up by _decide, in central.arbitration.slices

    def failing(run, rules, past, operations, table):
        if table.endswith("_s1"):
            raise RuntimeError("the database went away")
        return real(run, rules, past, operations, table)

    monkeypatch.setattr(arbitration_slices, "_caps_and_write", failing)
    before = _tables(f"{Candidate._meta.db_table}_r%")
    with pytest.raises(RuntimeError):
        _run(transactional_world, settings, 2)
    assert not ArbitrationRun.objects.exists()
    assert _tables(f"{Candidate._meta.db_table}_r%") == before  # slice 0's table, committed, dropped again


def test_inside_a_transaction_the_run_stays_on_its_connection(transactional_world, settings):
    """Other connections would not see what the caller's transaction wrote: one connection."""
    from django.db import transaction

    _network(transactional_world)
    with transaction.atomic():
        Customer.objects.filter(network=transactional_world.networks["alpha"]).update(consent_email=ConsentStatus.DENIED)
        run = _run(transactional_world, settings, 3)
        assert _tables(f"{partition_name(run.pk)}_s%") == set()
        assert not Candidate.objects.filter(run=run, channel="email", selected=True).exists()
