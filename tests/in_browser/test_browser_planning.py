"""The branch manager's journey through the national calendar, in a real browser (Playwright driving
Debian's chromium against pytest-django's live server, htmx and all).

The same journey through Django's test client is in test_branch_planning_pages.py; this one checks
what only a browser shows: the login form, the Join button, and the editor's live region re-rendered
by htmx while one types, before anything is saved.

Without /usr/bin/chromium the test fails when CI is set, and is skipped (with the reason) otherwise.
"""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from central.calendar.services import participation_answer
from central.campaigns.services import campaign_update
from central.models import Campaign, CampaignEvent
from tests.browser import log_in
from tests.central.operations.test_branch_planning_pages import customers
from tests.planning import plan, sms_version

pytestmark = pytest.mark.django_db(transaction=True)


def live_update(page, typed: str):
    """Wait for the editor's htmx request carrying ``typed`` (urlencoded) and its answer."""
    return page.expect_response(lambda response: response.request.headers.get("hx-request") == "true"
                                and typed in (response.request.post_data or ""))


@pytest.fixture
def operation(world):
    """Opt-in "Foire aux vins" (SMS "<branch> : <message>. STOP…"), target by segment only; Lille (N1)
    has 5 customers reachable by SMS: 3 "gold", 2 "silver"."""
    customers(world, "N1", 3)
    customers(world, "N1", 2, segment="silver")
    return plan(world, versions=[sms_version(world)], allowed_criteria=["segment"])


def test_a_branch_manager_joins_an_operation_and_customises_the_campaign(world, operation, page, js_problems):
    """Branch manager of Lille (N1): opens the operations page and logs in on the way, joins the
    opt-in operation "Foire aux vins", lands in the campaign editor; types the SMS message and sees
    the preview (htmx) say it; narrows the target to the "silver" segment and sees the audience go
    from 5 to 2; picks a date inside the send window; saves. The database then holds the slot value,
    the date and the criteria, with a "customised" audit event by that manager; the editor comes back
    with what was saved, and no JavaScript error or failed request happened on the way."""
    send_date = operation.send_from + timedelta(days=3)  # window: send_from … send_until
    log_in(page, "branch_manager", then="/network/operations/")

    card = page.locator(".operation-card", has_text="Foire aux vins")
    expect(card.locator(".participation-status")).to_have_text("no answer yet")
    card.get_by_role("button", name="Join").click()

    campaign = Campaign.objects.get(operation=operation, branch=world.nodes["N1"])
    expect(page).to_have_url(re.compile(rf"/network/campaigns/{campaign.public_id}/$"))
    expect(page.get_by_role("status").first).to_contain_text("Lille: Joined.")
    expect(page.get_by_label("Message")).to_have_value("vins de fête")  # the template's default
    live = page.locator("#campaign-live")
    count = page.get_by_test_id("audience-count")
    expect(count).to_have_text("5")  # no criterion yet: every reachable customer of Lille

    # The live region follows what is typed (htmx), before anything is saved.
    page.get_by_label("Message").fill("huîtres de Bretagne")
    expect(live.locator(".sms-bubble")).to_contain_text("Lille : huîtres de Bretagne.")
    page.get_by_label("Segment").select_option("silver")
    expect(count).to_have_text("2")
    with live_update(page, f"send_date={send_date.isoformat()}"):
        page.get_by_label("Send date").fill(send_date.isoformat())
    expect(live).not_to_contain_text("send window")  # no warning: the date is inside the window
    expect(count).to_have_text("2")
    campaign.refresh_from_db()
    assert campaign.slot_values == {"message": "vins de fête"}, "the live preview must not save"

    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Campaign saved.")
    expect(page).to_have_url(re.compile(rf"/network/campaigns/{campaign.public_id}/$"))
    expect(page.get_by_label("Message")).to_have_value("huîtres de Bretagne")
    expect(page.get_by_label("Segment")).to_have_value("silver")
    expect(page.get_by_label("Send date")).to_have_value(send_date.isoformat())
    expect(page.get_by_test_id("history")).to_contain_text("Customised")

    campaign.refresh_from_db()
    assert campaign.slot_values == {"message": "huîtres de Bretagne"}
    assert campaign.send_date == send_date
    assert campaign.target_criteria == {"segment": "silver"}
    event = CampaignEvent.objects.get(campaign=campaign, action="customised")
    assert event.by == world.users["branch_manager"]
    assert event.changes["slot_values"] == {"message": ["vins de fête", "huîtres de Bretagne"]}
    assert event.changes["send_date"][1] == send_date.isoformat()
    assert event.changes["target_criteria"] == [{}, {"segment": "silver"}]
    assert js_problems == []


def test_the_editor_opened_again_shows_the_saved_preview_and_audience(world, operation, page, js_problems):
    """A campaign saved with a message, a date and the "silver" segment: opening its editor shows
    that message in the preview and the 2 customers of that segment, with no problem to fix."""
    branch, manager = world.nodes["N1"], world.users["branch_manager"]
    participation_answer(operation=operation, branch=branch, status="joined", answered_by=manager)
    campaign = Campaign.objects.get(operation=operation, branch=branch)
    campaign_update(campaign=campaign, updated_by=manager, slot_values={"message": "huîtres"},
                    send_date=operation.send_from + timedelta(days=3), target_criteria={"segment": "silver"})

    log_in(page, "branch_manager", then=f"/network/campaigns/{campaign.public_id}/")
    live = page.locator("#campaign-live")  # rendered by the server: nothing to wait for
    expect(live).not_to_contain_text("To fix before the preview", timeout=1_000)
    expect(live).not_to_contain_text("Enter a valid date", timeout=1_000)
    expect(live.locator(".sms-bubble")).to_contain_text("Lille : huîtres.", timeout=1_000)
    expect(page.get_by_test_id("audience-count")).to_have_text("2", timeout=1_000)
    assert js_problems == []
