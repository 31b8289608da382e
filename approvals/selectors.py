"""Reads of approvals, on behalf of a user.

``proofs_visible_to`` is the scoping selector for proofs: those of the campaigns the user sees,
and those under the nodes where the user approves proofs. Every page, API answer, file and export
of proofs starts from it; a proof outside it answers 404, like a missing one.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from approvals.deciders import may_decide_step
from approvals.models import ApprovalPolicy, AuditEntry, Decision, Proof, ProofStatus
from central.campaigns.selectors import campaign_can_edit, campaigns_visible_to
from central.models import CampaignStatus
from local_stores.models import Network, Node, NodeKind
from local_stores.selectors import UserLike, nodes_in_scope
from templates_lib.frozen import branch_changes


def approval_scope_exists(*, fetched_by: UserLike) -> bool:
    """Whether ``fetched_by`` approves proofs anywhere (and so has an inbox)."""
    return nodes_in_scope(fetched_by, perm="approve_proofs").exists()


def proofs_visible_to(user: UserLike) -> QuerySet[Proof]:
    approving = nodes_in_scope(user, perm="approve_proofs")
    national_networks = approving.filter(kind=NodeKind.HEAD_OFFICE).values("network_id")
    return Proof.objects.filter(
        Q(campaign__in=campaigns_visible_to(user))
        | Q(campaign__branch__in=approving)
        | Q(campaign__branch__isnull=True, campaign__network_id__in=national_networks)
    ).select_related("campaign", "campaign__branch", "campaign__network", "campaign__operation",
                     "campaign__template_version__template", "requested_by")


def proof_get(*, fetched_by: UserLike, public_id: str) -> Proof:
    return get_object_or_404(proofs_visible_to(fetched_by), public_id=public_id)


def pending_proofs_for(*, fetched_by: UserLike) -> list[Proof]:
    """Proofs waiting for ``fetched_by``'s decision now (their current step is theirs, they did
    not author them, they have not decided it yet), earliest deadline first."""
    approving = nodes_in_scope(fetched_by, perm="approve_proofs")
    national_networks = approving.filter(kind=NodeKind.HEAD_OFFICE).values("network_id")
    candidates = (
        proofs_visible_to(fetched_by).filter(status=ProofStatus.PENDING)
        .filter(Q(campaign__branch__in=approving)
                | Q(campaign__branch__isnull=True, campaign__network_id__in=national_networks))
        .exclude(decisions__decided_by=fetched_by).order_by("decision_deadline", "requested_at")
    )
    return [proof for proof in candidates.iterator(chunk_size=500)
            if fetched_by.pk not in (proof.author_ids or []) and may_decide_step(fetched_by, proof, proof.current_step)]


def proofs_of_campaign(*, fetched_by: UserLike, campaign) -> QuerySet[Proof]:
    return proofs_visible_to(fetched_by).filter(campaign=campaign).order_by("-number")


def latest_proof(*, fetched_by: UserLike, campaign) -> Proof | None:
    return proofs_of_campaign(fetched_by=fetched_by, campaign=campaign).first()


def networks_setting_policies(user: UserLike) -> QuerySet[Network]:
    """Networks whose approval policies ``user`` sets: head office with manage_network."""
    head_offices = nodes_in_scope(user, perm="manage_network").filter(kind=NodeKind.HEAD_OFFICE)
    return Network.objects.filter(pk__in=head_offices.values("network_id"))


def policies_visible_to(user: UserLike) -> QuerySet[ApprovalPolicy]:
    return ApprovalPolicy.objects.filter(network__in=networks_setting_policies(user))


def audit_visible_to(user: UserLike) -> QuerySet[AuditEntry]:
    """The audit trail of the networks whose policies ``user`` sets (head office), whole; others
    read a proof's history on the proof's page."""
    return AuditEntry.objects.filter(network__in=networks_setting_policies(user)).select_related(
        "by", "campaign", "branch", "proof")


def proof_history(*, proof: Proof) -> QuerySet[AuditEntry]:
    """Every audit entry of the proof's campaign (all its proofs), oldest first. The caller got
    ``proof`` through ``proof_get``."""
    return AuditEntry.objects.filter(campaign_id=proof.campaign_id).select_related("by", "proof").order_by("at", "id")


# --- Added for the approval pages --------------------------------------------------------------------


def proof_decisions(*, proof: Proof) -> QuerySet:
    """The decisions taken on ``proof``, step by step. The caller got ``proof`` through ``proof_get``."""
    return proof.decisions.select_related("decided_by").order_by("step", "decided_at", "id")


def decisions_by(*, fetched_by: UserLike, limit: int = 20) -> list:
    """The latest decisions ``fetched_by`` took, on proofs they still see, newest first."""

    if not getattr(fetched_by, "is_authenticated", False):
        return []
    return list(
        Decision.objects.filter(decided_by=fetched_by, proof__in=proofs_visible_to(fetched_by))
        .select_related("proof__campaign__branch", "proof__campaign__operation",
                        "proof__campaign__template_version__template")
        .order_by("-decided_at", "-id")[:limit]
    )


def campaigns_with_old_details(*, fetched_by: UserLike, branch: Node) -> list[dict[str, object]]:
    """Approved or scheduled campaigns ``fetched_by`` sees whose approved proof froze other details of
    ``branch`` than it has now (its own campaigns, and co-signed national sends reaching it): they will
    go out with the old details, as approved, unless a new approval is asked for. Each with what
    changed (field names) and whether ``fetched_by`` may ask for it."""

    waiting = (campaigns_visible_to(fetched_by)
               .filter(status__in=(CampaignStatus.APPROVED, CampaignStatus.SCHEDULED), network_id=branch.network_id)
               .filter(Q(branch=branch) | Q(branch__isnull=True))
               .select_related("branch", "network", "operation").order_by("send_date", "id"))
    found = []
    for campaign in waiting:
        proof = (Proof.objects.filter(campaign=campaign, status=ProofStatus.APPROVED).order_by("-number").first())
        variant = ((proof.snapshot or {}).get("variants") or {}).get(branch.public_id) if proof else None
        if variant is None:
            continue
        changed = branch_changes(variant.get("branch") or {}, branch)
        if changed:
            found.append({"campaign": campaign, "proof": proof, "changed": changed,
                          "can_request": campaign_can_edit(fetched_by, campaign)})
    return found
