"""Writes of the network's rules (head office) and the arbitration's simulations."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from central.arbitration import arbitrate, rules_for
from central.calendar.selectors import networks_planned_by, require_planner
from central.campaigns.selectors import campaign_customers_visible
from central.channels import registry as channels
from central.models import ArbitrationRun, Campaign, Channel, NetworkRules, NetworkRulesEvent, Origin
from central.rules.selectors import rules_snapshot
from local_stores.models import Network
from local_stores.selectors import nodes_in_scope

#: What ``network_rules_update`` may change.
RULES_FIELDS = (
    "priority_order", "cap_total", "cap_days", "channel_caps", "segment_caps", "national_reserved", "local_reserved",
    "quiet_weekdays", "quiet_from", "quiet_until", "one_per_operation", "attribution_days",
    "cost_email", "cost_sms_segment", "cost_print_page", "cost_print_copy", "cost_postage",
)


COST_FIELDS = channels.cost_fields()  # every price a channel of the registry declares


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


def is_count(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _check_caps(rules, add) -> None:
    """The channel caps' and the segment caps' problems, through ``network_rules_check``'s ``add``."""
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
            if not isinstance(cap, dict) or not is_count(cap.get("count"), 1, RULES_MAX_COUNT):
                add("channel_caps", _("%(channel)s: allow between 1 and %(max)s messages.") % {
                    "channel": label, "max": RULES_MAX_COUNT}, channel=channel)
            if not isinstance(cap, dict) or not is_count(cap.get("days"), 1, RULES_MAX_DAYS):
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
            elif not is_count(count, 0, RULES_MAX_COUNT):
                add("segment_caps", _("Segment “%(segment)s”: allow between 0 and %(max)s messages."),
                    segment=segment, max=RULES_MAX_COUNT)


def network_rules_check(rules) -> dict[str, list[ValidationError]]:
    """Every problem of the rules, by field. A channel cap's errors carry ``params={"channel": …}``
    so that a page can put each next to its channel's fields."""
    errors: dict[str, list[ValidationError]] = {}

    def add(field: str, message: str, **params: str) -> None:
        errors.setdefault(field, []).append(ValidationError(message, params=params or None))

    order = rules.priority_order
    if not isinstance(order, list) or len(order) != len(Origin.values) or set(order) != set(Origin.values):
        add("priority_order", _("Put the three origins in order, each once: transactional, local and national."))
    if not is_count(rules.cap_total, 1, RULES_MAX_COUNT):
        add("cap_total", _("Allow between 1 and %(max)s marketing messages.") % {"max": RULES_MAX_COUNT})
    if not is_count(rules.cap_days, 1, RULES_MAX_DAYS):
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
    if not is_count(rules.attribution_days, 1, RULES_MAX_ATTRIBUTION_DAYS):
        add("attribution_days", _("Credit purchases made between 1 and %(max)s days after a send.") % {
            "max": RULES_MAX_ATTRIBUTION_DAYS})
    _check_caps(rules, add)
    reserved_ok = True
    for field in ("national_reserved", "local_reserved"):
        value = getattr(rules, field)
        if not is_count(value, 0, RULES_MAX_COUNT):
            add(field, _("Reserve between 0 and %(max)s slots.") % {"max": RULES_MAX_COUNT})
            reserved_ok = False
        elif is_count(rules.cap_total, 1, RULES_MAX_COUNT) and value > rules.cap_total:
            add(field, _("Only %(cap)s slots exist: you cannot reserve %(reserved)s.") % {
                "cap": rules.cap_total, "reserved": value})
            reserved_ok = False
    if (reserved_ok and is_count(rules.cap_total, 1, RULES_MAX_COUNT)
            and rules.national_reserved + rules.local_reserved > rules.cap_total):
        add("local_reserved", _("Together, the slots reserved for national (%(national)s) and local (%(local)s) "
                                "campaigns exceed the %(cap)s allowed.") % {
            "national": rules.national_reserved, "local": rules.local_reserved, "cap": rules.cap_total})
    days = rules.quiet_weekdays
    if not isinstance(days, list) or not all(is_count(day, 1, 7) for day in days) or len(set(days)) != len(days):
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
    require_planner(updated_by, network)
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
            if name == "quiet_weekdays" and isinstance(value, list) and all(is_count(day, 1, 7) for day in value):
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


def _may_simulate(user, network: Network) -> bool:
    """Head office, and whoever sees customers of the network (what they are shown is scoped)."""
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
    if isinstance(cap, dict) and is_count(cap.get("days"), 1, RULES_MAX_DAYS):
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
    if not campaign_customers_visible(run_by, campaign):
        raise PermissionDenied(_("You do not see the customers of this campaign."))
    starts_on, ends_on = campaign_simulation_window(campaign, rules_for(campaign.network))
    return arbitration_simulate(network=campaign.network, starts_on=starts_on, ends_on=ends_on, run_by=run_by)
