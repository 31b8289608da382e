"""Shared fixtures: two networks, every role, one customer per branch.

Network "alpha": head office HQ, region NORTH (branches N1, N2), region SOUTH (branch S1).
Network "beta": head office, region WEST, branch W1.
"""

import contextlib
import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import pytest
from django.db import transaction
from django.test import Client

from central.customers.services import customer_import_load
from central.models import Customer
from local_stores.models import Network, Node, NodeKind, Role
from local_stores.services import network_create, node_create, role_grant
from tests.browser import js_problems, page, phone  # noqa: F401 - the browser tests' fixtures
from tests.factories import UserFactory


@dataclass
class World:
    networks: dict[str, Network] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)
    users: dict[str, object] = field(default_factory=dict)
    customers: dict[str, Customer] = field(default_factory=dict)

    def client_for(self, actor: str) -> Client:
        client = Client()
        if actor != "anonymous":
            client.force_login(self.users[actor])
        return client


#: who, which role, on which node
ACTORS = {
    "branch_manager": (Role.BRANCH_MANAGER, "N1"),
    "sibling_branch_manager": (Role.BRANCH_MANAGER, "N2"),
    "other_region_manager": (Role.BRANCH_MANAGER, "S1"),
    "regional_manager": (Role.REGIONAL_MANAGER, "NORTH"),
    "head_office": (Role.HEAD_OFFICE_MARKETER, "alpha:HQ"),
    "other_network_head_office": (Role.HEAD_OFFICE_MARKETER, "beta:HQ"),
    "approver": (Role.APPROVER, "alpha:HQ"),
    "analyst": (Role.ANALYST, "alpha:HQ"),
}

CUSTOMER_CSV = """external_id,branch_code,first_name,last_name,email,mobile,consent_email,consent_sms
{prefix}-N1,N1,Anne,Nord,anne.nord@example.test,0612345678,granted,denied
{prefix}-N2,N2,Bruno,Voisin,bruno.voisin@example.test,,granted,
{prefix}-S1,S1,Chloe,Sud,chloe.sud@example.test,,denied,
"""


def build_world() -> World:
    world = World()
    alpha = network_create(name="Alpha", slug="alpha", head_office_name="Alpha HQ")
    beta = network_create(name="Beta", slug="beta", head_office_name="Beta HQ")
    world.networks = {"alpha": alpha, "beta": beta}
    # no second factor required unless a test says so (tests/local_stores/test_mfa.py)
    for network in (alpha, beta):
        network.mfa_required_roles = []
        network.save(update_fields=["mfa_required_roles"])
    alpha_hq = Node.objects.get(network=alpha, kind=NodeKind.HEAD_OFFICE)
    beta_hq = Node.objects.get(network=beta, kind=NodeKind.HEAD_OFFICE)
    north = node_create(parent=alpha_hq, kind=NodeKind.REGION, code="NORTH", name="North")
    south = node_create(parent=alpha_hq, kind=NodeKind.REGION, code="SOUTH", name="South")
    west = node_create(parent=beta_hq, kind=NodeKind.REGION, code="WEST", name="West")
    world.nodes = {
        "alpha:HQ": alpha_hq,
        "beta:HQ": beta_hq,
        "NORTH": north,
        "SOUTH": south,
        "WEST": west,
        "N1": node_create(parent=north, kind=NodeKind.BRANCH, code="N1", name="Lille", city="Lille"),
        "N2": node_create(parent=north, kind=NodeKind.BRANCH, code="N2", name="Arras", city="Arras"),
        "S1": node_create(parent=south, kind=NodeKind.BRANCH, code="S1", name="Nîmes", city="Nîmes"),
        "W1": node_create(parent=west, kind=NodeKind.BRANCH, code="W1", name="Brest", city="Brest"),
    }
    # People get neutral names: a random one ("Denis Voisin") shown in the page's header would make
    # the "no foreign customer's name in the page" checks flaky.
    for actor, (role, node_key) in ACTORS.items():
        user = UserFactory(username=actor, first_name="Tester", last_name=actor.replace("_", "-").title())
        role_grant(user=user, node=world.nodes[node_key], role=role)
        world.users[actor] = user
    world.users["nobody"] = UserFactory(username="nobody", first_name="Tester", last_name="Nobody")
    customer_import_load(network=alpha, stream=io.BytesIO(CUSTOMER_CSV.format(prefix="A").encode()))
    customer_import_load(
        network=beta,
        stream=io.BytesIO(
            b"external_id,branch_code,first_name,last_name,email\nB-W1,W1,Denis,Ouest,denis@example.test\n"
        ),
    )
    for customer in Customer.objects.select_related("branch"):
        world.customers[customer.branch.code] = customer
    return world


@pytest.fixture
def world(db) -> World:
    return build_world()


@pytest.fixture
def transactional_world(transactional_db) -> World:
    return build_world()


Built = TypeVar("Built")


@contextlib.contextmanager
def built_once(django_db_blocker, build: Callable[[], Built]) -> Iterator[Built]:
    """What ``build`` makes, for a whole module: built inside a transaction rolled back at the end
    (each test then runs in a savepoint of it). For module-scoped fixtures of large worlds."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield build()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture(autouse=True)
def _celery_mode(request):
    """Tests marked ``celery_worker`` send their tasks through the real broker to a real worker
    process when RELAIS_TEST_WORKER=1 (CI starts one); otherwise every task runs in-process."""
    from config.celery import app

    marker = request.node.get_closest_marker("celery_worker")
    if marker is None or os.environ.get("RELAIS_TEST_WORKER") != "1":
        yield
        return
    replies = app.control.ping(timeout=5.0)
    assert replies, "RELAIS_TEST_WORKER=1 but no Celery worker answered the ping"
    app.conf.task_always_eager = False
    try:
        yield
    finally:
        app.conf.task_always_eager = True


@pytest.fixture(autouse=True)
def _empty_login_counts():
    """Each test starts without django-allauth's failed-login counts and used second-factor codes
    (its cache keys begin with "allauth"): one test's never refuse the logins of the next. The rest
    of the cache stays — a module's data built once may keep entries there (print previews' PDFs)."""
    from django.core.cache import cache

    entries = getattr(cache, "_cache", None)  # the tests' LocMemCache
    if entries is None:
        cache.clear()
        return
    with cache._lock:
        for key in [key for key in entries if ":allauth" in key]:
            del entries[key]
            cache._expire_info.pop(key, None)


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the default language: a request with another Accept-Language leaves
    its language active in the thread, which would leak into the next test."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture
def sink(settings):
    """A real SMTP server on loopback (aiosmtpd), Relais' e-mail backend pointed at it."""
    from tests.dispatching import SmtpSink, smtp_settings

    with SmtpSink() as running:
        smtp_settings(settings, running.port)
        settings.RELAIS_RATE_LIMIT_REDIS_URL = ""
        yield running


@pytest.fixture
def media(settings, tmp_path):
    """Uploads and print files in a folder of the test's own."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT
