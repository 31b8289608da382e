"""Deadline reminders: the managers of the branches that have not answered an opt-in operation are
e-mailed a few days before its subscription deadline (a periodic task)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from central.calendar.selectors import operation_eligible_branches
from central.models import DeadlineReminder, Operation, OperationMode, OperationStatus
from local_stores.locale import latest_today, network_today
from local_stores.models import Node, Role
from local_stores.selectors import people_holding


def deadline_reminders_send(*, today=None) -> int:
    """E-mail the managers of every eligible branch that has not answered a published opt-in
    operation, ``RELAIS_REMINDER_DAYS`` days before its subscription deadline. Each (operation,
    branch, step) is reminded once: running twice sends nothing more. A branch whose reminder could
    not be sent is tried again on the next run (its row is written only with the send)."""
    sent = 0
    for days in settings.RELAIS_REMINDER_DAYS:
        latest = (today or latest_today()) + timedelta(days=days)
        operations = Operation.objects.filter(
            status=OperationStatus.PUBLISHED, mode=OperationMode.OPT_IN,
            subscription_deadline__range=(latest - timedelta(days=2), latest),
        ).select_related("network")
        for operation in operations:
            # the operation's network's day (its time zone): the deadline is that many days ahead of it
            if operation.subscription_deadline != (today or network_today(operation.network)) + timedelta(days=days):
                continue
            answered = operation.participations.values("branch_id")
            reminded = operation.reminders.filter(days_before=days).values("branch_id")
            for branch in operation_eligible_branches(operation).exclude(pk__in=answered).exclude(pk__in=reminded):
                people = list(people_holding(role=Role.BRANCH_MANAGER, nodes=[branch]))
                with transaction.atomic():
                    _, created = DeadlineReminder.objects.get_or_create(
                        operation=operation, branch=branch, days_before=days, defaults={"recipients": len(people)})
                    if created:
                        for person in people:
                            _send_reminder(operation=operation, branch=branch, person=person, days=days)
                        sent += len(people)
    return sent


def _send_reminder(*, operation: Operation, branch: Node, person, days: int) -> None:
    with translation.override(settings.LANGUAGE_CODE):  # people have no language of their own yet
        context = {
            "person": person, "operation": operation, "branch": branch, "days": days,
            "url": settings.RELAIS_BASE_URL.rstrip("/") + reverse("operations:operations") + f"?branch={branch.public_id}",
        }
        subject = _("%(operation)s: answer before %(date)s") % {
            "operation": operation.name, "date": operation.subscription_deadline.strftime("%d/%m/%Y")}
        send_mail(subject, render_to_string("central/email/deadline_reminder.txt", context),
                  None, [person.email])
