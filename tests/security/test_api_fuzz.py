"""Property-based fuzzing of the whole REST API (schemathesis), for every operation and every role.

The OpenAPI schema is the one the app serves at /api/schema/ (drf-spectacular). For each operation
and each of nine callers — anonymous, and the eight roles of ``tests/conftest.py`` (branch manager,
sibling and other-region branch managers, regional manager, head office, another network's head
office, approver, analyst), each calling with its own API token — Hypothesis generates requests from
the schema, valid ones and deliberately invalid ones (schemathesis' negative mode), and sends them
through the Django WSGI application in-process, against the test database (SQLite, or PostgreSQL
with DATABASE_URL).

Path parameters: the first example of each run keeps the string schemathesis generated, the others
are drawn from the world's real objects (own branch, sibling, other region, other network) and a
missing id, so the fuzzing reaches the views' code past the 404. The token endpoint gets real
usernames and passwords. Each request runs in its own savepoint, rolled back after it: examples do
not depend on each other and a failure replays alone. On top of the generated requests,
``test_awkward_path_values`` sends hand-picked path values (a NUL byte, 300 characters, non-ASCII…)
to every operation with a path parameter, anonymously and as head office.

Checked on every response:
* ``not_a_server_error``: never a 5xx;
* ``ignored_auth``: no 2xx without credentials from an operation that declares authentication; for
  a caller with a token, the same request without it and with a wrong one answers 401/403;
* ``anonymous_is_refused`` (ours): without credentials, such an operation answers 401/403 and
  nothing else (not a 404 or a 400 telling what exists or what is valid);
* ``content_type_conformance``, ``response_schema_conformance``, ``response_headers_conformance``:
  a documented response has the documented media type, body and headers.

Not checked, on purpose: ``status_code_conformance`` (the schema documents the successes, not DRF's
400/403/404), ``positive_data_acceptance`` (most roles may not do most things: 403/404 is the right
answer), ``negative_data_rejection`` (DRF trims whitespace before ``max_length``, django-filter
reads an empty boolean as "no filter", Django skips a multipart part without a name: lenient inputs
the schema cannot describe, not bugs). The requests it generates still run, for the other checks.

Deterministic (``derandomize=True``, no example database): CI replays the same requests. The number
of examples per operation and role is ``RELAIS_FUZZ_EXAMPLES`` (4 by default); a deeper run:

    RELAIS_FUZZ_EXAMPLES=25 .venv/bin/pytest -p no:cacheprovider tests/security/test_api_fuzz.py

The figures (operations, roles, requests by status class, failures) are printed at the end.
"""

from __future__ import annotations

import io
import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import unquote, urlparse

import pytest
import schemathesis
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.urls import Resolver404, resolve
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi import checks as openapi_checks

from local_stores.models import Role
from tests.conftest import ACTORS, World, build_world, built_once
from tests.people_helpers import with_memberships
from tests.planning import joined_campaign

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("RELAIS_FUZZ_EXAMPLES", "4"))
ROLES = ("anonymous", *ACTORS)
PASSWORD = "secret-password"  # tests/factories.py
MISSING = "zzz_doesnotexist00000"

CHECKS = [
    not_a_server_error,
    openapi_checks.ignored_auth,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.response_headers_conformance,
]


def _declares_authentication(operation) -> bool:
    security = operation.definition.raw.get("security", SCHEMA.raw_schema.get("security", []))
    return bool(security) and {} not in security


def anonymous_is_refused(ctx, response, case) -> None:
    """Stricter than ``ignored_auth`` (which only refuses a 2xx): without credentials, an operation
    that declares authentication answers 401 or 403 and nothing else — not a 404 or a 400 that would
    tell what exists or what is valid — once the request reaches one of the API's routes."""
    if not _declares_authentication(case.operation):
        return None
    path = unquote(urlparse(response.request.url).path)
    if "\x00" in path:  # refused before routing, whoever asks (config/middleware.py)
        return None
    try:
        resolve(path)
    except Resolver404:  # a generated path parameter ("", "a/b"…) that leads to no route at all
        return None
    if response.status_code not in (401, 403):
        raise AssertionError(
            f"Expected 401 or 403 without credentials, got {response.status_code} for {case.operation.label}"
        )
    return None


class CountingApp:
    """The Django WSGI application, counting the requests it answers by status, role and operation
    (schemathesis' own probes — ``ignored_auth`` resends without a token and with a wrong one —
    included)."""

    def __init__(self, app) -> None:
        self.app = app
        self.label, self.role = "", ""  # of the run under way
        self.statuses: Counter[tuple[str, str, int]] = Counter()

    def __call__(self, environ, start_response):
        def counting_start_response(status, headers, exc_info=None):
            self.statuses[self.label, self.role, int(status[:3])] += 1
            return start_response(status, headers, exc_info)

        return self.app(environ, counting_start_response)


APP = CountingApp(get_wsgi_application())
SCHEMA = schemathesis.openapi.from_wsgi("/api/schema/", APP)
APP.statuses.clear()
OPERATIONS = {
    operation.label: operation for operation in (result.ok() for result in SCHEMA.get_all_operations())
}


@dataclass
class Figures:
    runs: int = 0  # one operation as one role, with generated requests
    awkward_runs: int = 0  # one operation as one role, with the awkward path values
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def report(self, terminalreporter) -> None:
        if not (self.runs or self.awkward_runs):
            return
        by_class: Counter[str] = Counter()
        succeeded_by_role: Counter[str] = Counter()
        succeeded_operations = set()
        for (label, role, status), count in APP.statuses.items():
            by_class[f"{status // 100}xx"] += count
            if 200 <= status < 300:
                succeeded_by_role[role] += count
                succeeded_operations.add(label.removesuffix(AWKWARD))
        classes = ", ".join(f"{name}: {count}" for name, count in sorted(by_class.items()))
        write = terminalreporter.write_line
        terminalreporter.write_sep("-", "API fuzzing (tests/security/test_api_fuzz.py)")
        write(
            f"operations: {len(OPERATIONS)}, roles: {len(ROLES)}, examples per operation and role: {EXAMPLES}, "
            f"runs: {self.runs} generated + {self.awkward_runs} awkward-path, requests: {by_class.total()} ({classes}), failures: {len(self.failed)}, "
            f"{self.seconds:.1f} s"
        )
        write(
            f"operations answered with a 2xx at least once: {len(succeeded_operations)}; 2xx by role: "
            + ", ".join(f"{role} {succeeded_by_role[role]}" for role in ROLES)
        )
        for label in self.failed:
            write(f"  failed: {label}")


FIGURES = Figures()


class _FiguresPlugin:
    def pytest_terminal_summary(self, terminalreporter):
        FIGURES.report(terminalreporter)


# --------------------------------------------------------------------------------------------
# the world: conftest's networks and roles, plus one object of every kind the API addresses
# --------------------------------------------------------------------------------------------


@dataclass
class FuzzWorld:
    world: World
    tokens: dict[str, str]
    #: real path-parameter values, by the path's first segment after /api/v1/
    pools: dict[str, list[str]]


def _pools() -> dict[str, list[str]]:
    from approvals.models import ApprovalPolicy, Proof
    from central.models import (
        Campaign,
        Customer,
        CustomerImport,
        Operation,
        OwnershipTransfer,
        PrintFile,
        PrintHandoff,
    )
    from local_stores.models import Invitation, Membership, Network, Node, SsoRoleMapping
    from templates_lib.models import Asset, Template, TemplateVersion

    def ids(queryset, attribute="public_id") -> list[str]:
        # in creation order: public ids are random, the n-th object is not (a replay draws the same)
        return list(queryset.order_by("pk").values_list(attribute, flat=True))

    return {
        "branches": ids(Node.objects.all()),
        "customers": ids(Customer.objects.all()),
        "customer-imports": ids(CustomerImport.objects.all()),
        "purchase-imports": ids(CustomerImport.objects.all()),
        "operations": ids(Operation.objects.all()),
        "campaigns": ids(Campaign.objects.all()),
        "proofs": ids(Proof.objects.all()),
        "approval-policies": ids(ApprovalPolicy.objects.all()),
        "templates": ids(Template.objects.all()),
        "template-versions": ids(TemplateVersion.objects.all()),
        "assets": ids(Asset.objects.all()),
        "ownership-transfers": ids(OwnershipTransfer.objects.all()),
        "network-rules": ids(Network.objects.all(), "slug"),
        "print-files": ids(PrintFile.objects.all()),
        "print-runs": ids(PrintHandoff.objects.all()),
        "printer-settings": ids(Network.objects.all(), "slug"),
        "brand-kits": ids(Network.objects.all(), "slug"),
        # issue 22 — people
        "people": ids(Membership.objects.all()),
        "invitations": ids(Invitation.objects.all()),
        # issue 22 — structure
        "nodes": ids(Node.objects.all()),
        # issue 22 — single sign-on: the role mappings (network/sso/mappings/<id>/)
        "network": [str(pk) for pk in SsoRoleMapping.objects.order_by("pk").values_list("pk", flat=True)],
    }


def _png() -> SimpleUploadedFile:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buffer, format="PNG")
    return SimpleUploadedFile("logo.png", buffer.getvalue(), content_type="image/png")


def build_fuzz_world() -> FuzzWorld:
    from approvals.policies import policy_save
    from approvals.services import proof_request
    from central.customers.services import customer_import_create
    from central.customers.transfers import ownership_transfer_request
    from central.models import CustomerImport
    from templates_lib import services as template_services

    world = build_world()
    with_memberships(world)  # issue 22 — people: the people API's objects
    users, networks = world.users, world.networks
    # a published SMS template, an operation using it, N1's campaign in it and its pending proof
    campaign = joined_campaign(world)
    proof_request(campaign=campaign, requested_by=users["branch_manager"])
    # a draft template of each network, an image, an import of each kind, a transfer, a policy
    for network, author in (("alpha", "head_office"), ("beta", "other_network_head_office")):
        template_services.template_create(
            network=networks[network], kind="email", name=f"Draft {network}", created_by=users[author]
        )
        template_services.asset_upload(
            network=networks[network],
            uploaded_file=_png(),
            name="Logo",
            tags="logo",
            uploaded_by=users[author],
        )
        for kind in CustomerImport.Kind.values:
            customer_import_create(
                network=networks[network],
                created_by=users[author],
                kind=kind,
                uploaded_file=SimpleUploadedFile("rows.csv", b"external_id\nX-1\n"),
            )
        policy_save(
            network=networks[network],
            saved_by=users[author],
            name="Print",
            channel="post",
            steps=[{"level": "head_office", "role": Role.APPROVER}],
        )
    ownership_transfer_request(
        to_branch=world.nodes["N2"],
        customer_reference=world.customers["N1"].external_id,
        requested_by=users["sibling_branch_manager"],
    )
    # a print run of N1's campaign: its PDF and its hand-off (failed, so that head office may retry)
    from django.core.files.base import ContentFile

    from central.models import PrintFile, PrintHandoff

    record = PrintFile(campaign=campaign, kind=PrintFile.Kind.MAIL_MERGE, pages=1, recipients=1)
    record.file.save("fuzz-mail-merge.pdf", ContentFile(b"%PDF-1.4 fuzz"), save=False)
    record.save()
    handoff = PrintHandoff(print_file=record, campaign=campaign, status="failed", reason="refused",
                           pdf_sha256="0" * 64, manifest_sha256="0" * 64, pieces=1, pages=1)
    handoff.manifest.save("fuzz-manifest.csv", ContentFile(b"piece\r\n1\r\n"), save=False)
    handoff.save()
    # issue 22 — a role mapping of each network's single sign-on
    from local_stores.models import SsoRoleMapping

    for key, node in (("alpha", "N1"), ("beta", "W1")):
        SsoRoleMapping.objects.create(network=world.networks[key], claim_value=f"fuzz-{key}", node=world.nodes[node],
                                      role="branch_manager")
    tokens = {actor: Token.objects.create(user=users[actor]).key for actor in ACTORS}
    return FuzzWorld(world=world, tokens=tokens, pools=_pools())


@pytest.fixture(scope="module")
def module_fuzz_world(django_db_setup, django_db_blocker) -> Iterator[FuzzWorld]:
    """The world, built once for the module inside a transaction rolled back at the end."""
    with built_once(django_db_blocker, build_fuzz_world) as fuzz_world:
        yield fuzz_world


@pytest.fixture(scope="module", autouse=True)
def _in_process_requests(request) -> Iterator[None]:
    """Requests go through the plain WSGI handler in the test's own thread and DB connection: like
    Django's test client, keep it from closing that connection (it is inside the test transaction)
    at the start and end of each request. And print the figures at the end of the run."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    if not request.config.pluginmanager.has_plugin("relais-api-fuzz-figures"):
        request.config.pluginmanager.register(_FiguresPlugin(), "relais-api-fuzz-figures")
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_world(module_fuzz_world: FuzzWorld, db) -> FuzzWorld:
    """The shared world, inside this test's savepoint."""
    return module_fuzz_world


# --------------------------------------------------------------------------------------------
# the fuzzing
# --------------------------------------------------------------------------------------------


def _path_values(fuzz: FuzzWorld, operation) -> st.SearchStrategy[dict[str, str]]:
    names = [parameter.name for parameter in operation.path_parameters]
    if not names:
        return st.just({})
    resource = operation.path.removeprefix("/api/v1/").split("/")[0]
    # None (first, so every run sends one): keep the string schemathesis generated; then real objects
    # of both networks and a missing id
    pool = [None, *fuzz.pools[resource], MISSING]
    return st.fixed_dictionaries({name: st.sampled_from(pool) for name in names})


def _credentials(operation) -> st.SearchStrategy[dict | None]:
    """The token endpoint gets real usernames and passwords first (the simplest example, so every run
    sends one), then generated bodies (None: keep the generated one)."""
    if operation.path != "/api/v1/auth/token/":
        return st.none()
    return st.sampled_from([{"username": actor, "password": PASSWORD} for actor in ACTORS]) | st.none()


def _caller(fuzz: FuzzWorld, role: str) -> tuple[dict | None, list]:
    """The headers ``role`` sends (its token; none for anonymous) and the checks of its responses."""
    if role == "anonymous":
        return None, [*CHECKS, anonymous_is_refused]
    return {"Authorization": f"Token {fuzz.tokens[role]}"}, CHECKS


def _send(case, headers: dict | None, checks: list) -> None:
    """Send ``case`` and check its response, in a savepoint rolled back after it."""
    with transaction.atomic():
        try:
            case.call_and_validate(headers=headers, checks=checks)
        finally:
            transaction.set_rollback(True)


AWKWARD = " (awkward path values)"


@contextmanager
def _counted(label: str, role: str) -> Iterator[None]:
    if label.endswith(AWKWARD):
        FIGURES.awkward_runs += 1
    else:
        FIGURES.runs += 1
    APP.label, APP.role = label, role
    started = time.perf_counter()
    try:
        yield
    except BaseException:
        FIGURES.failed.append(f"{label} as {role}")
        raise
    finally:
        FIGURES.seconds += time.perf_counter() - started


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_fuzz_operation(fuzz_world: FuzzWorld, label: str, role: str) -> None:
    operation = OPERATIONS[label]
    headers, checks = _caller(fuzz_world, role)
    cases = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE)

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
    )
    @given(case=cases, path_values=_path_values(fuzz_world, operation), credentials=_credentials(operation))
    def fuzz(case, path_values, credentials) -> None:
        if not (case.meta and case.meta.is_negative_at(ParameterLocation.PATH)):
            chosen = {name: value for name, value in path_values.items() if value is not None}
            if chosen:
                case.path_parameters = {**(case.path_parameters or {}), **chosen}
        if credentials is not None:
            case.body = credentials
        if headers is not None and isinstance(case.cookies, dict):
            # the caller's token is its credential: drop a generated (bogus) session cookie, which
            # would make schemathesis read the run as one with generated, invalid credentials
            case.cookies.pop("sessionid", None)
        _send(case, headers, checks)

    with _counted(label, role):
        fuzz()


#: path values hand-picked to be awkward for a database lookup, sent to every operation with a path
#: parameter on top of the generated ones: a NUL byte (PostgreSQL refuses it in a text column: it
#: was a 500 there, see config/middleware.py), far too long, non-ASCII, a percent sign, a space, a quote.
AWKWARD_PATH_VALUES = ("nod_a\x00b", "x" * 300, "nœud_é✓", "50%_off", "a b", "'; --")


@pytest.mark.parametrize("role", ["anonymous", "head_office"])
@pytest.mark.parametrize(
    "label", sorted(label for label, operation in OPERATIONS.items() if operation.path_parameters)
)
def test_awkward_path_values(fuzz_world: FuzzWorld, label: str, role: str) -> None:
    operation = OPERATIONS[label]
    headers, checks = _caller(fuzz_world, role)
    with _counted(label + AWKWARD, role):
        for value in AWKWARD_PATH_VALUES:
            _send(
                operation.Case(path_parameters={p.name: value for p in operation.path_parameters}),
                headers,
                checks,
            )
