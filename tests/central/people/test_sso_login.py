"""Single sign-on by OpenID Connect (issue 22 D), against a REAL OpenID provider on loopback
(oidc-provider-mock: discovery, JWKS, signed id_token, code flow with PKCE, userinfo). Relais'
side is not mocked: allauth fetches the discovery document, exchanges the code, checks the
id_token's signature and reads the userinfo; the browser's trip to the provider is made with httpx
(the provider's authorization form posted for one subject)."""

from urllib.parse import urlsplit

import httpx
import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from allauth.socialaccount.models import SocialApp
from django.contrib.auth import get_user_model
from django.test import Client
from oidc_provider_mock import User as OidcUser
from oidc_provider_mock import run_server_in_thread

from local_stores import secrets
from local_stores.models import Membership, NetworkEvent, Role, RoleGroup, SsoConfig, SsoGrant, SsoRoleMapping
from local_stores.services import role_grant
from tests.central.people.test_mfa import totp_now

ALICE = {"email": "alice@alpha.test", "email_verified": True, "given_name": "Alice", "family_name": "Martin",
         "groups": ["relais-n1-managers"]}


@pytest.fixture
def provider():
    with run_server_in_thread(port=0, user_claims=[OidcUser(sub="alice", claims=ALICE)]) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture
def alpha_sso(world, provider):
    alpha = world.networks["alpha"]
    config = SsoConfig.objects.create(
        network=alpha, enabled=True, issuer_url=provider, client_id="relais",
        client_secret_encrypted=secrets.encrypt("client-secret-1234"), email_domains=["alpha.test"],
        create_people=True,
    )
    SsoRoleMapping.objects.create(network=alpha, claim_value="relais-n1-managers", node=world.nodes["N1"],
                                  role=Role.BRANCH_MANAGER)
    return config


def sso_login(client: Client, start, sub: str = "alice"):
    """The whole trip: Relais → the provider's form (posted for ``sub``) → Relais' callback."""
    started = start(client)
    assert started.status_code == 302, started.status_code
    authorize = started["Location"]
    assert "/oauth2/authorize" in authorize and "code_challenge=" in authorize
    form = httpx.get(authorize)
    assert form.status_code == 200 and 'name="sub"' in form.text
    answered = httpx.post(authorize, data={"sub": sub}, follow_redirects=False)
    assert answered.status_code == 302, answered.text
    callback = urlsplit(answered.headers["location"])
    assert callback.path == "/accounts/oidc/net-alpha/login/callback/"
    return client.get(f"{callback.path}?{callback.query}")


def start_at_provider_url(client: Client):
    return client.post("/accounts/oidc/net-alpha/login/")


def start_at_login_page(client: Client):
    page = client.get("/accounts/login/")
    body = page.content.decode()
    assert "Log in with your company account" in body
    assert all(label in body for label in ('for="id_username">Username', 'for="id_password">Password', ">Log in</button>"))
    return client.post("/accounts/sso/", {"email": "Alice@Alpha.test", "next": ""})


def roles_of(user) -> set[tuple[str, str]]:
    return set(RoleGroup.objects.filter(group__user=user).values_list("node__code", "role"))


def test_first_sso_login_creates_the_person_with_the_mapped_role(alpha_sso, world):
    client = Client()
    done = sso_login(client, start_at_login_page)
    assert done.status_code == 302 and done["Location"] == "/"
    alice = get_user_model().objects.get(email="alice@alpha.test")
    assert client.get("/").wsgi_request.user == alice
    assert Membership.objects.get(user=alice).source == Membership.Source.SSO
    assert Membership.objects.get(user=alice).network == world.networks["alpha"]
    assert roles_of(alice) == {("N1", Role.BRANCH_MANAGER)}
    assert SsoGrant.objects.filter(user=alice).count() == 1
    assert not alice.has_usable_password()
    assert not SocialApp.objects.exists(), "no secret, no app in allauth's tables"
    event = NetworkEvent.objects.get(action=NetworkEvent.Action.SSO_ROLES_SYNCED, subject_user=alice)
    assert event.details == {"granted": [["N1", Role.BRANCH_MANAGER]], "revoked": []}
    login = NetworkEvent.objects.get(action=NetworkEvent.Action.LOGGED_IN, subject_user=alice)
    assert login.details == {"method": "sso", "provider": "net-alpha"}


def test_claims_changed_at_the_provider_revoke_the_role_at_the_next_login(alpha_sso, world, provider):
    hand = world.nodes["N2"]
    sso_login(Client(), start_at_provider_url)
    alice = get_user_model().objects.get(email="alice@alpha.test")
    role_grant(user=alice, node=hand, role=Role.BRANCH_MANAGER, granted_by=world.users["head_office"])
    updated = httpx.put(f"{provider}/users/alice", json={**ALICE, "groups": ["someone-else"]})
    assert updated.status_code == 204
    client = Client()
    done = sso_login(client, start_at_provider_url)
    assert done.status_code == 302
    assert client.get("/").wsgi_request.user == alice
    assert roles_of(alice) == {("N2", Role.BRANCH_MANAGER)}, "the SSO grant revoked, the hand grant kept"
    assert not SsoGrant.objects.filter(user=alice).exists()


def test_an_invited_person_is_linked_by_e_mail_and_keeps_their_password(alpha_sso, world):
    alice = get_user_model().objects.create_user(username="alice@alpha.test", email="alice@alpha.test",
                                                 password="secret-password")
    Membership.objects.create(user=alice, network=world.networks["alpha"])
    alpha_sso.create_people = False
    alpha_sso.save()
    client = Client()
    sso_login(client, start_at_provider_url)
    assert client.get("/").wsgi_request.user == alice
    alice.refresh_from_db()
    assert alice.check_password("secret-password")
    assert roles_of(alice) == {("N1", Role.BRANCH_MANAGER)}


def test_an_e_mail_of_another_network_is_refused(alpha_sso, world):
    beta_person = world.users["other_network_head_office"]
    beta_person.email = "alice@alpha.test"
    beta_person.save()
    client = Client()
    done = sso_login(client, start_at_provider_url)
    assert done.status_code == 302 and done["Location"] == "/accounts/login/"
    assert not client.get("/").wsgi_request.user.is_authenticated
    page = client.get("/accounts/login/").content.decode()
    assert "belongs to another network" in page
    assert roles_of(beta_person) == {("HQ", Role.HEAD_OFFICE_MARKETER)}


@pytest.mark.parametrize("who", ["superuser", "nobody"])
def test_the_platform_s_staff_and_people_of_no_network_are_never_reached(alpha_sso, world, who):
    """A network's provider vouches for its own people only: not for the platform's superuser nor
    for an account of no network that happens to have the address."""
    person = (get_user_model().objects.create_superuser("root", "alice@alpha.test", "secret-password")
              if who == "superuser" else world.users["nobody"])
    person.email = "alice@alpha.test"
    person.save()
    client = Client()
    done = sso_login(client, start_at_provider_url)
    assert done["Location"] == "/accounts/login/"
    assert not client.get("/").wsgi_request.user.is_authenticated
    assert not Membership.objects.filter(user=person).exists() and roles_of(person) == set()


def test_nobody_unknown_gets_in_when_the_network_creates_nobody(alpha_sso):
    alpha_sso.create_people = False
    alpha_sso.save()
    client = Client()
    done = sso_login(client, start_at_provider_url)
    assert done["Location"] == "/accounts/login/"
    assert not get_user_model().objects.filter(email="alice@alpha.test").exists()
    assert "ask your head office for an invitation" in client.get("/accounts/login/").content.decode()


def test_a_disabled_configuration_logs_nobody_in(alpha_sso):
    alpha_sso.enabled = False
    alpha_sso.save()
    client = Client()
    assert client.post("/accounts/oidc/net-alpha/login/").status_code == 404
    refused = client.post("/accounts/sso/", {"email": "alice@alpha.test"})
    assert refused.status_code == 400
    assert "No company account is set up for this address" in refused.content.decode()
    assert "Log in with your company account" not in client.get("/accounts/login/").content.decode()


def test_an_unknown_domain_is_a_form_error(alpha_sso):
    refused = Client().post("/accounts/sso/", {"email": "bob@elsewhere.test"})
    assert refused.status_code == 400
    body = refused.content.decode()
    assert "No company account is set up for this address" in body and "data-form-errors" in body


def test_the_second_factor_is_still_asked_after_the_company_login(alpha_sso, world):
    """The network requires a second factor of branch managers: the SSO login that grants the role
    sends the person to set up an authenticator app; once they have one, each SSO login asks its code."""
    alpha = world.networks["alpha"]
    alpha.mfa_required_roles = [Role.BRANCH_MANAGER]
    alpha.save(update_fields=["mfa_required_roles"])
    client = Client()
    sso_login(client, start_at_provider_url)
    alice = get_user_model().objects.get(email="alice@alpha.test")
    sent = client.get("/")
    assert sent.status_code == 302 and sent["Location"].startswith("/accounts/2fa/totp/activate/")
    secret = generate_totp_secret()
    TOTP.activate(alice, secret)
    client = Client()
    asked = sso_login(client, start_at_provider_url)
    assert asked.status_code == 302 and asked["Location"].startswith("/accounts/2fa/authenticate/")
    assert not client.get("/").wsgi_request.user.is_authenticated
    wrong = client.post("/accounts/2fa/authenticate/", {"code": "000000" if totp_now(secret) != "000000" else "111111"})
    assert wrong.status_code == 200 and not client.get("/").wsgi_request.user.is_authenticated
    done = client.post("/accounts/2fa/authenticate/", {"code": totp_now(secret)})
    assert done.status_code == 302
    assert client.get("/").wsgi_request.user == alice
