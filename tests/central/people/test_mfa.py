"""Two-factor login (issue 22 D): a network requires a second factor of some roles; whoever holds
one sets up an authenticator app before anything else, and gives its code at every login.
Codes are computed from the secret the set-up page shows, as an authenticator app would."""

import io
import re
import time

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from rest_framework.authtoken.models import Token

from local_stores.mfa_policy import mfa_required
from local_stores.models import Network, NetworkEvent
from local_stores.people import invitation_create
from local_stores.services import network_create

PASSWORD = "secret-password"
PAGES = ["/", "/network/people/", "/approvals/", "/reports/", "/network/settings/"]


def totp_now(secret: str) -> str:
    """The authenticator app's code now — never in the last 6 seconds of its 30-second window (it
    waits for the next one), so that the steps of a test that follow still see the same code: a
    window turning between two steps made a used code look new (a replay passed) or a fresh one
    look old."""
    while time.time() % 30 > 24:
        time.sleep(0.2)
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def log_in(client: Client, username: str, password: str = PASSWORD):
    return client.post("/accounts/login/", {"username": username, "password": password})


@pytest.fixture
def alpha_requires_approvers(world):
    network = world.networks["alpha"]
    network.mfa_required_roles = ["approver"]
    network.save(update_fields=["mfa_required_roles"])
    return world


def activate(client: Client) -> str:
    """Set up the authenticator app: the password again first (allauth asks it before any change
    of the second factor), then a code of the app."""
    asked = client.get("/accounts/2fa/totp/activate/")
    assert asked.status_code == 302 and asked["Location"].startswith("/accounts/reauthenticate/")
    assert client.get(asked["Location"]).status_code == 200
    client.post(asked["Location"], {"password": PASSWORD})
    page = client.get("/accounts/2fa/totp/activate/")
    assert page.status_code == 200
    secret = re.search(r'id="authenticator_secret"[^>]*value="([A-Z2-7]{16,})"|value="([A-Z2-7]{16,})"[^>]*id="authenticator_secret"',
                       page.content.decode())
    secret = next(group for group in secret.groups() if group)
    wrong = client.post("/accounts/2fa/totp/activate/", {"code": "000000" if totp_now(secret) != "000000" else "111111"})
    assert wrong.status_code == 200 and not Authenticator.objects.filter(type="totp").exists()
    done = client.post("/accounts/2fa/totp/activate/", {"code": totp_now(secret)})
    assert done.status_code == 302
    return secret


def test_a_role_the_network_lists_requires_a_second_factor(alpha_requires_approvers):
    world = alpha_requires_approvers
    assert mfa_required(world.users["approver"])
    assert not mfa_required(world.users["branch_manager"])
    assert not mfa_required(world.users["other_network_head_office"])


def test_the_approver_sets_up_totp_first_then_gives_its_code_at_every_login(alpha_requires_approvers):
    world = alpha_requires_approvers
    client = Client()
    assert log_in(client, "approver").status_code == 302
    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 302 and response["Location"] == "/accounts/2fa/totp/activate/", page
    api = client.get("/api/v1/branches/")
    assert api.status_code == 403 and "Second factor required" in api.json()["detail"]
    # a password alone never hands out the API token of someone who needs a second factor
    token = Client().post("/api/v1/auth/token/", {"username": "approver", "password": PASSWORD})
    assert token.status_code == 403
    # someone who needs none is not bothered
    other = Client()
    log_in(other, "branch_manager")
    assert other.get("/").status_code == 200

    secret = activate(client)
    assert client.get("/").status_code == 200
    assert client.get("/api/v1/branches/").status_code == 200

    client.post("/accounts/logout/")
    again = Client()
    asked = log_in(again, "approver")
    assert asked.status_code == 302 and asked["Location"] == "/accounts/2fa/authenticate/"
    assert again.get("/")["Location"].startswith("/accounts/login/")  # not logged in before the code
    wrong = again.post("/accounts/2fa/authenticate/", {"code": "000000" if totp_now(secret) != "000000" else "111111"})
    assert wrong.status_code == 200 and "_auth_user_id" not in again.session
    code = totp_now(secret)
    right = again.post("/accounts/2fa/authenticate/", {"code": code})
    assert right.status_code == 302 and again.session["_auth_user_id"] == str(world.users["approver"].pk)
    assert again.get("/").status_code == 200

    # the same code does not log in a second time (an overheard code is useless)
    replay = Client()
    log_in(replay, "approver")
    replay.post("/accounts/2fa/authenticate/", {"code": code})  # the very code, in its window still
    assert "_auth_user_id" not in replay.session


def test_a_recovery_code_works_once(alpha_requires_approvers):
    world = alpha_requires_approvers
    client = Client()
    log_in(client, "approver")
    activate(client)
    codes_page = client.get("/accounts/2fa/recovery-codes/").content.decode()
    codes = sorted(set(re.findall(r"\b[a-z0-9]{8}\b", codes_page)) & set(_unused_codes(world.users["approver"])))
    assert len(codes) >= 5
    client.post("/accounts/logout/")

    first = Client()
    log_in(first, "approver")
    first.post("/accounts/2fa/authenticate/", {"code": codes[0]})
    assert first.session["_auth_user_id"] == str(world.users["approver"].pk)

    second = Client()
    log_in(second, "approver")
    refused = second.post("/accounts/2fa/authenticate/", {"code": codes[0]})
    assert refused.status_code == 200 and "_auth_user_id" not in second.session


def test_the_last_factor_of_someone_who_needs_one_cannot_be_removed(alpha_requires_approvers):
    client = Client()
    log_in(client, "approver")
    activate(client)
    client.post("/accounts/2fa/totp/deactivate/", {})
    assert Authenticator.objects.filter(user=alpha_requires_approvers.users["approver"], type="totp").exists()
    network = alpha_requires_approvers.networks["alpha"]
    network.mfa_required_roles = []
    network.save(update_fields=["mfa_required_roles"])
    client.post("/accounts/2fa/totp/deactivate/", {})
    assert not Authenticator.objects.filter(user=alpha_requires_approvers.users["approver"], type="totp").exists()


def test_the_network_settings_choose_the_roles(world):
    alpha = world.networks["alpha"]
    client = world.client_for("head_office")
    page = client.get("/network/settings/").content.decode()
    assert 'name="mfa_required_roles"' in page and 'value="approver"' in page
    form = {"network": "alpha", "name": alpha.name, "languages": list(alpha.languages),
            "default_language": alpha.default_language, "time_zone": alpha.time_zone, "currency": alpha.currency,
            "invitation_days": str(alpha.invitation_days), "regional_grantable_roles": list(alpha.regional_grantable_roles),
            "mfa_required_roles": ["approver", "analyst"]}
    assert client.post("/network/settings/", form).status_code == 302
    alpha.refresh_from_db()
    assert alpha.mfa_required_roles == ["approver", "analyst"]
    event = NetworkEvent.objects.get(network=alpha, action=NetworkEvent.Action.NETWORK_SETTINGS_CHANGED)
    assert event.details["fields"]["mfa_required_roles"] == {"old": [], "new": ["approver", "analyst"]}
    assert world.client_for("analyst").get("/")["Location"] == "/accounts/2fa/totp/activate/"
    # the head office itself needs none: it goes on
    assert client.get("/network/settings/").status_code == 200


def test_a_new_network_requires_a_second_factor_of_marketers_and_approvers(db):
    network = network_create(name="Gamma", slug="gamma", head_office_name="Gamma HQ")
    assert network.mfa_required_roles == ["head_office_marketer", "approver"]


def _unused_codes(user) -> list[str]:
    return RecoveryCodes(Authenticator.objects.get(user=user, type="recovery_codes")).get_unused_codes()


OWN_PAGES = ["/accounts/2fa/", "/accounts/2fa/reauthenticate/", "/accounts/2fa/totp/activate/",
             "/accounts/2fa/totp/deactivate/", "/accounts/2fa/recovery-codes/", "/accounts/2fa/recovery-codes/download/",
             "/accounts/2fa/recovery-codes/generate/", "/accounts/reauthenticate/"]


def test_second_factor_pages_are_one_s_own(alpha_requires_approvers):
    """Anonymous: sent to log in. Someone else, even just re-authenticated: never the approver's codes."""
    world = alpha_requires_approvers
    approver = Client()
    log_in(approver, "approver")
    activate(approver)
    codes = _unused_codes(world.users["approver"])
    for url in OWN_PAGES:
        for method in ("get", "post"):
            response = getattr(Client(), method)(url)
            assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), (method, url)
    other = Client()
    log_in(other, "head_office")
    other.post("/accounts/reauthenticate/", {"password": PASSWORD})
    for url in OWN_PAGES:
        for method in ("get", "post"):
            response = getattr(other, method)(url)
            assert response.status_code < 500, (method, url)
            assert not any(code in response.content.decode(errors="replace") for code in codes), (method, url)
    assert _unused_codes(world.users["approver"]) == codes


def test_the_demo_accounts_log_in_with_their_password_alone(db):
    call_command("demo_load", customers=20, stdout=io.StringIO())
    assert dict(Network.objects.values_list("slug", "mfa_required_roles")) == {"comptoir": [], "azur": []}
    assert not any(mfa_required(user) for user in get_user_model().objects.all())


def test_a_token_made_before_the_requirement_is_refused_until_the_second_factor_is_set_up(world):
    """A token made while nothing was required does not skip the network's new requirement."""
    approver = world.users["approver"]
    token = Token.objects.create(user=approver)
    api = Client(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.get("/api/v1/branches/").status_code == 200
    network = world.networks["alpha"]
    network.mfa_required_roles = ["approver"]
    network.save(update_fields=["mfa_required_roles"])
    refused = api.get("/api/v1/branches/")
    assert refused.status_code == 403 and "Second factor required" in refused.json()["detail"]
    client = Client()
    log_in(client, "approver")
    activate(client)
    assert api.get("/api/v1/branches/").status_code == 200


def test_logins_and_second_factors_go_into_the_audit_trail(alpha_requires_approvers,
                                                           django_capture_on_commit_callbacks):
    """A login through the login page, the authenticator app added: each an event of the network
    with who and from where; a programmatic login (force_login) leaves none."""
    world = alpha_requires_approvers
    approver = world.users["approver"]
    events = NetworkEvent.objects.filter(network=world.networks["alpha"], subject_user=approver,
                                         action__in=[NetworkEvent.Action.LOGGED_IN, NetworkEvent.Action.MFA_ENABLED])
    Client().force_login(approver)
    assert not events.exists()
    client = Client()
    log_in(client, "approver")
    with django_capture_on_commit_callbacks(execute=True):  # allauth signals the app once committed
        activate(client)
    actions = list(events.order_by("id").values_list("action", "actor", "ip"))
    assert actions == [(NetworkEvent.Action.LOGGED_IN, approver.pk, "127.0.0.1")] + [
        (NetworkEvent.Action.MFA_ENABLED, approver.pk, "127.0.0.1")] * 2, actions
    # the app, and the recovery codes made with it
    assert sorted(event.details["type"] for event in events.filter(action=NetworkEvent.Action.MFA_ENABLED)) == [
        "recovery_codes", "totp"]


def test_an_invitation_accepted_by_someone_with_a_second_factor_does_not_log_them_in(alpha_requires_approvers):
    """The link adds the role; the login still asks the app's code (no way round the second factor)."""
    world = alpha_requires_approvers
    client = Client()
    log_in(client, "approver")
    activate(client)
    _invitation, token = invitation_create(node=world.nodes["N1"], email="approver@example.test", role="analyst",
                                           invited_by=world.users["head_office"])
    visitor = Client()
    new = "a-New-passphrase-for-the-approver-77"
    answer = visitor.post(f"/accounts/invitation/{token}/", {"first_name": "A", "last_name": "B",
                                                              "password1": new, "password2": new})
    assert answer.status_code == 302 and answer["Location"] == "/accounts/login/"
    assert "_auth_user_id" not in visitor.session
    assert log_in(Client(), "approver", new)["Location"] == "/accounts/2fa/authenticate/"


def test_the_token_endpoint_counts_failures_and_refuses_anyone_with_a_second_factor(alpha_requires_approvers):
    """Failed attempts count with the login page's: beyond 5 on one account even the right password
    is refused (429). Someone with a second factor — required or taken up — gets no token by
    password alone."""
    world = alpha_requires_approvers
    api = Client()
    for _attempt in range(5):
        assert api.post("/api/v1/auth/token/", {"username": "analyst", "password": "wrong"}).status_code == 400
    assert api.post("/api/v1/auth/token/", {"username": "analyst", "password": PASSWORD}).status_code == 429
    assert api.post("/api/v1/auth/token/", {"username": "branch_manager", "password": PASSWORD}).status_code == 200
    # not required of branch managers: taken up anyway
    Authenticator.objects.create(user=world.users["branch_manager"], type=Authenticator.Type.TOTP, data={})
    assert api.post("/api/v1/auth/token/", {"username": "branch_manager", "password": PASSWORD}).status_code == 403


def test_the_admin_logs_in_through_the_login_page():
    """Django's admin login form (password only, no limit) is replaced by the login page."""
    response = Client().get("/admin/login/?next=/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
