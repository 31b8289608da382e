"""Central versus local, settled with hand-written answers, checked at a real SMTP server on loopback:

- the owner branch's own version of an operation beats head office's generic send of it, whatever
  the order of scheduling and whichever sends first within the operation's window (head office's
  send reaches only the customers of branches without a version of their own);
- head office's send reaches only the operation's eligible branches (a pilot on one region), not a
  branch that declined an opt-in operation, nor one that opted out of a mandatory one;
- "why not?" says so in plain words.

The network (tests/conftest.py): region NORTH with branches N1 (Lille) and N2 (Arras), region SOUTH
with S1 (Nîmes). Each test adds e-mail customers: two of Lille, one of Arras, one of Nîmes; the world
already has Anne (Lille) and Bruno (Arras) with e-mail consent, and Chloe (Nîmes) without.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import translation

from approvals.services import proof_decide, proof_request
from central.calendar.services import participation_answer
from central.campaigns.selectors import campaign_audience, campaign_audience_count
from central.campaigns.services import campaign_schedule, campaign_update, national_campaign_create
from central.campaigns.target_review import review_add, review_remove
from central.delivery.sending import campaigns_send_due
from central.models import (
    ArbitrationRun,
    Campaign,
    CampaignStatus,
    Candidate,
    Customer,
    OperationMode,
    Reason,
)
from central.rules.selectors import customer_why_not
from central.rules.services import arbitration_simulate
from tests.dispatching import SLOT_VALUES, add_customers, email_version
from tests.planning import plan

pytestmark = pytest.mark.django_db

LILLE = {"lil0@example.test", "lil1@example.test", "anne.nord@example.test"}
ARRAS = {"arr0@example.test", "bruno.voisin@example.test"}
NIMES = {"nim0@example.test"}  # Chloe (Nîmes) has no e-mail consent


@pytest.fixture
def customers(world):
    add_customers(world, 2, prefix="lil", branch="N1")
    add_customers(world, 1, prefix="arr", branch="N2")
    add_customers(world, 1, prefix="nim", branch="S1")


def approve(world, proof):
    """Every step of the proof, by the person who holds its role (region, then head office)."""
    for step in proof.steps:
        who = "regional_manager" if step["level"] == "region" else "approver"
        proof_decide(proof=proof, decided_by=world.users[who], verdict="approve")


def ready(world, campaign: Campaign, *, day, author: str) -> Campaign:
    """Customised, approved and scheduled for ``day`` the real way."""
    by = world.users[author]
    campaign_update(campaign=campaign, updated_by=by, slot_values=SLOT_VALUES, send_date=day)
    approve(world, proof_request(campaign=Campaign.objects.get(pk=campaign.pk), requested_by=by))
    return campaign_schedule(campaign=Campaign.objects.get(pk=campaign.pk), scheduled_by=by)


def head_office_send(world, operation, version) -> Campaign:
    return national_campaign_create(operation=operation, template_version=version,
                                    created_by=world.users["head_office"])


def branch_version(world, operation, branch="N1", manager="branch_manager") -> Campaign:
    participation_answer(operation=operation, branch=world.nodes[branch], status="joined",
                         answered_by=world.users[manager])
    return Campaign.objects.get(operation=operation, branch=world.nodes[branch])


def send_days(days, django_capture_on_commit_callbacks):
    """What beat does each morning, day after day."""
    for day in sorted(set(days)):
        with django_capture_on_commit_callbacks(execute=True):
            campaigns_send_due(today=day)


def received_by(sink, campaign: Campaign) -> set[str]:
    """Who received ``campaign`` at the SMTP server (its Message-IDs are its deliveries' tokens)."""
    tokens = set(campaign.deliveries.values_list("token", flat=True))
    return {r.to for r in sink.handler.received if r.message["Message-ID"].strip("<>").split("@")[0] in tokens}


def decisions(campaign: Campaign) -> dict[str, tuple[bool, str, int | None]]:
    """The committed run's decisions for ``campaign``, by customer e-mail."""
    rows = (Candidate.objects.filter(campaign=campaign, run__mode=ArbitrationRun.Mode.COMMIT)
            .values_list("customer__email", "selected", "reason", "lost_to_id"))
    return {email: (selected, reason, lost_to) for email, selected, reason, lost_to in rows}


# --- 1. The most specific version wins -------------------------------------------------------------


@pytest.mark.parametrize("head_office_first", [True, False], ids=["head-office-scheduled-first",
                                                                  "branch-scheduled-first"])
@pytest.mark.parametrize("offset", [-2, 2], ids=["head-office-sends-2-days-before", "head-office-sends-2-days-after"])
def test_the_owner_branchs_version_beats_head_offices_whatever_the_order_and_the_days(
        world, customers, sink, django_capture_on_commit_callbacks, head_office_first, offset):
    version = email_version(world)
    operation = plan(world, versions=[version], channels=["email"])
    branch_day = operation.send_from + timedelta(days=4)
    head_office_day = branch_day + timedelta(days=offset)
    national = head_office_send(world, operation, version)
    lille = branch_version(world, operation)
    if head_office_first:
        ready(world, national, day=head_office_day, author="head_office")
        ready(world, lille, day=branch_day, author="branch_manager")
    else:
        ready(world, lille, day=branch_day, author="branch_manager")
        ready(world, national, day=head_office_day, author="head_office")

    send_days([head_office_day, branch_day], django_capture_on_commit_callbacks)

    # Lille's customers get Lille's version, once; everybody else head office's; nobody both.
    assert received_by(sink, lille) == LILLE
    assert received_by(sink, national) == ARRAS | NIMES
    assert sorted(r.to for r in sink.handler.received) == sorted(LILLE | ARRAS | NIMES)
    assert all("Lille" in r.message["Subject"] for r in sink.handler.received if r.to in LILLE)
    # head office's run excluded Lille's customers because of Lille's version, and says which one
    lost = decisions(national)
    assert {email: lost[email] for email in LILLE} == dict.fromkeys(LILLE, (False, Reason.BRANCH_VERSION, lille.pk))
    assert {email for email, (selected, _r, _l) in lost.items() if selected} == ARRAS | NIMES
    assert {email: d[:2] for email, d in decisions(lille).items()} == dict.fromkeys(LILLE, (True, ""))
    for campaign in (lille, national):
        campaign.refresh_from_db()
        assert campaign.status == CampaignStatus.SENT


def test_why_not_says_the_branchs_own_version_is_sent_instead(world, customers, sink,
                                                               django_capture_on_commit_callbacks):
    version = email_version(world)
    operation = plan(world, versions=[version], channels=["email"], name="Foire aux vins")
    day = operation.send_from + timedelta(days=3)
    national = head_office_send(world, operation, version)
    lille = branch_version(world, operation)
    ready(world, national, day=day - timedelta(days=2), author="head_office")
    ready(world, lille, day=day, author="branch_manager")
    send_days([day - timedelta(days=2)], django_capture_on_commit_callbacks)  # head office's day only
    anne = world.customers["N1"]
    with translation.override("en"):
        lines = customer_why_not(fetched_by=world.users["branch_manager"], customer=anne).lines
        texts = [line.text for line in lines if line.reason == Reason.BRANCH_VERSION]
        assert len(texts) == 1 and not [line for line in lines if line.selected]
        assert "your branch's own version of “Foire aux vins” is sent instead" in texts[0]
        head_office_view = customer_why_not(fetched_by=world.users["head_office"], customer=anne).lines
        assert any("Lille's own version of “Foire aux vins” is sent instead" in line.text
                   for line in head_office_view)
    with translation.override("fr"):
        lines = customer_why_not(fetched_by=world.users["branch_manager"], customer=anne).lines
        assert any("la version de votre agence de «\u00a0Foire aux vins\u00a0» est envoyée à la place" in line.text
                   for line in lines), [line.text for line in lines]
    # and on the later day, Lille's version goes to Anne: she was never contacted by head office
    send_days([day], django_capture_on_commit_callbacks)
    assert received_by(sink, lille) == LILLE


def test_a_branch_draft_does_not_hold_head_offices_send_back_for_real_but_counts_in_a_simulation(
        world, customers, sink, django_capture_on_commit_callbacks):
    """A branch that joined but has not submitted its version: for real, head office's generic one
    reaches its customers (nothing would reach them otherwise); a simulation, which arbitrates
    drafts too, counts the draft as the branch's version."""
    version = email_version(world)
    operation = plan(world, versions=[version], channels=["email"])
    day = operation.send_from + timedelta(days=2)
    national = head_office_send(world, operation, version)
    lille = branch_version(world, operation)
    campaign_update(campaign=lille, updated_by=world.users["branch_manager"], send_date=day + timedelta(days=1))
    ready(world, national, day=day, author="head_office")
    run = arbitration_simulate(network=world.networks["alpha"], starts_on=day, ends_on=day + timedelta(days=1),
                               run_by=world.users["head_office"])
    simulated = dict(Candidate.objects.filter(run=run, campaign=national).values_list("customer__email", "reason"))
    assert {email: simulated[email] for email in LILLE} == dict.fromkeys(LILLE, Reason.BRANCH_VERSION)
    send_days([day], django_capture_on_commit_callbacks)
    assert received_by(sink, national) == LILLE | ARRAS | NIMES


# --- 2. Head office's send reaches only the operation's branches -----------------------------------


def test_a_pilot_on_one_region_reaches_only_that_regions_customers(world, customers, sink,
                                                                   django_capture_on_commit_callbacks):
    version = email_version(world)
    operation = plan(world, versions=[version], channels=["email"], eligible=("NORTH",), is_pilot=True)
    day = operation.send_from + timedelta(days=1)
    national = ready(world, head_office_send(world, operation, version), day=day, author="head_office")
    send_days([day], django_capture_on_commit_callbacks)
    assert received_by(sink, national) == LILLE | ARRAS
    assert decisions(national)["nim0@example.test"] == (False, Reason.NOT_ELIGIBLE, None)
    # Chloe has no e-mail consent: the first reason stays hers
    assert decisions(national)["chloe.sud@example.test"][1] == Reason.NO_CONSENT
    with translation.override("en"):
        lines = customer_why_not(fetched_by=world.users["other_region_manager"],
                                 customer=Customer.objects.get(email="nim0@example.test")).lines
    assert any("is not run in your branch" in line.text for line in lines)


def test_a_branch_that_declined_an_opt_in_operation_gets_nothing_from_head_office(
        world, customers, sink, django_capture_on_commit_callbacks):
    version = email_version(world)
    operation = plan(world, versions=[version], channels=["email"])
    participation_answer(operation=operation, branch=world.nodes["N2"], status="declined",
                         answered_by=world.users["sibling_branch_manager"])
    day = operation.send_from + timedelta(days=1)
    national = ready(world, head_office_send(world, operation, version), day=day, author="head_office")
    send_days([day], django_capture_on_commit_callbacks)
    # Arras declined; Lille and Nîmes did not answer: head office's send reaches them
    assert received_by(sink, national) == LILLE | NIMES
    assert {email: decisions(national)[email] for email in ARRAS} == dict.fromkeys(
        ARRAS, (False, Reason.BRANCH_DECLINED, None))
    with translation.override("en"):
        lines = customer_why_not(fetched_by=world.users["head_office"], customer=world.customers["N2"]).lines
    assert any("Arras declined “Foire aux vins”" in line.text for line in lines)


def test_a_branch_that_opted_out_of_a_mandatory_operation_gets_nothing_from_head_office(
        world, customers, sink, django_capture_on_commit_callbacks):
    version = email_version(world)
    operation = plan(world, versions=[version], channels=["email"], mode=OperationMode.MANDATORY,
                     opt_out_allowed=True)
    participation_answer(operation=operation, branch=world.nodes["S1"], status="opted_out",
                         answered_by=world.users["other_region_manager"])
    day = operation.send_from + timedelta(days=1)
    national = ready(world, head_office_send(world, operation, version), day=day, author="head_office")
    send_days([day], django_capture_on_commit_callbacks)
    assert received_by(sink, national) == LILLE | ARRAS
    assert decisions(national)["nim0@example.test"] == (False, Reason.BRANCH_DECLINED, None)


# --- The audience head office sees, and the branches' review of its target ------------------------


def test_head_offices_audience_counts_only_where_its_send_goes_and_the_branches_reviews(world, customers):
    """Pilot on NORTH, head office targets the segment "std"; Lille has submitted its own version;
    Arras removes Bruno and adds arv0 (segment "vip": not in head office's target). Head office's
    audience: Arras' arr0 and Bruno, then arr0 and arv0."""
    version = email_version(world)
    operation = plan(world, versions=[version], channels=["email"], eligible=("NORTH",), is_pilot=True)
    national = head_office_send(world, operation, version)
    campaign_update(campaign=national, updated_by=world.users["head_office"], target_criteria={"segment": "std"})
    Customer.objects.filter(network=world.networks["alpha"]).update(segment="std")
    add_customers(world, 1, prefix="arv", branch="N2", segment="vip")
    lille = branch_version(world, operation)
    ready(world, lille, day=operation.send_from + timedelta(days=1), author="branch_manager")
    head_office = world.users["head_office"]

    def audience() -> set[str]:
        fresh = Campaign.objects.get(pk=national.pk)
        found = campaign_audience(fetched_by=head_office, campaign=fresh)
        assert found.count() == campaign_audience_count(fetched_by=head_office, campaign=fresh)
        return set(found.values_list("email", flat=True))

    assert audience() == {"arr0@example.test", "bruno.voisin@example.test"}
    arras = world.users["sibling_branch_manager"]
    review_remove(operation=operation, customer=Customer.objects.get(email="bruno.voisin@example.test"),
                  reason="complaint", by=arras)
    review_add(operation=operation, customer=Customer.objects.get(email="arv0@example.test"), by=arras)
    assert audience() == {"arr0@example.test", "arv0@example.test"}


def test_a_simulation_applies_the_branchs_review_of_head_offices_target(world, customers):
    version = email_version(world)
    operation = plan(world, versions=[version], channels=["email"])
    Customer.objects.filter(branch=world.nodes["N2"]).update(segment="std")
    add_customers(world, 1, prefix="arv", branch="N2", segment="vip")
    national = head_office_send(world, operation, version)
    campaign_update(campaign=national, updated_by=world.users["head_office"], target_criteria={"segment": "std"})
    day = operation.send_from + timedelta(days=1)
    arras = world.users["sibling_branch_manager"]
    review_remove(operation=operation, customer=Customer.objects.get(email="bruno.voisin@example.test"),
                  reason="recent_contact", by=arras)
    review_add(operation=operation, customer=Customer.objects.get(email="arv0@example.test"), by=arras)
    ready(world, national, day=day, author="head_office")
    run = arbitration_simulate(network=world.networks["alpha"], starts_on=day, ends_on=day,
                               run_by=world.users["head_office"])
    decided = dict(Candidate.objects.filter(run=run, campaign=national)
                   .values_list("customer__email", "reason"))
    assert decided == {"bruno.voisin@example.test": Reason.REMOVED_BY_BRANCH, "arr0@example.test": "",
                       "arv0@example.test": ""}
    with translation.override("en"):
        lines = customer_why_not(fetched_by=arras, customer=Customer.objects.get(email="bruno.voisin@example.test")).lines
    assert any("your branch removed the customer from head office's target of “Foire aux vins”" in line.text
               for line in lines)
