"""The approved BAT of a print campaign, for the print hand-off (``settings.RELAIS_PRINT_ARTWORK``).

The print hand-off lives in ``central`` (central/delivery/printing/services.py), which may not import ``approvals``
(the layers of docs/architecture.md: approvals → central). As for the send gate
(``settings.RELAIS_SEND_GATE``), central names the function it needs in a setting; this one sits in
``config``, the project's composition root, because the approvals app was not to be changed with
the hand-off. Its natural home is ``approvals.selectors``: move it there and change the setting.
"""

from __future__ import annotations

from approvals.models import Proof, ProofStatus
from central.campaigns.selectors import campaign_fingerprint
from central.models import Campaign


def approved_print_artwork(campaign: Campaign) -> tuple[int, bytes] | None:
    """(number, PDF bytes) of the campaign's approved proof — the one the send gate let through:
    the latest approved, of the campaign's current fingerprint — exactly as frozen; None without one."""
    proof = (Proof.objects.filter(campaign_id=campaign.pk, status=ProofStatus.APPROVED)
             .order_by("-number").only("number", "pdf", "campaign_hash").first())
    if proof is None or not proof.pdf or proof.campaign_hash != campaign_fingerprint(campaign):
        return None
    return proof.number, bytes(proof.pdf)
