"""The brand kit page in a real browser (Playwright, Debian's chromium): head office creates its
kit at desktop width (the live preview follows the colour picked), and reads it in French on a
phone (390 px: no sideways scrolling, no serious accessibility violation)."""

import pytest

from fixtures.demo_brand_kit import load_demo_brand_kit
from fixtures.demo_templates import load_demo_templates
from templates_lib.brand_kit import BrandKit
from tests.browser import log_in, no_sideways_scroll

pytestmark = pytest.mark.django_db(transaction=True)

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - playwright is a dev dependency; the page fixture says so
    expect = None


def test_head_office_creates_its_kit_with_a_live_preview(world, page, js_problems, media):
    load_demo_templates(network=world.networks["alpha"], author=world.users["head_office"])
    log_in(page, "head_office", then="/templates/brand-kit/")
    expect(page.get_by_text("No brand kit yet: new templates start from the plain starter.")).to_be_visible()
    page.get_by_label("Button colour", exact=True).fill("#224466")
    expect(page.locator("[data-kit-button]")).to_have_css("background-color", "rgb(34, 68, 102)")
    page.get_by_label("Logo Comptoir des Saveurs").check()
    footer = page.get_by_label("Footer with the legal mentions")
    footer.fill("<p>Merci</p>")
    page.get_by_role("button", name="Save the brand kit").click()
    expect(page.locator(".alert-danger").first).to_contain_text(
        "The footer must contain the unsubscribe link {{ system.unsubscribe_url }}.")
    footer.fill('<p>Comptoir des Saveurs SAS, 12 rue des Halles, Lyon, RCS 812 345 678</p>\n'
                '<p><a href="{{ system.unsubscribe_url }}">Se désinscrire</a><script>x</script></p>')
    expect(page.locator("[data-kit-footer]")).to_contain_text("RCS 812 345 678")
    expect(page.locator("[data-kit-footer] script")).to_have_count(0)
    page.get_by_role("button", name="Save the brand kit").click()
    expect(page.get_by_role("status")).to_contain_text("Brand kit saved.")
    kit = BrandKit.objects.get(network=world.networks["alpha"])
    assert kit.button_background == "#224466" and kit.logo.name == "Logo Comptoir des Saveurs"
    assert "<script" not in kit.footer_html and "\r" not in kit.footer_html
    assert js_problems == []


def test_the_kit_in_french_on_a_phone(world, phone, js_problems, live_server, media):
    network = world.networks["alpha"]
    load_demo_templates(network=network, author=world.users["head_office"])
    load_demo_brand_kit(network=network, author=world.users["head_office"])
    log_in(phone, "head_office", then="/templates/brand-kit/")
    phone.context.add_cookies([{"name": "django_language", "value": "fr", "url": live_server.url}])
    phone.goto("/templates/brand-kit/")
    expect(phone.get_by_role("heading", level=1)).to_have_text("Charte graphique — Alpha")
    expect(phone.get_by_label("Couleur principale")).to_have_value("#6b1d2a")
    no_sideways_scroll(phone)
    phone.goto("/templates/")
    expect(phone.get_by_role("link", name="Charte graphique")).to_be_visible()
    no_sideways_scroll(phone)
    assert js_problems == []
