"""The people API: the same scope and refusals as the pages."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from local_stores.models import Invitation, Membership, Role
from tests.people_helpers import with_memberships

pytestmark = pytest.mark.django_db


def _api(world, actor: str) -> APIClient:
    client = APIClient()
    client.force_authenticate(world.users[actor])
    return client


def test_list_detail_grant_revoke_deactivate(world):
    members = with_memberships(world)
    api = _api(world, "head_office")
    people = api.get("/api/v1/people/").json()
    rows = people["results"] if isinstance(people, dict) else people
    assert {row["id"] for row in rows} == {m.public_id for k, m in members.items() if k != "other_network_head_office"}
    person = members["sibling_branch_manager"]
    detail = api.get(f"/api/v1/people/{person.public_id}/").json()
    assert detail["roles"][0]["node_name"] == "Arras"
    granted = api.post(f"/api/v1/people/{person.public_id}/roles/",
                       {"node": world.nodes["S1"].public_id, "role": Role.APPROVER}, format="json")
    assert granted.status_code == 200 and len(granted.json()["roles"]) == 2
    revoked = api.delete(f"/api/v1/people/{person.public_id}/roles/?node={world.nodes['S1'].public_id}&role=approver")
    assert revoked.status_code == 200 and len(revoked.json()["roles"]) == 1
    bad = api.post(f"/api/v1/people/{person.public_id}/roles/", {"node": world.nodes["S1"].public_id,
                                                                  "role": "king"}, format="json")
    assert bad.status_code == 400 and "role" in bad.json()
    assert api.post(f"/api/v1/people/{person.public_id}/deactivate/").json()["status"] == "deactivated"
    assert api.post(f"/api/v1/people/{person.public_id}/reactivate/").json()["status"] == "active"


def test_regional_manager_limits(world):
    members = with_memberships(world)
    api = _api(world, "regional_manager")
    person = members["branch_manager"]
    outside = api.post(f"/api/v1/people/{person.public_id}/roles/",
                       {"node": world.nodes["S1"].public_id, "role": Role.BRANCH_MANAGER}, format="json")
    assert outside.status_code == 404
    head_role = api.post(f"/api/v1/people/{person.public_id}/roles/",
                         {"node": world.nodes["N2"].public_id, "role": Role.APPROVER}, format="json")
    assert head_role.status_code == 403 and "head office" in head_role.json()["detail"]
    region = api.post(f"/api/v1/people/{person.public_id}/roles/",
                      {"node": world.nodes["NORTH"].public_id, "role": Role.REGIONAL_MANAGER}, format="json")
    assert region.status_code == 403


def test_invitations(world, sink, django_capture_on_commit_callbacks):
    with_memberships(world)
    api = _api(world, "head_office")
    payload = {"email": "api.person@example.test", "node": world.nodes["N2"].public_id, "role": "branch_manager"}
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post("/api/v1/invitations/", payload, format="json")
    assert created.status_code == 201 and created.json()["state"] == "pending"
    assert "token" not in json.dumps(created.json())
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post("/api/v1/invitations/", payload, format="json").status_code == 200
    assert sink.handler.count("api.person@example.test") == 1
    listed = api.get("/api/v1/invitations/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [row["email"] for row in rows] == ["api.person@example.test"]
    inv_id = created.json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        resent = api.post(f"/api/v1/invitations/{inv_id}/resend/")
    assert resent.status_code == 200 and sink.handler.count("api.person@example.test") == 2
    fresh = resent.json()["id"]
    assert api.post(f"/api/v1/invitations/{fresh}/revoke/").json()["state"] == "revoked"
    assert api.post(f"/api/v1/invitations/{fresh}/revoke/").status_code == 409
    assert not Invitation.objects.filter(used_at__isnull=True, revoked_at__isnull=True).exists()
    invalid = api.post("/api/v1/invitations/", {**payload, "email": "not-an-address"}, format="json")
    assert invalid.status_code == 400 and "email" in invalid.json()
    assert Membership.objects.filter(user__email="api.person@example.test").count() == 0
