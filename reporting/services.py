"""Reporting's writes: the providers' tracking events, and the daily roll-ups built on them."""

from __future__ import annotations

import hashlib
import logging
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, Max, Min, OuterRef, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from central.arbitration import campaign_origin
from central.customers.consent import customer_consent_withdraw, customer_objection_record, suppress_address
from central.models import (
    ArbitrationRun,
    Campaign,
    CampaignStatus,
    Candidate,
    Channel,
    Contact,
    Delivery,
    DeliveryReason,
    DeliveryStatus,
    Origin,
    Purchase,
    Reason,
    TrackingEvent,
)
from central.rules.selectors import network_rules_of
from central.rules.services import RULES_MAX_ATTRIBUTION_DAYS
from local_stores.models import Network, Node, NodeKind
from reporting.models import DailyStat, PressureStat, ProviderEvent, RollupState
from templates_lib.models import TemplateVersion
from templates_lib.services import draft_update, template_create

logger = logging.getLogger(__name__)

#: django-anymail's normalised event types that Relais keeps (the others — queued, sent, inbound,
#: unknown… — say nothing a report counts: Relais records its own "sent").
_KINDS = {
    "delivered": ProviderEvent.Kind.DELIVERED,
    "bounced": ProviderEvent.Kind.BOUNCED,
    "deferred": ProviderEvent.Kind.DEFERRED,
    "rejected": ProviderEvent.Kind.REJECTED,
    "opened": ProviderEvent.Kind.OPENED,
    "clicked": ProviderEvent.Kind.CLICKED,
    "unsubscribed": ProviderEvent.Kind.UNSUBSCRIBED,
    "complained": ProviderEvent.Kind.COMPLAINED,
}


def _event_id(esp_name: str, event) -> str:
    """The provider's id of the event, or (a provider that gives none) a digest of what identifies
    it: the same event posted twice gets the same id."""
    if event.event_id:
        return str(event.event_id)[:200]
    parts = [esp_name, event.event_type, event.message_id or "", event.recipient or "",
             event.timestamp.isoformat() if event.timestamp else "", event.click_url or ""]
    return "sha256:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def provider_event_record(*, esp_name: str, event, network_id: int | None = None) -> ProviderEvent | None:
    """Record an e-mail provider's tracking event (django-anymail's ``AnymailTrackingEvent``) for
    the delivery whose message it is about, once: the same event posted again records nothing.
    A new hard bounce puts the address on the network's suppression list; a spam report withdraws
    the customer's e-mail consent; an unsubscription through the provider is a global objection,
    like Relais's own unsubscribe link. Returns the new event, or None (a repeat, an event type
    Relais does not keep, a message it did not send). ``network_id``: the event came through that
    network's own webhook, and is recorded only for a delivery of that network's."""
    kind = _KINDS.get(event.event_type)
    if kind is None or not event.message_id:
        return None
    deliveries = Delivery.objects.select_related("customer").filter(provider_id=event.message_id, channel=Channel.EMAIL)
    if network_id is not None:
        deliveries = deliveries.filter(campaign__network_id=network_id)
    delivery = deliveries.order_by("pk").first()
    if delivery is None:
        logger.info("provider event %s from %s for an unknown message, ignored", event.event_type, esp_name)
        return None
    detail = " ".join(str(part) for part in (event.reject_reason or "", event.description or "") if part)[:300]
    try:
        with transaction.atomic():
            recorded = ProviderEvent.objects.create(
                delivery=delivery, kind=kind, esp=esp_name[:40], event_id=_event_id(esp_name, event),
                url=(event.click_url or "") if kind == ProviderEvent.Kind.CLICKED else "", detail=detail,
                occurred_at=event.timestamp or timezone.now())
            source = f"{esp_name}: {kind}"
            if kind == ProviderEvent.Kind.BOUNCED:
                suppress_address(customer=delivery.customer, channel=Channel.EMAIL, reason="hard bounce")
            elif kind == ProviderEvent.Kind.COMPLAINED:
                customer_consent_withdraw(customer=delivery.customer, channel=Channel.EMAIL, source=source,
                                          reason=DeliveryReason.NO_CONSENT)
            elif kind == ProviderEvent.Kind.UNSUBSCRIBED:
                customer_objection_record(customer=delivery.customer, source=source)
    except IntegrityError:
        return None  # posted before: recorded once
    return recorded


def provider_events_erase(*, customer) -> int:
    """Remove what the providers' events say of an erased customer: the wording of their bounces
    (which may quote the address) and the links they clicked. The events stay, for the counts."""
    return ProviderEvent.objects.filter(delivery__customer=customer).update(detail="", url="")


# --- Roll-ups --------------------------------------------------------------------------------------

#: What each metric of ``DailyStat`` counts: the deliveries whose first event of these kinds (Relais's
#: own tracking, the provider's) happened that day.
_FIRST_EVENTS = {
    "delivered": ((), (ProviderEvent.Kind.DELIVERED,)),
    "bounced_hard": ((), (ProviderEvent.Kind.BOUNCED,)),
    "bounced_soft": ((), (ProviderEvent.Kind.DEFERRED,)),
    "opened": ((TrackingEvent.Kind.OPEN,), (ProviderEvent.Kind.OPENED,)),
    "clicked": ((TrackingEvent.Kind.CLICK,), (ProviderEvent.Kind.CLICKED,)),
    "unsubscribed": ((TrackingEvent.Kind.UNSUBSCRIBE,), (ProviderEvent.Kind.UNSUBSCRIBED,)),
    "complained": ((), (ProviderEvent.Kind.COMPLAINED,)),
}
#: What the purchases give, on the row of the day a campaign's send began (see ``_revenue``).
REVENUE_METRICS = ("recipients", "prospects", "buyers", "revenue", "holdout", "holdout_buyers", "holdout_revenue", "measured",
                   "measured_buyers", "measured_revenue")
COUNTED = ("audience", "sent", "failed", *_FIRST_EVENTS)
METRICS = (*COUNTED, *REVENUE_METRICS)
#: Events recorded this long before the task's last start are looked at again (a transaction that
#: committed late): recomputing a campaign twice changes nothing.
ROLLUP_MARGIN = timedelta(minutes=10)


def _first_event_days(campaign: Campaign, tracking_kinds, provider_kinds) -> Counter:
    """Per local day, the campaign's deliveries whose first event of those kinds fell on it."""
    first: dict[int, object] = {}
    sources = []
    if tracking_kinds:
        sources.append(TrackingEvent.objects.filter(delivery__campaign=campaign, kind__in=tracking_kinds)
                       .values("delivery_id").annotate(first=Min("at")).values_list("delivery_id", "first"))
    if provider_kinds:
        sources.append(ProviderEvent.objects.filter(delivery__campaign=campaign, kind__in=provider_kinds)
                       .values("delivery_id").annotate(first=Min("occurred_at")).values_list("delivery_id", "first"))
    for source in sources:
        for delivery_id, at in source.order_by():
            if delivery_id not in first or at < first[delivery_id]:
                first[delivery_id] = at
    return Counter(timezone.localdate(at) for at in first.values())


def _region_of(branch: Node | None) -> Node | None:
    if branch is None or branch.parent_id is None:
        return None
    parent = branch.parent
    return parent if parent.kind == NodeKind.REGION else None


def _arbitrated(campaign: Campaign) -> tuple[int | None, int, dict[str, int]]:
    """The campaign's real arbitration (the latest real run of its send date that decided it), its
    candidates and those excluded, by reason."""
    runs = ArbitrationRun.objects.filter(network_id=campaign.network_id, mode=ArbitrationRun.Mode.COMMIT,
                                         starts_on__lte=campaign.send_date, ends_on__gte=campaign.send_date)
    decided = Candidate.objects.filter(run__in=runs, campaign=campaign)
    run_id = decided.order_by("-run_id").values_list("run_id", flat=True).first()
    if run_id is None:
        return None, 0, {}
    counts = dict(decided.filter(run_id=run_id).order_by().values_list("reason").annotate(n=Count("*"))
                  .values_list("reason", "n"))
    return run_id, sum(counts.values()), {reason: n for reason, n in sorted(counts.items()) if reason}


def _revenue(campaign: Campaign, run_id: int | None, first_day: date) -> dict[str, object]:
    """What the campaign's customers bought in the network's attribution days from ``first_day``
    (the day its send began): its recipients (customers sent a message), how many bought and for how
    much; and, if its real arbitration held a control group out, the same of that group — and of
    the recipients again, as ``measured…``, so that sums over campaigns compare like with like."""
    days = network_rules_of(campaign.network).attribution_days
    purchases = Purchase.objects.filter(network_id=campaign.network_id,
                                        purchased_on__range=(first_day, first_day + timedelta(days=days - 1)))

    def bought(customers) -> tuple[int, object]:
        sums = purchases.filter(customer_id__in=customers).aggregate(
            buyers=Count("customer_id", distinct=True), revenue=Sum("amount"))
        return sums["buyers"], sums["revenue"] or Decimal(0)

    recipients = Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.SENT).values("customer_id")
    figures: dict[str, object] = dict.fromkeys(REVENUE_METRICS, 0)
    figures["recipients"] = recipients.count()  # one delivery per customer and channel: a campaign has one channel
    if not figures["recipients"]:
        return figures
    figures["prospects"] = recipients.filter(customer__is_prospect=True).count()
    figures["buyers"], figures["revenue"] = bought(recipients)
    if run_id is not None:
        control = Candidate.objects.filter(run_id=run_id, campaign=campaign, reason=Reason.HOLDOUT).values("customer_id")
        figures["holdout"] = control.count()
        if figures["holdout"]:
            figures["holdout_buyers"], figures["holdout_revenue"] = bought(control)
            figures["measured"], figures["measured_buyers"], figures["measured_revenue"] = (
                figures["recipients"], figures["buyers"], figures["revenue"])
    return figures


def campaign_rollup(*, campaign: Campaign) -> int:
    """Rebuild the daily statistics of one campaign from its deliveries and their events (all its
    days, in one transaction): the same data always gives the same rows. Returns the days written."""
    per_day: dict = defaultdict(Counter)
    deliveries = Delivery.objects.filter(campaign=campaign).order_by()
    for metric, status, field in (("sent", DeliveryStatus.SENT, "sent_at"), ("failed", DeliveryStatus.FAILED, "finished_at")):
        days = (deliveries.filter(status=status, **{f"{field}__isnull": False}).annotate(day=TruncDate(field))
                .values("day").annotate(n=Count("id")).values_list("day", "n"))
        for day, count in days:
            per_day[day][metric] += count
    for metric, (tracking_kinds, provider_kinds) in _FIRST_EVENTS.items():
        for day, count in _first_event_days(campaign, tracking_kinds, provider_kinds).items():
            per_day[day][metric] += count
    run_id, audience, excluded = _arbitrated(campaign)
    branch = campaign.branch
    constants = {"campaign": campaign, "network_id": campaign.network_id, "branch": branch, "region": _region_of(branch),
                 "operation_id": campaign.operation_id, "channel": campaign.channel,
                 "origin": campaign_origin(campaign)}
    # the audience on the day the send began (its send date until then)
    audience_day = min((day for day, counts in per_day.items() if counts["sent"]), default=campaign.send_date)
    if audience:
        per_day[audience_day]["audience"] += audience
    revenue = _revenue(campaign, run_id, audience_day)
    rows = [DailyStat(day=day, **constants, **{metric: counts[metric] for metric in COUNTED},
                      **({"excluded": excluded, **revenue} if day == audience_day else {}))
            for day, counts in sorted(per_day.items()) if any(counts.values())]
    with transaction.atomic():
        DailyStat.objects.filter(campaign=campaign).delete()
        DailyStat.objects.bulk_create(rows)
    return len(rows)


def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def pressure_rollup(*, network_id: int, week: date) -> int:
    """Rebuild the pressure one network's customers received in the week starting ``week`` (a
    Monday): one GROUP BY over that week's contacts (in one transaction). Returns the rows written."""
    per_customer = (Contact.objects.filter(customer__network_id=network_id, contacted_on__range=(week, week + timedelta(6)))
                    .order_by().values("customer_id").annotate(n=Count("id")))
    histogram = Counter(row["n"] for row in per_customer)
    with transaction.atomic():
        PressureStat.objects.filter(network_id=network_id, week=week).delete()
        PressureStat.objects.bulk_create([PressureStat(network_id=network_id, week=week, contacts=contacts,
                                                       customers=customers)
                                          for contacts, customers in sorted(histogram.items())])
    return len(histogram)


def rollups_refresh(*, everything: bool = False, now: datetime | None = None) -> dict[str, int]:
    """The roll-up task (Celery beat, every 10 minutes; safe to run twice or side by side — each
    campaign is rebuilt whole): rebuilds the campaigns whose deliveries or events may have changed
    since its last run — those sending or paused, those changed since, those with a tracking or a
    provider event recorded since —, or every campaign that has deliveries (``everything``)."""
    now = now or timezone.now()
    state, _created = RollupState.objects.get_or_create(pk=1)
    campaigns = Campaign.objects.filter(Exists(Delivery.objects.filter(campaign_id=OuterRef("pk"))))
    if not everything and state.done_until is not None:
        since = state.done_until - ROLLUP_MARGIN
        touched = (Q(status__in=[CampaignStatus.SENDING, CampaignStatus.PAUSED]) | Q(updated_at__gte=since)
                   | Q(pk__in=TrackingEvent.objects.filter(at__gte=since).values("delivery__campaign_id"))
                   | Q(pk__in=ProviderEvent.objects.filter(recorded_at__gte=since).values("delivery__campaign_id"))
                   # a network's new attribution days change its campaigns' revenue
                   | Q(network__rules__updated_at__gte=since))
        # purchases recorded since: the campaigns whose send began in the days that may credit them
        imported = Purchase.objects.filter(recorded_at__gte=since).aggregate(first=Min("purchased_on"),
                                                                             last=Max("purchased_on"))
        if imported["first"] is not None:
            began = imported["first"] - timedelta(days=RULES_MAX_ATTRIBUTION_DAYS)
            touched |= Q(pk__in=DailyStat.objects.filter(day__range=(began, imported["last"])).values("campaign_id"))
        campaigns = campaigns.filter(touched)
    count = days = 0
    for campaign in campaigns.select_related("branch__parent", "operation").order_by("pk").iterator(chunk_size=200):
        days += campaign_rollup(campaign=campaign)
        count += 1
    # the pressure received: this week and the last (contacts are written as messages leave), or
    # every week with contacts
    weeks = {week_of(timezone.localdate(now)), week_of(timezone.localdate(now)) - timedelta(days=7)}
    if everything:
        weeks |= {week_of(day) for day in Contact.objects.order_by().values_list("contacted_on", flat=True).distinct()}
    networks = list(Network.objects.values_list("pk", flat=True))
    pressure = sum(pressure_rollup(network_id=network_id, week=week) for network_id in networks for week in sorted(weeks))
    RollupState.objects.filter(pk=1).update(done_until=now, finished_at=timezone.now(), campaigns=count)
    return {"campaigns": count, "days": days, "pressure_rows": pressure}


# --- Promote to network ------------------------------------------------------------------------------


def campaign_promote(*, campaign: Campaign, promoted_by) -> TemplateVersion:
    """Turn a local campaign's content into a new template of the network, for every branch: its
    template version's content, with the campaign's slot values as the new defaults, in the draft of
    a new template whose description credits the branch and the campaign's author. Head office
    reviews and publishes it, then offers it in an operation or a kit, as any template. Only a
    local campaign that has been sent; only by who manages the network's templates
    (PermissionDenied otherwise)."""
    if campaign_origin(campaign) != Origin.LOCAL:
        raise ValidationError(_("Only a branch's own campaign can be promoted to the network."))
    if campaign.status not in (CampaignStatus.SENT, CampaignStatus.SENDING, CampaignStatus.PAUSED):
        raise ValidationError(_("Only a campaign that has been sent can be promoted."))
    source = campaign.template_version
    author = campaign.created_by.get_full_name() or campaign.created_by.username if campaign.created_by else ""
    credit = _("From the campaign of %(branch)s sent on %(date)s%(author)s (%(reference)s).") % {
        "branch": campaign.branch.name, "date": date_format(campaign.send_date, "SHORT_DATE_FORMAT"),
        "author": _(", written by %(name)s") % {"name": author} if author else "", "reference": campaign.public_id}
    with transaction.atomic():
        template = template_create(network=campaign.network, kind=source.template.kind, created_by=promoted_by,
                                   name=f"{source.template.name} — {campaign.branch.name}", description=credit)
        values = campaign.slot_values or {}
        defaults = [{**slot, **({"default": values[slot["name"]]} if slot.get("name") in values else {})}
                    for slot in source.slots]
        draft = template.versions.get()
        return draft_update(version=draft, edited_by=promoted_by, subject=source.subject, preheader=source.preheader,
                            body=source.body, css=source.css, print_format=source.print_format, slots=defaults)
