"""Head office's conflict report on a phone (390 × 844), in a real browser (Playwright driving
Debian's chromium against pytest-django's live server): no sideways scrolling with the three tables
shown, "Run the simulation again" within reach and doing it, the CSV link there, and no JavaScript
error or failed request. The counts themselves are in tests/central/conflicts/test_conflict_report.py.
"""

import pytest
from playwright.sync_api import expect

from central.models import ArbitrationRun
from tests.browser import log_in, no_sideways_scroll
from tests.central.conflicts.test_conflict_report import URL, WINDOW, case, simulate  # noqa: F401 - the hand-built case

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_conflict_report_on_a_phone(world, case, phone, js_problems):  # noqa: F811
    simulate(world)
    log_in(phone, "head_office", then=URL)
    expect(phone.get_by_test_id("no-conflict-run")).to_be_visible()  # the next 14 days: never simulated
    no_sideways_scroll(phone)
    query = "&".join(f"{key}={value}" for key, value in WINDOW.items())
    phone.goto(f"{URL}?{query}")
    pairs = phone.get_by_test_id("conflict-pairs")
    expect(pairs.locator("tbody tr")).to_have_count(4)
    expect(pairs.locator("tbody tr").first).to_contain_text("Kit local")
    expect(phone.get_by_test_id("conflict-branches").locator("tbody tr")).to_have_count(2)
    expect(phone.get_by_test_id("conflict-operations").locator("tbody tr")).to_have_count(3)
    expect(phone.get_by_test_id("conflict-csv")).to_be_visible()
    no_sideways_scroll(phone)
    before = ArbitrationRun.objects.count()
    phone.get_by_role("button", name="Run the simulation again").click()
    expect(phone.get_by_role("alert").or_(phone.get_by_role("status")).first).to_contain_text("Simulation done")
    expect(phone.get_by_test_id("conflict-pairs").locator("tbody tr")).to_have_count(4)
    assert ArbitrationRun.objects.count() == before + 1
    no_sideways_scroll(phone)
    assert js_problems == []
