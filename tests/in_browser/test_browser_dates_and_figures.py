"""Date fields and figures in a real browser (Playwright driving Debian's chromium against
pytest-django's live server), at phone width (390 × 844), in French (issue 19, defects 9 and 13):
the reports' period fields show their dates and *Afficher* works; in the campaign editor, changing
a criterion updates the audience count and the cost card together, nothing saved.

The same through Django's test client: tests/architecture/test_date_fields.py, tests/central/budgets/test_figures_agree.py."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from central.models import Campaign
from tests.browser import log_in, no_sideways_scroll
from tests.central.budgets.test_figures_agree import sms_campaign  # noqa: F401 - N1's SMS campaign: 5 "fidele", 3 "nouveau"

pytestmark = pytest.mark.django_db(transaction=True)


def _in_french(page) -> None:
    """The reader's language as the language switcher sets it (Django's language cookie), then reload."""
    page.context.add_cookies([{"name": "django_language", "value": "fr", "url": page.url}])
    page.reload()
    expect(page.locator("html")).to_have_attribute("lang", "fr")


def test_the_reports_period_shows_its_dates_and_show_works(world, phone, js_problems):
    log_in(phone, "head_office", then="/reports/")
    _in_french(phone)
    today = timezone.localdate()
    starts, ends = phone.locator("#id_starts_on"), phone.locator("#id_ends_on")
    assert starts.get_attribute("type") == ends.get_attribute("type") == "date"
    # the browser's own date control holds the dates (an empty string when it cannot read them)
    assert starts.input_value() == (today - timedelta(days=29)).isoformat()
    assert ends.input_value() == today.isoformat()
    starts.fill((today - timedelta(days=6)).isoformat())
    phone.get_by_role("button", name="Afficher").click()
    expect(phone).to_have_url(re.compile(rf"starts_on={(today - timedelta(days=6)).isoformat()}"))
    expect(phone.locator("body")).not_to_contain_text("Ce champ est obligatoire")
    assert phone.locator("#id_starts_on").input_value() == (today - timedelta(days=6)).isoformat()
    assert phone.locator("#id_ends_on").input_value() == today.isoformat()
    assert js_problems == []


def test_changing_a_criterion_updates_the_audience_and_the_cost_together(world, sms_campaign, phone,  # noqa: F811
                                                                         js_problems):
    url = f"/network/campaigns/{sms_campaign.public_id}/"
    log_in(phone, "branch_manager", then=url)
    _in_french(phone)
    audience, formula = phone.get_by_test_id("audience-count"), phone.get_by_test_id("cost-formula").first
    expect(audience).to_have_text("8")
    expect(formula).to_have_text("8 messages × 0,07\xa0€ = 0,56\xa0€")
    phone.locator("#id_target_segment").select_option("fidele")
    expect(audience).to_have_text("5")
    expect(formula).to_have_text("5 messages × 0,07\xa0€ = 0,35\xa0€")
    expect(phone.get_by_test_id("cost-estimate")).to_have_text("0,35\xa0€")
    phone.locator("#id_target_segment").select_option("nouveau")
    expect(audience).to_have_text("3")
    expect(formula).to_have_text("3 messages × 0,07\xa0€ = 0,21\xa0€")
    assert Campaign.objects.get(pk=sms_campaign.pk).target_criteria == {}  # typed, not saved
    no_sideways_scroll(phone)
    assert js_problems == []
