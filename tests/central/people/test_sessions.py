"""One's open sessions (issue 22 D): listed at /accounts/sessions/ with their browser; ending the
others from one of them logs the others out at their next request."""

from django.test import Client

PASSWORD = "secret-password"


def test_a_session_ended_from_another_is_refused_at_its_next_request(world):
    laptop = Client(HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0")
    phone = Client(HTTP_USER_AGENT="Mozilla/5.0 (iPhone; CPU iPhone OS 18_0) Safari/604.1")
    for client in (laptop, phone):
        assert client.post("/accounts/login/", {"username": "head_office", "password": PASSWORD}).status_code == 302
    assert phone.get("/").status_code == 200

    page = laptop.get("/accounts/sessions/").content.decode()
    assert "Firefox/140.0" in page and "iPhone" in page and "This session" in page and "Open elsewhere" in page
    assert laptop.post("/accounts/sessions/").status_code == 302

    refused = phone.get("/")
    assert refused.status_code == 302 and refused["Location"].startswith("/accounts/login/")
    assert laptop.get("/").status_code == 200
    page = laptop.get("/accounts/sessions/").content.decode()
    assert "iPhone" not in page and "This is your only open session." in page


def test_sessions_are_one_s_own(world):
    mine = Client()
    mine.post("/accounts/login/", {"username": "head_office", "password": PASSWORD})
    theirs = Client(HTTP_USER_AGENT="TheirBrowser/1.0")
    theirs.post("/accounts/login/", {"username": "branch_manager", "password": PASSWORD})
    assert "TheirBrowser" not in mine.get("/accounts/sessions/").content.decode()
    mine.post("/accounts/sessions/")
    assert theirs.get("/").status_code == 200  # ending one's other sessions ends nobody else's
    anonymous = Client().get("/accounts/sessions/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
