"""The approval pages: the inbox, the proof viewer (frozen e-mail in a sandboxed frame, PDF, what the
branch changed, decision, history), the policies, the audit export and the approval panel of the
branch's campaign editor. Scoped like everything else: a foreign proof answers 404, like a missing one."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from approvals.models import ApprovalPolicy, AuditAction, AuditEntry, Decision, Proof, ProofStatus
from approvals.policies import policy_save
from approvals.services import proof_decide, proof_request
from central.campaigns.services import campaign_update
from central.models import Campaign, CampaignStatus, ConsentStatus
from local_stores.models import Role
from local_stores.services import role_grant
from templates_lib import services as template_services
from tests.factories import UserFactory
from tests.planning import joined_campaign

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()
FOREIGN = ["other_network_head_office", "sibling_branch_manager"]


@pytest.fixture
def campaign(world):
    return joined_campaign(world)


@pytest.fixture
def proof(world, campaign):
    campaign_update(campaign=campaign, updated_by=world.users["branch_manager"], slot_values={"message": "huîtres -20 %"})
    return proof_request(campaign=campaign, requested_by=world.users["branch_manager"])


@pytest.fixture
def email_proof(world):
    template = template_services.template_create(network=world.networks["alpha"], kind="email", name="Newsletter",
                                                 created_by=world.users["head_office"])
    version = template_services.version_publish(version=template.versions.get(), published_by=world.users["head_office"])
    campaign = joined_campaign(world, version=version, reachable=0)  # Anne (N1) accepts e-mails
    return proof_request(campaign=campaign, requested_by=world.users["branch_manager"])


@pytest.fixture
def print_proof(world):
    template = template_services.template_create(network=world.networks["alpha"], kind="print", name="Flyer",
                                                 created_by=world.users["head_office"])
    draft = template.versions.get()
    template_services.draft_update(version=draft, edited_by=world.users["head_office"],
                                   body="<h1>{{ branch.name }}</h1><p>{{ slot.offer }}</p>", slots=[
                                       {"name": "offer", "type": "short_text", "label": "Offre", "max_length": 60,
                                        "required": True, "default": "Offre de base"}])
    version = template_services.version_publish(version=draft, published_by=world.users["head_office"])
    campaign = joined_campaign(world, version=version, channels=["post"], reachable=0)
    node = world.nodes["N1"]
    node.customers.create(network=node.network, external_id="post-1", last_name="Postal", address_line1="1 rue",
                          postal_code="59000", city="Lille", consent_post=ConsentStatus.GRANTED)
    return proof_request(campaign=campaign, requested_by=world.users["branch_manager"])


def user_with(world, username, role, node):
    """A client for a new person holding ``role`` on ``node``."""
    world.users[username] = UserFactory(username=username)
    role_grant(user=world.users[username], node=world.nodes[node], role=role)
    return world.client_for(username)


def page(client, url, **kwargs):
    response = client.get(url, **kwargs)
    assert response.status_code == 200, url
    return response.content.decode()


# --- The inbox -------------------------------------------------------------------------------------------


def test_the_inbox_lists_a_pending_proof_for_its_approver_only(world, proof):
    body = page(world.client_for("regional_manager"), "/approvals/")
    assert f"/approvals/proofs/{proof.public_id}/" in body
    assert "Proof no. 1" in body and "Foire aux vins" in body and "Lille" in body and "1 of 2" in body
    assert "overdue" not in body
    # step 2 is head office's: not yet in its approver's inbox
    assert proof.public_id not in page(world.client_for("approver"), "/approvals/")
    # approvers elsewhere: another region, another network
    for client in (user_with(world, "south_manager", Role.REGIONAL_MANAGER, "SOUTH"),
                   user_with(world, "beta_approver", Role.APPROVER, "beta:HQ")):
        body = page(client, "/approvals/")
        assert proof.public_id not in body and "Nothing to approve." in body
    for actor in FOREIGN:  # no inbox at all without approve_proofs (head office: its policies, not this proof)
        response = world.client_for(actor).get("/approvals/")
        assert response.status_code == 404 or proof.public_id not in response.content.decode()


def test_an_overdue_proof_is_highlighted_and_comes_first(world, proof):
    Proof.objects.filter(pk=proof.pk).update(decision_deadline=TODAY - timedelta(days=1))
    body = page(world.client_for("regional_manager"), "/approvals/")
    assert "overdue" in body and "table-danger" in body


# --- The proof viewer ------------------------------------------------------------------------------------


def test_the_viewer_shows_the_proof_what_changed_and_the_decision_form(world, proof):
    body = page(world.client_for("regional_manager"), f"/approvals/proofs/{proof.public_id}/")
    assert "Proof no. 1" in body and "Lille" in body and "2 customers" in body
    assert 'class="sms-bubble">Lille : huîtres -20 %' in body
    assert 'data-changed="1"' in body and "vins de fête" in body  # default vs the branch's value
    assert 'data-testid="decision-form"' in body and "Regional manager — North" in body
    assert "Approval requested" in body  # history


@pytest.mark.parametrize("actor", FOREIGN)
def test_a_foreign_user_gets_404_on_the_proof_and_its_files(world, email_proof, print_proof, actor):
    client = world.client_for(actor)
    for proof in (email_proof, print_proof):
        for suffix in ("", "content/", "pdf/"):
            assert client.get(f"/approvals/proofs/{proof.public_id}/{suffix}").status_code == 404, suffix
        assert client.post(f"/approvals/proofs/{proof.public_id}/decide/", {"verdict": "approve"}).status_code == 404


def test_a_missing_proof_is_404_too(world):
    client = world.client_for("regional_manager")
    for suffix in ("", "content/", "pdf/"):
        assert client.get(f"/approvals/proofs/prf_doesnotexist/{suffix}").status_code == 404


def test_the_email_is_served_to_a_sandboxed_frame_under_a_strict_policy(world, email_proof):
    client = world.client_for("regional_manager")
    body = page(client, f"/approvals/proofs/{email_proof.public_id}/")
    frame = body[body.index("<iframe"):body.index("</iframe>")]
    assert " sandbox " in frame and "allow-" not in frame
    assert f'src="/approvals/proofs/{email_proof.public_id}/content/"' in frame
    response = client.get(f"/approvals/proofs/{email_proof.public_id}/content/")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    assert response.content.decode() == email_proof.html
    policy = response["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "sandbox" in policy and "script-src" not in policy
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    # the rest of the site still refuses to be framed
    assert client.get(f"/approvals/proofs/{email_proof.public_id}/")["X-Frame-Options"] == "DENY"
    # no PDF for an e-mail
    assert client.get(f"/approvals/proofs/{email_proof.public_id}/pdf/").status_code == 404


def test_the_print_proof_is_the_frozen_pdf_inline(world, print_proof):
    client = world.client_for("approver")  # print: head office decides (after the region)
    body = page(client, f"/approvals/proofs/{print_proof.public_id}/")
    assert f'data="/approvals/proofs/{print_proof.public_id}/pdf/"' in body
    response = client.get(f"/approvals/proofs/{print_proof.public_id}/pdf/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'inline; filename="BAT-1.pdf"'
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert response.content.startswith(b"%PDF")
    assert client.get(f"/approvals/proofs/{print_proof.public_id}/content/").status_code == 404


# --- Deciding --------------------------------------------------------------------------------------------


def test_approving_through_the_page_moves_the_step_then_approves(world, proof):
    response = world.client_for("regional_manager").post(f"/approvals/proofs/{proof.public_id}/decide/",
                                                         {"verdict": "approve", "comment": "OK pour moi"})
    assert response.status_code == 302 and response["Location"] == f"/approvals/proofs/{proof.public_id}/"
    proof.refresh_from_db()
    assert proof.current_step == 1 and proof.status == ProofStatus.PENDING
    approver = world.client_for("approver")
    assert proof.public_id in page(approver, "/approvals/")
    body = page(approver, f"/approvals/proofs/{proof.public_id}/")
    assert "2 of 2" in body and "OK pour moi" in body
    approver.post(f"/approvals/proofs/{proof.public_id}/decide/", {"verdict": "approve"})
    proof.refresh_from_db()
    assert proof.status == ProofStatus.APPROVED
    body = page(approver, "/approvals/")
    assert "Recently decided by you" in body and proof.public_id in body
    assert 'data-testid="revoke-form"' in page(approver, f"/approvals/proofs/{proof.public_id}/")


def test_rejecting_without_a_comment_shows_the_field_error_and_records_nothing(world, proof):
    client = world.client_for("regional_manager")
    response = client.post(f"/approvals/proofs/{proof.public_id}/decide/", {"verdict": "reject", "comment": "  "})
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-testid="comment-error">Say why: a rejection or a request for changes needs a comment.' in body
    proof.refresh_from_db()
    assert proof.status == ProofStatus.PENDING and not Decision.objects.exists()
    assert list(AuditEntry.objects.values_list("action", flat=True)) == [AuditAction.REQUESTED]


def test_a_missing_verdict_is_shown_next_to_the_field(world, proof):
    response = world.client_for("regional_manager").post(f"/approvals/proofs/{proof.public_id}/decide/", {})
    assert response.status_code == 200 and "This field is required." in response.content.decode()
    assert not Decision.objects.exists()


def test_a_request_for_changes_on_a_slot_reaches_the_branch_editor(world, proof):
    world.client_for("regional_manager").post(f"/approvals/proofs/{proof.public_id}/decide/",
                                              {"verdict": "changes", "slot__message": "Trop vague"})
    proof.refresh_from_db()
    assert proof.status == ProofStatus.CHANGES_REQUESTED
    assert proof.decisions.get().slot_comments == {"message": "Trop vague"}
    body = page(world.client_for("branch_manager"), f"/network/campaigns/{proof.campaign.public_id}/")
    panel = body[body.index('data-testid="approval-panel"'):body.index("</section>")]
    assert "Changes requested" in panel and "Message" in panel and "Trop vague" in panel
    assert 'data-testid="request-approval"' in panel  # back to draft: ask again


def test_the_author_sees_no_decision_form_and_may_not_post_one(world, proof):
    client = world.client_for("branch_manager")
    body = page(client, f"/approvals/proofs/{proof.public_id}/")
    assert 'data-testid="decision-form"' not in body and "authored or edited" in body
    response = client.post(f"/approvals/proofs/{proof.public_id}/decide/", {"verdict": "approve"}, follow=True)
    assert "authored or edited" in response.content.decode()
    proof.refresh_from_db()
    assert proof.current_step == 0 and not Decision.objects.exists()


def test_a_campaign_changed_behind_the_proof_is_refused_on_the_page(world, proof):
    Campaign.objects.filter(pk=proof.campaign_id).update(slot_values={"message": "autre chose"})
    response = world.client_for("regional_manager").post(f"/approvals/proofs/{proof.public_id}/decide/",
                                                         {"verdict": "approve"}, follow=True)
    body = response.content.decode()
    assert "the proof is void" in body and 'data-testid="decision-form"' not in body
    assert not Decision.objects.exists()
    proof.refresh_from_db()
    assert proof.status == ProofStatus.VOIDED


def test_revoking_needs_a_reason_and_sends_the_campaign_back(world, proof):
    proof_decide(proof=proof, decided_by=world.users["regional_manager"], verdict="approve")
    proof_decide(proof=proof, decided_by=world.users["approver"], verdict="approve")
    client = world.client_for("approver")
    response = client.post(f"/approvals/proofs/{proof.public_id}/revoke/", {"reason": ""})
    assert response.status_code == 200 and "Say why the approval is revoked." in response.content.decode()
    assert world.client_for("branch_manager").post(f"/approvals/proofs/{proof.public_id}/revoke/",
                                                   {"reason": "x"}).status_code == 302
    proof.refresh_from_db()
    assert proof.status == ProofStatus.APPROVED
    client.post(f"/approvals/proofs/{proof.public_id}/revoke/", {"reason": "Prix erroné"})
    proof.refresh_from_db()
    assert proof.status == ProofStatus.REVOKED and proof.campaign.status == CampaignStatus.DRAFT
    assert "Prix erroné" in page(client, f"/approvals/proofs/{proof.public_id}/")


# --- Policies --------------------------------------------------------------------------------------------


POLICY = {"name": "SMS : région seule", "position": "10", "channel": "sms", "origin": "", "changes": "",
          "step1_level": "region", "step1_role": "regional_manager", "step1_quorum": "1", "is_active": "on"}


@pytest.mark.parametrize("actor", ["branch_manager", "regional_manager", "approver", "analyst"])
def test_policies_and_audit_are_404_for_everyone_but_head_office(world, actor):
    client = world.client_for(actor)
    for url in ("/approvals/policies/", "/approvals/policies/new/", "/approvals/audit.csv"):
        assert client.get(url).status_code == 404, url
    assert client.post("/approvals/policies/new/", POLICY).status_code == 404
    assert not ApprovalPolicy.objects.exists()


def test_head_office_creates_and_edits_a_policy(world):
    client = world.client_for("head_office")
    body = page(client, "/approvals/policies/")
    assert "No policy yet" in body and "Regional manager of the branch&#x27;s region" in body  # the default steps
    assert "/approvals/audit.csv" in body
    response = client.post("/approvals/policies/new/", POLICY)
    assert response.status_code == 302
    policy = ApprovalPolicy.objects.get()
    assert (policy.network, policy.channel, policy.steps) == (
        world.networks["alpha"], "sms", [{"level": "region", "role": "regional_manager", "quorum": 1}])
    body = page(client, "/approvals/policies/")
    assert "SMS : région seule" in body and "any origin" in body
    form = page(client, f"/approvals/policies/{policy.public_id}/")
    assert 'value="SMS : région seule"' in form
    client.post(f"/approvals/policies/{policy.public_id}/", POLICY | {
        "name": "Deux signatures", "step2_level": "head_office", "step2_role": "approver", "step2_quorum": "2"})
    policy.refresh_from_db()
    assert policy.name == "Deux signatures" and len(policy.steps) == 2 and policy.steps[1]["quorum"] == 2
    # another network's head office neither sees nor edits it
    other = world.client_for("other_network_head_office")
    assert "Deux signatures" not in page(other, "/approvals/policies/")
    assert other.get(f"/approvals/policies/{policy.public_id}/").status_code == 404
    assert other.post(f"/approvals/policies/{policy.public_id}/", POLICY).status_code == 404


def test_bad_steps_and_a_missing_name_are_shown_and_nothing_is_saved(world):
    client = world.client_for("head_office")
    no_steps = {key: value for key, value in POLICY.items() if not key.startswith("step")}
    body = client.post("/approvals/policies/new/", no_steps | {"name": ""}).content.decode()
    assert 'data-testid="steps-error">Give at least one step.' in body
    assert 'invalid-feedback d-block">Give the policy a name.' in body
    body = client.post("/approvals/policies/new/", POLICY | {"step1_quorum": "9", "step2_role": "approver"}).content.decode()
    assert 'data-testid="steps-error">Step 1: the quorum is a number from 1 to 5.' in body
    assert "Step 2: choose the branch&#x27;s region or head office." in body
    assert not ApprovalPolicy.objects.exists()


# --- The audit export ------------------------------------------------------------------------------------


def read_csv(response):
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response.streaming
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_the_audit_export_holds_the_network_s_rows_only(world, proof):
    policy_save(network=world.networks["beta"], saved_by=world.users["other_network_head_office"], name="Beta",
                steps=[{"level": "head_office", "role": "approver", "quorum": 1}])
    rows = read_csv(world.client_for("head_office").get("/approvals/audit.csv"))
    assert [(row["network"], row["campaign"], row["proof"], row["action"], row["by"]) for row in rows] == [
        ("alpha", proof.campaign.public_id, "1", "requested", "branch_manager")]
    assert rows[0]["branch"] == "N1" and '"audience": 2' in rows[0]["details"] and "T" in rows[0]["at"]
    beta = read_csv(world.client_for("other_network_head_office").get("/approvals/audit.csv"))
    assert [(row["network"], row["action"]) for row in beta] == [("beta", "policy")]


# --- The campaign editor's approval panel ------------------------------------------------------------------


def test_the_branch_requests_approval_then_schedules_once_approved(world, campaign):
    client = world.client_for("branch_manager")
    url = f"/network/campaigns/{campaign.public_id}/"
    body = page(client, url)
    assert 'data-testid="request-approval"' in body and 'data-testid="schedule"' not in body
    response = client.post(f"{url}request-approval/", follow=True)
    proof = Proof.objects.get(campaign=campaign)
    body = response.content.decode()
    assert "Approval requested: proof no. 1" in body
    panel = body[body.index('data-testid="approval-panel"'):body.index("</section>")]
    assert "Awaiting approval" in panel and f"/approvals/proofs/{proof.public_id}/" in panel
    assert "step 1 of 2" in panel and 'data-testid="request-approval"' not in panel
    assert "withdraws the request" in panel
    proof_decide(proof=proof, decided_by=world.users["regional_manager"], verdict="approve")
    proof_decide(proof=proof, decided_by=world.users["approver"], verdict="approve")
    body = page(client, url)
    assert 'data-testid="schedule"' in body and "Changing anything now voids the approval" in body
    assert world.client_for("sibling_branch_manager").post(f"{url}schedule/").status_code == 404
    response = client.post(f"{url}schedule/", follow=True)
    assert "Scheduled: it will be sent on" in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SCHEDULED


def test_a_refused_request_is_explained_and_foreigners_get_404(world):
    campaign = joined_campaign(world, reachable=0)
    url = f"/network/campaigns/{campaign.public_id}/request-approval/"
    assert world.client_for("sibling_branch_manager").post(url).status_code == 404
    body = world.client_for("branch_manager").post(url, follow=True).content.decode()
    assert "Nobody would receive this campaign" in body
    assert not Proof.objects.exists()
    # who may see but not edit the campaign gets no button, and a POST is refused
    body = page(world.client_for("approver"), f"/network/campaigns/{campaign.public_id}/")
    assert 'data-testid="approval-panel"' in body and 'data-testid="request-approval"' not in body
    body = world.client_for("approver").post(url, follow=True).content.decode()
    assert "You may not request approval" in body and not Proof.objects.exists()
