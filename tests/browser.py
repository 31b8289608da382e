"""What every browser test shares: Debian's chromium driven by Playwright against pytest-django's
live server (``page`` at desktop width, ``phone`` at 390 × 844), the problems the page reports
(``js_problems``), logging in, and the phone-width check (no sideways scrolling, no serious
accessibility violation).

Without /usr/bin/chromium a browser test fails when CI is set, and is skipped (with the reason)
otherwise. The fixtures are registered in tests/conftest.py.
"""

import contextlib
import os
import re
import shutil

import pytest
from django.db import connections

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - playwright is a dev dependency
    sync_playwright = None

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "secret-password"  # tests.factories.UserFactory's


def _no_browser(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: the browser tests cannot run in CI without it", pytrace=False)
    pytest.skip(reason)


def _ignored(url: str) -> bool:
    # Relais has no favicon: chromium asks for /favicon.ico on every site and gets a 404.
    return url.endswith("/favicon.ico")


@pytest.fixture
def js_problems() -> list[str]:
    """What went wrong in the page: uncaught exceptions, console errors, failed or 4xx/5xx requests."""
    return []


@pytest.fixture
def page(live_server, js_problems, monkeypatch):
    if sync_playwright is None:
        _no_browser("the playwright package is not installed")
    if not shutil.which(CHROMIUM):
        _no_browser(f"{CHROMIUM} is missing (Debian package chromium, see scripts/system-packages.sh)")
    # Playwright's sync API keeps an asyncio loop running in this thread: Django refuses ORM calls
    # from such a thread unless told otherwise.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    def on_console(message) -> None:
        if message.type == "error" and not _ignored(message.location.get("url", "")):
            js_problems.append(f"console error: {message.text} ({message.location.get('url')})")

    def on_response(response) -> None:
        if response.status >= 400 and not _ignored(response.url):
            js_problems.append(f"HTTP {response.status}: {response.request.method} {response.url}")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        context = browser.new_context(base_url=live_server.url, locale="en-US")
        page = context.new_page()
        page.on("pageerror", lambda error: js_problems.append(f"page error: {error}"))
        page.on("console", on_console)
        page.on("response", on_response)
        page.on("requestfailed", lambda request: js_problems.append(
            f"request failed: {request.method} {request.url} ({request.failure})"))
        expect.set_options(timeout=10_000)
        try:
            yield page
        finally:
            # While Playwright runs, Django keeps this thread's database connections apart (asgiref
            # sees an event loop): close those the test opened, or PostgreSQL's test database stays
            # in use and cannot be dropped at the end of the run.
            connections.close_all()
            if js_problems:
                print("Problems seen in the browser:", *js_problems, sep="\n  ")  # shown if the test fails
            context.close()
            browser.close()


def log_in(page, username: str, *, then: str) -> None:
    """Open ``then``: Relais asks for a login first, and comes back to it."""
    page.goto(then)
    expect(page).to_have_url(re.compile(rf"/accounts/login/\?next={re.escape(then)}$"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(rf"{re.escape(then)}$"))
    # the URL changes before the page's scripts ran: wait for them (a loaded machine is slow)
    page.wait_for_load_state("load")
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_function("typeof window.htmx === 'object'", timeout=10_000)
    assert page.evaluate("typeof window.htmx") == "object", "htmx did not load"


PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(page):
    page.set_viewport_size(PHONE)
    return page


def no_sideways_scroll(page) -> None:
    """No sideways scrolling, and no serious or critical accessibility violation (axe-core)."""
    from axe_playwright_python.sync_playwright import Axe

    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
        f"{page.url} scrolls sideways at {page.viewport_size['width']} px")
    violations = [f"{violation['id']} at {node['target']}: {violation['help']}"
                  for violation in Axe().run(page).response["violations"]
                  if violation["impact"] in ("serious", "critical") for node in violation["nodes"]]
    assert violations == [], violations


def serious(problems: list[str]) -> list[str]:
    """``js_problems`` without a live preview's request reported aborted: Chromium now and then
    reports a preview request in flight as ``net::ERR_ABORTED`` (seen once in CI, the cause not
    found); the preview that counts is checked by the page's own "up to date" state."""
    return [problem for problem in problems
            if not (problem.startswith("request failed: POST ") and "/preview/" in problem
                    and "net::ERR_ABORTED" in problem)]
