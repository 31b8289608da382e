"""The day's sends, by hand: what Celery beat runs every morning (central.campaigns_send_due).

In the demo (tasks in-process, no beat) this is how a scheduled campaign leaves on its day:
``python manage.py send_due`` for today, ``--day 2026-12-03`` for the sends planned up to that day.
"""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from central.delivery.sending import campaigns_send_due


class Command(BaseCommand):
    help = "Arbitrate and send the campaigns scheduled up to a day (today by default), as Celery beat does."

    def add_arguments(self, parser):
        parser.add_argument("--day", help="YYYY-MM-DD: send what is scheduled up to this day (default: today)")

    def handle(self, *args, day: str | None = None, **options):
        try:
            today = date.fromisoformat(day) if day else None
        except ValueError as error:
            raise CommandError(f"--day: {error} (expected YYYY-MM-DD)") from error
        done = campaigns_send_due(today=today)
        self.stdout.write(f"{done['campaigns']} campaign(s) started, {done['deliveries']} message(s) selected "
                          f"by {done['runs']} arbitration run(s).")
