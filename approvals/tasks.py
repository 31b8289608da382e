"""Celery entry points of approvals: thin, they call services."""

from celery import shared_task
from django.core.mail import send_mail

from approvals.services import proof_deadlines_run


@shared_task(name="approvals.proof_deadlines_run")
def proof_deadlines_run_task() -> dict[str, int]:
    """Reminders before, and escalation after, proofs' decision deadlines (hourly, idempotent)."""

    return proof_deadlines_run()


@shared_task(name="approvals.notification_send", autoretry_for=(OSError,), retry_backoff=60, max_retries=4)
def notification_send_task(subject: str, body: str, recipients: list[str]) -> int:
    """One notification of the approvals (``approvals.audit.notify``), written in the request and
    sent here: the click that decided does not wait for the mail server. A connection refused or
    reset (OSError, smtplib's errors included) is retried 4 times, a minute apart and more."""

    return send_mail(subject, body, None, recipients, fail_silently=False)
