"""Who may create and edit customers by hand (issue 22, part F), route by route, for each role of the
``world`` fixture and each customer seen from N1's manager: their own branch's, the sibling branch's,
another region's, another network's, a missing one. Outside the role's scope: 404 (the same answer
as a missing customer); seen but not editable: 403; and a refused write changes nothing."""

from __future__ import annotations

import pytest

from central.models import Customer

pytestmark = pytest.mark.django_db

#: the customer of each object key (a branch of the world), from N1's manager's standpoint
OBJECTS = {"own": "N1", "sibling": "N2", "other_region": "S1", "other_network": "W1", "missing": None}
#: the branches whose customers each role edits (edit_customers) and sees (view_customers)
EDITS = {"branch_manager": {"N1"}, "sibling_branch_manager": {"N2"}, "other_region_manager": {"S1"},
         "regional_manager": set(), "head_office": {"N1", "N2", "S1"}, "other_network_head_office": {"W1"},
         "approver": set(), "analyst": set()}
SEES = EDITS | {"regional_manager": {"N1", "N2"}}
ROLES = tuple(EDITS)


def expected(role: str, branch: str | None, success: int) -> int:
    if branch is None or branch not in SEES[role]:
        return 404
    return success if branch in EDITS[role] else 403


def _snapshot():
    return sorted(Customer.objects.values_list("pk", "city", "updated_at", "updated_by_id"))


@pytest.mark.parametrize("role", ROLES)
def test_the_edit_page_and_the_api_patch(world, role):
    client = world.client_for(role)
    for key, branch in OBJECTS.items():
        public_id = world.customers[branch].public_id if branch else "cus_missing000000000"
        before = _snapshot()
        page = client.get(f"/customers/{public_id}/edit/")
        assert page.status_code == expected(role, branch, 200), (role, key, "GET page")
        posted = client.post(f"/customers/{public_id}/edit/", {"city": "Changée", "email": "x@example.test"})
        assert posted.status_code == expected(role, branch, 302), (role, key, "POST page")
        api = client.patch(f"/api/v1/customers/{public_id}/", {"city": "Changée"}, content_type="application/json")
        assert api.status_code == expected(role, branch, 200), (role, key, "PATCH")
        if expected(role, branch, 200) != 200:
            assert _snapshot() == before, (role, key, "a refused write changed something")
        else:
            assert Customer.objects.get(public_id=public_id).city == "Changée"


@pytest.mark.parametrize("role", ROLES)
def test_creating_in_each_branch(world, role):
    client = world.client_for(role)
    page = client.get("/customers/new/")
    assert page.status_code == (200 if EDITS[role] else 404), role
    for branch in ("N1", "N2", "S1", "W1"):
        node = world.nodes[branch]
        count = Customer.objects.count()
        api = client.post("/api/v1/customers/", {"branch": node.public_id, "email": f"{role}@example.test"},
                          content_type="application/json")
        if branch in EDITS[role]:
            assert api.status_code == 201, (role, branch, api.content)
            Customer.objects.filter(email=f"{role}@example.test").delete()
        else:
            assert api.status_code == 404, (role, branch, api.status_code)
            assert Customer.objects.count() == count
        form = client.post("/customers/new/", {"branch": node.public_id, "email": f"{role}.f@example.test"})
        if branch in EDITS[role]:
            assert form.status_code == 302, (role, branch)
        else:
            assert form.status_code == 404, (role, branch, form.status_code)
            assert not Customer.objects.filter(email=f"{role}.f@example.test", branch=node).exists()
    missing = client.post("/api/v1/customers/", {"branch": "nod_missing000000", "email": "m@example.test"},
                          content_type="application/json")
    assert missing.status_code == 404


def test_anonymous_is_sent_to_log_in(client, world):
    public_id = world.customers["N1"].public_id
    assert client.get("/customers/new/")["Location"].startswith("/accounts/login/")
    assert client.get(f"/customers/{public_id}/edit/")["Location"].startswith("/accounts/login/")
    assert client.post("/api/v1/customers/", {}, content_type="application/json").status_code in (401, 403)
    assert client.patch(f"/api/v1/customers/{public_id}/", {}, content_type="application/json").status_code in (401, 403)
