"""The access matrix over every route (issue 8, item 1): each URL pattern Django resolves — pages,
public endpoints and the REST API, the admin aside (staff only, tests/security/test_route_guard.py) — for
each role, against each kind of object, with each method the route takes.

The world is tests/conftest.py's (network alpha: regions NORTH with branches N1, N2 and SOUTH with
S1; network beta: region WEST with W1, plus W2 here), built once for the module with, for every
branch, its customers, three campaigns (SMS, e-mail, print) customised with a marker and their
proofs, an ownership transfer, a budget and a print preview, and for every network an operation,
published templates, a draft, an image, an approval policy, a customer import and a purchase
import, all named with unique markers. Routes without an object (lists, dashboards, exports,
forms, the API's lists) are checked per role, the public ones for every role.

For a route with an object in its URL, ``OBJECT_ROUTES`` says which model it addresses; the object
is taken "own" (of branch N1, or of network alpha), "sibling" (N2, same region), "other region"
(S1), "other network" (W1, network beta) and "missing". The roles are those of the product: the
manager of N1, of N2, of S1, the regional manager of NORTH, head office of alpha and of beta, an
approver and an analyst of alpha, and anonymous visitors. What is proven:

* an object outside the role's scope answers exactly like a missing one: 404 (GET and every write
  the route takes), and a write leaves the foreign row unchanged;
* on an object in scope, the status is the declared one (``OBJECT_ROUTES``: the status of each
  method for each role; a role without the right is refused with 403, or 404 where the product
  hides the feature), never a server error; a write by a role that is not among the route's
  writers changes nothing (the object's row and the row count of every table);
* the markers of every tenant the role may not see (customers' names and e-mails, branches' names,
  the campaigns' slot texts, the networks' operations, templates, images and policies) never appear
  in any body: pages, API answers, CSV and Excel exports, previews, PDFs (read back with pypdf),
  iCalendar feeds, dashboards;
* every Celery task of the app's registry is declared; those taking ids, called as a forged message
  would with a foreign or missing id, neither act across tenants nor crash.

A route or a task without an entry here fails the module.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.utils import timezone
from PIL import Image

from tests.conftest import World, build_world, built_once
from tests.security.test_route_guard import ALL as ALL_ROUTES

pytestmark = pytest.mark.django_db

# --------------------------------------------------------------------------------------------
# the roles, the objects, and who sees what
# --------------------------------------------------------------------------------------------

ROLES = ("anonymous", "branch_manager", "sibling_branch_manager", "other_region_manager", "regional_manager",
         "head_office", "other_network_head_office", "approver", "analyst")
#: the objects of a route, from the standpoint of the manager of N1
OBJECTS = ("own", "sibling", "other_region", "other_network", "missing")
BRANCH_OF_OBJECT = {"own": "N1", "sibling": "N2", "other_region": "S1", "other_network": "W1"}
NETWORK_OF_BRANCH = {"N1": "alpha", "N2": "alpha", "S1": "alpha", "W1": "beta", "W2": "beta"}
BRANCHES = tuple(NETWORK_OF_BRANCH)

#: the branches whose nodes (and work: campaigns, proofs, transfers) each role sees
BRANCH_SCOPE: dict[str, frozenset[str]] = {
    "anonymous": frozenset(),
    "branch_manager": frozenset({"N1"}),
    "sibling_branch_manager": frozenset({"N2"}),
    "other_region_manager": frozenset({"S1"}),
    "regional_manager": frozenset({"N1", "N2"}),
    "head_office": frozenset({"N1", "N2", "S1"}),
    "other_network_head_office": frozenset({"W1", "W2"}),
    "approver": frozenset({"N1", "N2", "S1"}),
    "analyst": frozenset({"N1", "N2", "S1"}),
}
#: the branches whose customers each role sees (approvers and analysts: none)
CUSTOMER_SCOPE: dict[str, frozenset[str]] = {
    **BRANCH_SCOPE, "approver": frozenset(), "analyst": frozenset(),
}
#: the network each role belongs to
NETWORK_SCOPE: dict[str, frozenset[str]] = {
    "anonymous": frozenset(), "other_network_head_office": frozenset({"beta"}),
    **{role: frozenset({"alpha"}) for role in ROLES if role not in ("anonymous", "other_network_head_office")},
}

MISSING = "zz_missing00000000"
PNG_SIDE = (8, 6)


def _png() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", PNG_SIDE, "blue").save(buffer, "PNG")
    return SimpleUploadedFile("marker.png", buffer.getvalue(), content_type="image/png")


@dataclass(frozen=True)
class PreviewToken:
    public_id: str


@dataclass
class Matrix:
    world: World
    #: kind → object key (own, sibling, other_region, other_network) → the model instance
    objects: dict[str, dict[str, object]] = field(default_factory=dict)
    #: (category, tenant) → marker strings; category: customer, branch, work (per branch), net
    markers: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    #: role → its calendar feed token
    feeds: dict[str, str] = field(default_factory=dict)
    #: role → a preview PDF token it made (head office only)
    previews: dict[str, str] = field(default_factory=dict)
    #: tenant → a delivery (a message's token: unsubscribe, open, click, view online)
    deliveries: dict[str, object] = field(default_factory=dict)

    def mark(self, category: str, tenant: str, *values: str) -> None:
        self.markers.setdefault((category, tenant), set()).update(value for value in values if value)

    def client_for(self, role: str) -> Client:
        return self.world.client_for(role)


def _customer(world: World, branch: str, tag: str, **fields):
    from central.models import ConsentStatus, Customer

    node = world.nodes[branch]
    values = {"network": node.network, "branch": node, "external_id": f"XID{tag}{branch}",
              "first_name": "Tester", "last_name": f"Lastname{tag}{branch}",
              "email": f"mail{tag.lower()}{branch.lower()}@marker.test",
              "mobile": f"+3361{sum(map(ord, tag + branch)) % 1000:03d}{len(tag):02d}{BRANCHES.index(branch):02d}",
              "consent_sms": ConsentStatus.GRANTED} | fields
    return Customer.objects.create(**values)


def _network_objects(matrix: Matrix, network: str, branches: list[str]) -> None:
    """A published SMS template, a draft, an operation every branch joins, a campaign customised by
    each branch with its marker and its proof, an image, a policy and two imports."""
    from approvals.policies import policy_save
    from approvals.services import proof_request
    from central.calendar.services import operation_publish, operation_save, participation_answer
    from central.campaigns.services import campaign_update
    from central.customers.services import customer_import_create
    from central.models import Campaign, CustomerImport
    from templates_lib import services as templates

    world = matrix.world
    tag = network.upper()
    planner = world.users["head_office" if network == "alpha" else "other_network_head_office"]
    net = world.networks[network]
    bodies = {
        "sms": {"body": "{{ branch.name }} : {{ slot.message }}. {{ system.stop_mention }}"},
        "email": {"subject": "{{ slot.message }}", "body": "<mjml><mj-body><mj-section><mj-column><mj-text>"
                  "{{ branch.name }} : {{ slot.message }}</mj-text><mj-text><a href=\"{{ system.unsubscribe_url }}\">"
                  "stop</a></mj-text></mj-column></mj-section></mj-body></mjml>"},
        "print": {"body": "<h1>{{ branch.name }}</h1><p>{{ slot.message }}</p>"},
    }
    versions = {}
    for kind, fields in bodies.items():
        template = templates.template_create(network=net, kind=kind, name=f"Template {kind} MKTPL{tag}",
                                             created_by=planner)
        draft = template.versions.get()
        templates.draft_update(version=draft, edited_by=planner, slots=[
            {"name": "message", "type": "short_text", "label": "Message", "max_length": 60, "required": True,
             "default": f"MKDEF{tag}"}], **fields)
        versions[kind] = templates.version_publish(version=draft, published_by=planner)
    template, version = versions["sms"].template, versions["sms"]
    other = templates.template_create(network=net, kind="sms", name=f"Draft MKDRAFT{tag}", created_by=planner)
    today = timezone.localdate()
    operation = operation_save(
        network=net, saved_by=planner, template_versions=list(versions.values()), eligible_nodes=[],
        name=f"Operation MKOP{tag}", theme="vins", channels=["sms", "email", "post"], mode="opt_in",
        send_from=today + timedelta(days=20), send_until=today + timedelta(days=30),
        subscription_deadline=today + timedelta(days=10), allowed_criteria=["segment"])
    operation = operation_publish(operation=operation, published_by=planner)
    asset = templates.asset_upload(network=net, uploaded_file=_png(), name=f"Image MKASSET{tag}", tags="marker",
                                   uploaded_by=planner)
    policy = policy_save(network=net, saved_by=planner, name=f"Policy MKPOL{tag}", channel="sms",
                         steps=[{"level": "head_office", "role": "approver", "quorum": 1}])
    imports = {}
    for kind in (CustomerImport.Kind.CUSTOMERS, CustomerImport.Kind.PURCHASES):
        upload = SimpleUploadedFile(f"MKIMP{tag}.csv", b"external_id,branch_code,last_name\n", content_type="text/csv")
        imports[kind] = customer_import_create(network=net, uploaded_file=upload, created_by=planner, kind=kind)
    key = "own" if network == "alpha" else "other_network"
    for kind, instance in (("operation", operation), ("template", template), ("draft", other.versions.get()),
                           ("asset", asset), ("policy", policy), ("network", net),
                           ("customer_import", imports[CustomerImport.Kind.CUSTOMERS]),
                           ("purchase_import", imports[CustomerImport.Kind.PURCHASES])):
        matrix.objects.setdefault(kind, {})[key] = instance
    matrix.mark("net", network, f"MKTPL{tag}", f"MKDRAFT{tag}", f"MKOP{tag}", f"MKASSET{tag}", f"MKPOL{tag}",
                f"MKDEF{tag}", operation.public_id, *(v.public_id for v in versions.values()),
                *(v.template.public_id for v in versions.values()), asset.public_id,
                policy.public_id, *(record.public_id for record in imports.values()))
    for branch in branches:
        manager = world.users[next(role for role, scope in BRANCH_SCOPE.items()
                                   if scope == {branch} and role != "anonymous")] if branch != "W1" else planner
        recipient = _customer(world, branch, "SMS", consent_email="granted", consent_post="granted", address_line1="1 rue",
                  postal_code="59000", city=world.nodes[branch].city)
        participation_answer(operation=operation, branch=world.nodes[branch], status="joined", answered_by=manager)
        for kind, version in versions.items():
            campaign = Campaign.objects.get(operation=operation, branch=world.nodes[branch], template_version=version)
            campaign = campaign_update(campaign=campaign, updated_by=manager,
                                       slot_values={"message": f"MKSLOT{branch}"})
            proof = proof_request(campaign=campaign, requested_by=manager)
            matrix.mark("work", branch, f"MKSLOT{branch}", campaign.public_id, proof.public_id)
            prefix = "" if kind == "sms" else f"{kind}_"
            if kind == "email":  # the message as its recipient got it (its token: the public links)
                from central.models import Delivery

                matrix.deliveries[branch] = Delivery.objects.create(campaign=campaign, customer=recipient,
                                                                    channel="email", status="sent")
            for object_key, code in BRANCH_OF_OBJECT.items():
                if code == branch:
                    matrix.objects.setdefault(f"{prefix}campaign", {})[object_key] = campaign
                    matrix.objects.setdefault(f"{prefix}proof", {})[object_key] = proof


def build_matrix() -> Matrix:
    from central.calendar.services import feed_token_create
    from central.customers.transfers import ownership_transfer_request
    from central.models import Customer
    from local_stores.models import NodeKind
    from local_stores.services import node_create

    world = build_world()
    world.nodes["W2"] = node_create(parent=world.nodes["WEST"], kind=NodeKind.BRANCH, code="W2", name="Quimper",
                                    city="Quimper")
    matrix = Matrix(world=world)
    _network_objects(matrix, "alpha", ["N1", "N2", "S1"])
    _network_objects(matrix, "beta", ["W1"])
    # transfers: each branch asks for a customer of another branch of its network (the requester
    # sees the reference it typed, so the reference is not a marker)
    for to_branch, from_branch in (("N1", "S1"), ("N2", "S1"), ("S1", "N2"), ("W1", "W2")):
        customer = _customer(world, from_branch, f"TRF{to_branch}")
        requester = world.users[next(role for role, scope in BRANCH_SCOPE.items() if scope == {to_branch})] \
            if to_branch != "W1" else None
        if requester is None:  # beta has no branch manager: one for W1, for this request only
            from local_stores.services import role_grant
            from tests.factories import UserFactory

            requester = UserFactory(username="w1_manager", first_name="Tester", last_name="W1-Manager")
            role_grant(user=requester, node=world.nodes["W1"], role="branch_manager")
        transfer = ownership_transfer_request(to_branch=world.nodes[to_branch], customer_reference=customer.external_id,
                                              requested_by=requester)
        matrix.mark("transfer", f"{to_branch}+{from_branch}", transfer.public_id)
        for object_key, code in BRANCH_OF_OBJECT.items():
            if code == to_branch:
                matrix.objects.setdefault("transfer", {})[object_key] = transfer
    for object_key, code in BRANCH_OF_OBJECT.items():
        matrix.objects.setdefault("branch", {})[object_key] = world.nodes[code]
        matrix.objects.setdefault("customer", {})[object_key] = world.customers[code]
    # markers of people and places: every customer of every branch, every branch's names
    for customer in Customer.objects.select_related("branch"):
        reference_only = customer.external_id.startswith("XIDTRF")
        matrix.mark("customer", customer.branch.code, customer.email, customer.public_id, customer.last_name,
                    "" if reference_only else customer.external_id)
    for code in BRANCHES:
        node = world.nodes[code]
        matrix.mark("branch", code, node.name, node.city, node.public_id,
                    node.name.encode("ascii", "xmlcharrefreplace").decode(), node.name.replace("î", "&icirc;"))
    # a budget for every branch, allocated by its head office
    from central.budgets.services import budget_allocate

    today = timezone.localdate()
    for code in BRANCHES:
        node = world.nodes[code]
        planner = world.users["head_office" if NETWORK_OF_BRANCH[code] == "alpha" else "other_network_head_office"]
        budget_allocate(network=node.network, node=node, starts_on=today.replace(month=1, day=1),
                        ends_on=today.replace(month=12, day=31), amount=100 + BRANCHES.index(code), allocated_by=planner,
                        note=f"MKBUD{code}")
        matrix.mark("work", code, f"MKBUD{code}")
    # a day of statistics for each branch's SMS campaign (what the roll-up task makes of its sends):
    # the dashboards, their exports and the reports API break them down by branch and operation
    from reporting.models import DailyStat

    for campaign in matrix.objects["campaign"].values():
        DailyStat.objects.create(day=today - timedelta(days=2), campaign=campaign, network=campaign.network,
                                 branch=campaign.branch, region=campaign.branch.parent, operation=campaign.operation,
                                 channel=campaign.channel, origin="national", sent=10, delivered=9, audience=12,
                                 excluded={"pressure_cap": 2})
    # print previews (kept in the cache for whoever asked): one per branch manager, and beta's head office
    from templates_lib.models import TemplateVersion
    from templates_lib.previews import preview_context

    for object_key, role in (("own", "branch_manager"), ("sibling", "sibling_branch_manager"),
                             ("other_region", "other_region_manager"), ("other_network", "other_network_head_office")):
        code = BRANCH_OF_OBJECT[object_key]
        version = TemplateVersion.objects.get(template__network=world.nodes[code].network, template__kind="print",
                                              status="published")
        token = preview_context(user=world.users[role], version=version, values={"message": f"MKSLOT{code}"},
                                branch=world.nodes[code])["pdf_token"]
        matrix.objects.setdefault("preview", {})[object_key] = PreviewToken(token)
    for role in ROLES:
        if role != "anonymous":
            matrix.feeds[role] = feed_token_create(user=world.users[role]).token
    _print_runs(matrix)
    return matrix


def _print_runs(matrix: Matrix) -> None:
    """A print run of each branch's print campaign: its mail merge (a PDF showing the branch's slot
    text) and its hand-off, failed (so that head office may retry), with a manifest naming the
    branch's customer."""
    import weasyprint
    from django.core.files.base import ContentFile

    from central.models import PrintFile, PrintHandoff

    for object_key, campaign in matrix.objects["print_campaign"].items():
        code = BRANCH_OF_OBJECT[object_key]
        pdf = weasyprint.HTML(string=f"<p>{campaign.slot_values['message']}</p>").write_pdf()
        record = PrintFile(campaign=campaign, kind=PrintFile.Kind.MAIL_MERGE, pages=1, recipients=1)
        record.file.save(f"{campaign.public_id}-mail-merge-1.pdf", ContentFile(pdf), save=False)
        record.save()
        customer = matrix.world.customers[code]
        handoff = PrintHandoff(print_file=record, campaign=campaign, status="failed", reason="refused",
                               pdf_sha256="0" * 64, manifest_sha256="0" * 64, pieces=1, pages=1)
        handoff.manifest.save(f"{campaign.public_id}-manifest.csv",
                              ContentFile(f"piece,name\r\n1,{customer.last_name}\r\n".encode()), save=False)
        handoff.save()
        matrix.objects.setdefault("print_file", {})[object_key] = record
        matrix.objects.setdefault("print_handoff", {})[object_key] = handoff
        matrix.mark("work", code, record.public_id, handoff.public_id)


def sees(role: str, category: str, tenant: str) -> bool:
    """Whether ``role`` may see the markers of ``tenant`` (a transfer's: of either of its branches)."""
    if category == "transfer":
        return bool(set(tenant.split("+")) & CUSTOMER_SCOPE[role])
    scope = {"customer": CUSTOMER_SCOPE, "branch": BRANCH_SCOPE, "work": BRANCH_SCOPE, "net": NETWORK_SCOPE}
    return tenant in scope[category][role]


@pytest.fixture(scope="module")
def module_matrix(django_db_setup, django_db_blocker) -> Iterator[Matrix]:
    """Built once for the module inside a transaction rolled back at the end."""
    with built_once(django_db_blocker, build_matrix) as matrix:
        yield matrix


@pytest.fixture
def matrix(module_matrix: Matrix, db) -> Matrix:
    return module_matrix


# --------------------------------------------------------------------------------------------
# the declaration: every route
# --------------------------------------------------------------------------------------------

PLANNERS = frozenset({"head_office", "other_network_head_office"})
BRANCH_MANAGERS = frozenset({"branch_manager", "sibling_branch_manager", "other_region_manager"})
#: who acts for a branch (change_node): its manager, head office
EDITORS = BRANCH_MANAGERS | PLANNERS
#: the scopes a route's object is checked against: the object is the role's when one of the
#: object's tenants (branches, or its network) is in the role's scope
SCOPES: dict[str, dict[str, frozenset[str]]] = {
    "branch": BRANCH_SCOPE,
    "customer": CUSTOMER_SCOPE,
    "edit": {role: (BRANCH_SCOPE[role] if role in EDITORS else frozenset()) for role in ROLES},
    "network": NETWORK_SCOPE,
    "planner": {role: (NETWORK_SCOPE[role] if role in PLANNERS else frozenset()) for role in ROLES},
    # issue 22 — the structure pages: head office (manage_network), the regional manager reads their region
    "structure": {role: (BRANCH_SCOPE[role] if role in PLANNERS | {"regional_manager"} else frozenset())
                  for role in ROLES},
    "preview": {role: frozenset() for role in ROLES} | {
        "branch_manager": frozenset({"N1"}), "sibling_branch_manager": frozenset({"N2"}),
        "other_region_manager": frozenset({"S1"}), "other_network_head_office": frozenset({"W1"})},
}


@dataclass(frozen=True)
class Rule:
    """A route with an object: its kind, the scope that makes the object the role's (outside: 404,
    like a missing one), the status of each method for the roles whose object it is ({"*": default,
    role: status}), and who may change something with a write (anyone else changes nothing)."""

    kind: str
    scope: str
    statuses: dict[str, dict[str, int]]
    writers: frozenset[str] = frozenset()

    def status(self, method: str, role: str) -> int:
        table = self.statuses[method]
        return table.get(role, table["*"])


def rule(kind: str, scope: str, *, writers=(), **methods) -> Rule:
    statuses = {method: ({"*": value} if isinstance(value, int) else value) for method, value in methods.items()}
    return Rule(kind, scope, statuses, frozenset(writers))


def but(default: int, **statuses: int) -> dict[str, int]:
    return {"*": default, **statuses}


#: refused to the regional manager, the approver and the analyst (they read campaigns, do not edit them)
READERS_REFUSED = {"regional_manager": 403, "approver": 403, "analyst": 403}

#: Every route with an object in its URL.
OBJECT_ROUTES: dict[str, Rule] = {
    # branches
    "branches:branch-detail": rule("branch", "branch", get=200),
    "api-branch-detail": rule("branch", "branch", get=200),
    "central:signup-poster": rule("branch", "branch", get=200),
    "branches:branch-edit": rule("branch", "edit", get=200, post=200, writers=EDITORS),
    # customers
    "central:customer-detail": rule("customer", "customer", get=200),
    "rules:customer-why": rule("customer", "customer", get=200),
    # issue 22 — customers: PATCH {} by who may edit the customer's branch changes nothing (200); a reader 403
    "api-customer-detail": rule("customer", "customer", get=200, patch=but(403, **dict.fromkeys(EDITORS, 200)),
                                writers=EDITORS),
    "api-customer-why": rule("customer", "customer", get=200),
    "central:customer-erase": rule("customer", "customer", post=but(403, **dict.fromkeys(PLANNERS, 302)),
                                   writers=PLANNERS),
    "api-customer-erase": rule("customer", "customer", post=but(403, **dict.fromkeys(PLANNERS, 200)),
                               writers=PLANNERS),
    # operations of the national calendar (the network's)
    "calendar:operation-detail": rule("operation", "network", get=200),
    "api-operation-detail": rule("operation", "network", get=200, patch=but(403, **dict.fromkeys(PLANNERS, 400)),
                                 writers=PLANNERS),
    "api-operation-participations": rule("operation", "network", get=200, post=400, writers=EDITORS),
    "api-operation-publish": rule("operation", "network", post=but(403, **dict.fromkeys(PLANNERS, 400)),
                                  writers=PLANNERS),
    "calendar:operation-edit": rule("operation", "network", get=but(403, **dict.fromkeys(PLANNERS, 302)),
                                    post=but(403, **dict.fromkeys(PLANNERS, 302)), writers=PLANNERS),
    "calendar:operation-answer": rule("operation", "network", post=302, writers=EDITORS),
    "calendar:operation-publish": rule("operation", "network", post=302, writers=PLANNERS),
    "calendar:national-campaign-create": rule("operation", "network", post=302, writers=PLANNERS),
    "operations:operation-answer": rule("operation", "network", post=302, writers=EDITORS),
    "operations:kit-use": rule("operation", "network", post=302, writers=EDITORS),
    # the branches' review of head office's target: read by who sees an eligible branch's customers
    # (404 for the approver and the analyst, who see none), changed by who acts for the branch (the
    # regional manager reads only); an empty form is refused (the page shows why, the API by field)
    "campaigns:target-review": rule("operation", "network", get=but(200, approver=404, analyst=404),
                                       post=but(200, regional_manager=403, approver=404, analyst=404),
                                       writers=EDITORS),
    "api-operation-target-review": rule("operation", "network", get=but(200, approver=404, analyst=404),
                                        post=but(400, regional_manager=403, approver=404, analyst=404),
                                        writers=EDITORS),
    # campaigns (a branch's)
    "campaigns:campaign-edit": rule("campaign", "branch", get=200, post=but(200, **READERS_REFUSED), writers=EDITORS),
    "campaigns:campaign-target": rule("campaign", "customer", get=200,
                                         post=but(302, regional_manager=403), writers=EDITORS),
    "campaigns:campaign-send-control": rule("campaign", "branch", post=302, writers=EDITORS),
    "campaigns:campaign-cancel": rule("campaign", "branch", post=302, writers=EDITORS),
    "campaigns:campaign-request-approval": rule("campaign", "branch", post=302, writers=EDITORS),
    "campaigns:campaign-schedule": rule("campaign", "branch", post=302, writers=EDITORS),
    # a simulation is recorded (an arbitration run), by whoever sees the customers
    "rules:campaign-simulate": rule("campaign", "branch", post=302,
                                           writers=EDITORS | {"regional_manager"}),
    "reporting:campaign-promote": rule("campaign", "branch", post=302, writers=PLANNERS),
    "api-campaign-detail": rule("campaign", "branch", get=200, patch=but(200, **READERS_REFUSED), writers=EDITORS),
    "api-campaign-audience": rule("campaign", "customer", get=200),
    "api-campaign-audience-count": rule("campaign", "customer", get=200),
    "api-campaign-simulation": rule("campaign", "customer", get=200),
    "api-campaign-clashes": rule("campaign", "branch", get=200),
    "api-campaign-history": rule("campaign", "branch", get=200),
    "api-campaign-proofs": rule("campaign", "branch", get=200, post=but(400, **READERS_REFUSED), writers=EDITORS),
    "api-campaign-schedule": rule("campaign", "branch", post=but(400, **READERS_REFUSED), writers=EDITORS),
    "api-campaign-target": rule("campaign", "branch", post=but(400, **READERS_REFUSED), writers=EDITORS),
    "api-campaign-cancel": rule("campaign", "branch", post=but(200, **READERS_REFUSED), writers=EDITORS),
    # proofs (BAT): read by everyone who sees the branch; decided by the step's approvers (here
    # head office's approver); revoked by nobody while pending
    "approvals:proof": rule("proof", "branch", get=200),
    "approvals:proof-content": rule("email_proof", "branch", get=200),
    "approvals:proof-pdf": rule("print_proof", "branch", get=200),
    "approvals:proof-decide": rule("proof", "branch", post=but(302, approver=200), writers={"approver"}),
    "approvals:proof-revoke": rule("proof", "branch", post=302),
    "api-proof-detail": rule("proof", "branch", get=200),
    "api-proof-content": rule("email_proof", "branch", get=200),
    "api-proof-pdf": rule("print_proof", "branch", get=200),
    "api-proof-decisions": rule("proof", "branch", post=but(403, approver=400), writers={"approver"}),
    # an approver of the proof learns it is not approved (409); anyone else may not revoke (403)
    "api-proof-revoke": rule("proof", "branch", post=but(403, approver=409)),
    # approval policies, imports, drafts, images, the network's rules: head office's only (404 to
    # the rest of the network, as to everyone else)
    "approvals:policy-edit": rule("policy", "planner", get=200, post=200, writers=PLANNERS),
    "api-approval-policy-detail": rule("policy", "planner", get=200, patch=200, writers=PLANNERS),
    "central:customer-import-detail": rule("customer_import", "planner", get=200),
    "central:customer-import-errors": rule("customer_import", "planner", get=200),
    "api-customer-import-detail": rule("customer_import", "planner", get=200),
    "api-purchase-import-detail": rule("purchase_import", "planner", get=200),
    "templates_lib:version-new-draft": rule("template", "planner", post=302, writers=PLANNERS),
    "templates_lib:template-archive": rule("template", "planner", post=302, writers=PLANNERS),
    "api-template-archive": rule("template", "planner", post=200, writers=PLANNERS),
    "templates_lib:draft-edit": rule("draft", "planner", get=200, post=200, writers=PLANNERS),
    "templates_lib:draft-preview": rule("draft", "planner", post=200),
    # the visual editor is for e-mail drafts: the matrix's draft (an SMS) is sent to the source editor and its
    # JSON endpoints answer 404; tests/templates_lib/test_visual_editor_pages.py covers the e-mail draft role by role
    "templates_lib:visual-editor": rule("draft", "planner", get=302),
    "templates_lib:visual-preview": rule("draft", "planner", post=404),
    "templates_lib:visual-save": rule("draft", "planner", post=404, writers=PLANNERS),
    "templates_lib:version-publish": rule("draft", "planner", post=302, writers=PLANNERS),
    "api-draft-update": rule("draft", "planner", patch=200, writers=PLANNERS),
    "api-version-check": rule("draft", "planner", post=200),
    "api-version-preview": rule("draft", "planner", post=200),
    "api-version-publish": rule("draft", "planner", post=200, writers=PLANNERS),
    "templates_lib:asset-archive": rule("asset", "planner", post=302, writers=PLANNERS),
    "api-asset-archive": rule("asset", "planner", post=200, writers=PLANNERS),
    # the network's brand kit: GET answers the defaults while it has none; an empty PUT or PATCH is refused by field
    "api-brand-kit": rule("network", "planner", get=200, put=400, patch=400, writers=PLANNERS),
    "api-network-rules": rule("network", "planner", get=200, patch=200, writers=PLANNERS),
    # the conflict report of a send window (read only: the latest simulation of those days)
    "api-network-conflicts": rule("network", "planner", get=200),
    # print runs (names and addresses): who sees the campaign's customers downloads them; head office
    # retries a hand-off; the network's printer is head office's
    "print:file-download": rule("print_file", "customer", get=200),
    "print:manifest-download": rule("print_handoff", "customer", get=200),
    "print:handoff-retry": rule("print_handoff", "customer", post=but(403, **dict.fromkeys(PLANNERS, 302)),
                                writers=PLANNERS),
    "api-campaign-print": rule("print_campaign", "customer", get=200),
    "api-print-file": rule("print_file", "customer", get=200),
    "api-print-manifest": rule("print_handoff", "customer", get=200),
    "api-print-retry": rule("print_handoff", "customer", post=but(403, **dict.fromkeys(PLANNERS, 200)),
                            writers=PLANNERS),
    "api-printer-settings": rule("network", "planner", get=200, patch=200, writers=PLANNERS),
    # a print preview's PDF: only whoever asked for it
    "templates_lib:preview-pdf": rule("preview", "preview", get=200),
    # the network's published templates: every role of the network reads and tries them
    "templates_lib:template-detail": rule("template", "network", get=200),
    "templates_lib:template-try": rule("template", "network", get=200, post=200),
    "api-template-detail": rule("template", "network", get=200),
    # ownership transfers: seen from both branches (customer scope); decided by whoever sees both
    "rules:transfer-decide": rule("transfer", "customer", post=302, writers=PLANNERS | {"regional_manager"}),
    # issue 22 — customers: edited by hand by who holds edit_customers over the branch (an empty form: 200)
    "central:customer-edit": rule("customer", "customer", get=but(403, **dict.fromkeys(EDITORS, 200)),
                                  post=but(403, **dict.fromkeys(EDITORS, 200)), writers=EDITORS),
    "api-ownership-transfer-decide": rule("transfer", "customer", post=400,
                                          writers=PLANNERS | {"regional_manager"}),
    # issue 22 — structure: a branch's node; read by its region's manager, changed by head office only
    # (more in tests/security/test_access_structure.py)
    "structure:node-detail": rule("branch", "structure", get=200),
    "structure:node-edit": rule("branch", "structure", get=but(403, **dict.fromkeys(PLANNERS, 200)),
                                post=but(403, **dict.fromkeys(PLANNERS, 200)), writers=PLANNERS),
    "structure:node-move": rule("branch", "structure", get=but(403, **dict.fromkeys(PLANNERS, 200)),
                                post=but(403, **dict.fromkeys(PLANNERS, 200)), writers=PLANNERS),
    "structure:node-close": rule("branch", "structure", post=but(403, **dict.fromkeys(PLANNERS, 302)),
                                 writers=PLANNERS),
    "structure:node-reopen": rule("branch", "structure", post=but(403, **dict.fromkeys(PLANNERS, 302)),
                                  writers=PLANNERS),
    "api-node-detail": rule("branch", "structure", get=200, patch=but(403, **dict.fromkeys(PLANNERS, 200)),
                            writers=PLANNERS),
    "api-node-close": rule("branch", "structure", post=but(403, **dict.fromkeys(PLANNERS, 400)), writers=PLANNERS),
    "api-node-reopen": rule("branch", "structure", post=but(403, **dict.fromkeys(PLANNERS, 200)), writers=PLANNERS),
}
#: issue 22 — routes whose object lives in the requester's own session (a structure import's report,
#: kept for its importer only): an id that is not in the session answers 404 to every role.
SESSION_ROUTES = frozenset({"structure:import-result", "structure:import-report"})
#: fixed values of the other parameters
FIXED = {"action": "pause"}


def url_of(matrix: Matrix, route: str, kind: str, key: str) -> str:
    def value(match: re.Match) -> str:
        name = match.group(1)
        if name in FIXED:
            return FIXED[name]
        if key == "missing":
            return {"network": "no-such-network", "preview": "zzMissingPreviewToken000"}.get(kind, MISSING)
        instance = matrix.objects[kind][key]
        return instance.slug if kind == "network" else instance.public_id

    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", value, route)


METHODS = ("get", "post", "put", "patch", "delete")


def send(client: Client, method: str, url: str):
    if method == "get":
        return client.get(url)
    if method == "post":
        return client.post(url, {})
    if method == "delete":
        return client.delete(url)
    return getattr(client, method)(url, data="{}", content_type="application/json")


def body_text(response) -> str:
    if getattr(response, "streaming", False):
        content = b"".join(response.streaming_content)
    else:
        content = response.content
    kind = response.get("Content-Type", "")
    if kind.startswith("application/pdf"):
        from pypdf import PdfReader

        return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(content)).pages)
    if "spreadsheetml" in kind:
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(content), read_only=True)
        return "\n".join(str(cell) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
                         for cell in row if cell is not None)
    return content.decode("utf-8-sig", errors="replace")


_COUNT_SQL: list[str] = []


def state(matrix: Matrix, kind: str, key: str):
    """The object's row and the number of rows of every table of the apps (one query): what a
    write changed."""
    from django.apps import apps
    from django.db import connection

    if not _COUNT_SQL:
        tables = sorted({model._meta.db_table for model in apps.get_models()
                         if model._meta.app_label in ("central", "approvals", "templates_lib", "local_stores",
                                                      "reporting", "auth", "guardian")})
        # the models' own table names, quoted: no outside input in this statement
        counts = [f"(SELECT COUNT(*) FROM {connection.ops.quote_name(table)})" for table in tables]  # noqa: S608
        _COUNT_SQL.append("SELECT " + ", ".join(counts))
    instance = None if key == "missing" else matrix.objects[kind][key]
    row = None
    if instance is not None and hasattr(instance, "pk"):
        row = type(instance).objects.filter(pk=instance.pk).values().first()
    with connection.cursor() as cursor:
        cursor.execute(_COUNT_SQL[0])
        counts = cursor.fetchone()
    return row, counts


OBJECT_ROUTE_LIST = [(route, name) for route, name in ALL_ROUTES if name in OBJECT_ROUTES]
NETWORK_KINDS = {"operation", "template", "draft", "asset", "policy", "network", "customer_import",
                 "purchase_import"}


def tenants_of(matrix: Matrix, kind: str, key: str) -> set[str]:
    """The branches (or the network) an object belongs to."""
    if key == "missing":
        return set()
    if kind in NETWORK_KINDS:
        return {"alpha" if key == "own" else "beta"}
    instance = matrix.objects[kind][key]
    if kind == "transfer":
        return {instance.to_branch.code, instance.from_branch.code}
    return {BRANCH_OF_OBJECT[key]}


def is_api(route: str) -> bool:
    return route.startswith("api/v1/")


#: what the module counted (printed by the last test)
FIGURES: Counter = Counter()





def marker_pattern(markers) -> re.Pattern[str]:
    """The markers as whole words: a random CSRF token may well contain "Sud"."""
    alternatives = "|".join(re.escape(marker) for marker in sorted(markers, key=len, reverse=True))
    return re.compile(rf"(?<![A-Za-z0-9_])(?:{alternatives})(?![A-Za-z0-9_])")


_PATTERNS: dict[tuple[int, str, bool], tuple[re.Pattern[str], int]] = {}


def _pattern_for(matrix: Matrix, role: str, *, foreign: bool) -> tuple[re.Pattern[str], int]:
    key = (id(matrix), role, foreign)
    if key not in _PATTERNS:
        markers = {marker for (category, tenant), values in matrix.markers.items()
                   if (not sees(role, category, tenant)) == foreign for marker in values}
        _PATTERNS[key] = (marker_pattern(markers), len(markers))
    return _PATTERNS[key]


def assert_no_foreign_markers(matrix: Matrix, role: str, body: str, *, where: str) -> None:
    pattern, count = _pattern_for(matrix, role, foreign=True)
    FIGURES["marker checks"] += count
    leaks = sorted(set(pattern.findall(body)))
    assert not leaks, f"{where}: foreign data shown to {role}: {leaks}"


def own_markers_shown(matrix: Matrix, role: str, body: str) -> bool:
    return bool(_pattern_for(matrix, role, foreign=False)[0].search(body))


def methods_of(matrix: Matrix, route: str, kind: str) -> list[str]:
    """The methods the route takes: those not answered 405 to head office (on a missing object)."""
    client = matrix.client_for("head_office")
    return [method for method in METHODS if send(client, method, url_of(matrix, route, kind, "missing")).status_code != 405]


def check_anonymous(route: str, method: str, response, *, where: str) -> None:
    if is_api(route):
        assert response.status_code in (401, 403), f"{where}: {response.status_code}"
    else:
        assert response.status_code == 302, f"{where}: {response.status_code}"
        assert response["Location"].startswith("/accounts/login/"), where


#: routes whose answer shows the campaign's slot text (checked present for the roles it belongs to)
SHOWS_SLOT_TEXT = {"approvals:proof-pdf", "api-proof-pdf", "print:file-download", "api-print-file", "approvals:proof-content", "api-proof-content",
                   "templates_lib:preview-pdf", "campaigns:campaign-edit", "approvals:proof"}


@pytest.mark.parametrize("route, name", OBJECT_ROUTE_LIST, ids=[name for _route, name in OBJECT_ROUTE_LIST])
def test_route_with_an_object(matrix, route, name):
    declared = OBJECT_ROUTES[name]
    kind = declared.kind
    keys = [key for key in OBJECTS if key == "missing" or key in matrix.objects[kind]]
    methods = methods_of(matrix, route, kind)
    assert set(methods) == set(declared.statuses), f"{name} takes {methods}: declare each in OBJECT_ROUTES"
    FIGURES["routes with an object"] += 1
    for method in methods:
        for role in ROLES:
            client = matrix.client_for(role)
            scope = SCOPES[declared.scope][role]
            for key in keys:
                url = url_of(matrix, route, kind, key)
                where = f"{role} {method.upper()} {url} ({name}, {key} {kind})"
                with transaction.atomic():
                    before = state(matrix, kind, key) if method != "get" else None
                    response = send(client, method, url)
                    after = state(matrix, kind, key) if method != "get" else None
                    transaction.set_rollback(True)
                FIGURES["requests"] += 1
                mine = bool(tenants_of(matrix, kind, key) & scope)
                assert response.status_code < 500, where
                if role == "anonymous":
                    check_anonymous(route, method, response, where=where)
                elif not mine:  # foreign or missing: the same 404
                    assert response.status_code == 404, f"{where}: {response.status_code}, expected 404"
                else:
                    expected = declared.status(method, role)
                    assert response.status_code == expected, f"{where}: {response.status_code}, expected {expected}"
                if method != "get":
                    FIGURES["writes"] += 1
                    if not (mine and role in declared.writers):
                        assert after == before, f"{where}: a write that is not the role's changed the data"
                        FIGURES["writes proven without effect"] += 1
                body = body_text(response)
                assert_no_foreign_markers(matrix, role, body, where=where)
                if name in SHOWS_SLOT_TEXT and mine and method == "get":
                    # the positive control: the PDF (read back with pypdf), the e-mail, the page
                    # does show the object's own text
                    assert f"MKSLOT{BRANCH_OF_OBJECT[key]}" in body, f"{where}: its own slot text is not shown"
                if mine and response.status_code == 200 and own_markers_shown(matrix, role, body):
                    FIGURES["answers showing the role's own markers"] += 1


# --------------------------------------------------------------------------------------------
# Celery tasks: every task of the app's registry is declared
# --------------------------------------------------------------------------------------------

#: task name → the ids it takes (None: a periodic task without ids, run as beat would)
TASKS: dict[str, tuple[str, ...] | None] = {
    "central.customer_import_run": ("customer_import",),
    "central.campaign_dispatch": ("campaign",),
    "central.dispatch_chunk": ("campaign", "delivery range"),
    "central.campaign_print": ("campaign",),
    "central.print_handoff_deliver": ("print_handoff",),
    "central.operations_enrol_mandatory": None,
    "central.deadline_reminders_send": None,
    "central.dispatch_recover": None,
    "central.campaigns_send_due": None,
    "reporting.rollups_refresh": None,
    "approvals.proof_deadlines_run": None,
    "central.arbitration_simulate": ("queued simulation",),
    # a notification written in the request (subject, body, recipients): no id to forge; a forged
    # message sends that mail and changes nothing else
    "approvals.notification_send": ("message",),
    # a network's test e-mail (issue 22): a forged message sends one test e-mail from that network's
    # identity to the address it names and records that test; nothing of a customer, campaign or proof
    "central.identity_test_send": ("sending identity", "person", "address"),
}


def registered_tasks() -> set[str]:
    from config.celery import app

    app.loader.import_default_modules()
    return {name for name in app.tasks if not name.startswith("celery.")}


def test_every_task_is_declared():
    registered = registered_tasks()
    assert registered - set(TASKS) == set(), "tasks without an entry in TASKS"
    assert set(TASKS) - registered == set(), "declared tasks that no longer exist"


def tenant_rows() -> dict[str, object]:
    """What a task could change of any tenant: customers, campaigns, proofs, deliveries, imports, mail."""
    from django.core import mail

    from approvals.models import Proof
    from central.models import Campaign, Customer, CustomerImport, Delivery

    return {
        "customers": sorted(Customer.objects.values_list("pk", "branch_id", "erased_at", "updated_at")),
        "campaigns": sorted(Campaign.objects.values_list("pk", "status")),
        "proofs": sorted(Proof.objects.values_list("pk", "status", "current_step")),
        "deliveries": sorted(Delivery.objects.values_list("pk", "status")),
        "imports": sorted(CustomerImport.objects.values_list("pk", "status", "rows_total")),
        "mail": len(mail.outbox),
    }


def run_task(name: str, *args):
    """The task as a worker runs a message: its exceptions are what the worker would log as a crash."""
    from config.celery import app

    app.loader.import_default_modules()  # the tasks' modules, also when this test runs alone
    result = app.tasks[name].apply(args=args)
    FIGURES["task runs"] += 1
    assert result.successful(), f"{name}{args} crashed: {result.result!r}"
    return result.result


@pytest.mark.parametrize("name", sorted(TASKS))
def test_task_with_forged_ids_acts_on_no_tenant_and_does_not_crash(matrix, name):
    from central.models import Campaign

    takes = TASKS[name]
    before = tenant_rows()
    if takes is None:
        run_task(name)  # beat's run on this world: nothing is due (the sends are weeks away)
    elif takes[0] == "customer_import":
        foreign = matrix.objects["customer_import"]["other_network"]
        for value in (foreign.pk, 10**9):  # another network's pending import, a missing one
            run_task(name, value)
        run_task(name, foreign.pk)  # twice: the finished import is left as it is
    elif takes[0] == "message":
        run_task(name, "Forged", "A forged notification.", ["someone@example.com"])
    elif takes[0] == "sending identity":
        from central.models import SendingIdentity

        for identity_id in [*SendingIdentity.objects.values_list("pk", flat=True), 10**9]:  # a missing one too
            run_task(name, identity_id, 10**9, "someone@example.com")
    else:
        # campaigns are drafts with a pending proof: a forged message must not send any of them
        ids = [campaign.pk for campaign in Campaign.objects.all()] + [10**9]
        for campaign_id in ids:
            run_task(name, *((campaign_id, 0, 10**9) if name == "central.dispatch_chunk" else (campaign_id,)))
    after = tenant_rows()
    if takes and takes[0] == "customer_import":
        # only the import's own record moved on (headers only: nothing to import)
        assert {key: value for key, value in after.items() if key != "imports"} == \
            {key: value for key, value in before.items() if key != "imports"}
    elif takes and takes[0] in ("message", "sending identity"):
        assert {key: value for key, value in after.items() if key != "mail"} == \
            {key: value for key, value in before.items() if key != "mail"}
    else:
        assert after == before, f"{name} changed data on a forged message"
    FIGURES["tasks"] += 1


# --------------------------------------------------------------------------------------------
# routes without an object: lists, dashboards, exports, forms
# --------------------------------------------------------------------------------------------

def for_roles(roles, status: int, other: int) -> dict[str, int]:
    return {"*": other, **dict.fromkeys(roles, status)}


CUSTOMER_ROLES = frozenset(role for role in ROLES if CUSTOMER_SCOPE[role])
#: the reports' period: around the day of the statistics (two days ago)
PERIOD = ((date.today() - timedelta(days=30)).isoformat(), (date.today() + timedelta(days=1)).isoformat())
#: who has an approval inbox: approve_proofs somewhere, or head office
INBOX_ROLES = PLANNERS | {"regional_manager", "approver"}

#: Every route without an object: the status of each method for each signed-in role (anonymous
#: users get the route guard's answer: the login page, or 401/403 from the API), who may change
#: something with a write, and the query strings tried besides the bare URL (the exports).
LIST_ROUTES: dict[str, dict] = {
    "home": {"get": 200},
    "branches:branch-list": {"get": 200},
    "operations:operations": {"get": 200},
    "rules:customer-why-search": {"get": for_roles(CUSTOMER_ROLES, 200, 404)},
    "rules:transfers": {"get": for_roles(CUSTOMER_ROLES, 200, 404),
                               "post": {**for_roles(CUSTOMER_ROLES, 200, 404), "regional_manager": 403},
                               "writers": EDITORS},
    "central:customer-list": {"get": for_roles(CUSTOMER_ROLES, 200, 404)},
    "central:customer-export": {"get": for_roles(CUSTOMER_ROLES, 200, 404)},
    # issue 22 — customers: a new customer by hand (an empty form: 200 with its errors)
    "central:customer-create": {"get": for_roles(EDITORS, 200, 404), "post": for_roles(EDITORS, 200, 404),
                                "writers": EDITORS},
    "central:customer-import": {"get": for_roles(PLANNERS, 200, 404), "post": for_roles(PLANNERS, 200, 404),
                                "writers": PLANNERS},
    "templates_lib:template-list": {"get": 200},
    "templates_lib:template-create": {"get": for_roles(PLANNERS, 200, 404), "post": for_roles(PLANNERS, 200, 404),
                                      "writers": PLANNERS},
    "templates_lib:asset-list": {"get": 200, "post": for_roles(PLANNERS, 200, 404), "writers": PLANNERS},
    "templates_lib:content-rules": {"get": for_roles(PLANNERS, 200, 404), "post": for_roles(PLANNERS, 200, 404),
                                    "writers": PLANNERS},
    "templates_lib:brand-kit": {"get": for_roles(PLANNERS, 200, 404), "post": for_roles(PLANNERS, 200, 404),
                                "writers": PLANNERS},
    "calendar:calendar": {"get": 200},
    "calendar:calendar-feed-settings": {"post": 302, "writers": frozenset(ROLES)},  # one's own feed URL
    "calendar:operation-create": {"get": for_roles(PLANNERS, 200, 404), "post": for_roles(PLANNERS, 200, 404),
                                  "writers": PLANNERS},
    "calendar:periods": {"get": for_roles(PLANNERS, 200, 404), "post": for_roles(PLANNERS, 200, 404),
                         "writers": PLANNERS},
    "calendar:rules": {"get": for_roles(PLANNERS, 200, 404), "post": for_roles(PLANNERS, 200, 404),
                       "writers": PLANNERS},
    "calendar:suppressions": {"get": for_roles(PLANNERS, 200, 404), "post": for_roles(PLANNERS, 200, 404),
                              "writers": PLANNERS},
    # a simulation of the arbitration over the customers one sees (recorded)
    "calendar:arbitration": {"get": for_roles(CUSTOMER_ROLES, 200, 404), "post": for_roles(CUSTOMER_ROLES, 302, 404),
                             "writers": CUSTOMER_ROLES},
    "print:printer-settings": {"get": for_roles(PLANNERS, 200, 404), "post": for_roles(PLANNERS, 200, 404),
                               "writers": PLANNERS},
    # head office's conflict report (GET reads the latest simulation, POST runs one), its CSV
    "calendar:conflicts": {"get": for_roles(PLANNERS, 200, 404), "post": for_roles(PLANNERS, 302, 404),
                           "writers": PLANNERS, "variants": ("?export=csv",)},
    "approvals:inbox": {"get": for_roles(INBOX_ROLES, 200, 404)},
    "approvals:audit-export": {"get": for_roles(PLANNERS, 200, 404)},
    "approvals:policies": {"get": for_roles(PLANNERS, 200, 404)},
    "approvals:policy-create": {"get": for_roles(PLANNERS, 200, 404), "post": for_roles(PLANNERS, 200, 404),
                                "writers": PLANNERS},
    "reporting:dashboard": {"get": 200, "variants": tuple(
        f"?starts_on={PERIOD[0]}&ends_on={PERIOD[1]}&by={by}{export}" for by in ("branch", "operation", "campaign")
        for export in ("", "&export=csv", "&export=xlsx")) + tuple(
        f"?starts_on={PERIOD[0]}&ends_on={PERIOD[1]}&by=branch&export={kind}&table={table}"
        for kind in ("csv", "xlsx") for table in ("excluded", "comparison", "leaderboard", "pressure"))},
    "budgets:budget-list": {"get": 200, "variants": ("?export=csv", "?export=xlsx")},
    "budgets:budget-allocate": {"post": for_roles(PLANNERS, 400, 404), "writers": PLANNERS},
    # the API
    "api-branch-list": {"get": 200},
    # issue 22 — customers: POST {} creates nothing (no e-mail nor mobile: 400) for who may add customers
    "api-customer-list": {"get": for_roles(CUSTOMER_ROLES, 200, 404), "post": for_roles(EDITORS, 400, 404),
                          "writers": EDITORS},
    "api-customer-import-create": {"post": 400, "writers": PLANNERS},
    "api-purchase-import-create": {"post": 400, "writers": PLANNERS},
    "api-budget-list": {"get": 200, "post": 400, "writers": PLANNERS},
    "api-operation-list": {"get": 200, "post": for_roles(PLANNERS, 400, 403), "writers": PLANNERS},
    "api-campaign-list": {"get": 200, "post": 400, "writers": EDITORS},
    "api-arbitration-simulations": {"post": 400, "writers": CUSTOMER_ROLES},
    "api-ownership-transfer-list": {"get": 200, "post": 400, "writers": EDITORS},
    "api-proof-list": {"get": 200},
    "api-approval-policy-list": {"get": for_roles(PLANNERS, 200, 404), "post": for_roles(PLANNERS, 400, 404),
                                 "writers": PLANNERS},
    "api-approval-audit": {"get": for_roles(PLANNERS, 200, 404)},
    "api-template-list": {"get": 200},
    "api-template-create": {"post": 400, "writers": PLANNERS},
    "api-asset-list": {"get": 200},
    "api-asset-upload": {"post": 400, "writers": PLANNERS},
    "api-reports": {"get": 400, "variants": tuple(f"?starts_on={PERIOD[0]}&ends_on={PERIOD[1]}&by={by}"
                                                  for by in ("branch", "operation", "campaign", "region"))},
    # issue 22 — networks (scoping in detail: tests/security/test_access_networks.py)
    "networks:platform-network-list": {"get": 404}, "networks:platform-network-create": {"get": 404, "post": 404},
    "networks:network-settings": {"get": for_roles(PLANNERS, 200, 404), "post": for_roles(PLANNERS, 200, 404),
                                  "writers": PLANNERS},
    "networks:network-audit": {"get": for_roles(PLANNERS | {"regional_manager"}, 200, 404)},
    "networks:network-audit-export": {"get": for_roles(PLANNERS | {"regional_manager"}, 200, 404)},
    "api-network-settings": {"get": for_roles(PLANNERS, 200, 404), "patch": for_roles(PLANNERS, 200, 404),
                             "writers": PLANNERS},
    "api-network-events": {"get": 200},
    # issue 22 — people (persons and invitations themselves: tests/security/test_access_people.py)
    "people:people-list": {"get": for_roles(PLANNERS | {"regional_manager"}, 200, 404)},
    "people:person-invite": {"get": for_roles(PLANNERS | {"regional_manager"}, 200, 404),
                             "post": for_roles(PLANNERS | {"regional_manager"}, 200, 404),
                             "writers": PLANNERS | {"regional_manager"}},
    "api-person-list": {"get": 200},
    "api-invitation-list": {"get": 200, "post": 400, "writers": PLANNERS | {"regional_manager"}},
    # issue 22 — structure (scoping in detail: tests/security/test_access_structure.py)
    "structure:structure": {"get": for_roles(PLANNERS | {"regional_manager"}, 200, 404)},
    # (a regional manager reads the structure and is told why they may not change it: 403)
    "structure:node-create": {"get": {**for_roles(PLANNERS, 200, 404), "regional_manager": 403},
                              "post": {**for_roles(PLANNERS, 200, 404), "regional_manager": 403}, "writers": PLANNERS},
    "structure:import": {"get": {**for_roles(PLANNERS, 200, 404), "regional_manager": 403},
                         "post": {**for_roles(PLANNERS, 200, 404), "regional_manager": 403}, "writers": PLANNERS},
    # (an empty body is refused by field before any node is looked up: 400 for every role, nothing written)
    "api-node-list": {"get": 200, "post": 400, "writers": PLANNERS},
    "api-structure-import": {"post": 400, "writers": PLANNERS},
    # issue 22 — the sending identity (scoping in detail: tests/security/test_access_identity.py)
    "identity:identity": {"get": for_roles(PLANNERS, 200, 404), "post": for_roles(PLANNERS, 200, 404),
                          "writers": PLANNERS},
    "identity:identity-test": {"post": for_roles(PLANNERS, 200, 404), "writers": PLANNERS},
    "api-network-identity": {"get": for_roles(PLANNERS, 200, 404), "patch": for_roles(PLANNERS, 200, 404),
                             "writers": PLANNERS},
    # (an empty body is refused by field: 400, nothing queued)
    "api-network-identity-test": {"post": for_roles(PLANNERS, 400, 404), "writers": PLANNERS},
    # issue 22 — single sign-on set-up (scoping in detail: tests/security/test_access_sso.py)
    "sso:sso": {"get": for_roles(PLANNERS, 200, 404), "post": for_roles(PLANNERS, 200, 404), "writers": PLANNERS},
    "sso:sso-mappings": {"post": for_roles(PLANNERS, 200, 404), "writers": PLANNERS},
    "sso:sso-discovery": {"post": for_roles(PLANNERS, 302, 404), "writers": PLANNERS},
    # issue 22 — single sign-on API (an empty body is refused by field: 400; scoping: test_access_sso.py)
    "api-sso-config": {"get": for_roles(PLANNERS, 200, 404), "put": for_roles(PLANNERS, 400, 404),
                       "patch": for_roles(PLANNERS, 400, 404), "writers": PLANNERS},
    "api-sso-mappings": {"get": for_roles(PLANNERS, 200, 404), "post": for_roles(PLANNERS, 400, 404),
                         "writers": PLANNERS},
    "api-sso-discovery": {"post": for_roles(PLANNERS, 400, 404), "writers": PLANNERS},
}
#: Reached without logging in, nothing tenant-owned behind them (the login page, the language,
#: the health check, the API's schema and token, the providers' signed webhooks): checked for no
#: marker of anyone in any answer, for every role.
PUBLIC_ROUTES = {"login", "logout", "set_language", "healthz", "api-schema", "api-docs", "api-token",
                 "public:sms-inbound-twilio", "anymail:mailgun_tracking_webhook",
                 # issue 22 — password reset by e-mail (Django's views: no account enumeration)
                 "password_reset", "password_reset_done", "password_reset_confirm", "password_reset_complete",
                 # issue 22 — login (django-allauth): its names for the login and logout, a deactivated
                 # account's page, the second factor asked at login
                 "account_login", "account_logout", "account_inactive", "mfa_authenticate",
                 # issue 22 — single sign-on: the company-account form, the provider's login and callback
                 # (probed with a real provider by tests/central/people/test_sso_login.py and
                 # tests/security/test_access_sso.py)
                 "sso-login", "openid_connect_login", "openid_connect_callback",
                 # issue 22 E — each network's own tracking webhook: its own secret is the credential
                 # (tests/security/test_access_identity_webhook.py)
                 "identity-tracking-webhook"}
#: Public routes whose token is the credential: covered below (the feed, the sign-up page) or by
#: tests/central/delivery/test_public_links.py and tests/central/prospects/test_prospects.py (a message's links, the sign-up link),
#: here for a missing token (404, nothing shown).
TOKEN_ROUTES = {"calendar-feed", "print:printer-download", "public:signup", "public:signup-confirm", "public:unsubscribe", "public:open",
                "public:click", "public:view-online", "invitation-accept"}
#: issue 22 — routes of an object this matrix's world does not build (a person, an invitation): each
#: is covered by its own matrix, named here, over the same roles, the other network and a missing id
#: (404). The check below holds that file to naming every such route.
OWN_MATRIX_ROUTES = dict.fromkeys(("people:person-detail", "people:person-role-grant", "people:person-role-revoke", "people:person-deactivate", "people:person-reactivate", "people:person-sessions-end", "people:invitation-revoke", "people:invitation-resend", "api-person-detail", "api-person-roles", "api-person-deactivate", "api-person-reactivate", "api-invitation-revoke", "api-invitation-resend"), "tests/security/test_access_people.py")
#: issue 22 — login: one's own second factor (no object of a network behind them): each probed for
#: anonymous, and for someone else's codes, by tests/central/people/test_mfa.py
OWN_MATRIX_ROUTES |= dict.fromkeys(("mfa_index", "mfa_reauthenticate", "mfa_activate_totp", "mfa_deactivate_totp",
                                    "mfa_view_recovery_codes", "mfa_download_recovery_codes",
                                    "mfa_generate_recovery_codes", "account_reauthenticate"),
                                   "tests/central/people/test_mfa.py")
OWN_MATRIX_ROUTES["usersessions_list"] = "tests/central/people/test_sessions.py"  # one's own sessions
#: issue 22 — sessions one by one: a person's one session, one's own one session
OWN_MATRIX_ROUTES |= dict.fromkeys(("people:person-session-end", "usersession-end"), "tests/security/test_access_sess.py")
OWN_MATRIX_ROUTES["api-sso-mapping"] = "tests/security/test_access_sso.py"  # issue 22 — an SSO role mapping
#: The demo's public uploads (images of messages, branches' logos), served only with DEBUG.
MEDIA_FAMILY = re.compile(r"^\^media/(assets|logos)/")


def test_every_route_is_in_the_matrix():
    undeclared, routes = [], set()
    for route, name in ALL_ROUTES:
        if route.startswith("admin/") or MEDIA_FAMILY.match(route):
            continue
        routes.add(name)
        if name not in OBJECT_ROUTES and name not in LIST_ROUTES and name not in PUBLIC_ROUTES \
                and name not in TOKEN_ROUTES and name not in SESSION_ROUTES and name not in OWN_MATRIX_ROUTES:
            undeclared.append(f"{route} ({name})")
    assert not undeclared, "routes without an entry in tests/security/test_access_matrix_routes.py: " + ", ".join(undeclared)
    stale = (set(OBJECT_ROUTES) | set(LIST_ROUTES) | PUBLIC_ROUTES | TOKEN_ROUTES | SESSION_ROUTES
             | set(OWN_MATRIX_ROUTES)) - routes
    assert not stale, f"declared routes that no longer exist: {sorted(stale)}"
    with_object = [name for route, name in ALL_ROUTES if name in LIST_ROUTES and "<" in route]
    assert not with_object, f"routes with an object must be declared in OBJECT_ROUTES: {with_object}"
    FIGURES["routes"] = len(routes)


LIST_ROUTE_LIST = [(route, name) for route, name in ALL_ROUTES if name in LIST_ROUTES]
OWN_MATRIX_ROUTE_LIST = [(route, name) for route, name in ALL_ROUTES if name in OWN_MATRIX_ROUTES]


@pytest.mark.parametrize("route, name", OWN_MATRIX_ROUTE_LIST, ids=[name for _route, name in OWN_MATRIX_ROUTE_LIST])
def test_route_covered_by_its_own_matrix(route, name):
    """The file named for the route probes its URL (its parameters written as {…})."""
    pattern = re.sub(r"<(?:\w+:)?\w+>", r"\\{\\w+\\}", re.escape("/" + route).replace("\\<", "<").replace("\\>", ">"))
    text = (Path(__file__).resolve().parents[2] / OWN_MATRIX_ROUTES[name]).read_text()
    assert re.search(pattern, text), f"{OWN_MATRIX_ROUTES[name]} does not probe /{route} ({name})"


SESSION_ROUTE_LIST = [(route, name) for route, name in ALL_ROUTES if name in SESSION_ROUTES]


@pytest.mark.parametrize("route, name", SESSION_ROUTE_LIST, ids=[name for _route, name in SESSION_ROUTE_LIST])
def test_route_of_the_session(matrix, route, name):
    """Nobody reaches an object that is not in their own session: 404 for every role."""
    url = url_of(matrix, route, "branch", "missing")
    for role in ROLES:
        response = send(matrix.client_for(role), "get", url)
        where = f"{role} GET {url} ({name})"
        if role == "anonymous":
            check_anonymous(route, "get", response, where=where)
        else:
            assert response.status_code == 404, f"{where}: {response.status_code}, expected 404"


@pytest.mark.parametrize("route, name", LIST_ROUTE_LIST, ids=[name for _route, name in LIST_ROUTE_LIST])
def test_route_without_an_object(matrix, route, name):
    declared = LIST_ROUTES[name]
    base = "/" + route
    probe = matrix.client_for("head_office")
    methods = [method for method in METHODS if send(probe, method, base).status_code != 405]
    assert set(methods) == set(declared) - {"writers", "variants"}, f"{name} takes {methods}: declare each"
    FIGURES["routes without an object"] += 1
    for method in methods:
        for url in (base, *((base + variant for variant in declared.get("variants", ())) if method == "get" else ())):
            for role in ROLES:
                client = matrix.client_for(role)
                where = f"{role} {method.upper()} {url} ({name})"
                with transaction.atomic():
                    before = state(matrix, "branch", "missing") if method != "get" else None
                    response = send(client, method, url)
                    after = state(matrix, "branch", "missing") if method != "get" else None
                    transaction.set_rollback(True)
                FIGURES["requests"] += 1
                assert response.status_code < 500, where
                if role == "anonymous":
                    check_anonymous(route, method, response, where=where)
                elif url == base:
                    table = declared[method] if isinstance(declared[method], dict) else {"*": declared[method]}
                    expected = table.get(role, table["*"])
                    assert response.status_code == expected, f"{where}: {response.status_code}, expected {expected}"
                if method != "get":
                    FIGURES["writes"] += 1
                    if role not in declared.get("writers", ()):
                        assert after == before, f"{where}: a write that is not the role's changed the data"
                        FIGURES["writes proven without effect"] += 1
                body = body_text(response)
                assert_no_foreign_markers(matrix, role, body, where=where)
                if response.status_code == 200 and own_markers_shown(matrix, role, body):
                    FIGURES["answers showing the role's own markers"] += 1


PUBLIC_ROUTE_LIST = [(route, name) for route, name in ALL_ROUTES if name in PUBLIC_ROUTES]


@pytest.mark.parametrize("route, name", PUBLIC_ROUTE_LIST, ids=[name for _route, name in PUBLIC_ROUTE_LIST])
def test_public_route_shows_nobody(matrix, route, name):
    for role in ROLES:
        client = matrix.client_for(role)
        for method in ("get", "post"):
            with transaction.atomic():
                response = send(client, method, "/" + route)
                transaction.set_rollback(True)
            FIGURES["requests"] += 1
            where = f"{role} {method.upper()} /{route} ({name})"
            assert response.status_code < 500, where
            assert_no_foreign_markers(matrix, role, body_text(response), where=where)


def test_each_calendar_feed_shows_only_its_owner_s_scope(matrix):
    """The iCalendar feed (no login, the token is the credential) of each role: the operations of
    its own network, nothing of the others; a missing token answers 404."""
    client = Client()
    for role, token in matrix.feeds.items():
        response = client.get(f"/calendar.ics/{token}")
        FIGURES["requests"] += 1
        assert response.status_code == 200, role
        body = body_text(response)
        assert body.startswith("BEGIN:VCALENDAR"), role
        assert_no_foreign_markers(matrix, role, body, where=f"calendar feed of {role}")
        network = next(iter(NETWORK_SCOPE[role]))
        assert f"MKOP{network.upper()}" in body, f"the feed of {role} lists its network's operation"
    response = client.get("/calendar.ics/no-such-token")
    FIGURES["requests"] += 1
    assert response.status_code == 404


@pytest.mark.parametrize("code", BRANCHES)
def test_each_branch_s_sign_up_page_shows_that_branch_only(matrix, code):
    """The public sign-up page of a branch: its name, nobody's data, no other branch."""
    node = matrix.world.nodes[code]
    response = Client().get(f"/join/{node.public_id}/")
    FIGURES["requests"] += 1
    assert response.status_code == 200
    body = body_text(response)
    assert node.name in body
    pattern = marker_pattern({marker for (category, tenant), values in matrix.markers.items()
                              if (category, tenant) != ("branch", code) for marker in values})
    leaks = sorted(set(pattern.findall(body)))
    assert not leaks, f"sign-up page of {code} shows {leaks}"
    assert Client().get(f"/join/{MISSING}/").status_code == 404


@pytest.mark.parametrize("code", ["N1", "N2", "S1", "W1"])
def test_a_message_s_public_links_show_that_message_only(matrix, code):
    """A message's public pages (no login: its token is the credential), opened by anyone: the
    message of that branch to that customer, nothing of any other branch, customer or network."""
    delivery = matrix.deliveries[code]
    network = NETWORK_OF_BRANCH[code]
    theirs = {("branch", code), ("work", code), ("customer", code), ("net", network)}
    pattern = marker_pattern({marker for (category, tenant), values in matrix.markers.items()
                              if (category, tenant) not in theirs for marker in values})
    for role in ROLES:
        client = matrix.client_for(role)
        for url, expected in ((f"/v/{delivery.token}/", 200), (f"/u/{delivery.token}/", 200),
                              (f"/t/o/{delivery.token}.gif", 200)):
            response = client.get(url)
            FIGURES["requests"] += 1
            assert response.status_code == expected, f"{role} GET {url}: {response.status_code}"
            body = body_text(response) if "image/" not in response["Content-Type"] else ""
            if url.startswith("/v/"):
                assert f"MKSLOT{code}" in body, "the message online shows its own text"
            leaks = sorted(set(pattern.findall(body)))
            assert not leaks, f"{role} GET {url} (message of {code}) shows {leaks}"


TOKEN_ROUTE_LIST = [(route, name) for route, name in ALL_ROUTES if name in TOKEN_ROUTES]


@pytest.mark.parametrize("route, name", TOKEN_ROUTE_LIST, ids=[name for _route, name in TOKEN_ROUTE_LIST])
def test_token_route_with_a_missing_token(matrix, route, name):
    url = "/" + re.sub(r"<(?:\w+:)?(\w+)>", "t_zzmissing0000000000000000", route)
    for role in ROLES:
        response = matrix.client_for(role).get(url)
        FIGURES["requests"] += 1
        # a link not signed by Relais: 400; the open pixel answers its GIF whatever the token
        expected = {"public:signup-confirm": 400, "public:open": 200}.get(name, 404)
        assert response.status_code == expected, f"{role} GET {url}: {response.status_code}"
        assert_no_foreign_markers(matrix, role, body_text(response), where=f"{role} GET {url}")


def test_the_marker_check_sees_foreign_data_and_only_whole_words(matrix):
    """The check itself: another network's customer e-mail, another branch's slot text are caught;
    the role's own data and a word merely containing a marker ("Sudden") are not."""
    for role, foreign in (("head_office", matrix.world.customers["W1"].email), ("branch_manager", "MKSLOTN2"),
                          ("regional_manager", "Nîmes"), ("approver", matrix.world.customers["N1"].last_name)):
        with pytest.raises(AssertionError, match="foreign data shown"):
            assert_no_foreign_markers(matrix, role, f"<td>{foreign}</td>", where="self-test")
    assert_no_foreign_markers(matrix, "branch_manager", "<td>MKSLOTN1 Lille Sudden</td>", where="self-test")


def test_zz_figures(capsys):
    """The module's figures, printed at the end (run the whole module to get them all)."""
    figures = dict(FIGURES)
    figures.update({"roles": len(ROLES), "objects per route": len(OBJECTS),
                    "object kinds": len({declared.kind for declared in OBJECT_ROUTES.values()}),
                    "declared tasks": len(TASKS)})
    with capsys.disabled():
        print("\naccess matrix over every route: " + ", ".join(f"{key}: {value}" for key, value in figures.items()))
    if FIGURES["requests"]:
        assert FIGURES["answers showing the role's own markers"] > 0, "the marker check finds nothing: broken"
