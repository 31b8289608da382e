"""The visual e-mail editor's text fields in a real browser (docs/visual-editor.md): merge fields and
slots show as labelled chips, never as their {{ codes }}, in English and in French; a chip from the
merge menu is saved as exactly its code; Backspace takes a chip away whole; a demo newsletter whose
every text field was touched and restored saves the same MJML byte for byte; the link dialog (no
browser prompt) adds a link on an allowed domain, refuses a bad address beside the field, and works
with the keyboard only (Tab, Enter, Escape, focus back on the Link button).
"""

import re

import pytest

from fixtures.demo_templates import load_demo_templates
from templates_lib import services
from templates_lib.models import TemplateVersion
from tests.browser import log_in, no_sideways_scroll, serious

pytestmark = pytest.mark.django_db(transaction=True)

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - playwright is a dev dependency; the page fixture says so
    expect = None

GREETING = "Bonjour"


def newsletter_draft(world):
    alpha, head_office = world.networks["alpha"], world.users["head_office"]
    published = load_demo_templates(network=alpha, author=head_office)["newsletter"]  # sets the demo's rules
    services.content_rules_update(network=alpha, updated_by=head_office, forbidden_patterns="",
                                  allowed_link_domains="example.org", sms_stop_mention="STOP au 36173")
    draft = services.version_new_draft(template=published.template, created_by=head_office)
    return draft, TemplateVersion.objects.get(pk=draft.pk).body


def open_editor(page, draft, *, ready="Preview up to date.") -> None:
    page.goto(f"/templates/versions/{draft.public_id}/visual/")
    expect(page.locator("#ve-preview-state")).to_have_text(ready)


def select_block(page, text: str):
    page.locator("#ve-outline .ve-block", has_text=text).first.locator(".ve-select").click()
    return page.locator("#ve-properties .ve-rich").first


def save(page) -> None:
    page.get_by_role("button", name="Save the draft", exact=True).click()
    expect(page.locator("#ve-status")).to_have_text("Draft saved and checked.")


def test_chips_show_labels_round_trip_byte_for_byte_and_come_from_the_merge_menu(world, page, js_problems,
                                                                                 live_server, settings):
    settings.RELAIS_BASE_URL = live_server.url
    draft, original = newsletter_draft(world)
    log_in(page, "head_office", then=f"/templates/versions/{draft.public_id}/visual/")
    open_editor(page, draft)

    rich = select_block(page, GREETING)
    chip = rich.locator(".ve-chip")
    expect(chip).to_have_count(1)
    expect(chip).to_have_text("First name")
    expect(chip).to_have_attribute("aria-label", "Merge field: First name")
    expect(chip).to_have_attribute("contenteditable", "false")
    expect(rich).not_to_contain_text("{{")
    address = select_block(page, "[Name]")  # the branch's address line: six merge fields
    expect(address.locator(".ve-chip")).to_have_count(6)
    expect(address.locator(".ve-chip").first).to_have_text("Branch · Name")
    expect(address).not_to_contain_text("{{")
    footer = select_block(page, "Se désinscrire")  # the footer: its links keep their fields as addresses
    expect(footer.locator("a")).to_have_count(2)

    # saved untouched, the draft's MJML is the blocks' own writing of the demo (templates_lib/blocks/to_mjml.py
    # lays the hand-written source out again); every text field then touched (a letter typed and taken back)
    # and saved again: the MJML is the same, byte for byte
    save(page)
    untouched = TemplateVersion.objects.get(pk=draft.pk).body
    assert [untouched.count(code) for code in re.findall(r"\{\{ [a-z_.]+ \}\}", original)] == [
        original.count(code) for code in re.findall(r"\{\{ [a-z_.]+ \}\}", original)]
    for text in [GREETING, "[Name]", "Se désinscrire"]:
        field = select_block(page, text)
        field.focus()
        page.keyboard.press("Control+End")
        page.keyboard.type("x")
        expect(page.locator("#ve-status")).to_have_text("Unsaved changes.")  # the field was written back
        page.keyboard.press("Backspace")
        expect(page.locator("#ve-status")).to_have_text("Everything is saved.")  # ... as the very same HTML
    save(page)
    assert TemplateVersion.objects.get(pk=draft.pk).body == untouched

    # Backspace takes the chip away whole; the merge menu puts one back at the caret
    rich = select_block(page, GREETING)
    rich.focus()
    page.keyboard.press("Control+End")
    page.keyboard.press("Backspace")  # the comma
    page.keyboard.press("Backspace")  # the chip, as one
    expect(rich.locator(".ve-chip")).to_have_count(0)
    expect(rich).to_have_text(re.compile(r"^Bonjour\s*$"))
    page.get_by_label("Insert a merge field").select_option(label="First name")
    expect(rich.locator(".ve-chip")).to_have_text("First name")
    expect(rich).not_to_contain_text("{{")
    save(page)
    body = TemplateVersion.objects.get(pk=draft.pk).body
    assert re.search(r"<mj-text>Bonjour(?:\s|&nbsp;)\{\{ recipient\.first_name \}\}</mj-text>", body), body
    assert serious(js_problems) == []


def test_chips_in_french(world, page, js_problems, live_server, settings):
    settings.RELAIS_BASE_URL = live_server.url
    draft, _original = newsletter_draft(world)
    log_in(page, "head_office", then=f"/templates/{draft.template.public_id}/")
    page.context.add_cookies([{"name": "django_language", "value": "fr", "url": live_server.url}])
    open_editor(page, draft, ready="Aperçu à jour.")
    rich = select_block(page, GREETING)
    chip = rich.locator(".ve-chip")
    expect(chip).to_have_text("Prénom")
    expect(chip).to_have_attribute("aria-label", "Champ de fusion\u00a0: Prénom")
    expect(rich).not_to_contain_text("{{")
    offer = select_block(page, "—")  # the offer line: slot chips with the slot's label and part
    expect(offer.locator(".ve-chip-slot")).to_have_count(2)
    expect(offer).not_to_contain_text("{{")
    no_sideways_scroll(page)  # and axe-clean, chips included
    assert serious(js_problems) == []


def test_the_link_dialog_with_the_keyboard_only(world, page, js_problems, live_server, settings):
    settings.RELAIS_BASE_URL = live_server.url
    draft, _original = newsletter_draft(world)
    log_in(page, "head_office", then=f"/templates/versions/{draft.public_id}/visual/")
    open_editor(page, draft)
    page.on("dialog", lambda dialog: pytest.fail(f"a browser dialog opened: {dialog.message}"))
    rich = select_block(page, GREETING)
    rich.focus()
    page.keyboard.press("Control+Home")
    page.keyboard.press("Shift+Control+ArrowRight")  # the word "Bonjour"
    page.keyboard.press("Shift+Tab")  # the format toolbar's last button: Link
    link_button = page.locator("#ve-properties").get_by_role("button", name="Link", exact=True)
    expect(link_button).to_be_focused()
    page.keyboard.press("Enter")

    dialog = page.get_by_role("dialog", name="Link of the selected text")
    expect(dialog).to_be_visible()
    address = dialog.get_by_label("Address", exact=True)
    expect(address).to_be_focused()
    no_sideways_scroll(page)  # and axe-clean, the dialog open
    address.fill("pas une adresse")
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    expect(address).to_have_attribute("aria-invalid", "true")
    expect(dialog.locator(".invalid-feedback")).to_contain_text("Not a full address")
    expect(address).to_be_focused()
    address.fill("https://www.example.org/vins")
    page.keyboard.press("Enter")  # Apply
    expect(dialog).to_be_hidden()
    expect(link_button).to_be_focused()
    expect(rich.locator("a[href='https://www.example.org/vins']")).to_have_text(re.compile(r"^Bonjour"))

    # Escape cancels and changes nothing; Tab reaches the field choice, Remove link and Cancel
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(link_button).to_be_focused()
    expect(rich.locator("a")).to_have_count(1)

    expect(page.locator("#ve-preview-state")).to_have_text("Preview up to date.")
    expect(page.locator("#ve-errors")).to_be_hidden()  # example.org is an allowed domain
    save(page)
    body = TemplateVersion.objects.get(pk=draft.pk).body
    assert re.search(r'<mj-text><a href="https://www\.example\.org/vins">Bonjour\s?</a>', body), body

    # a link field instead of an address, chosen with the keyboard
    rich.focus()
    page.keyboard.press("Control+End")
    page.keyboard.press("Shift+ArrowLeft")  # the comma
    page.keyboard.press("Shift+Tab")
    expect(link_button).to_be_focused()
    page.keyboard.press("Enter")
    expect(address).to_be_focused()
    page.keyboard.press("Tab")
    field_choice = dialog.get_by_label("Or a link field")
    expect(field_choice).to_be_focused()
    field_choice.select_option(label="Branch · Website")
    expect(address).to_be_disabled()
    dialog.get_by_role("button", name="Apply").focus()
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(rich.locator('a[href="{{ branch.website_url }}"]')).to_have_count(1)
    save(page)
    assert 'href="{{ branch.website_url }}"' in TemplateVersion.objects.get(pk=draft.pk).body
    assert serious(js_problems) == []
