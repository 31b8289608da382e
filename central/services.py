"""Writes to the customer referential."""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from central.campaigns.targeting import criteria_clean
from central.customers import consent
from central.customers import importing as customer_import
from central.models import (
    CAMPAIGN_OPEN_STATUSES,
    TARGETING_CRITERIA,
    WITHDRAWAL_BLOCKING_STATUSES,
    CalendarFeedToken,
    CalendarPeriod,
    Campaign,
    CampaignEvent,
    CampaignStatus,
    Channel,
    Customer,
    CustomerImport,
    DeadlineReminder,
    Operation,
    OperationMode,
    OperationStatus,
    Participation,
    ParticipationEvent,
    ParticipationStatus,
    TargetOverride,
)
from central.purchases import importing as purchase_import
from central.signals import campaign_changed, customer_erased
from central.task_queue import task_send_on_commit
from local_stores.models import Network, Node, NodeKind
from local_stores.selectors import node_in_scope, nodes_in_scope

logger = logging.getLogger(__name__)


def _head_office(network: Network) -> Node:
    return Node.objects.get(network=network, kind=NodeKind.HEAD_OFFICE)


def customer_import_create(
    *, network: Network, uploaded_file: UploadedFile, created_by, kind: str = CustomerImport.Kind.CUSTOMERS
) -> CustomerImport:
    """Record an uploaded CSV of customers or of their purchases (``kind``) and queue its import
    (after the transaction commits).

    Raises PermissionDenied unless ``created_by`` may import customers into ``network``, and
    ValidationError for a file that is not a CSV or is too large.
    """
    if kind not in CustomerImport.Kind.values:
        raise ValidationError({"kind": _("Import customers or purchases.")})
    if not node_in_scope(created_by, _head_office(network), perm="import_customers"):
        raise PermissionDenied(_("You may not import customers into this network."))
    name = Path(uploaded_file.name or "customers.csv").name
    if not name.lower().endswith((".csv", ".txt")):
        raise ValidationError({"file": _("Send a .csv file (UTF-8, comma or semicolon separated).")})
    if uploaded_file.size > settings.RELAIS_IMPORT_MAX_BYTES:
        raise ValidationError(
            {
                "file": _("The file is larger than %(size)d MB.")
                % {"size": settings.RELAIS_IMPORT_MAX_BYTES // (1024 * 1024)}
            }
        )
    if uploaded_file.size == 0:
        raise ValidationError({"file": _("The file is empty.")})
    record = CustomerImport.objects.create(
        network=network,
        kind=kind,
        file=uploaded_file,
        original_name=name[:255],
        created_by=created_by,
        language=translation.get_language() or settings.LANGUAGE_CODE,
    )
    task_send_on_commit("central.customer_import_run", args=[record.pk])
    return record


def customer_import_run(*, customer_import_id: int) -> CustomerImport:
    """Run one import to its end. Safe to call twice: a finished import is left as it is, and a
    re-run of an interrupted one upserts the same rows again (by CRM id), with the same outcome."""
    record = CustomerImport.objects.select_related("network").get(pk=customer_import_id)
    if record.is_finished:
        return record
    now = timezone.now()
    CustomerImport.objects.filter(pk=record.pk).update(status=CustomerImport.Status.RUNNING, started_at=now)
    try:
        with translation.override(record.language), record.file.open("rb") as stream, transaction.atomic():
            load = purchase_import_load if record.kind == CustomerImport.Kind.PURCHASES else customer_import_load
            result = load(network=record.network, stream=stream, import_id=record.pk, now=now)
    except customer_import.ImportFileError as error:
        record.status = CustomerImport.Status.FAILED
        record.failure_reason = str(error)
    except Exception as error:
        logger.exception("customer import %s failed", record.public_id)
        record.status = CustomerImport.Status.FAILED
        with translation.override(record.language):
            record.failure_reason = _(
                "The import stopped on an unexpected error and nothing was imported: %(error)s"
            ) % {"error": type(error).__name__}
    else:
        record.status = CustomerImport.Status.DONE
        record.rows_total = result.rows_total
        record.rows_created = result.rows_created
        record.rows_updated = result.rows_updated
        record.rows_rejected = result.rows_rejected
        record.errors = [error.as_dict() for error in result.errors]
    record.finished_at = timezone.now()
    record.save()
    return record


def customer_import_load(
    *, network: Network, stream, import_id: int | None = None, now=None, source: str = ""
):
    """Validate and upsert the customers of a CSV stream into ``network``, in the current
    transaction. Returns an ``ImportResult`` (counts and each bad row's line, field and reason).
    Raises ``ImportFileError`` when the file as a whole cannot be read."""
    now = now or timezone.now()
    reader, _header = customer_import.open_csv(stream)
    branch_ids = dict(
        Node.objects.filter(network=network, kind=NodeKind.BRANCH, is_active=True).values_list("code", "id")
    )
    validator = customer_import.RowValidator(
        branch_ids=branch_ids, default_source=source or f"import {now:%Y-%m-%d}", now=now
    )
    return customer_import.load(
        network_id=network.pk,
        rows=enumerate(reader, start=2),
        validator=validator,
        import_id=import_id,
        now=now,
        error_limit=CustomerImport.ERROR_LIMIT,
    )


def purchase_import_load(*, network: Network, stream, import_id: int | None = None, now=None):
    """Validate and record the purchases of a CSV stream into ``network``, in the current
    transaction (see ``central.purchases.importing``). Returns an ``ImportResult``; raises
    ``ImportFileError`` when the file as a whole cannot be read."""
    now = now or timezone.now()
    reader, _header = customer_import.open_csv(stream, purchase_import.COLUMNS, purchase_import.REQUIRED_COLUMNS)
    branch_ids = dict(Node.objects.filter(network=network, kind=NodeKind.BRANCH).values_list("code", "id"))
    validator = purchase_import.PurchaseRowValidator(branch_ids=branch_ids, today=timezone.localdate(now))
    return purchase_import.load(network_id=network.pk, rows=enumerate(reader, start=2), validator=validator,
                                import_id=import_id, now=now, error_limit=CustomerImport.ERROR_LIMIT)


# --- The national calendar -----------------------------------------------------------------------

OPERATION_FIELDS = {
    "name", "theme", "description", "channels", "mode", "opt_out_allowed", "send_from", "send_until",
    "subscription_deadline", "is_pilot", "allowed_criteria", "national_priority", "holdout_percent",
    "cofunding_percent",
}


#: A control group larger than this would deprive half the customers of the operation.
OPERATION_MAX_HOLDOUT = 50


def _require_planner(user, network: Network) -> None:
    from central.selectors import networks_planned_by

    if not networks_planned_by(user).filter(pk=network.pk).exists():
        raise PermissionDenied(_("You do not plan the calendar of this network."))


def operation_check(operation: Operation, *, template_versions, eligible_nodes) -> dict[str, list[str]]:
    """Every problem of an operation, by field."""
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if not (operation.name or "").strip():
        add("name", _("Give the operation a name."))
    if not _is_count(operation.cofunding_percent, 0, 100):
        add("cofunding_percent", _("Head office pays between 0 and 100 % of the cost."))
    if not _is_count(operation.holdout_percent, 0, OPERATION_MAX_HOLDOUT):
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
    _require_planner(saved_by, network)
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
    _require_planner(published_by, operation.network)
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
    from central.selectors import operation_eligible_branches

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
            _sync_campaigns(participation, by=None)
    return len(mine)


@transaction.atomic
def participation_answer(*, operation: Operation, branch: Node, status: str, answered_by) -> Participation:
    """A branch joins or declines an opt-in operation, or opts out of a mandatory one (if allowed),
    before the subscription deadline. ValidationError with a clear message otherwise. Declining or
    opting out cancels the branch's drafts of the operation only: while one of its campaigns awaits
    approval, is approved, scheduled, sending or paused, the answer is refused, naming them."""
    from central.selectors import operation_eligible_branches

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
            _refuse_withdrawal_past_drafts(operation=operation, branch=branch)
        participation.status, participation.decided_by, participation.decided_at = status, answered_by, now
        participation.save()
        ParticipationEvent.objects.create(participation=participation, status=status, by=answered_by, at=now)
        _sync_campaigns(participation, by=answered_by)
    return participation


@transaction.atomic
def calendar_period_save(*, network: Network, saved_by, period: CalendarPeriod | None = None, **fields) -> CalendarPeriod:
    """Head office adds or changes a blackout period or a period reserved for local campaigns."""
    _require_planner(saved_by, network)
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
    _require_planner(deleted_by, period.network)
    period.delete()


def feed_token_create(*, user) -> CalendarFeedToken:
    """A new secret iCalendar feed URL for ``user``; the previous ones are revoked."""
    import secrets

    now = timezone.now()
    CalendarFeedToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now)
    return CalendarFeedToken.objects.create(user=user, token=secrets.token_urlsafe(32))


def feed_token_revoke(*, user) -> int:
    return CalendarFeedToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())


# --- Campaigns -------------------------------------------------------------------------------------

_CHANNEL_OF_KIND = {"email": Channel.EMAIL, "sms": Channel.SMS, "print": Channel.POST}


def _default_slot_values(version) -> dict[str, object]:
    from templates_lib.rendering import version_slots
    from templates_lib.services import slot_values_clean

    defaults = {definition.name: definition.default for definition in version_slots(version)}
    try:
        return slot_values_clean(version=version, values=defaults)
    except ValidationError:
        return {name: value for name, value in defaults.items() if value not in (None, "")}


def _campaigns_for(*, operation: Operation, branch: Node | None, created_by, versions=None) -> list[Campaign]:
    """Draft campaigns of ``branch`` for ``operation``: one per template version, dated on the
    first day of the send window, with the template's default slot values and an empty target."""
    versions = list(versions if versions is not None else operation.template_versions.select_related("template"))
    first_day = max(operation.send_from, timezone.localdate() + timedelta(days=1))
    if first_day > operation.send_until:
        raise ValidationError(_("The send window of “%(operation)s” has closed (last send date %(date)s).")
                              % {"operation": operation.name, "date": date_format(operation.send_until)})
    campaigns = Campaign.objects.bulk_create([
        Campaign(
            network_id=operation.network_id, branch=branch, operation=operation, template_version=version,
            channel=_CHANNEL_OF_KIND[version.template.kind], slot_values=_default_slot_values(version),
            send_date=first_day, created_by=created_by,
        )
        for version in versions
    ])
    CampaignEvent.objects.bulk_create([
        CampaignEvent(campaign=campaign, action="created", by=created_by, changes={
            "template": f"{campaign.template_version.template.name} v{campaign.template_version.number}",
            "send_date": campaign.send_date.isoformat(),
        })
        for campaign in campaigns
    ])
    return campaigns


#: Answers that withdraw a branch from an operation (its drafts of it are cancelled).
WITHDRAWN_ANSWERS = (ParticipationStatus.DECLINED, ParticipationStatus.OPTED_OUT)


def campaign_describe(campaign: Campaign) -> str:
    """“Template” (channel, send date, state): how a campaign is named to a person."""
    return _("“%(name)s” (%(channel)s, %(date)s, %(state)s)") % {
        "name": campaign.template_version.template.name, "channel": campaign.get_channel_display(),
        "date": date_format(campaign.send_date), "state": campaign.get_status_display()}


def _refuse_withdrawal_past_drafts(*, operation: Operation, branch: Node) -> None:
    """Declining or opting out cancels only drafts: refused (ValidationError on ``status``, naming
    them) while the branch has campaigns of the operation beyond a draft and not finished."""
    # All of them locked first (in one order), like every path that changes a campaign and then its
    # proofs: a draft sent for approval meanwhile is read in its new state, and refuses the answer.
    locked = Campaign.objects.select_for_update(of=("self",)).filter(operation=operation, branch=branch)
    blocking = [campaign for campaign in locked.select_related("template_version__template").order_by("pk")
                if campaign.status in WITHDRAWAL_BLOCKING_STATUSES]
    if blocking:
        blocking.sort(key=lambda campaign: (campaign.send_date, campaign.pk))
        raise ValidationError({"status": [
            _("%(branch)s still has campaigns of this operation under way; cancel or finish these first: "
              "%(campaigns)s.") % {"branch": branch.name,
                                   "campaigns": "; ".join(campaign_describe(campaign) for campaign in blocking)}]})


def _cancel_campaigns(*, operation: Operation, branch: Node, cancelled_by, reason: str,
                      statuses=(CampaignStatus.DRAFT,)) -> int:
    # Locked first (in one order), like every path that changes a campaign and then its proofs.
    campaigns = list(Campaign.objects.select_for_update().filter(
        operation=operation, branch=branch, status__in=statuses).order_by("pk"))
    for campaign in campaigns:
        previous = campaign.status
        campaign.status = CampaignStatus.CANCELLED
        campaign.save(update_fields=["status", "updated_at"])
        CampaignEvent.objects.create(campaign=campaign, action="cancelled", by=cancelled_by, changes={"reason": reason})
        if previous != CampaignStatus.DRAFT:
            campaign_changed.send(sender=Campaign, campaign=campaign, by=cancelled_by, what=["cancelled"],
                                  previous_status=previous)
    return len(campaigns)


def _sync_campaigns(participation: Participation, *, by) -> None:
    """Joining or being enrolled creates the branch's campaigns; declining or opting out cancels
    the drafts only (participation_answer refused it while any campaign was further along)."""
    has_live = Campaign.objects.filter(
        operation=participation.operation, branch=participation.branch
    ).exclude(status=CampaignStatus.CANCELLED).exists()
    if participation.is_in and not has_live:
        _campaigns_for(operation=participation.operation, branch=participation.branch, created_by=by)
    elif not participation.is_in:
        _cancel_campaigns(operation=participation.operation, branch=participation.branch, cancelled_by=by,
                          reason=participation.status)


@transaction.atomic
def kit_use(*, operation: Operation, branch: Node, template_version, used_by) -> Campaign:
    """A branch uses a kit: one new draft campaign with one of the kit's template versions."""
    from central.selectors import operation_eligible_branches

    if not node_in_scope(used_by, branch, perm="change_node"):
        raise PermissionDenied(_("You do not act for this branch."))
    if operation.mode != OperationMode.KIT or operation.status != OperationStatus.PUBLISHED:
        raise ValidationError(_("Only a published kit can be used freely."))
    if not operation_eligible_branches(operation).filter(pk=branch.pk).exists():
        raise ValidationError(_("This operation is not open to %(branch)s.") % {"branch": branch.name})
    if operation.send_until <= timezone.localdate():
        raise ValidationError(_("This kit's send window is over."))
    if not operation.template_versions.filter(pk=template_version.pk).exists():
        raise ValidationError({"template_version": [_("Choose one of the kit's templates.")]})
    return _campaigns_for(operation=operation, branch=branch, created_by=used_by, versions=[template_version])[0]


@transaction.atomic
def national_campaign_create(*, operation: Operation, template_version, created_by) -> Campaign:
    """The head office plans a national send of an operation (to every reachable customer)."""
    _require_planner(created_by, operation.network)
    if operation.status != OperationStatus.PUBLISHED:
        raise ValidationError(_("Publish the operation first."))
    if not operation.template_versions.filter(pk=template_version.pk).exists():
        raise ValidationError({"template_version": [_("Choose one of the operation's templates.")]})
    return _campaigns_for(operation=operation, branch=None, created_by=created_by, versions=[template_version])[0]


def _require_editable(campaign: Campaign, user) -> None:
    from central.selectors import campaign_can_edit, campaign_edit_deadline

    if not campaign_can_edit(user, campaign):
        raise PermissionDenied(_("You may not change this campaign."))
    if campaign.status not in CAMPAIGN_OPEN_STATUSES:
        raise ValidationError(_("This campaign is no longer being prepared."))
    deadline = campaign_edit_deadline(campaign)
    if timezone.localdate() > deadline:
        raise ValidationError(_("Changes were possible until %(date)s.") % {"date": deadline.strftime("%d/%m/%Y")})


def campaign_check_date(campaign: Campaign, send_date) -> list[str]:
    """Why ``send_date`` cannot be this campaign's, if it cannot."""
    from central.selectors import blackout_periods_on

    problems = []
    tomorrow = timezone.localdate() + timedelta(days=1)
    if send_date < tomorrow:
        problems.append(_("Pick a date from tomorrow on."))
    operation = campaign.operation
    if operation is not None and not operation.send_from <= send_date <= operation.send_until:
        problems.append(_("Pick a date between %(start)s and %(end)s, the operation's send window.") % {
            "start": operation.send_from.strftime("%d/%m/%Y"), "end": operation.send_until.strftime("%d/%m/%Y")})
    for period in blackout_periods_on(network_id=campaign.network_id, day=send_date, channel=campaign.channel):
        problems.append(_("%(date)s falls in the blackout period “%(name)s”: nothing is sent then.") % {
            "date": send_date.strftime("%d/%m/%Y"), "name": period.name})
    return problems


def _jsonable(value: object) -> object:
    return value.isoformat() if hasattr(value, "isoformat") else value


@transaction.atomic
def campaign_update(
    *, campaign: Campaign, updated_by, slot_values: dict | None = None, send_date=None,
    target_criteria: dict | None = None,
) -> Campaign:
    """Customise a draft campaign: slot values (checked against the slot types and the network's
    rules), the send date (inside the operation's window, not in a blackout period) and the target
    (only the operation's allowed criteria). All or nothing: ValidationError keyed by field (slot
    errors keyed by slot name). Every change is recorded with its before and after."""
    from central.selectors import campaign_allowed_criteria
    from templates_lib.services import slot_values_clean

    campaign = Campaign.objects.select_for_update(of=("self",)).select_related("operation", "template_version__template").get(
        pk=campaign.pk)
    _require_editable(campaign, updated_by)
    errors: dict[str, list[str]] = {}
    changes: dict[str, object] = {}
    if slot_values is not None:
        try:
            cleaned = slot_values_clean(version=campaign.template_version, values=slot_values)
        except ValidationError as error:
            errors.update(error.message_dict if hasattr(error, "error_dict") else {"slot_values": error.messages})
        else:
            changed = {
                name: [campaign.slot_values.get(name), cleaned.get(name)]
                for name in sorted(set(cleaned) | set(campaign.slot_values))
                if campaign.slot_values.get(name) != cleaned.get(name)
            }
            if changed:
                changes["slot_values"] = changed
                campaign.slot_values = cleaned
    if send_date is not None:
        problems = campaign_check_date(campaign, send_date)
        if problems:
            errors["send_date"] = problems
        elif send_date != campaign.send_date:
            changes["send_date"] = [campaign.send_date.isoformat(), send_date.isoformat()]
            campaign.send_date = send_date
    if target_criteria is not None:
        try:
            criteria = criteria_clean(target_criteria, allowed=campaign_allowed_criteria(campaign))
        except ValidationError as error:
            errors.update({f"target_{name}": messages for name, messages in error.message_dict.items()})
        else:
            if criteria != campaign.target_criteria:
                changes["target_criteria"] = [campaign.target_criteria, criteria]
                campaign.target_criteria = criteria
    if errors:
        raise ValidationError(errors)
    if changes:
        campaign.save()
        CampaignEvent.objects.create(
            campaign=campaign, action="customised", by=updated_by,
            changes={key: [_jsonable(v) for v in pair] if isinstance(pair, list) else {
                name: [_jsonable(v) for v in values] for name, values in pair.items()}
                for key, pair in changes.items()},
        )
        _back_to_draft(campaign, by=updated_by, what=sorted(changes))
    return campaign


def _back_to_draft(campaign: Campaign, *, by, what: list[str]) -> None:
    """A change of content, target or date after approval was requested: the campaign is a draft
    again, and ``campaign_changed`` tells the approvals app, which voids the proof and tells its
    authors and approvers why. (The send gate compares content hashes anyway: even without this,
    a changed campaign could not be sent.)"""
    previous = campaign.status
    if previous != CampaignStatus.DRAFT:
        campaign.status = CampaignStatus.DRAFT
        campaign.save(update_fields=["status", "updated_at"])
    campaign_changed.send(sender=Campaign, campaign=campaign, by=by, what=what, previous_status=previous)


def campaign_status_set(*, campaign: Campaign, status: str, by, note: str = "") -> Campaign:
    """Move a campaign along its approval path (awaiting approval, approved, draft again). Called
    by the approvals app, which owns the rules; recorded in the campaign's history."""
    allowed_from = {
        CampaignStatus.AWAITING_APPROVAL: (CampaignStatus.DRAFT,),
        CampaignStatus.APPROVED: (CampaignStatus.AWAITING_APPROVAL,),
        CampaignStatus.DRAFT: (CampaignStatus.DRAFT, CampaignStatus.AWAITING_APPROVAL, CampaignStatus.APPROVED,
                               CampaignStatus.SCHEDULED),
    }
    if status not in allowed_from:
        raise ValidationError(_("Unknown approval status."))
    if campaign.status not in allowed_from[status]:
        raise ValidationError(_("This campaign is no longer waiting for approval."))
    if campaign.status != status:
        before = campaign.status
        campaign.status = status
        campaign.save(update_fields=["status", "updated_at"])
        CampaignEvent.objects.create(campaign=campaign, action="status", by=by,
                                     changes={"status": [before, status], **({"note": note} if note else {})})
    return campaign


def send_gate_check(campaign: Campaign) -> str | None:
    """Why ``campaign`` may not be scheduled or sent, or None. Asks the send gate named by
    ``settings.RELAIS_SEND_GATE`` (the approvals app's: an approved proof of exactly the
    campaign's current content, target and date, with every required step). Without a gate,
    nothing may be sent."""
    from django.utils.module_loading import import_string

    gate_path = getattr(settings, "RELAIS_SEND_GATE", "")
    if not gate_path:
        return _("No send gate is configured: nothing can be sent.")
    return import_string(gate_path)(campaign)


@transaction.atomic
def campaign_schedule(*, campaign: Campaign, scheduled_by) -> Campaign:
    """Put an approved campaign in the send queue for its date. Only through the send gate."""
    from central.selectors import campaign_can_edit

    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if not campaign_can_edit(scheduled_by, campaign):
        raise PermissionDenied(_("You may not change this campaign."))
    if campaign.status != CampaignStatus.APPROVED:
        raise ValidationError(_("Only an approved campaign can be scheduled."))
    refused = send_gate_check(campaign)
    if refused:
        raise ValidationError(refused)
    campaign.status = CampaignStatus.SCHEDULED
    campaign.save(update_fields=["status", "updated_at"])
    CampaignEvent.objects.create(campaign=campaign, action="scheduled", by=scheduled_by,
                                 changes={"send_date": campaign.send_date.isoformat()})
    return campaign


@transaction.atomic
def campaign_send_start(*, campaign: Campaign, started_by=None) -> Campaign:
    """The first message is about to leave: from now on approval can no longer be revoked nor the
    campaign changed. Refused unless the send gate lets this exact campaign go."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status != CampaignStatus.SCHEDULED:
        raise ValidationError(_("Only a scheduled campaign can start sending."))
    refused = send_gate_check(campaign)
    if refused:
        raise ValidationError(refused)
    campaign.status = CampaignStatus.SENDING
    campaign.save(update_fields=["status", "updated_at"])
    CampaignEvent.objects.create(campaign=campaign, action="sending", by=started_by)
    return campaign


def _own_customer(campaign: Campaign, user, customer_public_id: str):
    """A customer of the campaign's branch (or network, for a national one) that ``user`` sees;
    the same message for a foreign id and a missing one."""
    from central.selectors import customers_visible_to

    customers = customers_visible_to(user).filter(network_id=campaign.network_id)
    if campaign.branch_id is not None:
        customers = customers.filter(branch_id=campaign.branch_id)
    customer = customers.filter(public_id=(customer_public_id or "").strip()).first()
    if customer is None:
        owner = campaign.branch.name if campaign.branch_id else campaign.network.name
        raise ValidationError({"customer": [_("No customer of %(owner)s has the id “%(id)s”.") % {
            "owner": owner, "id": customer_public_id}]})
    return customer


@transaction.atomic
def campaign_target_change(*, campaign: Campaign, customer_public_id: str, action: str, changed_by) -> TargetOverride | None:
    """Remove one of the branch's own customers from the proposed list, add one, or undo either
    (``action`` "exclude", "include" or "reset"). Only until the edit deadline; an added customer
    must be reachable on the campaign's channel."""
    from central.campaigns.targeting import reachable_on

    campaign = Campaign.objects.select_for_update(of=("self",)).select_related("operation", "branch", "network").get(pk=campaign.pk)
    _require_editable(campaign, changed_by)
    customer = _own_customer(campaign, changed_by, customer_public_id)
    if action not in ("exclude", "include", "reset"):
        raise ValidationError({"action": [_("Remove, add or restore a customer.")]})
    if action == "include" and not Customer.objects.filter(pk=customer.pk).filter(reachable_on(campaign.channel)).exists():
        raise ValidationError({"customer": [_("%(name)s cannot be reached by %(channel)s (no consent, an objection or no address).") % {
            "name": customer.full_name, "channel": campaign.get_channel_display()}]})
    previous = TargetOverride.objects.filter(campaign=campaign, customer=customer).first()
    if action == "reset":
        if previous:
            previous.delete()
    else:
        TargetOverride.objects.update_or_create(campaign=campaign, customer=customer, defaults={"action": action})
    if (previous.action if previous else "reset") != action:
        CampaignEvent.objects.create(campaign=campaign, action=f"target_{action}", by=changed_by,
                                     changes={"customer": customer.public_id, "name": customer.full_name})
        _back_to_draft(campaign, by=changed_by, what=["target"])
    return TargetOverride.objects.filter(campaign=campaign, customer=customer).first()


@transaction.atomic
def campaign_cancel(*, campaign: Campaign, cancelled_by) -> Campaign:
    # Re-read under a row lock: a stale copy must not cancel a campaign that has started sending
    # meanwhile (no select_related: PostgreSQL refuses FOR UPDATE on the nullable join).
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    _require_editable(campaign, cancelled_by)
    previous = campaign.status
    campaign.status = CampaignStatus.CANCELLED
    campaign.save(update_fields=["status", "updated_at"])
    CampaignEvent.objects.create(campaign=campaign, action="cancelled", by=cancelled_by)
    if previous != CampaignStatus.DRAFT:
        campaign_changed.send(sender=Campaign, campaign=campaign, by=cancelled_by, what=["cancelled"],
                              previous_status=previous)
    return campaign


# --- Deadlines -------------------------------------------------------------------------------------


def deadline_reminders_send(*, today=None) -> int:
    """E-mail the managers of every eligible branch that has not answered a published opt-in
    operation, ``RELAIS_REMINDER_DAYS`` days before its subscription deadline. Each (operation,
    branch, step) is reminded once: running twice sends nothing more. A branch whose reminder could
    not be sent is tried again on the next run (its row is written only with the send)."""
    from central.selectors import operation_eligible_branches
    from local_stores.models import Role
    from local_stores.selectors import people_holding

    today = today or timezone.localdate()
    sent = 0
    for days in settings.RELAIS_REMINDER_DAYS:
        operations = Operation.objects.filter(
            status=OperationStatus.PUBLISHED, mode=OperationMode.OPT_IN,
            subscription_deadline=today + timedelta(days=days),
        ).select_related("network")
        for operation in operations:
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
    from django.core.mail import send_mail
    from django.template.loader import render_to_string
    from django.urls import reverse

    with translation.override(settings.LANGUAGE_CODE):  # people have no language of their own yet
        context = {
            "person": person, "operation": operation, "branch": branch, "days": days,
            "url": settings.RELAIS_BASE_URL.rstrip("/") + reverse("operations:operations") + f"?branch={branch.public_id}",
        }
        subject = _("%(operation)s: answer before %(date)s") % {
            "operation": operation.name, "date": operation.subscription_deadline.strftime("%d/%m/%Y")}
        send_mail(subject, render_to_string("central/email/deadline_reminder.txt", context),
                  None, [person.email])


# --- The network's rules, the suppression list, simulations, ownership transfers ------------------

#: What ``network_rules_update`` may change.
RULES_FIELDS = (
    "priority_order", "cap_total", "cap_days", "channel_caps", "segment_caps", "national_reserved", "local_reserved",
    "quiet_weekdays", "quiet_from", "quiet_until", "one_per_operation", "attribution_days",
    "cost_email", "cost_sms_segment", "cost_print_page", "cost_print_copy", "cost_postage",
)
COST_FIELDS = ("cost_email", "cost_sms_segment", "cost_print_page", "cost_print_copy", "cost_postage")
#: A unit cost at or above this is a typo (a letter costs a few euros at most).
RULES_MAX_UNIT_COST = Decimal("100")
#: A purchase is credited to a campaign at most this many days after its send.
RULES_MAX_ATTRIBUTION_DAYS = 90
#: At most this many segments with a cap of their own.
RULES_MAX_SEGMENTS = 20
#: Bounds that catch a typo (700 messages, a ten-year window) without constraining any real policy.
RULES_MAX_COUNT = 50
RULES_MAX_DAYS = 366
#: A simulation covers at most this many days; the latest this many simulations of a network are
#: kept (with their candidates), older ones are deleted when a new one runs.
SIMULATION_MAX_DAYS = 62
SIMULATIONS_KEPT = 20


def _is_count(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def network_rules_check(rules) -> dict[str, list[ValidationError]]:
    """Every problem of the rules, by field. A channel cap's errors carry ``params={"channel": …}``
    so that a page can put each next to its channel's fields."""
    from central.models import Origin

    errors: dict[str, list[ValidationError]] = {}

    def add(field: str, message: str, **params: str) -> None:
        errors.setdefault(field, []).append(ValidationError(message, params=params or None))

    order = rules.priority_order
    if not isinstance(order, list) or len(order) != len(Origin.values) or set(order) != set(Origin.values):
        add("priority_order", _("Put the three origins in order, each once: transactional, local and national."))
    if not _is_count(rules.cap_total, 1, RULES_MAX_COUNT):
        add("cap_total", _("Allow between 1 and %(max)s marketing messages.") % {"max": RULES_MAX_COUNT})
    if not _is_count(rules.cap_days, 1, RULES_MAX_DAYS):
        add("cap_days", _("The window lasts at least one day, and at most %(max)s.") % {"max": RULES_MAX_DAYS})
    for name in COST_FIELDS:
        value = getattr(rules, name)
        try:
            value = Decimal(str(value))
        except (InvalidOperation, TypeError, ValueError):
            value = None
        if value is None or not value.is_finite() or not Decimal(0) <= value < RULES_MAX_UNIT_COST or \
                value != value.quantize(Decimal("0.0001")):
            add(name, _("A unit cost is between 0 and %(max)s, to four decimals.") % {"max": RULES_MAX_UNIT_COST})
        else:
            setattr(rules, name, value)
    if not _is_count(rules.attribution_days, 1, RULES_MAX_ATTRIBUTION_DAYS):
        add("attribution_days", _("Credit purchases made between 1 and %(max)s days after a send.") % {
            "max": RULES_MAX_ATTRIBUTION_DAYS})
    caps = rules.channel_caps
    if not isinstance(caps, dict):
        add("channel_caps", _("Give each channel's cap as a number of messages over a number of days."))
    else:
        for channel, cap in caps.items():
            if channel not in Channel.values:
                add("channel_caps", _("Unknown channel “%(channel)s”: choose e-mail, SMS or post.") % {
                    "channel": channel}, channel=str(channel))
                continue
            label = str(Channel(channel).label)
            if not isinstance(cap, dict) or not _is_count(cap.get("count"), 1, RULES_MAX_COUNT):
                add("channel_caps", _("%(channel)s: allow between 1 and %(max)s messages.") % {
                    "channel": label, "max": RULES_MAX_COUNT}, channel=channel)
            if not isinstance(cap, dict) or not _is_count(cap.get("days"), 1, RULES_MAX_DAYS):
                add("channel_caps", _("%(channel)s: the window lasts at least one day, and at most %(max)s.") % {
                    "channel": label, "max": RULES_MAX_DAYS}, channel=channel)
    segment_caps = rules.segment_caps
    if not isinstance(segment_caps, dict):
        add("segment_caps", _("Give each segment's cap as a number of messages."))
    else:
        if len(segment_caps) > RULES_MAX_SEGMENTS:
            add("segment_caps", _("Set a cap for %(max)s segments at most.") % {"max": RULES_MAX_SEGMENTS})
        for segment, count in segment_caps.items():
            if (not isinstance(segment, str) or not segment.strip() or len(segment) > 32 or segment != segment.strip()
                    or not segment.isprintable()):  # a NUL would make PostgreSQL's JSON answer a 500
                # the name goes in as a parameter only: interpolated twice, a "%" in it would fail (500)
                add("segment_caps", _("“%(segment)s” is not a segment name (1 to 32 characters)."),
                    segment=str(segment))
            elif not _is_count(count, 0, RULES_MAX_COUNT):
                add("segment_caps", _("Segment “%(segment)s”: allow between 0 and %(max)s messages."),
                    segment=segment, max=RULES_MAX_COUNT)
    reserved_ok = True
    for field in ("national_reserved", "local_reserved"):
        value = getattr(rules, field)
        if not _is_count(value, 0, RULES_MAX_COUNT):
            add(field, _("Reserve between 0 and %(max)s slots.") % {"max": RULES_MAX_COUNT})
            reserved_ok = False
        elif _is_count(rules.cap_total, 1, RULES_MAX_COUNT) and value > rules.cap_total:
            add(field, _("Only %(cap)s slots exist: you cannot reserve %(reserved)s.") % {
                "cap": rules.cap_total, "reserved": value})
            reserved_ok = False
    if (reserved_ok and _is_count(rules.cap_total, 1, RULES_MAX_COUNT)
            and rules.national_reserved + rules.local_reserved > rules.cap_total):
        add("local_reserved", _("Together, the slots reserved for national (%(national)s) and local (%(local)s) "
                                "campaigns exceed the %(cap)s allowed.") % {
            "national": rules.national_reserved, "local": rules.local_reserved, "cap": rules.cap_total})
    days = rules.quiet_weekdays
    if not isinstance(days, list) or not all(_is_count(day, 1, 7) for day in days) or len(set(days)) != len(days):
        add("quiet_weekdays", _("Quiet days are weekdays, from 1 (Monday) to 7 (Sunday), each once."))
    elif len(days) == 7:
        add("quiet_weekdays", _("With every day quiet, nothing could ever be sent."))
    if (rules.quiet_from is None) != (rules.quiet_until is None):
        add("quiet_until" if rules.quiet_until is None else "quiet_from",
            _("Give quiet hours a start and an end, or neither."))
    elif rules.quiet_from is not None and rules.quiet_from == rules.quiet_until:
        add("quiet_until", _("Quiet hours end when they start: leave both empty for none."))
    if not isinstance(rules.one_per_operation, bool):
        add("one_per_operation", _("Say yes or no."))
    return errors


def network_rules_update(*, network: Network, updated_by, **fields: object):
    """Head office changes its network's rules (any of ``RULES_FIELDS``). ValidationError by field,
    nothing saved; otherwise every changed field is recorded as before → after in a
    ``NetworkRulesEvent``."""
    from central.arbitration import rules_for
    from central.models import NetworkRules, NetworkRulesEvent
    from central.selectors import rules_snapshot

    _require_planner(updated_by, network)
    unknown = set(fields) - set(RULES_FIELDS)
    if unknown:
        raise ValidationError(_("Unknown fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))})
    with transaction.atomic():
        rules = NetworkRules.objects.select_for_update().get(pk=rules_for(network).pk)
        before = rules_snapshot(rules)
        if not rules.priority_order:
            rules.priority_order = rules.order  # the default order, made explicit
        for name, value in fields.items():
            if name in ("priority_order", "quiet_weekdays") and isinstance(value, tuple):
                value = list(value)
            if name == "quiet_weekdays" and isinstance(value, list) and all(_is_count(day, 1, 7) for day in value):
                value = sorted(value)
            if name == "segment_caps" and isinstance(value, dict):
                value = dict(sorted(value.items(), key=lambda item: str(item[0])))
            if name == "channel_caps" and isinstance(value, dict):
                value = {str(channel): dict(cap) if isinstance(cap, dict) else cap for channel, cap in value.items()}
            setattr(rules, name, value)
        errors = network_rules_check(rules)
        if errors:
            raise ValidationError(errors)
        rules.updated_by = updated_by
        rules.save()
        after = rules_snapshot(rules)
        changes = {name: [before[name], after[name]] for name in RULES_FIELDS if before[name] != after[name]}
        if changes:
            NetworkRulesEvent.objects.create(network=network, action=NetworkRulesEvent.Action.RULES_CHANGED,
                                             changes=changes, by=updated_by)
    return rules


def suppression_hash(channel: str, address: str) -> str:
    """The SHA-256 the suppression list keeps, as the arbitration computes it on customers: of the
    lower-cased e-mail, or of the mobile as stored (E.164, as the import writes it).
    ValidationError on ``address`` if it is no e-mail address or mobile number."""
    import hashlib

    from django.core.validators import validate_email

    value = (address or "").strip()
    if channel == Channel.EMAIL:
        try:
            validate_email(value)
        except ValidationError:
            raise ValidationError({"address": [_("This is not an e-mail address.")]}) from None
        value = value.lower()
    elif channel == Channel.SMS:
        mobile = customer_import.normalise_mobile(value)
        if not mobile:
            raise ValidationError({"address": [_("This is not a valid mobile number (e.g. 06 12 34 56 78 or "
                                                 "+33612345678).")]})
        value = mobile.lower()
    else:
        raise ValidationError({"channel": [_("Only e-mail addresses and mobile numbers can be suppressed.")]})
    return hashlib.sha256(value.encode()).hexdigest()


def suppression_add(*, network: Network, added_by, channel: str, address: str, reason: str):
    """Head office puts an address on the network's suppression list: only its hash is stored, the
    address itself is forgotten at once. ValidationError by field."""
    from django.db import IntegrityError

    from central.models import NetworkRulesEvent, Suppression

    _require_planner(added_by, network)
    reason = (reason or "").strip()
    errors: dict[str, list[str]] = {}
    if not reason:
        errors["reason"] = [_("Say why (a hard bounce, a complaint, an erasure request…).")]
    elif len(reason) > 40:
        errors["reason"] = [_("40 characters at most.")]
    try:
        value_hash = suppression_hash(channel, address)
    except ValidationError as error:
        errors.update(error.message_dict)
        value_hash = ""
    if not errors and Suppression.objects.filter(network=network, channel=channel, value_hash=value_hash).exists():
        errors["address"] = [_("This address is already on the suppression list.")]
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            suppression = Suppression.objects.create(network=network, channel=channel, value_hash=value_hash,
                                                     reason=reason)
            NetworkRulesEvent.objects.create(
                network=network, action=NetworkRulesEvent.Action.SUPPRESSION_ADDED, by=added_by,
                changes={"channel": channel, "hash": value_hash[:12], "reason": reason})
    except IntegrityError:  # added by someone else meanwhile
        raise ValidationError({"address": [_("This address is already on the suppression list.")]}) from None
    return suppression


@transaction.atomic
def suppression_remove(*, suppression, removed_by) -> None:
    from central.models import NetworkRulesEvent

    _require_planner(removed_by, suppression.network)
    NetworkRulesEvent.objects.create(
        network=suppression.network, action=NetworkRulesEvent.Action.SUPPRESSION_REMOVED, by=removed_by,
        changes={"channel": suppression.channel, "hash": suppression.value_hash[:12], "reason": suppression.reason})
    suppression.delete()


def _may_simulate(user, network: Network) -> bool:
    """Head office, and whoever sees customers of the network (what they are shown is scoped)."""
    from central.selectors import networks_planned_by

    return (networks_planned_by(user).filter(pk=network.pk).exists()
            or nodes_in_scope(user, perm="view_customers").filter(network=network).exists())


def simulation_check(*, network: Network, starts_on, ends_on, run_by) -> None:
    """Why ``run_by`` may not simulate ``network`` over [starts_on, ends_on], raised (PermissionDenied,
    or ValidationError keyed by field); nothing when they may."""
    if not _may_simulate(run_by, network):
        raise PermissionDenied(_("You see no customer of this network."))
    errors: dict[str, list[str]] = {}
    if not starts_on:
        errors["starts_on"] = [_("Give the first day.")]
    if not ends_on:
        errors["ends_on"] = [_("Give the last day.")]
    if starts_on and ends_on:
        if ends_on < starts_on:
            errors["ends_on"] = [_("The last day comes before the first.")]
        elif (ends_on - starts_on).days + 1 > SIMULATION_MAX_DAYS:
            errors["ends_on"] = [_("Simulate %(days)s days at most.") % {"days": SIMULATION_MAX_DAYS}]
    if errors:
        raise ValidationError(errors)


def arbitration_simulate(*, network: Network, starts_on, ends_on, run_by):
    """Run the arbitration in what-if mode over the campaigns sending in [starts_on, ends_on]
    (drafts included): nothing is sent, nothing changes but the new run and its candidates. The
    rules used are kept with the run (to explain it later); only the latest SIMULATIONS_KEPT
    simulations of the network are kept."""
    from central.arbitration import arbitrate, rules_for
    from central.models import ArbitrationRun
    from central.selectors import rules_snapshot

    simulation_check(network=network, starts_on=starts_on, ends_on=ends_on, run_by=run_by)
    rules = rules_for(network)
    run = arbitrate(network=network, starts_on=starts_on, ends_on=ends_on, mode=ArbitrationRun.Mode.SIMULATION,
                    started_by=run_by)
    run.summary = {**run.summary, "rules": rules_snapshot(rules)}
    run.save(update_fields=["summary"])
    old = list(ArbitrationRun.objects.filter(network=network, mode=ArbitrationRun.Mode.SIMULATION, finished_at__isnull=False)
               .order_by("-started_at", "-id").values_list("pk", flat=True)[SIMULATIONS_KEPT:])
    if old:
        ArbitrationRun.objects.filter(pk__in=old).delete()
    return run


def campaign_simulation_window(campaign: Campaign, rules) -> tuple:
    """The days a campaign's simulation covers: its send date ± the longest window of the caps
    that apply to it (overall, and its channel's), less one day, so that every campaign the run
    ranks against it sends within one window of it — but from tomorrow at the earliest."""
    days = rules.cap_days
    cap = (rules.channel_caps or {}).get(campaign.channel)
    if isinstance(cap, dict) and _is_count(cap.get("days"), 1, RULES_MAX_DAYS):
        days = max(days, cap["days"])
    reach = max(0, min(days - 1, (SIMULATION_MAX_DAYS - 1) // 2))
    # Never before tomorrow: what was sent until today is counted as past contacts, and the engine
    # counts only the contacts before the window opens.
    tomorrow = timezone.localdate() + timedelta(days=1)
    starts_on = max(campaign.send_date - timedelta(days=reach), min(campaign.send_date, tomorrow))
    return starts_on, campaign.send_date + timedelta(days=reach)


def campaign_simulation(*, campaign: Campaign, run_by):
    """Simulate the network's rules around one campaign (see ``campaign_simulation_window``), for
    whoever sees the customers it may reach."""
    from central.arbitration import rules_for
    from central.selectors import campaign_customers_visible

    if not campaign_customers_visible(run_by, campaign):
        raise PermissionDenied(_("You do not see the customers of this campaign."))
    starts_on, ends_on = campaign_simulation_window(campaign, rules_for(campaign.network))
    return arbitration_simulate(network=campaign.network, starts_on=starts_on, ends_on=ends_on, run_by=run_by)


def _customer_for_transfer(network_id: int, reference: str):
    """The one customer of the network that ``reference`` designates (public id, CRM id, e-mail or
    mobile); ValidationError on ``customer`` for none or several."""
    from django.db.models import Q

    reference = (reference or "").strip()
    if not reference:
        raise ValidationError({"customer": [_("Give the customer's CRM id, e-mail address or mobile number.")]})
    condition = Q(public_id=reference) | Q(external_id=reference)
    if "@" in reference:
        condition |= Q(email=reference.lower())
    mobile = customer_import.normalise_mobile(reference)
    if mobile:
        condition |= Q(mobile=mobile)
    matches = list(Customer.objects.filter(network_id=network_id).filter(condition).select_related("branch")[:2])
    if not matches:
        raise ValidationError({"customer": [_("No customer of the network matches “%(reference)s”.") % {
            "reference": reference}]})
    if len(matches) > 1:
        raise ValidationError({"customer": [_("Several customers match “%(reference)s”: give the CRM id.") % {
            "reference": reference}]})
    return matches[0]


def ownership_transfer_request(*, to_branch: Node, customer_reference: str, requested_by, note: str = ""):
    """A branch asks that a customer of another branch of its network becomes its own, naming them
    by CRM id, e-mail or mobile (it does not see them yet). Whoever may decide (head office, the
    regional manager over both branches) moves the customer at once: the transfer is recorded
    accepted. ValidationError by field; PermissionDenied for a branch the user does not act for."""
    from django.db import IntegrityError

    from central.models import OwnershipTransfer, TransferStatus
    from central.selectors import ownership_transfer_can_decide

    if (to_branch.kind != NodeKind.BRANCH or not to_branch.is_active
            or not node_in_scope(requested_by, to_branch, perm="change_node")):
        raise PermissionDenied(_("You do not act for this branch."))
    note = (note or "").strip()
    if len(note) > 1000:
        raise ValidationError({"note": [_("1000 characters at most.")]})
    customer = _customer_for_transfer(to_branch.network_id, customer_reference)
    if customer.branch_id == to_branch.pk:
        raise ValidationError({"customer": [_("This customer already belongs to %(branch)s.") % {
            "branch": to_branch.name}]})
    now = timezone.now()
    try:
        with transaction.atomic():
            customer = Customer.objects.select_for_update().select_related("branch").get(pk=customer.pk)
            if OwnershipTransfer.objects.filter(customer=customer, status=TransferStatus.REQUESTED).exists():
                raise ValidationError({"customer": [_("A transfer of this customer is already waiting for a "
                                                      "decision.")]})
            transfer = OwnershipTransfer.objects.create(
                network_id=to_branch.network_id, customer=customer, from_branch=customer.branch, to_branch=to_branch,
                requested_as=(customer_reference or "").strip()[:254], note=note, requested_by=requested_by,
                requested_at=now)
            if ownership_transfer_can_decide(requested_by, transfer):
                _transfer_accept(transfer, decided_by=requested_by, note="")
    except IntegrityError:  # another request for the same customer, at the same moment
        raise ValidationError({"customer": [_("A transfer of this customer is already waiting for a decision.")]}) \
            from None
    return transfer


def _transfer_accept(transfer, *, decided_by, note: str) -> None:
    from central.models import TransferStatus

    Customer.objects.filter(pk=transfer.customer_id).update(branch=transfer.to_branch, updated_at=timezone.now())
    transfer.status, transfer.decided_by, transfer.decided_at = TransferStatus.ACCEPTED, decided_by, timezone.now()
    transfer.decision_note = note
    transfer.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])


@transaction.atomic
def ownership_transfer_decide(*, transfer, decided_by, accept: bool, note: str = ""):
    """Head office or the regional manager over both branches accepts (the customer changes branch)
    or refuses a waiting transfer. Refused with a clear message if it was decided meanwhile or the
    customer changed branch since."""
    from central.models import OwnershipTransfer, TransferStatus
    from central.selectors import ownership_transfer_can_decide

    transfer = OwnershipTransfer.objects.select_for_update().select_related(
        "customer", "from_branch", "to_branch").get(pk=transfer.pk)
    if not ownership_transfer_can_decide(decided_by, transfer):
        raise PermissionDenied(_("Only head office or the regional manager over both branches decides."))
    if transfer.status != TransferStatus.REQUESTED:
        raise ValidationError(_("This transfer was already decided."))
    note = (note or "").strip()
    if len(note) > 1000:
        raise ValidationError({"note": [_("1000 characters at most.")]})
    customer = Customer.objects.select_for_update().get(pk=transfer.customer_id)
    if accept:
        if customer.branch_id != transfer.from_branch_id:
            raise ValidationError(_("The customer changed branch since the request: refuse it."))
        _transfer_accept(transfer, decided_by=decided_by, note=note)
    else:
        transfer.status, transfer.decided_by, transfer.decided_at = TransferStatus.REFUSED, decided_by, timezone.now()
        transfer.decision_note = note
        transfer.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    return transfer


# --- Budgets ---------------------------------------------------------------------------------------

#: An allocation at or above this is a typo.
BUDGET_MAX = Decimal("1000000000")
#: A budget covers a year at most.
BUDGET_MAX_DAYS = 366


def budget_allocate(*, network: Network, node: Node, starts_on, ends_on, amount, allocated_by, note: str = ""):
    """Head office gives ``amount`` to a branch, or to a region — split equally among its active
    branches, the odd cents to the first ones by name — for the campaigns sent in [starts_on,
    ends_on]. A branch has one budget per day: a period overlapping one of its budgets is refused
    (change that one instead). ValidationError by field; PermissionDenied for anyone but the
    network's planners. Returns the rows created."""
    from central.models import Budget

    _require_planner(allocated_by, network)
    errors: dict[str, list[str]] = {}
    if node.network_id != network.pk or node.kind not in (NodeKind.BRANCH, NodeKind.REGION):
        errors.setdefault("node", []).append(_("Choose a branch or a region of this network."))
    if not starts_on or not ends_on:
        errors.setdefault("ends_on", []).append(_("Give the first and the last day."))
    elif ends_on < starts_on:
        errors.setdefault("ends_on", []).append(_("The last day comes before the first."))
    elif (ends_on - starts_on).days + 1 > BUDGET_MAX_DAYS:
        errors.setdefault("ends_on", []).append(_("A budget covers %(days)s days at most.") % {"days": BUDGET_MAX_DAYS})
    try:
        amount = Decimal(str(amount))
        if not amount.is_finite() or amount < 0 or amount >= BUDGET_MAX or amount != amount.quantize(Decimal("0.01")):
            raise InvalidOperation
    except (InvalidOperation, TypeError, ValueError):
        errors.setdefault("amount", []).append(_("An amount is a positive number, to the cent."))
    if len(note or "") > 200:
        errors.setdefault("note", []).append(_("200 characters at most."))
    if errors:
        raise ValidationError(errors)
    if node.kind == NodeKind.REGION:
        branches = list(Node.objects.filter(network=network, kind=NodeKind.BRANCH, is_active=True,
                                            path__startswith=node.path).exclude(pk=node.pk).order_by("name", "pk"))
        if not branches:
            raise ValidationError({"node": [_("This region has no active branch to share the budget.")]})
    else:
        branches = [node]
    taken = Budget.objects.filter(branch__in=branches, starts_on__lte=ends_on, ends_on__gte=starts_on).select_related(
        "branch").order_by("branch__name")
    if taken.exists():
        first = taken.first()
        raise ValidationError({"starts_on": [_(
            "%(branch)s already has a budget from %(start)s to %(end)s: change that one, or choose other days.") % {
            "branch": first.branch.name, "start": date_format(first.starts_on, "SHORT_DATE_FORMAT"),
            "end": date_format(first.ends_on, "SHORT_DATE_FORMAT")}]})
    cents = int(amount * 100)
    share, extra = divmod(cents, len(branches))
    region = node if node.kind == NodeKind.REGION else None
    with transaction.atomic():
        return Budget.objects.bulk_create([
            Budget(network=network, branch=branch, region=region, starts_on=starts_on, ends_on=ends_on,
                   amount=Decimal(share + (1 if index < extra else 0)) / 100, note=note, created_by=allocated_by)
            for index, branch in enumerate(branches)])


# --- Prospects: a branch's sign-up page, with double opt-in for e-mail ---------------------------------

#: A confirmation link works this long.
SIGNUP_CONFIRM_DAYS = 3
#: Sign-ups accepted from one IP address per hour (beyond: refused, nothing stored).
SIGNUP_PER_IP_PER_HOUR = 5
_SIGNUP_SALT = "relais.signup.confirm"


class SignupRefused(Exception):
    """A sign-up refused as a whole (too many from one address): nothing was stored."""


def signup_ip_hash(ip: str) -> str:
    """The IP address as the proof keeps it: a keyed hash (the address itself is never stored)."""
    import hashlib
    import hmac

    return hmac.new(settings.SECRET_KEY.encode(), (ip or "").encode(), hashlib.sha256).hexdigest()


def signup_token(signup) -> str:
    """The confirmation link's token: the sign-up's id, signed and dated (tampering breaks it)."""
    from django.core import signing

    return signing.dumps(signup.public_id, salt=_SIGNUP_SALT, compress=False)


def _signup_rate_check(ip_hash: str) -> None:
    from django.core.cache import cache

    key = f"relais:signup:{ip_hash}"
    if cache.get_or_set(key, 0, timeout=3600) >= SIGNUP_PER_IP_PER_HOUR:
        raise SignupRefused(_("Too many sign-ups from your connection: try again in an hour."))
    try:
        cache.incr(key)
    except ValueError:  # expired between the two calls
        cache.set(key, 1, timeout=3600)


def signup_submit(*, branch: Node, first_name: str, last_name: str, email: str, mobile: str, consent_email: bool,
                  consent_sms: bool, ip: str, page: str, text_shown: str, confirm_url) -> object:
    """A visitor's valid sign-up on ``branch``'s page (the form checked the fields): kept as the
    proof of consent. With an e-mail address, a confirmation link is sent to it and nothing else is
    stored until it is followed (double opt-in); with a mobile number only, the prospect is made now.
    ``confirm_url(token)`` builds the link. SignupRefused beyond ``SIGNUP_PER_IP_PER_HOUR``."""
    from django.core.mail import send_mail

    from central.models import SignupRequest

    ip_hash = signup_ip_hash(ip)
    _signup_rate_check(ip_hash)
    signup = SignupRequest.objects.create(
        branch=branch, first_name=first_name, last_name=last_name, email=email.lower(), mobile=mobile,
        consent_email=consent_email, consent_sms=consent_sms, page=page[:300], text_shown=text_shown, ip_hash=ip_hash)
    if email:
        link = confirm_url(signup_token(signup))
        send_mail(
            subject=_("Confirm your sign-up to %(branch)s") % {"branch": branch.name},
            message=_("Hello,\n\nTo receive the offers of %(branch)s, confirm your address by opening this link "
                      "(valid %(days)s days):\n%(link)s\n\nIf you did not sign up, ignore this message: nothing "
                      "will be sent to you.") % {"branch": branch.name, "days": SIGNUP_CONFIRM_DAYS, "link": link},
            from_email=None, recipient_list=[email])
    else:
        with transaction.atomic():
            _prospect_from(signup)
    return signup


def signup_confirm(*, token: str):
    """Follow a confirmation link: (the sign-up, True) the first time — the prospect is made — and
    (the sign-up, False) any later time, changing nothing. ValidationError for a link that was
    tampered with or has expired."""
    from django.core import signing

    from central.models import SignupRequest

    try:
        public_id = signing.loads(token, salt=_SIGNUP_SALT, max_age=SIGNUP_CONFIRM_DAYS * 86400)
    except signing.SignatureExpired as error:
        raise ValidationError(_("This link has expired: sign up again to receive a new one."), code="expired") from error
    except signing.BadSignature as error:
        raise ValidationError(_("This link is not valid: copy it whole from the message."), code="invalid") from error
    with transaction.atomic():
        signup = SignupRequest.objects.select_for_update().select_related("branch").filter(public_id=public_id).first()
        if signup is None:
            raise ValidationError(_("This link is not valid: copy it whole from the message."), code="invalid")
        if signup.confirmed_at is not None:
            return signup, False
        _prospect_from(signup)
        return signup, True


def _prospect_from(signup) -> Customer:
    """Make (or update) the prospect of a sign-up, in the current transaction: a customer of the
    network with the same e-mail address (or mobile) gets the consents; anyone else becomes a
    prospect of the branch. Each consent is recorded with the sign-up as its source."""
    from central.models import Customer

    now = timezone.now()
    network_id = signup.branch.network_id
    existing = None
    if signup.email:
        existing = Customer.objects.filter(network_id=network_id, email__iexact=signup.email).order_by("pk").first()
    if existing is None and signup.mobile:
        existing = Customer.objects.filter(network_id=network_id, mobile=signup.mobile).order_by("pk").first()
    customer = existing or Customer(
        network_id=network_id, branch=signup.branch, external_id=f"prospect:{signup.public_id}", is_prospect=True,
        first_name=signup.first_name, last_name=signup.last_name, email=signup.email, mobile=signup.mobile)
    granted = [channel for channel, given in ((Channel.EMAIL, signup.consent_email and signup.email),
                                              (Channel.SMS, signup.consent_sms and signup.mobile)) if given]
    if existing is not None:
        customer.email = customer.email or signup.email
        customer.mobile = customer.mobile or signup.mobile
    consent.consent_grant(customer=customer, channels=granted, source=f"sign-up {signup.public_id}", at=now)
    signup.confirmed_at = now
    signup.customer = customer
    signup.save(update_fields=["confirmed_at", "customer"])
    return customer


# --- Erasure (RGPD art. 17) ----------------------------------------------------------------------------


def customer_erase(*, customer: Customer, erased_by, reason: str = "") -> Customer:
    """Erase a customer on request: their addresses go on the network's suppression list (hashed:
    a later import of the same address sends nothing), every message not yet sent is cancelled,
    and every personal datum is removed — the customer's fields, consent history, purchases,
    sign-ups, the providers' wording of their bounces and the errors of their deliveries. The
    anonymous rows that statistics count (deliveries, events, contacts, decisions) stay, tied to the
    emptied record. Head office only (``change_customers`` over the customer's branch); once."""
    from central.models import Delivery, Purchase, SignupRequest, TargetOverride, TrackingEvent

    if not node_in_scope(erased_by, customer.branch, perm="change_customers"):
        raise PermissionDenied(_("You may not erase this customer."))
    if customer.erased_at is not None:
        raise ValidationError(_("This customer was already erased."))
    now = timezone.now()
    with transaction.atomic():
        for channel in (Channel.EMAIL, Channel.SMS):
            consent.suppress_address(customer=customer, channel=channel, reason="erasure")
        consent.customer_objection_record(customer=customer, source="erasure", at=now)
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        SignupRequest.objects.filter(Q(customer=customer) | (Q(branch__network_id=customer.network_id) & (
            (Q(email=customer.email.lower()) & ~Q(email="")) | (Q(mobile=customer.mobile) & ~Q(mobile=""))))).delete()
        consent.consent_erase(customer=customer)  # the history, and every consent (saved below)
        Purchase.objects.filter(customer=customer).delete()
        TargetOverride.objects.filter(customer=customer).delete()
        deliveries = Delivery.objects.filter(customer=customer)
        deliveries.update(last_error="")
        TrackingEvent.objects.filter(delivery__in=deliveries).update(url="")
        for name in ("first_name", "last_name", "email", "mobile", "address_line1", "postal_code", "city", "segment",
                     "interests", "civility", "preferred_channel"):
            setattr(customer, name, "")
        for name in ("rfm_recency", "rfm_frequency", "rfm_monetary", "last_purchase_on", "lifetime_value"):
            setattr(customer, name, None)
        customer.external_id = f"erased:{customer.public_id}"
        customer.is_prospect = False
        customer.erased_at = now
        customer.save()
        customer_erased.send(sender=Customer, customer=customer)
        # what remains of the history: that the customer was erased, by whom (no personal datum)
        consent.consent_erasure_record(
            customer=customer, at=now,
            source=f"erasure by {erased_by.get_username()}"[:120] + (f": {reason}"[:40] if reason else ""))
    return customer
