"""Dispatch against a real SMTP server on loopback (aiosmtpd), a real HTTP server standing for the
SMS provider, and real PDFs: one message per selected recipient with its headers and content,
nothing sent twice (a second dispatch, a redelivered chunk, pause and resume, a lost worker's
claims recovered), poison recipients and hard bounces failing alone, 4xx retried with back-off,
consent checked again before each message, quiet hours, rate limits, SMS and print. Campaigns
reach *sending* the real way (proof, approvals, schedule, committed arbitration, send start).
Runs on SQLite and PostgreSQL; tasks in-process (tests/central/delivery/test_dispatch_worker.py: a real worker)."""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
import time
import uuid
from datetime import datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from pypdf import PdfReader

from central.arbitration import rules_for
from central.customers import consent
from central.delivery import (
    channels,
    claims,
    content,
    control,
    errors,
    mail_merge,
    quiet_hours,
    rate_limit,
    sending,
)
from central.delivery import sms_backends as sms
from central.delivery.links import click_target
from central.models import (
    Campaign,
    CampaignEvent,
    CampaignStatus,
    ConsentEvent,
    ConsentStatus,
    Contact,
    Customer,
    Delivery,
    DeliveryReason,
    DeliveryStatus,
    Origin,
    PrintFile,
    Suppression,
)
from central.tasks import dispatch_chunk_task
from templates_lib.rendering import sms_count
from tests.dispatching import (
    HookedBackend,
    add_customers,
    email_campaign,
    email_version,
    free_port,
    print_version,
    to_sending,
)
from tests.planning import joined_campaign

pytestmark = pytest.mark.django_db
TARGET = "https://shop.example.test/offre?x=1&y=2"


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """Run a service and the tasks it queues after its commit (in-process), as in production."""
    def call(service, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return service(**kwargs)
    return call


@pytest.fixture
def hooks(settings, sink):
    """Act between two messages of a chunk: each hook runs after a message left."""
    settings.EMAIL_BACKEND = "tests.dispatching.HookedBackend"
    HookedBackend.after_send = []
    yield HookedBackend.after_send
    HookedBackend.after_send = []


def statuses(campaign):
    return dict(Delivery.objects.filter(campaign=campaign).values_list("customer__email", "status"))


def ranges(campaign, size):
    ids = list(Delivery.objects.filter(campaign=campaign).order_by("pk").values_list("pk", flat=True))
    return [(ids[i], ids[min(i + size, len(ids)) - 1]) for i in range(0, len(ids), size)]


def after(count: int, action):
    """A hook that runs ``action`` once, after the ``count``-th message."""
    seen = [0]

    def hook(backend):
        seen[0] += 1
        if seen[0] == count:
            action(backend) if action.__code__.co_argcount else action()
    return hook


# --- E-mail: one message each, headers and content ------------------------------------------------


def test_every_selected_recipient_gets_exactly_one_message_with_the_right_headers_and_content(
        world, settings, sink, run):
    settings.RELAIS_DISPATCH_CHUNK_SIZE = 2
    campaign = email_campaign(world, 5)
    deliveries = {d.customer.email: d for d in Delivery.objects.filter(campaign=campaign).select_related("customer")}
    assert len(deliveries) == 6  # five new customers and Anne
    assert run(sending.campaign_dispatch, campaign=campaign) == 3
    assert sink.handler.addresses() == sorted(deliveries)
    assert sink.handler.connections == 3  # one SMTP connection per chunk
    for received in sink.handler.received:
        delivery = deliveries[received.to]
        token, customer = delivery.token, delivery.customer
        message = received.message
        # (a long header is folded: "List-Unsubscribe:" CRLF SP "<…>"; receivers unfold it)
        assert message["List-Unsubscribe"].strip() == f"<https://relais.example.test/u/{token}/>"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["Message-ID"] == f"<{token}@relais.localhost>"
        assert message["Subject"] == "Foire aux vins chez Lille"
        assert message["From"] == "Lille <no-reply@relais.localhost>"
        assert customer.email in message["To"] and customer.last_name in message["To"]
        assert f"Bonjour {customer.first_name} {customer.last_name}," in received.text
        assert "Lille : -20 % sur les bordeaux" in received.text
        html = received.html
        assert f"Bonjour {customer.first_name} {customer.last_name}," in html
        assert f'<img src="https://relais.example.test/t/o/{token}.gif"' in html
        assert f'href="https://relais.example.test/u/{token}/"' in html  # the unsubscribe link stays direct
        links = re.findall(r'href="(https://relais\.example\.test/t/c/[^"]+)"', html)
        assert len(links) == 1 and 'href="https://shop.example.test' not in html
        parts = urlsplit(links[0].replace("&amp;", "&"))
        assert parts.path == f"/t/c/{token}/"
        assert click_target(token, parse_qs(parts.query)["u"][0]) == TARGET
    sent = Delivery.objects.filter(campaign=campaign)
    assert {d.status for d in sent} == {DeliveryStatus.SENT}
    assert all(d.provider_id == f"<{d.token}@relais.localhost>" and d.sent_at and d.attempts == 1 for d in sent)
    contacts = Contact.objects.filter(channel="email")
    assert contacts.count() == 6
    assert {(c.origin, c.operation_id) for c in contacts} == {(Origin.NATIONAL, campaign.operation_id)}
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert CampaignEvent.objects.get(campaign=campaign, action="sent").changes == {"sent": 6}
    progress = control.campaign_send_progress(campaign)
    assert (progress["sent"], progress["total"], progress["failed"], progress["eta"]) == (6, 6, 0, None)


def test_dispatching_twice_or_a_redelivered_chunk_sends_nothing_more(world, settings, sink, run,
                                                                      django_capture_on_commit_callbacks):
    settings.RELAIS_DISPATCH_CHUNK_SIZE = 4
    campaign = email_campaign(world, 5)
    with django_capture_on_commit_callbacks(execute=True):  # two dispatches queued before any task ran
        sending.campaign_dispatch(campaign=campaign)
        sending.campaign_dispatch(campaign=campaign)
    assert len(sink.handler.received) == 6 and len(set(sink.handler.addresses())) == 6
    for first, last in ranges(campaign, 4):  # the broker delivers the chunks again
        assert dispatch_chunk_task.apply(args=[campaign.pk, first, last]).get()["sent"] == 0
    assert len(sink.handler.received) == 6
    with pytest.raises(ValidationError, match="sending"):  # the campaign is sent: nothing to dispatch
        sending.campaign_dispatch(campaign=campaign)
    assert Contact.objects.count() == 6


def test_a_message_is_claimed_by_one_task_only(world, sink):
    campaign = email_campaign(world, 1)
    delivery = Delivery.objects.filter(campaign=campaign).first()
    now = timezone.now()
    assert claims._claim(delivery.pk, campaign.pk, now) is True
    assert claims._claim(delivery.pk, campaign.pk, now) is False
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.claimed_at) == (DeliveryStatus.SENDING, 1, now)


# --- Batches: claimed together, checked and sent one by one, marked sent together ------------------


def sent_count(campaign) -> int:
    return Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.SENT).count()


def test_at_most_a_batch_is_in_flight_and_each_batch_is_marked_sent_at_once(world, settings, hooks, sink, run):
    """The in-flight bound: messages the provider has, whose *sent* is not committed yet, are at most
    a batch (``RELAIS_DISPATCH_BATCH_SIZE``): what a killed worker could send twice."""
    settings.RELAIS_DISPATCH_BATCH_SIZE = 3
    campaign = email_campaign(world, 7)  # 8 messages: batches of 3, 3 and 2
    seen = []

    def look(_backend):
        in_flight = len(sink.handler.received) - sent_count(campaign)
        claimed = Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.SENDING).count()
        seen.append((in_flight, claimed))
    hooks.append(look)
    run(sending.campaign_dispatch, campaign=campaign)
    assert [in_flight for in_flight, _claimed in seen] == [1, 2, 3, 1, 2, 3, 1, 2]
    assert max(claimed for _in_flight, claimed in seen) <= 3
    assert sent_count(campaign) == 8 and Contact.objects.count() == 8
    assert sorted(sink.handler.addresses()) == sorted(set(sink.handler.addresses()))


def test_a_poison_recipient_fails_alone_in_its_batch_and_the_others_are_sent_once(world, settings, sink, run):
    settings.RELAIS_DISPATCH_BATCH_SIZE = 3
    campaign = joined_campaign(world, version=email_version(world), reachable=0)
    add_customers(world, 2)
    add_customers(world, 1, prefix="poison", email="poison@example.test\r\nBcc: everyone@example.test")
    add_customers(world, 2, prefix="d")
    campaign = to_sending(world, campaign)
    run(sending.campaign_dispatch, campaign=campaign)
    poison = Delivery.objects.get(campaign=campaign, customer__last_name="Poison000")
    assert (poison.status, poison.reason, poison.attempts) == (DeliveryStatus.FAILED, DeliveryReason.ERROR, 1)
    assert "ValueError" in poison.last_error
    expected = ["anne.nord@example.test", "c0@example.test", "c1@example.test", "d0@example.test", "d1@example.test"]
    assert sorted(sink.handler.addresses()) == expected  # each once, whichever batch the poison shared
    assert sent_count(campaign) == 5 and Contact.objects.count() == 5
    for first, last in ranges(campaign, 10):  # the chunk again (a redelivery): nothing more
        again = sending.dispatch_chunk(campaign_id=campaign.pk, first_id=first, last_id=last)
        assert (again.sent, again.failed) == (0, 0)
    assert len(sink.handler.received) == 5 and Contact.objects.count() == 5
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT


def test_consent_withdrawn_between_the_claim_and_the_send_is_honoured(world, settings, hooks, sink, run):
    """The whole campaign is one batch, claimed before its first message leaves; a recipient further
    down unsubscribes (the one-click POST) while the first message is being sent: their claimed
    message is cancelled, not sent."""
    settings.RELAIS_DISPATCH_BATCH_SIZE = 50
    campaign = email_campaign(world, 4)
    last = Delivery.objects.filter(campaign=campaign).select_related("customer").order_by("pk").last()
    when = []

    def unsubscribe():
        when.append(Delivery.objects.get(pk=last.pk).status)
        from django.test import Client

        response = Client(enforce_csrf_checks=True).post(f"/u/{last.token}/", "List-Unsubscribe=One-Click",
                                                         content_type="application/x-www-form-urlencoded")
        assert response.status_code == 200
    hooks.append(after(1, unsubscribe))
    run(sending.campaign_dispatch, campaign=campaign)
    assert when == [DeliveryStatus.SENDING]  # claimed with its batch before the unsubscription
    last.refresh_from_db()
    assert (last.status, last.reason) == (DeliveryStatus.CANCELLED, DeliveryReason.OBJECTION)
    assert sink.handler.count(last.customer.email) == 0 and len(sink.handler.received) == 4
    assert sent_count(campaign) == 4 and Contact.objects.count() == 4


def test_a_chunk_run_twice_side_by_side_sends_each_message_once(world, settings, hooks, sink):
    """A redelivered chunk task running while the first still holds its batch: the second finds the
    claimed messages taken and sends the rest; the first then finds those sent. Nothing twice."""
    settings.RELAIS_DISPATCH_BATCH_SIZE = 2
    campaign = email_campaign(world, 5)
    (first, last), = ranges(campaign, 10)
    second = []
    hooks.append(after(1, lambda: second.append(
        sending.dispatch_chunk(campaign_id=campaign.pk, first_id=first, last_id=last))))
    result = sending.dispatch_chunk(campaign_id=campaign.pk, first_id=first, last_id=last)
    (inner,) = second
    assert (inner.sent, inner.skipped) == (4, 0)  # the first task's batch (2 messages) was claimed
    assert (result.sent, result.skipped) == (2, 4)
    addresses = sink.handler.addresses()
    assert len(addresses) == 6 and len(set(addresses)) == 6
    assert Contact.objects.count() == 6
    assert set(Delivery.objects.filter(campaign=campaign).values_list("attempts", flat=True)) == {1}
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT


def test_pausing_in_the_middle_of_a_batch_puts_its_claimed_messages_back_as_they_were(
        world, settings, hooks, sink, run):
    settings.RELAIS_DISPATCH_BATCH_SIZE = 50
    campaign = email_campaign(world, 5)
    manager = world.users["branch_manager"]
    hooks.append(after(2, lambda: control.campaign_send_pause(campaign=campaign, paused_by=manager)))
    run(sending.campaign_dispatch, campaign=campaign)
    rest = Delivery.objects.filter(campaign=campaign).exclude(status=DeliveryStatus.SENT)
    assert len(sink.handler.received) == 2 and sent_count(campaign) == 2
    assert {(d.status, d.attempts, d.claimed_at) for d in rest} == {(DeliveryStatus.QUEUED, 0, None)}
    run(control.campaign_send_resume, campaign=campaign, resumed_by=manager)
    addresses = sink.handler.addresses()
    assert len(addresses) == 6 and len(set(addresses)) == 6
    assert set(Delivery.objects.filter(campaign=campaign).values_list("attempts", flat=True)) == {1}


def test_a_worker_lost_in_the_middle_of_a_batch_sends_again_only_what_the_provider_had(world, settings, sink, run):
    """A worker claimed a batch of 4, handed 2 to the provider, and died before committing them:
    after recovery the 2 go twice (the in-flight bound), the other 2 once, the rest once."""
    settings.RELAIS_DISPATCH_BATCH_SIZE = 4
    campaign = email_campaign(world, 7)
    ids = list(Delivery.objects.filter(campaign=campaign).order_by("pk").values_list("pk", flat=True))
    lost = timezone.now() - timedelta(minutes=20)
    assert claims.claim_batch(ids[:4], campaign.pk, lost) == ids[:4]
    assert claims.claim_batch(ids[:4], campaign.pk, timezone.now()) == []  # taken: nobody else gets them
    channel = channels.EmailChannel(campaign)
    accepted = list(Delivery.objects.filter(pk__in=ids[:2]).select_related("customer"))
    for delivery in accepted:
        channel.send(delivery)
    channel.close()
    outcome = run(sending.dispatch_recover)
    assert outcome["requeued"] == 4
    counts = {address: sink.handler.count(address) for address in statuses(campaign)}
    twice = {address for address, count in counts.items() if count == 2}
    assert twice == {delivery.customer.email for delivery in accepted}
    assert set(counts.values()) == {1, 2}
    assert set(statuses(campaign).values()) == {DeliveryStatus.SENT} and Contact.objects.count() == 8
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT


def test_an_error_in_the_middle_of_a_batch_keeps_what_was_sent_and_releases_the_rest(world, settings, sink, run,
                                                                                     monkeypatch):
    """Not the provider failing (that is one message's failure) but the chunk itself (the database
    gone): what the provider accepted is still committed *sent*; the message being handled keeps its
    claim (a recovery takes it back, counting the attempt); the batch's others are queued again."""
    settings.RELAIS_DISPATCH_BATCH_SIZE = 50
    campaign = email_campaign(world, 4)
    (first, last), = ranges(campaign, 10)
    original, calls = claims._recheck_row, []

    def database_gone_at_the_third(channel, params):
        calls.append(params)
        if len(calls) == 3:
            raise claims.DatabaseError("server closed the connection unexpectedly")
        return original(channel, params)

    monkeypatch.setattr(claims, "_recheck_row", database_gone_at_the_third)
    with pytest.raises(claims.DatabaseError):
        sending.dispatch_chunk(campaign_id=campaign.pk, first_id=first, last_id=last)
    rows = list(Delivery.objects.filter(campaign=campaign).order_by("pk").values_list("status", "attempts"))
    assert rows == [(DeliveryStatus.SENT, 1), (DeliveryStatus.SENT, 1), (DeliveryStatus.SENDING, 1),
                    (DeliveryStatus.QUEUED, 0), (DeliveryStatus.QUEUED, 0)]
    assert len(sink.handler.received) == 2 and Contact.objects.count() == 2
    monkeypatch.setattr(claims, "_recheck_row", original)
    run(sending.dispatch_recover, stale_after=timedelta(0))
    addresses = sink.handler.addresses()
    assert len(addresses) == 5 and len(set(addresses)) == 5
    assert sorted(Delivery.objects.filter(campaign=campaign).values_list("attempts", flat=True)) == [1, 1, 1, 1, 2]
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT


@pytest.mark.django_db(transaction=True)
def test_the_recheck_falls_back_to_a_plain_query_where_statements_cannot_be_prepared(transactional_world,
                                                                                    monkeypatch):
    """On PostgreSQL the recheck is a prepared statement (outside transactions, as a chunk runs); a
    connection that cannot keep one (a pooler in transaction mode) gets the plain query, same answer."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("prepared statements: PostgreSQL only")
    import psycopg

    campaign = email_campaign(transactional_world, 1)
    delivery = Delivery.objects.filter(campaign=campaign).select_related("customer").first()
    now = timezone.now()
    assert claims._claim(delivery.pk, campaign.pk, now)
    assert claims._recheck(delivery, now) == ""  # prepared
    original = psycopg.Cursor.execute

    def no_prepared_statements(self, query, params=None, *, prepare=None, binary=None):
        if prepare:
            raise psycopg.errors.InvalidSqlStatementName("prepared statement \"_pg3_0\" does not exist")
        return original(self, query, params, prepare=prepare, binary=binary)

    monkeypatch.setattr(psycopg.Cursor, "execute", no_prepared_statements)
    Customer.objects.filter(pk=delivery.customer_id).update(objected_at=now)
    assert claims._recheck(delivery, now) == DeliveryReason.OBJECTION  # the plain query
    assert connection.connection in claims._unprepared
    Customer.objects.filter(pk=delivery.customer_id).update(objected_at=None)
    assert claims._recheck(delivery, now) == ""


# --- Failures: poison, hard bounce, temporary errors -----------------------------------------------


def test_a_poison_recipient_and_a_hard_bounce_fail_alone_and_the_bounce_is_suppressed(world, settings, sink, run):
    settings.RELAIS_DISPATCH_CHUNK_SIZE = 10
    campaign = joined_campaign(world, version=email_version(world),
                               reachable=0)
    add_customers(world, 2)
    add_customers(world, 1, prefix="bounce", email="Bounce.Me@Example.test")
    add_customers(world, 1, prefix="poison", email="poison@example.test\nBcc: everyone@example.test")
    campaign = to_sending(world, campaign)
    run(sending.campaign_dispatch, campaign=campaign)
    by_name = {d.customer.last_name: d for d in Delivery.objects.filter(campaign=campaign).select_related("customer")}
    bounce, poison = by_name["Bounce000"], by_name["Poison000"]
    assert (bounce.status, bounce.reason) == (DeliveryStatus.FAILED, DeliveryReason.HARD_BOUNCE)
    assert bounce.last_error.startswith("550 5.1.1") and bounce.attempts == 1
    assert Suppression.objects.filter(network=world.networks["alpha"], channel="email",
                                      value_hash=hashlib.sha256(b"bounce.me@example.test").hexdigest()).exists()
    assert (poison.status, poison.reason) == (DeliveryStatus.FAILED, DeliveryReason.ERROR)
    assert "ValueError" in poison.last_error
    assert sorted(sink.handler.addresses()) == ["anne.nord@example.test", "c0@example.test", "c1@example.test"]
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT and Contact.objects.count() == 3
    # the suppressed address is refused before the next message to it, whoever holds it
    bounce.customer.refresh_from_db()
    assert consent.consent_problem(bounce.customer, "email") == DeliveryReason.SUPPRESSED


def test_a_451_is_retried_with_exponential_back_off_then_succeeds(world, settings, sink):
    settings.RELAIS_DISPATCH_RETRY_SECONDS = 60
    campaign = email_campaign(world, 2)
    sink.handler.greylist["c1@example.test"] = 2
    (first, last), = ranges(campaign, 10)
    grey = Delivery.objects.get(campaign=campaign, customer__email="c1@example.test")
    t0 = timezone.now()
    result = sending.dispatch_chunk(campaign_id=campaign.pk, first_id=first, last_id=last, now=t0)
    grey.refresh_from_db()
    assert (result.sent, result.retrying) == (2, 1)
    assert (grey.status, grey.attempts, grey.retry_at) == (DeliveryStatus.QUEUED, 1, t0 + timedelta(seconds=60))
    assert grey.last_error.startswith("451") and result.resume_at == grey.retry_at
    # not due yet: nothing is tried
    sending.dispatch_chunk(campaign_id=campaign.pk, first_id=first, last_id=last, now=t0 + timedelta(seconds=30))
    grey.refresh_from_db()
    assert grey.attempts == 1
    t1 = t0 + timedelta(seconds=61)  # due: greylisted again, next wait twice as long
    sending.dispatch_chunk(campaign_id=campaign.pk, first_id=first, last_id=last, now=t1)
    grey.refresh_from_db()
    assert (grey.status, grey.attempts, grey.retry_at) == (DeliveryStatus.QUEUED, 2, t1 + timedelta(seconds=120))
    result = sending.dispatch_chunk(campaign_id=campaign.pk, first_id=first, last_id=last,
                                     now=t1 + timedelta(seconds=121))
    grey.refresh_from_db()
    assert (result.sent, grey.status, grey.attempts, result.resume_at) == (1, DeliveryStatus.SENT, 3, None)
    assert sink.handler.count("c1@example.test") == 1 and len(sink.handler.received) == 3
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT


def test_the_chunk_task_waits_for_its_retries_and_gives_up_after_the_last_attempt(world, settings, sink, run):
    settings.RELAIS_DISPATCH_RETRY_SECONDS = 0.05
    settings.RELAIS_DISPATCH_MAX_ATTEMPTS = 3
    campaign = email_campaign(world, 3)
    sink.handler.greylist.update({"c0@example.test": 1, "c2@example.test": 99})
    run(sending.campaign_dispatch, campaign=campaign)
    once = Delivery.objects.get(campaign=campaign, customer__email="c0@example.test")
    never = Delivery.objects.get(campaign=campaign, customer__email="c2@example.test")
    assert (once.status, once.attempts) == (DeliveryStatus.SENT, 2)
    assert (never.status, never.reason, never.attempts) == (DeliveryStatus.FAILED, DeliveryReason.GAVE_UP, 3)
    assert "(3 attempts)" in never.last_error and sink.handler.count("c2@example.test") == 0
    assert sink.handler.addresses() == ["anne.nord@example.test", "c0@example.test", "c1@example.test"]
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT


def test_an_unreachable_smtp_server_is_a_temporary_error(world, settings, sink):
    campaign = email_campaign(world, 1)
    settings.EMAIL_PORT = free_port()  # nobody listens there
    (first, last), = ranges(campaign, 10)
    result = sending.dispatch_chunk(campaign_id=campaign.pk, first_id=first, last_id=last)
    assert result.retrying == 2 and result.resume_at is not None
    assert set(Delivery.objects.filter(campaign=campaign).values_list("status", flat=True)) == {DeliveryStatus.QUEUED}
    assert "Connection" in Delivery.objects.filter(campaign=campaign).first().last_error


def test_a_connection_dropped_by_the_server_between_two_messages_is_opened_again_at_once(world, hooks, sink, run):
    campaign = email_campaign(world, 4)
    hooks.append(after(2, lambda backend: backend.connection.sock.shutdown(socket.SHUT_RDWR)))  # hung up
    run(sending.campaign_dispatch, campaign=campaign)
    assert len(sink.handler.received) == 5 and len(set(sink.handler.addresses())) == 5
    assert set(Delivery.objects.filter(campaign=campaign).values_list("attempts", flat=True)) == {1}
    assert sink.handler.connections == 2


# --- Pause, resume, cancel -------------------------------------------------------------------------


def test_pause_stops_before_the_next_message_and_resume_sends_no_duplicate(world, settings, hooks, sink, run):
    settings.RELAIS_DISPATCH_CHUNK_SIZE = 4
    campaign = email_campaign(world, 8)
    manager = world.users["branch_manager"]
    hooks.append(after(3, lambda: control.campaign_send_pause(campaign=campaign, paused_by=manager)))
    assert run(sending.campaign_dispatch, campaign=campaign) == 3
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED
    assert len(sink.handler.received) == 3  # the first chunk stopped after its third message, the others at once
    assert list(statuses(campaign).values()).count(DeliveryStatus.QUEUED) == 6
    progress = control.campaign_send_progress(campaign)
    assert (progress["sent"], progress["queued"], progress["total"], progress["rate_per_min"]) == (3, 6, 9, 0.6)
    assert progress["eta"] > timezone.now()
    with pytest.raises(ValidationError):
        control.campaign_send_pause(campaign=campaign, paused_by=manager)
    run(control.campaign_send_resume, campaign=campaign, resumed_by=manager)
    addresses = sink.handler.addresses()
    assert len(addresses) == 9 and len(set(addresses)) == 9
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert [e.action for e in CampaignEvent.objects.filter(campaign=campaign).order_by("at", "id")][-3:] == [
        "paused", "resumed", "sent"]


def test_only_those_who_may_change_the_campaign_pause_it(world, sink):
    campaign = email_campaign(world, 1)
    from django.core.exceptions import PermissionDenied

    for actor in ("sibling_branch_manager", "other_network_head_office", "analyst"):
        with pytest.raises(PermissionDenied):
            control.campaign_send_pause(campaign=campaign, paused_by=world.users[actor])
    control.campaign_send_pause(campaign=campaign, paused_by=world.users["head_office"])


def test_cancelling_the_send_cancels_what_is_still_queued(world, settings, hooks, sink, run):
    campaign = email_campaign(world, 5)
    hooks.append(after(2, lambda: control.campaign_send_cancel(campaign=campaign,
                                                                cancelled_by=world.users["branch_manager"])))
    run(sending.campaign_dispatch, campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CANCELLED
    assert len(sink.handler.received) == 2
    cancelled = Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.CANCELLED)
    assert cancelled.count() == 4 and {d.reason for d in cancelled} == {DeliveryReason.CAMPAIGN_CANCELLED}
    with pytest.raises(ValidationError):
        sending.campaign_dispatch(campaign=campaign)
    (first, last), = ranges(campaign, 10)
    assert sending.dispatch_chunk(campaign_id=campaign.pk, first_id=first, last_id=last).stopped == "cancelled"
    assert len(sink.handler.received) == 2


# --- Consent, again, before each message ------------------------------------------------------------


def test_an_unsubscription_between_two_chunks_stops_that_customers_messages_on_every_channel(world, settings, sink):
    campaign = email_campaign(world, 3)
    chunks = ranges(campaign, 2)
    first_chunk = sending.dispatch_chunk(campaign_id=campaign.pk, first_id=chunks[0][0], last_id=chunks[0][1])
    assert first_chunk.sent == 2
    later = Delivery.objects.filter(campaign=campaign, pk__gte=chunks[1][0]).select_related("customer").first()
    # the same customer has an SMS waiting in another campaign
    Customer.objects.filter(pk=later.customer_id).update(consent_sms=ConsentStatus.GRANTED)
    other = Campaign.objects.create(network=campaign.network, branch=campaign.branch, operation=campaign.operation,
                                    template_version=campaign.template_version, channel="sms",
                                    send_date=campaign.send_date, status=CampaignStatus.SENDING)
    waiting_sms = Delivery.objects.create(campaign=other, customer_id=later.customer_id, channel="sms")
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post(f"/u/{later.token}/", "List-Unsubscribe=One-Click",
                                                     content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    for first, last in chunks[1:]:
        sending.dispatch_chunk(campaign_id=campaign.pk, first_id=first, last_id=last)
    later.refresh_from_db()
    waiting_sms.refresh_from_db()
    assert (later.status, later.reason) == (DeliveryStatus.CANCELLED, DeliveryReason.OBJECTION)
    assert (waiting_sms.status, waiting_sms.reason) == (DeliveryStatus.CANCELLED, DeliveryReason.OBJECTION)
    assert sink.handler.count(later.customer.email) == 0 and len(sink.handler.received) == 3
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT


def test_consent_is_read_again_just_before_each_message(world, settings, hooks, sink, run):
    campaign = email_campaign(world, 4)
    changed = {}

    def meanwhile():  # changed by other paths than the unsubscribe link (an import, head office)
        # three of the recipients not sent yet (whatever order the arbitration gave the deliveries)
        first = sink.handler.addresses()[0]
        c1, c2, c3 = Customer.objects.filter(deliveries__campaign=campaign).exclude(email=first).order_by("email")[:3]
        Customer.objects.filter(pk=c1.pk).update(objected_at=timezone.now())
        Customer.objects.filter(pk=c2.pk).update(consent_email=ConsentStatus.DENIED)
        Suppression.objects.create(network=campaign.network, channel="email", reason="complaint",
                                   value_hash=hashlib.sha256(c3.email.encode()).hexdigest())
        changed.update({c1.email: DeliveryReason.OBJECTION, c2.email: DeliveryReason.NO_CONSENT,
                        c3.email: DeliveryReason.SUPPRESSED})

    hooks.append(after(1, meanwhile))
    run(sending.campaign_dispatch, campaign=campaign)
    reasons = dict(Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.CANCELLED)
                   .values_list("customer__email", "reason"))
    assert len(changed) == 3 and reasons == changed
    everyone = set(Delivery.objects.filter(campaign=campaign).values_list("customer__email", flat=True))
    assert sink.handler.addresses() == sorted(everyone - set(changed))
    assert Contact.objects.count() == 2


# --- Quiet hours, rate limits ---------------------------------------------------------------------


def local(day_offset: int, hour: int, minute: int = 0) -> datetime:
    today = timezone.localdate()
    return datetime.combine(today + timedelta(days=day_offset), clock(hour, minute), tzinfo=timezone.get_current_timezone())


def test_quiet_hours_hold_the_messages_until_they_end(world, sink):
    campaign = email_campaign(world, 2)
    rules = rules_for(campaign.network)
    rules.quiet_from, rules.quiet_until = clock(20, 30), clock(8, 0)
    rules.save()
    (first, last), = ranges(campaign, 10)
    result = sending.dispatch_chunk(campaign_id=campaign.pk, first_id=first, last_id=last, now=local(0, 22))
    assert (result.stopped, result.resume_at, result.sent) == ("quiet_hours", local(1, 8), 0)
    assert sink.handler.received == []
    assert set(Delivery.objects.filter(campaign=campaign).values_list("status", flat=True)) == {DeliveryStatus.QUEUED}
    result = sending.dispatch_chunk(campaign_id=campaign.pk, first_id=first, last_id=last, now=local(1, 8))
    assert result.sent == 3 and len(sink.handler.received) == 3


@pytest.mark.parametrize(("start", "end", "now", "expected"), [
    ((20, 30), (8, 0), (0, 22, 0), (1, 8)),
    ((20, 30), (8, 0), (0, 1, 0), (0, 8)),
    ((20, 30), (8, 0), (0, 8, 0), None),
    ((12, 0), (14, 0), (0, 13, 59), (0, 14)),
    ((12, 0), (14, 0), (0, 14, 0), None),
    ((9, 0), (9, 0), (0, 9, 0), None),
])
def test_quiet_hours_end(world, start, end, now, expected):
    rules = rules_for(world.networks["alpha"])
    rules.quiet_from, rules.quiet_until = clock(*start), clock(*end)
    day, hour, minute = now
    answer = quiet_hours.quiet_hours_end(rules, local(day, hour, minute))
    assert answer == (local(*expected) if expected else None)


def test_the_rate_limit_spaces_the_messages_of_a_channel(settings):
    settings.RELAIS_RATE_LIMIT_REDIS_URL = ""
    settings.RELAIS_RATE_LIMITS = {"email": 20.0, "sms": 0}
    limiter = rate_limit.RateLimiter()
    started = time.monotonic()
    for _ in range(30):  # a burst of 20, then one every 50 ms
        limiter.acquire("email")
    assert 0.45 <= time.monotonic() - started < 1.5
    started = time.monotonic()
    for _ in range(100):
        limiter.acquire("sms")  # no limit
    assert time.monotonic() - started < 0.1


def test_the_redis_bucket_is_shared_by_every_worker(settings):
    redis = pytest.importorskip("redis")
    url = settings.CELERY_BROKER_URL if settings.CELERY_BROKER_URL.startswith("redis") else "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url, socket_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("no Redis on loopback")
    workers = [rate_limit.RedisBucket(url), rate_limit.RedisBucket(url)]
    key = f"test-{uuid.uuid4().hex}"
    started, taken = time.monotonic(), 0
    while taken < 30:
        wait = workers[taken % 2].wait_time(key, 20.0, 20.0)
        if wait > 0:
            time.sleep(wait)
        else:
            taken += 1
    assert 0.45 <= time.monotonic() - started < 1.5


# --- A worker lost in the middle of a send ----------------------------------------------------------


def test_claims_of_a_lost_worker_are_queued_again_and_what_was_sent_is_not_sent_again(world, settings, sink, run):
    """What ``dispatch_recover`` covers, and the one case it cannot: the provider accepted the
    message, then the worker died before committing *sent* — that message goes twice."""
    campaign = email_campaign(world, 5)
    chunks = ranges(campaign, 2)
    sending.dispatch_chunk(campaign_id=campaign.pk, first_id=chunks[0][0], last_id=chunks[0][1])
    lost = timezone.now() - timedelta(minutes=20)
    claimed_only, accepted, fresh = Delivery.objects.filter(campaign=campaign, pk__gte=chunks[1][0]).order_by(
        "pk").select_related("customer")[:3]
    for delivery in (claimed_only, accepted):  # the worker claimed these two, then died
        assert claims._claim(delivery.pk, campaign.pk, lost)
    channels.EmailChannel(campaign).send(Delivery.objects.select_related("customer").get(pk=accepted.pk))
    assert claims._claim(fresh.pk, campaign.pk, timezone.now())  # another worker, alive, is sending this one
    outcome = run(sending.dispatch_recover)
    assert outcome["requeued"] == 2
    fresh.refresh_from_db()
    assert fresh.status == DeliveryStatus.SENDING  # a live claim is left alone
    Delivery.objects.filter(pk=fresh.pk).update(status=DeliveryStatus.QUEUED, claimed_at=None)  # (its worker's job)
    outcome = run(sending.dispatch_recover, stale_after=timedelta(0))
    assert outcome["chunks"] >= 1
    assert all(status == DeliveryStatus.SENT for status in statuses(campaign).values())
    counts = {address: sink.handler.count(address) for address in statuses(campaign)}
    assert counts.pop(accepted.customer.email) == 2  # accepted by the provider, not committed: sent twice
    assert set(counts.values()) == {1}  # every other recipient exactly once, those sent before the loss included
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT


def test_a_message_that_kills_its_worker_again_and_again_is_given_up(world, settings, sink):
    settings.RELAIS_DISPATCH_MAX_ATTEMPTS = 2
    campaign = email_campaign(world, 1)
    killer = Delivery.objects.filter(campaign=campaign).first()
    Delivery.objects.filter(pk=killer.pk).update(attempts=2)  # claimed and lost twice already
    (first, last), = ranges(campaign, 10)
    sending.dispatch_chunk(campaign_id=campaign.pk, first_id=first, last_id=last)
    killer.refresh_from_db()
    assert (killer.status, killer.reason) == (DeliveryStatus.FAILED, DeliveryReason.GAVE_UP)
    assert sink.handler.count(killer.customer.email) == 0


# --- SMS ------------------------------------------------------------------------------------------

SMS_TEXT = "Lille : huîtres de Marennes, -20 % ce week-end seulement. STOP au 36173"


def sms_campaign(world, message="huîtres de Marennes, -20 % ce week-end seulement", reachable=2):
    campaign = joined_campaign(world, reachable=reachable)
    return to_sending(world, campaign, slot_values={"message": message})


def test_sms_through_the_file_backend_with_the_stop_mention_and_the_cost_of_its_segments(world, settings, tmp_path,
                                                                                          run):
    settings.RELAIS_SMS_FILE_PATH = tmp_path
    settings.RELAIS_SMS_COST_PER_SEGMENT = "0.0450"
    settings.RELAIS_RATE_LIMIT_REDIS_URL = ""
    campaign = sms_campaign(world)
    run(sending.campaign_dispatch, campaign=campaign)
    lines = [json.loads(line) for path in tmp_path.glob("*.jsonl") for line in path.read_text().splitlines()]
    assert sorted(line["to"] for line in lines) == ["+33600000000", "+33600000001"]
    assert {line["text"] for line in lines} == {SMS_TEXT}
    count = sms_count(SMS_TEXT)
    assert (count.encoding, count.segments) == ("UCS-2", 2)  # "î" is not GSM-7: 67 characters per part
    for delivery in Delivery.objects.filter(campaign=campaign):
        assert (delivery.status, delivery.segments, delivery.cost) == (DeliveryStatus.SENT, 2, Decimal("0.0900"))
        assert delivery.provider_id in {line["id"] for line in lines}
    assert Contact.objects.filter(channel="sms").count() == 2
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT


class Provider(BaseHTTPRequestHandler):
    """Twilio's Messages endpoint, as far as Relais uses it: the answer depends on the number."""

    requests: list = []
    answers = {
        "+33600000000": (201, {"sid": "SM0001", "status": "queued", "num_segments": "2"}),
        "+33600000001": (400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400}),
        "+33600000002": (400, {"code": 21211, "message": "The 'To' number is not a valid phone number.", "status": 400}),
        "+33600000003": (429, {"code": 20429, "message": "Too Many Requests", "status": 429}),
        "+33600000004": (503, {}),
        "+33600000005": (400, {"code": 21602, "message": "Message body is required.", "status": 400}),
    }

    def do_POST(self):
        fields = {key: values[0] for key, values in parse_qs(self.rfile.read(int(self.headers["Content-Length"]))
                                                             .decode()).items()}
        type(self).requests.append({"path": self.path, "auth": self.headers["Authorization"], **fields})
        status, payload = self.answers.get(fields.get("To"), (500, {}))
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def provider(settings):
    Provider.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Provider)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.RELAIS_SMS_BACKEND = "central.delivery.sms_backends.TwilioSmsBackend"
    settings.RELAIS_SMS_TWILIO_ACCOUNT_SID, settings.RELAIS_SMS_TWILIO_AUTH_TOKEN = "ACtest", "secret"
    settings.RELAIS_SMS_TWILIO_FROM = "RELAIS"
    settings.RELAIS_SMS_TWILIO_API_URL = f"http://127.0.0.1:{server.server_address[1]}"
    settings.RELAIS_RATE_LIMIT_REDIS_URL = ""
    yield server
    server.shutdown()
    server.server_close()


def test_the_twilio_adapter_speaks_http_to_the_provider(provider):
    backend = sms.TwilioSmsBackend()
    assert backend.send("+33600000000", "Bonjour") == "SM0001"
    request, = Provider.requests
    assert request["path"] == "/2010-04-01/Accounts/ACtest/Messages.json"
    assert request["auth"] == "Basic QUN0ZXN0OnNlY3JldA=="  # ACtest:secret
    assert (request["To"], request["From"], request["Body"]) == ("+33600000000", "RELAIS", "Bonjour")
    with pytest.raises(sms.SmsOptedOut):
        backend.send("+33600000001", "x")
    with pytest.raises(sms.SmsPermanentError) as invalid:
        backend.send("+33600000002", "x")
    assert invalid.value.invalid_number and "21211" in str(invalid.value)
    for number in ("+33600000003", "+33600000004"):
        with pytest.raises(sms.SmsTemporaryError):
            backend.send(number, "x")
    with pytest.raises(sms.SmsPermanentError) as other:
        backend.send("+33600000005", "x")
    assert not other.value.invalid_number and not isinstance(other.value, sms.SmsOptedOut)
    closed = sms.TwilioSmsBackend(api_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(sms.SmsTemporaryError, match="unreachable"):
        closed.send("+33600000000", "x")
    messaging_service = sms.TwilioSmsBackend(sender="MG123")
    messaging_service.send("+33600000000", "x")
    assert Provider.requests[-1]["MessagingServiceSid"] == "MG123" and "From" not in Provider.requests[-1]


def test_sms_through_the_provider_stop_invalid_numbers_and_throttling(world, settings, provider, run):
    settings.RELAIS_DISPATCH_RETRY_SECONDS = 3600
    campaign = sms_campaign(world, reachable=4)
    run(sending.campaign_dispatch, campaign=campaign)
    by_mobile = {d.customer.mobile: d for d in Delivery.objects.filter(campaign=campaign).select_related("customer")}
    ok, stop, invalid, throttled = (by_mobile[f"06000000{i:02d}"] for i in range(4))
    assert (ok.status, ok.provider_id, ok.segments, ok.cost) == (DeliveryStatus.SENT, "SM0001", 2, Decimal("0.0900"))
    assert (stop.status, stop.reason) == (DeliveryStatus.CANCELLED, DeliveryReason.SMS_STOP)
    stop.customer.refresh_from_db()
    assert stop.customer.consent_sms == ConsentStatus.DENIED and stop.customer.consent_sms_source == "SMS STOP (provider)"
    assert ConsentEvent.objects.filter(customer=stop.customer, channel="sms", status="denied").count() == 1
    assert (invalid.status, invalid.reason) == (DeliveryStatus.FAILED, DeliveryReason.HARD_BOUNCE)
    assert Suppression.objects.filter(channel="sms", value_hash=hashlib.sha256(b"0600000002").hexdigest()).exists()
    assert (throttled.status, throttled.attempts) == (DeliveryStatus.QUEUED, 1) and throttled.retry_at
    assert all(r["Body"].endswith("STOP au 36173") for r in Provider.requests)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENDING  # the throttled one is still to go


# --- Print -------------------------------------------------------------------------------------------


def test_a_print_campaign_makes_its_mail_merge_and_the_store_flyer(world, settings, tmp_path, run):
    settings.MEDIA_ROOT = tmp_path
    campaign = joined_campaign(world, version=print_version(world), channels=["post"], reachable=0)
    add_customers(world, 3, prefix="p", channel="post")
    add_customers(world, 1, prefix="gone", channel="post")
    campaign = to_sending(world, campaign)
    Customer.objects.filter(last_name="Gone000").update(objected_at=timezone.now())  # since the arbitration
    assert Delivery.objects.filter(campaign=campaign).count() == 4
    run(sending.campaign_dispatch, campaign=campaign)
    merge = PrintFile.objects.get(campaign=campaign, kind=PrintFile.Kind.MAIL_MERGE)
    assert merge.file.name.startswith("print/") and (tmp_path / merge.file.name).exists()
    pages = [page.extract_text() for page in PdfReader(BytesIO(merge.file.read())).pages]
    assert (merge.pages, merge.recipients, len(pages)) == (3, 3, 3)
    for index, text in enumerate(pages):  # sorted by postal code
        assert f"Prénom{index} P00{index}" in text and f"{index} rue des Vignes" in text
        assert f"59{index:03d} Lille" in text and "-20 % sur les bordeaux" in text and f"Bonjour Prénom{index}" in text
    assert "Gone000" not in "".join(pages)
    flyer = PrintFile.objects.get(campaign=campaign, kind=PrintFile.Kind.FLYER)
    text = "".join(page.extract_text() for page in PdfReader(BytesIO(flyer.file.read())).pages)
    assert "Lille" in text and "-20 % sur les bordeaux" in text and "Prénom" not in text
    assert dict(Delivery.objects.filter(campaign=campaign).values_list("customer__last_name", "status")) == {
        "P000": DeliveryStatus.SENT, "P001": DeliveryStatus.SENT, "P002": DeliveryStatus.SENT,
        "Gone000": DeliveryStatus.CANCELLED}
    assert set(Delivery.objects.filter(status=DeliveryStatus.SENT).values_list("provider_id", flat=True)) == {
        f"print:{merge.pk}"}
    assert Contact.objects.filter(channel="post").count() == 3
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert mail_merge.campaign_print_produce(campaign_id=campaign.pk) == []  # a second run prints nothing
    assert PrintFile.objects.filter(campaign=campaign).count() == 2


def test_the_sms_stop_mention_survives_any_merge():
    compiled = type("C", (), {"merge": lambda self, values: "Bonjour"})()
    customer = Customer(first_name="A", last_name="B")
    assert content.sms_text(compiled, customer, "t_x", "STOP au 36173") == "Bonjour STOP au 36173"


def test_unknown_email_errors_are_classified():
    import smtplib

    assert isinstance(errors.email_failure(smtplib.SMTPServerDisconnected("gone")), errors.TemporaryFailure)
    assert isinstance(errors.email_failure(ConnectionRefusedError()), errors.TemporaryFailure)
    data = errors.email_failure(smtplib.SMTPDataError(554, b"5.7.1 Message rejected as spam"))
    assert isinstance(data, errors.PermanentFailure) and not data.suppress
    hard = errors.email_failure(smtplib.SMTPDataError(550, b"5.1.1 mailbox unavailable"))
    assert hard.suppress and hard.reason == DeliveryReason.HARD_BOUNCE
    assert isinstance(errors.email_failure(smtplib.SMTPDataError(452, b"4.3.1 full")), errors.TemporaryFailure)
    assert errors.email_failure(ValueError("bug")) is None

    class AnymailAPIError(Exception):
        status_code = 502

    class AnymailRecipientsRefused(Exception):
        pass

    assert isinstance(errors.email_failure(AnymailAPIError()), errors.TemporaryFailure)
    assert errors.email_failure(AnymailRecipientsRefused()).suppress


def test_the_days_scheduled_campaigns_are_arbitrated_started_and_sent_once(world, settings, django_capture_on_commit_callbacks):
    """The beat task of the day: a scheduled, approved campaign due today is arbitrated, starts and is
    sent; running the task again sends nothing more."""
    from django.core import mail

    from approvals.services import proof_request
    from central.campaigns.services import campaign_schedule, campaign_update
    from central.delivery.sending import campaigns_send_due
    from central.models import Campaign, CampaignStatus, Delivery
    from tests.dispatching import SLOT_VALUES, add_customers, approve_all, email_version
    from tests.planning import joined_campaign

    manager = world.users["branch_manager"]
    campaign = joined_campaign(world, version=email_version(world), reachable=0)
    add_customers(world, 3)
    campaign_update(campaign=campaign, updated_by=manager, slot_values=SLOT_VALUES)
    approve_all(world, proof_request(campaign=campaign, requested_by=manager))
    campaign_schedule(campaign=Campaign.objects.get(pk=campaign.pk), scheduled_by=manager)
    day = Campaign.objects.get(pk=campaign.pk).send_date  # the day has come
    with django_capture_on_commit_callbacks(execute=True):
        first = campaigns_send_due(today=day - timedelta(days=1))  # not yet
    assert first["campaigns"] == 0
    with django_capture_on_commit_callbacks(execute=True):
        first = campaigns_send_due(today=day)
    with django_capture_on_commit_callbacks(execute=True):
        second = campaigns_send_due(today=day)
    campaign.refresh_from_db()
    assert first["campaigns"] == 1 and second == {"runs": 0, "campaigns": 0, "deliveries": 0}
    assert campaign.status == CampaignStatus.SENT
    sent = Delivery.objects.filter(campaign=campaign, status="sent").count()
    assert sent >= 1 and len([m for m in mail.outbox if m.subject]) == sent


def test_the_campaign_page_shows_the_progress_and_pauses_and_resumes_the_send(world):
    from central.models import Campaign, CampaignStatus
    from tests.dispatching import add_customers, email_version, to_sending
    from tests.planning import joined_campaign

    campaign = joined_campaign(world, version=email_version(world), reachable=0)
    add_customers(world, 2)
    campaign = to_sending(world, campaign)  # deliveries queued, nothing dispatched yet
    client = world.client_for("branch_manager")
    page = client.get(f"/network/campaigns/{campaign.public_id}/").content.decode()
    assert 'data-testid="send-progress"' in page and "0 sent of 3" in page
    client.post(f"/network/campaigns/{campaign.public_id}/send/pause/")
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.PAUSED
    client.post(f"/network/campaigns/{campaign.public_id}/send/resume/")
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.SENDING
    assert client.post(f"/network/campaigns/{campaign.public_id}/send/explode/").status_code == 404
    assert world.client_for("sibling_branch_manager").post(
        f"/network/campaigns/{campaign.public_id}/send/cancel/").status_code == 404
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.SENDING
