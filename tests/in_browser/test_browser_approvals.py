"""Approvals in a real browser (Playwright driving Debian's chromium against the live server):

- the whole BAT journey: a branch manager requests approval from the campaign page, the regional
  manager approves from the proof viewer, then the head-office approver; the campaign becomes
  schedulable; an edit after that voids the approval;
- a script typed by a branch into a rich-text slot never runs in the viewer: neither what the slot
  sanitiser lets through, nor — were the sanitiser ever bypassed — raw script in the frozen proof,
  which the sandboxed frame and its Content-Security-Policy keep inert.

Browser set-up (chromium, login, the problems watched) is shared with test_browser_planning.py.
"""

import re

import pytest

from approvals.models import Proof, ProofStatus
from central.campaigns.services import campaign_update
from central.models import CampaignStatus, ConsentStatus, Customer
from templates_lib import services as template_services
from tests.browser import log_in
from tests.planning import joined_campaign

pytestmark = pytest.mark.django_db(transaction=True)

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - playwright is a dev dependency
    expect = None

RICH_EMAIL = """<mjml>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text>{{ branch.name }}</mj-text>
        <mj-text>{{ slot.rich }}</mj-text>
        <mj-text><a href="{{ system.unsubscribe_url }}">Se désinscrire</a></mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>
"""
HOSTILE = ('<p>Bonjour <b>voisins</b></p><script>new Image().src="/pwned-script"</script>'
           '<img src="/no-such-image" onerror="new Image().src=\'/pwned-onerror\'">'
           '<a href="javascript:new Image().src=\'/pwned-href\'">clic</a>')


def switch_user(page, username: str, *, then: str) -> None:
    page.context.clear_cookies()
    log_in(page, username, then=then)


def test_a_proof_is_approved_by_the_region_then_head_office_and_an_edit_voids_it(world, page, js_problems):
    campaign = joined_campaign(world)
    editor = f"/network/campaigns/{campaign.public_id}/"

    log_in(page, "branch_manager", then=editor)
    page.get_by_test_id("request-approval").click()
    expect(page.get_by_test_id("approval-status")).to_have_text("Awaiting approval")
    proof = Proof.objects.get(campaign=campaign)
    viewer = f"/approvals/proofs/{proof.public_id}/"
    expect(page.get_by_test_id("proof-link")).to_have_attribute("href", viewer)

    switch_user(page, "regional_manager", then="/approvals/")
    expect(page.get_by_role("row", name=re.compile("Foire aux vins"))).to_have_count(1)
    page.get_by_role("link", name="Review").click()
    expect(page).to_have_url(re.compile(re.escape(viewer) + "$"))
    expect(page.locator(".sms-bubble")).to_contain_text("Lille : vins de fête")
    page.get_by_label("Approve").check()
    page.get_by_role("button", name="Send my decision").click()
    expect(page.get_by_test_id("proof-status")).to_have_text("Waiting for approval")
    assert Proof.objects.get(pk=proof.pk).current_step == 1

    switch_user(page, "approver", then=viewer)
    page.get_by_label("Approve").check()
    page.get_by_role("button", name="Send my decision").click()
    expect(page.get_by_test_id("proof-status")).to_have_text("Approved")

    switch_user(page, "branch_manager", then=editor)
    expect(page.get_by_test_id("approval-status")).to_have_text("Approved")
    expect(page.get_by_test_id("schedule")).to_be_visible()
    expect(page.get_by_test_id("voids-warning")).to_be_visible()
    page.get_by_label("Message").fill("vins de fête et huîtres")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Campaign saved.")).to_be_visible()
    expect(page.get_by_test_id("approval-status")).to_have_text("Being prepared")
    expect(page.get_by_test_id("schedule")).to_have_count(0)
    expect(page.get_by_test_id("request-approval")).to_be_visible()
    proof.refresh_from_db()
    campaign.refresh_from_db()
    assert proof.status == ProofStatus.VOIDED and campaign.status == CampaignStatus.DRAFT
    assert js_problems == []


@pytest.fixture
def rich_campaign(world):
    head_office = world.users["head_office"]
    template = template_services.template_create(network=world.networks["alpha"], kind="email", name="Lettre",
                                                 created_by=head_office)
    draft = template_services.draft_update(
        version=template.versions.get(), edited_by=head_office, subject="Nouvelles de {{ branch.name }}",
        body=RICH_EMAIL, slots=[{"name": "rich", "type": "rich_text", "label": "Texte riche", "required": False}])
    version = template_services.version_publish(version=draft, published_by=head_office)
    campaign = joined_campaign(world, version=version, reachable=0)
    Customer.objects.create(network=campaign.network, branch=campaign.branch, external_id="mail-1", last_name="Mail",
                            email="mail@example.test", consent_email=ConsentStatus.GRANTED)
    campaign_update(campaign=campaign, updated_by=world.users["branch_manager"], slot_values={"rich": HOSTILE})
    return campaign


def test_a_script_in_a_rich_text_slot_never_runs_in_the_viewer(world, page, js_problems, rich_campaign):
    from approvals.services import proof_request

    proof = proof_request(campaign=rich_campaign, requested_by=world.users["branch_manager"])
    # Were the slot sanitiser ever bypassed, the frozen proof would carry raw script: put it there.
    forged = proof.html.replace("</body>", HOSTILE.replace("/pwned", "/pwned-forged") + "</body>")
    Proof.objects.filter(pk=proof.pk).update(html=forged)
    beacons: list[str] = []
    page.on("request", lambda request: "pwned" in request.url and beacons.append(request.url))
    page.on("dialog", lambda dialog: beacons.append(f"dialog {dialog.message}") or dialog.dismiss())

    log_in(page, "regional_manager", then=f"/approvals/proofs/{proof.public_id}/")
    frame = page.frame_locator('[data-testid="proof-frame"]')
    expect(frame.get_by_text("voisins").first).to_be_visible()  # the frame did load the proof
    page.wait_for_load_state("networkidle")
    frame.get_by_role("link", name="clic").first.click(no_wait_after=True)
    page.wait_for_timeout(500)  # let any beacon a script would fire reach the server
    assert beacons == [], beacons
    content = page.request.get(f"/approvals/proofs/{proof.public_id}/content/")
    policy = content.headers["content-security-policy"]
    assert "sandbox" in policy and "default-src 'none'" in policy and "script-src" not in policy
    # js_problems may hold the browser's CSP/sandbox refusals (that is the point); nothing else
    assert not [problem for problem in js_problems
                if "Content Security Policy" not in problem and "(csp)" not in problem
                and "sandbox" not in problem.lower() and "no-such-image" not in problem], js_problems
