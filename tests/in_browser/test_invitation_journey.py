"""The invitation journey in a real browser, on the demo network, in English and French, on a
tablet and a phone: the head office (marie.dupont) invites a branch manager from the people page;
the e-mail is read from the SMTP sink the live server sends to; a new window (nobody logged in)
opens the link, sets a password and lands on the home page as the branch's manager. Every screen
is checked like the three journeys' (no sideways scrolling, no serious axe-core violation)."""

import re
import time

import pytest
from playwright.sync_api import expect

from local_stores.models import Node, NodeKind
from tests.in_browser.test_journeys import journey  # noqa: F401 - the journeys' browser and checks
from tests.people_helpers import link_in

pytestmark = pytest.mark.django_db(transaction=True)
NEW_PASSWORD = "a-Long-enough-passphrase-42"


def _message_to(sink, address: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for item in list(sink.handler.received):
            if item.to == address:
                return item
        time.sleep(0.2)
    raise AssertionError(f"no e-mail to {address} within {timeout} s")


def test_head_office_invites_a_branch_manager_who_joins(journey, sink, live_server):  # noqa: F811
    j = journey
    branch = Node.objects.filter(network__slug="comptoir", kind=NodeKind.BRANCH).order_by("code").last()
    email = f"nouveau.{j.lang}.{j.width}@example.test"
    hq = j.person("marie.dupont", then="/network/people/invite/")
    j.screen(hq, "people-invite")
    j.label(hq, "E-mail").fill(email)
    j.label(hq, "First name").fill("Noé")
    j.label(hq, "Last name").fill("Nouveau")
    j.label(hq, "Where").select_option(value=branch.public_id)
    j.label(hq, "Role").select_option(value="branch_manager")
    j.button(hq, "Send the invitation").click()
    expect(hq).to_have_url(re.compile(r"/network/people/$"))
    expect(j.status(hq)).to_contain_text(email)
    expect(hq.locator("[data-invitations]")).to_contain_text(email)
    j.screen(hq, "people-list")

    message = _message_to(sink, email)
    path = link_in(message.text, "/accounts/invitation/")
    context = j.browser.new_context(base_url=j.base_url, locale="fr-FR" if j.lang == "fr" else "en-GB",
                                    viewport={"width": j.width, "height": j.height})
    newcomer = context.new_page()
    newcomer.goto(path)
    expect(newcomer.get_by_role("heading", level=1)).to_contain_text("Comptoir des Saveurs")
    j.screen(newcomer, "invitation-accept")
    j.label(newcomer, "Password").fill(NEW_PASSWORD)
    j.label(newcomer, "Password again").fill(NEW_PASSWORD + "-typo")
    j.button(newcomer, "Set my password and log in").click()
    j.refused(newcomer)
    j.label(newcomer, "Password").fill(NEW_PASSWORD)
    j.label(newcomer, "Password again").fill(NEW_PASSWORD)
    j.button(newcomer, "Set my password and log in").click()
    expect(newcomer).to_have_url(re.compile(r"/$"))
    expect(newcomer.locator("body")).to_contain_text(branch.name)
    j.screen(newcomer, "invited-home")
    hq.goto(f"/network/people/?q={email}")
    hq.get_by_role("link", name="Noé Nouveau").click()
    expect(hq.locator("[data-roles]")).to_contain_text(branch.name)
    expect(hq.locator("[data-events]")).to_contain_text(j.t("invitation accepted"))
    j.screen(hq, "person")
    again = context.new_page()
    again.goto(path)
    expect(again.get_by_role("heading", level=1)).to_have_text(j.t("This invitation link is no longer valid."))
