"""Date fields round-trip in the format the browser's date control takes (issue 19, defect 13):
``<input type="date">`` shows and posts ISO dates (yyyy-mm-dd) only; a value written in the
language's format ("07/11/2026" in French) makes the field look empty and post nothing. Every date
field of every form renders ISO, in French and in English, on a plain load and after a failed
submission; what it posts back is accepted."""

import ast
import inspect
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django import forms
from django.utils import timezone, translation

from central.campaigns.services import campaign_update
from local_stores.widgets import DateInput
from reporting.forms import DashboardFilterForm
from tests.planning import joined_campaign, plan

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
APPS = ("local_stores", "templates_lib", "central", "approvals", "reporting", "config")
LANGUAGES = ("fr", "en")


def _values(html: str, name: str) -> list[str]:
    """The ``value`` of each ``<input type="date" name=…>`` of the page (a hidden copy aside)."""
    found = []
    for tag in re.findall(r"<input[^>]*>", html):
        if f'name="{name}"' in tag and 'type="hidden"' not in tag:
            assert 'type="date"' in tag, tag
            value = re.search(r'value="([^"]*)"', tag)
            found.append(value.group(1) if value else "")
    return found


def test_no_form_builds_its_own_date_widget():
    """One widget for every date field: Django's plain DateInput would write the language's format."""
    offenders = []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts or path.name == "widgets.py":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if (isinstance(node, ast.Attribute) and node.attr in ("DateInput", "DateTimeInput")
                        and isinstance(node.value, ast.Name) and node.value.id in ("forms", "widgets")):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_every_declared_date_field_uses_the_shared_widget():
    import approvals.forms
    import central.budgets.forms
    import central.calendar.forms
    import central.campaigns.forms
    import central.customers.forms
    import central.delivery.printing.forms
    import central.prospects.forms
    import central.rules.forms
    import local_stores.forms
    import reporting.forms
    import templates_lib.forms

    checked = 0
    for module in (approvals.forms, central.campaigns.forms, central.budgets.forms, central.calendar.forms,
                   central.customers.forms, central.prospects.forms, central.rules.forms, central.delivery.printing.forms,
                   local_stores.forms, reporting.forms, templates_lib.forms):
        for _name, form in inspect.getmembers(module, inspect.isclass):
            if not issubclass(form, forms.BaseForm) or not hasattr(form, "base_fields"):
                continue
            for field_name, field in form.base_fields.items():
                if isinstance(field, forms.DateField):
                    assert isinstance(field.widget, DateInput), f"{form.__name__}.{field_name}"
                    checked += 1
    assert checked >= 8  # the budgets', periods', operations', the send date's, the reports'


@pytest.mark.parametrize("language", LANGUAGES)
def test_iso_and_the_languages_own_format_are_both_accepted(language):
    with translation.override(language):
        for day in ("2026-11-07", "07/11/2026" if language == "fr" else "11/07/2026"):
            form = DashboardFilterForm({"starts_on": day, "ends_on": day, "by": "campaign"})
            assert form.is_valid(), (day, form.errors)
            assert form.cleaned_data["starts_on"].isoformat() == "2026-11-07"
        rendered = str(DashboardFilterForm(DashboardFilterForm.initial_for("campaign"))["starts_on"])
        assert re.search(r'type="date"[^>]*value="\d{4}-\d\d-\d\d"', rendered), rendered


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_reports_period_shows_and_posts_back(world, language):
    client = world.client_for("head_office")
    page = client.get("/reports/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    today = timezone.localdate()
    starts, ends = _values(page, "starts_on"), _values(page, "ends_on")
    assert (starts, ends) == ([(today - timedelta(days=29)).isoformat()], [today.isoformat()])
    # *Show*, as the browser sends the form: the period as the fields hold it
    shown = client.get("/reports/", {"starts_on": starts[0], "ends_on": ends[0], "channel": "", "by": "operation"},
                       HTTP_ACCEPT_LANGUAGE=language)
    body = shown.content.decode()
    assert shown.status_code == 200
    assert "This field is required" not in body and "Ce champ est obligatoire" not in body
    assert (_values(body, "starts_on"), _values(body, "ends_on")) == (starts, ends)
    # a refused period comes back as it was typed, in the control's format
    refused = client.get("/reports/", {"starts_on": "2026-11-07", "ends_on": "2026-11-01", "by": "operation"},
                         HTTP_ACCEPT_LANGUAGE=language)
    assert refused.status_code == 400
    assert (_values(refused.content.decode(), "starts_on"), _values(refused.content.decode(), "ends_on")) == (
        ["2026-11-07"], ["2026-11-01"])


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_budget_forms_dates(world, language):
    client = world.client_for("head_office")
    page = client.get("/budgets/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    year = timezone.localdate().year
    assert _values(page, "starts_on") == [f"{year}-01-01", ""] and _values(page, "ends_on") == [f"{year}-12-31", ""]
    failed = client.post("/budgets/allocate/", {"node": world.nodes["N1"].pk, "starts_on": "2030-02-01",
                                                "ends_on": "2030-01-01", "amount": "10"}, HTTP_ACCEPT_LANGUAGE=language)
    assert failed.status_code == 400
    html = failed.content.decode()
    assert "2030-02-01" in _values(html, "starts_on") and "2030-01-01" in _values(html, "ends_on")


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_calendar_forms_dates(world, language):
    client = world.client_for("head_office")
    operation = plan(world, publish=False)
    page = client.get(f"/calendar/operations/{operation.public_id}/edit/", HTTP_ACCEPT_LANGUAGE=language)
    html = page.content.decode()
    assert page.status_code == 200
    assert _values(html, "send_from") == [operation.send_from.isoformat()]
    assert _values(html, "send_until") == [operation.send_until.isoformat()]
    assert _values(html, "subscription_deadline") == [operation.subscription_deadline.isoformat()]
    # a period refused (its end before its start) keeps its dates
    failed = client.post("/calendar/periods/?network=alpha", {
        "action": "add", "kind": "blackout", "name": "Inventaire", "starts_on": "2030-03-10", "ends_on": "2030-03-01"},
        HTTP_ACCEPT_LANGUAGE=language).content.decode()
    assert _values(failed, "starts_on") == ["2030-03-10"] and _values(failed, "ends_on") == ["2030-03-01"]
    # the simulation window (arbitration page), by default and as asked
    arbitration = client.get("/calendar/arbitration/", {"from": "2030-04-01", "to": "2030-04-14"},
                             HTTP_ACCEPT_LANGUAGE=language).content.decode()
    assert _values(arbitration, "from") == ["2030-04-01"] and _values(arbitration, "to") == ["2030-04-14"]
    tomorrow = timezone.localdate() + timedelta(days=1)
    default = client.get("/calendar/arbitration/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    assert _values(default, "from") == [tomorrow.isoformat()]


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_campaign_editors_send_date(world, language):
    campaign = joined_campaign(world)
    client = world.client_for("branch_manager")
    url = f"/network/campaigns/{campaign.public_id}/"
    html = client.get(url, HTTP_ACCEPT_LANGUAGE=language).content.decode()
    assert _values(html, "send_date") == [campaign.send_date.isoformat()]
    # refused (a required slot emptied): the page comes back with the date as typed, nothing saved
    typed = campaign.send_date + timedelta(days=1)
    failed = client.post(url, {"message": "", "send_date": typed.isoformat()}, HTTP_ACCEPT_LANGUAGE=language)
    assert failed.status_code == 200 and _values(failed.content.decode(), "send_date") == [typed.isoformat()]
    campaign.refresh_from_db()
    assert campaign.send_date != typed


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_date_slot_shows_its_value(world, language):
    """A template's date slot (e.g. the offer's last day) in the campaign editor."""
    from templates_lib import services as template_services

    template = template_services.template_create(network=world.networks["alpha"], kind="sms", name="Offre datée",
                                                 created_by=world.users["head_office"])
    draft = template.versions.get()
    template_services.draft_update(version=draft, edited_by=world.users["head_office"],
                                   body="{{ branch.name }} : jusqu'au {{ slot.until }}. {{ system.stop_mention }}",
                                   slots=[{"name": "until", "type": "date", "label": "Jusqu'au", "required": True,
                                           "default": "2030-12-24"}])
    version = template_services.version_publish(version=draft, published_by=world.users["head_office"])
    campaign = joined_campaign(world, version=version)
    campaign_update(campaign=campaign, updated_by=world.users["branch_manager"], slot_values={"until": "2030-12-20"})
    html = world.client_for("branch_manager").get(f"/network/campaigns/{campaign.public_id}/",
                                                  HTTP_ACCEPT_LANGUAGE=language).content.decode()
    assert _values(html, "until") == ["2030-12-20"]
