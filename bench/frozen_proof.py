"""The benchmarks' short cut to an approved proof. Their campaigns are made *sending* directly
(ORM), not through approval; dispatch renders only from an approved proof's frozen snapshot
(docs/approvals.md), so they get one here: the snapshot frozen and rendered as ``proof_request``
does, the proof stored approved, without steps. For benchmarks and the fault-injection run only."""

from __future__ import annotations


def approved_proof_for(campaign, *, by):
    from approvals.models import ChangeLevel, Origin, Proof, ProofStatus
    from approvals.services import _content_hash, proof_frozen_fields
    from approvals.snapshot import snapshot_build, snapshot_render
    from central.campaigns.selectors import campaign_fingerprint

    snapshot = snapshot_build(campaign)
    rendered = snapshot_render(campaign, snapshot, number=1, proof_mark="")
    number = (campaign.proofs.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    proof = Proof(campaign=campaign, number=number, campaign_hash=campaign_fingerprint(campaign),
                  channel=campaign.channel, subject=rendered.get("subject", ""), html=rendered.get("html", ""),
                  text=rendered.get("text", ""), slot_values=campaign.slot_values, audience_count=0,
                  send_date=campaign.send_date, origin=Origin.LOCAL if campaign.branch_id else Origin.NATIONAL,
                  change_level=ChangeLevel.DEFAULTS, status=ProofStatus.APPROVED, requested_by=by,
                  decision_deadline=campaign.send_date, snapshot=snapshot)
    proof.content_hash = _content_hash(proof_frozen_fields(proof))
    proof.save()
    return proof
