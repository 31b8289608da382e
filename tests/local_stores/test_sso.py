"""Single sign-on's rules and its set-up page (issue 22 D): roles synced from the groups claim
(granted, revoked, hand grants untouched), the configuration saved with its secret write-only and
audited by field names, the role mappings, the discovery test against a real provider."""

import pytest
from oidc_provider_mock import run_server_in_thread

from local_stores import secrets
from local_stores.models import NetworkEvent, Role, RoleGroup, SsoConfig, SsoGrant, SsoRoleMapping
from local_stores.services import role_grant, role_revoke
from local_stores.sso import sso_config_for_email, sso_roles_sync

SECRET = "client-secret-value-98765"


@pytest.fixture
def alpha_sso(world):
    alpha = world.networks["alpha"]
    config = SsoConfig.objects.create(network=alpha, enabled=True, issuer_url="https://idp.alpha.test",
                                      client_id="relais", email_domains=["alpha.test"],
                                      client_secret_encrypted=secrets.encrypt(SECRET))
    for claim, node, role in (("n1", "N1", Role.BRANCH_MANAGER), ("north", "NORTH", Role.REGIONAL_MANAGER),
                              ("n1", "alpha:HQ", Role.ANALYST)):
        SsoRoleMapping.objects.create(network=alpha, claim_value=claim, node=world.nodes[node], role=role)
    return config


def roles_of(user):
    return set(RoleGroup.objects.filter(group__user=user).values_list("node__code", "role"))


def test_roles_follow_the_claims_and_hand_grants_stay(world, alpha_sso):
    alpha = world.networks["alpha"]
    person = world.users["nobody"]
    role_grant(user=person, node=world.nodes["N2"], role=Role.BRANCH_MANAGER)
    role_grant(user=person, node=world.nodes["NORTH"], role=Role.REGIONAL_MANAGER)  # by hand, later mapped too
    result = sso_roles_sync(person, alpha, {"groups": ["n1", "north", "unmapped"]})
    assert sorted(map(tuple, result["granted"])) == [("HQ", Role.ANALYST), ("N1", Role.BRANCH_MANAGER)]
    assert roles_of(person) == {("N1", "branch_manager"), ("N2", "branch_manager"), ("NORTH", "regional_manager"),
                                ("HQ", "analyst")}
    assert sso_roles_sync(person, alpha, {"groups": ["n1", "north"]}) == {"granted": [], "revoked": []}
    role_revoke(user=person, node=world.nodes["N1"], role=Role.BRANCH_MANAGER)  # by hand, while still mapped
    assert sso_roles_sync(person, alpha, {"groups": ["n1", "north"]}) == {"granted": [["N1", "branch_manager"]],
                                                                          "revoked": []}, "the provider still says so"
    result = sso_roles_sync(person, alpha, {"groups": "north"})  # a single value, not a list
    assert sorted(map(tuple, result["revoked"])) == [("HQ", Role.ANALYST), ("N1", Role.BRANCH_MANAGER)]
    assert roles_of(person) == {("N2", "branch_manager"), ("NORTH", "regional_manager")}, "hand grants kept"
    sso_roles_sync(person, alpha, {})
    assert roles_of(person) == {("N2", "branch_manager"), ("NORTH", "regional_manager")}
    assert not SsoGrant.objects.filter(user=person).exists()
    synced = NetworkEvent.objects.filter(action=NetworkEvent.Action.SSO_ROLES_SYNCED, subject_user=person)
    assert synced.count() == 3 and all(event.actor is None for event in synced)


def test_the_groups_claim_is_the_configured_one(world, alpha_sso):
    alpha_sso.groups_claim = "roles"
    alpha_sso.save()
    person = world.users["nobody"]
    sso_roles_sync(person, world.networks["alpha"], {"groups": ["n1"]})
    assert roles_of(person) == set()
    sso_roles_sync(person, world.networks["alpha"], {"roles": ["n1"]})
    assert ("N1", "branch_manager") in roles_of(person)


def test_the_network_is_found_by_the_e_mail_s_domain(world, alpha_sso):
    assert sso_config_for_email("Bob@ALPHA.test") == alpha_sso
    assert sso_config_for_email("bob@beta.test") is None
    assert sso_config_for_email("not-an-address") is None
    alpha_sso.enabled = False
    alpha_sso.save()
    assert sso_config_for_email("bob@alpha.test") is None


FORM = {"network": "alpha", "issuer_url": "https://login.example.test/tenant/v2.0", "client_id": "relais-app",
        "scopes": "openid email profile", "groups_claim": "groups", "email_domains": "alpha.test\r\n@Alpha-Group.TEST\r\n",
        "client_secret": SECRET, "enabled": "on",
        "password_login_allowed": "on"}  # the page ticks it by default (a browser posts it)


def test_the_set_up_is_saved_its_secret_never_shown_back(world):
    client = world.client_for("head_office")
    page = client.get("/network/sso/")
    assert page.status_code == 200 and "not set up yet" in page.content.decode()
    saved = client.post("/network/sso/", FORM)
    assert saved.status_code == 302
    config = SsoConfig.objects.get(network=world.networks["alpha"])
    assert config.email_domains == ["alpha-group.test", "alpha.test"]
    assert secrets.decrypt(config.client_secret_encrypted) == SECRET and SECRET not in config.client_secret_encrypted
    body = client.get(saved["Location"]).content.decode()
    assert SECRET not in body and SECRET[-4:] not in body and config.client_secret_encrypted not in body
    assert "set on" in body and "http://testserver/accounts/oidc/net-alpha/login/callback/" in body
    event = NetworkEvent.objects.get(action=NetworkEvent.Action.SSO_CONFIGURED)
    assert set(event.details["fields"]) == {"enabled", "issuer_url", "client_id", "email_domains", "client_secret"}
    assert SECRET not in str(event.details)
    # the same form again (back button, second click), the secret left empty: kept, nothing new audited
    again = client.post("/network/sso/", {**FORM, "client_secret": ""})
    assert again.status_code == 302
    config.refresh_from_db()
    assert secrets.decrypt(config.client_secret_encrypted) == SECRET
    assert NetworkEvent.objects.filter(action=NetworkEvent.Action.SSO_CONFIGURED).count() == 1


def test_enabling_needs_a_domain_and_a_secret_and_a_domain_is_one_network_s(world):
    client = world.client_for("head_office")
    refused = client.post("/network/sso/", {**FORM, "client_secret": "", "email_domains": ""})
    body = refused.content.decode()
    assert refused.status_code == 200 and "data-form-errors" in body
    assert "Give at least one domain" in body and "Give the client secret" in body
    assert not SsoConfig.objects.exists()
    beta = world.client_for("other_network_head_office")
    assert beta.post("/network/sso/", {**FORM, "network": "beta", "email_domains": "beta.test"}).status_code == 302
    taken = client.post("/network/sso/", {**FORM, "email_domains": "beta.test"})
    assert taken.status_code == 200 and "Another network already uses these domains: beta.test" in taken.content.decode()


def test_role_mappings_are_added_and_removed(world):
    client = world.client_for("head_office")
    client.post("/network/sso/", FORM)
    n1 = world.nodes["N1"]
    added = client.post("/network/sso/mappings/", {"network": "alpha", "claim_value": "relais-n1-managers",
                                                   "node": n1.public_id, "role": "branch_manager"})
    assert added.status_code == 302
    again = client.post("/network/sso/mappings/", {"network": "alpha", "claim_value": "relais-n1-managers",
                                                   "node": n1.public_id, "role": "branch_manager"})
    assert again.status_code == 302 and SsoRoleMapping.objects.count() == 1
    page = client.get("/network/sso/").content.decode()
    assert "relais-n1-managers" in page and "Lille" in page
    foreign = client.post("/network/sso/mappings/", {"network": "alpha", "claim_value": "x",
                                                     "node": world.nodes["W1"].public_id, "role": "branch_manager"})
    assert foreign.status_code == 200 and "data-form-errors" in foreign.content.decode()
    wrong_kind = client.post("/network/sso/mappings/", {"network": "alpha", "claim_value": "x",
                                                        "node": world.nodes["NORTH"].public_id, "role": "branch_manager"})
    assert wrong_kind.status_code == 200 and "The branch manager role is granted on a branch." in wrong_kind.content.decode()
    mapping = SsoRoleMapping.objects.get()
    assert client.post("/network/sso/mappings/", {"network": "alpha", "remove": mapping.pk}).status_code == 302
    assert not SsoRoleMapping.objects.exists()
    changes = NetworkEvent.objects.filter(action=NetworkEvent.Action.SSO_CONFIGURED, details__fields=["role_mapping"])
    assert [event.details["mapping"] for event in changes.order_by("at", "id")] == ["added", "removed"]


def test_the_discovery_test_reads_a_real_provider_and_says_what_failed(world):
    client = world.client_for("head_office")
    with run_server_in_thread(port=0) as server:
        issuer = f"http://localhost:{server.server_port}"
        client.post("/network/sso/", {**FORM, "issuer_url": issuer})
        body = client.post("/network/sso/discovery/", {"network": "alpha"}).content.decode()
    assert 'data-discovery="ok"' in body and f"{issuer}/oauth2/authorize" in body
    client.post("/network/sso/", {**FORM, "issuer_url": "http://127.0.0.1:9"})
    body = client.post("/network/sso/discovery/", {"network": "alpha"}).content.decode()
    assert 'data-discovery="error"' in body and "http://127.0.0.1:9/.well-known/openid-configuration" in body
