"""The single sign-on set-up's REST API (central/people/sso_api.py): the configuration with its
write-only secret, the role mappings, the discovery check against a real provider on loopback."""

import pytest
from oidc_provider_mock import run_server_in_thread

from local_stores import secrets
from local_stores.models import NetworkEvent, Role, SsoConfig, SsoRoleMapping

URL = "/api/v1/network/sso/"
VALID = {"enabled": True, "issuer_url": "https://login.alpha.test/v2.0", "client_id": "relais",
         "client_secret": "very-secret-1234", "email_domains": ["Alpha.test", "@alpha-bank.test"],
         "password_login_allowed": False, "trust_provider_mfa": True}


@pytest.fixture
def head_office(world):
    return world.client_for("head_office")


def test_get_before_any_set_up_answers_the_defaults(head_office):
    answer = head_office.get(URL).json()
    assert answer["network"] == "alpha" and answer["enabled"] is False and answer["issuer_url"] is None and answer["client_secret_set"] is False
    assert answer["password_login_allowed"] is True and answer["trust_provider_mfa"] is False
    assert "client_secret" not in answer and "client_secret_encrypted" not in answer


def test_put_saves_the_set_up_and_never_answers_the_secret(world, head_office):
    saved = head_office.put(URL, VALID, content_type="application/json")
    assert saved.status_code == 200, saved.content
    body = saved.json()
    assert "very-secret-1234" not in saved.content.decode() and "client_secret" not in body
    assert body["client_secret_set"] is True and body["email_domains"] == ["alpha-bank.test", "alpha.test"]
    assert body["password_login_allowed"] is False and body["trust_provider_mfa"] is True
    config = SsoConfig.objects.get(network=world.networks["alpha"])
    assert secrets.decrypt(config.client_secret_encrypted) == "very-secret-1234"
    event = NetworkEvent.objects.filter(action=NetworkEvent.Action.SSO_CONFIGURED).latest("pk")
    assert "client_secret" in event.details["fields"] and "password_login_allowed" in event.details["fields"]
    assert "very-secret-1234" not in str(event.details)
    # PATCH: a blank secret keeps the stored one
    patched = head_office.patch(URL, {"client_secret": "", "trust_provider_mfa": False}, content_type="application/json")
    assert patched.status_code == 200 and patched.json()["trust_provider_mfa"] is False
    config.refresh_from_db()
    assert secrets.decrypt(config.client_secret_encrypted) == "very-secret-1234"


@pytest.mark.parametrize("body, field", [
    ({**VALID, "issuer_url": "not a url"}, "issuer_url"),
    ({**VALID, "issuer_url": None}, "issuer_url"),
    ({**VALID, "email_domains": ["no-dot"]}, "email_domains"),
    ({**VALID, "email_domains": []}, "email_domains"),
    ({**VALID, "client_secret": ""}, "client_secret"),
    ({**VALID, "client_id": ""}, "client_id"),
    ({**VALID, "password_login_allowed": "perhaps"}, "password_login_allowed"),
])
def test_bad_input_is_a_400_by_field(world, head_office, body, field):
    answer = head_office.put(URL, body, content_type="application/json")
    assert answer.status_code == 400 and field in answer.json(), answer.content
    assert not SsoConfig.objects.exists()


def test_a_domain_of_another_network_is_a_400(world, head_office):
    SsoConfig.objects.create(network=world.networks["beta"], issuer_url="https://b.test", client_id="b",
                             email_domains=["alpha.test"])
    answer = head_office.put(URL, VALID, content_type="application/json")
    assert answer.status_code == 400 and "email_domains" in answer.json()


def test_mappings_are_listed_added_and_removed_with_labels(world, head_office):
    head_office.put(URL, VALID, content_type="application/json")
    node = world.nodes["N1"]
    added = head_office.post(f"{URL}mappings/", {"claim_value": "n1-managers", "node": node.public_id,
                                                 "role": Role.BRANCH_MANAGER}, content_type="application/json")
    assert added.status_code == 201, added.content
    assert added.json()["node_name"] == "Lille" and added.json()["role_label"] == str(Role.BRANCH_MANAGER.label)
    again = head_office.post(f"{URL}mappings/", {"claim_value": "n1-managers", "node": node.public_id,
                                                 "role": Role.BRANCH_MANAGER}, content_type="application/json")
    assert again.status_code == 200 and SsoRoleMapping.objects.count() == 1
    listed = head_office.get(f"{URL}mappings/").json()
    assert [row["claim_value"] for row in listed] == ["n1-managers"]
    wrong_kind = head_office.post(f"{URL}mappings/", {"claim_value": "x", "node": world.nodes["NORTH"].public_id,
                                                      "role": Role.BRANCH_MANAGER}, content_type="application/json")
    assert wrong_kind.status_code == 400 and "role" in wrong_kind.json()
    foreign = head_office.post(f"{URL}mappings/", {"claim_value": "x", "node": world.nodes["W1"].public_id,
                                                   "role": Role.BRANCH_MANAGER}, content_type="application/json")
    assert foreign.status_code == 400 and "node" in foreign.json()
    bad_role = head_office.post(f"{URL}mappings/", {"claim_value": "x", "node": node.public_id, "role": "king"},
                                content_type="application/json")
    assert bad_role.status_code == 400 and "role" in bad_role.json()
    removed = head_office.delete(f"{URL}mappings/{listed[0]['id']}/")
    assert removed.status_code == 204 and not SsoRoleMapping.objects.exists()
    assert head_office.delete(f"{URL}mappings/{listed[0]['id']}/").status_code == 404


def test_discovery_against_a_real_provider(world, head_office):
    assert head_office.post(f"{URL}discovery/").status_code == 400  # nothing saved yet
    with run_server_in_thread(port=0) as server:
        issuer = f"http://localhost:{server.server_port}"
        head_office.put(URL, {**VALID, "issuer_url": issuer}, content_type="application/json")
        answer = head_office.post(f"{URL}discovery/").json()
    assert answer["ok"] is True and answer["issuer"] == issuer
    assert answer["end_session_endpoint"] == f"{issuer}/oauth2/end_session"
    head_office.patch(URL, {"issuer_url": "http://127.0.0.1:9"}, content_type="application/json")
    failed = head_office.post(f"{URL}discovery/").json()
    assert failed["ok"] is False and failed["error"]
