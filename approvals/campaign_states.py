"""What central's campaign states need of approvals: each campaign's latest proof, as the acting user
sees it (``settings.RELAIS_CAMPAIGN_PROOFS`` names ``latest_proofs``; see central/campaigns/states.py)."""

from __future__ import annotations

from django.db.models import OuterRef, Subquery

from approvals.models import Proof
from approvals.selectors import proofs_visible_to
from central.campaigns.states import ProofSummary
from local_stores.selectors import UserLike


def latest_proofs(fetched_by: UserLike, campaign_ids: list[int]) -> dict[int, ProofSummary]:
    """{campaign id: its latest proof (highest number)} among the proofs ``fetched_by`` sees; one query."""
    if not campaign_ids:
        return {}
    latest = Proof.objects.filter(campaign_id=OuterRef("campaign_id")).order_by("-number").values("pk")[:1]
    rows = (proofs_visible_to(fetched_by).filter(campaign_id__in=campaign_ids, pk=Subquery(latest))
            .order_by().values("campaign_id", "public_id", "number", "status", "current_step", "steps",
                               "closed_reason", "decision_deadline"))
    return {
        row["campaign_id"]: ProofSummary(
            public_id=row["public_id"], number=row["number"], status=row["status"],
            current_step=row["current_step"], step_count=len(row["steps"] or []),
            comment=row["closed_reason"] if row["status"] in ("rejected", "changes") else "",
            decision_deadline=row["decision_deadline"])
        for row in rows
    }
