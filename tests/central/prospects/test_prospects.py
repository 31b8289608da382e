"""Prospects: a branch's public sign-up page with double opt-in for e-mail — bad input refused with
clear messages and nothing stored, nothing but the pending request until the link is followed, one
confirmation however often it is clicked, expired or altered links refused, robots and floods
turned away; the QR poster; prospects told apart in targeting and lists, and turned into customers
by the CRM import."""

import io
import re

import pytest
from django.core import mail, signing
from django.core.cache import cache
from pypdf import PdfReader

from central.campaigns.targeting import apply_criteria, criteria_clean
from central.customers.services import customer_import_load
from central.models import ConsentEvent, ConsentStatus, Customer, SignupRequest
from central.prospects.services import signup_token

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_rate_memory():
    cache.clear()
    yield
    cache.clear()


def page(world, branch="N1"):
    return f"/join/{world.nodes[branch].public_id}/"


def post(client, url, **fields):
    data = {"first_name": "Léa", "last_name": "Martin", "email": "", "mobile": "", **fields}
    return client.post(url, data, REMOTE_ADDR=fields.pop("ip", "203.0.113.7"))


def confirm_link() -> str:
    return re.search(r"http\S+/join/confirm/\S+/", mail.outbox[-1].body).group(0)


@pytest.mark.parametrize("fields, message", [
    ({}, "Give an e-mail address or a mobile number."),
    ({"email": "not-an-address", "consent_email": "on"}, "Enter a valid email address."),
    ({"mobile": "12", "consent_sms": "on"}, "This is not a valid mobile number"),
    ({"consent_email": "on", "mobile": "0612345678", "consent_sms": "on"}, "Give the e-mail address the offers"),
    ({"email": "lea@example.test"}, "Tick this box to receive offers at this address"),
])
def test_bad_input_is_refused_with_a_clear_message_and_nothing_is_stored(client, world, fields, message):
    customers = Customer.objects.count()
    response = post(client, page(world), **fields)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not SignupRequest.objects.exists() and Customer.objects.count() == customers and not mail.outbox


def test_an_email_is_confirmed_once_and_only_the_request_is_kept_until_then(client, world):
    customers = Customer.objects.count()
    response = post(client, page(world), email="Lea.Martin@Example.test", consent_email="on")
    assert response.status_code == 200 and "lea.martin@example.test" in response.content.decode()
    signup = SignupRequest.objects.get()
    assert (signup.confirmed_at, signup.customer, Customer.objects.count()) == (None, None, customers)
    assert signup.ip_hash and "203.0.113.7" not in signup.ip_hash and "Lille" in signup.text_shown
    assert "by e-mail" in signup.text_shown and signup.page.endswith(page(world))
    link = confirm_link()
    first = client.get(link.split("testserver")[-1] if "testserver" in link else link[link.index("/join/"):])
    assert first.status_code == 200 and "Your address is confirmed" in first.content.decode()
    prospect = Customer.objects.get(email="lea.martin@example.test")
    assert prospect.is_prospect and prospect.branch == world.nodes["N1"]
    assert prospect.consent_email == ConsentStatus.GRANTED and prospect.consent_sms != ConsentStatus.GRANTED
    assert ConsentEvent.objects.filter(customer=prospect, channel="email", status="granted",
                                       source=f"sign-up {signup.public_id}").count() == 1
    again = client.get(link[link.index("/join/"):])
    assert again.status_code == 200 and "Already confirmed" in again.content.decode()
    assert Customer.objects.filter(email="lea.martin@example.test").count() == 1
    assert ConsentEvent.objects.filter(customer=prospect).count() == 1


def test_an_expired_or_altered_link_is_refused(client, world, monkeypatch):
    post(client, page(world), email="old@example.test", consent_email="on")
    signup = SignupRequest.objects.get()
    token = signup_token(signup)
    altered = client.get(f"/join/confirm/{token[:-2]}xx/")
    assert altered.status_code == 400 and "This link is not valid" in altered.content.decode()
    other = signing.dumps(signup.public_id, salt="another purpose")
    assert client.get(f"/join/confirm/{other}/").status_code == 400
    import time

    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() - 4 * 86400)  # signed four days ago
    old = signup_token(signup)
    monkeypatch.setattr(time, "time", real)
    expired = client.get(f"/join/confirm/{old}/")
    assert expired.status_code == 400 and "This link has expired" in expired.content.decode()
    assert not Customer.objects.filter(email="old@example.test").exists()


def test_a_mobile_only_sign_up_makes_the_prospect_at_once(client, world):
    post(client, page(world), mobile="06 98 76 54 32", consent_sms="on")
    prospect = Customer.objects.get(mobile="+33698765432")
    assert prospect.is_prospect and prospect.consent_sms == ConsentStatus.GRANTED and not mail.outbox


def test_robots_and_floods_are_turned_away(client, world):
    trapped = post(client, page(world), email="bot@example.test", consent_email="on", website="http://spam.example")
    assert trapped.status_code == 200 and not SignupRequest.objects.exists() and not mail.outbox
    for number in range(5):
        assert post(client, page(world), email=f"p{number}@example.test", consent_email="on").status_code == 200
    flood = post(client, page(world), email="p6@example.test", consent_email="on")
    assert flood.status_code == 429 and "Too many sign-ups" in flood.content.decode()
    assert SignupRequest.objects.count() == 5
    other_ip = post(client, page(world), email="p7@example.test", consent_email="on", ip="198.51.100.2")
    assert other_ip.status_code == 200
    # an unknown or inactive page is missing
    assert client.get("/join/nd_nothing/").status_code == 404
    assert client.get(f"/join/{world.nodes['NORTH'].public_id}/").status_code == 404


def test_the_qr_poster_holds_the_sign_up_address(world):
    response = world.client_for("branch_manager").get(f"/customers/signup-poster/{world.nodes['N1'].public_id}.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert f"/join/{world.nodes['N1'].public_id}/" in text.replace("\n", "")
    assert world.client_for("sibling_branch_manager").get(
        f"/customers/signup-poster/{world.nodes['N1'].public_id}.pdf").status_code == 404


def test_prospects_are_told_apart_seen_by_their_branch_only_and_turned_into_customers_by_the_import(client, world):
    post(client, page(world), mobile="0698765432", consent_sms="on", last_name="Prospecta")
    prospect = Customer.objects.get(mobile="+33698765432")
    everyone = Customer.objects.filter(branch=world.nodes["N1"])
    only = apply_criteria(everyone, criteria_clean({"audience_kind": "prospects"}, allowed=["audience_kind"]),
                          today=prospect.created_at.date())
    assert list(only) == [prospect]
    assert prospect not in apply_criteria(everyone, {"audience_kind": "customers"}, today=prospect.created_at.date())
    mine = world.client_for("branch_manager").get("/customers/", {"prospect": "true"}).content.decode()
    assert "Prospecta" in mine and "prospect" in mine
    assert "Prospecta" not in world.client_for("sibling_branch_manager").get("/customers/").content.decode()
    api = world.client_for("branch_manager").get("/api/v1/customers/", {"prospect": "true"}).json()
    assert [(row["last_name"], row["is_prospect"]) for row in api["results"]] == [("Prospecta", True)]
    assert world.client_for("sibling_branch_manager").get("/api/v1/customers/", {"prospect": "true"}).json()[
        "results"] == []
    assert world.client_for("sibling_branch_manager").get(f"/api/v1/customers/{prospect.public_id}/").status_code == 404
    result = customer_import_load(network=world.networks["alpha"], stream=io.BytesIO(
        b"external_id,branch_code,last_name,mobile,consent_sms\nCRM-77,N1,Martin,06 98 76 54 32,\n"))
    assert (result.rows_created, result.rows_updated) == (0, 1)
    prospect.refresh_from_db()
    assert (prospect.external_id, prospect.is_prospect, prospect.last_name) == ("CRM-77", False, "Martin")
    assert prospect.consent_sms == ConsentStatus.GRANTED  # the empty cell keeps the consent given on the page
    assert Customer.objects.filter(mobile="+33698765432").count() == 1
