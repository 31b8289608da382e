"""The invitation journey in a real browser, on the demo network, in English and French, on a
tablet and a phone: the head office (marie.dupont) invites a branch manager from the people page;
the e-mail is read from the SMTP sink the live server sends to; a new window (nobody logged in)
opens the link, sets a password and — the network requiring a second factor of branch managers —
sets up an authenticator app (the code computed from the secret the page shows, as the app would),
lands on the home page as the branch's manager, logs out and logs in again with password and code.
Our screens are checked like the three journeys' (no sideways scrolling, no serious axe-core
violation); the second factor's pages are allauth's, inside our layout."""

import re
import time

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from playwright.sync_api import expect

from local_stores.models import Network, Node, NodeKind
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


def _code(secret: str, *, after: int | None = None) -> tuple[int, str]:
    """The authenticator app's code now — or, a code having been used in window ``after``, the
    next window's (a used code is refused: wait for the app's next one)."""
    window = int(time.time()) // 30
    while after is not None and window <= after:
        time.sleep(0.5)
        window = int(time.time()) // 30
    return window, format_hotp_value(hotp_value(secret, window))


def _second_factor_set_up(newcomer) -> tuple[int, str]:
    """From any page, sent to the set-up: the password again (asked before any change of the second
    factor), then the app's code. Returns the window of the code used and the secret."""
    expect(newcomer).to_have_url(re.compile(r"/accounts/(reauthenticate|2fa/totp/activate)/"))
    if "/reauthenticate/" in newcomer.url:
        newcomer.locator("input[name=password]").fill(NEW_PASSWORD)
        newcomer.locator("form button[type=submit]").first.click()
    expect(newcomer).to_have_url(re.compile(r"/accounts/2fa/totp/activate/"))
    secret = newcomer.locator("#authenticator_secret").input_value()
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret), secret
    window, code = _code(secret)
    newcomer.locator("input[name=code]").fill(code)
    newcomer.locator("form button[type=submit]").first.click()
    expect(newcomer).not_to_have_url(re.compile(r"/accounts/2fa/totp/activate/"))
    return window, secret


def test_head_office_invites_a_branch_manager_who_joins(journey, sink, live_server):  # noqa: F811
    j = journey
    Network.objects.filter(slug="comptoir").update(mfa_required_roles=["branch_manager"])
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
    window, secret = _second_factor_set_up(newcomer)
    newcomer.goto("/")
    expect(newcomer).to_have_url(re.compile(r"/$"))
    expect(newcomer.locator("body")).to_contain_text(branch.name)
    j.screen(newcomer, "invited-home")
    # logged out, back with password and the app's next code
    newcomer.context.clear_cookies()
    newcomer.goto("/")
    expect(newcomer).to_have_url(re.compile(r"/accounts/login/"))
    j.label(newcomer, "Username").fill(email)
    j.label(newcomer, "Password").fill(NEW_PASSWORD)
    j.button(newcomer, "Log in").click()
    expect(newcomer).to_have_url(re.compile(r"/accounts/2fa/authenticate/"))
    _window, code = _code(secret, after=window)
    newcomer.locator("input[name=code]").fill(code)
    newcomer.locator("form button[type=submit]").first.click()
    expect(newcomer).to_have_url(re.compile(r"/$"))
    expect(newcomer.locator("body")).to_contain_text(branch.name)
    hq.goto(f"/network/people/?q={email}")
    hq.get_by_role("link", name="Noé Nouveau").click()
    expect(hq.locator("[data-roles]")).to_contain_text(branch.name)
    expect(hq.locator("[data-events]")).to_contain_text(j.t("invitation accepted"))
    j.screen(hq, "person")
    again = context.new_page()
    again.goto(path)
    expect(again.get_by_role("heading", level=1)).to_have_text(j.t("This invitation link is no longer valid."))
