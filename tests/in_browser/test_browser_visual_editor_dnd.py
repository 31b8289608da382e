"""The visual e-mail editor's drag and drop in a real browser (issue 20: "drag and drop to order"):
head office drags one block of the demo newsletter onto another with the mouse (native HTML5 drag
and drop, through Playwright's mouse), the outline shows the new order, Save writes it into the
draft's MJML, and Undo brings the former order back in the outline. The keyboard's way of moving a
block is in tests/in_browser/test_browser_visual_editor.py.
"""

import re

import pytest

from fixtures.demo_templates import load_demo_templates
from templates_lib import services
from templates_lib.models import TemplateVersion
from tests.browser import log_in, serious

pytestmark = pytest.mark.django_db(transaction=True)

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - playwright is a dev dependency; the page fixture says so
    expect = None

BUTTON, GREETING = "Découvrir la sélection", "Bonjour"


def outline_order(page) -> list[str]:
    """The blocks of the newsletter's second section, as the outline lists them."""
    rows = page.locator("#ve-outline .ve-section").nth(1).locator(".ve-block > .ve-row .ve-select")
    return [" ".join(text.split()) for text in rows.all_inner_texts()]


def position(order: list[str], text: str) -> int:
    return next(index for index, row in enumerate(order) if text in row)


def test_head_office_reorders_two_blocks_by_drag_and_drop_saves_and_undoes(world, page, js_problems, live_server,
                                                                           settings):
    settings.RELAIS_BASE_URL = live_server.url
    published = load_demo_templates(network=world.networks["alpha"], author=world.users["head_office"])["newsletter"]
    draft = services.version_new_draft(template=published.template, created_by=world.users["head_office"])
    body = TemplateVersion.objects.get(pk=draft.pk).body
    assert body.index(GREETING) < body.index(BUTTON)
    url = f"/templates/versions/{draft.public_id}/visual/"
    log_in(page, "head_office", then=url)
    expect(page.locator("#ve-preview-state")).to_have_text("Preview up to date.")

    before = outline_order(page)
    assert position(before, GREETING) < position(before, BUTTON), before
    blocks = page.locator("#ve-outline .ve-block")
    dragged = blocks.filter(has_text=BUTTON)
    onto = blocks.filter(has_text=GREETING)
    expect(dragged).to_have_count(1)
    expect(onto).to_have_count(1)
    dragged.locator(".ve-excerpt").drag_to(onto.locator(".ve-excerpt"))  # mouse down, move, up: HTML5 drag and drop

    # dropped on a block, the dragged one goes just before it
    expected = [row for row in before if BUTTON not in row]
    expected.insert(position(expected, GREETING), before[position(before, BUTTON)])
    expect(page.locator("#ve-announce")).to_contain_text("Moved")
    assert outline_order(page) == expected
    expect(page.locator("#ve-status")).to_have_text("Unsaved changes.")

    page.get_by_role("button", name="Save the draft", exact=True).click()
    expect(page.locator("#ve-status")).to_have_text("Draft saved and checked.")
    saved = TemplateVersion.objects.get(pk=draft.pk)
    assert saved.body.index(BUTTON) < saved.body.index(GREETING) < saved.body.index("{{ slot.intro }}")
    assert saved.body.index("{{ slot.headline }}") < saved.body.index(BUTTON)  # the others where they were
    assert re.search(rf"<mj-button[^>]*>{BUTTON}</mj-button>\s*<mj-text>{GREETING}", saved.body)

    page.get_by_role("button", name="Undo", exact=True).click()
    expect(page.locator("#ve-status")).to_have_text("Unsaved changes.")
    assert outline_order(page) == before
    assert TemplateVersion.objects.get(pk=draft.pk).body == saved.body  # Undo changes the page, not the saved draft
    assert serious(js_problems) == []
