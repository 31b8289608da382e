"""Nothing typed is lost (issue 19, defects 2 and 14), in a real browser (Playwright driving Debian's
chromium against pytest-django's live server), at desktop width and at 390 × 844:

- a branch manager types a new offer in the campaign editor, watches the preview change, and clicks
  *Request approval* without *Save*: the proof (and the approver's viewer) holds what was typed,
  and the field keeps it;
- leaving the editor with something typed and not saved asks first (beforeunload); a page left as
  it was, or a submit, asks nothing;
- head office's template source editor numbers its lines; a line made invalid while typing is
  highlighted with its number while the last good preview stays; then the draft is saved, posted
  by chromium with CRLF line breaks.

The server side (posted with CRLF through Django's test client) is in
tests/approvals/test_request_approval_with_values.py.
"""

import re

import pytest

from approvals.models import Proof
from fixtures.demo_templates import load_demo_templates
from templates_lib import services as template_services
from tests.browser import log_in, no_sideways_scroll
from tests.planning import joined_campaign

pytestmark = pytest.mark.django_db(transaction=True)

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - playwright is a dev dependency; the page fixture says so
    expect = None


@pytest.fixture(params=["page", "phone"])
def browser_page(request):
    """The same test at desktop width and at phone width (390 × 844)."""
    return request.getfixturevalue(request.param)


def test_the_proof_holds_what_was_typed_without_save(world, browser_page, js_problems):
    page = browser_page
    campaign = joined_campaign(world)
    editor = f"/network/campaigns/{campaign.public_id}/"
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.dismiss()))
    log_in(page, "branch_manager", then=editor)

    message = page.get_by_label("Message")
    expect(message).to_have_value("vins de fête")
    message.click()
    message.press("ControlOrMeta+a")
    message.press_sequentially("Offre du jour : -20 % sur les rouges", delay=10)
    expect(page.locator(".sms-bubble")).to_contain_text("Offre du jour : -20 % sur les rouges")
    page.get_by_test_id("request-approval").click()

    expect(page.get_by_test_id("approval-status")).to_have_text("Awaiting approval")
    expect(page.get_by_label("Message")).to_have_value("Offre du jour : -20 % sur les rouges")  # no revert
    proof = Proof.objects.get(campaign=campaign)
    assert proof.slot_values["message"] == "Offre du jour : -20 % sur les rouges"
    assert "Offre du jour : -20 % sur les rouges" in proof.text
    assert dialogs == []  # a submit is not leaving the page with unsaved changes

    page.context.clear_cookies()
    log_in(page, "regional_manager", then=f"/approvals/proofs/{proof.public_id}/")
    expect(page.locator(".sms-bubble")).to_contain_text("Lille : Offre du jour : -20 % sur les rouges")
    assert js_problems == []


def test_leaving_the_editor_with_unsaved_changes_asks_first(world, browser_page, js_problems):
    page = browser_page
    campaign = joined_campaign(world)
    editor = f"/network/campaigns/{campaign.public_id}/"
    dialogs: list[str] = []
    answers = iter([False, True])  # first "stay", then "leave"

    def on_dialog(dialog) -> None:
        dialogs.append(dialog.type)
        dialog.accept() if next(answers) else dialog.dismiss()

    page.on("dialog", on_dialog)
    log_in(page, "branch_manager", then=editor)
    breadcrumb = page.locator("nav[aria-label=breadcrumb] a").first
    page.get_by_label("Message").click()  # a gesture, nothing changed: leaving asks nothing
    breadcrumb.click()
    expect(page).to_have_url(re.compile(r"/network/operations/"))
    assert dialogs == []

    page.goto(editor)
    message = page.get_by_label("Message")
    message.click()
    message.press("End")
    message.press_sequentially(" et bulles", delay=10)  # typed with the keyboard: chromium asks only after a gesture
    page.locator("nav[aria-label=breadcrumb] a").first.click(no_wait_after=True)
    expect(message).to_have_value("vins de fête et bulles")  # stayed, the text still there
    assert dialogs == ["beforeunload"]
    assert re.search(re.escape(editor) + "$", page.url)

    page.locator("nav[aria-label=breadcrumb] a").first.click()  # this time: leave
    expect(page).to_have_url(re.compile(r"/network/operations/"))
    assert dialogs == ["beforeunload", "beforeunload"]
    campaign.refresh_from_db()
    assert campaign.slot_values["message"] == "vins de fête"  # left without saving, as asked
    assert js_problems == []


BROKEN = '<mj-text color="red>Soldes</mj-text>'  # a quote left open: MJML says which line


def test_the_source_editor_highlights_the_invalid_line_keeps_the_preview_then_saves_crlf(
        world, browser_page, js_problems, live_server, settings):
    page = browser_page
    settings.RELAIS_BASE_URL = live_server.url  # the preview's images, from the server under test
    published = load_demo_templates(network=world.networks["alpha"], author=world.users["head_office"])["newsletter"]
    draft = template_services.version_new_draft(template=published.template, created_by=world.users["head_office"])
    edit_url = f"/templates/versions/{draft.public_id}/edit/"
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.dismiss()))
    log_in(page, "head_office", then=edit_url)

    gutter = page.locator(".source-gutter").first
    source = page.locator("textarea[name=body]")
    lines = source.input_value().count("\n") + 1  # one number a line
    expect(gutter.locator("[data-line]")).to_have_count(lines)
    frame = page.locator("#preview iframe")
    expect(frame).to_have_count(1)
    good_preview = frame.get_attribute("srcdoc")
    assert "Découvrir la sélection" in good_preview

    source.click()
    source.press("ControlOrMeta+Home")
    for _ in range(14):
        source.press("ArrowDown")
    source.press("Home")
    source.press_sequentially(BROKEN, delay=5)
    source.press("Enter")

    expect(gutter.locator("[data-line='15']")).to_have_class(re.compile(r"\bis-error\b"))
    expect(gutter.locator(".is-error")).to_have_count(1)
    expect(gutter.locator("[data-line]")).to_have_count(lines + 1)
    problems = page.get_by_test_id("draft-problems")
    expect(problems).to_contain_text("line 15")
    expect(page.locator(".source-marks [data-line='15']")).to_have_count(1)  # the band across the text
    expect(source).to_have_attribute("aria-invalid", "true")
    expect(frame).to_have_count(1)  # the last good preview stays
    assert frame.get_attribute("srcdoc") == good_preview
    no_sideways_scroll(page)  # the gutter and the problems fit a phone too, and pass axe

    problems.get_by_role("button", name="Go to line 15").click()
    assert page.evaluate(
        "() => { const t = document.querySelector('textarea[name=body]');"
        " return t.value.slice(t.selectionStart, t.selectionEnd); }") == BROKEN
    source.press("Delete")  # the line's text
    source.press("Delete")  # and its line break
    expect(gutter.locator(".is-error")).to_have_count(0)
    expect(problems).to_have_count(0)
    expect(gutter.locator("[data-line]")).to_have_count(lines)

    subject = page.get_by_label("Subject")
    subject.click()
    subject.press("End")
    subject.press_sequentially(" (nouveau)", delay=5)
    expect(page.locator("#preview")).to_contain_text("(nouveau)")  # the live preview follows
    with page.expect_request(lambda request: request.method == "POST" and request.url.endswith(edit_url)) as sent:
        page.get_by_role("button", name="Save the draft").click()
    assert "%0D%0A" in (sent.value.post_data or ""), "chromium did not send CRLF: the test would prove nothing"
    expect(page.get_by_role("status").filter(has_text="Draft saved and checked.")).to_have_count(1)
    draft.refresh_from_db()
    assert draft.body == published.body.strip() and "\r" not in draft.body
    assert draft.subject == published.subject + " (nouveau)"
    assert dialogs == []  # saving is not leaving with unsaved changes
    assert js_problems == []
