"""Declining an operation on a phone (390 × 844), in a real browser (Playwright driving Debian's
chromium against pytest-django's live server): the Decline button leads to a confirmation page
listing the drafts it will cancel, with no sideways scrolling and no serious accessibility violation
(axe-core); "No, go back" changes nothing, "Yes, decline" cancels exactly those drafts.

The answers through Django's test client (refusals, the API, double submits) are in
tests/central/operations/test_decline_confirmation.py.
"""

import pytest
from playwright.sync_api import expect

from central.models import Campaign, Participation
from tests.browser import log_in, no_sideways_scroll
from tests.central.operations.test_decline_confirmation import joined  # noqa: F401 - Lille joined, two drafts

pytestmark = pytest.mark.django_db(transaction=True)


def test_declining_on_a_phone_asks_first_then_cancels_the_drafts(world, joined, phone, js_problems):  # noqa: F811
    log_in(phone, "branch_manager", then="/network/operations/")
    card = phone.locator(".operation-card", has_text="Foire aux vins")
    card.get_by_role("button", name="Decline").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Decline “Foire aux vins” for Lille?")
    drafts = phone.locator("#drafts-to-cancel li")
    expect(drafts).to_have_count(2)
    expect(drafts.filter(has_text="Relance cave")).to_contain_text("SMS")
    expect(drafts.filter(has_text="Dégustation")).to_contain_text("SMS")
    no_sideways_scroll(phone)

    phone.get_by_role("link", name="No, go back").click()
    expect(phone.locator(".operation-card", has_text="Foire aux vins")).to_contain_text("Joined")
    assert set(Campaign.objects.filter(operation=joined).values_list("status", flat=True)) == {"draft"}

    phone.locator(".operation-card", has_text="Foire aux vins").get_by_role("button", name="Decline").click()
    phone.get_by_role("button", name="Yes, decline").click()
    expect(phone.get_by_role("status").first).to_contain_text("Lille: Declined.")
    assert sorted(Campaign.objects.filter(operation=joined).values_list("status", flat=True)) == [
        "cancelled", "cancelled"]
    assert Participation.objects.get(operation=joined, branch__code="N1").status == "declined"
    no_sideways_scroll(phone)
    assert js_problems == []
