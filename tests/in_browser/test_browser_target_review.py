"""The branch's review of head office's target on a phone (390 × 844), in a real browser (Playwright
driving Debian's chromium against pytest-django's live server): no sideways scrolling, no serious
accessibility violation (axe-core), the reason
select and the buttons within reach, a removal and an addition made with the thumb, the counts
following, and no JavaScript error or failed request.

The whole journey on the demo network, in both languages, is in tests/in_browser/test_journeys.py (at 1,024 px);
the answers, scope and deadline in tests/central/campaigns/test_target_review.py.
"""

import pytest
from playwright.sync_api import expect

from central.models import NationalTargetReview
from tests.browser import log_in, no_sideways_scroll
from tests.central.campaigns.test_target_review import setup  # noqa: F401 - the operation and Lille's customers

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_review_page_on_a_phone(setup, phone, js_problems):  # noqa: F811
    _world, operation, _national, _people = setup
    url = f"/network/operations/{operation.public_id}/target-review/"
    log_in(phone, "branch_manager", then=url)
    counts = phone.locator(".review-counts")
    expect(counts.locator("[data-count=kept]")).to_have_text("5")
    no_sideways_scroll(phone)
    row = phone.locator(".review-row", has_text="Client Bellec")
    row.get_by_label("Why remove Client Bellec?").select_option(label="Complaint or dispute in progress")
    row.get_by_role("button", name="Remove").click()
    expect(phone.get_by_role("status")).to_contain_text("Client Bellec will not receive head office's message.")
    expect(counts.locator("[data-count=removed]")).to_have_text("1")
    expect(counts.locator("[data-count=kept]")).to_have_text("4")
    expect(phone.locator(".review-row", has_text="Client Bellec")).to_contain_text("Complaint or dispute in progress")
    no_sideways_scroll(phone)
    phone.get_by_label("Find one of your customers to add").fill("fabre")
    phone.get_by_role("button", name="Find", exact=True).click()
    expect(phone.locator(".add-candidate")).to_have_count(1)
    no_sideways_scroll(phone)
    phone.locator(".add-candidate", has_text="Client Fabre").get_by_role("button", name="Add").click()
    expect(counts.locator("[data-count=added]")).to_have_text("1")
    no_sideways_scroll(phone)
    assert set(NationalTargetReview.objects.values_list("customer__last_name", "action", "reason")) == {
        ("Bellec", "remove", "complaint"), ("Fabre", "add", "")}
    assert js_problems == []
