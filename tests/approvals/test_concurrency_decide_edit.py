"""Deciding, revoking or scheduling a campaign while its branch edits it (issue 18, defect 4).

Real threads send real requests through Django's test client, at the same moment, on the same
campaign, round after round: approve against edit, revoke against edit, schedule against edit, by
the API and by the pages. Before the fix, PostgreSQL answered 500 ("deadlock detected": deciding
locked the proof then the campaign, editing the campaign then the proof) and SQLite answered 500
("database is locked": deferred transactions cannot wait for one another). Now:

- no request answers 5xx, and the edit always goes through;
- the action that loses the race answers a clear 4xx (API: 409 or 400 with the reason; pages: a
  redirect with a message);
- after every round, a campaign that is approved or scheduled has an approved proof of exactly its
  current content (``campaign_hash`` equals ``campaign_fingerprint``, the send gate agrees), and no
  live proof (pending or approved) carries another content than the campaign's.

Half the rounds change the message (the edit must void whatever the other request did), half save
it unchanged (the other request must then have its way: approved, revoked, scheduled). In half the
changing rounds the edit gets a head start of a few milliseconds, so that both orders are seen (the
edit's request does more work before its transaction than the others).

On SQLite the test database is a file (config/settings/test.py): each thread has its own connection,
as the demo's server threads do. On PostgreSQL each thread has its own connection too.
"""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from approvals.models import Decision, Proof, ProofStatus
from approvals.policies import policy_save
from approvals.services import approval_revoke, proof_decide, proof_request, send_gate
from central.campaigns.selectors import campaign_fingerprint
from central.models import Campaign, CampaignEvent, CampaignStatus
from tests.concurrency import race
from tests.planning import joined_campaign

pytestmark = pytest.mark.django_db(transaction=True)

#: Rounds per kind of race: API and page alternate, and so do a changing and an unchanged edit.
ROUNDS = 8
LIVE = (ProofStatus.PENDING, ProofStatus.APPROVED)


def client_for(world, actor: str) -> Client:
    client = Client(raise_request_exception=False)  # a server error must come back as a 500, as a browser sees it
    client.force_login(world.users[actor])
    return client


def described(response) -> str:
    if isinstance(response, Exception):
        return f"{type(response).__name__}: {response}"
    exc = getattr(response, "exc_info", None)
    return f"{response.status_code} {exc[1]!r}" if exc else f"{response.status_code} {response.content[:300]!r}"


@pytest.fixture
def setting(transactional_world):
    """N1's SMS campaign, one approval step (a head-office approver), and one client per request."""
    world = transactional_world
    policy_save(network=world.networks["alpha"], saved_by=world.users["head_office"], name="One step",
                steps=[{"level": "head_office", "role": "approver", "quorum": 1}])
    campaign = joined_campaign(world)
    return world, campaign


def prepare(world, campaign: Campaign, *, approved: bool) -> Proof:
    """Bring the campaign (through the services) to a pending proof, or to an approved one."""
    campaign.refresh_from_db()
    if campaign.status in (CampaignStatus.APPROVED, CampaignStatus.SCHEDULED):
        current = Proof.objects.get(campaign=campaign, status=ProofStatus.APPROVED)
        approval_revoke(proof=current, revoked_by=world.users["approver"], reason="next round")
    proof = proof_request(campaign=campaign, requested_by=world.users["branch_manager"])
    if approved:
        proof_decide(proof=proof, decided_by=world.users["approver"], verdict="approve")
    proof.refresh_from_db()
    return proof


def edit_call(world, campaign: Campaign, *, message: str, page: bool):
    client = client_for(world, "branch_manager")
    if page:
        data = {"message": message, "send_date": campaign.send_date.isoformat(), "target_segment": ""}
        return lambda: client.post(f"/network/campaigns/{campaign.public_id}/", data)
    return lambda: client.patch(f"/api/v1/campaigns/{campaign.public_id}/", {"slot_values": {"message": message}},
                                content_type="application/json")


def action_call(world, kind: str, campaign: Campaign, proof: Proof, *, page: bool):
    if kind == "approve":
        client = client_for(world, "approver")
        if page:
            return lambda: client.post(f"/approvals/proofs/{proof.public_id}/decide/", {"verdict": "approve"})
        return lambda: client.post(f"/api/v1/proofs/{proof.public_id}/decisions/", {"verdict": "approve"},
                                   content_type="application/json")
    if kind == "revoke":
        client = client_for(world, "approver")
        if page:
            return lambda: client.post(f"/approvals/proofs/{proof.public_id}/revoke/", {"reason": "prix faux"})
        return lambda: client.post(f"/api/v1/proofs/{proof.public_id}/revoke/", {"reason": "prix faux"},
                                   content_type="application/json")
    client = client_for(world, "branch_manager")
    if page:
        return lambda: client.post(f"/network/campaigns/{campaign.public_id}/schedule/")
    return lambda: client.post(f"/api/v1/campaigns/{campaign.public_id}/schedule/")


#: What the action answers when it goes through, and (by the API) when it lost the race.
API_WON = {"approve": 201, "revoke": 200, "schedule": 200}
API_LOST = {"approve": 409, "revoke": 409, "schedule": 400}
#: What a page says when the action came second (the proof voided, or the campaign a draft again).
LOST_MESSAGES = {"approve": ("no longer waiting",), "revoke": ("Only an approved proof",),
                 "schedule": ("Only an approved campaign",)}
#: What the campaign is after an unchanged edit (the action went through).
AFTER_ACTION = {"approve": CampaignStatus.APPROVED, "revoke": CampaignStatus.DRAFT,
                "schedule": CampaignStatus.SCHEDULED}


def check_consistent(campaign: Campaign) -> None:
    """The rule the races must never break: what is approved is what will be sent."""
    campaign.refresh_from_db()
    fingerprint = campaign_fingerprint(campaign)
    for proof in Proof.objects.filter(campaign=campaign, status__in=LIVE):
        assert proof.campaign_hash == fingerprint, f"live proof {proof.number} ({proof.status}) of other content"
    if campaign.status in (CampaignStatus.APPROVED, CampaignStatus.SCHEDULED):
        approved = Proof.objects.get(campaign=campaign, status=ProofStatus.APPROVED)
        assert approved.campaign_hash == fingerprint
        assert approved.slot_values == campaign.slot_values
        assert send_gate(campaign) is None
    else:
        assert send_gate(campaign) is not None


@pytest.mark.parametrize("kind", ["approve", "revoke", "schedule"])
def test_an_action_racing_an_edit_never_answers_5xx_and_never_leaves_a_stale_approval(setting, kind):
    world, campaign = setting
    outcomes = {"won": 0, "lost": 0}
    for number in range(ROUNDS):
        page = number % 2 == 1
        changes = number % 4 < 2
        proof = prepare(world, campaign, approved=kind != "approve")
        campaign.refresh_from_db()
        message = f"Round {number} of {kind}" if changes else campaign.slot_values["message"]
        before = CampaignEvent.objects.filter(campaign=campaign, action="scheduled").count()
        action, edit = race(action_call(world, kind, campaign, proof, page=page),
                            edit_call(world, campaign, message=message, page=page),
                            head_start=0.03 if changes and number >= ROUNDS // 2 else 0.0)
        where = f"round {number} ({'page' if page else 'API'}, {'changed' if changes else 'unchanged'} edit)"
        for response in (action, edit):
            assert not isinstance(response, Exception) and response.status_code < 500, (
                f"{where}: {described(response)}")

        # The edit always goes through.
        assert edit.status_code == (302 if page else 200), f"{where}: edit {described(edit)}"
        campaign.refresh_from_db()
        assert campaign.slot_values == {"message": message}
        proof.refresh_from_db()

        # Did the action go through? Pages redirect either way (with a message); the database says.
        if kind == "approve":
            won = Decision.objects.filter(proof=proof, decided_by=world.users["approver"]).exists()
        elif kind == "revoke":
            won = proof.status == ProofStatus.REVOKED
        else:
            won = CampaignEvent.objects.filter(campaign=campaign, action="scheduled").count() == before + 1
        if page:
            assert action.status_code == 302, f"{where}: {described(action)}"
            shown = [(message.level_tag, str(message)) for message in get_messages(action.wsgi_request)]
            assert [tag for tag, _text in shown] == ["success" if won else "error"], f"{where}: {shown}"
            if not won:
                assert any(words in shown[0][1] for words in LOST_MESSAGES[kind]), f"{where}: {shown}"
        else:
            expected = API_WON[kind] if won else API_LOST[kind]
            assert action.status_code == expected, f"{where}: {described(action)}"
            if not won:
                reason = action.json()
                assert reason.get("detail") or reason.get("non_field_errors"), f"{where}: no reason given"
        outcomes["won" if won else "lost"] += 1

        if changes:
            # Whoever came first, the changed campaign is a draft again and nothing approved remains.
            assert campaign.status == CampaignStatus.DRAFT, where
            assert proof.status == (ProofStatus.REVOKED if kind == "revoke" and won else ProofStatus.VOIDED), where
        else:
            assert won, f"{where}: an unchanged save must not stop the {kind}"
            assert campaign.status == AFTER_ACTION[kind], where
        check_consistent(campaign)
    print(f"{kind} against an edit: {outcomes['won']} went through, {outcomes['lost']} came second")  # with -s
    assert outcomes["won"] >= ROUNDS // 2  # at least the unchanged rounds
