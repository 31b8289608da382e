"""Who may reach the people routes: the head office of another network, a branch manager, a
regional manager outside their region and a missing id all get 404 (the same answer); a regional
manager inside their region gets the person, a head-office role refused with 403."""

from __future__ import annotations

import pytest
from django.test import Client

from local_stores.models import Invitation, Role
from local_stores.people import invitation_create
from tests.people_helpers import with_memberships

pytestmark = pytest.mark.django_db

PERSON_ROUTES = [
    ("get", "/network/people/{per}/"), ("post", "/network/people/{per}/roles/grant/"),
    ("post", "/network/people/{per}/roles/revoke/"), ("post", "/network/people/{per}/deactivate/"),
    ("post", "/network/people/{per}/reactivate/"), ("post", "/network/people/{per}/end-sessions/"),
    ("post", "/network/invitations/{inv}/revoke/"), ("post", "/network/invitations/{inv}/resend/"),
    ("get", "/api/v1/people/{per}/"), ("post", "/api/v1/people/{per}/roles/"),
    ("delete", "/api/v1/people/{per}/roles/"), ("post", "/api/v1/people/{per}/deactivate/"),
    ("post", "/api/v1/people/{per}/reactivate/"), ("post", "/api/v1/invitations/{inv}/revoke/"),
    ("post", "/api/v1/invitations/{inv}/resend/"),
]

#: who → the answer on N1's manager and on an invitation to N1
EXPECTED = {
    "other_network_head_office": 404, "branch_manager_of_N2": 404, "other_region_manager": 404,
    "approver": 404, "analyst": 404,
}


@pytest.fixture
def targets(world):
    members = with_memberships(world)
    invitation, _token = invitation_create(node=world.nodes["N1"], email="x@example.test",
                                           role=Role.BRANCH_MANAGER, invited_by=world.users["head_office"])
    return {"per": members["branch_manager"].public_id, "inv": invitation.public_id}


def _client(world, actor: str) -> Client:
    return world.client_for({"branch_manager_of_N2": "sibling_branch_manager"}.get(actor, actor))


@pytest.mark.parametrize("actor", sorted(EXPECTED))
@pytest.mark.parametrize("method, route", PERSON_ROUTES, ids=[f"{m} {r}" for m, r in PERSON_ROUTES])
def test_outside_scope_is_404(world, targets, actor, method, route):
    data = {"node": world.nodes["N1"].public_id, "role": Role.BRANCH_MANAGER}
    client = _client(world, actor)
    kwargs = {"data": data}
    if route.startswith("/api/") and method == "delete":
        kwargs = {"data": f"node={data['node']}&role=branch_manager",
                  "content_type": "application/x-www-form-urlencoded"}
    answer = getattr(client, method)(route.format(**targets), **kwargs)
    assert answer.status_code == EXPECTED[actor], (actor, method, route, answer.status_code)
    assert Invitation.objects.get(public_id=targets["inv"]).revoked_at is None


@pytest.mark.parametrize("method, route", PERSON_ROUTES, ids=[f"{m} {r}" for m, r in PERSON_ROUTES])
def test_missing_is_404_for_the_head_office(world, targets, method, route):
    answer = getattr(world.client_for("head_office"), method)(route.format(per="per_missing000000", inv="inv_missing00000"))
    assert answer.status_code == 404


@pytest.mark.parametrize("actor, status", [("head_office", 200), ("regional_manager", 200),
                                           ("other_network_head_office", 200), ("branch_manager", 404),
                                           ("approver", 404), ("anonymous", 302)])
def test_people_list_and_invite_pages(world, actor, status):
    with_memberships(world)
    client = world.client_for(actor)
    for url in ("/network/people/", "/network/people/invite/"):
        assert client.get(url).status_code == status, (actor, url)


def test_other_network_head_office_lists_none_of_alpha(world):
    members = with_memberships(world)
    html = world.client_for("other_network_head_office").get("/network/people/").content.decode()
    assert members["branch_manager"].public_id not in html and "Lille" not in html
    api = Client()
    api.force_login(world.users["other_network_head_office"])
    rows = api.get("/api/v1/people/").json()
    rows = rows["results"] if isinstance(rows, dict) else rows
    assert [row["id"] for row in rows] == [members["other_network_head_office"].public_id]
    assert api.get("/api/v1/invitations/").json() in ([], {"count": 0, "next": None, "previous": None, "results": []})


def test_regional_manager_inside_region_and_head_office_role(world, targets):
    regional = world.client_for("regional_manager")
    assert regional.get(f"/network/people/{targets['per']}/").status_code == 200
    refused = regional.post(f"/api/v1/people/{targets['per']}/roles/",
                            {"node": world.nodes["N1"].public_id, "role": Role.APPROVER},
                            content_type="application/json")
    assert refused.status_code == 403
