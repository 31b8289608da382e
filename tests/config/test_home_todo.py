"""The branch manager's home page is a to-do list (issue 19, defect 5): proofs sent back with their
comment and a link to the campaign, deadlines of the coming days (answering an operation, the last
day to change a campaign, approvals awaited), drafts not submitted, the week's sends — each with its
state, in English and French; only the branch's own; the number of queries does not grow with the
number of campaigns."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from approvals.services import proof_decide, proof_request
from central.calendar.services import participation_answer
from central.campaigns.services import campaign_update
from central.models import Campaign, Operation
from tests.central.campaigns.test_campaign_states import client, text_of
from tests.planning import joined_campaign, plan, sms_version

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
COMMENT = "L'offre finit le 24 décembre :\nchangez la date d'envoi."


def todo_of(html: str) -> str:
    """The to-do section of the home page, as text."""
    return text_of(html.split('data-testid="branch-todo"')[1].split("</section>")[0])


@pytest.fixture
def returned(world):
    """N1's campaign, sent back by its regional manager with a comment on the whole and on a slot."""
    campaign = joined_campaign(world)
    proof = proof_request(campaign=campaign, requested_by=world.users["branch_manager"])
    proof_decide(proof=proof, decided_by=world.users["regional_manager"], verdict="changes", comment=COMMENT,
                 slot_comments={"message": "Trop long"})
    return Campaign.objects.get(pk=campaign.pk)


def test_a_proof_sent_back_shows_with_its_comment_and_a_link_to_the_campaign(world, returned):
    html = client(world).get("/").content.decode()
    todo = todo_of(html)
    assert "Proofs sent back" in todo
    assert "Foire aux vins · Promo SMS · SMS" in todo
    assert "Changes requested" in todo
    assert "L'offre finit le 24 décembre : changez la date d'envoi." in todo  # line breaks kept (pre-wrap)
    assert "Message — Trop long" in todo
    assert f'href="/network/campaigns/{returned.public_id}/"' in html.split('data-testid="todo-returned"')[1]
    french = todo_of(client(world, language="fr").get("/").content.decode())
    assert "BAT renvoyés" in french and "Modifications demandées" in french


def test_deadlines_drafts_and_sends_of_the_week(world):
    # an opt-in operation to answer within the week, not answered yet
    plan(world, versions=[sms_version(world)], name="Fête des pères",
         subscription_deadline=TODAY + timedelta(days=3))
    # a draft whose last day to change is in 5 days (its operation's deadline)
    draft = joined_campaign(world, name="Soldes", subscription_deadline=TODAY + timedelta(days=5))
    # a campaign awaiting approval, to be decided within the week
    waiting = joined_campaign(world, name="Rentrée")
    proof = proof_request(campaign=waiting, requested_by=world.users["branch_manager"])
    # a campaign sending this week: its operation's window starts in 2 days
    soon = joined_campaign(world, name="Marché de Noël", send_from=TODAY + timedelta(days=2),
                           send_until=TODAY + timedelta(days=9), subscription_deadline=TODAY + timedelta(days=1))
    html = client(world).get("/").content.decode()
    todo = todo_of(html)
    deadlines = text_of(html.split('data-testid="todo-deadlines"')[1].split("</ul>")[0])
    assert "answer “Fête des pères” — Join or decline" in deadlines
    assert "last day to change Soldes · Promo SMS Draft" in deadlines
    if proof.decision_deadline <= TODAY + timedelta(days=6):
        assert "approval expected Rentrée · Promo SMS Waiting for approval, step 1 of 2" in deadlines
    drafts = text_of(html.split('data-testid="todo-drafts"')[1].split("</ul>")[0])
    assert "Soldes · Promo SMS" in drafts and "Marché de Noël · Promo SMS" in drafts
    assert "Rentrée" not in drafts  # submitted
    week = text_of(html.split('data-testid="todo-week"')[1].split("</ul>")[0])
    assert "Marché de Noël · Promo SMS · SMS Draft" in week
    assert "Soldes" not in week  # sends in 20 days
    assert "Proofs sent back" not in todo
    assert draft.pk and soon.pk


def test_an_answered_operation_is_no_longer_a_deadline(world):
    plan(world, versions=[sms_version(world)], name="Fête des pères", subscription_deadline=TODAY + timedelta(days=3))
    joined_campaign(world, name="Autre")
    html = client(world).get("/").content.decode()
    assert "answer “Fête des pères”" in html
    participation_answer(operation=Operation.objects.get(name="Fête des pères"), branch=world.nodes["N1"],
                         status="declined", answered_by=world.users["branch_manager"])
    assert "answer “Fête des pères”" not in client(world).get("/").content.decode()


def test_another_branchs_work_is_not_on_the_list(world, returned):
    todo = todo_of(client(world, "sibling_branch_manager").get("/").content.decode())
    assert "Proofs sent back" not in todo and COMMENT.split(":")[0] not in todo
    assert "Nothing waits for you" in todo


def test_nothing_to_do_says_so(world):
    todo = todo_of(client(world).get("/").content.decode())
    assert "Nothing waits for you: no proof sent back, no deadline in the coming days, no draft, no send this week." in todo


def test_the_home_page_queries_do_not_grow_with_the_campaigns(world):
    version = sms_version(world)
    first = joined_campaign(world, version=version, name="Op 0", subscription_deadline=TODAY + timedelta(days=3))
    proof_decide(proof=proof_request(campaign=first, requested_by=world.users["branch_manager"]),
                 decided_by=world.users["regional_manager"], verdict="reject", comment="Non.")
    browser = client(world)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert browser.get("/").status_code == 200
        return len(captured)

    queries()  # warm the caches a first request fills (content types, the site's settings)
    few = queries()
    for index in range(1, 6):
        campaign = joined_campaign(world, version=version, name=f"Op {index}",
                                   subscription_deadline=TODAY + timedelta(days=3))
        if index % 2:
            proof_decide(proof=proof_request(campaign=campaign, requested_by=world.users["branch_manager"]),
                         decided_by=world.users["regional_manager"], verdict="reject", comment=f"Non {index}.")
        else:
            campaign_update(campaign=campaign, updated_by=world.users["branch_manager"],
                            slot_values={"message": f"texte {index}"})
    many = queries()
    html = browser.get("/").content.decode()
    returned = text_of(html.split('data-testid="todo-returned"')[1].split("</ul>")[0])
    assert returned.count("Rejected: changes needed") == 4
    assert many == few, (few, many)
