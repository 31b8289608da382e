"""Every page a branch manager or an approver uses, on a phone (390 × 844), in a real browser
(Playwright driving Debian's chromium against pytest-django's live server), in English and in
French (issue 19, defect 6):

* the document is no wider than the viewport (no sideways scrolling) and axe-core reports no
  serious or critical violation (``no_sideways_scroll``);
* the page's primary action (its main button, or the first row's link) is visible and lies within
  the viewport's width;
* the menu is folded behind a "Menu" button that opens it;
* the pages listed here cover every link of each person's menu (a new menu entry fails the test
  until its page is added here).

The data: Lille (N1) joined an operation with two SMS templates (one draft, one proof waiting for
approval), head office sends a national SMS whose target Lille reviews, and customers in Lille.
The journeys at phone width, with their screenshots, are in tests/in_browser/test_journeys.py.
"""

import re
from dataclasses import dataclass

import pytest
from django.utils import translation
from playwright.sync_api import expect

from approvals.services import proof_decide, proof_request
from central.calendar.services import participation_answer
from central.campaigns.services import national_campaign_create
from central.models import Campaign, ConsentStatus, Customer
from tests.browser import PHONE, log_in, no_sideways_scroll
from tests.central.operations.test_decline_confirmation import sms_template
from tests.planning import plan, sms_version

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class Scene:
    joined: object  # the operation Lille joined
    draft: Campaign  # Lille's draft of it
    waiting: Campaign  # Lille's campaign whose proof waits for approval
    proof: object
    national: object  # head office's operation with a national send Lille reviews
    customer: Customer  # one of Lille's customers
    version: object  # a published template version


@pytest.fixture
def scene(world) -> Scene:
    head_office, manager = world.users["head_office"], world.users["branch_manager"]
    lille = world.nodes["N1"]
    version = sms_version(world)
    national = plan(world, versions=[version], name="Lettre nationale")
    national_campaign_create(operation=national, template_version=version, created_by=head_office)
    joined = plan(world, versions=[sms_template(world, "Relance cave", "vins de fête"),
                                   sms_template(world, "Dégustation", "venez goûter")], channels=["sms"])
    for index in range(3):
        Customer.objects.create(network=lille.network, branch=lille, external_id=f"N1-phone-{index}",
                                first_name="Client", last_name=f"Lillois{index}", email=f"c{index}@lille.test",
                                mobile=f"06110000{index:02d}", consent_sms=ConsentStatus.GRANTED,
                                segment="silver" if index == 2 else "gold")
    participation_answer(operation=joined, branch=lille, status="joined", answered_by=manager)
    campaigns = Campaign.objects.filter(operation=joined, branch=lille)
    waiting = campaigns.get(template_version__template__name="Relance cave")
    proof = proof_request(campaign=waiting, requested_by=manager)
    proof_decide(proof=proof, decided_by=world.users["regional_manager"], verdict="approve")  # the approver's turn
    return Scene(joined=joined, draft=campaigns.get(template_version__template__name="Dégustation"),
                 waiting=waiting, proof=proof, national=national, customer=world.customers["N1"],
                 version=version)


def _t(text: str, lang: str) -> str:
    with translation.override(lang):
        return translation.gettext(text)


def _first_row_link(page):
    return page.locator("main table tbody tr").first.get_by_role("link").first


def _button(text: str):
    return lambda page, lang: page.locator("main").get_by_role("button", name=_t(text, lang), exact=True).first


def _link(text: str):
    return lambda page, lang: page.locator("main").get_by_role("link", name=_t(text, lang), exact=True).first


#: page name → (its address from the scene and the world, its primary action)
PAGES = {
    "home": (lambda s, w: "/", lambda page, lang: page.get_by_test_id("where-to-start").get_by_role("link").first),
    "branches": (lambda s, w: "/network/branches/", lambda page, lang: _first_row_link(page)),
    "branch": (lambda s, w: f"/network/branches/{w.nodes['N1'].public_id}/", _link("Edit the details")),
    "branch-edit": (lambda s, w: f"/network/branches/{w.nodes['N1'].public_id}/edit/", _button("Save")),
    "customers": (lambda s, w: "/customers/", lambda page, lang: _first_row_link(page)),
    "customer": (lambda s, w: f"/customers/{s.customer.public_id}/",
                 lambda page, lang: page.locator("main table tbody tr").last),  # consents, last column
    "calendar": (lambda s, w: "/calendar/", lambda page, lang: page.locator("main").get_by_role(
        "link", name=re.compile("Foire aux vins")).first),
    "operation": (lambda s, w: f"/calendar/operations/{s.joined.public_id}/", lambda page, lang: page.locator(
        "main").get_by_role("link", name=re.compile("Relance cave|Dégustation")).first),
    "operations": (lambda s, w: "/network/operations/", lambda page, lang: page.locator(
        ".operation-card", has_text="Foire aux vins").get_by_role("link").first),
    "campaign": (lambda s, w: f"/network/campaigns/{s.draft.public_id}/", _button("Save")),
    "campaign-waiting": (lambda s, w: f"/network/campaigns/{s.waiting.public_id}/",
                         lambda page, lang: page.get_by_test_id("proof-link")),
    "target": (lambda s, w: f"/network/campaigns/{s.draft.public_id}/target/",
               lambda page, lang: page.locator("main").get_by_role("button").first),
    "target-review": (lambda s, w: f"/network/operations/{s.national.public_id}/target-review/",
                      lambda page, lang: page.locator(".review-row").first.get_by_role("button").first),
    "why-search": (lambda s, w: "/network/customers/why/", _button("Search")),
    "why": (lambda s, w: f"/network/customers/{s.customer.public_id}/why/", _link("Customer record and consent")),
    "transfers": (lambda s, w: "/network/transfers/", _button("Send the request")),
    "templates": (lambda s, w: "/templates/", lambda page, lang: _first_row_link(page)),
    "template": (lambda s, w: f"/templates/{s.version.template.public_id}/", _link("Try it with my values")),
    "template-try": (lambda s, w: f"/templates/{s.version.template.public_id}/try/",
                     lambda page, lang: page.locator("main form textarea, main form input[type=text]").first),
    "approvals": (lambda s, w: "/approvals/", _link("Review")),
    "proof": (lambda s, w: f"/approvals/proofs/{s.proof.public_id}/", _button("Send my decision")),
    "my-proof": (lambda s, w: f"/approvals/proofs/{s.proof.public_id}/", lambda page, lang: page.get_by_test_id(
        "proof-status")),
    "reports": (lambda s, w: "/reports/", _button("Show")),
    "budgets": (lambda s, w: "/budgets/", lambda page, lang: page.locator("main").get_by_role("heading").first),
}

#: who uses which pages
USES = {
    "branch_manager": ["home", "branches", "branch", "branch-edit", "customers", "customer", "calendar", "operation", "operations",
                       "campaign", "campaign-waiting", "my-proof", "target", "target-review", "why-search", "why", "transfers",
                       "templates", "template", "template-try", "reports", "budgets"],
    "approver": ["home", "branches", "calendar", "operations", "templates", "template", "approvals", "proof",
                 "reports", "budgets"],
}


def _visit_in(page, lang: str, url: str) -> None:
    page.context.add_cookies([{"name": "django_language", "value": lang, "url": page.url}])
    page.goto(url)
    expect(page.locator("html")).to_have_attribute("lang", lang)


def _within_width(page, locator, what: str) -> None:
    expect(locator).to_be_visible()
    box = locator.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 0.5, (
        f"{what}: the primary action lies outside the {PHONE['width']} px viewport: {box}")


def _overflowing(page) -> list[str]:
    """The elements sticking out of the viewport on the right (for the failure message)."""
    return page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
        .slice(0, 8).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))""")


@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize("actor,name", [(actor, name) for actor, names in USES.items() for name in names])
def test_the_page_works_on_a_phone(world, scene, phone, js_problems, actor, name, lang):
    address, primary = PAGES[name]
    url = address(scene, world)
    log_in(phone, actor, then=url)
    if lang != "en":
        _visit_in(phone, lang, url)
    phone.wait_for_load_state("networkidle")
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
        f"{name} scrolls sideways: {_overflowing(phone)}")
    no_sideways_scroll(phone)
    _within_width(phone, primary(phone, lang), name)
    assert js_problems == []


@pytest.mark.parametrize("actor", list(USES))
def test_the_menu_folds_and_every_entry_is_covered(world, scene, phone, js_problems, actor):
    log_in(phone, actor, then="/")
    menu = phone.locator("#main-menu")
    expect(menu).to_be_hidden()  # folded: the page starts with its content, not a third of menu
    toggle = phone.get_by_role("button", name="Menu")
    _within_width(phone, toggle, "the menu button")
    toggle.click()
    expect(menu).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    no_sideways_scroll(phone)
    entries = set(menu.locator("a.nav-link").evaluate_all("links => links.map(a => a.pathname)"))
    visited = {PAGES[name][0](scene, world) for name in USES[actor]}
    entries.discard("/api/docs/")  # the API's reference for developers, not a page of everyday work
    assert entries - visited == set(), f"menu entries of {actor} not checked at phone width"
    menu.get_by_role("link", name="Operations").click()
    expect(phone).to_have_url(re.compile("/network/operations/$"))
    expect(phone.locator("#main-menu")).to_be_hidden()
    assert js_problems == []


def test_the_audience_count_and_the_preview_stay_within_reach_while_typing(world, scene, phone, js_problems):
    log_in(phone, "branch_manager", then=f"/network/campaigns/{scene.draft.public_id}/")
    bar = phone.get_by_test_id("phone-bar")
    mini = bar.locator("[data-audience-mini]")
    expect(mini).to_have_text(phone.get_by_test_id("audience-count").inner_text())
    message = phone.get_by_label("Message")
    message.fill("venez goûter nos vins")
    expect(phone.locator("#campaign-live .sms-bubble")).to_contain_text("venez goûter nos vins")
    segment = phone.get_by_label("Segment")
    expect(mini).to_have_text("3")  # Lille's three customers reachable by SMS
    segment.select_option("silver")  # one of them
    expect(phone.get_by_test_id("audience-count")).to_have_text("1")
    expect(mini).to_have_text("1")  # the bar follows the live area
    message.evaluate("field => field.scrollIntoView({block: 'start', behavior: 'instant'})")  # typing at the top of the form
    for what in (message, bar):  # the field being typed in and the bar (sticky at the bottom) are both on screen
        box = what.bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"] + 0.5, box
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 0.5, box
    bar.get_by_role("link", name="See the preview").click()
    preview = phone.locator("#campaign-live .sms-bubble")
    expect(preview).to_be_in_viewport()
    no_sideways_scroll(phone)
    assert js_problems == []


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_on_a_tablet_the_menu_is_open_and_fits(world, scene, page, js_problems, lang):
    """At 1,024 px (a tablet held landscape) the menu is unfolded, and head office's — the longest,
    in French the widest — wraps rather than pushing the page sideways."""
    page.set_viewport_size({"width": 1024, "height": 768})
    log_in(page, "head_office", then="/")
    if lang != "en":
        _visit_in(page, lang, "/")
    expect(page.locator("#main-menu")).to_be_visible()
    expect(page.locator(".navbar-toggler")).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), _overflowing(page)
    no_sideways_scroll(page)
    assert js_problems == []
