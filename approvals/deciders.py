"""Who may decide or revoke a proof: an approver within scope for the step (the step's role on the
step's node, or head office's approvers once escalated, and ``approve_proofs`` over the campaign's
branch), never an author, each step once; and why a proof cannot be decided or revoked now."""

from __future__ import annotations

from django.utils.translation import gettext as _

from approvals.models import Decision, Proof, ProofStatus
from approvals.policies import head_office_node
from central.models import CampaignStatus
from local_stores.models import Node, Role
from local_stores.selectors import node_in_scope, people_holding

# --- Who may decide ----------------------------------------------------------------------------------


def _holds_role(user, *, role: str, node_id: int) -> bool:
    return user.groups.filter(relais_role__role=role, relais_role__node_id=node_id).exists()


def _scope_node(proof: Proof) -> Node:
    campaign = proof.campaign
    return campaign.branch if campaign.branch_id else head_office_node(campaign.network_id)


def may_decide_step(user, proof: Proof, step: int) -> bool:
    """Within scope for this step: the step's role on the step's node (or head-office approver
    once the step is escalated), and approve_proofs over the campaign's branch."""
    if not user.is_authenticated or not user.is_active or step >= len(proof.steps):
        return False
    if not node_in_scope(user, _scope_node(proof), perm="approve_proofs"):
        return False
    definition = proof.steps[step]
    if _holds_role(user, role=definition["role"], node_id=definition["node"]):
        return True
    if step in (proof.escalated_steps or []):
        head_office = head_office_node(proof.campaign.network_id)
        return _holds_role(user, role=Role.APPROVER, node_id=head_office.pk)
    return False


def decision_conflict(proof: Proof) -> str | None:
    """Why ``proof`` cannot be decided now by anyone (its state, or its campaign's), or None."""
    if proof.status != ProofStatus.PENDING:
        return _("This proof is no longer waiting for a decision.")
    if proof.campaign.status != CampaignStatus.AWAITING_APPROVAL:
        return _("This campaign is no longer waiting for approval.")
    return None


def decision_refusal(user, proof: Proof) -> str | None:
    """Why ``user`` may not decide ``proof`` now, or None."""
    conflict = decision_conflict(proof)
    if conflict:
        return conflict
    if user.pk in (proof.author_ids or []):
        return _("You authored or edited this campaign: someone else must approve it.")
    if not may_decide_step(user, proof, proof.current_step):
        return _("This step is not yours to decide.")
    if Decision.objects.filter(proof=proof, step=proof.current_step, decided_by=user).exists():
        return _("You already decided this step.")
    if Decision.objects.filter(proof=proof, decided_by=user).exists():
        return _("You already decided a step of this proof: each step needs someone else.")
    return None


def step_approvers(proof: Proof, step: int):
    """People who may decide ``step`` (for notifications), authors excluded."""
    definition = proof.steps[step]
    people = people_holding(role=definition["role"], nodes=[definition["node"]])
    if step in (proof.escalated_steps or []):
        head_office = head_office_node(proof.campaign.network_id)
        people = people | people_holding(role=Role.APPROVER, nodes=[head_office.pk])
    return [person for person in people.distinct() if person.pk not in (proof.author_ids or [])
            and node_in_scope(person, _scope_node(proof), perm="approve_proofs")]


# --- Who may revoke ----------------------------------------------------------------------------------


def revoke_conflict(proof: Proof) -> str | None:
    """Why the approval of ``proof`` cannot be revoked now by anyone (its state, or its campaign's)."""
    if proof.status != ProofStatus.APPROVED:
        return _("Only an approved proof can be revoked.")
    if proof.campaign.status not in (CampaignStatus.APPROVED, CampaignStatus.SCHEDULED):
        return _("The first messages have left: approval can no longer be revoked.")
    return None


def revoke_permitted(user, proof: Proof) -> bool:
    """Whether ``user`` is an approver of ``proof`` (who alone may revoke it), whatever its state."""
    return any(may_decide_step(user, proof, step) for step in range(len(proof.steps)))


def revoke_refusal(user, proof: Proof) -> str | None:
    conflict = revoke_conflict(proof)
    if conflict:
        return conflict
    if not revoke_permitted(user, proof):
        return _("Only an approver of this proof can revoke it.")
    return None
