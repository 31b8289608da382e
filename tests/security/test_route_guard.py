"""Every route Django resolves is declared here with the guard it must have, and checked without
logging in and as a user without any role: a new route without an entry fails the test.

This is the first layer of the access matrix (issue "Proof of robustness"): who may not even reach
a route. Row-level scoping — which objects of which branch each role sees — is proven by
tests/security/test_access_matrix.py and the scoping tests of each feature.

Guards:
* ``public``  — reached without logging in (links in messages, the sign-up page, the login page…):
  never a server error, an unknown token or id answers 404 (or 400/403 for a signed webhook);
* ``page``    — a page for signed-in users: anonymous → the login page; a user without any role
  and a missing object → 404 (never 200, never a server error);
* ``api``     — the REST API: anonymous → 401/403; a user without any role → 403, 404 or an empty
  answer, never someone else's data (there is none to see), never a server error;
* ``admin``   — Django's admin: anonymous and non-staff users → the admin's login page;
* ``superuser`` — the platform's pages (issue 22): anonymous → the login page; any signed-in user
  but a superuser → 404, whatever the route.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db

#: Every route by its name (namespace:name), or its pattern when unnamed.
ROUTES: dict[str, str] = {
    "home": "page", "login": "public", "logout": "public", "set_language": "public", "healthz": "public",
    "api-schema": "public", "api-docs": "public", "admin:login": "public", "admin:logout": "public",
    # the network
    "branches:branch-list": "page", "branches:branch-detail": "page", "branches:branch-edit": "page",
    "operations:operations": "page", "operations:operation-answer": "page", "operations:kit-use": "page",
    "campaigns:target-review": "page",
    "campaigns:campaign-edit": "page", "campaigns:campaign-send-control": "page",
    "campaigns:campaign-target": "page", "campaigns:campaign-cancel": "page",
    "campaigns:campaign-request-approval": "page", "campaigns:campaign-schedule": "page",
    "rules:campaign-simulate": "page", "rules:customer-why-search": "page",
    "rules:customer-why": "page", "rules:transfers": "page", "rules:transfer-decide": "page",
    # customers
    "central:customer-list": "page", "central:customer-export": "page", "central:customer-import": "page",
    "central:customer-import-detail": "page", "central:customer-import-errors": "page",
    "central:signup-poster": "page", "central:customer-detail": "page", "central:customer-erase": "page",
    # templates
    "templates_lib:template-list": "page", "templates_lib:template-create": "page", "templates_lib:asset-list": "page",
    "templates_lib:asset-archive": "page", "templates_lib:content-rules": "page", "templates_lib:preview-pdf": "page",
    "templates_lib:draft-edit": "page", "templates_lib:draft-preview": "page", "templates_lib:version-publish": "page",
    "templates_lib:template-detail": "page", "templates_lib:version-new-draft": "page",
    "templates_lib:template-archive": "page", "templates_lib:template-try": "page",
    "templates_lib:brand-kit": "page", "templates_lib:visual-editor": "page",
    "templates_lib:visual-preview": "page", "templates_lib:visual-save": "page",
    # the calendar and the rules
    "calendar:calendar": "page", "calendar:calendar-feed-settings": "page", "calendar:operation-create": "page",
    "calendar:periods": "page", "calendar:rules": "page", "calendar:suppressions": "page",
    "calendar:arbitration": "page", "calendar:operation-detail": "page", "calendar:operation-answer": "page",
    "calendar:conflicts": "page",
    "calendar:operation-edit": "page", "calendar:operation-publish": "page",
    "calendar:national-campaign-create": "page", "calendar-feed": "public",
    # approvals, reports, budgets
    "approvals:inbox": "page", "approvals:proof": "page", "approvals:proof-content": "page",
    "approvals:proof-pdf": "page", "approvals:proof-decide": "page", "approvals:proof-revoke": "page",
    "approvals:policies": "page", "approvals:policy-create": "page", "approvals:policy-edit": "page",
    "approvals:audit-export": "page", "reporting:dashboard": "page", "reporting:campaign-promote": "page",
    "budgets:budget-list": "page", "budgets:budget-allocate": "page",
    # links in messages, replies, sign-ups
    "public:unsubscribe": "public", "public:open": "public", "public:click": "public",
    "public:view-online": "public", "public:sms-inbound-twilio": "public", "public:signup-confirm": "public",
    "public:signup": "public",
    # the API
    "api-token": "public", "api-branch-list": "api", "api-branch-detail": "api", "api-customer-list": "api",
    "api-customer-detail": "api", "api-customer-erase": "api", "api-customer-why": "api",
    "api-customer-import-create": "api", "api-customer-import-detail": "api", "api-purchase-import-create": "api",
    "api-purchase-import-detail": "api", "api-budget-list": "api", "api-operation-list": "api",
    "api-operation-detail": "api", "api-operation-publish": "api", "api-operation-participations": "api",
    "api-campaign-list": "api", "api-campaign-detail": "api", "api-campaign-audience": "api",
    "api-campaign-audience-count": "api", "api-campaign-clashes": "api", "api-campaign-target": "api",
    "api-campaign-history": "api", "api-campaign-cancel": "api", "api-campaign-simulation": "api",
    "api-network-rules": "api", "api-arbitration-simulations": "api", "api-ownership-transfer-list": "api",
    "api-network-conflicts": "api",
    "api-brand-kit": "api",
    "api-ownership-transfer-decide": "api", "api-operation-target-review": "api",
    # print runs: downloads and head office's retry behind the scoped lookups, the printer's page;
    # the printer's signed links (hand-off by e-mail)
    "print:file-download": "page", "print:manifest-download": "page", "print:handoff-retry": "page",
    "print:printer-settings": "page", "print:printer-download": "public",
    # issue 22 — networks
    "networks:platform-network-list": "superuser", "networks:platform-network-create": "superuser",
    "networks:network-settings": "page", "networks:network-audit": "page", "networks:network-audit-export": "page",
    "api-network-settings": "api", "api-network-events": "api",
    # issue 22 — structure
    "structure:structure": "page", "structure:node-create": "page", "structure:import": "page",
    "structure:import-result": "page", "structure:import-report": "page", "structure:node-detail": "page",
    "structure:node-edit": "page", "structure:node-move": "page", "structure:node-close": "page",
    "structure:node-reopen": "page", "api-node-list": "api", "api-node-detail": "api", "api-node-close": "api",
    "api-node-reopen": "api", "api-structure-import": "api",
    # issue 22 — customers
    "central:customer-create": "page", "central:customer-edit": "page",
    # issue 22 — identity
    "identity:identity": "page", "identity:identity-test": "page", "api-network-identity": "api",
    "api-network-identity-test": "api",
    # issue 22 — people
    "people:people-list": "page", "people:person-invite": "page", "people:person-detail": "page",
    "people:person-role-grant": "page", "people:person-role-revoke": "page", "people:person-deactivate": "page",
    "people:person-reactivate": "page", "people:person-sessions-end": "page", "people:invitation-revoke": "page",
    "people:invitation-resend": "page", "invitation-accept": "public", "password_reset": "public",
    "password_reset_done": "public", "password_reset_confirm": "public", "password_reset_complete": "public",
    # issue 22 — login
    "account_login": "public", "account_logout": "public", "account_inactive": "public",
    "mfa_authenticate": "public", "account_reauthenticate": "page", "mfa_index": "page", "mfa_reauthenticate": "page",
    "mfa_activate_totp": "page", "mfa_deactivate_totp": "page", "mfa_view_recovery_codes": "page",
    "mfa_download_recovery_codes": "page", "mfa_generate_recovery_codes": "page", "usersessions_list": "page",
    # issue 22 — sso
    "sso:sso": "page", "sso:sso-mappings": "page", "sso:sso-discovery": "page", "sso-login": "public",
    "openid_connect_login": "public", "openid_connect_callback": "public",
    # issue 22 E — each network's own tracking webhook (its secret; tests/security/test_access_identity_webhook.py)
    "identity-tracking-webhook": "public",
    # issue 22 — sessions one by one
    "people:person-session-end": "page", "usersession-end": "page",
    # issue 22 — sso API (central/people/sso_api.py)
    "api-sso-config": "api", "api-sso-mappings": "api", "api-sso-mapping": "api", "api-sso-discovery": "api",
}
#: Families declared as a whole: the admin, the providers' webhooks (django-anymail, basic auth and
#: the provider's signature), the demo's public uploads (assets and logos only, tests/security/test_media.py).
#: And the REST API: every route under /api/v1/ but those named above (the token endpoint).
FAMILIES = (("admin", re.compile(r"^admin/")), ("public", re.compile(r"^webhooks/email/")),
            ("public", re.compile(r"^\^media/(assets|logos)/")), ("api", re.compile(r"^api/v1/")))
API_PREFIX = "api/v1/"
#: Values for the routes' parameters: nothing that exists.
DUMMIES = {"public_id": "zz_missing00000000", "token": "t_missingtoken000000000000", "slug": "no-such-network",
           "action": "pause", "object_id": "999999", "id": "999999", "content_type_id": "999999", "path": "x"}


def _routes(patterns=None, prefix: str = "", namespace: str = ""):
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace + (f"{pattern.namespace}:" if pattern.namespace else "")
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), (namespace + pattern.name) if pattern.name else None


def _guard(route: str, name: str | None) -> str | None:
    if (name or route) in ROUTES:
        return ROUTES[name or route]
    for guard, family in FAMILIES:
        if family.match(route):
            return guard
    return None


def _url(route: str) -> str:
    """A concrete URL for the route, with a value that exists nowhere for each parameter."""
    url = re.sub(r"<(?:\w+:)?(\w+)>", lambda match: DUMMIES.get(match.group(1), "x"), route)
    url = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda match: DUMMIES.get(match.group(1), "x"), url)
    url = url.replace("^", "").replace("$", "").replace("(_mime)?", "")
    return "/" + url


ALL = sorted(set(_routes()), key=lambda item: item[0])


def test_every_route_is_declared():
    undeclared = [f"{route} ({name})" for route, name in ALL if _guard(route, name) is None]
    assert not undeclared, "routes without a guard in tests/security/test_route_guard.py: " + ", ".join(undeclared)
    stale = set(ROUTES) - {name or route for route, name in ALL}
    assert not stale, f"declared routes that no longer exist: {sorted(stale)}"


@pytest.fixture
def roleless() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_user("roleless", password="roleless-password-1"))
    return client


@pytest.mark.parametrize("route, name", ALL, ids=[name or route for route, name in ALL])
def test_each_route_refuses_who_may_not_reach_it(client, roleless, route, name):
    guard = _guard(route, name)
    url = _url(route)
    for method in ("get", "post"):
        anonymous = getattr(client, method)(url)
        assert anonymous.status_code < 500, (method, url, anonymous.status_code)
        if guard in ("page", "superuser"):
            assert anonymous.status_code in (302, 405), (method, url, anonymous.status_code)
            if anonymous.status_code == 302:
                assert anonymous["Location"].startswith("/accounts/login/"), (method, url)
        elif guard == "api":
            assert anonymous.status_code in (401, 403, 405), (method, url, anonymous.status_code)
        elif guard == "admin":
            assert anonymous.status_code in (302, 405), (method, url, anonymous.status_code)
            if anonymous.status_code == 302:
                assert "/admin/login/" in anonymous["Location"], (method, url)
        else:  # public: nothing to find behind an unknown token or id
            assert anonymous.status_code in (200, 302, 400, 401, 403, 404, 405), (method, url)
        signed_in = getattr(roleless, method)(url)
        assert signed_in.status_code < 500, (method, url, signed_in.status_code)
        has_object = "<" in route or "(?P" in route
        if guard in ("page", "api") and has_object:
            # a missing object, or a route this user has no business on: never found, never done
            assert signed_in.status_code in (400, 403, 404, 405), (method, url, signed_in.status_code)
        if guard == "admin":
            assert signed_in.status_code in (302, 405), (method, url, signed_in.status_code)
        if guard == "superuser":
            assert signed_in.status_code in (404, 405), (method, url, signed_in.status_code)
