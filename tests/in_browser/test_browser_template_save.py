"""A template saved from a real browser (issue 19, defect 1): chromium submits the source textarea's
line breaks as CRLF, which the MJML parser refused inside <mj-head> ("unexpected token in root
template"). The same through Django's test client, CRLF and all, is in test_crlf_forms.py.

Driven like test_browser_planning.py (Playwright, Debian's chromium, pytest-django's live server).
"""

import re

import pytest

from fixtures.demo_templates import load_demo_templates
from tests.browser import log_in

pytestmark = pytest.mark.django_db(transaction=True)

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - playwright is a dev dependency; the page fixture says so
    expect = None


def test_head_office_saves_then_publishes_a_new_version_of_the_demo_newsletter(world, page, js_problems,
                                                                              live_server, settings):
    """Head office opens "Lettre nationale — Foire aux vins", starts a new version, changes nothing
    and clicks Save: the draft is saved (LF only, the same source); then Save and publish (confirmed):
    version 2 is published."""
    settings.RELAIS_BASE_URL = live_server.url  # the preview's images, from the server under test
    published = load_demo_templates(network=world.networks["alpha"], author=world.users["head_office"])["newsletter"]
    template = published.template
    log_in(page, "head_office", then=f"/templates/{template.public_id}/")

    page.get_by_role("button", name="Start a new version").click()
    draft = template.versions.get(status="draft")
    edit_url = f"/templates/versions/{draft.public_id}/edit/"
    expect(page).to_have_url(re.compile(rf"{re.escape(edit_url)}$"))
    expect(page.locator("textarea[name=body]")).to_have_value(published.body)
    assert "\r" not in page.locator("textarea[name=body]").input_value()  # the browser adds the CR as it submits

    with page.expect_request(lambda request: request.method == "POST" and request.url.endswith(edit_url)) as sent:
        page.get_by_role("button", name="Save the draft").click()
    assert "%0D%0A" in (sent.value.post_data or ""), "chromium did not send CRLF: the test would prove nothing"
    expect(page.get_by_role("status")).to_contain_text("Draft saved and checked.")
    expect(page).to_have_url(re.compile(rf"{re.escape(edit_url)}$"))
    expect(page.locator(".alert-danger")).to_have_count(0)
    draft.refresh_from_db()
    assert draft.body == published.body.strip() and "\r" not in draft.body
    assert draft.slots == published.slots and draft.status == "draft"

    page.once("dialog", lambda dialog: dialog.accept())  # "Publish this version? It will never change again."
    page.get_by_role("button", name="Save and publish").click()
    expect(page).to_have_url(re.compile(rf"/templates/{template.public_id}/$"))
    expect(page.get_by_role("status").filter(has_text="Version 2 is published")).to_have_text(
        "Version 2 is published: branches can use it.")
    draft.refresh_from_db()
    assert draft.status == "published" and draft.body == published.body.strip()
    assert js_problems == []
