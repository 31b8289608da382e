"""The audit trail of the approvals (``audit_record``) and their notifications (``notify``): one
e-mail per person, queued by name (``approvals.notification_send``) once the transaction commits."""

from __future__ import annotations

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation

from approvals.models import AuditEntry, Proof
from central.models import Campaign
from central.task_queue import task_send_on_commit
from local_stores.locale import network_locale

# --- Audit and notifications ----------------------------------------------------------------------


def audit_record(proof: Proof | None, action: str, by=None, *, campaign: Campaign | None = None, network_id=None,
                 **details) -> AuditEntry:
    campaign = campaign or (proof.campaign if proof else None)
    return AuditEntry.objects.create(
        network_id=network_id or campaign.network_id, branch_id=campaign.branch_id if campaign else None,
        campaign=campaign, proof=proof, action=action, by=by if by and by.is_authenticated else None,
        details={key: value for key, value in details.items() if value not in (None, "", [], {})},
    )


def _proof_url(proof: Proof) -> str:
    return settings.RELAIS_BASE_URL.rstrip("/") + f"/approvals/proofs/{proof.public_id}/"


def notify(people, proof: Proof, *, subject: str, message: str) -> int:
    """One e-mail per person, in French (the network's language); queued after the transaction
    commits (the task ``approvals.notification_send``), so a rolled-back decision never mails anyone
    and the click does not wait for the mail server."""
    recipients = sorted({person.email for person in people if getattr(person, "email", "")})
    if not recipients:
        return 0
    # in the network's time zone and currency, also from the hourly task (proof_deadlines_run)
    with translation.override(settings.LANGUAGE_CODE), network_locale(proof.campaign.network):
        body = render_to_string("approvals/email/notification.txt", {
            "message": message, "proof": proof, "campaign": proof.campaign, "url": _proof_url(proof),
        })
    task_send_on_commit("approvals.notification_send", args=[f"[Relais] {subject}", body, recipients])
    return len(recipients)


def proof_authors(proof: Proof):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(pk__in=proof.author_ids or [], is_active=True)


def proof_deciders(proof: Proof):
    from django.contrib.auth import get_user_model

    ids = proof.decisions.values_list("decided_by_id", flat=True)
    return get_user_model().objects.filter(pk__in=ids, is_active=True)
