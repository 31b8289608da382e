"""The public invitation page is rate-limited per address for unknown, used or revoked links (GET
and POST alike): beyond the limit it answers 429 with a friendly page in the visitor's language,
before any look-up; a valid link keeps working within the limit and from other addresses. And the
people list fetches every listed person's roles in one query (its query count does not grow with
the number of people)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from central.people import public_views
from local_stores.models import Membership, Role
from local_stores.people import invitation_create
from local_stores.services import role_grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def tight_limit(monkeypatch):
    monkeypatch.setitem(public_views._RATE, "invitation_invalid", "3/m/ip")


def _link(world) -> str:
    _invitation, token = invitation_create(node=world.nodes["N1"], email="new@example.test",
                                           role=Role.BRANCH_MANAGER, invited_by=world.users["head_office"])
    return f"/accounts/invitation/{token}/"


def test_guessing_links_is_refused_after_a_few_and_a_valid_link_still_works(world, tight_limit):
    valid = _link(world)
    guesser = Client(REMOTE_ADDR="203.0.113.7")
    assert guesser.get("/accounts/invitation/guess-1/").status_code == 404
    assert guesser.post("/accounts/invitation/guess-2/", {"password1": "x"}).status_code == 404
    assert guesser.get(valid).status_code == 200  # a valid link counts nothing
    assert guesser.get("/accounts/invitation/guess-3/").status_code == 404
    refused = guesser.get("/accounts/invitation/guess-4/")
    assert refused.status_code == 429
    assert "Too many invitation links were tried from your connection." in refused.content.decode()
    assert guesser.post("/accounts/invitation/guess-5/", {"password1": "x"}).status_code == 429
    assert guesser.get(valid).status_code == 429  # beyond the limit, before any look-up
    french = Client(REMOTE_ADDR="203.0.113.7", HTTP_ACCEPT_LANGUAGE="fr")
    french.cookies["django_language"] = "fr"
    page = french.get("/accounts/invitation/guess-6/")
    assert page.status_code == 429 and 'lang="fr"' in page.content.decode()
    assert "Too many invitation links" not in page.content.decode()
    # another address is not held back
    other = Client(REMOTE_ADDR="198.51.100.9")
    assert other.get(valid).status_code == 200
    assert other.get("/accounts/invitation/guess-7/").status_code == 404


def test_the_default_limit_is_generous_for_a_person_with_an_old_link(world):
    visitor = Client(REMOTE_ADDR="203.0.113.8")
    for _attempt in range(5):
        assert visitor.get("/accounts/invitation/old-link/").status_code == 404
    assert visitor.get(_link(world)).status_code == 200


def _people(world, count: int, start: int = 0) -> None:
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"listed-{index}", last_name=f"Listed{index:02d}", password="!")
        for index in range(start, start + count))
    Membership.objects.bulk_create(Membership(user=user, network=world.networks["alpha"],
                                              source=Membership.Source.COMMAND) for user in users)
    for user in users:
        role_grant(user=user, node=world.nodes["N1"], role=Role.BRANCH_MANAGER, granted_by=world.users["head_office"])
        role_grant(user=user, node=world.nodes["N2"], role=Role.ANALYST, granted_by=world.users["head_office"])


def _list_queries(client) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        answer = client.get("/network/people/?q=Listed")
    assert answer.status_code == 200
    return len(queries), answer.content.decode()


def test_the_people_list_s_queries_do_not_grow_with_its_people(world):
    client = world.client_for("head_office")
    _people(world, 5)
    client.get("/network/people/?q=Listed")
    five, page = _list_queries(client)
    assert page.count("Listed0") == 5
    _people(world, 25, start=5)
    thirty, page = _list_queries(client)
    assert page.count("Listed") >= 25 and "Listed24" in page  # a full page of 25 (of 30)
    assert thirty == five, (five, thirty)
