"""Sending: a campaign cut into chunks of deliveries (one Celery task each), a chunk sent batch
by batch, the periodic recovery of lost claims, and the day's scheduled sends."""

from __future__ import annotations

from collections import deque
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, Min, OuterRef, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from central.arbitration import arbitrate, rules_for
from central.campaigns.services import campaign_send_start, send_gate_check
from central.channels import registry as channels
from central.delivery.channels import channel_for
from central.delivery.claims import ChunkResult, claim_batch, dispatch_batch_size, release_claims, send_batch
from central.delivery.quiet_hours import quiet_hours_end
from central.delivery.send_state import (
    campaign_finish_if_done,
    campaign_for_send,
    campaign_send_block,
    campaign_send_check,
)
from central.models import (
    ArbitrationRun,
    Campaign,
    CampaignStatus,
    Candidate,
    Delivery,
    DeliveryStatus,
)
from central.task_queue import task_send, task_send_on_commit
from local_stores.locale import latest_today, network_today
from local_stores.models import Network
from templates_lib import frozen

#: The print task is stopped before its claims could be taken for interrupted ones.
PRINT_TIME_MARGIN_SECONDS = 60


# --- Chunks and campaigns ---------------------------------------------------------------------------


def dispatch_chunk(*, campaign_id: int, first_id: int, last_id: int, now: datetime | None = None) -> ChunkResult:
    """Send the due queued deliveries of ``campaign_id`` whose ids are in [first_id, last_id], in
    batches of ``RELAIS_DISPATCH_BATCH_SIZE``: each batch claimed in one statement, each message
    checked again and sent on its own (a failure committed at once, alone), the batch's sent marks
    committed together (so never inside a transaction). Safe to run twice, and side by side with
    itself. ``now`` is for tests: the clock of quiet hours and retries."""
    clock = (lambda: now) if now is not None else timezone.now
    result = ChunkResult()
    campaign = campaign_for_send(campaign_id)
    if campaign is None or campaign.status != CampaignStatus.SENDING:
        result.stopped = campaign.status if campaign else "missing"
        return result
    rules = rules_for(campaign.network)
    in_range = Delivery.objects.filter(campaign_id=campaign_id, pk__range=(first_id, last_id))
    due = deque(in_range.filter(status=DeliveryStatus.QUEUED).filter(Q(retry_at__isnull=True) | Q(retry_at__lte=clock()))
                .order_by("pk").values_list("pk", flat=True))
    size = dispatch_batch_size()
    channel = None
    try:
        with translation.override(settings.LANGUAGE_CODE):
            while due and not result.stopped:
                quiet_end = quiet_hours_end(rules, clock())
                if quiet_end is not None:
                    result.stopped, result.resume_at = "quiet_hours", quiet_end
                    break
                wanted = [due.popleft() for _ in range(min(size, len(due)))]
                claimed_at = clock()
                claimed = claim_batch(wanted, campaign_id, claimed_at)
                if not claimed:
                    status = Campaign.objects.filter(pk=campaign_id).values_list("status", flat=True).first()
                    if status != CampaignStatus.SENDING:
                        result.stopped = status or "missing"
                        break
                result.skipped += len(wanted) - len(claimed)  # taken by another task, or already done
                if claimed:
                    if channel is None:
                        try:
                            channel = channel_for(campaign)
                        except frozen.SnapshotProblem as problem:
                            campaign_send_block(campaign_id=campaign_id, reason=str(problem))
                            release_claims(campaign_id, claimed, claimed_at, clock())
                            result.stopped = CampaignStatus.PAUSED
                            break
                    due.extendleft(reversed(send_batch(campaign, claimed, claimed_at, channel, rules, clock, result)))
    finally:
        if channel is not None:
            channel.close()
    if not result.stopped:
        result.resume_at = in_range.filter(status=DeliveryStatus.QUEUED, retry_at__isnull=False).aggregate(
            at=Min("retry_at"))["at"]
    campaign_finish_if_done(campaign_id=campaign_id)
    return result


def _task_options(**extra) -> dict:
    queue = settings.RELAIS_DISPATCH_QUEUE
    return {**({"queue": queue} if queue else {}), **extra}


def dispatch_chunk_enqueue(*, campaign_id: int, first_id: int, last_id: int, eta: datetime | None = None) -> None:
    task_send("central.dispatch_chunk", args=[campaign_id, first_id, last_id], **_task_options(eta=eta))


def campaign_dispatch(*, campaign: Campaign) -> int:
    """Queue the sending of a campaign in status *sending*: one task per chunk of its queued
    deliveries (after the current transaction commits), or the print task for a post campaign.
    Returns how many tasks. Safe to run twice: a delivery is claimed by one task only."""
    campaign = Campaign.objects.get(pk=campaign.pk)
    if campaign.status != CampaignStatus.SENDING:
        raise ValidationError(_("Only a campaign that is sending can be dispatched."))
    if not channels.get(campaign.channel).dispatched:  # printed: the mail merge
        limit = max(settings.RELAIS_DISPATCH_STALE_SECONDS - PRINT_TIME_MARGIN_SECONDS, 60)
        task_send_on_commit("central.campaign_print", args=[campaign.pk],
                            **_task_options(time_limit=limit, soft_time_limit=limit - 30))
        return 1
    size = max(1, settings.RELAIS_DISPATCH_CHUNK_SIZE)
    ranges: list[tuple[int, int]] = []
    first = last = None
    ids = (Delivery.objects.filter(campaign_id=campaign.pk, status=DeliveryStatus.QUEUED).order_by("pk")
           .values_list("pk", flat=True))
    for count, delivery_id in enumerate(ids.iterator(chunk_size=5000)):
        if count % size == 0:
            if first is not None:
                ranges.append((first, last))
            first = delivery_id
        last = delivery_id
    if first is not None:
        ranges.append((first, last))
    for first_id, last_id in ranges:
        transaction.on_commit(lambda a=first_id, b=last_id: dispatch_chunk_enqueue(
            campaign_id=campaign.pk, first_id=a, last_id=b))
    if not ranges:
        campaign_finish_if_done(campaign_id=campaign.pk)
    return len(ranges)

def dispatch_recover(*, now: datetime | None = None, stale_after: timedelta | None = None) -> dict[str, int]:
    """The periodic safety net (Celery beat). Deliveries left *sending* longer than a send can last
    (their worker was killed) are queued again; sending campaigns that stopped moving — with due
    deliveries and no claim for as long — are dispatched again (outside their quiet hours); those
    with nothing left are finished. Safe to run at any time: claims keep every message single."""
    now = now or timezone.now()
    stale_after = timedelta(seconds=settings.RELAIS_DISPATCH_STALE_SECONDS) if stale_after is None else stale_after
    cutoff = now - stale_after
    requeued = Delivery.objects.filter(status=DeliveryStatus.SENDING, claimed_at__lte=cutoff).update(
        status=DeliveryStatus.QUEUED, claimed_at=None, retry_at=None,
        last_error="interrupted while sending (worker lost): queued again")
    due = Delivery.objects.filter(campaign_id=OuterRef("pk"), status=DeliveryStatus.QUEUED).filter(
        Q(retry_at__isnull=True) | Q(retry_at__lte=now))
    moving = Delivery.objects.filter(campaign_id=OuterRef("pk"), claimed_at__gt=cutoff)
    chunks = 0
    for campaign in (Campaign.objects.filter(status=CampaignStatus.SENDING).filter(Exists(due))
                     .exclude(Exists(moving)).select_related("network")):
        if channels.get(campaign.channel).dispatched and quiet_hours_end(rules_for(campaign.network), now) is not None:
            continue
        chunks += campaign_dispatch(campaign=campaign)
    remaining = Delivery.objects.filter(campaign_id=OuterRef("pk"),
                                        status__in=[DeliveryStatus.QUEUED, DeliveryStatus.SENDING])
    finished = sum(campaign_finish_if_done(campaign_id=pk) for pk in Campaign.objects.filter(
        status__in=[CampaignStatus.SENDING, CampaignStatus.PAUSED]).exclude(Exists(remaining)).values_list("pk", flat=True))
    return {"requeued": requeued, "chunks": chunks, "finished": finished}

def campaigns_send_due(*, today: date | None = None) -> dict[str, int]:
    """The day's sends: for each network with campaigns scheduled for ``today`` (by default the
    network's own today, in its time zone) or overdue, a real
    arbitration of those campaigns (through the send gate) makes their deliveries; each campaign then
    starts sending and is dispatched. Safe to run twice: a campaign already sending is not
    arbitrated again, and deliveries are unique per (campaign, customer, channel)."""
    done = {"runs": 0, "campaigns": 0, "deliveries": 0}
    scheduled = Campaign.objects.filter(status=CampaignStatus.SCHEDULED, send_date__lte=today or latest_today())
    for network_id in scheduled.order_by().values_list("network_id", flat=True).distinct():
        network = Network.objects.get(pk=network_id)
        network_day = today or network_today(network)  # the network's own day (its time zone)
        due = scheduled.filter(send_date__lte=network_day)
        first = due.filter(network_id=network_id).order_by("send_date").values_list("send_date", flat=True).first()
        if first is None:
            continue  # not yet that day where this network is
        run = arbitrate(network=network, starts_on=first, ends_on=network_day, mode=ArbitrationRun.Mode.COMMIT,
                        gate=send_gate_check)
        done["runs"] += 1
        done["deliveries"] += run.summary.get("deliveries", 0)
        arbitrated = Candidate.objects.filter(run=run).values("campaign_id")
        for campaign in due.filter(network_id=network_id, pk__in=arbitrated):
            with transaction.atomic():
                try:
                    started = campaign_send_start(campaign=campaign)
                except ValidationError:
                    continue  # the gate changed its mind between the run and now: nothing leaves
                with translation.override(settings.LANGUAGE_CODE):
                    problem = campaign_send_check(started)
                if problem:  # the proof's samples, rendered again, differ: stopped before any message
                    campaign_send_block(campaign_id=started.pk, reason=problem)
                    continue
                campaign_dispatch(campaign=started)
            done["campaigns"] += 1
    return done
