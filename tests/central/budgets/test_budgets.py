"""Budgets: a campaign's estimated and actual cost match a hand computation (co-funding included);
a campaign over its branch's budget needs one more head-office approval (or is refused, as the
policy says); a branch sees its own budget and no other's."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone

from approvals.models import ApprovalPolicy, OverBudget, ProofStatus
from approvals.services import proof_decide, proof_request, send_gate
from central.budgets import costs as budgets
from central.budgets.services import budget_allocate
from central.campaigns.services import campaign_schedule, campaign_update
from central.delivery import sending
from central.models import Budget, Campaign, CampaignStatus
from central.rules.services import network_rules_update
from local_stores.models import Role
from local_stores.services import role_grant
from tests.dispatching import SLOT_VALUES, add_customers, approve_all, email_version
from tests.planning import joined_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture
def priced(world):
    """E-mails at 0.05 each; an operation whose cost head office funds at 30 %; N1's campaign of it,
    to 9 new customers and Anne: 10 messages."""
    network_rules_update(network=world.networks["alpha"], updated_by=world.users["head_office"],
                         cost_email=Decimal("0.0500"))
    campaign = joined_campaign(world, version=email_version(world), reachable=0, cofunding_percent=30)
    add_customers(world, 9)
    campaign_update(campaign=campaign, updated_by=world.users["branch_manager"], slot_values=SLOT_VALUES)
    return Campaign.objects.select_related("operation", "network").get(pk=campaign.pk)


def allocate(world, amount: str, node: str = "N1"):
    """A budget from today for a year (the campaigns' send dates are weeks ahead)."""
    today = timezone.localdate()
    return budget_allocate(network=world.networks["alpha"], node=world.nodes[node], starts_on=today,
                           ends_on=today + timedelta(days=365), amount=Decimal(amount),
                           allocated_by=world.users["head_office"])


def test_estimated_and_actual_costs_match_a_hand_computation(world, priced, django_capture_on_commit_callbacks):
    estimate = budgets.campaign_cost_estimate(priced, audience=10)
    # 10 × 0.05 = 0.50; head office pays 30 % = 0.15; the branch 0.35
    assert (estimate.total, estimate.head_office, estimate.branch) == (Decimal("0.50"), Decimal("0.15"), Decimal("0.35"))
    page = world.client_for("branch_manager").get(f"/network/campaigns/{priced.public_id}/").content.decode()
    assert 'data-testid="cost-estimate">€0.50' in page
    allocate(world, "100.00")
    approve_all(world, proof_request(campaign=priced, requested_by=world.users["branch_manager"]))
    budget = Budget.objects.get(branch=world.nodes["N1"])
    status = budgets.budget_status(budget)
    assert (status.committed, status.spent, status.remaining) == (Decimal("0.35"), Decimal("0.00"), Decimal("99.65"))
    campaign_schedule(campaign=Campaign.objects.get(pk=priced.pk), scheduled_by=world.users["branch_manager"])
    from central.arbitration import arbitrate
    from central.campaigns.services import campaign_send_start
    from central.models import ArbitrationRun

    campaign = Campaign.objects.get(pk=priced.pk)
    arbitrate(network=world.networks["alpha"], starts_on=campaign.send_date, ends_on=campaign.send_date,
              mode=ArbitrationRun.Mode.COMMIT, gate=send_gate)
    campaign = campaign_send_start(campaign=campaign)
    with django_capture_on_commit_callbacks(execute=True):
        sending.campaign_dispatch(campaign=campaign)
    actual = budgets.campaign_cost_actual(Campaign.objects.select_related("operation", "network").get(pk=priced.pk))
    assert (actual.messages, actual.total, actual.branch) == (10, Decimal("0.50"), Decimal("0.35"))
    status = budgets.budget_status(budget)
    assert (status.committed, status.spent, status.remaining) == (Decimal("0.00"), Decimal("0.35"), Decimal("99.65"))


def test_an_over_budget_campaign_needs_one_more_head_office_approval(world, priced):
    allocate(world, "0.20")  # the branch's share is 0.35
    proof = proof_request(campaign=priced, requested_by=world.users["branch_manager"])
    assert len(proof.steps) == 3 and proof.steps[-1]["over_budget"] == {"cost": "0.35", "remaining": "0.20"}
    approve_all(world, proof)  # the region, then head office's approver: not enough
    proof.refresh_from_db()
    assert proof.status == ProofStatus.PENDING and proof.current_step == 2
    campaign = Campaign.objects.get(pk=priced.pk)
    assert campaign.status == CampaignStatus.AWAITING_APPROVAL and send_gate(campaign) is not None
    second = get_user_model().objects.create_user("budget-approver", password="x")
    role_grant(user=second, node=world.nodes["alpha:HQ"], role=Role.APPROVER)
    proof_decide(proof=proof, decided_by=second, verdict="approve")
    proof.refresh_from_db()
    assert proof.status == ProofStatus.APPROVED
    assert send_gate(Campaign.objects.get(pk=priced.pk)) is None
    # the approvals page says why the step is there
    page = world.client_for("approver").get(f"/approvals/proofs/{proof.public_id}/").content.decode()
    assert "over budget: costs the branch €0.35, €0.20 remained" in page
    french = world.client_for("approver").get(f"/approvals/proofs/{proof.public_id}/", HTTP_ACCEPT_LANGUAGE="fr")
    assert "0,35\xa0€" in french.content.decode() and "0,20\xa0€" in french.content.decode()


def test_the_policy_may_refuse_a_campaign_over_budget(world, priced):
    allocate(world, "0.20")
    ApprovalPolicy.objects.create(network=world.networks["alpha"], name="strict", steps=[
        {"level": "head_office", "role": "approver", "quorum": 1}], over_budget=OverBudget.REFUSE)
    with pytest.raises(ValidationError) as error:
        proof_request(campaign=priced, requested_by=world.users["branch_manager"])
    assert "budget" in error.value.message_dict
    assert "0.35" in error.value.message_dict["budget"][0]


def test_within_budget_or_without_budgets_no_extra_step(world, priced):
    proof = proof_request(campaign=priced, requested_by=world.users["branch_manager"])
    assert len(proof.steps) == 2  # the network allocates no budget: it manages none


def test_a_region_budget_is_split_among_its_branches_and_overlaps_are_refused(world):
    rows = allocate(world, "100.01", node="NORTH")
    assert sorted(row.amount for row in rows) == [Decimal("50.00"), Decimal("50.01")]  # the odd cent to one
    assert {row.branch.code for row in rows} == {"N1", "N2"} and {row.region.code for row in rows} == {"NORTH"}
    with pytest.raises(ValidationError) as error:
        allocate(world, "5", node="N1")
    assert "starts_on" in error.value.message_dict
    with pytest.raises(ValidationError):
        budget_allocate(network=world.networks["alpha"], node=world.nodes["S1"], starts_on=timezone.localdate(),
                        ends_on=timezone.localdate(), amount="-3", allocated_by=world.users["head_office"])


def test_a_branch_sees_its_own_budget_and_no_other(world):
    allocate(world, "41.00", node="N1")
    allocate(world, "52.00", node="N2")
    allocate(world, "70.00", node="S1")
    mine = world.client_for("branch_manager")
    page = mine.get("/budgets/").content.decode()
    assert "41.00" in page and "52.00" not in page and "70.00" not in page
    assert [row["allocated"] for row in mine.get("/api/v1/budgets/").json()] == ["41.00"]
    exported = b"".join(mine.get("/budgets/", {"export": "csv", "starts_on": "2000-01-01", "ends_on": "2100-12-31"})
                        .streaming_content).decode()
    assert "41.0" in exported and "52.0" not in exported and "70.0" not in exported
    assert world.client_for("sibling_branch_manager").get("/api/v1/budgets/").json()[0]["allocated"] == "52.00"
    region = world.client_for("regional_manager").get("/api/v1/budgets/").json()
    assert sorted(row["allocated"] for row in region) == ["41.00", "52.00"]
    head_office = world.client_for("head_office").get("/budgets/").content.decode()
    assert 'data-testid="total-allocated">€163.00' in head_office
    assert world.client_for("other_network_head_office").get("/api/v1/budgets/").json() == []
    # only head office allocates
    refused = mine.post("/api/v1/budgets/", {"node": world.nodes["N1"].public_id, "starts_on": "2030-01-01",
                                               "ends_on": "2030-12-31", "amount": "10"}, content_type="application/json")
    assert refused.status_code == 400 and "node" in refused.json()
    assert world.client_for("nobody").get("/budgets/").status_code == 404


def test_head_office_allocates_through_the_page_and_the_api(world):
    client = world.client_for("head_office")
    bad = client.post("/budgets/allocate/", {"node": world.nodes["N1"].pk, "starts_on": "2030-02-01",
                                             "ends_on": "2030-01-01", "amount": "10"})
    assert bad.status_code == 400 and "The last day comes before the first." in bad.content.decode()
    ok = client.post("/budgets/allocate/", {"node": world.nodes["N1"].pk, "starts_on": "2030-01-01",
                                            "ends_on": "2030-12-31", "amount": "10"})
    assert ok.status_code == 302
    created = client.post("/api/v1/budgets/", {"node": world.nodes["NORTH"].public_id, "starts_on": "2031-01-01",
                                                "ends_on": "2031-12-31", "amount": "20.00"},
                          content_type="application/json")
    assert created.status_code == 201 and len(created.json()) == 2
    assert Budget.objects.count() == 3


def test_a_committed_sms_campaign_is_costed_from_its_proof_without_rendering_again(world, monkeypatch):
    """The budget page reads many committed campaigns: their message is measured on the proof."""
    network_rules_update(network=world.networks["alpha"], updated_by=world.users["head_office"],
                         cost_sms_segment=Decimal("0.0500"))
    campaign = joined_campaign(world, reachable=4)  # an SMS operation; 4 customers of N1 accept SMS
    allocate(world, "50")
    proof = proof_request(campaign=campaign, requested_by=world.users["branch_manager"])
    approve_all(world, proof)
    from templates_lib import rendering

    segments = rendering.sms_count(proof.text).segments

    def no_rendering(*args, **kwargs):
        raise AssertionError("rendered again")

    monkeypatch.setattr(budgets, "sms_segments", no_rendering)
    status = budgets.budget_status(Budget.objects.get(branch=world.nodes["N1"]))
    assert status.committed == Decimal(proof.audience_count * segments) * Decimal("0.05")
