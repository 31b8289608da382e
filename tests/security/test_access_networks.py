"""Who reaches the networks' pages and API (issue 22, part A), for each role of the ``world``
fixture: a network's settings only for its head office (``manage_network`` on the head office),
its audit trail for its head office (the whole network) and its regional managers (their
subtree), the platform's pages for superusers only. Another network's settings answer exactly as
a missing network: 404. The route guard (tests/security/test_route_guard.py) checks anonymous
visitors and role-less users on every route."""

from __future__ import annotations

import pytest
from django.test import Client

from local_stores.audit import network_event_record
from local_stores.models import Network, NetworkEvent

pytestmark = pytest.mark.django_db

ACTORS = ["head_office", "other_network_head_office", "regional_manager", "branch_manager",
          "sibling_branch_manager", "other_region_manager", "approver", "analyst", "nobody"]

#: what each actor gets: settings page and API of alpha, audit page, its export, the platform's list
EXPECTED = {
    "head_office": (200, 200, 200, 200, 404),
    "other_network_head_office": (404, 404, 200, 200, 404),
    "regional_manager": (404, 404, 200, 200, 404),
}
NOTHING = (404, 404, 404, 404, 404)


@pytest.fixture
def marked(world):
    """One event on each branch with the branch's marker in its details."""
    for key in ("N1", "N2", "S1", "W1"):
        node = world.nodes[key]
        network_event_record(network=node.network, action=NetworkEvent.Action.NODE_RENAMED, node=node,
                             actor=world.users["head_office"] if node.network.slug == "alpha" else None,
                             details={"fields": {"name": {"old": f"marker-{key}", "new": node.name}}})
    return world


@pytest.mark.parametrize("actor", ACTORS)
def test_each_role_reaches_what_it_may(marked, actor):
    client = marked.client_for(actor)
    statuses = (
        client.get("/network/settings/?network=alpha").status_code,
        client.get("/api/v1/network/?network=alpha").status_code,
        client.get("/network/audit/").status_code,
        client.get("/network/audit/export.csv").status_code,
        client.get("/platform/networks/").status_code,
    )
    assert statuses == EXPECTED.get(actor, NOTHING)


@pytest.mark.parametrize("actor, visible", [
    ("head_office", {"N1", "N2", "S1"}),
    ("regional_manager", {"N1", "N2"}),
    ("other_network_head_office", {"W1"}),
])
def test_the_audit_trail_shows_the_scope_and_nothing_else(marked, actor, visible):
    client = marked.client_for(actor)
    page = client.get("/network/audit/").content.decode()
    export = b"".join(client.get("/network/audit/export.csv").streaming_content).decode("utf-8-sig")
    api = client.get("/api/v1/network-events/?page_size=500").content.decode()
    for body in (page, export, api):
        shown = {key for key in ("N1", "N2", "S1", "W1") if f"marker-{key}" in body}
        assert shown == visible


@pytest.mark.parametrize("actor", ACTORS)
def test_no_one_but_alphas_head_office_changes_alpha(marked, actor):
    client = marked.client_for(actor)
    client.post("/network/settings/?network=alpha", {"network": "alpha", "name": "Seized", "languages": ["fr"],
                                                     "default_language": "fr", "time_zone": "UTC",
                                                     "currency": "EUR", "invitation_days": "7"})
    client.patch("/api/v1/network/?network=alpha", {"name": "Seized too"}, content_type="application/json")
    alpha = Network.objects.get(slug="alpha")
    assert (alpha.name in ("Alpha",)) is (actor != "head_office")


def test_a_missing_network_answers_as_a_foreign_one(world):
    client = world.client_for("head_office")
    assert client.get("/network/settings/?network=no-such").status_code == 404
    assert client.get("/api/v1/network/?network=beta").status_code == 404
    assert client.get("/network/settings/?network=beta").status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(world):
    client = Client()
    for url in ("/network/settings/", "/network/audit/", "/network/audit/export.csv", "/platform/networks/",
                "/platform/networks/new/"):
        assert client.get(url)["Location"].startswith("/accounts/login/"), url
    assert client.get("/api/v1/network/").status_code in (401, 403)
    assert client.get("/api/v1/network-events/").status_code in (401, 403)
