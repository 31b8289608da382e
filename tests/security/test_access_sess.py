"""Who may end one session (issue 22, sessions one by one): a person's session from their page —
the head office of another network, a branch manager, a regional manager outside the region, an
analyst and a missing person or session all get 404, anonymous the login; a regional manager over
a person who also holds a head-office role gets 403. One's own session: anybody else's is 404."""

from __future__ import annotations

import pytest
from allauth.usersessions.models import UserSession
from django.test import Client

from local_stores.models import Role
from local_stores.people import role_grant_checked
from tests.people_helpers import with_memberships

pytestmark = pytest.mark.django_db

PASSWORD = "secret-password"
PERSON_ROUTE = "/network/people/{per}/sessions/end/"
OWN_ROUTE = "/accounts/sessions/end/"

EXPECTED = {"other_network_head_office": 404, "sibling_branch_manager": 404, "other_region_manager": 404,
            "approver": 404, "analyst": 404, "head_office": 302, "regional_manager": 302}


def _session_of(username: str) -> tuple[Client, UserSession]:
    client = Client(HTTP_USER_AGENT="Probe/1.0")
    assert client.post("/accounts/login/", {"username": username, "password": PASSWORD}).status_code == 302
    return client, UserSession.objects.filter(user__username=username).latest("pk")


@pytest.mark.parametrize("actor", sorted(EXPECTED))
def test_ending_a_person_s_session(world, actor):
    members = with_memberships(world)
    device, session = _session_of("branch_manager")
    url = PERSON_ROUTE.format(per=members["branch_manager"].public_id)
    answer = world.client_for(actor).post(url, {"session": session.pk})
    assert answer.status_code == EXPECTED[actor], (actor, answer.status_code)
    ended = answer.status_code == 302
    assert UserSession.objects.filter(pk=session.pk).exists() is not ended
    assert (device.get("/").status_code == 302) is ended


def test_anonymous_missing_and_beyond_the_region(world):
    members = with_memberships(world)
    _device, session = _session_of("branch_manager")
    url = PERSON_ROUTE.format(per=members["branch_manager"].public_id)
    anonymous = Client().post(url, {"session": session.pk})
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    head_office = world.client_for("head_office")
    assert head_office.post(PERSON_ROUTE.format(per="missing"), {"session": session.pk}).status_code == 404
    assert head_office.post(url, {"session": 10**9}).status_code == 404
    assert head_office.get(url).status_code == 405
    # a person who also holds a role outside the regional manager's region: ask the head office
    role_grant_checked(actor=world.users["head_office"], user=world.users["branch_manager"],
                       node=world.nodes["S1"], role=Role.APPROVER)
    assert world.client_for("regional_manager").post(url, {"session": session.pk}).status_code == 302
    assert UserSession.objects.filter(pk=session.pk).exists()  # refused with a message, not ended
    # oneself from the people page: refused (one's own page is the place)
    _own_device, own = _session_of("head_office")
    me = members["head_office"].public_id
    assert head_office.post(PERSON_ROUTE.format(per=me), {"session": own.pk}).status_code == 302
    assert UserSession.objects.filter(pk=own.pk).exists()


def test_one_s_own_session_only(world):
    _device, theirs = _session_of("branch_manager")
    for actor in ("head_office", "other_network_head_office", "analyst"):
        assert world.client_for(actor).post(OWN_ROUTE, {"session": theirs.pk}).status_code == 404, actor
    anonymous = Client().post(OWN_ROUTE, {"session": theirs.pk})
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    assert UserSession.objects.filter(pk=theirs.pk).exists()
