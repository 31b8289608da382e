"""Failed logins are limited (issue 22 D): after 5 wrong passwords on one account, even the right
one is refused for a while; another account is not affected; the window passing lets it in again."""

import time
from unittest import mock

from django.test import Client

PASSWORD = "secret-password"


def log_in(client: Client, username: str, password: str):
    return client.post("/accounts/login/", {"username": username, "password": password})


def test_after_five_wrong_passwords_the_right_one_is_refused_for_a_while(world):
    attacker = Client()
    for _attempt in range(5):
        refused = log_in(attacker, "head_office", "not-the-password")
        assert refused.status_code == 200 and "correct username and password" in refused.content.decode()
    blocked = Client()
    response = log_in(blocked, "head_office", PASSWORD)
    assert response.status_code == 200 and "_auth_user_id" not in blocked.session
    assert "Too many failed login attempts" in response.content.decode()
    # another account from the same address still logs in (10 a minute per address)
    other = Client()
    assert log_in(other, "branch_manager", PASSWORD).status_code == 302
    assert other.session["_auth_user_id"] == str(world.users["branch_manager"].pk)
    # five minutes later, the right password works again
    later = time.time() + 301
    with mock.patch("time.time", return_value=later):
        again = Client()
        assert log_in(again, "head_office", PASSWORD).status_code == 302
