"""A network running itself, on a phone (390 × 844), in a real browser (Playwright driving Debian's
chromium against pytest-django's live server), in English and in French (issue 22):

* head office goes through the network's settings, its audit trail (filtered), its structure
  (creates a branch through the form, closes it, is refused the closing of a branch that still has
  customers), its people (list, a person's page, an invitation sent with a bad address then fixed),
  its single sign-on and its sending identity (a bad address then fixed) — a secret typed in is
  never sent back in the page;
* a branch manager types in a walk-in customer with the consent's source "counter, signed form",
  is refused a bad e-mail address first (nothing created), then finds the customer in their list
  and their name in its consent history.

On every page: no sideways scrolling, every form control of the page labelled and within the
viewport's width, no serious or critical axe-core violation (``no_sideways_scroll``), no script
error; a refused form shows its errors at the top and beside the field; lists show each row's state.
"""

import re

import pytest
from django.utils import timezone, translation
from playwright.sync_api import expect

from central.models import Customer, SendingIdentity
from local_stores.audit import network_event_record
from local_stores.models import NetworkEvent
from local_stores.people import person_deactivate
from tests.browser import PHONE, log_in, no_sideways_scroll
from tests.people_helpers import with_memberships

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "s3cr3t-Never-Shown-4242"  # typed in the SMTP password and the SSO client secret


def _t(text: str, lang: str, **values) -> str:
    with translation.override(lang):
        translated = translation.gettext(text)
    return translated % values if values else translated


def _in(page, lang: str, url: str) -> None:
    """``url`` in ``lang`` (the language's cookie set for the whole site), its scripts run."""
    origin = "/".join(page.url.split("/")[:3]) + "/"
    page.context.add_cookies([{"name": "django_language", "value": lang, "url": origin}])
    page.goto(url)
    _loaded(page, lang)


def _loaded(page, lang: str) -> None:
    page.wait_for_load_state("load")
    expect(page.locator("html")).to_have_attribute("lang", lang)


def _overflowing(page) -> list[str]:
    """The elements sticking out of the viewport on the right (for the failure message)."""
    return page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
        .slice(0, 8).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))""")


#: The form controls of the page's content that have no name a screen reader reads, lie outside the
#: viewport's width, or cannot be reached with the keyboard.
_CONTROL_PROBLEMS = """() => [...document.querySelectorAll('main input, main select, main textarea, main button')]
    .filter(e => e.type !== 'hidden' && e.getClientRects().length > 0)
    .map(e => {
        const box = e.getBoundingClientRect(), problems = [];
        const labelled = e.tagName === 'BUTTON' ? (e.textContent.trim() || e.getAttribute('aria-label'))
            : ([...(e.labels || [])].some(label => label.textContent.trim())
               || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby'));
        if (!labelled) problems.push('no label');
        if (box.left < -0.5 || box.right > window.innerWidth + 0.5)
            problems.push(`outside the viewport (${Math.round(box.left)}..${Math.round(box.right)} px)`);
        if (e.tabIndex < 0) problems.push('out of the keyboard order');
        return problems.length ? `${e.tagName.toLowerCase()}[name=${e.name || e.id}]: ${problems.join(', ')}` : null;
    }).filter(Boolean)"""


def _fits(page, what: str) -> None:
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth + 1"), (
        f"{what} scrolls sideways at {PHONE['width']} px: {_overflowing(page)}")
    assert page.evaluate(_CONTROL_PROBLEMS) == [], what
    no_sideways_scroll(page)  # and axe-core


def _field(main, label: str, lang: str):
    """The control labelled ``label`` (a required field's label ends with a star)."""
    return main.get_by_label(re.compile(rf"^{re.escape(_t(label, lang))}\s*\*?$"))


def _submit(page, name: str, lang: str) -> None:
    page.locator("main").get_by_role("button", name=_t(name, lang), exact=True).click()
    _loaded(page, lang)


def _refused(page, field: str) -> None:
    """The form came back refused: the summary at the top, the message beside the field, the
    field's value kept."""
    summary = page.locator("[data-form-errors]").first
    beside = page.locator(f"#id_{field}_error")
    expect(summary).to_be_focused()  # the page's scripts ran: typing on is safe
    expect(beside).to_be_visible()
    expect(summary.locator(f"a[href='#id_{field}']")).to_have_count(1)
    assert summary.bounding_box()["y"] < page.locator(f"#id_{field}").bounding_box()["y"], "summary not at the top"
    beside_box, field_box = beside.bounding_box(), page.locator(f"#id_{field}").bounding_box()
    assert 0 <= beside_box["y"] - (field_box["y"] + field_box["height"]) < 40, "the message is not beside the field"


def _keyboard_reaches(page, start, button_name: str, lang: str) -> None:
    """From ``start``, the Tab key goes through the form's controls to its button (a phone with a
    keyboard, or a screen reader's user, gets there without a pointer)."""
    button = page.locator("main").get_by_role("button", name=_t(button_name, lang), exact=True)
    start.focus()
    for _press in range(40):
        if button.evaluate("element => element === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"the Tab key does not reach the button {button_name!r}")


def _unexpected(problems: list[str], refused: str) -> list[str]:
    """``problems`` but the HTTP 400 a refused form at ``refused`` answers with (by design)."""
    return [problem for problem in problems if not (refused in problem and "400" in problem)]


def _no_secret(page) -> None:
    assert SECRET not in page.content()


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_head_office_runs_the_network_on_a_phone(world, phone, js_problems, lang):
    head_office = world.users["head_office"]
    network_event_record(network=world.networks["alpha"], action=NetworkEvent.Action.NETWORK_SETTINGS_CHANGED,
                         actor=head_office, node=world.nodes["alpha:HQ"],
                         details={"fields": {"currency": {"old": "EUR", "new": "CHF"}}})
    person_deactivate(actor=head_office, membership=with_memberships(world)["analyst"])
    log_in(phone, "head_office", then="/network/settings/")
    main = phone.locator("main")

    _in(phone, lang, "/network/settings/")
    expect(main.get_by_role("button", name=_t("Save the settings", lang))).to_be_visible()
    _fits(phone, "settings")

    # the audit trail, filtered on one action
    _in(phone, lang, "/network/audit/")
    main.locator("select[name=action]").select_option(NetworkEvent.Action.NETWORK_SETTINGS_CHANGED)
    _submit(phone, "Filter", lang)
    expect(phone).to_have_url(re.compile(rf"action={NetworkEvent.Action.NETWORK_SETTINGS_CHANGED}"))
    expect(main.locator("table tbody tr")).to_have_count(1)
    expect(main.locator("table")).to_contain_text("EUR → CHF")
    _fits(phone, "audit trail")

    # the structure: a branch created through the form, then closed; Arras, with a customer, refused
    _in(phone, lang, "/network/structure/")
    _fits(phone, "structure")
    main.get_by_role("link", name=_t("New branch", lang), exact=True).click()
    _loaded(phone, lang)
    _fits(phone, "new branch")
    main.locator("select[name=parent]").select_option(label="North")
    main.locator("input[name=code]").fill("N9")
    main.locator("input[name=name]").fill("Douai")
    main.locator("input[name=city]").fill("Douai")
    _submit(phone, "Create", lang)
    expect(main.get_by_role("heading", level=1)).to_have_text("Douai")
    expect(phone.get_by_test_id("node-state")).to_have_text(_t("Open", lang))
    _submit(phone, "Close", lang)
    expect(phone.get_by_test_id("node-state")).to_have_text(_t("Closed", lang))
    _in(phone, lang, "/network/structure/?q=Douai")
    expect(phone.get_by_test_id("structure-tree").locator("tbody tr", has_text="Douai")).to_contain_text(
        _t("Closed", lang))
    _fits(phone, "structure, a closed branch")
    _in(phone, lang, f"/network/structure/{world.nodes['N2'].public_id}/")
    _submit(phone, "Close", lang)
    expect(main.get_by_role("status").filter(has_text=_t("%(name)s cannot be closed yet.", lang, name="Arras"))
           ).to_be_visible()
    expect(phone.get_by_test_id("node-state")).to_have_text(_t("Open", lang))
    _fits(phone, "a branch that cannot be closed")

    # people: their states, a person's page, an invitation refused then sent
    _in(phone, lang, "/network/people/")
    people = main.locator("[data-people]")
    expect(people.locator("tr", has_text="Tester Analyst")).to_contain_text(_t("deactivated", lang))
    expect(people.locator("tr", has_text="Tester Branch-Manager")).to_contain_text(_t("active", lang))
    _fits(phone, "people")
    people.get_by_role("link", name="Tester Branch-Manager").click()
    _loaded(phone, lang)
    expect(main.locator("[data-roles]")).to_contain_text("Lille")
    _fits(phone, "a person's page")
    _in(phone, lang, "/network/people/invite/")
    _fits(phone, "invitation")
    _field(main, "E-mail", lang).fill("pas-une-adresse")
    _field(main, "First name", lang).fill("Noé")
    _field(main, "Last name", lang).fill("Nouveau")
    _field(main, "Where", lang).select_option(value=world.nodes["N1"].public_id)
    _field(main, "Role", lang).select_option(value="branch_manager")
    _keyboard_reaches(phone, _field(main, "E-mail", lang), "Send the invitation", lang)
    _submit(phone, "Send the invitation", lang)
    _refused(phone, "email")
    expect(_field(main, "First name", lang)).to_have_value("Noé")
    _fits(phone, "invitation refused")
    email = f"noe.{lang}@example.test"
    _field(main, "E-mail", lang).fill(email)
    _submit(phone, "Send the invitation", lang)
    expect(phone).to_have_url(re.compile(r"/network/people/$"))
    invitation = main.locator("[data-invitations] tbody tr", has_text=email)
    expect(invitation).to_contain_text(_t("invited, until %(date)s", lang, date="").strip(" ,"))
    _fits(phone, "people with an invitation")

    # single sign-on: a secret typed with a bad issuer is not sent back
    _in(phone, lang, "/network/sso/")
    _fits(phone, "single sign-on")
    main.locator("input[name=issuer_url]").fill("pas une adresse")
    main.locator("input[name=client_id]").fill("relais")
    main.locator("input[name=client_secret]").fill(SECRET)
    _submit(phone, "Save single sign-on", lang)
    _refused(phone, "issuer_url")
    _no_secret(phone)
    _fits(phone, "single sign-on refused")

    # the sending identity: a bad Reply-To address, then fixed; the secret never shown back
    _in(phone, lang, "/network/identity/")
    _fits(phone, "sending identity")
    main.locator("input[name=from_local_part]").fill("bonjour")
    main.locator("input[name=from_domain]").fill("mail.alpha.example")
    main.locator(f"input[name=reply_to][value={SendingIdentity.ReplyTo.FIXED}]").check()
    main.locator(f"input[name=email_method][value={SendingIdentity.EmailMethod.SMTP}]").check()
    main.locator("input[name=smtp_host]").fill("smtp.alpha.example")
    main.locator("input[name=smtp_username]").fill("relais")
    main.locator("input[name=reply_to_address]").fill("pas-une-adresse")
    main.locator("input[name=email_secret]").fill(SECRET)
    _submit(phone, "Save the sending identity", lang)
    _refused(phone, "reply_to_address")
    _no_secret(phone)
    assert not SendingIdentity.objects.filter(network=world.networks["alpha"]).exists()
    _fits(phone, "sending identity refused")
    main.locator("input[name=reply_to_address]").fill("service@alpha.example")
    main.locator("input[name=email_secret]").fill(SECRET)  # not kept by the refused page: typed again
    _submit(phone, "Save the sending identity", lang)
    expect(phone.locator("[data-form-errors]")).to_have_count(0)
    expect(phone.get_by_role("status").filter(
        has_text=_t("The sending identity was saved: the next sends use it.", lang))).to_be_visible()
    _no_secret(phone)
    identity = SendingIdentity.objects.get(network=world.networks["alpha"])
    assert identity.reply_to_address == "service@alpha.example" and identity.email_secret_encrypted
    _fits(phone, "sending identity saved")
    assert _unexpected(js_problems, "/network/people/invite/") == []


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_a_branch_manager_types_in_a_walk_in_customer_on_a_phone(world, phone, js_problems, lang):
    manager = world.users["branch_manager"]
    last_name = f"Passant-{lang}"
    source = _t("counter, signed form", lang)
    log_in(phone, "branch_manager", then="/customers/")
    main = phone.locator("main")
    _in(phone, lang, "/customers/")
    _fits(phone, "customers")
    main.get_by_role("link", name=_t("New customer", lang), exact=True).click()
    _loaded(phone, lang)
    _fits(phone, "new customer")
    main.get_by_label(_t("First name", lang), exact=True).fill("Paul")
    main.get_by_label(_t("Last name", lang), exact=True).fill(last_name)
    main.get_by_label(_t("E-mail", lang), exact=True).fill("pas-une-adresse")
    channel = {"channel": _t("E-mail", lang)}
    main.get_by_label(_t("Consent: %(channel)s", lang) % channel, exact=True).select_option("granted")
    main.get_by_label(_t("Given or refused on (%(channel)s)", lang) % channel, exact=True).fill(
        timezone.localdate().isoformat())
    main.get_by_label(_t("Source (%(channel)s)", lang) % channel, exact=True).fill(source)
    _keyboard_reaches(phone, main.locator("input[name=external_id]"), "Create the customer", lang)
    _submit(phone, "Create the customer", lang)
    _refused(phone, "email")
    expect(main.get_by_label(_t("Source (%(channel)s)", lang) % channel, exact=True)).to_have_value(source)
    assert not Customer.objects.filter(last_name=last_name).exists()
    _fits(phone, "new customer refused")

    main.get_by_label(_t("E-mail", lang), exact=True).fill(f"paul.{lang}@example.test")
    _submit(phone, "Create the customer", lang)
    expect(phone).to_have_url(re.compile(r"/customers/[^/]+/$"))
    customer = Customer.objects.get(last_name=last_name)
    assert customer.branch == world.nodes["N1"] and customer.consent_email == "granted"

    _in(phone, lang, "/customers/")
    main.get_by_role("link", name=re.compile(last_name)).first.click()
    _loaded(phone, lang)
    history = main.locator("table", has=phone.locator("th", has_text=_t("Recorded by", lang)))
    expect(history).to_contain_text(manager.get_full_name())
    expect(history).to_contain_text(source)
    _fits(phone, "the customer's page")
    assert js_problems == []
