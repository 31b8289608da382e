"""Sessions one by one (issue 22): each open session of one's own, or of a person one manages, is
listed with its device in words, its address and when it was last seen, and ended by its own
button — that device is logged out at its next request, the others stay, and the person page's
ends are in the audit trail. Ending all of a person's sessions reads their recorded sessions only:
its number of queries does not grow with other people's sessions."""

from __future__ import annotations

import pytest
from allauth.usersessions.models import UserSession
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from local_stores.models import NetworkEvent
from local_stores.people import device_label, person_deactivate, person_sessions_end
from tests.people_helpers import with_memberships

PASSWORD = "secret-password"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/18.0 Mobile/15E148 Safari/604.1")


def _logged_in(username: str, agent: str, ip: str = "127.0.0.1") -> Client:
    client = Client(HTTP_USER_AGENT=agent, REMOTE_ADDR=ip)
    assert client.post("/accounts/login/", {"username": username, "password": PASSWORD}).status_code == 302
    return client


def test_devices_in_words():
    assert device_label(FIREFOX) == "Firefox on Linux"
    assert device_label(IPHONE) == "Safari on iPhone"
    assert device_label("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                        "Chrome/131.0 Safari/537.36 Edg/131.0") == "Edge on Windows"
    assert device_label("") == "Unknown browser"


@pytest.mark.django_db
def test_one_s_own_session_ended_by_its_button(world):
    laptop, phone = _logged_in("head_office", FIREFOX), _logged_in("head_office", IPHONE, "10.1.2.3")
    page = laptop.get("/accounts/sessions/").content.decode()
    assert "Firefox on Linux" in page and "Safari on iPhone" in page and "10.1.2.3" in page
    assert "This session" in page and page.count('name="session"') == 2
    iphone = UserSession.objects.get(user=world.users["head_office"], user_agent=IPHONE)

    answer = laptop.post("/accounts/sessions/end/", {"session": iphone.pk}, follow=True)
    assert answer.redirect_chain[-1][0] == "/accounts/sessions/"
    assert "The session on Safari on iPhone was ended: that device is logged out." in answer.content.decode()
    refused = phone.get("/")
    assert refused.status_code == 302 and refused["Location"].startswith("/accounts/login/")
    assert laptop.get("/").status_code == 200
    assert not UserSession.objects.filter(pk=iphone.pk).exists()


@pytest.mark.django_db
def test_nobody_ends_another_s_session_from_their_own_page(world):
    mine = _logged_in("head_office", FIREFOX)
    theirs = _logged_in("branch_manager", IPHONE)
    their_session = UserSession.objects.get(user=world.users["branch_manager"])
    for value in (their_session.pk, 999999, "x", ""):
        assert mine.post("/accounts/sessions/end/", {"session": value}).status_code == 404
    assert theirs.get("/").status_code == 200
    assert Client().post("/accounts/sessions/end/", {"session": their_session.pk}).status_code == 302


@pytest.mark.django_db
def test_ending_this_session_logs_out_here(world):
    laptop = _logged_in("head_office", FIREFOX)
    here = UserSession.objects.get(user=world.users["head_office"])
    answer = laptop.post("/accounts/sessions/end/", {"session": here.pk})
    assert answer.status_code == 302 and answer["Location"].startswith("/accounts/login/")
    assert laptop.get("/").status_code == 302


@pytest.mark.django_db
def test_head_office_ends_one_of_a_person_s_sessions(world):
    members = with_memberships(world)
    person = members["branch_manager"]
    laptop, phone = _logged_in("branch_manager", FIREFOX), _logged_in("branch_manager", IPHONE, "10.9.8.7")
    head_office = world.client_for("head_office")
    page = head_office.get(f"/network/people/{person.public_id}/").content.decode()
    assert "Open sessions" in page and "Safari on iPhone" in page and "Firefox on Linux" in page
    assert "10.9.8.7" in page and "This session" not in page
    iphone = UserSession.objects.get(user=person.user, user_agent=IPHONE)

    answer = head_office.post(f"/network/people/{person.public_id}/sessions/end/", {"session": iphone.pk}, follow=True)
    assert "The session on Safari on iPhone was ended" in answer.content.decode()
    assert phone.get("/").status_code == 302
    assert laptop.get("/").status_code == 200  # the other device stays logged in
    event = NetworkEvent.objects.get(action=NetworkEvent.Action.SESSIONS_ENDED, subject_user=person.user)
    assert event.actor == world.users["head_office"] and event.details["device"] == "Safari on iPhone"
    assert event.details["ip"] == "10.9.8.7" and event.at is not None
    assert "Safari on iPhone (10.9.8.7)" in head_office.get(f"/network/people/{person.public_id}/").content.decode()


@pytest.mark.django_db
def test_ending_a_person_s_session_is_scoped(world):
    members = with_memberships(world)
    person = members["branch_manager"]
    _logged_in("branch_manager", FIREFOX)
    session = UserSession.objects.get(user=person.user)
    route = f"/network/people/{person.public_id}/sessions/end/"
    for actor in ("other_network_head_office", "sibling_branch_manager", "other_region_manager", "analyst"):
        assert world.client_for(actor).post(route, {"session": session.pk}).status_code == 404, actor
    # a session of somebody else, through this person's page: not theirs, not found
    _logged_in("analyst", IPHONE)
    other = UserSession.objects.get(user=world.users["analyst"])
    assert world.client_for("head_office").post(route, {"session": other.pk}).status_code == 404
    assert UserSession.objects.filter(pk__in=[session.pk, other.pk]).count() == 2
    assert world.client_for("head_office").post(
        "/network/people/missing/sessions/end/", {"session": session.pk}).status_code == 404


def _others_sessions(count: int) -> None:
    """``count`` other people, each logged in once (a session in the store and its recorded row)."""
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"crowd-{index}", password="!") for index in range(count))
    rows = []
    for user in users:
        store = SessionStore()
        store["_auth_user_id"] = str(user.pk)
        store.create()
        rows.append(UserSession(user=user, session_key=store.session_key, ip="10.0.0.1", user_agent="Crowd"))
    UserSession.objects.bulk_create(rows)


def _queries_to_end(world, members) -> int:
    _logged_in("analyst", FIREFOX)
    with CaptureQueriesContext(connection) as queries:
        assert person_sessions_end(actor=world.users["head_office"], membership=members["analyst"]) == 1
    return len(queries)


@pytest.mark.django_db
def test_ending_a_person_s_sessions_does_not_read_everybody_s(world):
    members = with_memberships(world)
    _queries_to_end(world, members)  # the first time fills caches (content types, ...)
    alone = _queries_to_end(world, members)
    _others_sessions(200)
    crowded = _queries_to_end(world, members)
    assert crowded == alone and crowded <= 15, (alone, crowded)
    assert UserSession.objects.filter(user_agent="Crowd").count() == 200  # nobody else was logged out


@pytest.mark.django_db
def test_deactivation_refuses_the_session_at_the_next_request(world, django_assert_max_num_queries):
    members = with_memberships(world)
    browser = _logged_in("analyst", FIREFOX)
    _others_sessions(200)
    with django_assert_max_num_queries(25):
        person_deactivate(actor=world.users["head_office"], membership=members["analyst"])
    refused = browser.get("/")
    assert refused.status_code == 302 and refused["Location"].startswith("/accounts/login/")
    assert not UserSession.objects.filter(user=world.users["analyst"]).exists()
    assert UserSession.objects.filter(user_agent="Crowd").count() == 200


@pytest.mark.django_db
def test_a_session_from_before_usersessions_is_still_refused_after_deactivation(world):
    """A session with no recorded row (opened before allauth's usersessions was installed) is not
    found by the end; the deactivation refuses it all the same (an inactive person has no user)."""
    members = with_memberships(world)
    browser = _logged_in("analyst", FIREFOX)
    UserSession.objects.filter(user=world.users["analyst"]).delete()
    person_deactivate(actor=world.users["head_office"], membership=members["analyst"])
    assert browser.get("/").status_code == 302


@pytest.mark.django_db
def test_the_session_opened_by_accepting_an_invitation_is_recorded_and_ended(world):
    from local_stores.models import Membership, Role
    from local_stores.people import invitation_create

    _invitation, token = invitation_create(node=world.nodes["N1"], email="newcomer@example.test",
                                           role=Role.BRANCH_MANAGER, invited_by=world.users["head_office"])
    newcomer = Client(HTTP_USER_AGENT=IPHONE)
    answer = newcomer.post(f"/accounts/invitation/{token}/", {
        "first_name": "Nina", "last_name": "Nouvelle", "password1": "a-long-new-passphrase-42",
        "password2": "a-long-new-passphrase-42"})
    assert answer.status_code == 302 and newcomer.get("/").status_code == 200
    membership = Membership.objects.get(user__email="newcomer@example.test")
    assert UserSession.objects.filter(user=membership.user, user_agent=IPHONE).count() == 1
    assert person_sessions_end(actor=world.users["head_office"], membership=membership) == 1
    assert newcomer.get("/").status_code == 302
