"""Every route of the single sign-on set-up × every role of the world × alpha, beta and a missing
network: the network's head office (manage_people on the head office) answers; anyone else —
a regional manager, who manages people of a region only, and another network's head office on
alpha's set-up included — gets 404, the same answer as a network that does not exist. The
provider's login and callback are public: an unknown or disabled provider is 404 for everyone."""

from __future__ import annotations

import pytest
from django.test import Client

from local_stores import secrets
from local_stores.models import NetworkEvent, Role, SsoConfig, SsoRoleMapping

pytestmark = pytest.mark.django_db

ROUTES = [  # (method, path, body)
    ("get", "/network/sso/", None),
    ("post", "/network/sso/", {"enabled": "on", "issuer_url": "https://pirate.test", "client_id": "pirate",
                               "scopes": "openid", "groups_claim": "groups", "email_domains": "pirate.test"}),
    ("post", "/network/sso/mappings/", {"claim_value": "pirates", "node": "x", "role": "branch_manager"}),
    ("post", "/network/sso/mappings/", {"remove": "MAPPING"}),
    ("post", "/network/sso/discovery/", {}),
]
ROLES = ["branch_manager", "sibling_branch_manager", "other_region_manager", "regional_manager", "approver",
         "analyst", "nobody", "head_office", "other_network_head_office"]


def _call(client, method, path, network, body, mapping):
    if method == "post":
        body = {key: (str(mapping.pk) if value == "MAPPING" else value) for key, value in body.items()}
        return client.post(path, {**body, "network": network})
    return client.get(path, {"network": network})


@pytest.fixture
def alpha_sso(world):
    alpha = world.networks["alpha"]
    config = SsoConfig.objects.create(network=alpha, enabled=True, issuer_url="http://127.0.0.1:9", client_id="relais",
                                      client_secret_encrypted=secrets.encrypt("s3cret-value"), email_domains=["alpha.test"])
    mapping = SsoRoleMapping.objects.create(network=alpha, claim_value="relais-n1-managers", node=world.nodes["N1"],
                                            role=Role.BRANCH_MANAGER)
    return config, mapping


@pytest.mark.parametrize("method, path, body", ROUTES, ids=[f"{m} {p} {sorted(b or {})}" for m, p, b in ROUTES])
def test_only_the_networks_head_office_reaches_its_sso(world, alpha_sso, method, path, body):
    config, mapping = alpha_sso
    alpha = world.networks["alpha"]
    events = NetworkEvent.objects.filter(network=alpha).count()
    for actor in ROLES:
        if actor == "head_office":
            continue
        client = world.client_for(actor)
        for network in ("alpha", "missing"):
            response = _call(client, method, path, network, body, mapping)
            assert response.status_code == 404, (actor, network, response.status_code)
    config.refresh_from_db()
    assert (config.issuer_url, config.client_id) == ("http://127.0.0.1:9", "relais")
    assert SsoRoleMapping.objects.filter(network=alpha).count() == 1
    assert NetworkEvent.objects.filter(network=alpha).count() == events  # nothing done, nothing tried
    head_office = world.client_for("head_office")
    assert _call(head_office, method, path, "missing", body, mapping).status_code == 404
    assert _call(head_office, method, path, "beta", body, mapping).status_code == 404
    assert _call(head_office, method, path, "alpha", body, mapping).status_code in (200, 302)
    # beta's head office reaches beta's own set-up (alpha's mapping is not beta's: 404)
    beta = _call(world.client_for("other_network_head_office"), method, path, "beta", body, mapping)
    assert beta.status_code == (404 if body and "remove" in body else 200 if method == "get" or "node" in (body or {})
                                or "issuer_url" in (body or {}) else 302), beta.status_code


def test_anonymous_is_sent_to_the_login(client):
    for method, path, _body in ROUTES:
        response = getattr(client, method)(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), (method, path)


@pytest.mark.parametrize("provider", ["net-alpha", "net-beta", "net-missing", "openid_connect"])
def test_the_provider_routes_of_no_enabled_network_are_404(world, alpha_sso, provider):
    config, _mapping = alpha_sso
    config.enabled = False
    config.save()
    for actor in ("anonymous", "head_office", "other_network_head_office"):
        client = world.client_for(actor)
        assert client.post(f"/accounts/oidc/{provider}/login/").status_code == 404
        assert client.get(f"/accounts/oidc/{provider}/login/callback/?code=x&state=y").status_code == 404


def test_the_callback_without_a_started_login_logs_nobody_in(world, alpha_sso):
    client = Client()
    response = client.get("/accounts/oidc/net-alpha/login/callback/?code=forged&state=forged")
    assert response.status_code < 500
    assert not client.get("/").wsgi_request.user.is_authenticated


@pytest.mark.parametrize("remove", ["abc", "1e3", "999999", "-1"])
def test_removing_a_mapping_that_is_not_one_answers_404(world, alpha_sso, remove):
    response = world.client_for("head_office").post("/network/sso/mappings/?network=alpha", {"remove": remove})
    assert response.status_code == 404


# --- the API (central/people/sso_api.py): api-sso-config, api-sso-mappings, api-sso-mapping, api-sso-discovery

API_ROUTES = [  # (method, path, body)
    ("get", "/api/v1/network/sso/", None),
    ("put", "/api/v1/network/sso/", {"enabled": False, "issuer_url": "https://pirate.test", "client_id": "pirate"}),
    ("patch", "/api/v1/network/sso/", {"client_id": "pirate", "password_login_allowed": False}),
    ("get", "/api/v1/network/sso/mappings/", None),
    ("post", "/api/v1/network/sso/mappings/", {"claim_value": "pirates", "node": "NODE", "role": "branch_manager"}),
    ("delete", "/api/v1/network/sso/mappings/{mapping_id}/", None),
    ("post", "/api/v1/network/sso/discovery/", None),
]


def _api_call(client, method, path, network, body, mapping, node):
    path = path.replace("{mapping_id}", str(mapping.pk)) + f"?network={network}"
    body = {key: (node.public_id if value == "NODE" else value) for key, value in (body or {}).items()}
    if method == "get":
        return client.get(path)
    return getattr(client, method)(path, body, content_type="application/json")


@pytest.mark.parametrize("method, path, body", API_ROUTES, ids=[f"{m} {p}" for m, p, _b in API_ROUTES])
def test_only_the_networks_head_office_reaches_its_sso_api(world, alpha_sso, method, path, body):
    config, mapping = alpha_sso
    alpha = world.networks["alpha"]
    node = world.nodes["N1"]
    events = NetworkEvent.objects.filter(network=alpha).count()
    for actor in ROLES:
        if actor == "head_office":
            continue
        client = world.client_for(actor)
        for network in ("alpha", "missing"):
            response = _api_call(client, method, path, network, body, mapping, node)
            assert response.status_code == 404, (actor, network, response.status_code)
            assert "s3cret-value" not in response.content.decode()
    config.refresh_from_db()
    assert (config.issuer_url, config.client_id, config.password_login_allowed) == ("http://127.0.0.1:9", "relais", True)
    assert SsoRoleMapping.objects.filter(network=alpha).count() == 1
    assert NetworkEvent.objects.filter(network=alpha).count() == events
    head_office = world.client_for("head_office")
    assert _api_call(head_office, method, path, "missing", body, mapping, node).status_code == 404
    assert _api_call(head_office, method, path, "beta", body, mapping, node).status_code == 404
    # beta's head office: alpha's mapping and node are not beta's
    beta = _api_call(world.client_for("other_network_head_office"), method, path, "beta", body, mapping, node)
    # (beta has no set-up yet: a PATCH without the issuer and client is refused by field)
    expected = {"delete": 404, "get": 200, "patch": 400}.get(method, 400 if "mappings" in path or "discovery" in path
                                                              else 200)
    assert beta.status_code == expected, (beta.status_code, beta.content)
    assert SsoRoleMapping.objects.filter(network=alpha).count() == 1
    ours = _api_call(head_office, method, path, "alpha", body, mapping, node)
    assert ours.status_code in (200, 201, 204), ours.status_code
    assert "s3cret-value" not in ours.content.decode()


def test_the_api_refuses_anonymous_callers(client, world, alpha_sso):
    _config, mapping = alpha_sso
    for method, path, body in API_ROUTES:
        response = _api_call(client, method, path, "alpha", body, mapping, world.nodes["N1"])
        assert response.status_code in (401, 403), (method, path, response.status_code)


@pytest.mark.parametrize("mapping_id", ["abc", "1e3", "999999", "-1", "99999999999999999999"])
def test_deleting_a_mapping_that_is_not_one_answers_404(world, alpha_sso, mapping_id):
    response = world.client_for("head_office").delete(f"/api/v1/network/sso/mappings/{mapping_id}/?network=alpha")
    assert response.status_code == 404
    assert SsoRoleMapping.objects.count() == 1
