"""The branch manager's day on a phone (390 × 844), in a real browser (Playwright driving Debian's
chromium against pytest-django's live server, axe-core through ``no_sideways_scroll``): her home page
lists the proof her regional manager sent back, with his comment and a link to the campaign; the
campaign's checklist says the content, target and date are done and ends in one primary action,
asking for approval again. No sideways scrolling on either page (issue 19, defect 5).

The labels and lists through Django's test client are in tests/config/test_home_todo.py and
tests/central/campaigns/test_campaign_states.py."""

import pytest
from playwright.sync_api import expect

from approvals.services import proof_decide, proof_request
from tests.browser import log_in, no_sideways_scroll
from tests.planning import joined_campaign

pytestmark = pytest.mark.django_db(transaction=True)

COMMENT = "L'offre finit le 24 décembre : changez la date d'envoi."


def test_a_refused_proof_on_the_home_page_leads_to_the_campaigns_next_step(world, phone, js_problems):
    campaign = joined_campaign(world)
    proof = proof_request(campaign=campaign, requested_by=world.users["branch_manager"])
    proof_decide(proof=proof, decided_by=world.users["regional_manager"], verdict="changes", comment=COMMENT)

    log_in(phone, "branch_manager", then="/")
    returned = phone.get_by_test_id("todo-returned")
    expect(returned).to_contain_text("Changes requested")
    expect(returned.get_by_test_id("todo-comment")).to_have_text(COMMENT)
    no_sideways_scroll(phone)

    returned.get_by_role("link", name="Foire aux vins · Promo SMS").click()
    checklist = phone.get_by_test_id("checklist")
    expect(checklist.get_by_test_id("campaign-state")).to_have_text("Changes requested")
    for item in ("content", "target", "date"):
        expect(checklist.locator(f'[data-item="{item}"]')).to_have_attribute("data-status", "done")
    expect(checklist.locator('[data-item="approval"]')).to_have_attribute("data-status", "todo")
    primary = checklist.locator(".btn-primary")
    expect(primary).to_have_count(1)
    expect(primary).to_have_text("Request approval again")
    expect(primary).to_be_visible()
    no_sideways_scroll(phone)

    primary.click()
    expect(phone.get_by_test_id("checklist").get_by_test_id("campaign-state")).to_have_text(
        "Waiting for approval, step 1 of 2")
    assert campaign.proofs.count() == 2
    assert js_problems == []
