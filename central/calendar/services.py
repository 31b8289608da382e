"""Writes of the national calendar: operations (head office), the branches' answers to them,
the calendar's periods and the iCalendar feed tokens."""

from __future__ import annotations

import secrets

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from central.calendar.selectors import operation_eligible_branches, require_planner
from central.campaigns.services import participation_campaigns_sync, participation_withdrawal_check
from central.models import (
    TARGETING_CRITERIA,
    CalendarFeedToken,
    CalendarPeriod,
    Channel,
    Operation,
    OperationMode,
    OperationStatus,
    Participation,
    ParticipationEvent,
    ParticipationStatus,
)
from central.rules.services import is_count
from local_stores.models import Network, Node, NodeKind
from local_stores.selectors import node_in_scope

OPERATION_FIELDS = {
    "name", "theme", "description", "channels", "mode", "opt_out_allowed", "send_from", "send_until",
    "subscription_deadline", "is_pilot", "allowed_criteria", "national_priority", "holdout_percent",
    "cofunding_percent",
}


#: A control group larger than this would deprive half the customers of the operation.
OPERATION_MAX_HOLDOUT = 50


#: Answers that withdraw a branch from an operation (its drafts of it are cancelled).
WITHDRAWN_ANSWERS = (ParticipationStatus.DECLINED, ParticipationStatus.OPTED_OUT)


def operation_check(operation: Operation, *, template_versions, eligible_nodes) -> dict[str, list[str]]:
    """Every problem of an operation, by field."""
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if not (operation.name or "").strip():
        add("name", _("Give the operation a name."))
    if not is_count(operation.cofunding_percent, 0, 100):
        add("cofunding_percent", _("Head office pays between 0 and 100 % of the cost."))
    if not is_count(operation.holdout_percent, 0, OPERATION_MAX_HOLDOUT):
        add("holdout_percent", _("The control group is between 0 and %(max)s %% of the customers.") % {
            "max": OPERATION_MAX_HOLDOUT})
    if operation.mode not in OperationMode.values:
        add("mode", _("Choose opt-in, mandatory or kit."))
    if not operation.send_from:
        add("send_from", _("Give the earliest send date."))
    if not operation.send_until:
        add("send_until", _("Give the latest send date."))
    channels = list(operation.channels or [])
    if not channels or not set(channels) <= set(Channel.values):
        add("channels", _("Choose one or more channels among e-mail, SMS and post."))
    if operation.send_from and operation.send_until and operation.send_from > operation.send_until:
        add("send_until", _("The latest send date comes before the earliest one."))
    if operation.mode in (OperationMode.OPT_IN, OperationMode.MANDATORY):
        if not operation.subscription_deadline:
            add("subscription_deadline", _("An opt-in or mandatory operation needs a subscription deadline."))
        elif operation.send_from and operation.subscription_deadline > operation.send_from:
            add("subscription_deadline", _("The subscription deadline must come before the earliest send date."))
    if operation.mode != OperationMode.MANDATORY and operation.opt_out_allowed:
        add("opt_out_allowed", _("Opting out only applies to mandatory operations."))
    unknown = set(operation.allowed_criteria or []) - set(TARGETING_CRITERIA)
    if unknown:
        add("allowed_criteria", _("Unknown targeting criteria: %(names)s.") % {"names": ", ".join(sorted(unknown))})
    for version in template_versions:
        if version.template.network_id != operation.network_id or not version.is_published:
            add("template_versions", _("Only published versions of this network's templates can be used."))
            break
        kind = version.template.kind
        wanted = {"email": "email", "sms": "sms", "print": "post"}[kind]
        if wanted not in channels:
            add("template_versions", _("“%(name)s” is a %(kind)s template but the operation does not send on that channel.")
                % {"name": version.template.name, "kind": version.template.get_kind_display()})
    for node in eligible_nodes:
        if node.network_id != operation.network_id or node.kind == NodeKind.HEAD_OFFICE:
            add("eligible_nodes", _("Eligible nodes are regions or branches of this network."))
            break
    if operation.is_pilot and not eligible_nodes:
        add("eligible_nodes", _("A pilot runs on part of the network: choose its regions or branches."))
    return errors


@transaction.atomic
def operation_save(
    *, network: Network, saved_by, operation: Operation | None = None, template_versions=(), eligible_nodes=(),
    **fields: object,
) -> Operation:
    """Create or change a draft operation (head office). ValidationError by field."""
    require_planner(saved_by, network)
    unknown = set(fields) - OPERATION_FIELDS
    if unknown:
        raise ValidationError(_("Unknown fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))})
    if operation is None:
        operation = Operation(network=network, created_by=saved_by)
    elif operation.status != OperationStatus.DRAFT:
        raise ValidationError(_("A published operation no longer changes; cancel it and plan another."))
    for name, value in fields.items():
        setattr(operation, name, value)
    template_versions, eligible_nodes = list(template_versions), list(eligible_nodes)
    errors = operation_check(operation, template_versions=template_versions, eligible_nodes=eligible_nodes)
    if errors:
        raise ValidationError(errors)
    operation.save()
    operation.template_versions.set(template_versions)
    operation.eligible_nodes.set(eligible_nodes)
    return operation


@transaction.atomic
def operation_publish(*, operation: Operation, published_by) -> Operation:
    """Publish an operation to its eligible branches; a mandatory one enrols them at once."""
    require_planner(published_by, operation.network)
    operation = Operation.objects.select_for_update().get(pk=operation.pk)
    if operation.status != OperationStatus.DRAFT:
        raise ValidationError(_("Only a draft operation can be published."))
    errors = operation_check(operation, template_versions=list(operation.template_versions.select_related("template")),
                             eligible_nodes=list(operation.eligible_nodes.all()))
    if errors:
        raise ValidationError(errors)
    operation.status = OperationStatus.PUBLISHED
    operation.published_at = timezone.now()
    operation.save(update_fields=["status", "published_at"])
    if operation.mode == OperationMode.MANDATORY:
        operation_enrol_mandatory(operation=operation)
    return operation


def operation_enrol_mandatory(*, operation: Operation) -> int:
    """Enrol every eligible branch that has no answer yet in a published mandatory operation.
    Idempotent (the unique constraint and ignore_conflicts): returns how many were enrolled."""
    if operation.mode != OperationMode.MANDATORY or operation.status != OperationStatus.PUBLISHED:
        return 0
    now = timezone.now()
    with transaction.atomic():
        answered = operation.participations.values_list("branch_id", flat=True)
        branches = list(operation_eligible_branches(operation).exclude(pk__in=answered))
        Participation.objects.bulk_create(
            [Participation(operation=operation, branch=branch, status=ParticipationStatus.ENROLLED, decided_at=now)
             for branch in branches],
            ignore_conflicts=True,  # a concurrent run enrolled it first: keep its row
        )
        # Rows written by this run carry its timestamp: only those get an audit event.
        mine = list(Participation.objects.filter(operation=operation, branch__in=branches, decided_at=now)
                    .values_list("pk", flat=True))
        ParticipationEvent.objects.bulk_create(
            [ParticipationEvent(participation_id=pk, status=ParticipationStatus.ENROLLED, at=now) for pk in mine]
        )
        for participation in Participation.objects.filter(pk__in=mine).select_related("operation", "branch"):
            participation_campaigns_sync(participation, by=None)
    return len(mine)


@transaction.atomic
def participation_answer(*, operation: Operation, branch: Node, status: str, answered_by) -> Participation:
    """A branch joins or declines an opt-in operation, or opts out of a mandatory one (if allowed),
    before the subscription deadline. ValidationError with a clear message otherwise. Declining or
    opting out cancels the branch's drafts of the operation only: while one of its campaigns awaits
    approval, is approved, scheduled, sending or paused, the answer is refused, naming them."""
    if not node_in_scope(answered_by, branch, perm="change_node"):
        raise PermissionDenied(_("You do not answer for this branch."))
    if operation.status != OperationStatus.PUBLISHED:
        raise ValidationError(_("This operation is not open."))
    if not operation_eligible_branches(operation).filter(pk=branch.pk).exists():
        raise ValidationError(_("This operation is not open to %(branch)s.") % {"branch": branch.name})
    today = timezone.localdate()
    if operation.subscription_deadline and today > operation.subscription_deadline:
        raise ValidationError(_("The subscription deadline (%(date)s) has passed.") % {
            "date": operation.subscription_deadline.strftime("%d/%m/%Y")})
    allowed = {
        OperationMode.OPT_IN: {ParticipationStatus.JOINED, ParticipationStatus.DECLINED},
        OperationMode.MANDATORY: {ParticipationStatus.ENROLLED}
        | ({ParticipationStatus.OPTED_OUT} if operation.opt_out_allowed else set()),
        OperationMode.KIT: set(),
    }[operation.mode]
    if status not in allowed:
        if operation.mode == OperationMode.MANDATORY:
            raise ValidationError(_("This mandatory operation does not allow opting out."))
        if operation.mode == OperationMode.KIT:
            raise ValidationError(_("A kit needs no subscription: use it when you want."))
        raise ValidationError(_("Join or decline this operation."))
    now = timezone.now()
    participation, _created = Participation.objects.select_for_update().get_or_create(
        operation=operation, branch=branch, defaults={"status": status, "decided_by": answered_by, "decided_at": now}
    )
    if participation.status != status or _created:
        if status in WITHDRAWN_ANSWERS:
            participation_withdrawal_check(operation=operation, branch=branch)
        participation.status, participation.decided_by, participation.decided_at = status, answered_by, now
        participation.save()
        ParticipationEvent.objects.create(participation=participation, status=status, by=answered_by, at=now)
        participation_campaigns_sync(participation, by=answered_by)
    return participation


@transaction.atomic
def calendar_period_save(*, network: Network, saved_by, period: CalendarPeriod | None = None, **fields) -> CalendarPeriod:
    """Head office adds or changes a blackout period or a period reserved for local campaigns."""
    require_planner(saved_by, network)
    period = period or CalendarPeriod(network=network)
    for name in ("kind", "name", "starts_on", "ends_on", "channels"):
        if name in fields:
            setattr(period, name, fields[name])
    errors: dict[str, list[str]] = {}
    if period.kind not in CalendarPeriod.Kind.values:
        errors["kind"] = [_("Choose a blackout period or a period reserved for local campaigns.")]
    if not (period.name or "").strip():
        errors["name"] = [_("Give the period a name.")]
    if period.starts_on and period.ends_on and period.ends_on < period.starts_on:
        errors["ends_on"] = [_("The period ends before it starts.")]
    if not set(period.channels or []) <= set(Channel.values):
        errors["channels"] = [_("Choose channels among e-mail, SMS and post.")]
    if errors:
        raise ValidationError(errors)
    period.save()
    return period


def calendar_period_delete(*, period: CalendarPeriod, deleted_by) -> None:
    require_planner(deleted_by, period.network)
    period.delete()


def feed_token_create(*, user) -> CalendarFeedToken:
    """A new secret iCalendar feed URL for ``user``; the previous ones are revoked."""
    now = timezone.now()
    CalendarFeedToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now)
    return CalendarFeedToken.objects.create(user=user, token=secrets.token_urlsafe(32))


def feed_token_revoke(*, user) -> int:
    return CalendarFeedToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
