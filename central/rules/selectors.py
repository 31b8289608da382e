"""Reads of the network's rules, of the arbitration's runs and simulations, and "why not?" for a
customer — always on behalf of a user."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from central.calendar.selectors import networks_planned_by
from central.campaigns.selectors import campaign_customers_visible, campaigns_visible_to
from central.channels import registry as channels
from central.models import (
    ArbitrationRun,
    Campaign,
    CampaignEvent,
    Candidate,
    Contact,
    Customer,
    NetworkRules,
    NetworkRulesEvent,
    Origin,
    Reason,
)
from local_stores.models import Network
from local_stores.selectors import UserLike, node_in_scope, nodes_in_scope, scope_paths

#: The reasons the pressure rules give (what the clash detection counts as "excluded by pressure").
PRESSURE_REASONS = (Reason.CHANNEL_CAP, Reason.QUOTA, Reason.PRESSURE_CAP)


#: Why a customer matching a campaign's target is not in its audience at all (``campaign_audience``
#: leaves them out: not reachable on the channel, another branch's, where head office's send does
#: not go); every other reason is one of the network's rules applied to the audience.
OUTSIDE_AUDIENCE = frozenset({Reason.OBJECTION, Reason.NO_CONSENT, Reason.NO_ADDRESS, Reason.NOT_OWNER,
                              Reason.NOT_ELIGIBLE, Reason.BRANCH_DECLINED, Reason.BRANCH_VERSION,
                              Reason.REMOVED_BY_BRANCH})


#: Campaign changes after which a simulation no longer describes the campaign.
_CHANGES_THAT_MATTER = ("customised", "target_exclude", "target_include", "target_reset")


def network_rules_of(network: Network) -> NetworkRules:
    """The network's rules, or the defaults (unsaved) while head office has not set any."""
    return NetworkRules.objects.filter(network=network).select_related("updated_by").first() or NetworkRules(
        network=network)


def rules_snapshot(rules: NetworkRules) -> dict[str, object]:
    """The rules as JSON: what the audit records and what a simulation keeps to explain itself."""
    return {
        "priority_order": rules.order, "cap_total": rules.cap_total, "cap_days": rules.cap_days,
        "channel_caps": rules.channel_caps or {}, "segment_caps": rules.segment_caps or {},
        "national_reserved": rules.national_reserved,
        "local_reserved": rules.local_reserved, "quiet_weekdays": list(rules.quiet_weekdays or []),
        "quiet_from": rules.quiet_from.strftime("%H:%M") if rules.quiet_from else None,
        "quiet_until": rules.quiet_until.strftime("%H:%M") if rules.quiet_until else None,
        "one_per_operation": rules.one_per_operation, "attribution_days": rules.attribution_days,
        **{name: str(getattr(rules, name)) for name in ("cost_email", "cost_sms_segment", "cost_print_page",
                                                         "cost_print_copy", "cost_postage")},
    }


def network_rules_get(*, fetched_by: UserLike, slug: str) -> NetworkRules:
    """The rules of a network ``fetched_by`` plans; Http404 for any other (foreign = missing)."""
    network = get_object_or_404(networks_planned_by(fetched_by), slug=slug)
    return network_rules_of(network)


def network_rules_history(*, network: Network) -> QuerySet[NetworkRulesEvent]:
    """The audit trail of a network's rules and suppression list (for its planners)."""
    return network.rules_events.select_related("by").order_by("-at", "-id")


def networks_simulated_by(user: UserLike) -> QuerySet[Network]:
    """Networks whose arbitration ``user`` may simulate: those they plan, and those where they see
    customers (what they are shown of a run is then scoped)."""
    seen = nodes_in_scope(user, perm="view_customers").values("network_id")
    return Network.objects.filter(Q(pk__in=networks_planned_by(user).values("pk")) | Q(pk__in=seen)).distinct()


def simulation_latest(*, network: Network, starts_on: date, ends_on: date) -> ArbitrationRun | None:
    """The latest finished simulation of the network covering [starts_on, ends_on]."""
    return (ArbitrationRun.objects.filter(network=network, mode=ArbitrationRun.Mode.SIMULATION,
                                          finished_at__isnull=False, starts_on__lte=starts_on, ends_on__gte=ends_on)
            .order_by("-started_at", "-id").first())


def campaign_latest_simulation(campaign: Campaign, *, day: date | None = None) -> ArbitrationRun | None:
    """The latest finished simulation that arbitrated ``campaign`` (sending on ``day``, if given)."""
    holds = Candidate.objects.filter(run_id=OuterRef("pk"), campaign_id=campaign.pk)
    runs = ArbitrationRun.objects.filter(network_id=campaign.network_id, mode=ArbitrationRun.Mode.SIMULATION,
                                         finished_at__isnull=False)
    if day is not None:
        runs = runs.filter(starts_on__lte=day, ends_on__gte=day)
        holds = holds.filter(send_date=day)
    return runs.filter(Exists(holds)).order_by("-started_at", "-id").first()


def simulation_candidates(*, fetched_by: UserLike, run: ArbitrationRun) -> QuerySet[Candidate]:
    """The decisions of a run that ``fetched_by`` may count: on campaigns they see, for customers
    they see. (A branch never counts another branch's campaigns nor customers.)"""
    return Candidate.objects.filter(
        run=run, campaign_id__in=campaigns_visible_to(fetched_by).filter(network_id=run.network_id).values("pk"),
        customer__branch__in=nodes_in_scope(fetched_by, perm="view_customers"),
    )


@dataclass
class SimulationCounts:
    """How a set of candidates was decided: how many, how many selected, and the others by reason."""

    candidates: int = 0
    selected: int = 0
    excluded: dict[str, int] | None = None

    @property
    def excluded_total(self) -> int:
        return sum((self.excluded or {}).values())

    @property
    def audience(self) -> int:
        """The candidates in the campaign's audience, as the editor counts it (``campaign_audience``:
        reachable on the channel — consent, no objection, an address —, its own branch's, where a
        national send goes): those the network's rules then decide on."""
        return self.candidates - sum(n for reason, n in (self.excluded or {}).items() if reason in OUTSIDE_AUDIENCE)

    @property
    def rule_reasons(self) -> list[tuple[str, str, int]]:
        """``reasons`` of the audience's customers the network's rules excluded."""
        return [entry for entry in self.reasons if entry[0] not in OUTSIDE_AUDIENCE]

    @property
    def outside_reasons(self) -> list[tuple[str, str, int]]:
        """``reasons`` of the customers who match the target but are not in the audience."""
        return [entry for entry in self.reasons if entry[0] in OUTSIDE_AUDIENCE]

    @property
    def outside_total(self) -> int:
        return self.candidates - self.audience

    @property
    def reasons(self) -> list[tuple[str, str, int]]:
        """(reason, label, count), most frequent first, then in the order of the checks."""
        excluded = self.excluded or {}
        order = list(Reason.values)
        return [(reason, str(Reason(reason).label), excluded[reason])
                for reason in sorted(excluded, key=lambda r: (-excluded[r], order.index(r)))]


def simulation_counts(
    *, fetched_by: UserLike, run: ArbitrationRun, by: str | None = None, campaign_ids=None,
    starts_on: date | None = None, ends_on: date | None = None,
) -> dict[object, SimulationCounts]:
    """The counts of a run by reason, as far as ``fetched_by`` may count them, grouped ``by``
    "campaign" (campaign id), "branch" (the campaign's branch id; None for national campaigns) or
    not at all (one entry, key None). One GROUP BY query."""
    candidates = simulation_candidates(fetched_by=fetched_by, run=run)
    if campaign_ids is not None:
        candidates = candidates.filter(campaign_id__in=list(campaign_ids))
    if starts_on is not None:
        candidates = candidates.filter(send_date__gte=starts_on)
    if ends_on is not None:
        candidates = candidates.filter(send_date__lte=ends_on)
    key = {"campaign": "campaign_id", "branch": "campaign__branch_id", None: None}[by]
    columns = [key, "selected", "reason"] if key else ["selected", "reason"]
    counts: dict[object, SimulationCounts] = {}
    for row in candidates.order_by().values(*columns).annotate(n=Count("*")):
        entry = counts.setdefault(row[key] if key else None, SimulationCounts(excluded={}))
        entry.candidates += row["n"]
        if row["selected"]:
            entry.selected += row["n"]
        elif row["reason"]:
            entry.excluded[row["reason"]] = entry.excluded.get(row["reason"], 0) + row["n"]
    return counts


def simulation_campaigns(
    *, fetched_by: UserLike, run: ArbitrationRun, starts_on: date | None = None, ends_on: date | None = None,
) -> QuerySet[Campaign]:
    """The campaigns of a run ``fetched_by`` sees and may count (sending, in the run, between
    ``starts_on`` and ``ends_on``), by send date."""
    candidates = simulation_candidates(fetched_by=fetched_by, run=run)
    if starts_on is not None:
        candidates = candidates.filter(send_date__gte=starts_on)
    if ends_on is not None:
        candidates = candidates.filter(send_date__lte=ends_on)
    return (campaigns_visible_to(fetched_by).filter(pk__in=candidates.values("campaign_id"))
            .order_by("send_date", F("branch__name").asc(nulls_first=True), "id"))


def campaign_name(campaign: Campaign) -> str:
    return campaign.operation.name if campaign.operation_id else campaign.template_version.template.name


def campaign_reference(user: UserLike, campaign: Campaign) -> dict[str, object]:
    """How another campaign (one that took a customer's slot) is named to ``user``: by name when
    they see it or when it is national ("your campaign" when they act for its very branch);
    another branch's local campaign only as "another campaign", with neither name, date nor
    branch."""
    day = campaign.send_date.strftime("%d/%m")
    visible = campaigns_visible_to(user).filter(pk=campaign.pk).exists()
    name = campaign_name(campaign)
    if campaign.branch_id is None:
        label = _("“%(name)s” (national campaign, %(date)s)") % {"name": name, "date": day}
    elif visible and campaign.branch.path in scope_paths(user, perm="change_node"):
        label = _("“%(name)s” (your campaign, %(date)s)") % {"name": name, "date": day}
    elif visible:
        label = _("“%(name)s” (campaign of %(branch)s, %(date)s)") % {
            "name": name, "branch": campaign.branch.name, "date": day}
    else:
        return {"id": None, "name": None, "label": _("another campaign")}
    return {"id": campaign.public_id if visible else None, "name": name, "label": label}


@dataclass
class CampaignSimulation:
    """What the campaign page says of the latest simulation covering a campaign."""

    run: ArbitrationRun | None
    counts: SimulationCounts
    lost_to: list[tuple[dict, int]]
    stale: bool = False


def campaign_simulation_summary(*, fetched_by: UserLike, campaign: Campaign) -> CampaignSimulation | None:
    """The latest simulation of a campaign: how many of its customers will receive it, why the
    others will not, to which campaigns they were lost, and whether the campaign changed since.
    None for who does not see the campaign's customers (no count for them)."""
    if not campaign_customers_visible(fetched_by, campaign):
        return None
    run = campaign_latest_simulation(campaign)
    if run is None:
        return CampaignSimulation(run=None, counts=SimulationCounts(excluded={}), lost_to=[])
    counts = simulation_counts(fetched_by=fetched_by, run=run, by="campaign", campaign_ids=[campaign.pk])
    lost = (simulation_candidates(fetched_by=fetched_by, run=run)
            .filter(campaign_id=campaign.pk, selected=False, lost_to__isnull=False).exclude(lost_to_id=campaign.pk)
            .order_by().values("lost_to_id").annotate(n=Count("*")))
    lost_counts = {row["lost_to_id"]: row["n"] for row in lost}
    others = Campaign.objects.filter(pk__in=list(lost_counts)).select_related(
        "operation", "branch", "template_version__template")
    lost_to = sorted(((campaign_reference(fetched_by, other), lost_counts[other.pk]) for other in others),
                     key=lambda pair: -pair[1])
    stale = (Candidate.objects.filter(run=run, campaign_id=campaign.pk).exclude(send_date=campaign.send_date).exists()
             or CampaignEvent.objects.filter(campaign=campaign, action__in=_CHANGES_THAT_MATTER,
                                             at__gt=run.started_at).exists())
    return CampaignSimulation(run=run, counts=counts.get(campaign.pk, SimulationCounts(excluded={})),
                              lost_to=lost_to, stale=stale)


def campaign_pressure_exclusions(*, fetched_by: UserLike, campaign: Campaign, day: date) -> int:
    """How many of the campaign's customers (those ``fetched_by`` sees) the pressure rules are
    expected to exclude if it sends on ``day``: from the latest simulation that arbitrated it on
    that very day; 0 when none did."""
    run = campaign_latest_simulation(campaign, day=day)
    if run is None:
        return 0
    return (simulation_candidates(fetched_by=fetched_by, run=run)
            .filter(campaign_id=campaign.pk, selected=False, reason__in=PRESSURE_REASONS).count())


@dataclass
class WhyLine:
    """One campaign of a run, for one customer, in plain words."""

    campaign: dict
    channel: str
    send_date: date
    selected: bool
    reason: str
    lost_to: dict | None
    text: str


@dataclass
class WhyNot:
    run: ArbitrationRun | None
    lines: list[WhyLine]


def customer_latest_run(customer: Customer) -> ArbitrationRun | None:
    """The latest finished run (simulation or real) that decided anything for ``customer``."""
    holds = Candidate.objects.filter(run_id=OuterRef("pk"), customer_id=customer.pk)
    return (ArbitrationRun.objects.filter(network_id=customer.network_id, finished_at__isnull=False)
            .filter(Exists(holds)).order_by("-started_at", "-id").first())


def _channel_label(channel: str) -> str:
    return str(channels.get(channel).label) if channel in channels.codes() else channel


class _WhyNotExplainer:
    """What ``customer_why_not`` says of each candidate of one run for one customer: the run's
    rules, the customer's contacts before it and the slots the run gave them, read once."""

    def __init__(self, *, fetched_by: UserLike, customer: Customer, run: ArbitrationRun) -> None:
        self.fetched_by, self.customer, self.run = fetched_by, customer, run
        planner = networks_planned_by(fetched_by).filter(pk=customer.network_id).exists()
        rules = (run.summary or {}).get("rules") or rules_snapshot(network_rules_of(customer.network))
        self.rules = rules
        self.candidates = list(
            Candidate.objects.filter(run=run, customer=customer)
            .select_related("campaign__operation", "campaign__branch", "campaign__template_version__template",
                            "lost_to__operation", "lost_to__branch", "lost_to__template_version__template",
                            "operation")
            .order_by("send_date", "priority", "scheduled_at", "campaign_id"))
        longest = max([rules["cap_days"], *(int(cap.get("days", 0)) for cap in rules["channel_caps"].values())])
        self.contacts = list(Contact.objects.filter(customer=customer, contacted_on__lt=run.starts_on,
                                                    contacted_on__gte=run.starts_on - timedelta(days=longest))
                             .values("channel", "origin", "contacted_on"))
        # those the rules give a slot to (a customer held out in a control group has taken theirs)
        self.chosen = [c for c in self.candidates if c.selected or c.reason == Reason.HOLDOUT]
        # the customer's own cap, if the network gives their segment one (rules kept with the run)
        self.segment_caps = rules.get("segment_caps") or {}
        self.cap_total = self.segment_caps.get(customer.segment, rules["cap_total"])
        # head office's national sends and the customer's branch: "your branch" to those who act for it
        self.branch = customer.branch
        self.yours = (self.branch is not None and not planner
                      and node_in_scope(fetched_by, self.branch, perm="change_node"))
        self.references: dict[int, dict] = {}

    def past(self, days: int, **match: str) -> int:
        since = self.run.starts_on - timedelta(days=days)
        return sum(1 for contact in self.contacts if contact["contacted_on"] >= since
                   and all(contact[key] == value for key, value in match.items()))

    def planned(self, **match: str) -> int:
        return sum(1 for c in self.chosen if c.origin != Origin.TRANSACTIONAL
                   and all(getattr(c, key) == value for key, value in match.items()))

    def explain(self, candidate: Candidate) -> str:
        reason, channel, customer = candidate.reason, candidate.channel, self.customer
        if reason == Reason.OBJECTION:
            if customer.objected_at:
                return _("the customer objected to all marketing on %(date)s") % {
                    "date": timezone.localtime(customer.objected_at).strftime("%d/%m/%Y")}
            return _("the customer had objected to all marketing")
        if reason == Reason.NO_CONSENT:
            return _("no consent for %(channel)s messages") % {"channel": _channel_label(channel)}
        if reason == Reason.NO_ADDRESS:
            return str(channels.get(channel).why_not)
        if reason == Reason.SUPPRESSED:
            return _("the address is on the network's suppression list")
        if reason == Reason.NOT_OWNER:
            return _("the customer belongs to another branch than the campaign's")
        if reason == Reason.QUIET_PERIOD:
            return _("%(date)s is a %(weekday)s, a quiet day of the network") % {
                "date": candidate.send_date.strftime("%d/%m"), "weekday": date_format(candidate.send_date, "l")}
        if reason == Reason.ALREADY_CONTACTED:
            name = candidate.operation.name if candidate.operation_id else ""
            return _("already contacted for “%(operation)s”") % {"operation": name}
        if reason == Reason.SAME_OPERATION:
            return _("the network sends one message per customer per operation")
        if reason == Reason.DUPLICATE_ADDRESS:
            return _("another customer of this campaign has the same address and receives it")
        if reason in PRESSURE_REASONS:
            return self.pressure_words(candidate)
        if reason in (Reason.NOT_ELIGIBLE, Reason.BRANCH_DECLINED, Reason.BRANCH_VERSION, Reason.REMOVED_BY_BRANCH):
            return self.branch_words(candidate)
        if reason == Reason.HOLDOUT:
            operation = candidate.campaign.operation
            return _("drawn at random for the control group (%(share)s %% of the customers), who receive "
                     "nothing so that the campaign's effect on purchases can be measured") % {
                "share": operation.holdout_percent if operation else 0}
        return str(Reason(reason).label) if reason in Reason.values else _("not decided")

    def pressure_words(self, candidate: Candidate) -> str:
        """A channel cap, a quota or the pressure cap, with the numbers of the rule."""
        reason, channel, rules, cap_total = candidate.reason, candidate.channel, self.rules, self.cap_total
        if reason == Reason.CHANNEL_CAP:
            cap = rules["channel_caps"].get(channel, {})
            days = int(cap.get("days", rules["cap_days"]))
            count = self.past(days, channel=channel) + sum(1 for c in self.chosen if c.channel == channel)
            return ngettext(
                "already %(count)s %(channel)s message in the last %(days)s days — the network allows %(allowed)s",
                "already %(count)s %(channel)s messages in the last %(days)s days — the network allows %(allowed)s",
                count) % {"count": count, "channel": _channel_label(channel), "days": days,
                          "allowed": cap.get("count", 0)}
        if reason == Reason.QUOTA:
            other = Origin.NATIONAL if candidate.origin == Origin.LOCAL else Origin.LOCAL
            reserved = rules["national_reserved"] if other == Origin.NATIONAL else rules["local_reserved"]
            count = self.past(rules["cap_days"], origin=candidate.origin) + self.planned(origin=candidate.origin)
            if candidate.origin == Origin.LOCAL:
                text = ngettext(
                    "already %(count)s local message in the last %(days)s days — %(reserved)s of the network's "
                    "%(cap)s slots are kept for national campaigns",
                    "already %(count)s local messages in the last %(days)s days — %(reserved)s of the network's "
                    "%(cap)s slots are kept for national campaigns", count)
            else:
                text = ngettext(
                    "already %(count)s national message in the last %(days)s days — %(reserved)s of the network's "
                    "%(cap)s slots are kept for local campaigns",
                    "already %(count)s national messages in the last %(days)s days — %(reserved)s of the network's "
                    "%(cap)s slots are kept for local campaigns", count)
            return text % {"count": count, "days": rules["cap_days"], "reserved": reserved, "cap": cap_total}
        count = self.past(rules["cap_days"]) + self.planned()
        if self.customer.segment in self.segment_caps:
            return ngettext(
                "already %(count)s marketing message in the last %(days)s days — the network allows "
                "%(allowed)s to the segment “%(segment)s”",
                "already %(count)s marketing messages in the last %(days)s days — the network allows "
                "%(allowed)s to the segment “%(segment)s”",
                count) % {"count": count, "days": rules["cap_days"], "allowed": cap_total,
                          "segment": self.customer.segment}
        return ngettext(
            "already %(count)s marketing message in the last %(days)s days — the network allows %(allowed)s",
            "already %(count)s marketing messages in the last %(days)s days — the network allows %(allowed)s",
            count) % {"count": count, "days": rules["cap_days"], "allowed": cap_total}

    def branch_words(self, candidate: Candidate) -> str:
        branch, yours = self.branch, self.yours
        words = {"operation": candidate.campaign.operation.name if candidate.campaign.operation_id else "",
                 "branch": branch.name if branch else ""}
        if candidate.reason == Reason.NOT_ELIGIBLE:
            return (_("“%(operation)s” is not run in your branch (a pilot or an operation for some branches)") if yours
                    else _("“%(operation)s” is not run in %(branch)s (a pilot or an operation for some branches)")
                    ) % words
        if candidate.reason == Reason.BRANCH_DECLINED:
            return (_("your branch declined “%(operation)s”") if yours
                    else _("%(branch)s declined “%(operation)s”")) % words
        if candidate.reason == Reason.BRANCH_VERSION:
            return (_("your branch's own version of “%(operation)s” is sent instead") if yours
                    else _("%(branch)s's own version of “%(operation)s” is sent instead")) % words
        return (_("your branch removed the customer from head office's target of “%(operation)s”") if yours
                else _("%(branch)s removed the customer from head office's target of “%(operation)s”")) % words

    def reference(self, campaign: Campaign) -> dict:
        if campaign.pk not in self.references:
            self.references[campaign.pk] = campaign_reference(self.fetched_by, campaign)
        return self.references[campaign.pk]

    def line(self, candidate: Candidate) -> WhyLine:
        this = self.reference(candidate.campaign)
        what = f"“{this['name']}”" if this["name"] else this["label"]
        details = {"campaign": what, "channel": _channel_label(candidate.channel),
                   "date": candidate.send_date.strftime("%d/%m")}
        lost_to = None
        if candidate.selected:
            text = _("Will receive %(campaign)s (%(channel)s, %(date)s).") % details
        else:
            text = _("Will not receive %(campaign)s (%(channel)s, %(date)s): %(why)s.") % {
                **details, "why": self.explain(candidate)}
            if candidate.lost_to_id and candidate.lost_to_id != candidate.campaign_id:
                lost_to = self.reference(candidate.lost_to)
                text += " " + _("Lost to %(campaign)s.") % {"campaign": lost_to["label"]}
        return WhyLine(campaign=this, channel=candidate.channel, send_date=candidate.send_date,
                       selected=bool(candidate.selected), reason=candidate.reason, lost_to=lost_to, text=text)


def customer_why_not(*, fetched_by: UserLike, customer: Customer) -> WhyNot:
    """For a customer fetched through ``customer_get``: each campaign of the latest run that
    concerned them, and in plain words whether they will receive it and, if not, why — with the
    numbers of the rule that excluded them and the campaign that took their slot (named as far as
    ``fetched_by`` may know it)."""
    run = customer_latest_run(customer)
    if run is None:
        return WhyNot(run=None, lines=[])
    explainer = _WhyNotExplainer(fetched_by=fetched_by, customer=customer, run=run)
    return WhyNot(run=run, lines=[explainer.line(candidate) for candidate in explainer.candidates])
