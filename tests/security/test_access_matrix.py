"""Access matrix for branches and customers (acceptance criterion of Relais).

Every page and API endpoint that shows branches or customers, for every role, against every kind
of object: for the branch manager of N1, "N1" is their own branch, "N2" the sibling branch of the
same region, "S1" a branch of another region, "W1" a branch of another network and "missing" an id
that does not exist. The other actors are checked against the same five objects, which covers the
same relations from their own standpoint.

What is proven:
* no foreign row in any list, detail, count or export (the bodies are searched for the names,
  e-mails, external ids, public ids and segments of every customer and branch outside the scope);
* lists and counts equal a hand count of the expected rows;
* a foreign object and a missing one both answer 404, never 403;
* anonymous users are sent to the login page (pages) or refused (API: 401/403, never 200).

The world (two networks, every role, one customer per branch) is built once for the module inside
an outer transaction that is rolled back at the end; each test runs inside its own savepoint (the
usual pytest-django ``db`` fixture), so what a test writes (tokens, ``is_staff``) never leaks into
the next one.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from urllib.parse import quote_plus

import pytest
from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.test import Client
from django.utils.html import escape

from central.models import Customer
from tests.conftest import ACTORS, World, build_world, built_once

pytestmark = pytest.mark.django_db

PASSWORD = "secret-password"  # tests/factories.py
MISSING_CUSTOMER_ID = "cus_doesnotexist0000"
MISSING_NODE_ID = "nod_doesnotexist0000"

BRANCH_CODES = ("N1", "N2", "S1", "W1")
OBJECTS = (*BRANCH_CODES, "missing")
REGION_OF = {"N1": "NORTH", "N2": "NORTH", "S1": "SOUTH", "W1": "WEST"}
NETWORK_OF = {"N1": "alpha", "N2": "alpha", "S1": "alpha", "W1": "beta"}

LOGGED_IN = (*ACTORS, "nobody")
EVERYONE = ("anonymous", *LOGGED_IN)

#: whose customers each actor sees; None: no customer scope at all (customer pages and API: 404)
CUSTOMER_SCOPE: dict[str, frozenset[str] | None] = {
    "anonymous": None,
    "branch_manager": frozenset({"N1"}),
    "sibling_branch_manager": frozenset({"N2"}),
    "other_region_manager": frozenset({"S1"}),
    "regional_manager": frozenset({"N1", "N2"}),
    "head_office": frozenset({"N1", "N2", "S1"}),
    "other_network_head_office": frozenset({"W1"}),
    "approver": None,
    "analyst": None,
    "nobody": None,
}

#: which branches each actor sees
BRANCH_SCOPE: dict[str, frozenset[str]] = {
    "anonymous": frozenset(),
    "branch_manager": frozenset({"N1"}),
    "sibling_branch_manager": frozenset({"N2"}),
    "other_region_manager": frozenset({"S1"}),
    "regional_manager": frozenset({"N1", "N2"}),
    "head_office": frozenset({"N1", "N2", "S1"}),
    "other_network_head_office": frozenset({"W1"}),
    "approver": frozenset({"N1", "N2", "S1"}),
    "analyst": frozenset({"N1", "N2", "S1"}),
    "nobody": frozenset(),
}

#: who has an approval inbox: approve_proofs somewhere, or head office (the policies and the audit)
APPROVERS = frozenset({"approver", "regional_manager", "head_office", "other_network_head_office"})
#: who may import customers (import_customers on a head office), and into which network
IMPORTERS = {"head_office": "alpha", "other_network_head_office": "beta"}


def visible_customers(actor: str) -> frozenset[str]:
    return CUSTOMER_SCOPE[actor] or frozenset()


def has_customer_scope(actor: str) -> bool:
    return CUSTOMER_SCOPE[actor] is not None


# --------------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def module_world(django_db_setup, django_db_blocker) -> Iterator[World]:
    """The conftest world, built once for this module inside a transaction rolled back at the end."""
    with built_once(django_db_blocker, _neutral_world) as world:
        yield world


def _neutral_world() -> World:
    world = build_world()
    # Faker gives people random French names ("Anne", "Denis", "Voisin" …) that would
    # make the "no foreign name in the body" checks flaky: give them neutral ones.
    for username, user in world.users.items():
        user.first_name, user.last_name = "Tester", username.replace("_", "-").title()
        user.save(update_fields=["first_name", "last_name"])
    # A distinct segment per customer, so that segment lists are checked too.
    for code, customer in world.customers.items():
        customer.segment = f"SEGMENT{code}X"
        customer.save(update_fields=["segment"])
    return world


@pytest.fixture
def matrix(module_world: World, db) -> World:
    """The shared world, inside this test's savepoint."""
    return module_world


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def client_for(world: World, actor: str) -> Client:
    return world.client_for(actor)


def customer_id(world: World, obj: str) -> str:
    return MISSING_CUSTOMER_ID if obj == "missing" else world.customers[obj].public_id


def branch_id(world: World, obj: str) -> str:
    return MISSING_NODE_ID if obj == "missing" else world.nodes[obj].public_id


def body_of(response: HttpResponse) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8-sig")
    return response.content.decode("utf-8")


def customer_tokens(world: World, code: str) -> list[tuple[str, re.Pattern[str]]]:
    customer = world.customers[code]
    literal = [
        customer.public_id,
        customer.external_id,
        customer.email,
        customer.segment,
        f"{customer.first_name} {customer.last_name}",
        f"{customer.last_name} {customer.first_name}",
    ]
    if customer.mobile:
        literal.append(customer.mobile)
    patterns = [re.compile(re.escape(token)) for token in literal if token]
    patterns.append(re.compile(rf"\b{re.escape(customer.last_name)}\b"))
    return [(f"customer {code} ({pattern.pattern})", pattern) for pattern in patterns]


def branch_tokens(world: World, code: str) -> list[tuple[str, re.Pattern[str]]]:
    branch = world.nodes[code]
    names = {branch.name, branch.city}
    variants: set[str] = {branch.public_id}
    for name in names:
        variants |= {
            name,
            name.encode("ascii", "xmlcharrefreplace").decode(),  # N&#238;mes
            name.replace("î", "&icirc;"),
            name.encode("ascii", "backslashreplace").decode().replace("\\x", "\\u00"),  # N\u00eemes
        }
    return [(f"branch {code} ({token})", re.compile(re.escape(token))) for token in sorted(variants)]


def without_echo(body: str, params: dict[str, str]) -> str:
    """``body`` without the places where a page merely echoes the caller's own query (the search
    box, the export link, the language form's ``next``): that is no leak."""
    for name, value in params.items():
        body = body.replace(f"{name}={quote_plus(value)}", f"{name}=<echo>")
        body = body.replace(f'name="{name}" value="{escape(value)}"', f'name="{name}" value="<echo>"')
    return body


def assert_no_foreign_rows(
    world: World, actor: str, body: str, *, where: str, echoed: dict[str, str] | None = None
) -> None:
    """No name, e-mail, external id, public id or segment of a customer or branch outside the
    actor's scope appears in ``body`` (outside the echo of the caller's own query)."""
    body = without_echo(body, echoed or {})
    leaks = []
    for code in BRANCH_CODES:
        if code not in visible_customers(actor):
            leaks += [label for label, pattern in customer_tokens(world, code) if pattern.search(body)]
        if code not in BRANCH_SCOPE[actor]:
            leaks += [label for label, pattern in branch_tokens(world, code) if pattern.search(body)]
    assert not leaks, f"{where}: foreign data shown to {actor}: {leaks}"


def expected_status(visible: bool) -> int:
    return 200 if visible else 404


def external_ids(world: World, codes) -> set[str]:
    return {world.customers[code].external_id for code in codes}


#: "3 customers" above the customer table (any language: the number opens the sentence)
COUNT_SENTENCE = re.compile(r"<p class=\"small text-body-secondary\">\s*(\d+)\s[^<]*</p>")


# --------------------------------------------------------------------------------------------
# pages: branches
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("actor", LOGGED_IN)
def test_branch_list_page_shows_exactly_the_visible_branches(matrix, actor):
    # given
    client = client_for(matrix, actor)
    # when
    response = client.get("/network/branches/")
    # then
    assert response.status_code == 200
    body = body_of(response)
    shown = {branch.code for branch, _count in response.context["rows"]}
    assert shown == BRANCH_SCOPE[actor]
    assert response.context["page"].paginator.count == len(BRANCH_SCOPE[actor])
    for code in BRANCH_SCOPE[actor]:
        assert matrix.nodes[code].name in body
    # the customer count of each branch row is a hand count of the actor's customers there
    counts = {branch.code: count for branch, count in response.context["rows"]}
    for code in BRANCH_SCOPE[actor]:
        assert counts[code] == (1 if code in visible_customers(actor) else None), code
    assert_no_foreign_rows(matrix, actor, body, where="GET /network/branches/")


@pytest.mark.parametrize("actor", LOGGED_IN)
@pytest.mark.parametrize("region", ["NORTH", "SOUTH", "WEST"])
def test_branch_list_page_filtered_by_region_shows_nothing_foreign(matrix, actor, region):
    # given
    client = client_for(matrix, actor)
    # when
    response = client.get("/network/branches/", {"region": matrix.nodes[region].public_id})
    # then
    assert response.status_code == 200
    shown = {branch.code for branch, _count in response.context["rows"]}
    assert shown == {code for code in BRANCH_SCOPE[actor] if REGION_OF[code] == region}
    assert_no_foreign_rows(matrix, actor, body_of(response), where=f"GET /network/branches/?region={region}")


@pytest.mark.parametrize("actor", LOGGED_IN)
@pytest.mark.parametrize("obj", OBJECTS)
def test_branch_detail_page(matrix, actor, obj):
    # given
    client = client_for(matrix, actor)
    visible = obj in BRANCH_SCOPE[actor]
    # when
    response = client.get(f"/network/branches/{branch_id(matrix, obj)}/")
    # then
    assert response.status_code == expected_status(visible), f"{actor} on branch {obj}"
    body = body_of(response)
    if visible:
        assert matrix.nodes[obj].name in body
        consent = response.context["consent"]
        if obj in visible_customers(actor):
            assert consent["total"] == 1
        else:
            assert consent is None
    assert_no_foreign_rows(matrix, actor, body, where=f"GET /network/branches/<{obj}>/")


# --------------------------------------------------------------------------------------------
# pages: customers
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("actor", LOGGED_IN)
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_customer_list_page_shows_exactly_the_visible_customers(matrix, actor, htmx):
    # given
    client = client_for(matrix, actor)
    headers = {"HX-Request": "true"} if htmx else {}
    # when
    response = client.get("/customers/", headers=headers)
    # then
    body = body_of(response)
    assert response.status_code == expected_status(has_customer_scope(actor))
    expected = visible_customers(actor)
    if has_customer_scope(actor):
        shown = {customer.external_id for customer in response.context["page"].object_list}
        assert shown == external_ids(matrix, expected)
        sentence = COUNT_SENTENCE.search(body)
        assert sentence, "the customer list shows no count sentence"
        assert int(sentence.group(1)) == len(expected)
        assert response.context["page"].paginator.count == len(expected)
        assert set(response.context["segments"]) == {matrix.customers[code].segment for code in expected}
        assert {branch.code for branch in response.context["branches"]} == BRANCH_SCOPE[actor]
    assert_no_foreign_rows(matrix, actor, body, where="GET /customers/")


def filters_on(world: World, obj: str) -> list[dict[str, str]]:
    """The customer-list queries that target ``obj``: its branch id, and a search for its name."""
    name = "doesnotexist" if obj == "missing" else world.customers[obj].last_name
    return [{"branch": branch_id(world, obj)}, {"q": name}]


@pytest.mark.parametrize("actor", LOGGED_IN)
@pytest.mark.parametrize("obj", OBJECTS)
def test_customer_list_page_filtered_on_any_object_shows_nothing_foreign(matrix, actor, obj):
    # given
    client = client_for(matrix, actor)
    for params in filters_on(matrix, obj):
        # when
        response = client.get("/customers/", params)
        # then
        body = body_of(response)
        assert response.status_code == expected_status(has_customer_scope(actor)), params
        if has_customer_scope(actor):
            expected = visible_customers(actor) & {obj}
            shown = {customer.external_id for customer in response.context["page"].object_list}
            assert shown == external_ids(matrix, expected), params
            sentence = COUNT_SENTENCE.search(body)
            assert sentence and int(sentence.group(1)) == len(expected), params
        assert_no_foreign_rows(matrix, actor, body, where=f"GET /customers/?{params}", echoed=params)


@pytest.mark.parametrize("actor", LOGGED_IN)
@pytest.mark.parametrize("obj", [None, *OBJECTS], ids=["all", *OBJECTS])
def test_customer_export_contains_exactly_the_visible_customers(matrix, actor, obj):
    # given
    client = client_for(matrix, actor)
    params = {} if obj is None else {"branch": branch_id(matrix, obj)}
    # when
    response = client.get("/customers/export.csv", params)
    # then
    assert response.status_code == expected_status(has_customer_scope(actor))
    body = body_of(response)
    if has_customer_scope(actor):
        assert response["Content-Type"].startswith("text/csv")
        expected = visible_customers(actor) if obj is None else visible_customers(actor) & {obj}
        rows = list(csv.DictReader(io.StringIO(body)))
        assert {row["external_id"] for row in rows} == external_ids(matrix, expected)
        assert len(rows) == len(expected)
    assert_no_foreign_rows(matrix, actor, body, where=f"GET /customers/export.csv?branch=<{obj}>")


@pytest.mark.parametrize("actor", LOGGED_IN)
@pytest.mark.parametrize("obj", OBJECTS)
def test_customer_detail_page(matrix, actor, obj):
    # given
    client = client_for(matrix, actor)
    visible = obj in visible_customers(actor)
    # when
    response = client.get(f"/customers/{customer_id(matrix, obj)}/")
    # then
    assert response.status_code == expected_status(visible), f"{actor} on customer {obj}"
    body = body_of(response)
    if visible:
        assert matrix.customers[obj].email in body
    assert_no_foreign_rows(matrix, actor, body, where=f"GET /customers/<{obj}>/")


# --------------------------------------------------------------------------------------------
# pages: home, approvals, import
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("actor", LOGGED_IN)
def test_home_page_counts_only_the_visible_customers(matrix, actor):
    # given
    client = client_for(matrix, actor)
    customers = visible_customers(actor)
    # when
    response = client.get("/")
    # then
    assert response.status_code == 200
    context = response.context
    overview = context.get("overview")
    if overview is not None:
        assert overview["consent"]["total"] == len(customers)
        assert overview["branch_count"] == len(BRANCH_SCOPE[actor])
        region_counts = {region.code: region.customer_count for region in overview["regions"]}
        assert region_counts == {
            REGION_OF[code]: sum(1 for other in customers if REGION_OF[other] == REGION_OF[code])
            for code in BRANCH_SCOPE[actor]
        }
    else:
        assert actor not in {"head_office", "other_network_head_office", "analyst"}
    for item in context.get("regions_managed") or []:
        counts = {branch.code: count for branch, count in item["branches"]}
        assert counts == {
            code: (1 if code in customers else 0)
            for code in BRANCH_SCOPE[actor]
            if REGION_OF[code] == item["region"].code
        }
    for item in context.get("branches_managed") or []:
        code = item["branch"].code
        assert item["consent"]["total"] == (1 if code in customers else 0)
        assert {customer.external_id for customer in item["recent"]} == external_ids(
            matrix, customers & {code}
        )
    assert_no_foreign_rows(matrix, actor, body_of(response), where="GET /")


@pytest.mark.parametrize("actor", LOGGED_IN)
def test_approval_inbox_only_for_approvers_and_head_office(matrix, actor):
    # given
    client = client_for(matrix, actor)
    # when
    response = client.get("/approvals/")
    # then
    assert response.status_code == expected_status(actor in APPROVERS)
    assert_no_foreign_rows(matrix, actor, body_of(response), where="GET /approvals/")


@pytest.mark.parametrize("actor", LOGGED_IN)
def test_customer_import_page_only_for_head_office_marketers(matrix, actor):
    # given
    client = client_for(matrix, actor)
    # when
    response = client.get("/customers/import/")
    # then
    assert response.status_code == expected_status(actor in IMPORTERS)
    if actor in IMPORTERS:
        networks = response.context["form"].fields["network"].queryset
        assert {network.slug for network in networks} == {IMPORTERS[actor]}
    assert_no_foreign_rows(matrix, actor, body_of(response), where="GET /customers/import/")


def _page_urls(world: World) -> list[str]:
    urls = [
        "/",
        "/network/branches/",
        "/customers/",
        "/customers/export.csv",
        "/customers/import/",
        "/approvals/",
    ]
    for obj in OBJECTS:
        urls += [f"/network/branches/{branch_id(world, obj)}/", f"/customers/{customer_id(world, obj)}/"]
    return urls


def test_anonymous_is_sent_to_login_on_every_page(matrix):
    # given
    client = client_for(matrix, "anonymous")
    for url in _page_urls(matrix):
        # when
        response = client.get(url)
        # then
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/"), url
        assert_no_foreign_rows(matrix, "anonymous", body_of(response), where=f"anonymous GET {url}")


# --------------------------------------------------------------------------------------------
# API (session authentication)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("actor", LOGGED_IN)
def test_api_branch_list(matrix, actor):
    # given
    client = client_for(matrix, actor)
    # when
    response = client.get("/api/v1/branches/")
    # then
    assert response.status_code == 200
    data = response.json()
    assert data["count"] == len(BRANCH_SCOPE[actor])
    assert {item["id"] for item in data["results"]} == {
        matrix.nodes[c].public_id for c in BRANCH_SCOPE[actor]
    }
    assert_no_foreign_rows(matrix, actor, body_of(response), where="GET /api/v1/branches/")


@pytest.mark.parametrize("actor", LOGGED_IN)
@pytest.mark.parametrize(
    "param,values",
    [("network", ["alpha", "beta"]), ("region", ["NORTH", "SOUTH", "WEST"]), ("q", list(BRANCH_CODES))],
)
def test_api_branch_list_filtered_on_foreign_values_shows_nothing_foreign(matrix, actor, param, values):
    # given
    client = client_for(matrix, actor)
    for value in values:
        query_value = matrix.nodes[value].public_id if param == "region" else value
        if param == "network":
            expected = {code for code in BRANCH_SCOPE[actor] if NETWORK_OF[code] == value}
        elif param == "region":
            expected = {code for code in BRANCH_SCOPE[actor] if REGION_OF[code] == value}
        else:
            expected = BRANCH_SCOPE[actor] & {value}
        # when
        response = client.get("/api/v1/branches/", {param: query_value})
        # then
        assert response.status_code == 200
        data = response.json()
        assert data["count"] == len(expected), value
        assert {item["code"] for item in data["results"]} == expected, value
        assert_no_foreign_rows(
            matrix, actor, body_of(response), where=f"GET /api/v1/branches/?{param}={value}"
        )


@pytest.mark.parametrize("actor", LOGGED_IN)
@pytest.mark.parametrize("obj", OBJECTS)
def test_api_branch_detail(matrix, actor, obj):
    # given
    client = client_for(matrix, actor)
    visible = obj in BRANCH_SCOPE[actor]
    # when
    response = client.get(f"/api/v1/branches/{branch_id(matrix, obj)}/")
    # then
    assert response.status_code == expected_status(visible), f"{actor} on branch {obj}"
    if visible:
        assert response.json()["id"] == matrix.nodes[obj].public_id
    assert_no_foreign_rows(matrix, actor, body_of(response), where=f"GET /api/v1/branches/<{obj}>/")


@pytest.mark.parametrize("actor", LOGGED_IN)
def test_api_customer_list(matrix, actor):
    # given
    client = client_for(matrix, actor)
    # when
    response = client.get("/api/v1/customers/")
    # then
    assert response.status_code == expected_status(has_customer_scope(actor))
    if has_customer_scope(actor):
        data = response.json()
        expected = visible_customers(actor)
        assert data["count"] == len(expected)
        assert {item["id"] for item in data["results"]} == {matrix.customers[c].public_id for c in expected}
    assert_no_foreign_rows(matrix, actor, body_of(response), where="GET /api/v1/customers/")


@pytest.mark.parametrize("actor", LOGGED_IN)
@pytest.mark.parametrize("obj", OBJECTS)
def test_api_customer_list_filtered_on_any_object_shows_nothing_foreign(matrix, actor, obj):
    # given
    client = client_for(matrix, actor)
    for params in filters_on(matrix, obj):
        # when
        response = client.get("/api/v1/customers/", params)
        # then
        assert response.status_code == expected_status(has_customer_scope(actor)), params
        if has_customer_scope(actor):
            data = response.json()
            expected = visible_customers(actor) & {obj}
            assert data["count"] == len(expected), params
            assert {item["id"] for item in data["results"]} == {
                matrix.customers[c].public_id for c in expected
            }, params
        assert_no_foreign_rows(matrix, actor, body_of(response), where=f"GET /api/v1/customers/?{params}")


@pytest.mark.parametrize("actor", LOGGED_IN)
@pytest.mark.parametrize("obj", OBJECTS)
def test_api_customer_detail(matrix, actor, obj):
    # given
    client = client_for(matrix, actor)
    visible = obj in visible_customers(actor)
    # when
    response = client.get(f"/api/v1/customers/{customer_id(matrix, obj)}/")
    # then
    assert response.status_code == expected_status(visible), f"{actor} on customer {obj}"
    if visible:
        assert response.json()["id"] == matrix.customers[obj].public_id
    assert_no_foreign_rows(matrix, actor, body_of(response), where=f"GET /api/v1/customers/<{obj}>/")


def _api_urls(world: World) -> list[str]:
    urls = ["/api/v1/branches/", "/api/v1/customers/"]
    for obj in OBJECTS:
        urls += [
            f"/api/v1/branches/{branch_id(world, obj)}/",
            f"/api/v1/customers/{customer_id(world, obj)}/",
        ]
        urls += [f"/api/v1/customers/?branch={branch_id(world, obj)}"]
    return urls


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Token 0123456789abcdef0123456789abcdef01234567"}, {"Authorization": "Token"}],
    ids=["no-credentials", "unknown-token", "malformed-token"],
)
def test_anonymous_api_is_refused(matrix, headers):
    # given
    client = Client(headers=headers)
    for url in _api_urls(matrix):
        # when
        response = client.get(url)
        # then
        assert response.status_code in {401, 403}, f"{url}: {response.status_code}"
        assert_no_foreign_rows(matrix, "anonymous", body_of(response), where=f"anonymous GET {url}")


# --------------------------------------------------------------------------------------------
# API (token authentication)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("actor", LOGGED_IN)
def test_api_with_token_authentication_is_scoped_like_the_session(matrix, actor):
    # given: a token obtained with the user's password
    response = Client().post("/api/v1/auth/token/", {"username": actor, "password": PASSWORD})
    assert response.status_code == 200, response.content
    client = Client(headers={"Authorization": f"Token {response.json()['token']}"})
    customers = visible_customers(actor)

    # when / then: lists
    response = client.get("/api/v1/branches/")
    assert response.status_code == 200
    assert {item["code"] for item in response.json()["results"]} == BRANCH_SCOPE[actor]
    assert_no_foreign_rows(matrix, actor, body_of(response), where="token GET /api/v1/branches/")

    response = client.get("/api/v1/customers/")
    assert response.status_code == expected_status(has_customer_scope(actor))
    if has_customer_scope(actor):
        assert response.json()["count"] == len(customers)
        assert {item["external_id"] for item in response.json()["results"]} == external_ids(matrix, customers)
    assert_no_foreign_rows(matrix, actor, body_of(response), where="token GET /api/v1/customers/")

    # when / then: every object, own, sibling, other region, other network, missing
    for obj in OBJECTS:
        response = client.get(f"/api/v1/branches/{branch_id(matrix, obj)}/")
        assert response.status_code == expected_status(obj in BRANCH_SCOPE[actor]), f"branch {obj}"
        assert_no_foreign_rows(matrix, actor, body_of(response), where=f"token GET branch <{obj}>")

        response = client.get(f"/api/v1/customers/{customer_id(matrix, obj)}/")
        assert response.status_code == expected_status(obj in customers), f"customer {obj}"
        assert_no_foreign_rows(matrix, actor, body_of(response), where=f"token GET customer <{obj}>")

        response = client.get("/api/v1/customers/", {"branch": branch_id(matrix, obj)})
        assert response.status_code == expected_status(has_customer_scope(actor))
        if has_customer_scope(actor):
            assert response.json()["count"] == len(customers & {obj})
        assert_no_foreign_rows(matrix, actor, body_of(response), where=f"token GET customers?branch=<{obj}>")


def test_api_token_refused_with_a_wrong_password(matrix):
    # when
    response = Client().post("/api/v1/auth/token/", {"username": "head_office", "password": "wrong"})
    # then
    assert response.status_code == 400
    assert "token" not in response.json()


# --------------------------------------------------------------------------------------------
# Django admin
# --------------------------------------------------------------------------------------------


def _staff_client(world: World, actor: str) -> Client:
    get_user_model().objects.filter(pk=world.users[actor].pk).update(is_staff=True)
    return client_for(world, actor)


def _missing_pk(model) -> int:
    return (model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1000


@pytest.mark.parametrize("actor", LOGGED_IN)
def test_admin_customer_changelist_shows_only_the_visible_customers(matrix, actor):
    # given
    client = _staff_client(matrix, actor)
    # when
    response = client.get("/admin/central/customer/")
    # then
    body = body_of(response)
    if has_customer_scope(actor):
        assert response.status_code == 200
        changelist = response.context["cl"]
        expected = external_ids(matrix, visible_customers(actor))
        assert {customer.external_id for customer in changelist.result_list} == expected
        assert changelist.result_count == len(expected)
        assert changelist.full_result_count == len(expected)
    else:
        assert response.status_code != 200
    assert_no_foreign_rows(matrix, actor, body, where="GET /admin/central/customer/")


@pytest.mark.parametrize("actor", LOGGED_IN)
@pytest.mark.parametrize("obj", BRANCH_CODES)
def test_admin_customer_change_page_of_a_foreign_customer_is_like_a_missing_one(matrix, actor, obj):
    # given
    client = _staff_client(matrix, actor)
    missing = client.get(f"/admin/central/customer/{_missing_pk(Customer)}/change/")
    # when
    response = client.get(f"/admin/central/customer/{matrix.customers[obj].pk}/change/")
    # then
    if obj in visible_customers(actor):
        assert response.status_code == 200
        assert matrix.customers[obj].email in body_of(response)
    else:
        assert response.status_code == missing.status_code == 404, "a foreign customer must answer like a missing one: 404"
    assert_no_foreign_rows(matrix, actor, body_of(response), where=f"GET admin customer <{obj}>")


@pytest.mark.parametrize("actor", LOGGED_IN)
def test_admin_node_changelist_shows_only_the_visible_branches(matrix, actor):
    # given
    client = _staff_client(matrix, actor)
    # when
    response = client.get("/admin/local_stores/node/")
    # then
    body = body_of(response)
    if BRANCH_SCOPE[actor]:
        assert response.status_code == 200
        branches = {node.code for node in response.context["cl"].result_list if node.kind == "branch"}
        assert branches == BRANCH_SCOPE[actor]
    else:
        assert response.status_code != 200
    assert_no_foreign_rows(matrix, actor, body, where="GET /admin/local_stores/node/")


@pytest.mark.parametrize("actor", LOGGED_IN)
@pytest.mark.parametrize("obj", BRANCH_CODES)
def test_admin_node_change_page_of_a_foreign_branch_is_like_a_missing_one(matrix, actor, obj):
    # given
    client = _staff_client(matrix, actor)
    missing = client.get(f"/admin/local_stores/node/{_missing_pk(type(matrix.nodes[obj]))}/change/")
    # when
    response = client.get(f"/admin/local_stores/node/{matrix.nodes[obj].pk}/change/")
    # then
    if obj in BRANCH_SCOPE[actor]:
        assert response.status_code == 200
    else:
        assert response.status_code == missing.status_code == 404, "a foreign branch must answer like a missing one: 404"
    assert_no_foreign_rows(matrix, actor, body_of(response), where=f"GET admin node <{obj}>")
