"""Forms posted from a real browser (issue 19: defect 8 and "forms as a browser submits them"):
Playwright driving Debian's chromium against pytest-django's live server, at desktop width and at
phone width (390 × 844).

- Approvals: the approver requests changes with a comment typed over several lines (Enter: chromium
  posts CRLF); the comment is stored with LF and shown with its line breaks, to the approver and to
  the branch. Without a comment, the error summary is at the top of the decision form, focused, and
  its link takes the focus to the comment field.
- Operations: head office plans an operation with a description over several lines; an invalid
  form answers with the summary focused and keeps what was typed; a second click on the submit
  button while the first post is on its way posts nothing more (one operation); the back button after saving posts nothing again and loses nothing.

The same answers through Django's test client for every form: tests/architecture/test_form_error_summary.py.
"""

import contextlib
import re
import time

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from approvals.models import Decision, ProofStatus
from approvals.services import proof_request
from central.campaigns.services import campaign_update
from central.models import Operation
from templates_lib import services as template_services
from tests.browser import log_in, no_sideways_scroll
from tests.planning import joined_campaign, sms_version

pytestmark = pytest.mark.django_db(transaction=True)

WIDTHS = ["page", "phone"]  # the fixtures: desktop, then 390 × 844


@pytest.fixture(params=WIDTHS)
def browser_page(request):
    return request.getfixturevalue(request.param)


def posted(request) -> str:
    return request.post_data or ""


# --- Approvals ------------------------------------------------------------------------------------------


@pytest.fixture
def pending_proof(world):
    campaign = joined_campaign(world)
    campaign_update(campaign=campaign, updated_by=world.users["branch_manager"], slot_values={"message": "huîtres"})
    return proof_request(campaign=campaign, requested_by=world.users["branch_manager"])


def test_the_approver_requests_changes_with_a_comment_over_several_lines(world, pending_proof, browser_page,
                                                                           js_problems):
    page = browser_page
    url = f"/approvals/proofs/{pending_proof.public_id}/"
    log_in(page, "regional_manager", then=url)
    decision = page.get_by_test_id("decision-form")
    expect(page.locator("[data-form-errors]")).to_have_count(0)

    # No comment: refused, the summary at the top of the form has the focus and is on screen.
    decision.get_by_label("Request changes").check()
    decision.get_by_role("button", name="Send my decision").click()
    summary = page.locator("#decision-errors")
    expect(summary).to_be_focused()
    expect(summary).to_have_attribute("role", "alert")
    expect(summary.get_by_role("heading")).to_have_text("There is a problem")
    expect(summary).to_be_in_viewport()  # focused, so scrolled into view
    assert not Decision.objects.exists()
    expect(page.get_by_test_id("decision-form").get_by_label("Request changes")).to_be_checked()  # kept
    comment = page.locator("#id_comment")
    expect(comment).to_have_attribute("aria-invalid", "true")
    expect(comment).to_have_attribute("aria-describedby", re.compile(r"\bid_comment_error\b"))

    # Its link takes the focus to the field.
    summary.get_by_role("link", name=re.compile("comment", re.IGNORECASE)).click()
    expect(comment).to_be_focused()
    expect(comment).to_be_in_viewport()

    # Typed over three lines with Enter: chromium posts CRLF; Relais keeps LF.
    comment.press_sequentially("Le prix est faux.")
    comment.press("Enter")
    comment.press_sequentially("Mettez 12,90 €.")
    comment.press("Enter")
    comment.press_sequentially("Merci")
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/decide/")) as sent:
        page.get_by_role("button", name="Send my decision").click()
    assert "%0D%0A" in posted(sent.value), "chromium did not send CRLF: the test would prove nothing"
    expect(page.get_by_role("status").first).to_contain_text("Changes requested")
    expect(page.locator("[data-form-errors]")).to_have_count(0)
    stored = Decision.objects.get()
    assert stored.comment == "Le prix est faux.\nMettez 12,90 €.\nMerci"
    pending_proof.refresh_from_db()
    assert pending_proof.status == ProofStatus.CHANGES_REQUESTED
    shown = page.get_by_test_id("steps").get_by_text("Le prix est faux.")
    assert [line.strip("«»“” ") for line in shown.inner_text().splitlines()] == [
        "Le prix est faux.", "Mettez 12,90 €.", "Merci"]
    if page.viewport_size["width"] < 576:
        no_sideways_scroll(page)

    # The branch reads it with its line breaks on its campaign page.
    page.context.clear_cookies()  # logged out (at phone width the button is in the folded menu)
    log_in(page, "branch_manager", then=f"/network/campaigns/{pending_proof.campaign.public_id}/")
    branch_sees = page.get_by_test_id("approval-comments").get_by_text("Le prix est faux.")
    assert branch_sees.inner_text().splitlines() == ["Le prix est faux.", "Mettez 12,90 €.", "Merci"]
    assert js_problems == []


# --- Operations -----------------------------------------------------------------------------------------


@pytest.fixture
def version(world):
    return sms_version(world)


def fill_operation(page, *, name: str) -> None:
    form = page.locator("main form[method=post]")
    form.locator("[name=name]").fill(name)
    form.locator("[name=theme]").fill("vins")
    description = form.locator("[name=description]")
    description.click()
    description.press_sequentially("Deux semaines de dégustations.")
    description.press("Enter")
    description.press_sequentially("Remise sur les caisses de six.")
    form.get_by_label(re.compile("^Opt-in")).check()
    form.get_by_label("SMS", exact=True).check()
    form.get_by_label("Promo SMS", exact=False).first.check()
    form.locator("[name=send_from]").fill("2027-03-01")
    form.locator("[name=send_until]").fill("2027-03-15")
    form.locator("[name=subscription_deadline]").fill("2027-02-20")


def test_head_office_plans_an_operation_described_over_several_lines(world, version, browser_page, js_problems):
    page = browser_page
    log_in(page, "head_office", then="/calendar/operations/new/")

    # Invalid first (no name): the summary at the top, focused, and everything typed is still there.
    fill_operation(page, name="")
    with page.expect_request(lambda r: r.method == "POST") as sent:
        page.get_by_role("button", name="Save the draft").click()
    assert "%0D%0A" in posted(sent.value), "chromium did not send CRLF: the test would prove nothing"
    summary = page.locator("[data-form-errors]")
    expect(summary).to_be_focused()
    expect(summary).to_be_in_viewport()
    link = summary.get_by_role("link", name=re.compile("^Name"))
    expect(link).to_have_attribute("href", "#id_name")
    form = page.locator("main form[method=post]")
    expect(form.locator("[name=description]")).to_have_value("Deux semaines de dégustations.\nRemise sur les caisses de six.")
    expect(form.locator("[name=theme]")).to_have_value("vins")
    expect(form.get_by_label("SMS", exact=True)).to_be_checked()
    expect(form.get_by_label(re.compile("^Opt-in"))).to_be_checked()
    expect(form.locator("[name=send_until]")).to_have_value("2027-03-15")
    assert not Operation.objects.exists()
    link.click()
    expect(form.locator("[name=name]")).to_be_focused()
    if page.viewport_size["width"] < 576:
        no_sideways_scroll(page)

    assert js_problems == []


def test_a_double_click_saves_one_operation_and_the_back_button_posts_nothing_again(world, version, browser_page,
                                                                                   js_problems):
    page = browser_page
    log_in(page, "head_office", then="/calendar/operations/new/")
    fill_operation(page, name="Foire aux vins de printemps")
    # A double click whose second click comes while the first post is on its way (the server answers
    # slowly: 0.4 s here), as impatient people do: chromium posts once.
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.method == "POST" else None)

    def slowly(route) -> None:
        if route.request.method == "POST":
            time.sleep(0.4)
        with contextlib.suppress(PlaywrightError):  # without the guard, chromium drops it for the second
            route.continue_()

    page.route(re.compile(r"/calendar/operations/new/$"), slowly)
    page.get_by_role("button", name="Save the draft").evaluate(
        "(button) => { button.click(); setTimeout(() => button.click(), 60); }")
    expect(page).to_have_url(re.compile(r"/calendar/operations/op_[^/]+/$"))
    expect(page.get_by_role("status").first).to_contain_text("Operation saved as a draft")
    page.wait_for_load_state("networkidle")
    page.unroute(re.compile(r"/calendar/operations/new/$"))
    assert len(sent) == 1, f"the form was posted {len(sent)} times"
    assert Operation.objects.filter(name="Foire aux vins de printemps").count() == 1
    operation = Operation.objects.get()
    assert operation.description == "Deux semaines de dégustations.\nRemise sur les caisses de six."
    description = page.locator("main p", has_text="Deux semaines")
    assert description.inner_text().splitlines() == ["Deux semaines de dégustations.", "Remise sur les caisses de six."]
    detail_url = page.url

    # Back: the form page again (asked with GET, nothing posted again); forward: the operation as saved.
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.go_back()
    expect(page).to_have_url(re.compile(r"/calendar/operations/new/$"))
    expect(page.get_by_role("button", name="Save the draft")).to_be_enabled()
    page.go_forward()
    expect(page).to_have_url(detail_url)
    expect(page.locator("main")).to_contain_text("Remise sur les caisses de six.")
    page.reload()
    expect(page.locator("main")).to_contain_text("Remise sur les caisses de six.")
    assert posts == [], "going back and forth posted the form again"
    assert Operation.objects.count() == 1
    assert js_problems == []


# --- Templates ------------------------------------------------------------------------------------------


def test_publishing_a_template_that_fails_its_checks_says_why_at_the_top(world, page, js_problems):
    """Head office empties an SMS template's text and clicks *Save and publish* at the bottom of a
    long form: the summary at the top of the form has the focus, its link leads to the text."""
    template = template_services.template_create(network=world.networks["alpha"], kind="sms", name="Relance",
                                                 created_by=world.users["head_office"])
    draft = template.versions.get()
    log_in(page, "head_office", then=f"/templates/versions/{draft.public_id}/edit/")
    page.locator("textarea[name=body]").fill("")
    page.once("dialog", lambda dialog: dialog.accept())  # "Publish this version? It will never change again."
    page.get_by_role("button", name="Save and publish").click()
    summary = page.locator("[data-form-errors]")
    expect(summary).to_be_focused()
    expect(summary).to_be_in_viewport()
    summary.get_by_role("link").first.click()
    expect(page.locator("textarea[name=body]")).to_be_focused()
    draft.refresh_from_db()
    assert draft.status == "draft"
    assert js_problems == []
