"""The links of a sent e-mail, followed as its recipient (or their mail client) would: the one-click
unsubscription (RFC 8058: a POST without any session or CSRF token; a GET changes nothing), the open
pixel, the signed click redirect and the online view. An unknown token or a link that was not in
the message answers 404 and reveals nothing."""

import re
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from django.core import signing
from django.test import Client

from central.delivery import links, sending
from central.delivery.public_views import PIXEL
from central.models import (
    Campaign,
    CampaignStatus,
    ConsentEvent,
    ConsentStatus,
    Customer,
    Delivery,
    DeliveryReason,
    DeliveryStatus,
    TrackingEvent,
)
from tests.dispatching import SmtpSink, email_campaign, smtp_settings

pytestmark = pytest.mark.django_db
TARGET = "https://shop.example.test/offre?x=1&y=2"


@pytest.fixture
def sent(world, settings, django_capture_on_commit_callbacks):
    """A campaign sent to three customers and Anne over SMTP; {address: (delivery, received message)}."""
    with SmtpSink() as sink:
        smtp_settings(settings, sink.port)
        settings.RELAIS_RATE_LIMIT_REDIS_URL = ""
        campaign = email_campaign(world, 3)
        with django_capture_on_commit_callbacks(execute=True):
            sending.campaign_dispatch(campaign=campaign)
    deliveries = {d.customer.email: d for d in Delivery.objects.filter(campaign=campaign).select_related("customer")}
    return {item.to: (deliveries[item.to], item) for item in sink.handler.received}


@pytest.fixture
def mail_client():
    """What a mail client or a link scanner is: no session, CSRF checks on."""
    return Client(enforce_csrf_checks=True)


def path_of(url: str) -> str:
    parts = urlsplit(url.replace("&amp;", "&"))
    return parts.path + (f"?{parts.query}" if parts.query else "")


def click_link(received) -> str:
    return re.findall(r'href="(https://relais\.example\.test/t/c/[^"]+)"', received.html)[0]


def test_get_shows_a_confirmation_page_and_changes_nothing(sent, mail_client):
    delivery, received = sent["c0@example.test"]
    url = received.message["List-Unsubscribe"].strip()[1:-1]
    events = ConsentEvent.objects.count()
    response = mail_client.get(path_of(url))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Alpha" in body and '<form method="post">' in body and "csrfmiddlewaretoken" not in body
    assert response["Cache-Control"] == "no-store, private"
    customer = Customer.objects.get(pk=delivery.customer_id)
    assert customer.objected_at is None and ConsentEvent.objects.count() == events
    assert not TrackingEvent.objects.exists()
    assert "c0@example.test" not in body  # nothing about the person


def test_the_one_click_post_objects_for_every_channel_once(sent, mail_client):
    delivery, received = sent["c1@example.test"]
    customer = delivery.customer
    Customer.objects.filter(pk=customer.pk).update(consent_sms=ConsentStatus.GRANTED, consent_post=ConsentStatus.GRANTED)
    other = Campaign.objects.create(network=delivery.campaign.network, branch=delivery.campaign.branch,
                                    template_version=delivery.campaign.template_version, channel="sms",
                                    send_date=delivery.campaign.send_date, status=CampaignStatus.SCHEDULED)
    waiting = Delivery.objects.create(campaign=other, customer=customer, channel="sms")
    url = path_of(received.message["List-Unsubscribe"].strip()[1:-1])
    # RFC 8058: the mail client POSTs "List-Unsubscribe=One-Click", with no cookie and no CSRF token
    response = mail_client.post(url, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200 and 'data-testid="done"' in response.content.decode()
    customer.refresh_from_db()
    assert customer.objected_at is not None and customer.objection_source == "unsubscribe link"
    assert customer.consent_for("sms") == customer.consent_for("post") == ConsentStatus.DENIED
    event = ConsentEvent.objects.get(customer=customer)
    assert (event.channel, event.status, event.source) == ("all", "objected", "unsubscribe link")
    waiting.refresh_from_db()
    assert (waiting.status, waiting.reason) == (DeliveryStatus.CANCELLED, DeliveryReason.OBJECTION)
    assert TrackingEvent.objects.filter(delivery=delivery, kind="unsubscribe").count() == 1
    # again, by the page's button this time: nothing more is recorded
    assert mail_client.post(url).status_code == 200
    assert ConsentEvent.objects.filter(customer=customer).count() == 1
    assert TrackingEvent.objects.filter(delivery=delivery, kind="unsubscribe").count() == 1
    assert 'data-testid="already"' in mail_client.get(url).content.decode()


def test_an_unknown_token_answers_404_and_reveals_nothing(sent, mail_client):
    for response in (mail_client.get("/u/t_unknown/"), mail_client.post("/u/t_unknown/"),
                     mail_client.get("/v/t_unknown/")):
        assert response.status_code == 404
        assert "Alpha" not in response.content.decode() and "Lille" not in response.content.decode()
    assert mail_client.put(path_of(links.unsubscribe_url("t_unknown"))).status_code == 405
    assert not Customer.objects.filter(objected_at__isnull=False).exists()


def test_the_open_pixel_is_a_gif_and_records_the_first_open(sent, mail_client):
    delivery, received = sent["c0@example.test"]
    pixel = re.findall(r'<img src="(https://relais\.example\.test/t/o/[^"]+)"', received.html)[0]
    for _ in range(2):
        response = mail_client.get(path_of(pixel))
        assert response.status_code == 200 and response["Content-Type"] == "image/gif"
        assert response.content == PIXEL and response.content.startswith(b"GIF89a")
        assert "no-store" in response["Cache-Control"]
    assert list(TrackingEvent.objects.values_list("delivery_id", "kind")) == [(delivery.pk, "open")]
    response = mail_client.get("/t/o/t_unknown.gif")  # the same image, nothing recorded
    assert response.status_code == 200 and response.content == PIXEL
    assert TrackingEvent.objects.count() == 1


def test_a_click_redirects_to_the_links_target_and_is_recorded_once(sent, mail_client):
    delivery, received = sent["c2@example.test"]
    link = path_of(click_link(received))
    for _ in range(2):
        response = mail_client.get(link)
        assert response.status_code == 302 and response["Location"] == TARGET
    event = TrackingEvent.objects.get()
    assert (event.delivery_id, event.kind, event.url) == (delivery.pk, "click", TARGET)


def test_a_forged_click_url_answers_404(sent, mail_client):
    (mine, received), (theirs, _) = sent["c0@example.test"], sent["c1@example.test"]
    link = click_link(received)
    signed = parse_qs(urlsplit(link.replace("&amp;", "&")).query)["u"][0]
    forged = [
        f"/t/c/{theirs.token}/?u={quote(signed, safe='')}",  # a link of another message
        f"/t/c/{mine.token}/?u={quote(signed[:-2] + 'xx', safe='')}",  # tampered
        f"/t/c/{mine.token}/?u="
        + quote(signing.Signer(salt="relais.click:t_other").sign_object("https://evil.example/"), safe=""),
        f"/t/c/{mine.token}/?u=https%3A%2F%2Fevil.example%2F",  # an unsigned target
        f"/t/c/{mine.token}/",
    ]
    for url in forged:
        response = mail_client.get(url)
        assert response.status_code == 404, url
        assert "evil" not in response.get("Location", "")
    # a target signed for this message but that is not http(s) is refused too
    odd = signing.Signer(salt=f"relais.click:{mine.token}").sign_object("javascript:alert(1)")
    assert mail_client.get(f"/t/c/{mine.token}/?u={quote(odd, safe='')}").status_code == 404
    assert not TrackingEvent.objects.exists()


def test_the_online_view_shows_the_message_as_sent_without_the_pixel(sent, mail_client):
    delivery, received = sent["c0@example.test"]
    response = mail_client.get(f"/v/{delivery.token}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Bonjour Prénom0 C000," in body and "-20 % sur les bordeaux" in body
    assert "/t/o/" not in body and f"/t/c/{delivery.token}/?u=" in body
    as_received = re.sub(r'<img src="https://relais\.example\.test/t/o/[^>]+>', "", received.html)
    assert body.replace("\r\n", "\n") == as_received.replace("\r\n", "\n")  # (SMTP writes CRLF)
    assert "default-src 'none'" in response["Content-Security-Policy"]
    assert not TrackingEvent.objects.exists()
