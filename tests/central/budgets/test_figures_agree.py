"""One definition of each figure, refreshed together (issue 19, defect 9): the campaign editor's
live audience count and its cost card follow the same unsaved values from one refresh; the
simulation's figure is the same audience; money is shown in the reader's language with its
currency; the budget page shows what was just allocated."""

import re
from datetime import date
from decimal import Decimal

import pytest
from django.utils import translation

from central.budgets.costs import Cost, CostPart
from central.models import Budget, Campaign
from central.rules.services import network_rules_update
from local_stores.money import money
from tests.dispatching import add_customers, email_version
from tests.planning import joined_campaign

pytestmark = pytest.mark.django_db

AUDIENCE = re.compile(r'data-testid="audience-count">(\d+)<')
#: the estimate's first line: "<count> messages × <unit> = <total>"
FORMULA = re.compile(r'data-testid="cost-formula">(\d+) messages? × ([^=<]+) = ([^<]+)<')
SIMULATED = re.compile(r"<strong>(\d+)</strong> of the (\d+) customers? of the audience will receive it")


def _card(html: str, element_id: str) -> str:
    """The card ``element_id`` of the page: from its wrapper to the next card of the editor."""
    start = html.index(f' id="{element_id}"')
    following = [found for found in (html.find(' id="campaign-', start + 1), html.find("</section>", start))
                 if found > 0]
    return html[start:min(following, default=len(html))]


@pytest.fixture
def sms_campaign(world):
    """N1's SMS campaign of an operation targeting by segment, 0.07 a segment: 5 "fidele" and 3
    "nouveau" customers accept SMS; Anne (N1) refused SMS: she matches the target, is not in the
    audience."""
    network_rules_update(network=world.networks["alpha"], updated_by=world.users["head_office"],
                         cost_sms_segment=Decimal("0.0700"))
    campaign = joined_campaign(world, reachable=0)
    add_customers(world, 5, prefix="fid", channel="sms", segment="fidele")
    add_customers(world, 3, prefix="nou", channel="sms", segment="nouveau")
    return campaign


def _typed(campaign: Campaign, **fields) -> dict:
    return {"message": "vins de fête", "send_date": campaign.send_date.isoformat(), "target_segment": "", **fields}


def test_an_unsaved_change_of_criteria_changes_the_live_count_and_the_cost_card_together(world, sms_campaign):
    client = world.client_for("branch_manager")
    url = f"/network/campaigns/{sms_campaign.public_id}/"
    page = client.get(url).content.decode()
    assert AUDIENCE.findall(page) == ["8"]
    assert FORMULA.findall(page) == [("8", "€0.07", "€0.56")]
    # an unsaved change of the target: one refresh answers the count and, out of band, the cost card
    live = client.post(url, _typed(sms_campaign, target_segment="fidele"), HTTP_HX_REQUEST="true").content.decode()
    assert AUDIENCE.findall(live) == ["5"]
    cost = _card(live, "campaign-cost")
    assert 'hx-swap-oob="true"' in cost
    assert FORMULA.findall(cost) == [("5", "€0.07", "€0.35")]
    assert 'data-testid="cost-estimate">€0.35<' in cost
    assert Campaign.objects.get(pk=sms_campaign.pk).target_criteria == {}  # nothing was saved


def test_the_cost_card_prices_the_message_the_preview_shows(world, sms_campaign):
    """An SMS typed with an emoji takes two UCS-2 segments: the card prices two, unsaved."""
    client = world.client_for("branch_manager")
    url = f"/network/campaigns/{sms_campaign.public_id}/"
    live = client.post(url, _typed(sms_campaign, message="Huîtres 🎉 et vins de fête ce week-end, venez nombreux !"),
                       HTTP_HX_REQUEST="true").content.decode()
    cost = _card(live, "campaign-cost")
    assert FORMULA.findall(cost) == [("8", "€0.14", "€1.12")]
    assert "per message: 2 SMS segments × €0.07" in cost


def test_the_simulation_counts_the_same_audience_as_the_editor(world, sms_campaign):
    client = world.client_for("branch_manager")
    url = f"/network/campaigns/{sms_campaign.public_id}/"
    assert client.post(f"{url}simulate/").status_code == 302
    page = client.get(url).content.decode()
    panel = _card(page, "campaign-simulation")
    (selected, audience), = SIMULATED.findall(panel)
    assert AUDIENCE.findall(page) == [audience] == ["8"]
    assert int(selected) <= int(audience)
    # Anne matches the target (every segment) but refused SMS: a candidate of the run, not of the
    # audience — told apart, not mixed into the audience's figure
    assert "1 customer matches the target but cannot be reached (no consent for this channel 1)" in panel
    assert "simulation-audience-changed" not in page
    # an unsaved change of the target: the simulation card says its figure is no longer the audience
    live = client.post(url, _typed(sms_campaign, target_segment="fidele"), HTTP_HX_REQUEST="true").content.decode()
    panel = _card(live, "campaign-simulation")
    assert 'hx-swap-oob="true"' in panel
    assert "The audience is 5 now, 8 when simulated" in panel


@pytest.mark.parametrize(("language", "formula", "total"), [
    ("fr", "105 messages × 1,13\xa0€ = 118,65\xa0€", "118,65\xa0€"),
    ("en", "105 messages × €1.13 = €118.65", "€118.65"),
])
def test_the_cost_in_the_readers_language_with_its_currency(world, language, formula, total):
    network_rules_update(network=world.networks["alpha"], updated_by=world.users["head_office"],
                         cost_email=Decimal("1.1300"))
    campaign = joined_campaign(world, version=email_version(world), reachable=0)
    add_customers(world, 104)  # and Anne, of the world: 105
    page = world.client_for("branch_manager").get(f"/network/campaigns/{campaign.public_id}/",
                                                  HTTP_ACCEPT_LANGUAGE=language).content.decode()
    assert f'data-testid="cost-formula">{formula}<' in page
    assert f'data-testid="cost-estimate">{total}<' in page


@pytest.mark.parametrize(("language", "expected"), [
    ("fr", ["2 pages imprimées × 0,08\xa0€ + 1 mise sous pli × 0,15\xa0€ + 1 affranchissement × 1,16\xa0€",
            "1\u202f234,50\xa0€", "0,0125\xa0€", "-3,50\xa0€"]),
    ("en", ["2 printed pages × €0.08 + 1 envelope filled × €0.15 + 1 stamp × €1.16",
            "€1,234.50", "€0.0125", "-€3.50"]),
])
def test_money_and_cost_formulas_in_both_languages(language, expected):
    letter = Cost(messages=10, total=Decimal("15.50"), head_office=Decimal("0"), branch=Decimal("15.50"),
                  unit=Decimal("1.55"), parts=(CostPart("page", 2, Decimal("0.0800")),
                                               CostPart("copy", 1, Decimal("0.1500")),
                                               CostPart("postage", 1, Decimal("1.1600"))))
    with translation.override(language):
        lines = letter.formula()
        assert lines[1].endswith(expected[0]), lines
        assert [money(Decimal("1234.5")), money(Decimal("0.0125"), precise=True), money(Decimal("-3.5"))] == expected[1:]
        assert money(None) == "—"


@pytest.mark.parametrize(("language", "amount"), [("fr", "1\u202f234,50\xa0€"), ("en", "€1,234.50")])
def test_the_budget_page_shows_money_with_its_currency(world, language, amount):
    client = world.client_for("head_office")
    client.post("/budgets/allocate/", {"node": world.nodes["N1"].pk, "starts_on": "2030-01-01",
                                       "ends_on": "2030-12-31", "amount": "1234.50"})
    page = client.get("/budgets/", {"starts_on": "2030-01-01", "ends_on": "2030-12-31"},
                      HTTP_ACCEPT_LANGUAGE=language).content.decode()
    assert f'data-testid="total-allocated">{amount}<' in page
    assert "floatformat" not in page and "1234.50" not in page


def test_allocating_shows_the_period_just_allocated(world):
    """"Budget allocated to 2 branches" never sits above "No budget covers this period": the page
    then shows the period allocated, whatever the year."""
    client = world.client_for("head_office")
    response = client.post("/budgets/allocate/", {"node": world.nodes["NORTH"].pk, "starts_on": "2030-01-01",
                                                  "ends_on": "2030-12-31", "amount": "100.00"},
                           HTTP_ACCEPT_LANGUAGE="en", follow=True)
    page = response.content.decode()
    assert Budget.objects.filter(starts_on=date(2030, 1, 1)).count() == 2
    assert "€100.00 allocated to 2 branches from 01/01/2030 to 12/31/2030." in page
    assert "No budget covers this period" not in page
    table = page[page.index('data-testid="budgets"'):page.index("</tbody>")]
    assert "Lille" in table and "Arras" in table and 'value="2030-01-01"' in page
