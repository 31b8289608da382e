"""Approvals (BAT): proofs frozen from the campaign, policy steps, the rules that cannot be bent,
voiding on change, revocation, deadlines, the audit trail and the send gate."""

from datetime import timedelta
from io import BytesIO

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from pypdf import PdfReader

from approvals.models import ApprovalPolicy, AuditAction, AuditEntry, Proof, ProofStatus
from approvals.policies import policy_save
from approvals.services import approval_revoke, proof_deadlines_run, proof_decide, proof_request, send_gate
from central.campaigns.services import campaign_schedule, campaign_send_start, campaign_update
from central.models import Campaign, CampaignStatus
from local_stores.models import Role
from local_stores.services import role_grant
from templates_lib import services as template_services
from tests.factories import UserFactory
from tests.planning import joined_campaign

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()


@pytest.fixture
def campaign(world):
    return joined_campaign(world)


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run a service and what it left for after the commit (its e-mails), as in production."""
    def run(service, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return service(**kwargs)
    return run


def approve_all(world, proof):
    proof_decide(proof=proof, decided_by=world.users["regional_manager"], verdict="approve")
    proof_decide(proof=proof, decided_by=world.users["approver"], verdict="approve")
    proof.refresh_from_db()
    return proof


def test_a_proof_freezes_the_campaign_and_goes_through_region_then_head_office(world, campaign, committed):
    campaign_update(campaign=campaign, updated_by=world.users["branch_manager"], slot_values={"message": "huîtres -20 %"})
    proof = committed(proof_request, campaign=campaign, requested_by=world.users["branch_manager"])
    assert proof.text.startswith("Lille : huîtres -20 %") and proof.audience_count == 2
    assert [(s["role"], s["node_name"]) for s in proof.steps] == [("regional_manager", "North"), ("approver", "Alpha HQ")]
    assert len(proof.content_hash) == 64 and len(proof.campaign_hash) == 64
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.AWAITING_APPROVAL
    assert [m.to for m in mail.outbox] == [[world.users["regional_manager"].email]]
    with pytest.raises(PermissionDenied, match="not yours"):  # head office waits for the region
        proof_decide(proof=proof, decided_by=world.users["approver"], verdict="approve")
    assert send_gate(campaign) is not None
    proof_decide(proof=proof, decided_by=world.users["regional_manager"], verdict="approve")
    assert send_gate(campaign) is not None  # one step of two
    proof_decide(proof=proof, decided_by=world.users["approver"], verdict="approve")
    proof.refresh_from_db()
    campaign.refresh_from_db()
    assert proof.status == ProofStatus.APPROVED and campaign.status == CampaignStatus.APPROVED
    assert send_gate(campaign) is None
    campaign_schedule(campaign=campaign, scheduled_by=world.users["branch_manager"])
    campaign_send_start(campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENDING
    assert [e.action for e in AuditEntry.objects.filter(proof=proof)] == [
        AuditAction.REQUESTED, AuditAction.STEP_DONE, AuditAction.STEP_DONE, AuditAction.APPROVED]


def test_nobody_approves_what_they_authored_or_edited(world, campaign):
    both = UserFactory(username="both")
    role_grant(user=both, node=world.nodes["N1"], role=Role.BRANCH_MANAGER)
    role_grant(user=both, node=world.nodes["NORTH"], role=Role.REGIONAL_MANAGER)
    campaign_update(campaign=campaign, updated_by=both, slot_values={"message": "mon texte"})
    proof = proof_request(campaign=campaign, requested_by=world.users["branch_manager"])
    with pytest.raises(PermissionDenied, match="authored or edited"):
        proof_decide(proof=proof, decided_by=both, verdict="approve")
    with pytest.raises(PermissionDenied, match="authored or edited"):
        proof_decide(proof=proof, decided_by=world.users["branch_manager"], verdict="approve")


@pytest.mark.parametrize("actor", ["other_network_head_office", "sibling_branch_manager", "analyst", "head_office", "nobody"])
def test_nobody_decides_outside_their_scope(world, campaign, actor):
    proof = proof_request(campaign=campaign, requested_by=world.users["branch_manager"])
    with pytest.raises(PermissionDenied):
        proof_decide(proof=proof, decided_by=world.users[actor], verdict="approve")
    assert not proof.decisions.exists()


def test_a_regional_manager_of_another_region_cannot_decide(world):
    south = UserFactory(username="south_manager")
    role_grant(user=south, node=world.nodes["SOUTH"], role=Role.REGIONAL_MANAGER)
    proof = proof_request(campaign=joined_campaign(world), requested_by=world.users["branch_manager"])
    with pytest.raises(PermissionDenied):
        proof_decide(proof=proof, decided_by=south, verdict="approve")


def test_a_rejection_needs_a_comment_and_sends_the_campaign_back_to_draft(world, campaign, committed):
    proof = proof_request(campaign=campaign, requested_by=world.users["branch_manager"])
    with pytest.raises(ValidationError, match="needs a comment"):
        proof_decide(proof=proof, decided_by=world.users["regional_manager"], verdict="reject")
    mail.outbox.clear()
    committed(proof_decide, proof=proof, decided_by=world.users["regional_manager"], verdict="changes",
              slot_comments={"message": "Trop long"})
    proof.refresh_from_db()
    campaign.refresh_from_db()
    assert proof.status == ProofStatus.CHANGES_REQUESTED and campaign.status == CampaignStatus.DRAFT
    assert mail.outbox and mail.outbox[0].to == [world.users["branch_manager"].email]
    with pytest.raises(PermissionDenied, match="no longer waiting"):  # each step decided once
        proof_decide(proof=proof, decided_by=world.users["regional_manager"], verdict="approve")


def test_an_edit_after_approval_voids_the_proof_and_closes_the_gate(world, campaign, committed):
    proof = approve_all(world, proof_request(campaign=campaign, requested_by=world.users["branch_manager"]))
    campaign.refresh_from_db()
    assert send_gate(campaign) is None
    mail.outbox.clear()
    committed(campaign_update, campaign=campaign, updated_by=world.users["branch_manager"],
              send_date=campaign.send_date + timedelta(days=1))
    proof.refresh_from_db()
    campaign.refresh_from_db()
    assert proof.status == ProofStatus.VOIDED and "send date" in proof.closed_reason
    assert campaign.status == CampaignStatus.DRAFT
    assert send_gate(campaign) is not None
    with pytest.raises(ValidationError):
        campaign_schedule(campaign=campaign, scheduled_by=world.users["branch_manager"])
    told = {address for message in mail.outbox for address in message.to}
    assert {world.users["branch_manager"].email, world.users["regional_manager"].email,
            world.users["approver"].email} <= told


def test_a_change_of_the_target_list_voids_too(world, campaign):
    from central.campaigns.services import campaign_target_change

    proof = proof_request(campaign=campaign, requested_by=world.users["branch_manager"])
    customer = campaign.branch.customers.filter(consent_sms="granted").first()
    campaign_target_change(campaign=campaign, customer_public_id=customer.public_id, action="exclude",
                           changed_by=world.users["branch_manager"])
    proof.refresh_from_db()
    assert proof.status == ProofStatus.VOIDED


def test_approval_is_revoked_until_the_first_message_leaves(world, campaign):
    proof = approve_all(world, proof_request(campaign=campaign, requested_by=world.users["branch_manager"]))
    with pytest.raises(ValidationError, match="Say why"):
        approval_revoke(proof=proof, revoked_by=world.users["approver"], reason="")
    with pytest.raises(PermissionDenied):
        approval_revoke(proof=proof, revoked_by=world.users["branch_manager"], reason="oops")
    campaign_schedule(campaign=campaign, scheduled_by=world.users["branch_manager"])
    approval_revoke(proof=proof, revoked_by=world.users["approver"], reason="Prix erroné")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT and send_gate(campaign) is not None
    proof2 = approve_all(world, proof_request(campaign=campaign, requested_by=world.users["branch_manager"]))
    campaign_schedule(campaign=campaign, scheduled_by=world.users["branch_manager"])
    campaign_send_start(campaign=campaign)
    with pytest.raises(PermissionDenied, match="have left"):
        approval_revoke(proof=proof2, revoked_by=world.users["approver"], reason="trop tard")


def test_a_policy_decides_the_steps_and_print_keeps_a_head_office_step(world):
    policy_save(network=world.networks["alpha"], saved_by=world.users["head_office"], name="SMS kits",
                channel="sms", steps=[{"level": "region", "role": "regional_manager", "quorum": 1}])
    proof = proof_request(campaign=joined_campaign(world), requested_by=world.users["branch_manager"])
    assert [s["level"] for s in proof.steps] == ["region"]
    with pytest.raises(ValidationError) as refused:
        policy_save(network=world.networks["alpha"], saved_by=world.users["head_office"], name="",
                    steps=[{"level": "moon", "role": "approver", "quorum": 9}])
    assert set(refused.value.message_dict) == {"name", "steps"}
    with pytest.raises(PermissionDenied):
        policy_save(network=world.networks["alpha"], saved_by=world.users["regional_manager"], name="x",
                    steps=[{"level": "region", "role": "regional_manager"}])
    assert ApprovalPolicy.objects.count() == 1


def test_a_quorum_needs_distinct_approvers(world, campaign):
    policy_save(network=world.networks["alpha"], saved_by=world.users["head_office"], name="Two at HQ",
                steps=[{"level": "head_office", "role": "approver", "quorum": 2}])
    second = UserFactory(username="approver2")
    role_grant(user=second, node=world.nodes["alpha:HQ"], role=Role.APPROVER)
    proof = proof_request(campaign=campaign, requested_by=world.users["branch_manager"])
    proof_decide(proof=proof, decided_by=world.users["approver"], verdict="approve")
    with pytest.raises(PermissionDenied, match="already decided"):
        proof_decide(proof=proof, decided_by=world.users["approver"], verdict="approve")
    assert send_gate(campaign) is not None
    proof_decide(proof=proof, decided_by=second, verdict="approve")
    campaign.refresh_from_db()
    assert send_gate(campaign) is None


def test_the_deadline_task_reminds_then_escalates_once_however_often_it_runs(world, campaign, committed):
    proof = proof_request(campaign=campaign, requested_by=world.users["branch_manager"])
    mail.outbox.clear()
    assert proof_deadlines_run(today=proof.decision_deadline) == {"reminded": 1, "escalated": 0}
    assert proof_deadlines_run(today=proof.decision_deadline) == {"reminded": 0, "escalated": 0}
    late = proof.decision_deadline + timedelta(days=1)
    assert committed(proof_deadlines_run, today=late) == {"reminded": 0, "escalated": 1}
    assert proof_deadlines_run(today=late) == {"reminded": 0, "escalated": 0}
    assert AuditEntry.objects.filter(proof=proof, action=AuditAction.ESCALATED).count() == 1
    # the region step is now open to head-office approvers
    proof.refresh_from_db()
    assert world.users["approver"].email in {address for message in mail.outbox for address in message.to}
    proof_decide(proof=proof, decided_by=world.users["approver"], verdict="approve")
    proof.refresh_from_db()
    assert proof.current_step == 1


def test_the_audit_trail_is_append_only(world, campaign):
    proof_request(campaign=campaign, requested_by=world.users["branch_manager"])
    entry = AuditEntry.objects.get()
    with pytest.raises(ValidationError):
        entry.save()
    with pytest.raises(ValidationError):
        AuditEntry.objects.all().delete()
    with pytest.raises(ValidationError):
        AuditEntry.objects.all().update(action="x")


def test_a_print_proof_is_a_pdf_marked_bat_with_the_slot_values(world):
    template = template_services.template_create(network=world.networks["alpha"], kind="print", name="Flyer",
                                                 created_by=world.users["head_office"])
    draft = template.versions.get()
    template_services.draft_update(version=draft, edited_by=world.users["head_office"],
                                   body="<h1>{{ branch.name }}</h1><p>{{ slot.offer }}</p>", slots=[
                                       {"name": "offer", "type": "short_text", "label": "Offre", "max_length": 60,
                                        "required": True, "default": "Offre de base"}])
    version = template_services.version_publish(version=draft, published_by=world.users["head_office"])
    from central.models import ConsentStatus

    campaign = joined_campaign(world, version=version, channels=["post"], reachable=0)
    node = world.nodes["N1"]
    node.customers.create(network=node.network, external_id="post-1", last_name="Postal", address_line1="1 rue",
                          postal_code="59000", city="Lille", consent_post=ConsentStatus.GRANTED)
    campaign_update(campaign=campaign, updated_by=world.users["branch_manager"],
                    slot_values={"offer": "Coffret Noël à 39 €"})
    proof = proof_request(campaign=campaign, requested_by=world.users["branch_manager"])
    text = "\n".join(page.extract_text() for page in PdfReader(BytesIO(bytes(proof.pdf))).pages)
    assert "BAT" in text and "Coffret Noël à 39 €" in text and "Lille" in text
    assert [s["level"] for s in proof.steps][-1] == "head_office"


def test_requesting_needs_a_valid_campaign_with_an_audience(world):
    campaign = joined_campaign(world, reachable=0)
    with pytest.raises(ValidationError, match="Nobody would receive"):
        proof_request(campaign=campaign, requested_by=world.users["branch_manager"])
    assert not Proof.objects.exists()
    with pytest.raises(PermissionDenied):
        proof_request(campaign=campaign, requested_by=world.users["sibling_branch_manager"])
    Campaign.objects.filter(pk=campaign.pk).update(send_date=TODAY)
    campaign.refresh_from_db()
    with pytest.raises(ValidationError):
        proof_request(campaign=campaign, requested_by=world.users["branch_manager"])


def test_a_proof_whose_campaign_changed_behind_its_back_is_voided_not_decided(world, campaign):
    proof = proof_request(campaign=campaign, requested_by=world.users["branch_manager"])
    Campaign.objects.filter(pk=campaign.pk).update(slot_values={"message": "changé en douce"})  # no signal
    with pytest.raises(ValidationError, match="proof is void"):
        proof_decide(proof=proof, decided_by=world.users["regional_manager"], verdict="approve")
    proof.refresh_from_db()
    assert proof.status == ProofStatus.VOIDED and not proof.decisions.exists()
    assert AuditEntry.objects.filter(proof=proof, action=AuditAction.VOIDED).exists()


def test_declining_the_operation_waits_for_the_campaign_to_be_cancelled_and_nothing_brings_it_back(world, campaign):
    from central.calendar.services import participation_answer
    from central.campaigns.services import campaign_cancel

    proof = proof_request(campaign=campaign, requested_by=world.users["branch_manager"])
    # a campaign awaiting approval is never cancelled by a side effect (issue 19): refused, the proof stands
    with pytest.raises(ValidationError, match="cancel or finish these first"):
        participation_answer(operation=campaign.operation, branch=campaign.branch, status="declined",
                             answered_by=world.users["branch_manager"])
    proof.refresh_from_db()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.AWAITING_APPROVAL and proof.status == ProofStatus.PENDING
    campaign_cancel(campaign=campaign, cancelled_by=world.users["branch_manager"])
    participation_answer(operation=campaign.operation, branch=campaign.branch, status="declined",
                         answered_by=world.users["branch_manager"])
    proof.refresh_from_db()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CANCELLED and proof.status == ProofStatus.VOIDED
    with pytest.raises(PermissionDenied):
        proof_decide(proof=proof, decided_by=world.users["regional_manager"], verdict="approve")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CANCELLED and send_gate(campaign) is not None


def test_after_escalation_one_person_still_decides_one_step_only(world, campaign):
    proof = proof_request(campaign=campaign, requested_by=world.users["branch_manager"])
    proof_deadlines_run(today=proof.decision_deadline + timedelta(days=1))  # region step open to head office
    proof_decide(proof=proof, decided_by=world.users["approver"], verdict="approve")
    with pytest.raises(PermissionDenied, match="a step of this proof"):
        proof_decide(proof=proof, decided_by=world.users["approver"], verdict="approve")
    assert send_gate(campaign) is not None
