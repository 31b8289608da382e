"""Every form page, posted empty or invalid, answers with the error summary at the top of the form
(config/templates/_form_errors.html, issue 19 defect 8): an alert with ``role="alert"``,
``tabindex="-1"`` (config/static/relais/forms.js focuses it) and an id, a heading that counts the
problems, and one item per problem — those of a field linking to the field's control, which exists in
the page, says ``aria-invalid="true"`` and is described by its message.

Forms are posted as a browser posts them: first read from the page (its hidden and pre-filled
fields), then the fields under test emptied or made invalid. The browser tests
(tests/in_browser/test_browser_forms.py) check the focus and the links in chromium.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import lxml.html
import pytest

from approvals.services import proof_request
from central.campaigns.services import campaign_update
from central.models import Customer
from templates_lib import services as template_services
from tests.planning import joined_campaign, plan

pytestmark = pytest.mark.django_db


@dataclass
class Case:
    actor: str
    url: str  # the page holding the form; {x} filled by the case's setup
    changes: dict[str, str]  # what is typed over the page's values
    fields: list[str]  # the fields that must be in the summary, linked (their names)
    form: str = "//main//form[@method='post']"  # an XPath to the form (the first in the page's main part)
    method: str = "post"
    setup: Callable | None = None  # (world) -> dict of values for the url
    extra: dict[str, str] = field(default_factory=dict)  # posted but not read from the page (a submit button)


def _draft(world):
    template = template_services.template_create(network=world.networks["alpha"], kind="sms", name="Relance",
                                                 created_by=world.users["head_office"])
    return {"id": template.versions.get().public_id}


def _proof(world):
    campaign = joined_campaign(world)
    campaign_update(campaign=campaign, updated_by=world.users["branch_manager"], slot_values={"message": "huîtres"})
    return {"id": proof_request(campaign=campaign, requested_by=world.users["branch_manager"]).public_id}


def _campaign(world):
    return {"id": joined_campaign(world).public_id}


def _operation(world):
    return {"id": plan(world, publish=False).public_id}


def _branch(world):
    return {"id": world.nodes["N1"].public_id}


CASES = {
    "operation, new": Case("head_office", "/calendar/operations/new/?network=alpha",
                           {"name": "", "send_from": "", "send_until": ""}, ["name", "send_from", "send_until"]),
    "operation, edit": Case("head_office", "/calendar/operations/{id}/edit/", {"name": "", "send_until": "someday"},
                            ["name", "send_until"], setup=_operation),
    "template, new": Case("head_office", "/templates/new/", {"name": ""}, ["name"]),
    "template draft, save": Case("head_office", "/templates/versions/{id}/edit/",
                                 {"body": "", "slots-0-name": "Not a name!", "slots-0-label": "x"}, ["body"],
                                 form="//form[@id='draft-form']", setup=_draft, extra={"save": ""}),
    "proof, decision": Case("regional_manager", "/approvals/proofs/{id}/", {"comment": ""}, ["comment"],
                            form="//form[@data-testid='decision-form']", setup=_proof, extra={"verdict": "changes"}),
    "proof, no verdict": Case("regional_manager", "/approvals/proofs/{id}/", {}, ["verdict"],
                              form="//form[@data-testid='decision-form']", setup=_proof),
    "approval policy": Case("head_office", "/approvals/policies/new/?network=alpha", {"name": ""}, ["name"]),
    "customer import": Case("head_office", "/customers/import/", {}, ["file"]),
    "budget allocation": Case("head_office", "/budgets/", {"amount": "", "starts_on": "", "ends_on": ""},
                              ["amount", "starts_on", "ends_on"], form="//form[@action='/budgets/allocate/']"),
    "network rules": Case("head_office", "/calendar/rules/?network=alpha", {"cap_total": "-3"}, ["cap_total"]),
    "printer": Case("head_office", "/print/printer/?network=alpha", {"method": "sftp", "host": ""}, ["host"]),
    "branch details": Case("branch_manager", "/network/branches/{id}/edit/", {"email": "not an address"}, ["email"],
                           setup=_branch),
    "calendar periods": Case("head_office", "/calendar/periods/?network=alpha", {"starts_on": "", "ends_on": ""},
                             ["starts_on", "ends_on"], form="//main//form[@novalidate][@method='post']", extra={"action": "add"}),
    "suppression list": Case("head_office", "/calendar/suppressions/?network=alpha", {"address": ""}, ["address"],
                             form="//main//form[@novalidate][@method='post']", extra={"action": "add"}),
    "ownership transfer": Case("branch_manager", "/network/transfers/", {"customer": ""}, ["customer"],
                               form="//main//form[@novalidate][@method='post']"),
    "image upload": Case("head_office", "/templates/assets/", {"name": ""}, ["file"], form="//main//form[@novalidate][@method='post']"),
    "campaign": Case("branch_manager", "/network/campaigns/{id}/", {"message": "x" * 80, "send_date": "31/02"}, ["message", "send_date"],
                     form="//form[@id='campaign-form']", setup=_campaign),
    "sign-up page (public)": Case("anonymous", "/join/{id}/", {"email": "not an address", "consent_email": "on"},
                                  ["email"], setup=_branch),
    "log in": Case("anonymous", "/accounts/login/", {"username": "", "password": ""}, ["username", "password"]),
    "reports period (GET)": Case("head_office", "/reports/", {"starts_on": "2026-13-45", "ends_on": ""}, ["starts_on", "ends_on"], form="//main//form[@method='get']",
                                 method="get"),
    # issue 22 — networks
    "network settings": Case("head_office", "/network/settings/?network=alpha",
                             {"currency": "XYZ", "invitation_days": "45"}, ["currency", "invitation_days"]),
}


def _form_data(page: lxml.html.HtmlElement, selector: str, changes: dict[str, str]) -> tuple[str, dict]:
    form = page.xpath(selector)[0]
    data: dict[str, object] = {}
    for name, value in form.form_values():
        data.setdefault(name, []).append(value)
    data = {name: values[0] if len(values) == 1 else values for name, values in data.items()}
    data.pop("csrfmiddlewaretoken", None)
    return form.get("action") or "", data | changes


def _summary_checks(body: str, fields: list[str]) -> None:
    page = lxml.html.fromstring(body)
    summaries = page.xpath("//*[@data-form-errors]")
    assert len(summaries) == 1, "one error summary"
    summary = summaries[0]
    assert summary.get("role") == "alert" and summary.get("tabindex") == "-1" and summary.get("id")
    heading = summary.xpath(".//h2")[0].text_content().strip()
    items = summary.xpath(".//li")
    expected = "There is a problem" if len(items) == 1 else f"There are {len(items)} problems"
    assert heading == expected
    links = {link.get("href")[1:]: link.text_content() for link in summary.xpath(".//a[starts-with(@href, '#')]")}
    for name in fields:
        target = next((id_ for id_ in links if id_ in (f"id_{name}", f"id_{name}_0")), None)
        assert target, f"no link to the field {name} in {links}"
        control = page.get_element_by_id(target)
        assert control.get("aria-invalid") == "true", f"{target} is not marked invalid"
        group = control.xpath("ancestor::fieldset[1]") if control.get("type") in ("radio", "checkbox") else []
        described = ((group[0] if group else control).get("aria-describedby") or "").split()
        assert f"id_{name}_error" in described, f"{target} is not described by its error ({described})"
        message = page.get_element_by_id(f"id_{name}_error").text_content().strip()
        assert message and message in links[target], (message, links[target])
    # the summary comes before every field of the form in error
    form = summary.getparent()
    while form.tag != "form":
        form = form.getparent()
    first_field = form.xpath(".//input[not(@type='hidden')] | .//select | .//textarea")
    position = {element: index for index, element in enumerate(page.iter())}
    assert position[summary] < position[first_field[0]], "the summary is at the top of the form"


@pytest.mark.parametrize("name", CASES)
def test_a_form_posted_invalid_answers_with_the_summary_linking_to_each_field(world, name):
    case = CASES[name]
    client = world.client_for(case.actor)
    url = case.url.format(**(case.setup(world) if case.setup else {}))
    page = client.get(url)
    assert page.status_code == 200, url
    assert 'data-form-errors' not in page.content.decode(), "no summary before the form is posted"
    action, data = _form_data(lxml.html.fromstring(page.content.decode()), case.form, case.changes)
    target = action or url
    if case.method == "get":
        response = client.get(target.split("?")[0], data | case.extra)
    else:
        response = client.post(target, data | case.extra)
    assert response.status_code in (200, 400), (response.status_code, response.get("Location"))
    _summary_checks(response.content.decode(), case.fields)


def test_the_summary_lists_errors_about_the_whole_form_without_a_link(world):
    client = world.client_for("anonymous")
    body = client.post("/accounts/login/", {"username": "head_office", "password": "wrong"}).content.decode()
    page = lxml.html.fromstring(body)
    summary = page.xpath("//*[@data-form-errors]")[0]
    assert "correct username and password" in summary.text_content()
    assert summary.xpath(".//a") == []


def test_the_summary_is_in_french_for_a_french_reader(world):
    client = world.client_for("head_office")
    body = client.post("/templates/new/", {"name": ""}, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    summary = lxml.html.fromstring(body).xpath("//*[@data-form-errors]")[0]
    assert re.fullmatch(r"Il y a \d+ problèmes?", summary.xpath(".//h2")[0].text_content().strip())
    assert "\u00a0: " in summary.xpath(".//li")[0].text_content()


def test_a_customer_never_sees_a_summary_for_a_page_not_posted(world):
    assert Customer.objects.exists()
    body = world.client_for("head_office").get("/calendar/operations/new/?network=alpha").content.decode()
    assert "data-form-errors" not in body
