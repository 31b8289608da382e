"""Open sessions at phone width (390 px) in a real browser, in English and French: one's own
sessions page and a person's page with their sessions — no sideways scrolling, no serious
accessibility violation, each session's "End" button visible within the viewport; ending the
other device's session from the phone leaves one row."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.utils import translation
from playwright.sync_api import expect

from tests.browser import PHONE, log_in, no_sideways_scroll
from tests.people_helpers import with_memberships

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "secret-password"
LAPTOP = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"


def _t(text: str, lang: str) -> str:
    with translation.override(lang):
        return translation.gettext(text)


def _in(page, lang: str, url: str) -> None:
    origin = "/".join(page.url.split("/")[:3]) + "/"
    page.context.add_cookies([{"name": "django_language", "value": lang, "url": origin}])
    page.goto(url)
    expect(page.locator("html")).to_have_attribute("lang", lang)


def _laptop(live_server, username: str) -> Client:
    client = Client(HTTP_USER_AGENT=LAPTOP)
    assert client.post("/accounts/login/", {"username": username, "password": PASSWORD}).status_code == 302
    return client


def _end_buttons_fit(page, lang: str) -> None:
    no_sideways_scroll(page)
    buttons = page.locator("[data-sessions] tbody button")
    assert buttons.count() >= 1
    for index in range(buttons.count()):
        button = buttons.nth(index)
        expect(button).to_be_visible()
        box = button.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (lang, box)
    expect(page.locator("[data-sessions]")).to_contain_text(_t("%(browser)s on %(system)s", lang)
                                                            % {"browser": "Firefox", "system": "Linux"})


def test_own_sessions_on_a_phone(world, phone, live_server, js_problems):
    _laptop(live_server, "head_office")
    log_in(phone, "head_office", then="/accounts/sessions/")
    for lang in ("en", "fr"):
        _in(phone, lang, "/accounts/sessions/")
        expect(phone.locator("[data-sessions]")).to_contain_text(_t("This session", lang))
        _end_buttons_fit(phone, lang)
    # end the laptop's session from the phone (in French, the language last shown)
    row = phone.locator("[data-sessions] tbody tr", has_text="Firefox")
    row.get_by_role("button").click()
    expect(phone.locator("body")).to_contain_text(re.compile("Firefox sur Linux.*déconnecté"))
    expect(phone.locator("[data-sessions] tbody tr")).to_have_count(1)
    assert not js_problems, js_problems


def test_a_person_s_sessions_on_a_phone(world, phone, live_server, js_problems):
    members = with_memberships(world)
    _laptop(live_server, "branch_manager")
    url = f"/network/people/{members['branch_manager'].public_id}/"
    log_in(phone, "head_office", then=url)
    for lang in ("en", "fr"):
        _in(phone, lang, url)
        expect(phone.locator("main")).to_contain_text(_t("Open sessions", lang))
        _end_buttons_fit(phone, lang)
    phone.locator("[data-sessions] tbody button").first.click()
    expect(phone.locator("[data-sessions] tbody")).to_contain_text(_t("No open session is recorded.", "fr"))
    assert not js_problems, js_problems
