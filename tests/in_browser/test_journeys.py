"""The three journeys of a new user, in a real browser (Playwright driving Debian's chromium), on
the demo network, in English and in French — one story told by the three people who live it:

1. **Head-office marketer** (marie.dupont): creates an e-mail template with a slot, publishes it;
   puts an opt-in operation on the calendar with a deadline and a pilot group of two branches (and
   first meets the error that a pilot needs its branches, next to the field); sets a pressure rule;
   runs the simulation; reads the consolidated dashboard.
2. **Branch manager** (claire.bernard, Paris 11e): finds the operation, joins it, fills the slot and
   watches the live preview, narrows the target and watches the count, picks a date that collides
   with another message and reads the clash warning, requests the proof (BAT); then reviews head
   office's national target (removes a customer with a reason, finds and adds one of hers) and head
   office reads the branch's counts on its operation page.
3. **Approver** (paul.martin, the region; then sophie.leroy, head office): finds the proof in the
   inbox, reads what the branch changed, rejects it with a comment (a rejection without a comment
   is refused next to the field); the branch reads the comment, corrects, asks again; the approvers
   approve the corrected version; the branch schedules it, follows the send's progress when its day
   comes, and reads its results beside the network's.

Every journey is played twice: on a 1,024-px wide window (a tablet held landscape) and on a phone
(390 × 844, issue 19). Every screen is checked: no horizontal scrolling, no JavaScript error, no
failed request, and axe-core (installed from the axe-playwright-python package) reports no serious
or critical violation. Every label the test looks for is the project's
own translation of the English text, so a missing French string fails the French run.

Screenshots of the main screens go to a temporary directory, or to ``$RELAIS_SCREENSHOTS/<lang>/``
(``$RELAIS_SCREENSHOTS/<lang>/phone/`` at phone width) when that is set: ``make screenshots`` writes
them into docs/screenshots/ (shown by the README).
"""

import os
import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from django.db.models import Q
from django.utils import timezone, translation

from central.models import Campaign, CampaignStatus, Channel, Customer, Delivery, Operation
from fixtures.demo_target_review import NAME as REVIEWED_OPERATION
from local_stores.models import Node
from reporting.services import rollups_refresh
from templates_lib.models import Template

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "relais-demo"  # the demo accounts' (README)
#: the window sizes every journey is played at: a tablet held landscape, and a phone
SIZES = {"tablet": (1024, 768), "phone": (390, 844)}

pytestmark = pytest.mark.django_db(transaction=True)

try:
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - dev dependencies
    sync_playwright = None


def _no_browser(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: the browser journeys cannot run in CI without it", pytrace=False)
    pytest.skip(reason)


class Journey:
    """The browser, the language, and what every screen must satisfy."""

    def __init__(self, playwright, base_url: str, lang: str, shots: Path, size: str = "tablet"):
        self.browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        self.base_url, self.lang, self.shots = base_url, lang, shots
        self.width, self.height = SIZES[size]
        self.problems: list[str] = []
        self.axe = Axe()
        self.screens = 0

    def t(self, text: str) -> str:
        """``text`` as the user reads it: the project's translation in this journey's language."""
        with translation.override(self.lang):
            translated = translation.gettext(text)
            if translated == text and text[:1].isupper():  # a model field's label: "send from" → "Send from"
                lower = translation.gettext(text[0].lower() + text[1:])
                translated = lower[0].upper() + lower[1:]
            return translated

    def label(self, page, text: str):
        """The control labelled ``text`` (translated; a required field's label ends with "*").
        Waits for the page's load first: htmx and our scripts are deferred, and what is typed before
        they run fires no live update (seen under load: the preview never followed the typing)."""
        getattr(page, "page", page).wait_for_load_state("load")  # a Locator knows its page
        return page.get_by_label(re.compile(rf"^\s*{re.escape(self.t(text))}(\s*\*)?\s*$"))

    def button(self, page, text: str):
        return page.get_by_role("button", name=self.t(text), exact=True)

    def person(self, username: str, *, then: str, keyboard: bool = False):
        """A new browser window for ``username``: opens ``then``, logs in on the way, comes back."""
        context = self.browser.new_context(base_url=self.base_url, locale=f"{self.lang}-FR" if self.lang == "fr"
                                           else "en-GB", viewport={"width": self.width, "height": self.height})
        page = context.new_page()
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("console", lambda message: message.type == "error" and self.problems.append(
            f"console error: {message.text}"))
        page.on("response", lambda response: response.status >= 400 and not response.url.endswith(
            "/favicon.ico") and self.problems.append(f"HTTP {response.status}: {response.url}"))
        page.on("dialog", self._confirm)
        page.goto(then)
        expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))
        if keyboard:  # the login form works without a mouse: autofocus, Tab, Enter
            page.keyboard.type(username)
            page.keyboard.press("Tab")
            page.keyboard.type(PASSWORD)
            page.keyboard.press("Enter")
        else:
            self.label(page, "Username").fill(username)
            self.label(page, "Password").fill(PASSWORD)
            self.button(page, "Log in").click()
        expect(page).to_have_url(re.compile(re.escape(then) + "$"))
        return page

    dialogs: list[str]

    def _confirm(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.accept()

    def screen(self, page, name: str) -> None:
        """Check the screen (the window's width, accessibility) and keep its picture."""
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), (
            f"{name}: the page scrolls sideways at {self.width} px")
        violations = [
            f"{name}: {violation['id']} ({violation['impact']}) at {node['target']}: {violation['help']}"
            for violation in self.axe.run(page).response["violations"]
            if violation["impact"] in ("serious", "critical") for node in violation["nodes"]
        ]
        assert violations == [], "\n".join(violations)
        self.screens += 1
        page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)

    def refused(self, page):
        """The page a refused form came back on, ready: its error summary has taken the focus (the
        page's scripts ran). Typing and clicking before that raced the focus's scroll: on a phone the
        summary's scroll moved the button from under a click that then went nowhere (CI, fr-phone)."""
        expect(page.locator("[data-form-errors]")).to_be_focused()

    def status(self, page):
        return page.get_by_role("status").or_(page.locator(".alert")).first


@pytest.fixture(params=[(lang, size) for lang in ("en", "fr") for size in SIZES], ids="-".join)
def journey(request, live_server, tmp_path, monkeypatch):
    if sync_playwright is None:
        _no_browser("the playwright or axe-playwright-python package is not installed")
    if not shutil.which(CHROMIUM):
        _no_browser(f"{CHROMIUM} is missing (Debian package chromium, see scripts/system-packages.sh)")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop runs in this thread
    # images in previews are addressed on the site's base URL: here, the live server
    monkeypatch.setattr(settings, "RELAIS_BASE_URL", live_server.url)
    lang, size = request.param
    target = os.environ.get("RELAIS_SCREENSHOTS")
    shots = (Path(target) / lang) if target else tmp_path
    if size == "phone":
        shots = shots / "phone"
    shots.mkdir(parents=True, exist_ok=True)
    call_command("demo_load", customers=600, stdout=open(os.devnull, "w"))  # noqa: SIM115
    expect.set_options(timeout=30_000)  # a busy 2-core machine renders the previews slowly (15 s was passed twice with the suite and a CI run side by side)
    with sync_playwright() as playwright:
        journey = Journey(playwright, live_server.url, lang, shots, size)
        journey.dialogs = []
        try:
            yield journey
        finally:
            if os.environ.get("RELAIS_JOURNEY_DEBUG"):  # where each window stood at the end
                for n, context in enumerate(journey.browser.contexts):
                    for m, page in enumerate(context.pages):
                        page.screenshot(path=os.environ["RELAIS_JOURNEY_DEBUG"] + f"/end-{lang}-{size}-{n}-{m}.png",
                                        full_page=True)
            connections.close_all()
            if journey.problems:
                print("Problems seen in the browser:", *journey.problems, sep="\n  ")
            journey.browser.close()


def _clash_date(branch: Node):
    """The first day from the day after tomorrow on which the branch's customers already get an
    e-mail (a national one or the branch's own): the date the branch manager picks, to meet a clash."""
    earliest = timezone.localdate() + timedelta(days=2)
    other = (Campaign.objects.filter(channel=Channel.EMAIL, send_date__gte=earliest,
                                     network_id=branch.network_id)
             .filter(Q(branch=branch) | Q(branch__isnull=True))
             .exclude(status=CampaignStatus.CANCELLED).order_by("send_date").first())
    assert other is not None, "the demo network plans e-mails for the coming months"
    return other.send_date


def test_the_three_journeys(journey):
    j, t = journey, journey.t
    today = timezone.localdate()
    paris = Node.objects.get(name="Comptoir Paris 11e")
    day = _clash_date(paris)
    name = "Portes ouvertes de printemps"

    # --- 1. Head office: a template with a slot, published --------------------------------------
    hq = j.person("marie.dupont", then="/")
    start = hq.get_by_test_id("where-to-start")  # the home page says what to do first
    expect(start.get_by_role("link")).to_have_count(4)
    j.screen(hq, "1-0-home")
    start.get_by_role("link", name=t("Create a template")).click()
    j.label(hq, "E-mail").check()
    j.label(hq, "Name").fill("Portes ouvertes")
    j.button(hq, "Create and edit the first draft").click()
    source = j.label(hq, "Source")
    # the source editor's script wraps the textarea in its gutter once the page is parsed: fill after it
    # (CI once saw the text typed into the textarea while it moved go nowhere)
    expect(hq.locator(".source-editor textarea")).to_have_count(1)
    source.fill(source.input_value().replace("{{ recipient.first_name }},",
                                             "{{ recipient.first_name }}, {{ slot.offer }}"))
    expect(source).to_have_value(re.compile(r"\{\{ slot\.offer \}\}"))
    # the demo network's brand kit starts a new e-mail with three slots (headline, intro, link): the
    # fourth form is the empty one
    slot = hq.get_by_role("group", name=t("Slot %(number)s") % {"number": 4}, exact=True)
    j.label(slot, "Name in the source").fill("offer")
    j.label(slot, "Label shown to branches").fill("Offre du magasin")
    j.label(slot, "Default").fill("un café offert")
    frame = hq.frame_locator("iframe").first
    j.button(hq, "Save the draft").click()
    expect(frame.get_by_text("un café offert")).to_be_visible()  # the preview shows the slot's default
    j.screen(hq, "1-1-template-editor")
    j.button(hq, "Save and publish").click()
    assert j.dialogs[-1] == t("Publish this version? It will never change again.")  # asked first
    expect(hq.get_by_role("heading", level=1)).to_contain_text("Portes ouvertes")
    template = Template.objects.get(name="Portes ouvertes")
    assert template.versions.get().is_published

    # --- an operation on the calendar: deadline, pilot group ----------------------------------------
    hq.goto("/calendar/operations/new/")
    j.label(hq, "Name").fill(name)
    hq.get_by_label(t("Opt-in: branches subscribe before the deadline")).check()
    hq.locator("[name=channels][value=email]").check()
    hq.get_by_label("Portes ouvertes v1 (").check()
    j.label(hq, "Earliest send date").fill((today + timedelta(days=1)).isoformat())
    j.label(hq, "Latest send date").fill((day + timedelta(days=7)).isoformat())
    j.label(hq, "Subscription deadline").fill((today + timedelta(days=1)).isoformat())
    j.label(hq, "Pilot on part of the network").check()
    j.label(hq, "Segment").check()
    j.button(hq, "Save the draft").click()
    error = hq.get_by_text(t("A pilot runs on part of the network: choose its regions or branches."), exact=True)
    expect(error).to_be_visible()  # next to the field (and in the summary above), the rest of the form kept
    expect(j.label(hq, "Name")).to_have_value(name)
    j.refused(hq)
    j.screen(hq, "1-2-operation-form-error")
    j.label(hq, "Eligible regions or branches").select_option(label=["— Comptoir Paris 11e",
                                                                     "— Comptoir Lyon Part-Dieu"])
    j.button(hq, "Save the draft").click()
    expect(j.status(hq)).to_contain_text(t("Operation saved as a draft: publish it when it is ready."))
    j.button(hq, "Publish").click()
    expect(j.status(hq)).to_contain_text(t("Published: the eligible branches see it now."))
    j.screen(hq, "1-3-operation-published")
    operation = Operation.objects.get(name=name)
    assert operation.is_pilot and operation.eligible_nodes.count() == 2

    # --- a pressure rule, the simulation, the dashboard ---------------------------------------------
    hq.goto("/calendar/rules/")
    j.label(hq, "Marketing messages per customer, at most").fill("3")
    j.label(hq, "over this many days (rolling)").fill("7")
    j.button(hq, "Save the rules").click()
    expect(j.status(hq)).to_contain_text(t("The network's rules were saved: the next arbitration applies them."))
    hq.goto("/calendar/arbitration/")
    hq.get_by_role("button", name=re.compile("^" + re.escape(t("Simulate")))).click()
    expect(j.status(hq)).to_contain_text(t("Simulation started: nothing is sent. Its results show here as soon as "
                                           "it is done."))  # in-process in the demo: already done
    expect(hq.locator("table").first).to_contain_text("Comptoir Paris 11e")
    j.screen(hq, "1-4-simulation")
    hq.goto("/reports/")
    expect(hq.get_by_role("heading", level=1)).to_be_visible()
    j.screen(hq, "1-5-dashboard")

    # --- 2. Branch manager: join, customise with the live preview, target, clash, proof -------------
    branch = j.person("claire.bernard", then="/")
    branch.get_by_test_id("where-to-start").get_by_role("link", name=t("Answer the operations")).click()
    card = branch.locator(".operation-card", has_text=name)
    j.button(card, "Join").click()
    campaign = Campaign.objects.get(operation=operation, branch=paris)
    expect(branch).to_have_url(re.compile(rf"/network/campaigns/{campaign.public_id}/$"))
    live = branch.locator("#campaign-live")
    count = branch.get_by_test_id("audience-count")
    everyone = int(count.inner_text().replace("\u202f", "").replace(",", "").replace(" ", ""))
    j.label(branch, "Offre du magasin").fill("un croissant offert")
    expect(live.frame_locator("iframe").first.get_by_text("un croissant offert")).to_be_visible()
    segment = j.label(branch, "Segment")
    segment.select_option(index=1)
    expect(count).not_to_have_text(str(everyone))  # the count follows the target
    j.label(branch, "Send date").fill(day.isoformat())
    expect(branch.get_by_test_id("clashes")).to_be_visible()  # another e-mail reaches them that day
    j.screen(branch, "2-1-campaign-editor")
    j.button(branch, "Save").click()
    expect(j.status(branch)).to_contain_text(t("Campaign saved."))
    branch.get_by_test_id("request-approval").click()
    expect(branch.get_by_test_id("approval-status")).to_have_text(t("Awaiting approval"))
    j.screen(branch, "2-2-proof-requested")

    # --- the branch reviews head office's national target: removes one, adds one of hers -----------
    letter = Operation.objects.get(name=REVIEWED_OPERATION)  # head office's own newsletter (the demo's)
    branch.goto(f"/calendar/operations/{letter.public_id}/")
    branch.locator("#target-review").get_by_role("link", name=re.compile(
        "^" + re.escape(t("Review head office's target")))).click()
    counts = branch.locator(".review-counts")
    kept = int(counts.locator("[data-count=kept]").inner_text())
    assert kept > 0
    row = branch.locator(".review-row").first
    removed = row.locator(".fw-semibold").inner_text()
    row.locator("select[name=reason]").select_option(label=t("Complaint or dispute in progress"))
    j.button(row, "Remove from the list").click()
    expect(j.status(branch)).to_contain_text(t("%(name)s will not receive head office's message.") % {"name": removed})
    expect(counts.locator("[data-count=removed]")).to_have_text("1")
    expect(counts.locator("[data-count=kept]")).to_have_text(str(kept - 1))
    claire = letter.network.nodes.get(code="PAR11")
    outside = (Customer.objects.filter(branch=claire, consent_email="granted", objected_at__isnull=True)
               .exclude(email="").exclude(segment="fidele").order_by("last_name", "id").first())
    j.label(branch, "Find one of your customers to add").fill(outside.email)
    j.button(branch, "Find").click()
    branch.locator(".add-candidate", has_text=outside.full_name).get_by_role("button", name=t("Add"), exact=True).click()
    expect(counts.locator("[data-count=added]")).to_have_text("1")
    expect(branch.locator(".review-row", has_text=outside.full_name)).to_be_visible()
    j.screen(branch, "2-5-target-review")
    # head office's operation page: the branch's counts
    hq.goto(f"/calendar/operations/{letter.public_id}/")
    par11 = hq.locator("#target-review tr[data-branch=PAR11]")
    expect(par11.locator("[data-count=kept]")).to_have_text(str(kept - 1))
    expect(par11.locator("[data-count=removed]")).to_have_text("1")
    expect(par11.locator("[data-count=added]")).to_have_text("1")
    j.screen(hq, "1-6-target-review-counts")
    branch.goto(f"/network/campaigns/{campaign.public_id}/")  # back to her campaign, awaiting approval

    # --- 3. Approver: the inbox, the changes, a rejection with a comment ----------------------------
    region = j.person("paul.martin", then="/", keyboard=True)
    region.get_by_test_id("where-to-start").get_by_role("link", name=t("Review the proofs")).click()
    row = region.get_by_role("row", name=re.compile(re.escape(name)))
    expect(row).to_have_count(1)
    j.screen(region, "3-1-inbox")
    row.get_by_role("link", name=t("Review")).click()
    expect(region.get_by_test_id("changes")).to_contain_text("un croissant offert")
    j.screen(region, "3-2-proof")
    region.get_by_label(t("Reject"), exact=True).check()
    j.button(region, "Send my decision").click()
    expect(region.get_by_test_id("comment-error")).to_be_visible()  # a rejection says why
    j.refused(region)
    region.get_by_label(t("Reject"), exact=True).check()
    j.label(region, "Comment").fill("Le croissant n'est offert qu'en semaine : précisez-le.")
    j.button(region, "Send my decision").click()
    expect(region.get_by_test_id("proof-status")).to_have_text(t("Rejected"))

    # the branch reads why, corrects, asks again
    branch.reload()
    expect(branch.get_by_test_id("approval-comments")).to_contain_text("qu'en semaine")
    j.label(branch, "Offre du magasin").fill("un croissant offert du lundi au vendredi")
    # the live preview's request answered before the form is sent (two requests at once would lock
    # the test's SQLite database)
    expect(live.frame_locator("iframe").first.get_by_text("du lundi au vendredi")).to_be_visible()
    j.button(branch, "Save").click()
    expect(j.status(branch)).to_contain_text(t("Campaign saved."))
    branch.get_by_test_id("request-approval").click()
    expect(branch.get_by_test_id("approval-status")).to_have_text(t("Awaiting approval"))

    # the region approves the corrected version, then head office
    region.goto("/approvals/")
    region.get_by_role("row", name=re.compile(re.escape(name))).get_by_role("link", name=t("Review")).click()
    expect(region.get_by_test_id("changes")).to_contain_text("du lundi au vendredi")
    region.get_by_label(t("Approve"), exact=True).check()
    j.button(region, "Send my decision").click()
    expect(region.get_by_test_id("proof-status")).to_have_text(t("Waiting for approval"))
    approver = j.person("sophie.leroy", then="/approvals/")
    approver.get_by_role("row", name=re.compile(re.escape(name))).get_by_role("link", name=t("Review")).click()
    approver.get_by_label(t("Approve"), exact=True).check()
    j.button(approver, "Send my decision").click()
    expect(approver.get_by_test_id("proof-status")).to_have_text(t("Approved"))
    j.screen(approver, "3-3-proof-approved")

    # --- the branch schedules, the day comes, the send's progress, the results ---------------------
    branch.reload()
    branch.get_by_test_id("schedule").click()
    expect(branch.get_by_test_id("approval-status")).to_have_text(t("Scheduled"))
    call_command("send_due", day=day.isoformat(), stdout=open(os.devnull, "w"))  # noqa: SIM115 — beat, that morning
    rollups_refresh()  # and every ten minutes after
    campaign.refresh_from_db()
    sent = Delivery.objects.filter(campaign=campaign, status="sent").count()
    assert campaign.status == CampaignStatus.SENT and sent > 0
    branch.reload()
    progress = branch.get_by_test_id("send-progress")
    expect(progress).to_be_visible()
    expect(progress.get_by_role("progressbar")).to_have_attribute("aria-valuenow", str(sent))
    j.screen(branch, "2-3-send-progress")
    branch.goto("/reports/")
    expect(branch.locator("#comparison")).to_be_visible()  # the branch beside the network
    j.screen(branch, "2-4-branch-results")

    assert j.problems == []
    assert j.screens == 15
