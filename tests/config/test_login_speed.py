"""The password hasher (issue 19, defect 11: login took 0.6–2.3 s, most of it PBKDF2's hash).

Production and the demo hash with Argon2id (config/hashers.py); a password hashed before — PBKDF2,
or Argon2 with other parameters — still logs in and is hashed again with the current hasher at that
login. No timing here (never timed assertions in the suite): bench/page_timing.py measures it.
The suite itself keeps its fast MD5 hasher (config/settings/test.py)."""

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import Argon2PasswordHasher, PBKDF2PasswordHasher, get_hasher, make_password
from django.test import override_settings

from config.hashers import RelaisArgon2PasswordHasher
from config.settings import base

pytestmark = pytest.mark.django_db

PASSWORD = "un-mot-de-passe-assez-long"


def test_production_hashes_with_argon2_first_and_still_checks_the_old_hashes():
    assert base.PASSWORD_HASHERS[0] == "config.hashers.RelaisArgon2PasswordHasher"
    assert issubclass(RelaisArgon2PasswordHasher, Argon2PasswordHasher)
    assert "django.contrib.auth.hashers.PBKDF2PasswordHasher" in base.PASSWORD_HASHERS[1:]
    with override_settings(PASSWORD_HASHERS=base.PASSWORD_HASHERS):
        hasher = get_hasher("default")
        encoded = make_password(PASSWORD)
        assert encoded.startswith("argon2$argon2id$")
        assert f"m={RelaisArgon2PasswordHasher.memory_cost},t={RelaisArgon2PasswordHasher.time_cost}," \
               f"p={RelaisArgon2PasswordHasher.parallelism}" in encoded
        assert hasher.verify(PASSWORD, encoded) and not hasher.verify("autre chose", encoded)


def test_the_suite_keeps_its_fast_hasher():
    assert settings.PASSWORD_HASHERS == ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.mark.parametrize("old", [
    pytest.param(lambda: PBKDF2PasswordHasher().encode(PASSWORD, PBKDF2PasswordHasher().salt()), id="pbkdf2"),
    pytest.param(lambda: Argon2PasswordHasher().encode(PASSWORD, Argon2PasswordHasher().salt()),
                 id="argon2-with-django-parameters"),
])
def test_an_old_hash_logs_in_and_is_hashed_again_with_the_current_hasher(client, old):
    with override_settings(PASSWORD_HASHERS=base.PASSWORD_HASHERS):
        user = get_user_model().objects.create(username="ancienne", password=old())
        before = user.password

        refused = client.post("/accounts/login/", {"username": "ancienne", "password": "pas le bon"})
        user.refresh_from_db()
        assert refused.status_code == 200 and user.password == before  # a failed login changes nothing

        response = client.post("/accounts/login/", {"username": "ancienne", "password": PASSWORD})

        assert response.status_code == 302
        user.refresh_from_db()
        assert user.password != before
        assert user.password.startswith("argon2$argon2id$")
        assert not get_hasher("default").must_update(user.password)
        assert user.check_password(PASSWORD)
