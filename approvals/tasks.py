"""Celery entry points of approvals: thin, they call services."""

from celery import shared_task


@shared_task(name="approvals.proof_deadlines_run")
def proof_deadlines_run_task() -> dict[str, int]:
    """Reminders before, and escalation after, proofs' decision deadlines (hourly, idempotent)."""
    from approvals.services import proof_deadlines_run

    return proof_deadlines_run()
