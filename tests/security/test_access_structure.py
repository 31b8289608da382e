"""Who reaches the structure's pages and API (issue 22, part B), with the roles of the ``world``
fixture: head office manages its network; a regional manager reads their region (a change: 403
with the reason; another region: 404); a branch manager, an approver, an analyst and another
network's head office get 404 on every node of alpha, as for a missing one."""

from __future__ import annotations

import pytest

from local_stores.models import Node

pytestmark = pytest.mark.django_db

PAGES = [("get", "/network/structure/{id}/"), ("get", "/network/structure/{id}/edit/"),
         ("get", "/network/structure/{id}/move/"), ("post", "/network/structure/{id}/edit/"),
         ("post", "/network/structure/{id}/move/"), ("post", "/network/structure/{id}/close/"),
         ("post", "/network/structure/{id}/reopen/")]
API = [("get", "/api/v1/nodes/{id}/"), ("patch", "/api/v1/nodes/{id}/"), ("post", "/api/v1/nodes/{id}/close/"),
       ("post", "/api/v1/nodes/{id}/reopen/")]
READS = {"/network/structure/{id}/", "/api/v1/nodes/{id}/"}


def answers(world, actor: str, node_key: str | None) -> dict[tuple[str, str], int]:
    client = world.client_for(actor)
    public_id = world.nodes[node_key].public_id if node_key else "nod_missing000000000"
    result = {}
    for method, route in PAGES + API:
        response = getattr(client, method)(route.format(id=public_id), {"name": "X"} if method != "get" else None,
                                           **({"content_type": "application/json"} if method == "patch" else {}))
        result[(method, route)] = response.status_code
    return result


@pytest.mark.parametrize("actor", ["other_network_head_office", "branch_manager", "sibling_branch_manager",
                                   "other_region_manager", "approver", "analyst", "nobody"])
@pytest.mark.parametrize("node_key", ["alpha:HQ", "NORTH", "N1", "N2", "S1"])
def test_who_does_not_manage_or_read_the_structure_gets_404_on_every_node_route(world, actor, node_key):
    assert set(answers(world, actor, node_key).values()) == {404}


def test_a_missing_node_is_404_for_head_office_too(world):
    assert set(answers(world, "head_office", None).values()) == {404}


def test_the_regional_manager_reads_their_region_and_is_refused_changes_with_a_reason(world):
    in_region = answers(world, "regional_manager", "N1")
    assert {key for key, code in in_region.items() if code == 200} == {(method, route) for method, route in PAGES + API
                                                                       if route in READS and method == "get"}
    assert {code for key, code in in_region.items() if key[1] not in READS or key[0] != "get"} == {403}
    refused = world.client_for("regional_manager").post(f"/api/v1/nodes/{world.nodes['N1'].public_id}/close/")
    assert "Only head office changes the network's structure" in refused.json()["detail"]
    for other in ("S1", "SOUTH", "alpha:HQ", "W1"):
        assert set(answers(world, "regional_manager", other).values()) == {404}, other


def test_head_office_reaches_every_route_of_its_network_only(world):
    for node_key in ("N1", "NORTH"):
        codes = answers(world, "head_office", node_key)
        for (method, route), code in codes.items():
            if node_key == "NORTH" and route.endswith("/move/"):
                assert code == 404  # a region does not move
            else:
                assert code in (200, 302, 400), (node_key, method, route, code)
    assert set(answers(world, "head_office", "W1").values()) == {404}


@pytest.mark.parametrize("actor, tree", [("head_office", 200), ("regional_manager", 200),
                                         ("other_network_head_office", 200), ("branch_manager", 404),
                                         ("approver", 404), ("analyst", 404), ("nobody", 404)])
def test_the_tree_the_list_and_the_import(world, actor, tree):
    client = world.client_for(actor)
    page = client.get("/network/structure/")
    assert page.status_code == tree
    listed = client.get("/api/v1/nodes/").json()["results"]
    alpha = set(Node.objects.filter(network__slug="alpha").values_list("public_id", flat=True))
    sees_alpha = {node["id"] for node in listed} & alpha
    if actor == "head_office":
        assert sees_alpha == alpha
    elif actor == "regional_manager":
        assert {node["code"] for node in listed} == {"NORTH", "N1", "N2"}
    else:
        assert not sees_alpha and "Lille" not in page.content.decode()
    created = client.post("/api/v1/nodes/", {"parent": world.nodes["NORTH"].public_id, "kind": "branch",
                                             "code": "N7", "name": "Douai"}, content_type="application/json")
    assert created.status_code == {"head_office": 201, "regional_manager": 403}.get(actor, 404)
    imported = client.get("/network/structure/import/").status_code
    assert imported == {"head_office": 200, "regional_manager": 403, "other_network_head_office": 200}.get(actor, 404)
