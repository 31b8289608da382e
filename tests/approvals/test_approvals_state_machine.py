"""The approval rules under random use: a Hypothesis state machine drives the campaigns of
network alpha through joins, kits, edits (slot, date, criteria, target list), cancellations and
declines, proof requests, approvals, rejections, requests for changes, revocations, overdue
deadlines (escalation), scheduling and sending — each step done by someone drawn among every
actor of the world (each branch's managers, both regional managers, head office, two head-office
approvers, the analyst, a user with no role, the other network's head office, and "both", branch
manager of N1 *and* regional manager of NORTH), under a policy drawn at the start. Half of the
time the actor is "the right person" (the branch's manager, a holder of the current step's role),
so that campaigns get approved, scheduled and sent; the other half, anyone (mostly refused).

After every step the rules are read back from the database, never from the machine's bookkeeping:

1. nothing is scheduled or sent without a full approval of exactly what goes out (an approved
   proof carrying the campaign's current fingerprint, each step with its quorum of distinct
   non-authors, nobody counted twice); the fingerprint when a send started is the one its proof
   approved;
2. nobody decides what they authored or edited (``Proof.author_ids``, and the campaign's history
   up to the request, recomputed here);
3. every decision is within its author's scope (the step's role on the step's node, or head-office
   approver once the step was escalated; approve_proofs over the branch), and each proof asks for
   the steps its policy says, on the right nodes;
4. each step is decided once (nothing after a rejection nor once the proof is closed, at most the
   quorum of approvals, a step only after the previous one is complete) and a person decides one
   step of a proof at most;
5. one live proof per campaign waiting, approved or scheduled, carrying its current fingerprint;
   none on a draft or a cancelled campaign;
6. a cancelled campaign stays cancelled, a sending one stays sending.

And a refused call (ValidationError or PermissionDenied) leaves the database as it was.

The world is built once; each example runs inside a savepoint rolled back by ``teardown``.
Derandomized for CI (see ``machine_settings``). To hunt for bugs with fresh examples:
``APPROVALS_SM_RANDOM=1 APPROVALS_SM_EXAMPLES=300 pytest tests/approvals/test_approvals_state_machine.py``.
"""

from __future__ import annotations

import os
from collections import defaultdict
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from approvals.models import ApprovalPolicy, AuditAction, AuditEntry, Decision, Proof, ProofStatus, Verdict
from approvals.policies import policy_save
from approvals.services import approval_revoke, proof_deadlines_run, proof_decide, proof_request
from central.calendar.services import participation_answer
from central.campaigns.selectors import campaign_fingerprint
from central.campaigns.services import (
    campaign_cancel,
    campaign_schedule,
    campaign_send_start,
    campaign_target_change,
    campaign_update,
    kit_use,
)
from central.models import (
    Campaign,
    CampaignEvent,
    CampaignStatus,
    ConsentStatus,
    Customer,
    OperationMode,
    Participation,
    TargetOverride,
)
from local_stores.models import NodeKind, Role
from local_stores.selectors import node_in_scope
from local_stores.services import role_grant
from tests.conftest import build_world
from tests.factories import UserFactory
from tests.planning import plan, sms_version

DEFAULT_MESSAGE = "vins de fête"  # the slot's default (tests.planning.sms_version)
LIVE = (ProofStatus.PENDING, ProofStatus.APPROVED)
APPROVED_OR_SCHEDULED = (CampaignStatus.APPROVED, CampaignStatus.SCHEDULED)

#: Everyone: each branch's managers, the regional managers, head office, the approvers, the
#: analyst, a user without a role, the other network's head office, and "both" — branch manager
#: of N1 *and* regional manager of NORTH.
ACTORS = [
    "branch_manager", "sibling_branch_manager", "other_region_manager", "regional_manager", "south_manager",
    "head_office", "other_network_head_office", "approver", "approver2", "analyst", "nobody", "both",
]
#: Stands for "the one who should act": the campaign's branch manager, or someone holding the
#: current step's role on its node (see ``ApprovalMachine.editor`` and ``.decider``). Drawn half
#: of the time, so that campaigns get far enough to be approved, scheduled and sent.
RIGHT = "<the right person>"
#: Stands for "someone close who should be refused": a manager of another branch or a regional
#: manager for an edit; for a decision, someone with an approval role who is not the step's (an
#: approver on a region step, the other region's manager), an author, or who decided already.
#: Drawn a quarter of the time; the last quarter, anyone at all.
NEAR = "<someone close>"

actors = st.sampled_from(ACTORS)
people = st.one_of(st.just(RIGHT), st.one_of(st.just(NEAR), actors))
#: Who may approve something somewhere in network alpha, and who prepares some campaign there.
APPROVAL_ROLES = ["approver", "approver2", "both", "regional_manager", "south_manager"]
PREPARERS = ["branch_manager", "both", "sibling_branch_manager", "other_region_manager", "regional_manager"]
#: A campaign, by its rank (modulo their number) among the campaigns in the state the rule
#: expects (picks 0 to 2) or among all of them (pick 3).
picks = st.integers(min_value=0, max_value=3)
#: What an edit does: a slot value, the send date, the target criteria, the target list (a
#: customer excluded, included or restored), or withdrawing the campaign (cancelled, or its
#: branch declines the operation; or cancelled by a request that read it one step earlier).
changes = st.sampled_from(["slot", "date", "criteria", "list", "list", "cancel", "decline",
                           "cancel (read before the last step)"])

HQ = {"level": "head_office", "role": "approver"}
REGION = {"level": "region", "role": "regional_manager"}
#: Policies set by head office at the start of an example (in position order).
POLICIES: dict[str, list[dict]] = {
    "none (region, then head office)": [],
    "quorum 2 at head office": [{"steps": [{**HQ, "quorum": 2}]}],
    "region only": [{"steps": [{**REGION, "quorum": 1}]}],
    "region, then quorum 2 at head office": [{"steps": [{**REGION, "quorum": 1}, {**HQ, "quorum": 2}]}],
    "kits: quorum 2 at head office": [{"origin": "kit", "steps": [{**HQ, "quorum": 2}]}],
    "defaults only: region; free text: head office": [
        {"changes": "defaults", "steps": [{**REGION, "quorum": 1}]},
        {"changes": "text", "steps": [{**HQ, "quorum": 1}]},
    ],
    "an approver on the region (nobody: escalation only)": [{"steps": [{"level": "region", "role": "approver",
                                                                         "quorum": 1}]}],
    "quorum 3 at head office (only two approvers)": [{"steps": [{**HQ, "quorum": 3}]}],
}

#: Segments of each branch's SMS-reachable customers (plus one unreachable "vip").
SEGMENTS = ["vip", "regular", "regular"]
TARGETS = [{}, {"segment": "vip"}, {"segment": "regular"}, {"segment": "nobody-here"}, {"interest": "wine"}]
MESSAGES = [DEFAULT_MESSAGE, "huîtres -20 %", "Coffret à 39 €", "", "x" * 61]
#: Days after the start of the send window (20 to 30 days from today): -1 and 11 fall outside.
DATE_OFFSETS = [0, 3, 10, -1, 11]
#: Who should prepare a branch's campaigns. "both" manages N1 too: what they edit, they may not
#: approve as NORTH's regional manager.
MANAGERS = {
    "N1": ["branch_manager", "both"], "N2": ["sibling_branch_manager"], "S1": ["other_region_manager"],
}
STARTERS = [("N1", False), ("N2", False), ("S1", False), ("N1", True), ("S1", True)]


def note_event(label: str) -> None:
    """Count what examples did (``--hypothesis-show-statistics``); a no-op when a sequence is
    replayed by hand (``test_known_sequences``)."""
    if currently_in_test_context():
        hypothesis_event(label)


# --- The world --------------------------------------------------------------------------------------------


def approval_world():
    """conftest's world, plus "both", a second head-office approver, a regional manager of SOUTH,
    an opt-in SMS operation and an SMS kit open to every branch, and SMS-reachable customers in
    N1, N2 and S1."""
    world = build_world()
    extra = {
        "both": [(Role.BRANCH_MANAGER, "N1"), (Role.REGIONAL_MANAGER, "NORTH")],
        "approver2": [(Role.APPROVER, "alpha:HQ")],
        "south_manager": [(Role.REGIONAL_MANAGER, "SOUTH")],
    }
    for name, grants in extra.items():
        user = UserFactory(username=name)
        for role, node in grants:
            role_grant(user=user, node=world.nodes[node], role=role)
        world.users[name] = user
    #: Everyone, fresh from the database, by id (for reading decisions back).
    world.people = get_user_model().objects.in_bulk()
    version = sms_version(world)
    world.version = version
    world.optin = plan(world, versions=[version])
    world.kit = plan(world, mode=OperationMode.KIT, versions=[version], name="Kit Noël")
    world.customer_ids = {f"{code}-conftest": customer.public_id
                          for code, customer in world.customers.items()}
    for code in ("N1", "N2", "S1"):
        node = world.nodes[code]
        for index, segment in enumerate(SEGMENTS):
            customer = Customer.objects.create(
                network=node.network, branch=node, external_id=f"{code}-sms-{index}",
                last_name=f"Client{index}", mobile=f"0600000{index:03d}", consent_sms=ConsentStatus.GRANTED,
                segment=segment)
            world.customer_ids[f"{code}-{segment}-{index}"] = customer.public_id
        unreachable = Customer.objects.create(network=node.network, branch=node, external_id=f"{code}-nosms",
                                              last_name="Injoignable", segment="vip")
        world.customer_ids[f"{code}-unreachable"] = unreachable.public_id
    return world


# --- Reading the database -----------------------------------------------------------------------------


def db_snapshot():
    """Everything a refused call must leave as it was."""
    return (
        sorted(Campaign.objects.values_list("pk", "status", "slot_values", "send_date", "target_criteria")),
        sorted(TargetOverride.objects.values_list("campaign_id", "customer_id", "action")),
        sorted(Proof.objects.values_list("pk", "status", "current_step", "escalated_steps")),
        sorted(Decision.objects.values_list("pk", "proof_id", "step", "decided_by_id", "verdict")),
        sorted(Participation.objects.values_list("pk", "status")),
        ApprovalPolicy.objects.count(), CampaignEvent.objects.count(), AuditEntry.objects.count(),
    )


def independent_authors(proof: Proof, history: list[dict]) -> set[int]:
    """Who created or edited the campaign before the proof was requested, and who requested it,
    from the campaign's history (its CampaignEvent rows), not from ``proof.author_ids``."""
    editors_ = {row["by_id"] for row in history if row["at"] <= proof.requested_at
                and (row["action"] in ("created", "customised") or row["action"].startswith("target_"))}
    return editors_ | {proof.requested_by_id}


def region_of(node):
    while node is not None and node.kind != NodeKind.REGION:
        node = node.parent
    return node


def expected_steps(proof: Proof, policy_key: str, head_office) -> list[tuple]:
    """The steps the example's policy asks of this proof, worked out here (SMS only: no print rule)."""
    campaign = proof.campaign
    origin = "kit" if campaign.operation.mode == OperationMode.KIT else "subscription"
    changes_ = "defaults" if proof.slot_values.get("message") == DEFAULT_MESSAGE else "text"
    wanted = [REGION | {"quorum": 1}, HQ | {"quorum": 1}]
    for policy in POLICIES[policy_key]:
        if policy.get("origin", origin) == origin and policy.get("changes", changes_) == changes_:
            wanted = policy["steps"]
            break
    region = region_of(campaign.branch)
    return [(step["level"], step["role"], (head_office if step["level"] == "head_office" else region).pk,
             step["quorum"]) for step in wanted]


def holds(user, role: str, node_id: int) -> bool:
    return user.groups.filter(relais_role__role=role, relais_role__node_id=node_id).exists()


def full_approval_problems(proof: Proof, decisions: list[Decision], authors: set[int]) -> list[str]:
    """What a proof lacks to be fully approved: each step its quorum of approvals by distinct
    people who are not authors (``proof.author_ids`` nor ``authors``), nobody counted twice."""
    counted = set(proof.author_ids or []) | authors
    problems = []
    for index, step in enumerate(proof.steps):
        approvers = {d.decided_by_id for d in decisions if d.step == index and d.verdict == Verdict.APPROVE}
        approvers -= counted
        if len(approvers) < step["quorum"]:
            problems.append(f"step {index} has {len(approvers)} approval(s) by non-authors not counted "
                            f"elsewhere, needs {step['quorum']}")
        counted |= approvers
    return problems


# --- The machine ------------------------------------------------------------------------------------


class ApprovalMachine(RuleBasedStateMachine):
    world = None  # built once per test run (see the test function), rolled back to after each example

    def __init__(self):
        super().__init__()
        self.savepoint = transaction.savepoint()
        self.policy_key = "none (region, then head office)"
        self.campaign_ids: list[int] = []
        self.sent: dict[int, tuple[str, int]] = {}  # campaign -> (fingerprint when the send started, proof)
        self.seen_cancelled: set[int] = set()
        self.seen_sending: set[int] = set()
        self.checked_decisions: set[int] = set()
        #: Campaigns as read before the previous step, for the cancel requests racing with it.
        self.read_earlier: dict[int, Campaign] = {}
        self.read_now: dict[int, Campaign] = {}
        #: What the database held after the last step (campaign statuses, "proof pending"...): for
        #: the rules' preconditions only, which would otherwise query it for every rule and step.
        self.seen: set[str] = set()

    def teardown(self):
        transaction.savepoint_rollback(self.savepoint)

    # -- helpers

    def user(self, name: str):
        return self.world.users[name]

    def campaign(self, pick: int, *, prefer: Q | None = None) -> Campaign | None:
        """The ``pick``-th campaign; with ``prefer``, picks 0 to 2 go to the campaigns matching it
        (if any), pick 3 to any campaign (mostly to be refused)."""
        if prefer is not None and pick < 3:
            preferred = list(Campaign.objects.filter(prefer).order_by("pk").values_list("pk", flat=True))
            if preferred:
                return Campaign.objects.get(pk=preferred[pick % len(preferred)])
        if not self.campaign_ids:
            return None
        return Campaign.objects.get(pk=self.campaign_ids[pick % len(self.campaign_ids)])

    def editor(self, actor: str, branch_code: str, pick: int = 0):
        """``RIGHT`` is one of the branch's own managers, ``NEAR`` someone preparing campaigns
        elsewhere (or their regional manager); anyone else is who they are."""
        managers = MANAGERS[branch_code]
        if actor == RIGHT:
            return self.user(managers[pick % len(managers)])
        if actor == NEAR:
            others = [name for name in PREPARERS if name not in managers]
            return self.user(others[pick % len(others)])
        return self.user(actor)

    def decider(self, actor: str, proof: Proof, pick: int, step: int | None = None):
        """``RIGHT`` is someone holding the role of the proof's current step (or ``step``) on its
        node, or a head-office approver once it is escalated, who has not decided that step yet —
        read from the role groups, not from the approvals app; the service still decides whether
        they may (an author may not: "both" is among the holders on NORTH; nor may who decided
        another step of the proof)."""
        if actor not in (RIGHT, NEAR):
            return self.user(actor)
        index = proof.current_step if step is None else step
        definition = proof.steps[min(index, len(proof.steps) - 1)]
        holders = Q(groups__relais_role__role=definition["role"],
                    groups__relais_role__node_id=definition["node"])
        if index in (proof.escalated_steps or []):
            head_office = proof.campaign.network.nodes.get(kind=NodeKind.HEAD_OFFICE)
            holders |= Q(groups__relais_role__role=Role.APPROVER, groups__relais_role__node=head_office)
        decided = proof.decisions.filter(step=index).values("decided_by")
        right = list(get_user_model().objects.filter(holders).exclude(pk__in=decided).distinct()
                     .order_by("username"))
        if actor == RIGHT:
            return right[pick % len(right)] if right else self.user("approver")
        authors = set(proof.author_ids or []) | set(proof.decisions.values_list("decided_by", flat=True))
        near = [self.user(name) for name in APPROVAL_ROLES if self.user(name) not in right]
        near += [person for person in right if person.pk in authors]
        return near[pick % len(near)]

    def attempt(self, label: str, service, **kwargs):
        """Call a service; a refusal must change nothing."""
        before = db_snapshot()
        try:
            result = service(**kwargs)
        except (ValidationError, PermissionDenied) as error:
            after = db_snapshot()
            assert after == before, (
                f"{label} was refused ({error}) but changed the database"
                + (" (a proof whose campaign had changed without voiding it)" if "changed after" in str(error)
                   else ""))
            note_event(f"{label}: refused")
            return None
        note_event(f"{label}: done")
        return result

    def refresh_campaigns(self):
        self.campaign_ids = list(Campaign.objects.order_by("pk").values_list("pk", flat=True))

    # -- set-up

    @initialize(policy_key=st.sampled_from(list(POLICIES)),
                starters=st.lists(st.sampled_from(STARTERS), min_size=1, max_size=3, unique=True))
    def start(self, policy_key, starters):
        """Head office sets the policy; one to three campaigns exist (joined or kits)."""
        self.policy_key = policy_key
        note_event(f"policy: {policy_key}")
        for position, fields in enumerate(POLICIES[policy_key]):
            policy_save(network=self.world.networks["alpha"], saved_by=self.user("head_office"),
                         name=f"{policy_key} #{position}", position=position, **fields)
        for branch, kit in starters:
            self.create(branch=branch, kit=kit, actor=RIGHT)

    # -- preparing campaigns

    @rule(branch=st.sampled_from(["N1", "N2", "S1"]), kit=st.booleans(), actor=people)
    def create(self, branch, kit, actor):
        """A branch joins the opt-in operation (a no-op if it already has a live campaign of it)
        or uses the kit (a new campaign each time); at most four live campaigns at a time."""
        live = Campaign.objects.exclude(status=CampaignStatus.CANCELLED).count()
        if live >= 4 or len(self.campaign_ids) >= 8:
            return
        node, who = self.world.nodes[branch], self.editor(actor, branch, int(kit))
        if kit:
            self.attempt("use the kit", kit_use, operation=self.world.kit, branch=node,
                         template_version=self.world.version, used_by=who)
        else:
            self.attempt("join", participation_answer, operation=self.world.optin, branch=node,
                         status="joined", answered_by=who)
        self.refresh_campaigns()

    def _edit(self, campaign, actor, what, value):
        who = self.editor(actor, campaign.branch.code, value // 7)
        if what == "slot":
            self.attempt("edit a slot", campaign_update, campaign=campaign, updated_by=who,
                         slot_values={"message": MESSAGES[value % len(MESSAGES)]})
        elif what == "date":
            day = self.world.optin.send_from + timedelta(days=DATE_OFFSETS[value % len(DATE_OFFSETS)])
            self.attempt("edit the date", campaign_update, campaign=campaign, updated_by=who, send_date=day)
        elif what == "criteria":
            self.attempt("edit the target", campaign_update, campaign=campaign, updated_by=who,
                         target_criteria=TARGETS[value % len(TARGETS)])
        elif what == "list":  # one of the branch's own customers 3 times in 4, anyone's otherwise
            keys = sorted(self.world.customer_ids)
            if value % 4:
                keys = [key for key in keys if key.startswith(f"{campaign.branch.code}-")]
            action = ("exclude", "include", "reset")[value % 3]
            self.attempt(f"{action} a customer", campaign_target_change, campaign=campaign,
                         customer_public_id=self.world.customer_ids[keys[value % len(keys)]], action=action,
                         changed_by=who)
        elif what == "cancel":
            self.attempt("cancel", campaign_cancel, campaign=campaign, cancelled_by=who)
        elif what == "cancel (read before the last step)":
            # A cancel request that read the campaign before the previous step ran (a concurrent
            # request or task, e.g. the send starting meanwhile): services get the instance the
            # view read, and must not trust its status.
            read = self.read_earlier.get(campaign.pk, campaign)
            note_event(f"cancel with a stale copy: {read.status != campaign.status}")
            self.attempt("cancel", campaign_cancel, campaign=read, cancelled_by=who)
        else:  # the branch declines the opt-in operation it had joined: its drafts of it are cancelled (refused while one is further along)
            self.attempt("decline", participation_answer, operation=self.world.optin, branch=campaign.branch,
                         status="declined", answered_by=who)

    @rule(pick=picks, actor=people, what=changes,
          value=st.integers(min_value=0, max_value=30))
    def edit(self, pick, actor, what, value):
        campaign = self.campaign(pick)
        if campaign is not None:
            self._edit(campaign, actor, what, value)

    @precondition(lambda self: self.seen & {CampaignStatus.APPROVED, CampaignStatus.SCHEDULED})
    @rule(pick=picks, actor=people, what=changes,
          value=st.integers(min_value=0, max_value=30))
    def edit_after_approval(self, pick, actor, what, value):
        approved = list(Campaign.objects.filter(status__in=APPROVED_OR_SCHEDULED)
                        .select_related("branch").order_by("pk"))
        self._edit(approved[pick % len(approved)], actor, what, value)

    # -- approval

    @rule(pick=picks, actor=people)
    def request(self, pick, actor):
        campaign = self.campaign(pick, prefer=Q(status=CampaignStatus.DRAFT))
        if campaign is not None:
            self.attempt("request approval", proof_request, campaign=campaign,
                         requested_by=self.editor(actor, campaign.branch.code, pick))

    def _proof(self, campaign, pick, *, prefer=ProofStatus.PENDING):
        """The campaign's latest proof in the ``prefer`` status (else its latest), or for pick 3
        its first proof (often closed long ago)."""
        proofs = campaign.proofs.select_related("campaign__network").order_by("-number")
        if pick == 3:
            return proofs.last()
        return proofs.filter(status=prefer).first() or proofs.first()

    def _decide(self, pick, actor, verdict, **kwargs):
        campaign = self.campaign(pick, prefer=Q(status=CampaignStatus.AWAITING_APPROVAL))
        proof = self._proof(campaign, pick) if campaign is not None else None
        if proof is not None:
            self.attempt(f"{verdict}", proof_decide, proof=proof, decided_by=self.decider(actor, proof, pick),
                         verdict=verdict, **kwargs)

    @precondition(lambda self: "proof pending" in self.seen)
    @rule(pick=picks, actor=people)
    def approve(self, pick, actor):
        self._decide(pick, actor, Verdict.APPROVE)

    @precondition(lambda self: "proof" in self.seen)
    @rule(pick=picks, actor=people, comment=st.sampled_from(["", "Prix faux"]))
    def reject(self, pick, actor, comment):
        self._decide(pick, actor, Verdict.REJECT, comment=comment)

    @precondition(lambda self: "proof" in self.seen)
    @rule(pick=picks, actor=people, how=st.sampled_from(["nothing", "comment", "slot comment"]))
    def request_changes(self, pick, actor, how):
        kwargs = {"nothing": {}, "comment": {"comment": "Plus court"},
                  "slot comment": {"slot_comments": {"message": "Trop long"}}}[how]
        self._decide(pick, actor, Verdict.CHANGES, **kwargs)

    @precondition(lambda self: self.seen & {"proof approved", "proof revoked"})
    @rule(pick=picks, actor=people, reason=st.sampled_from(["", "Prix erroné"]))
    def revoke(self, pick, actor, reason):
        campaign = self.campaign(pick, prefer=Q(status__in=APPROVED_OR_SCHEDULED))
        proof = self._proof(campaign, pick, prefer=ProofStatus.APPROVED) if campaign is not None else None
        if proof is not None:
            self.attempt("revoke", approval_revoke, proof=proof, reason=reason,
                         revoked_by=self.decider(actor, proof, pick, step=pick % len(proof.steps)))

    @precondition(lambda self: "step to escalate" in self.seen)
    @rule(days=st.sampled_from([60, 19]))
    def deadlines_pass(self, days):
        """The deadline task runs ``days`` from now (decision deadlines fall 18 to 28 days from
        now): it reminds, or opens overdue steps to head-office approvers."""
        done = proof_deadlines_run(today=timezone.localdate() + timedelta(days=days))
        outcome = "escalated" if done["escalated"] else "reminded" if done["reminded"] else "nothing"
        note_event(f"deadline task: {outcome}")

    # -- sending

    @precondition(lambda self: CampaignStatus.APPROVED in self.seen)
    @rule(pick=picks, actor=people)
    def schedule(self, pick, actor):
        campaign = self.campaign(pick, prefer=Q(status=CampaignStatus.APPROVED))
        if campaign is not None:
            self.attempt("schedule", campaign_schedule, campaign=campaign,
                         scheduled_by=self.editor(actor, campaign.branch.code, pick))

    @precondition(lambda self: CampaignStatus.SCHEDULED in self.seen)
    @rule(pick=picks, actor=actors)
    def send(self, pick, actor):
        """The send task starts a campaign (on behalf of whoever: the gate alone decides)."""
        campaign = self.campaign(pick, prefer=Q(status=CampaignStatus.SCHEDULED))
        if campaign is None:
            return
        started = self.attempt("send", campaign_send_start, campaign=campaign, started_by=self.user(actor))
        if started is not None:
            campaign = Campaign.objects.get(pk=campaign.pk)
            proof = campaign.proofs.filter(status=ProofStatus.APPROVED).order_by("-number").first()
            assert proof is not None, f"campaign {campaign.pk} started sending without an approved proof"
            self.sent[campaign.pk] = (campaign_fingerprint(campaign), proof.pk)

    # -- invariants, from the database

    @invariant()
    def the_rules_hold(self):
        campaigns = {campaign.pk: campaign for campaign in Campaign.objects.select_related(
            "operation", "branch__parent", "network", "template_version")}
        proofs = list(Proof.objects.order_by("pk"))
        for proof in proofs:
            proof.campaign = campaigns[proof.campaign_id]
        decisions = defaultdict(list)
        for decision in Decision.objects.order_by("decided_at", "pk"):
            decisions[decision.proof_id].append(decision)
        history = defaultdict(list)
        events = CampaignEvent.objects.filter(by__isnull=False).values("campaign_id", "action", "by_id", "at")
        for row in events:
            history[row["campaign_id"]].append(row)
        authors = {proof.pk: independent_authors(proof, history[proof.campaign_id]) for proof in proofs}
        escalated_at = {(entry.proof_id, entry.details.get("step")): entry.at
                        for entry in AuditEntry.objects.filter(action=AuditAction.ESCALATED)}
        fingerprints = {pk: campaign_fingerprint(campaign) for pk, campaign in campaigns.items()}

        self.check_sends(campaigns, proofs, decisions, authors, fingerprints)
        for proof in proofs:
            self.check_decisions(proof, decisions[proof.pk], authors[proof.pk], escalated_at)
        self.check_live_proofs(campaigns, proofs, fingerprints)
        self.check_final_states(campaigns)
        self.read_earlier, self.read_now = self.read_now, Campaign.objects.in_bulk()
        self.seen = {c.status for c in campaigns.values()} | {f"proof {p.status}" for p in proofs}
        self.seen |= {"proof"} if proofs else set()
        self.seen |= {"step to escalate" for p in proofs
                      if p.status == ProofStatus.PENDING and p.current_step not in (p.escalated_steps or [])}
        for campaign in campaigns.values():
            note_event(f"reached: {campaign.get_status_display()}")

    def check_sends(self, campaigns, proofs, decisions, authors, fingerprints):
        """1. Nothing scheduled or sent without a full approval of exactly what goes out."""
        for campaign in campaigns.values():
            if campaign.status not in (CampaignStatus.SCHEDULED, CampaignStatus.SENDING):
                continue
            fingerprint = fingerprints[campaign.pk]
            approved = [p for p in proofs
                        if p.campaign_id == campaign.pk and p.status == ProofStatus.APPROVED]
            lacks = {p.number: full_approval_problems(p, decisions[p.pk], authors[p.pk]) for p in approved}
            good = [p for p in approved if p.campaign_hash == fingerprint and not lacks[p.number]]
            assert good, (
                f"campaign {campaign.pk} is {campaign.status} without a full approval of its content: "
                + ("; ".join(f"BAT {p.number}: {'same' if p.campaign_hash == fingerprint else 'other'} "
                             f"content, {lacks[p.number] or 'all steps approved'}" for p in approved)
                   or "no approved proof"))
        for campaign_id, (fingerprint, proof_id) in self.sent.items():
            proof = next(p for p in proofs if p.pk == proof_id)
            assert proof.campaign_hash == fingerprint, (
                f"campaign {campaign_id} started sending with fingerprint {fingerprint[:12]}, "
                f"its proof approved {proof.campaign_hash[:12]}")
            assert proof.status == ProofStatus.APPROVED, (
                f"BAT {proof.number}, which campaign {campaign_id} went out with, is now {proof.status}")

    def check_decisions(self, proof, ordered, authors, escalated_at):
        """2. no self-approval; 3. the policy's steps, decided within scope; 4. each step once."""
        campaign = proof.campaign
        asked = [(s["level"], s["role"], s["node"], s["quorum"]) for s in proof.steps]
        wanted = expected_steps(proof, self.policy_key, self.world.nodes["alpha:HQ"])
        assert asked == wanted, (f"BAT {proof.number} of campaign {campaign.pk} asks {asked}, the policy "
                                 f"“{self.policy_key}” wants {wanted}")
        head_office = self.world.nodes["alpha:HQ"]
        per_step = defaultdict(list)
        for position, decision in enumerate(ordered):
            person = self.world.people[decision.decided_by_id]
            who = (f"{decision.get_verdict_display()} of BAT {proof.number} step {decision.step} "
                   f"by {person.username}")
            # 2. Never a self-approval.
            assert decision.decided_by_id not in (proof.author_ids or []), f"{who}, one of its authors"
            assert decision.decided_by_id not in authors, (
                f"{who}, who created, edited or requested the campaign before the proof was requested")
            # 3. Within scope (decisions, roles and escalations never change: each is checked once).
            if decision.pk not in self.checked_decisions:
                step = proof.steps[decision.step]
                by_role = holds(person, step["role"], step["node"])
                opened = escalated_at.get((proof.pk, decision.step))
                by_escalation = (decision.step in (proof.escalated_steps or []) and opened is not None
                                 and opened <= decision.decided_at
                                 and holds(person, Role.APPROVER, head_office.pk))
                assert by_role or by_escalation, (
                    f"{who}, who does not hold {step['role']} on {step['node_name']}")
                assert node_in_scope(person, campaign.branch, perm="approve_proofs"), (
                    f"{who}, who may not approve proofs of {campaign.branch}")
                self.checked_decisions.add(decision.pk)
            # 4. Each step decided once, in order.
            assert decision.verdict == Verdict.APPROVE or position == len(ordered) - 1, (
                f"a decision was recorded on BAT {proof.number} after a {decision.get_verdict_display()}")
            for earlier in range(decision.step):
                got = len([d for d in ordered[:position]
                           if d.step == earlier and d.verdict == Verdict.APPROVE])
                assert got >= proof.steps[earlier]["quorum"], f"{who} before step {earlier} was complete"
            per_step[decision.step].append(decision)
        deciders_ = [d.decided_by_id for d in ordered]
        assert len(deciders_) == len(set(deciders_)), (
            f"someone decided BAT {proof.number} twice (the same step twice, or two of its steps)")
        for index, made in per_step.items():
            approvals = [d for d in made if d.verdict == Verdict.APPROVE]
            assert len(approvals) <= proof.steps[index]["quorum"], (
                f"step {index} of BAT {proof.number} has {len(approvals)} approvals for a quorum of "
                f"{proof.steps[index]['quorum']}")
        if proof.closed_at is not None:
            late = [d for d in ordered if d.decided_at > proof.closed_at]
            assert not late, f"BAT {proof.number} was decided after it was closed ({proof.status})"
        verdicts = [d.verdict for d in ordered]
        if Verdict.REJECT in verdicts:
            assert proof.status == ProofStatus.REJECTED, (
                f"BAT {proof.number} was rejected but is {proof.status}")
        if Verdict.CHANGES in verdicts:
            assert proof.status == ProofStatus.CHANGES_REQUESTED, (
                f"changes were requested on BAT {proof.number} but it is {proof.status}")
        lacks = full_approval_problems(proof, ordered, authors)
        if proof.status == ProofStatus.APPROVED:
            assert not lacks, f"BAT {proof.number} is approved but {lacks}"
        if proof.status == ProofStatus.PENDING:
            assert lacks, f"BAT {proof.number} has all its approvals but is still pending"

    def check_live_proofs(self, campaigns, proofs, fingerprints):
        """5. One live proof per campaign on its way, of its current content; none otherwise."""
        live = defaultdict(list)
        for proof in proofs:
            if proof.status in LIVE:
                live[proof.campaign_id].append(proof)
        for campaign in campaigns.values():
            mine = live[campaign.pk]
            if campaign.status in (CampaignStatus.AWAITING_APPROVAL, *APPROVED_OR_SCHEDULED):
                assert len(mine) == 1, (
                    f"campaign {campaign.pk} is {campaign.status} with {len(mine)} live proofs")
                wanted = (ProofStatus.PENDING if campaign.status == CampaignStatus.AWAITING_APPROVAL
                          else ProofStatus.APPROVED)
                assert mine[0].status == wanted, (
                    f"campaign {campaign.pk} is {campaign.status} but its proof is {mine[0].status}")
                assert mine[0].campaign_hash == fingerprints[campaign.pk], (
                    f"campaign {campaign.pk} changed since its live BAT {mine[0].number}")
            elif campaign.status in (CampaignStatus.DRAFT, CampaignStatus.CANCELLED):
                assert not mine, (f"campaign {campaign.pk} is {campaign.status} but BAT "
                                  f"{', '.join(str(p.number) for p in mine)} is still {mine[0].status}")

    def check_final_states(self, campaigns):
        """6. Cancelled and sending are final."""
        for campaign_id in self.seen_cancelled:
            assert campaigns[campaign_id].status == CampaignStatus.CANCELLED, (
                f"campaign {campaign_id} was cancelled and is now {campaigns[campaign_id].status}")
        for campaign_id in self.seen_sending:
            assert campaigns[campaign_id].status == CampaignStatus.SENDING, (
                f"campaign {campaign_id} was sending and is now {campaigns[campaign_id].status}")
        self.seen_cancelled |= {pk for pk, c in campaigns.items() if c.status == CampaignStatus.CANCELLED}
        self.seen_sending |= {pk for pk, c in campaigns.items() if c.status == CampaignStatus.SENDING}


def machine_settings() -> settings:
    """Derandomized by default: CI runs the same 50 examples of up to 40 steps every time (about
    40 s on SQLite, 50 s on PostgreSQL). APPROVALS_SM_RANDOM=1 draws new examples on each run (and
    keeps failures in Hypothesis's example database to replay them); APPROVALS_SM_EXAMPLES and
    APPROVALS_SM_STEPS change the sizes."""
    hunting = os.environ.get("APPROVALS_SM_RANDOM") == "1"
    return settings(
        max_examples=int(os.environ.get("APPROVALS_SM_EXAMPLES", "50")),
        stateful_step_count=int(os.environ.get("APPROVALS_SM_STEPS", "40")),
        deadline=None,
        derandomize=not hunting,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        **({} if hunting else {"database": None}),
    )


@pytest.mark.django_db
def test_the_approval_rules_hold_whatever_happens():
    ApprovalMachine.world = approval_world()
    try:
        run_state_machine_as_test(ApprovalMachine, settings=machine_settings())
    finally:
        ApprovalMachine.world = None


#: Sequences worth replaying on every run, step by step, with the invariants checked after each:
#: what the random runs found or must keep finding.
KNOWN_SEQUENCES = {
    "who edited as branch manager may not approve as regional manager": [
        ("edit", {"pick": 0, "actor": RIGHT, "what": "slot", "value": 7}),  # "both" edits N1's campaign
        ("request", {"pick": 0, "actor": RIGHT}),  # its branch manager asks for approval
        ("approve", {"pick": 0, "actor": RIGHT}),  # "both", first holder of NORTH's step: refused
        ("approve", {"pick": 1, "actor": RIGHT}),  # the regional manager
        ("approve", {"pick": 0, "actor": RIGHT}),  # a head-office approver
        ("schedule", {"pick": 0, "actor": RIGHT}),
        ("send", {"pick": 0, "actor": "nobody"}),
    ],
    "declining the operation after the request is refused: the proof stands": [
        ("request", {"pick": 0, "actor": RIGHT}),
        ("edit", {"pick": 0, "actor": RIGHT, "what": "decline", "value": 0}),
        ("approve", {"pick": 3, "actor": RIGHT}),
    ],
    "a cancel that read the campaign before approval was requested": [
        ("request", {"pick": 0, "actor": RIGHT}),
        ("edit", {"pick": 0, "actor": RIGHT, "what": "cancel (read before the last step)", "value": 0}),
        ("deadlines_pass", {"days": 60}),
    ],
    "a cancel that read the campaign before its send started": [
        ("request", {"pick": 0, "actor": RIGHT}),
        ("approve", {"pick": 1, "actor": RIGHT}),
        ("approve", {"pick": 0, "actor": RIGHT}),
        ("schedule", {"pick": 0, "actor": RIGHT}),
        ("send", {"pick": 0, "actor": "nobody"}),
        ("edit", {"pick": 0, "actor": RIGHT, "what": "cancel (read before the last step)", "value": 0}),
    ],
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(KNOWN_SEQUENCES))
def test_known_sequences(name):
    """N1 joins the operation (default policy: NORTH's regional manager, then a head-office
    approver), then the sequence runs, each step followed by the invariants."""
    ApprovalMachine.world = approval_world()
    machine = ApprovalMachine()
    try:
        machine.start(policy_key="none (region, then head office)", starters=[("N1", False)])
        machine.the_rules_hold()
        for step, arguments in KNOWN_SEQUENCES[name]:
            getattr(machine, step)(**arguments)
            machine.the_rules_hold()
    finally:
        machine.teardown()
        ApprovalMachine.world = None
