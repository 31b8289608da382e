"""The networks' pages in a real browser at phone width (390 px), in English and French: the
network's settings and audit trail for its head office, the platform's networks for a superuser —
no sideways scrolling, no serious accessibility violation (axe-core), no script error."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from local_stores.audit import network_event_record
from local_stores.models import NetworkEvent
from tests.browser import log_in, no_sideways_scroll
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _in(page, lang: str, url: str) -> None:
    origin = "/".join(page.url.split("/")[:3]) + "/"  # one cookie for the whole site, replaced each time
    page.context.add_cookies([{"name": "django_language", "value": lang, "url": origin}])
    page.goto(url)
    expect(page.locator("html")).to_have_attribute("lang", lang)


def test_head_office_sets_the_network_up_on_a_phone(world, phone, js_problems):
    network_event_record(network=world.networks["alpha"], action=NetworkEvent.Action.NETWORK_SETTINGS_CHANGED,
                         actor=world.users["head_office"], node=world.nodes["alpha:HQ"],
                         details={"fields": {"currency": {"old": "EUR", "new": "CHF"}}})
    log_in(phone, "head_office", then="/network/settings/")
    for lang in ("en", "fr"):
        _in(phone, lang, "/network/settings/")
        no_sideways_scroll(phone)
        _in(phone, lang, "/network/audit/")
        expect(phone.locator("main")).to_contain_text("EUR → CHF")
        no_sideways_scroll(phone)
    _in(phone, "en", "/network/settings/")
    phone.get_by_label("Days an invitation stays valid").fill("45")
    phone.get_by_role("button", name="Save the settings").click()
    expect(phone.locator("[data-form-errors]")).to_be_visible()
    no_sideways_scroll(phone)
    assert js_problems == []


def test_the_platform_lists_and_creates_networks_on_a_phone(world, phone, js_problems):
    UserFactory(username="root", is_superuser=True, is_staff=True, first_name="Pat", last_name="Platform")
    log_in(phone, "root", then="/platform/networks/")
    for lang in ("en", "fr"):
        _in(phone, lang, "/platform/networks/")
        expect(phone.locator("main table")).to_contain_text("Alpha HQ")
        no_sideways_scroll(phone)
        _in(phone, lang, "/platform/networks/new/")
        no_sideways_scroll(phone)
    assert js_problems == []
