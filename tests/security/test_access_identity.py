"""Every route of the sending identity × every role of the world × alpha, beta and a missing
network: head office of the network answers; anyone else — another network's head office on
alpha's identity included — gets 404, the same answer as a network that does not exist."""

from __future__ import annotations

import pytest

from central.identity.services import identity_save
from central.models import SendingIdentity
from local_stores.models import NetworkEvent

pytestmark = pytest.mark.django_db

ROUTES = [  # (method, path, body)
    ("get", "/network/identity/", None),
    ("post", "/network/identity/", {"from_local_part": "x", "from_domain": "pirate.test", "from_name": "branch",
                                    "reply_to": "none", "email_method": "smtp", "smtp_port": "25",
                                    "smtp_security": "none", "sms_provider": "none"}),
    ("post", "/network/identity/test/", {"to": "pirate@example.test"}),
    ("get", "/api/v1/network/identity/", None),
    ("patch", "/api/v1/network/identity/", {"from_domain": "pirate.test"}),
]
ROLES = ["branch_manager", "sibling_branch_manager", "other_region_manager", "regional_manager", "approver",
         "analyst", "nobody", "head_office", "other_network_head_office"]


def _call(client, method, path, network, body):
    if method == "patch":
        return client.patch(f"{path}?network={network}", body, content_type="application/json")
    if method == "post":
        return client.post(path, {**body, "network": network})
    return client.get(path, {"network": network})


@pytest.mark.parametrize("method, path, body", ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_only_the_networks_head_office_reaches_its_identity(world, method, path, body):
    alpha = world.networks["alpha"]
    identity_save(network=alpha, saved_by=world.users["head_office"],
                  data={"from_local_part": "offres", "from_domain": "alpha-mail.test", "smtp_host": "127.0.0.1"})
    events = NetworkEvent.objects.filter(network=alpha).count()
    for actor in ROLES:
        if actor == "head_office":
            continue
        client = world.client_for(actor)
        for network in ("alpha", "missing"):
            response = _call(client, method, path, network, body)
            assert response.status_code == 404, (actor, network, response.status_code)
    identity = SendingIdentity.objects.get(network=alpha)
    assert (identity.from_domain, identity.last_test_at) == ("alpha-mail.test", None)
    assert NetworkEvent.objects.filter(network=alpha).count() == events  # nothing done, nothing tried
    head_office = world.client_for("head_office")
    assert _call(head_office, method, path, "missing", body).status_code == 404
    assert _call(head_office, method, path, "beta", body).status_code == 404
    assert _call(head_office, method, path, "alpha", body).status_code in (200, 302)
    # beta's head office reaches beta's own identity
    assert _call(world.client_for("other_network_head_office"), method, path, "beta", body).status_code in (200, 302)


def test_anonymous_is_sent_to_the_login_or_refused(client):
    for method, path, body in ROUTES:
        response = _call(client, method, path, "alpha", body or {})
        if path.startswith("/api/"):
            assert response.status_code in (401, 403)
        else:
            assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
