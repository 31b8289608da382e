"""Erasure (RGPD art. 17): a customer's personal data removed everywhere — their record, consent
history, purchases, sign-ups, deliveries' errors, events' links and bounce wording, lists and
exports — but a hashed suppression entry; the messages not yet sent cancelled; re-importing the same
address sends nothing."""

import io
from datetime import date

import pytest

from central.arbitration import arbitrate
from central.customers.consent import address_hash
from central.customers.services import customer_erase, customer_import_load
from central.delivery import tracking
from central.models import (
    Candidate,
    ConsentEvent,
    Customer,
    Delivery,
    DeliveryStatus,
    Purchase,
    Reason,
    Suppression,
    TrackingEvent,
)
from reporting.models import ProviderEvent
from tests.dispatching import email_campaign, email_version
from tests.planning import joined_campaign

pytestmark = pytest.mark.django_db

SECRET = ("Zoé", "Effacée", "zoe.effacee@example.test", "+33611223344", "12 rue Secrète", "59999")


@pytest.fixture
def erased_world(world, django_capture_on_commit_callbacks):
    """A campaign sent to Zoé (with a click and a provider's bounce wording quoting her address),
    a purchase of hers, and a second campaign in flight whose message to her is still queued."""
    first, last, email, mobile, street, postal = SECRET
    sent = email_campaign(world, 0, )
    zoe = Customer.objects.create(network=world.networks["alpha"], branch=world.nodes["N1"], external_id="CRM-ZOE",
                                  first_name=first, last_name=last, email=email, mobile=mobile, address_line1=street,
                                  postal_code=postal, consent_email="granted", segment="vip")
    customer_import_load(network=world.networks["alpha"], stream=io.BytesIO(
        b"external_id,branch_code,email,consent_email\nCRM-ZOE,N1,zoe.effacee@example.test,granted\n"))
    Purchase.objects.create(network=world.networks["alpha"], key="R1", customer=zoe, purchased_on=date(2026, 11, 2),
                            amount="10.00", recorded_at="2026-11-02T10:00:00Z")
    delivery = Delivery.objects.create(campaign=sent, customer=zoe, channel="email", status=DeliveryStatus.SENT,
                                       last_error=f"450 {email} busy", provider_id="<zoe@relais>")
    tracking.tracking_record(delivery=delivery, kind=TrackingEvent.Kind.CLICK, url=f"https://shop.example/?u={email}")
    ProviderEvent.objects.create(delivery=delivery, kind=ProviderEvent.Kind.DEFERRED, esp="Mailgun", event_id="e1",
                                 detail=f"mailbox {email} full", occurred_at="2026-11-02T10:00:00Z")
    in_flight = email_campaign(world, 0)
    queued = Delivery.objects.get(campaign=in_flight, customer=zoe)  # its real run selected her
    return zoe, queued


def test_erasure_removes_every_personal_datum_but_a_hashed_suppression(world, erased_world):
    zoe, queued = erased_world
    customer_erase(customer=zoe, erased_by=world.users["head_office"], reason="ticket 42")
    zoe.refresh_from_db()
    assert zoe.erased_at is not None and zoe.objected_at is not None
    record = " ".join(str(value) for value in Customer.objects.filter(pk=zoe.pk).values().get().values())
    assert not any(secret.lower() in record.lower() for secret in SECRET)
    assert [event.status for event in ConsentEvent.objects.filter(customer=zoe)] == ["erased"]
    assert not Purchase.objects.filter(customer=zoe).exists()
    assert all(d.last_error == "" for d in Delivery.objects.filter(customer=zoe))
    assert all(e.url == "" for e in TrackingEvent.objects.filter(delivery__customer=zoe))
    assert all(e.detail == "" for e in ProviderEvent.objects.filter(delivery__customer=zoe))
    # the message in flight is cancelled; the sent one is still counted
    queued.refresh_from_db()
    assert (queued.status, queued.reason) == (DeliveryStatus.CANCELLED, "objection")
    assert Delivery.objects.filter(customer=zoe, status=DeliveryStatus.SENT).count() == 1
    # the addresses stay as hashes only
    hashes = set(Suppression.objects.filter(network=world.networks["alpha"]).values_list("value_hash", flat=True))
    assert address_hash(SECRET[2]) in hashes and address_hash(SECRET[3]) in hashes
    # nothing personal in the pages, the API or the export
    client = world.client_for("head_office")
    for response in (client.get("/customers/"), client.get("/customers/export.csv"), client.get("/api/v1/customers/"),
                     client.get(f"/customers/{zoe.public_id}/")):
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert not any(secret.encode() in body for secret in SECRET[1:4]), response
    with pytest.raises(Exception):  # noqa: B017 (once only)
        customer_erase(customer=zoe, erased_by=world.users["head_office"])


def test_re_importing_the_erased_address_sends_nothing(world, erased_world):
    zoe, _queued = erased_world
    customer_erase(customer=zoe, erased_by=world.users["head_office"])
    customer_import_load(network=world.networks["alpha"], stream=io.BytesIO(
        b"external_id,branch_code,email,consent_email\nCRM-ZOE,N1,Zoe.Effacee@example.test,granted\n"))
    again = Customer.objects.get(external_id="CRM-ZOE")
    assert again.pk != zoe.pk
    campaign = joined_campaign(world, version=email_version(world), reachable=0)
    run = arbitrate(network=world.networks["alpha"], starts_on=campaign.send_date, ends_on=campaign.send_date)
    decision = Candidate.objects.get(run=run, campaign=campaign, customer=again)
    assert (decision.selected, decision.reason) == (False, Reason.SUPPRESSED)


@pytest.mark.parametrize("actor", ["branch_manager", "regional_manager", "approver", "analyst"])
def test_only_head_office_erases(world, erased_world, actor):
    zoe, _queued = erased_world
    response = world.client_for(actor).post(f"/api/v1/customers/{zoe.public_id}/erase/", {})
    assert response.status_code in (403, 404)
    zoe.refresh_from_db()
    assert zoe.erased_at is None and zoe.email == SECRET[2]
    assert world.client_for("other_network_head_office").post(
        f"/api/v1/customers/{zoe.public_id}/erase/", {}).status_code == 404


def test_head_office_erases_through_the_page_and_the_api(world, erased_world):
    zoe, _queued = erased_world
    client = world.client_for("head_office")
    assert "Erase this customer" in client.get(f"/customers/{zoe.public_id}/").content.decode()
    response = client.post(f"/customers/{zoe.public_id}/erase/", {"reason": "ticket 7"})
    assert response.status_code == 302
    assert 'data-testid="erased"' in client.get(f"/customers/{zoe.public_id}/").content.decode()
    again = client.post(f"/api/v1/customers/{zoe.public_id}/erase/", {})
    assert again.status_code == 400 and "already erased" in str(again.json())
