"""Single sign-on's policies (issue 22, the SSO items left open): "single sign-on only" (no password
login, token or reset for the network's people), the provider's second factor trusted (RFC 8176
``amr``), and the provider's logout — against a REAL OpenID provider on loopback (oidc-provider-mock),
as in test_sso_login.py."""

import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from oidc_provider_mock import User as OidcUser
from oidc_provider_mock import run_server_in_thread

from local_stores import secrets
from local_stores.models import Membership, NetworkEvent, Role, SsoConfig, SsoRoleMapping
from local_stores.sso import SESSION_KEY
from tests.central.people.test_sso_login import ALICE, sso_login, start_at_provider_url

PASSWORD = "secret-password"


def _provider(claims: dict):
    return run_server_in_thread(port=0, user_claims=[OidcUser(sub="alice", claims=claims)])


@pytest.fixture
def provider():
    with _provider(ALICE) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture
def provider_with_otp():
    with _provider({**ALICE, "amr": ["pwd", "otp"]}) as server:
        yield f"http://localhost:{server.server_port}"


def _config(world, issuer: str, **options) -> SsoConfig:
    alpha = world.networks["alpha"]
    config = SsoConfig.objects.create(
        network=alpha, enabled=True, issuer_url=issuer, client_id="relais",
        client_secret_encrypted=secrets.encrypt("client-secret-1234"), email_domains=["alpha.test"],
        create_people=True, **options,
    )
    SsoRoleMapping.objects.create(network=alpha, claim_value="relais-n1-managers", node=world.nodes["N1"],
                                  role=Role.BRANCH_MANAGER)
    return config


def _alpha_person(world, username="bob@alpha.test", email="bob@alpha.test"):
    person = get_user_model().objects.create_user(username=username, email=email, password=PASSWORD)
    Membership.objects.create(user=person, network=world.networks["alpha"])
    return person


# --- single sign-on only ---------------------------------------------------------------------------

@pytest.mark.parametrize("allowed", [True, False])
def test_sso_only_refuses_the_password_login_and_the_token(world, provider, allowed):
    _config(world, provider, password_login_allowed=allowed)
    _alpha_person(world)
    client = Client()
    answer = client.post("/accounts/login/", {"username": "bob@alpha.test", "password": PASSWORD})
    token = Client().post("/api/v1/auth/token/", {"username": "bob@alpha.test", "password": PASSWORD})
    if allowed:
        assert answer.status_code == 302 and client.get("/").wsgi_request.user.is_authenticated
        assert token.status_code == 200 and token.json()["token"]
        return
    assert answer.status_code == 302 and answer["Location"] == "/accounts/login/"
    assert not client.get("/").wsgi_request.user.is_authenticated
    assert "_auth_user_id" not in client.session
    page = client.get("/accounts/login/").content.decode()
    assert "Your network signs in with its company account" in page
    assert "Log in with your company account" in page, "the SSO button is offered"
    assert token.status_code == 403 and "company account" in token.json()["detail"]
    assert not NetworkEvent.objects.filter(action=NetworkEvent.Action.LOGGED_IN).exists()


def test_sso_only_does_not_hold_a_wrong_password_nor_other_networks_nor_superusers(world, provider):
    _config(world, provider, password_login_allowed=False)
    _alpha_person(world)
    wrong = Client().post("/accounts/login/", {"username": "bob@alpha.test", "password": "not-it"})
    assert wrong.status_code == 200 and "signs in with its company account" not in wrong.content.decode()
    beta = world.users["other_network_head_office"]
    beta.set_password(PASSWORD)
    beta.save()
    client = Client()
    client.post("/accounts/login/", {"username": beta.username, "password": PASSWORD})
    assert client.get("/").wsgi_request.user == beta
    root = get_user_model().objects.create_superuser("root", "root@alpha.test", PASSWORD)
    client = Client()
    client.post("/accounts/login/", {"username": "root", "password": PASSWORD})
    assert client.get("/").wsgi_request.user == root


def test_sso_only_still_logs_in_by_the_provider(world, provider):
    _config(world, provider, password_login_allowed=False)
    client = Client()
    done = sso_login(client, start_at_provider_url)
    assert done.status_code == 302 and done["Location"] == "/"
    assert client.get("/").wsgi_request.user.email == "alice@alpha.test"


def test_sso_only_refuses_the_password_reset_by_domain_and_answers_as_usual_elsewhere(world, provider):
    _config(world, provider, password_login_allowed=False)
    _alpha_person(world)
    for address in ("bob@alpha.test", "nobody-here@alpha.test"):  # a person, and nobody: the same answer
        refused = Client().post("/accounts/password/reset/", {"email": address})
        assert refused.status_code == 200
        assert "Your network signs in with its company account" in refused.content.decode()
    assert mail.outbox == []
    # a person of the network with an address of another domain: the usual answer, nothing sent
    _alpha_person(world, username="carol", email="carol@elsewhere.test")
    usual = Client().post("/accounts/password/reset/", {"email": "carol@elsewhere.test"})
    unknown = Client().post("/accounts/password/reset/", {"email": "nobody@elsewhere.test"})
    assert usual.status_code == unknown.status_code == 302 and usual["Location"] == unknown["Location"]
    assert mail.outbox == []
    # another network's person: as today
    beta = world.users["other_network_head_office"]
    sent = Client().post("/accounts/password/reset/", {"email": beta.email})
    assert sent.status_code == 302 and len(mail.outbox) == 1


# --- the provider's second factor -----------------------------------------------------------------

def _require_mfa(world):
    alpha = world.networks["alpha"]
    alpha.mfa_required_roles = [Role.BRANCH_MANAGER]
    alpha.save(update_fields=["mfa_required_roles"])


@pytest.mark.parametrize("trusted", [True, False])
def test_the_provider_s_second_factor_counts_when_trusted_and_amr_says_so(world, provider_with_otp, trusted):
    _config(world, provider_with_otp, trust_provider_mfa=trusted)
    _require_mfa(world)
    client = Client()
    sso_login(client, start_at_provider_url)
    alice = get_user_model().objects.get(email="alice@alpha.test")
    page = client.get("/")
    login = NetworkEvent.objects.get(action=NetworkEvent.Action.LOGGED_IN, subject_user=alice)
    if trusted:
        assert page.status_code == 200 and page.wsgi_request.user == alice, "no set-up asked"
        assert client.session[SESSION_KEY]["mfa"] == ["otp"]
        assert login.details["second_factor"] == {"by": "provider", "amr": ["otp"]}
        assert Client().post("/api/v1/auth/token/", {"username": alice.username, "password": "x"}).status_code == 400
    else:
        assert page.status_code == 302 and page["Location"].startswith("/accounts/2fa/totp/activate/")
        assert client.session[SESSION_KEY]["mfa"] == []
        assert "second_factor" not in login.details


def test_a_trusting_network_still_asks_the_code_when_amr_says_no_second_factor(world, provider):
    _config(world, provider, trust_provider_mfa=True)
    _require_mfa(world)
    client = Client()
    sso_login(client, start_at_provider_url)
    alice = get_user_model().objects.get(email="alice@alpha.test")
    sent = client.get("/")
    assert sent.status_code == 302 and sent["Location"].startswith("/accounts/2fa/totp/activate/")
    TOTP.activate(alice, generate_totp_secret())
    asked = sso_login(Client(), start_at_provider_url)
    assert asked.status_code == 302 and asked["Location"].startswith("/accounts/2fa/authenticate/")


def test_a_person_with_an_app_is_not_asked_its_code_after_a_trusted_provider_s_second_factor(world, provider_with_otp):
    _config(world, provider_with_otp, trust_provider_mfa=True)
    _require_mfa(world)
    sso_login(Client(), start_at_provider_url)
    alice = get_user_model().objects.get(email="alice@alpha.test")
    TOTP.activate(alice, generate_totp_secret())
    client = Client()
    done = sso_login(client, start_at_provider_url)
    assert done.status_code == 302 and done["Location"] == "/"
    assert client.get("/").wsgi_request.user == alice
    # that session only: a password login of the same person still asks the code
    alice.set_password(PASSWORD)
    alice.save()
    asked = Client().post("/accounts/login/", {"username": alice.username, "password": PASSWORD})
    assert asked.status_code == 302 and asked["Location"].startswith("/accounts/2fa/authenticate/")


# --- logout at the provider -----------------------------------------------------------------------

def test_logout_after_sso_goes_to_the_provider_s_end_session_with_the_id_token(world, provider):
    _config(world, provider)
    client = Client()
    sso_login(client, start_at_provider_url)
    id_token = client.session[SESSION_KEY]["id_token"]
    assert id_token.count(".") == 2
    out = client.post("/accounts/logout/")
    assert out.status_code == 302
    target = urlsplit(out["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{provider}/oauth2/end_session"
    query = parse_qs(target.query)
    assert query["id_token_hint"] == [id_token]
    assert query["post_logout_redirect_uri"] == ["http://testserver/accounts/login/"]
    assert not client.get("/").wsgi_request.user.is_authenticated
    form = httpx.get(out["Location"])  # the provider's own logout page, then back to Relais' login
    assert form.status_code == 200 and id_token in form.text
    back = httpx.post(f"{provider}/oauth2/end_session/confirm",
                      data={"redirect_uri": "http://testserver/accounts/login/"}, follow_redirects=False)
    assert back.status_code == 302 and back.headers["location"] == "http://testserver/accounts/login/"


def test_logout_is_the_usual_one_after_a_password_login(world, provider):
    _config(world, provider)
    _alpha_person(world)
    client = Client()
    client.post("/accounts/login/", {"username": "bob@alpha.test", "password": PASSWORD})
    out = client.post("/accounts/logout/")
    assert out.status_code == 302 and out["Location"] == "/accounts/login/"


def test_logout_is_the_usual_one_when_the_provider_has_no_end_session(world, provider):
    config = _config(world, provider)
    client = Client()
    sso_login(client, start_at_provider_url)
    config.enabled = False  # the provider is no longer reached: the usual logout
    config.save()
    out = client.post("/accounts/logout/")
    assert out.status_code == 302 and out["Location"] == "/accounts/login/"
    assert not client.get("/").wsgi_request.user.is_authenticated


# --- the set-up page ------------------------------------------------------------------------------

def test_the_page_shows_and_saves_the_two_settings(world):
    client = world.client_for("head_office")
    page = client.get("/network/sso/").content.decode()
    assert "People may also log in with a password" in page and "Trust the provider&#x27;s second factor" in page
    inputs = {name: tag for tag in re.findall(r"<input[^>]*>", page)
              for name in re.findall(r'name="(\w+)"', tag)}
    assert "checked" in inputs["password_login_allowed"], "a password is allowed by default"
    assert "checked" not in inputs["trust_provider_mfa"], "the provider's second factor is not trusted by default"
    saved = client.post("/network/sso/", {
        "network": "alpha", "enabled": "on", "issuer_url": "https://login.alpha.test", "client_id": "relais",
        "client_secret": "secret-1234", "scopes": "openid email profile", "groups_claim": "groups",
        "email_domains": "alpha.test", "trust_provider_mfa": "on",  # password_login_allowed unticked
    })
    assert saved.status_code == 302, saved.content.decode()[:2000]
    config = SsoConfig.objects.get(network=world.networks["alpha"])
    assert config.password_login_allowed is False and config.trust_provider_mfa is True
    page = client.get("/network/sso/").content.decode()
    assert "data-sso-only" in page
    event = NetworkEvent.objects.filter(action=NetworkEvent.Action.SSO_CONFIGURED).latest("pk")
    assert {"password_login_allowed", "trust_provider_mfa"} <= set(event.details["fields"])


def test_an_invitation_in_a_network_of_single_sign_on_only_sets_no_password_then_the_provider_logs_in(world, provider):
    """The newcomer joins without choosing a password (none would open anything), is sent to the
    login page, and logs in with their company account, their invited role kept."""
    from local_stores.people import invitation_create

    _config(world, provider, password_login_allowed=False)
    _invitation, token = invitation_create(node=world.nodes["N2"], email="alice@alpha.test", role=Role.ANALYST)
    client = Client()
    page = client.get(f"/accounts/invitation/{token}/")
    body = page.content.decode()
    assert page.status_code == 200 and 'type="password"' not in body and "company account" in body
    joined = client.post(f"/accounts/invitation/{token}/", {"first_name": "Alice", "last_name": "Martin",
                                                           "password1": "Chosen-password-42", "password2": "Chosen-password-42"})
    assert joined.status_code == 302 and joined["Location"] == "/accounts/login/"
    alice = get_user_model().objects.get(email="alice@alpha.test")
    assert not alice.has_usable_password() and not alice.check_password("Chosen-password-42")
    assert client.get("/").wsgi_request.user.is_anonymous  # no session from the link itself
    assert sso_login(Client(), start_at_provider_url).status_code == 302
    from local_stores.models import RoleGroup

    assert RoleGroup.objects.filter(group__user=alice, node=world.nodes["N2"], role=Role.ANALYST).exists()


def test_an_invitation_with_passwords_allowed_still_sets_the_password(world, provider):
    from local_stores.people import invitation_create

    _config(world, provider)
    _invitation, token = invitation_create(node=world.nodes["N2"], email="carol@alpha.test", role=Role.ANALYST)
    page = Client().get(f"/accounts/invitation/{token}/")
    assert 'type="password"' in page.content.decode()


def test_a_token_obtained_before_single_sign_on_only_is_refused_from_then_on(world, provider):
    config = _config(world, provider)
    _alpha_person(world)
    key = Client().post("/api/v1/auth/token/", {"username": "bob@alpha.test", "password": PASSWORD}).json()["token"]
    api = Client(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/campaigns/").status_code == 200
    config.password_login_allowed = False
    config.save(update_fields=["password_login_allowed"])
    refused = api.get("/api/v1/campaigns/")
    assert refused.status_code == 403 and "token obtained with a password" in refused.json()["detail"]
    config.password_login_allowed = True  # passwords allowed again: the token works again
    config.save(update_fields=["password_login_allowed"])
    assert api.get("/api/v1/campaigns/").status_code == 200


def test_switching_to_single_sign_on_only_ends_the_password_sessions_not_the_company_ones(world, provider):
    from local_stores.sso import sso_config_save

    config = _config(world, provider)
    _alpha_person(world)
    by_password = Client()
    by_password.post("/accounts/login/", {"username": "bob@alpha.test", "password": PASSWORD})
    by_company = Client()
    sso_login(by_company, start_at_provider_url)
    assert by_password.get("/").wsgi_request.user.is_authenticated
    assert by_company.get("/").wsgi_request.user.is_authenticated
    sso_config_save(network=config.network, saved_by=world.users["head_office"],
                    data={"password_login_allowed": False})
    assert not by_password.get("/").wsgi_request.user.is_authenticated  # cut at once
    assert by_company.get("/").wsgi_request.user.email == "alice@alpha.test"
    event = NetworkEvent.objects.filter(action=NetworkEvent.Action.SSO_CONFIGURED).latest("pk")
    assert event.details["password_sessions_ended"] == 1


def test_no_longer_trusting_the_provider_s_second_factor_ends_the_sessions_it_let_in(world, provider_with_otp):
    from local_stores.sso import sso_config_save

    config = _config(world, provider_with_otp, trust_provider_mfa=True)
    client = Client()
    sso_login(client, start_at_provider_url)
    assert client.get("/").wsgi_request.user.is_authenticated
    sso_config_save(network=config.network, saved_by=world.users["head_office"], data={"trust_provider_mfa": False})
    assert not client.get("/").wsgi_request.user.is_authenticated
