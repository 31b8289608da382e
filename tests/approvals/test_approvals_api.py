"""The REST API of approvals (/api/v1/proofs/, /api/v1/campaigns/<id>/proofs/ and schedule/,
/api/v1/approval-policies/, /api/v1/approval-audit/): the whole path from request to schedule,
scoped like the pages (a foreign proof and a missing one both answer 404, files included), the
rules of the services surfacing as 403 (refusals), 409 (a proof no longer in the state the action
needs) and 400 (by field)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from approvals.models import ApprovalPolicy, AuditAction, AuditEntry, Decision, Proof, ProofStatus
from approvals.policies import policy_save
from central.models import Campaign, CampaignStatus, ConsentStatus
from local_stores.models import Role
from local_stores.services import role_grant
from templates_lib import services as template_services
from tests.factories import UserFactory
from tests.planning import joined_campaign

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
MISSING_PROOF = "prf_doesnotexist0000"
MISSING_CAMPAIGN = "cmp_doesnotexist0000"
MISSING_POLICY = "pol_doesnotexist0000"
CSP = "default-src 'none'; img-src data: https: http:; style-src 'unsafe-inline'; sandbox"


def get(world, actor: str, url: str, params: dict | None = None):
    return world.client_for(actor).get(url, params or {})


def post(world, actor: str, url: str, data: dict | None = None):
    return world.client_for(actor).post(url, data or {}, content_type="application/json")


def patch(world, actor: str, url: str, data: dict):
    return world.client_for(actor).patch(url, data, content_type="application/json")


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def request_proof(world, campaign: Campaign, actor: str = "branch_manager") -> dict:
    response = post(world, actor, f"/api/v1/campaigns/{campaign.public_id}/proofs/")
    assert response.status_code == 201, response.content
    return response.json()


def decide(world, actor: str, proof_id: str, verdict: str = "approve", **fields):
    return post(world, actor, f"/api/v1/proofs/{proof_id}/decisions/", {"verdict": verdict, **fields})


def name(world, actor: str) -> str:
    user = world.users[actor]
    return user.get_full_name() or user.get_username()


def published(world, kind: str):
    template = template_services.template_create(network=world.networks["alpha"], kind=kind, name=f"Starter {kind}",
                                                 created_by=world.users["head_office"])
    return template_services.version_publish(version=template.versions.get(), published_by=world.users["head_office"])


@pytest.fixture
def campaign(world) -> Campaign:
    """N1's draft SMS campaign (region North, then head office), two customers reachable."""
    return joined_campaign(world)


@pytest.fixture
def email_campaign(world) -> Campaign:
    """N1's draft e-mail campaign: its one customer accepting e-mail (Anne Nord) is the audience."""
    return joined_campaign(world, version=published(world, "email"), channels=["email"], reachable=0)


@pytest.fixture
def print_campaign(world) -> Campaign:
    campaign = joined_campaign(world, version=published(world, "print"), channels=["post"], reachable=0)
    node = world.nodes["N1"]
    node.customers.create(network=node.network, external_id="post-1", last_name="Postal", address_line1="1 rue",
                          postal_code="59000", city="Lille", consent_post=ConsentStatus.GRANTED)
    return campaign


# --- The whole path ---------------------------------------------------------------------------------


def test_request_decide_in_turn_then_schedule_over_the_api(world, campaign):
    base = f"/api/v1/campaigns/{campaign.public_id}/"
    refused = post(world, "branch_manager", f"{base}schedule/")  # nothing requested yet
    assert refused.status_code == 400 and refused.json()["non_field_errors"]

    proof = request_proof(world, campaign)
    assert proof["status"] == "pending" and proof["number"] == 1 and proof["audience_count"] == 2
    assert proof["campaign"] == {"id": campaign.public_id, "label": str(campaign),
                                 "branch": world.nodes["N1"].public_id, "branch_name": "Lille", "channel": "sms"}
    assert [(s["role"], s["level"], s["node_name"], s["quorum"], s["approvals"]) for s in proof["steps"]] == [
        ("regional_manager", "region", "North", 1, 0), ("approver", "head_office", "Alpha HQ", 1, 0)]
    assert proof["slots"] == [{"name": "message", "label": "Message", "default": "vins de fête",
                               "value": "vins de fête", "changed": False}]
    assert len(proof["content_hash"]) == 64 and len(proof["campaign_hash"]) == 64
    assert proof["text"].startswith("Lille : vins de fête") and "html" not in proof
    assert proof["content_url"] is None and proof["pdf_url"] is None
    assert proof["can_decide"] is False and proof["can_revoke"] is False  # the author
    assert ids(get(world, "branch_manager", f"{base}proofs/")) == [proof["id"]]
    again = post(world, "branch_manager", f"{base}proofs/")  # already waiting for approval
    assert again.status_code == 400 and "non_field_errors" in again.json()

    still = post(world, "branch_manager", f"{base}schedule/")
    assert still.status_code == 400 and "approved" in still.json()["non_field_errors"][0]
    url = f"/api/v1/proofs/{proof['id']}/"
    assert get(world, "regional_manager", url).json()["can_decide"] is True
    assert get(world, "approver", url).json()["can_decide"] is False  # the region first

    first = decide(world, "regional_manager", proof["id"], comment="ok pour moi")
    assert first.status_code == 201, first.content
    assert {k: first.json()[k] for k in ("by", "step", "verdict", "comment")} == {
        "by": name(world, "regional_manager"), "step": 0, "verdict": "approve", "comment": "ok pour moi"}
    shown = get(world, "approver", url).json()
    assert shown["current_step"] == 1 and [s["approvals"] for s in shown["steps"]] == [1, 0]
    assert shown["can_decide"] is True
    final = decide(world, "approver", proof["id"])
    assert final.status_code == 201, final.content

    shown = get(world, "approver", url).json()
    assert shown["status"] == "approved" and [s["approvals"] for s in shown["steps"]] == [1, 1]
    assert [(d["by"], d["step"], d["verdict"]) for d in shown["decisions"]] == [
        (name(world, "regional_manager"), 0, "approve"), (name(world, "approver"), 1, "approve")]
    assert shown["can_decide"] is False and shown["can_revoke"] is True
    scheduled = post(world, "branch_manager", f"{base}schedule/")
    assert scheduled.status_code == 200, scheduled.content
    assert scheduled.json()["status"] == "scheduled" and scheduled.json()["id"] == campaign.public_id
    assert [e["action"] for e in get(world, "head_office", "/api/v1/approval-audit/").json()["results"]] == [
        "approved", "step_done", "step_done", "requested"]


def test_scheduling_without_an_approved_proof_answers_the_gates_reason(world, campaign):
    # An approved campaign with no approved proof (set behind the services' back): the gate says why.
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.APPROVED)
    response = post(world, "branch_manager", f"/api/v1/campaigns/{campaign.public_id}/schedule/")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["No approved proof: request approval first."]}
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.APPROVED
    # Who sees the campaign but does not act for its branch: 403; who does not see it: 404.
    assert post(world, "regional_manager", f"/api/v1/campaigns/{campaign.public_id}/schedule/").status_code == 403
    assert post(world, "sibling_branch_manager", f"/api/v1/campaigns/{campaign.public_id}/schedule/").status_code == 404


def test_pending_me_follows_the_steps(world, campaign):
    def pending(actor):
        return ids(get(world, actor, "/api/v1/proofs/", {"pending": "me"}))

    proof = request_proof(world, campaign)["id"]
    assert pending("regional_manager") == [proof] and pending("approver") == []
    assert pending("branch_manager") == []  # their own: never theirs to decide
    # Everyone in scope still sees it in the plain list.
    for actor in ("branch_manager", "regional_manager", "approver", "head_office"):
        assert ids(get(world, actor, "/api/v1/proofs/")) == [proof], actor
    decide(world, "regional_manager", proof)
    assert pending("regional_manager") == [] and pending("approver") == [proof]
    decide(world, "approver", proof)
    assert pending("regional_manager") == [] and pending("approver") == []
    assert ids(get(world, "approver", "/api/v1/proofs/", {"status": "approved"})) == [proof]
    assert ids(get(world, "approver", "/api/v1/proofs/", {"status": "pending"})) == []
    assert ids(get(world, "approver", "/api/v1/proofs/", {"campaign": campaign.public_id})) == [proof]
    assert ids(get(world, "approver", "/api/v1/proofs/", {"campaign": MISSING_CAMPAIGN})) == []
    bad = get(world, "approver", "/api/v1/proofs/", {"pending": "you", "status": "maybe"})
    assert bad.status_code == 400 and set(bad.json()) == {"pending", "status"}


# --- Scope: foreign and missing alike ----------------------------------------------------------------


def test_a_foreign_proof_and_a_missing_one_both_answer_404_on_every_route(world, email_campaign, print_campaign):
    email = request_proof(world, email_campaign)["id"]
    printed = request_proof(world, print_campaign)["id"]
    routes = [("get", "{}/"), ("get", "{}/content/"), ("get", "{}/pdf/"), ("post", "{}/decisions/"),
              ("post", "{}/revoke/")]
    for actor, proof in [("other_network_head_office", email), ("other_network_head_office", printed),
                         ("sibling_branch_manager", email), ("sibling_branch_manager", printed),
                         ("branch_manager", MISSING_PROOF), ("approver", MISSING_PROOF)]:
        for method, route in routes:
            url = "/api/v1/proofs/" + route.format(proof)
            body = {"verdict": "approve", "reason": "x"}
            response = get(world, actor, url) if method == "get" else post(world, actor, url, body)
            assert response.status_code == 404, (actor, proof, route, response.status_code)
            assert b"Lille" not in response.content
    for actor in ("other_network_head_office", "sibling_branch_manager"):
        assert ids(get(world, actor, "/api/v1/proofs/")) == []
    for actor, campaign in [("other_network_head_office", email_campaign.public_id),
                            ("sibling_branch_manager", email_campaign.public_id),
                            ("branch_manager", MISSING_CAMPAIGN)]:
        for method, route in [("get", "proofs/"), ("post", "proofs/"), ("post", "schedule/")]:
            url = f"/api/v1/campaigns/{campaign}/{route}"
            response = get(world, actor, url) if method == "get" else post(world, actor, url)
            assert response.status_code == 404, (actor, route)
    assert not Decision.objects.exists() and Proof.objects.count() == 2
    assert Proof.objects.filter(status=ProofStatus.PENDING).count() == 2


def test_the_frozen_email_is_served_sandboxed_and_the_print_proof_as_pdf(world, email_campaign, print_campaign):
    email = request_proof(world, email_campaign)
    assert email["content_url"] == f"/api/v1/proofs/{email['id']}/content/" and email["pdf_url"] is None
    assert email["subject"] == "Nos nouveautés"
    for actor in ("branch_manager", "regional_manager", "approver"):
        response = get(world, actor, email["content_url"])
        assert response.status_code == 200, actor
        assert response["Content-Type"].startswith("text/html")
        assert response["Content-Security-Policy"] == CSP
        assert "Nos nouveautés" in response.content.decode()
    # Whatever the client accepts, the HTML comes back as it is.
    client = world.client_for("approver")
    assert client.get(email["content_url"], HTTP_ACCEPT="application/json").status_code == 200
    assert get(world, "branch_manager", f"/api/v1/proofs/{email['id']}/pdf/").status_code == 404

    printed = request_proof(world, print_campaign)
    assert printed["pdf_url"] == f"/api/v1/proofs/{printed['id']}/pdf/" and printed["content_url"] is None
    pdf = get(world, "approver", printed["pdf_url"])
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert get(world, "approver", f"/api/v1/proofs/{printed['id']}/content/").status_code == 404


def test_an_sms_proof_has_no_html_nor_pdf(world, campaign):
    proof = request_proof(world, campaign)["id"]
    assert get(world, "branch_manager", f"/api/v1/proofs/{proof}/content/").status_code == 404
    assert get(world, "branch_manager", f"/api/v1/proofs/{proof}/pdf/").status_code == 404


# --- The rules: 403, 409 and 400 ---------------------------------------------------------------------


def test_nobody_approves_their_own_campaign_nor_anothers_step(world, campaign):
    both = UserFactory(username="both")
    role_grant(user=both, node=world.nodes["N1"], role=Role.BRANCH_MANAGER)
    role_grant(user=both, node=world.nodes["NORTH"], role=Role.REGIONAL_MANAGER)
    world.users["both"] = both
    edited = patch(world, "both", f"/api/v1/campaigns/{campaign.public_id}/", {"slot_values": {"message": "bulles"}})
    assert edited.status_code == 200, edited.content
    proof = request_proof(world, campaign)
    assert proof["slots"][0]["value"] == "bulles" and proof["slots"][0]["changed"] is True
    for actor, reason in [("both", "authored or edited"), ("branch_manager", "authored or edited"),
                          ("approver", "not yours")]:
        response = decide(world, actor, proof["id"])
        assert response.status_code == 403, actor
        assert reason in response.json()["detail"], (actor, response.json())
    # Who sees the proof but has no part in it: 403 too.
    for actor in ("head_office", "analyst"):
        assert decide(world, actor, proof["id"]).status_code == 403, actor
    assert not Decision.objects.exists()


def test_a_rejection_needs_a_comment_and_the_verdict_must_be_known(world, campaign):
    proof = request_proof(world, campaign)["id"]
    for fields, field in [({"verdict": "reject"}, "comment"), ({"verdict": "changes", "comment": "  "}, "comment"),
                          ({"verdict": "maybe"}, "verdict"), ({"verdict": "approve", "slot_comments": "x"},
                                                              "slot_comments")]:
        response = post(world, "regional_manager", f"/api/v1/proofs/{proof}/decisions/", fields)
        assert response.status_code == 400, fields
        assert set(response.json()) == {field}, response.json()
    assert not Decision.objects.exists()
    changes = decide(world, "regional_manager", proof, "changes", slot_comments={"message": "Trop vague"})
    assert changes.status_code == 201, changes.content
    assert changes.json()["slot_comments"] == {"message": "Trop vague"}
    shown = get(world, "branch_manager", f"/api/v1/proofs/{proof}/").json()
    assert shown["status"] == "changes" and shown["decisions"][0]["slot_comments"] == {"message": "Trop vague"}
    again = decide(world, "regional_manager", proof, comment="encore")
    assert again.status_code == 409 and "no longer waiting" in again.json()["detail"]
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT


def test_each_person_decides_a_step_once(world, campaign):
    created = post(world, "head_office", "/api/v1/approval-policies/", {
        "network": "alpha", "name": "Two at HQ", "steps": [{"level": "head_office", "role": "approver", "quorum": 2}]})
    assert created.status_code == 201, created.content
    second = UserFactory(username="approver2")
    role_grant(user=second, node=world.nodes["alpha:HQ"], role=Role.APPROVER)
    world.users["approver2"] = second
    proof = request_proof(world, campaign)
    assert [(s["level"], s["quorum"]) for s in proof["steps"]] == [("head_office", 2)]
    assert decide(world, "approver", proof["id"]).status_code == 201
    twice = decide(world, "approver", proof["id"])
    assert twice.status_code == 403 and "already decided" in twice.json()["detail"]
    assert get(world, "approver", f"/api/v1/proofs/{proof['id']}/").json()["can_decide"] is False
    assert get(world, "approver2", f"/api/v1/proofs/{proof['id']}/").json()["can_decide"] is True
    assert decide(world, "approver2", proof["id"]).status_code == 201
    assert get(world, "approver", f"/api/v1/proofs/{proof['id']}/").json()["status"] == "approved"


def test_an_approver_revokes_until_the_first_message_leaves(world, campaign):
    proof = request_proof(world, campaign)["id"]
    decide(world, "regional_manager", proof)
    decide(world, "approver", proof)
    url = f"/api/v1/proofs/{proof}/revoke/"
    refused = post(world, "branch_manager", url, {"reason": "oops"})
    assert refused.status_code == 403 and "approver" in refused.json()["detail"]
    unsaid = post(world, "approver", url, {"reason": " "})
    assert unsaid.status_code == 400 and set(unsaid.json()) == {"reason"}
    assert post(world, "approver", url, {}).status_code == 400
    revoked = post(world, "approver", url, {"reason": "Prix erroné"})
    assert revoked.status_code == 200, revoked.content
    assert revoked.json()["status"] == "revoked" and revoked.json()["closed_reason"] == "Prix erroné"
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT
    again = post(world, "approver", url, {"reason": "encore"})
    assert again.status_code == 409 and "Only an approved proof" in again.json()["detail"]
    assert post(world, "branch_manager", f"/api/v1/campaigns/{campaign.public_id}/schedule/").status_code == 400


def test_requesting_is_for_who_changes_the_campaign_and_needs_an_audience(world):
    campaign = joined_campaign(world, reachable=0)
    url = f"/api/v1/campaigns/{campaign.public_id}/proofs/"
    for actor in ("regional_manager", "approver", "analyst"):  # they see it, they do not prepare it
        assert post(world, actor, url).status_code == 403, actor
    nobody = post(world, "branch_manager", url)
    assert nobody.status_code == 400 and set(nobody.json()) == {"target"}
    assert not Proof.objects.exists()
    assert get(world, "regional_manager", url).json()["count"] == 0


# --- Policies -----------------------------------------------------------------------------------------


def test_policies_are_head_office_only_and_saved_through_the_service(world):
    url = "/api/v1/approval-policies/"
    payload = {"network": "alpha", "name": "SMS region only", "channel": "sms", "position": 1,
               "steps": [{"level": "region", "role": "regional_manager", "quorum": 1}]}
    created = post(world, "head_office", url, payload)
    assert created.status_code == 201, created.content
    policy = created.json()
    assert policy["network"] == "alpha" and policy["channel"] == "sms" and policy["origin"] == ""
    assert policy["steps"] == [{"level": "region", "role": "regional_manager", "quorum": 1}]
    assert policy["updated_by"] == name(world, "head_office") and policy["is_active"] is True
    detail = f"{url}{policy['id']}/"
    for actor in ("branch_manager", "regional_manager", "approver", "analyst", "nobody"):
        assert get(world, actor, url).status_code == 404, actor
        assert post(world, actor, url, payload).status_code == 404, actor
        assert get(world, actor, detail).status_code == 404, actor
        assert patch(world, actor, detail, {"name": "x"}).status_code == 404, actor
    assert get(world, "other_network_head_office", detail).status_code == 404
    assert patch(world, "other_network_head_office", detail, {"is_active": False}).status_code == 404
    assert get(world, "head_office", f"{url}{MISSING_POLICY}/").status_code == 404
    assert ids(get(world, "head_office", url)) == [policy["id"]]
    assert ids(get(world, "other_network_head_office", url)) == []
    # Another network's head office names alpha: like a network that does not exist.
    for network in ("alpha", "doesnotexist"):
        response = post(world, "other_network_head_office", url, {**payload, "network": network})
        assert response.status_code == 400 and set(response.json()) == {"network"}
    bad = post(world, "head_office", url, {**payload, "name": "", "channel": "fax",
                                           "steps": [{"level": "moon", "role": "approver", "quorum": 9}]})
    assert bad.status_code == 400 and set(bad.json()) >= {"channel", "steps"}, bad.json()
    empty = post(world, "head_office", url, {**payload, "name": " ", "steps": []})
    assert empty.status_code == 400 and set(empty.json()) == {"name", "steps"}, empty.json()
    assert ApprovalPolicy.objects.count() == 1

    changed = patch(world, "head_office", detail, {"is_active": False, "origin": "subscription"})
    assert changed.status_code == 200, changed.content
    assert changed.json()["is_active"] is False and changed.json()["origin"] == "subscription"
    assert changed.json()["name"] == "SMS region only"  # left out, kept
    refused = patch(world, "head_office", detail, {"steps": []})
    assert refused.status_code == 400 and set(refused.json()) == {"steps"}
    assert get(world, "head_office", detail).json()["steps"] == payload["steps"]
    assert AuditEntry.objects.filter(action=AuditAction.POLICY).count() == 2


# --- Audit ---------------------------------------------------------------------------------------------


def test_the_audit_trail_lists_only_the_callers_network_and_filters(world, campaign):
    proof = request_proof(world, campaign)["id"]
    decide(world, "regional_manager", proof, "reject", comment="Non")
    policy_save(network=world.networks["beta"], saved_by=world.users["other_network_head_office"], name="Beta",
                steps=[{"level": "head_office", "role": "approver", "quorum": 1}])
    url = "/api/v1/approval-audit/"
    alpha = get(world, "head_office", url).json()["results"]
    assert [(e["action"], e["network"]) for e in alpha] == [("rejected", "alpha"), ("requested", "alpha")]
    assert alpha[0]["proof"] == proof and alpha[0]["campaign"] == campaign.public_id
    assert alpha[0]["by"] == name(world, "regional_manager") and alpha[0]["details"]["comment"] == "Non"
    assert alpha[0]["branch"] == world.nodes["N1"].public_id and alpha[0]["proof_number"] == 1
    beta = get(world, "other_network_head_office", url).json()["results"]
    assert [(e["action"], e["network"]) for e in beta] == [("policy", "beta")]
    assert proof not in get(world, "other_network_head_office", url).content.decode()
    for actor in ("branch_manager", "regional_manager", "approver", "analyst", "nobody"):
        assert get(world, actor, url).status_code == 404, actor
    assert [e["action"] for e in get(world, "head_office", url, {"action": "requested"}).json()["results"]] == [
        "requested"]
    assert get(world, "head_office", url, {"campaign": campaign.public_id}).json()["count"] == 2
    assert get(world, "head_office", url, {"campaign": MISSING_CAMPAIGN}).json()["count"] == 0
    assert get(world, "head_office", url, {"since": TODAY.isoformat()}).json()["count"] == 2
    assert get(world, "head_office", url, {"since": (TODAY + timedelta(days=1)).isoformat()}).json()["count"] == 0
    bad = get(world, "head_office", url, {"action": "deleted", "since": "yesterday"})
    assert bad.status_code == 400 and set(bad.json()) == {"action", "since"}


# --- Anonymous, schema -----------------------------------------------------------------------------------


def test_anonymous_is_refused_everywhere(world, campaign):
    proof = request_proof(world, campaign)["id"]
    client = Client()
    for url in ["/api/v1/proofs/", f"/api/v1/proofs/{proof}/", f"/api/v1/proofs/{proof}/content/",
                f"/api/v1/proofs/{proof}/pdf/", f"/api/v1/campaigns/{campaign.public_id}/proofs/",
                "/api/v1/approval-policies/", "/api/v1/approval-audit/"]:
        response = client.get(url)
        assert response.status_code in {401, 403}, url
        assert "Lille" not in response.content.decode()
    for url in [f"/api/v1/proofs/{proof}/decisions/", f"/api/v1/proofs/{proof}/revoke/",
                f"/api/v1/campaigns/{campaign.public_id}/proofs/", f"/api/v1/campaigns/{campaign.public_id}/schedule/",
                "/api/v1/approval-policies/"]:
        assert client.post(url, {}, content_type="application/json").status_code in {401, 403}, url
    assert Proof.objects.get().status == ProofStatus.PENDING


def test_the_schema_documents_the_approvals_endpoints(world):
    paths = world.client_for("head_office").get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()[
        "paths"]
    for path in (
        "/api/v1/proofs/", "/api/v1/proofs/{public_id}/", "/api/v1/proofs/{public_id}/content/",
        "/api/v1/proofs/{public_id}/pdf/", "/api/v1/proofs/{public_id}/decisions/",
        "/api/v1/proofs/{public_id}/revoke/", "/api/v1/campaigns/{public_id}/proofs/",
        "/api/v1/campaigns/{public_id}/schedule/", "/api/v1/approval-policies/",
        "/api/v1/approval-policies/{public_id}/", "/api/v1/approval-audit/",
    ):
        assert path in paths, path
    assert {"status", "campaign", "pending"} <= {p["name"] for p in paths["/api/v1/proofs/"]["get"]["parameters"]}
    assert {"campaign", "action", "since"} <= {p["name"] for p in paths["/api/v1/approval-audit/"]["get"]["parameters"]}
    assert "text/html" in paths["/api/v1/proofs/{public_id}/content/"]["get"]["responses"]["200"]["content"]
    assert "application/pdf" in paths["/api/v1/proofs/{public_id}/pdf/"]["get"]["responses"]["200"]["content"]
