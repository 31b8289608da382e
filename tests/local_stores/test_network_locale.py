"""A network's time zone and currency are applied (issue 22, local_stores/locale.py and
local_stores/middleware.py): its people see times in its zone and amounts in its currency; the
anonymous and the platform's superusers keep the installation's defaults; nothing outlives the
request; a stored zone the time-zone database does not know falls back to settings.TIME_ZONE."""

from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse, StreamingHttpResponse
from django.test import RequestFactory
from django.test.signals import template_rendered
from django.utils import timezone, translation
from django.utils.formats import date_format

from approvals.services import proof_request
from central.budgets.services import budget_allocate
from local_stores.audit import network_event_record
from local_stores.locale import network_locale
from local_stores.middleware import NetworkLocaleMiddleware
from local_stores.models import Network, NetworkEvent
from local_stores.money import currency, money
from tests.factories import UserFactory
from tests.people_helpers import with_memberships
from tests.planning import joined_campaign

pytestmark = pytest.mark.django_db


def _set(network: Network, **values) -> None:
    Network.objects.filter(pk=network.pk).update(**values)  # as stored, past the settings form's checks


def _shown(at, zone: str, language: str) -> str:
    """``at`` as the audit trail's "When" column writes it, in ``zone`` and ``language``."""
    with translation.override(language):
        return date_format(at.astimezone(ZoneInfo(zone)), "SHORT_DATETIME_FORMAT")


def _assert_defaults() -> None:
    assert timezone.get_current_timezone_name() == settings.TIME_ZONE
    assert currency() == settings.RELAIS_CURRENCY


@pytest.fixture
def zoned(world):
    """Alpha in New York, Beta in Paris; one event in each network's audit trail, at one instant."""
    with_memberships(world)
    _set(world.networks["alpha"], time_zone="America/New_York")
    _set(world.networks["beta"], time_zone="Europe/Paris")
    event = network_event_record(network=world.networks["alpha"], action=NetworkEvent.Action.NODE_RENAMED,
                                 actor=world.users["head_office"], node=world.nodes["N1"])
    NetworkEvent.objects.create(network=world.networks["beta"], action=NetworkEvent.Action.NODE_RENAMED,
                                actor=world.users["other_network_head_office"], node=world.nodes["WEST"])
    return event.at


@pytest.mark.parametrize("language", ["en", "fr"])
def test_each_network_sees_the_same_instant_in_its_own_zone(world, zoned, language):
    new_york, paris = _shown(zoned, "America/New_York", language), _shown(zoned, "Europe/Paris", language)
    assert new_york != paris  # five or six hours apart
    alpha = world.client_for("head_office").get("/network/audit/", HTTP_ACCEPT_LANGUAGE=language)
    assert alpha.status_code == 200
    assert new_york in alpha.content.decode() and paris not in alpha.content.decode()
    _assert_defaults()  # nothing outlives the request
    beta = world.client_for("other_network_head_office").get("/network/audit/", HTTP_ACCEPT_LANGUAGE=language)
    assert paris in beta.content.decode() and new_york not in beta.content.decode()
    _assert_defaults()


def test_a_streamed_export_is_written_in_the_networks_zone(world, zoned):
    response = world.client_for("head_office").get("/network/audit/export.csv")
    assert response.status_code == 200
    _assert_defaults()  # the view has returned; the rows are written now, on the same thread
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert zoned.astimezone(ZoneInfo("America/New_York")).strftime("%Y-%m-%d %H:%M:%S") in body
    assert zoned.astimezone(ZoneInfo("Europe/Paris")).strftime("%Y-%m-%d %H:%M:%S") not in body
    _assert_defaults()


def test_today_follows_the_networks_zone_in_its_requests(world):
    """"Today" (timezone.localdate(), what services start from) is the network's: UTC+14 and UTC-11
    are 25 hours apart, so their days always differ."""
    with_memberships(world)
    _set(world.networks["alpha"], time_zone="Pacific/Kiritimati")
    _set(world.networks["beta"], time_zone="Pacific/Pago_Pago")
    seen = {}
    for actor in ("head_office", "other_network_head_office"):
        request = RequestFactory().get("/")
        request.user = world.users[actor]
        seen[actor] = NetworkLocaleMiddleware(lambda request: HttpResponse(timezone.localdate().isoformat()))(
            request).content.decode()
    now = timezone.now()
    assert seen == {"head_office": now.astimezone(ZoneInfo("Pacific/Kiritimati")).date().isoformat(),
                    "other_network_head_office": now.astimezone(ZoneInfo("Pacific/Pago_Pago")).date().isoformat()}
    assert seen["head_office"] != seen["other_network_head_office"]
    # the budget page's default period is the year of the network's today
    page = world.client_for("head_office").get("/budgets/").content.decode()
    assert f'value="{seen["head_office"][:4]}-01-01"' in page
    _assert_defaults()


@pytest.fixture
def budgeted(world):
    """Alpha counts in Swiss francs, Beta keeps euros; 41.00 allocated to N1 for a year."""
    with_memberships(world)
    _set(world.networks["alpha"], currency="CHF")
    today = timezone.localdate()
    budget_allocate(network=world.networks["alpha"], node=world.nodes["N1"], starts_on=today,
                    ends_on=today + timedelta(days=365), amount=Decimal("41.00"), allocated_by=world.users["head_office"])
    return today


@pytest.mark.parametrize(("language", "shown"), [("fr", "41,00\xa0CHF"), ("en", "CHF41.00")])
def test_a_network_in_swiss_francs_sees_its_amounts_in_francs(world, budgeted, language, shown):
    page = world.client_for("head_office").get("/budgets/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    assert f'data-testid="total-allocated">{shown}<' in page
    assert "€" not in page.split('data-testid="total-allocated">')[1].split("</tr>")[0]
    _assert_defaults()


def test_the_next_request_of_another_network_is_not_affected(world, budgeted):
    budget_allocate(network=world.networks["beta"], node=world.nodes["W1"], starts_on=budgeted,
                    ends_on=budgeted + timedelta(days=365), amount=Decimal("7.00"),
                    allocated_by=world.users["other_network_head_office"])
    alpha_page = world.client_for("head_office").get("/budgets/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    beta_page = world.client_for("other_network_head_office").get("/budgets/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-testid="total-allocated">CHF41.00<' in alpha_page
    assert 'data-testid="total-allocated">€7.00<' in beta_page
    _assert_defaults()


def test_a_superuser_keeps_the_defaults(world, budgeted):
    superuser = UserFactory(is_superuser=True, is_staff=True)
    world.networks["alpha"].memberships.create(user=superuser)  # even one with a membership
    client = world.client_for("head_office")
    client.force_login(superuser)
    page = client.get("/budgets/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert 'data-testid="total-allocated">€41.00<' in page.content.decode()


def _seen_by_view(user) -> dict:
    """What the view sees (zone, currency, an amount) for a request of ``user`` through the middleware."""
    seen: dict = {}

    def view(request):
        seen.update(zone=timezone.get_current_timezone_name(), currency=currency(), amount=money("2.50"))
        return HttpResponse("ok")

    request = RequestFactory().get("/")
    request.user = user
    NetworkLocaleMiddleware(view)(request)
    return seen


def test_the_anonymous_and_people_of_no_network_keep_the_defaults(world):
    with_memberships(world)
    _set(world.networks["alpha"], time_zone="Asia/Tokyo", currency="JPY")
    assert _seen_by_view(world.users["head_office"])["zone"] == "Asia/Tokyo"
    for user in (AnonymousUser(), UserFactory()):
        seen = _seen_by_view(user)
        assert (seen["zone"], seen["currency"]) == (settings.TIME_ZONE, "EUR"), user
    _assert_defaults()


def test_the_defaults_come_back_when_the_view_raises(world):
    with_memberships(world)
    _set(world.networks["alpha"], time_zone="Asia/Tokyo", currency="JPY")
    seen = {}

    def broken_view(request):
        seen.update(zone=timezone.get_current_timezone_name(), currency=currency())
        raise RuntimeError("the view failed")

    request = RequestFactory().get("/")
    request.user = world.users["head_office"]
    with pytest.raises(RuntimeError):
        NetworkLocaleMiddleware(broken_view)(request)
    assert seen == {"zone": "Asia/Tokyo", "currency": "JPY"}
    _assert_defaults()


def test_a_streamed_answer_of_another_view_is_written_in_the_zone_and_resets_between_pieces(world):
    with_memberships(world)
    _set(world.networks["alpha"], time_zone="Asia/Tokyo", currency="CHF")

    def pieces():
        yield f"{timezone.get_current_timezone_name()} {currency()};"
        yield f"{money('3')};"

    request = RequestFactory().get("/", HTTP_ACCEPT_LANGUAGE="en")
    request.user = world.users["head_office"]
    response = NetworkLocaleMiddleware(lambda request: StreamingHttpResponse(pieces()))(request)
    streamed = iter(response.streaming_content)
    assert next(streamed) == b"Asia/Tokyo CHF;"
    _assert_defaults()  # between two pieces, the thread is free for someone else
    assert next(streamed) == b"CHF3.00;"
    _assert_defaults()


def test_one_query_per_request_for_the_network(world, django_assert_num_queries):
    with_memberships(world)
    user = world.users["head_office"]

    def view(request):
        return HttpResponse(timezone.get_current_timezone_name())

    request = RequestFactory().get("/")
    request.user = user
    with django_assert_num_queries(1):
        NetworkLocaleMiddleware(view)(request)
    with django_assert_num_queries(0):  # the same user object later in the request: kept
        NetworkLocaleMiddleware(view)(request)


def test_an_unknown_stored_zone_falls_back_to_the_default_without_an_error(world, zoned):
    for bad in ("Mars/Olympus_Mons", "../../etc/passwd", "", "America"):
        _set(world.networks["alpha"], time_zone=bad)
        response = world.client_for("head_office").get("/network/audit/", HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 200, bad
        assert _shown(zoned, settings.TIME_ZONE, "en") in response.content.decode(), bad
    _assert_defaults()


def test_an_ill_formed_stored_currency_falls_back_to_the_default(world, budgeted):
    _set(world.networks["alpha"], currency="c$")
    page = world.client_for("head_office").get("/budgets/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-testid="total-allocated">€41.00<' in page


def test_network_locale_outside_a_request_nests_and_restores(world):
    alpha, beta = world.networks["alpha"], world.networks["beta"]
    alpha.time_zone, alpha.currency = "America/New_York", "USD"
    beta.time_zone, beta.currency = "Asia/Tokyo", "JPY"
    with translation.override("en"), network_locale(alpha):
        assert (timezone.get_current_timezone_name(), money("5")) == ("America/New_York", "$5.00")
        with network_locale(beta):
            assert (timezone.get_current_timezone_name(), currency()) == ("Asia/Tokyo", "JPY")
        with network_locale(None):  # no network: the installation's defaults
            _assert_defaults()
        assert (timezone.get_current_timezone_name(), currency()) == ("America/New_York", "USD")
    _assert_defaults()
    with pytest.raises(ValueError), network_locale(alpha):
        raise ValueError
    _assert_defaults()


def test_an_approvals_notification_is_written_in_the_networks_zone_outside_a_request(world):
    """What a task writes for a network (here the approvals' e-mails, approvals.audit.notify, which
    the hourly deadline task also sends) is rendered in the network's zone and currency."""
    _set(world.networks["alpha"], time_zone="Pacific/Kiritimati", currency="CHF")
    seen = []

    def rendered(sender, template, context, **kwargs):
        if template.name == "approvals/email/notification.txt":
            seen.append((timezone.get_current_timezone_name(), currency()))

    template_rendered.connect(rendered)
    try:
        proof_request(campaign=joined_campaign(world), requested_by=world.users["branch_manager"])
    finally:
        template_rendered.disconnect(rendered)
    assert seen and set(seen) == {("Pacific/Kiritimati", "CHF")}
    _assert_defaults()


def test_an_api_call_with_a_token_is_in_the_networks_zone_too(world, zoned):
    """A token is read by DRF in the view, after the middleware: the zone is switched then, and put
    back at the end of the request like a page's."""
    from django.test import Client
    from rest_framework.authtoken.models import Token

    key = Token.objects.create(user=world.users["head_office"]).key
    answer = Client(HTTP_AUTHORIZATION=f"Token {key}").get("/api/v1/network-events/")
    assert answer.status_code == 200, answer.content
    rows = answer.json()["results"] if isinstance(answer.json(), dict) else answer.json()
    offset = zoned.astimezone(ZoneInfo("America/New_York")).isoformat()[-6:]  # -05:00 or -04:00
    assert rows and all(row["at"].endswith(offset) for row in rows), rows
    _assert_defaults()
