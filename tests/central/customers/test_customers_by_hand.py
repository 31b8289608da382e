"""Customers created and edited by hand (issue 22, part F): a walk-in client typed in at the counter
by the branch's manager, with the consent they signed; the checks are the import's own (one table
for both); who recorded each consent change; a withdrawal cancels what was queued; the API answers
the form's messages by field; a form sent twice makes one customer."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from central.customers import checks
from central.customers.by_hand import customer_create, customer_update
from central.customers.csv_files import parse_date
from central.customers.services import customer_import_load
from central.models import (
    Campaign,
    CampaignStatus,
    ConsentEvent,
    ConsentStatus,
    Customer,
    CustomerImport,
    Delivery,
    DeliveryReason,
    DeliveryStatus,
)
from local_stores.models import NetworkEvent, Node
from tests.architecture.test_crlf_forms import as_browser_posts, form_fields, replaced
from tests.planning import sms_version

pytestmark = pytest.mark.django_db

URLENCODED = "application/x-www-form-urlencoded"


def _page_fields(client, url: str) -> list[tuple[str, str]]:
    response = client.get(url)
    assert response.status_code == 200
    return form_fields(response.content.decode(), "data-testid", "customer-form")


def _post(client, url: str, fields):
    return client.post(url, as_browser_posts(fields), content_type=URLENCODED)


# --- the walk-in client ---------------------------------------------------------------------------

def test_a_walk_in_client_created_by_the_branch_manager_with_a_signed_consent(world):
    client = world.client_for("branch_manager")
    fields = _page_fields(client, "/customers/new/")
    names = [name for name, _value in fields]
    assert "branch" not in names  # one branch to edit: no choice
    today = timezone.localdate().isoformat()
    assert ("consent_email_at", today) in fields  # the day of the change, today unless typed
    fields = replaced(fields, first_name="Lucie", last_name="Comptoir", email="Lucie.Comptoir@Example.test",
                      mobile="06 11 22 33 44", address_line1="12 rue Nationale\nBât. B",
                      consent_email="granted", consent_email_source="counter, signed form",
                      consent_email_at=(timezone.localdate() - timedelta(days=2)).isoformat())
    response = _post(client, "/customers/new/", fields)
    assert response.status_code == 302, response.content.decode()[:3000]
    customer = Customer.objects.get(last_name="Comptoir")
    assert response["Location"] == f"/customers/{customer.public_id}/"
    assert (customer.branch, customer.email, customer.mobile) == (world.nodes["N1"], "lucie.comptoir@example.test",
                                                                  "+33611223344")
    assert customer.address_line1 == "12 rue Nationale\nBât. B"  # CRLF from the browser stored as LF
    assert customer.external_id.startswith("hand-") and customer.created_by == world.users["branch_manager"]
    assert customer.consent_email == ConsentStatus.GRANTED
    assert customer.consent_email_source == "counter, signed form"
    assert timezone.localtime(customer.consent_email_at).date() == timezone.localdate() - timedelta(days=2)
    event = ConsentEvent.objects.get(customer=customer)
    assert (event.channel, event.status, event.source, event.recorded_by) == (
        "email", "granted", "counter, signed form", world.users["branch_manager"])
    audit = NetworkEvent.objects.get(action=NetworkEvent.Action.CUSTOMER_CREATED)
    assert audit.actor == world.users["branch_manager"] and audit.node == world.nodes["N1"]
    assert audit.details["customer"] == customer.public_id
    assert "consent_email" in audit.details["fields"] and "email" in audit.details["fields"]
    assert "lucie" not in str(audit.details).lower()  # names of fields, never the customer's data
    # the detail page says who recorded the consent
    page = client.get(f"/customers/{customer.public_id}/").content.decode()
    assert "Tester Branch-Manager" in page and "counter, signed form" in page


def test_the_same_form_sent_twice_makes_one_customer(world):
    """The form carries a token: without a CRM id typed, the customer's CRM id is made from it, so a
    second submission (a double click, the back button) finds the customer it already created."""
    client = world.client_for("branch_manager")
    fields = replaced(_page_fields(client, "/customers/new/"), last_name="Double", email="double@example.test")
    first = _post(client, "/customers/new/", fields)
    second = _post(client, "/customers/new/", fields)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Customer.objects.filter(last_name="Double").count() == 1
    # with a CRM id typed, the second submission is refused on the field (the id is unique in the network)
    fields = replaced(_page_fields(client, "/customers/new/"), external_id="CRM-77", email="crm77@example.test")
    assert _post(client, "/customers/new/", fields).status_code == 302
    again = _post(client, "/customers/new/", replaced(fields, form_token="0" * 16))
    assert again.status_code == 200
    assert "This CRM id is already used by another customer of the network." in again.content.decode()
    assert Customer.objects.filter(external_id="CRM-77").count() == 1


def test_a_possible_duplicate_is_shown_with_a_link_not_refused(world):
    anne = world.customers["N1"]
    customer = customer_create(created_by=world.users["branch_manager"], branch=world.nodes["N1"],
                               data={"last_name": "Nord", "email": anne.email}, consents={})
    page = world.client_for("branch_manager").get(f"/customers/{customer.public_id}/").content.decode()
    assert 'data-testid="duplicates"' in page and f"/customers/{anne.public_id}/" in page


def test_head_office_chooses_the_branch_and_edits_any_customer(world):
    client = world.client_for("head_office")
    fields = _page_fields(client, "/customers/new/")
    assert "branch" in [name for name, _value in fields]
    response = _post(client, "/customers/new/", replaced(fields, branch=world.nodes["S1"].public_id,
                                                          last_name="Sudiste", mobile="0698765400"))
    assert response.status_code == 302
    assert Customer.objects.get(last_name="Sudiste").branch == world.nodes["S1"]
    bruno = world.customers["N2"]
    fields = replaced(_page_fields(client, f"/customers/{bruno.public_id}/edit/"), city="Arras")
    assert _post(client, f"/customers/{bruno.public_id}/edit/", fields).status_code == 302
    bruno.refresh_from_db()
    assert bruno.city == "Arras" and bruno.updated_by == world.users["head_office"]
    audit = NetworkEvent.objects.get(action=NetworkEvent.Action.CUSTOMER_EDITED)
    assert audit.details == {"customer": bruno.public_id, "fields": ["city"]}


def test_another_branch_s_customer_is_not_found_and_a_reader_may_not_edit(world):
    bruno = world.customers["N2"]
    city = bruno.city
    manager = world.client_for("branch_manager")
    assert manager.get(f"/customers/{bruno.public_id}/edit/").status_code == 404
    assert manager.post(f"/customers/{bruno.public_id}/edit/", {"city": "X"}).status_code == 404
    # a branch the manager does not hold, chosen by hand: not found either
    fields = [*_page_fields(manager, "/customers/new/"), ("branch", world.nodes["N2"].public_id)]
    assert _post(manager, "/customers/new/", replaced(fields, email="x@example.test")).status_code == 404
    assert not Customer.objects.filter(email="x@example.test", branch=world.nodes["N2"]).exists()
    regional = world.client_for("regional_manager")  # sees the customers, edits none
    assert regional.get(f"/customers/{bruno.public_id}/").status_code == 200
    assert regional.get(f"/customers/{bruno.public_id}/edit/").status_code == 403
    assert regional.get("/customers/new/").status_code == 404
    bruno.refresh_from_db()
    assert bruno.city == city  # untouched


# --- the checks, shared with the import -----------------------------------------------------------

TOMORROW = (timezone.localdate() + timedelta(days=1)).isoformat()

#: (field of the form and the API, column of the import, value, the message both give)
CHECKS = [
    ("email", "email", "anne@", "This is not a valid e-mail address."),
    ("mobile", "mobile", "12", "This is not a valid mobile number (e.g. 06 12 34 56 78 or +33612345678)."),
    ("civility", "civility", "Dr", "Civility must be Mme, M or empty."),
    ("country", "country", "France", "The country is a two-letter code such as FR."),
    ("interests", "interests", "vin rouge", "Invalid interest tag(s): vin rouge (letters, digits, - and _)."),
    ("city", "city", "x" * 101, "Longer than 100 characters."),
    ("consent_email_at", "consent_email_date", TOMORROW, "A consent date cannot be in the future."),
    ("consent_email_at", "consent_email_date", "31/02/2026", "A date is written 2025-12-31 or 31/12/2025."),
    ("consent_email", "consent_email", "maybe", "Consent is granted, denied, unknown or empty."),
]


def _import_errors(world, column: str, value: str) -> list[tuple[str, str]]:
    row = {"external_id": "CHK-1", "branch_code": "N1", "email": "chk@example.test", "consent_email": "granted",
           "consent_email_date": "", column: value}
    header = ",".join(row)
    line = ",".join(f'"{cell}"' for cell in row.values())
    result = customer_import_load(network=world.networks["alpha"], stream=io.BytesIO(f"{header}\n{line}\n".encode()))
    return [(error.field, error.reason) for error in result.errors]


@pytest.mark.parametrize("field, column, value, message", CHECKS, ids=[f"{c[0]}={c[2][:12]}" for c in CHECKS])
def test_the_form_the_api_and_the_import_refuse_a_value_with_the_same_words(world, field, column, value, message):
    assert (column, message) in _import_errors(world, column, value)
    posted = {"email": "chk@example.test", "last_name": "Check", "consent_email": "granted",
              "consent_email_source": "phone", "consent_email_at": timezone.localdate().isoformat(), field: value}
    form = world.client_for("branch_manager").post("/customers/new/", posted)
    assert form.status_code == 200
    errors = re.search(rf'id="id_{field}_error"[^>]*>(.*?)</div>', form.content.decode(), re.S)
    assert errors and message in errors.group(1).replace("&#x27;", "'")
    api = world.client_for("branch_manager").post("/api/v1/customers/", posted, content_type="application/json")
    assert api.status_code == 400 and api.json()[field] == [message]
    assert not Customer.objects.filter(last_name="Check").exists()


def test_the_checks_themselves():
    assert checks.email(" Anne@Example.TEST ") == "anne@example.test"
    assert checks.mobile("06 12 34 56 78") == "+33612345678"
    assert checks.civility("Madame") == "mme" and checks.country("") == "FR"
    assert checks.interests("Vin|fromage, vin") == ",vin,fromage,"
    with pytest.raises(checks.Invalid):
        checks.contact_required("", "")


def test_a_consent_change_needs_its_day_and_its_source(world):
    posted = {"email": "sans@example.test", "consent_sms": "granted", "consent_sms_at": "", "consent_sms_source": ""}
    answer = world.client_for("branch_manager").post("/api/v1/customers/", posted, content_type="application/json")
    assert answer.status_code == 400
    assert set(answer.json()) == {"consent_sms_at", "consent_sms_source"}


# --- withdrawal by hand ---------------------------------------------------------------------------

def test_a_withdrawal_by_hand_cancels_the_queued_messages_and_says_who(world):
    anne = world.customers["N1"]
    Customer.objects.filter(pk=anne.pk).update(consent_sms=ConsentStatus.GRANTED)
    anne.refresh_from_db()
    campaign = Campaign.objects.create(network=world.networks["alpha"], branch=world.nodes["N1"],
                                       template_version=sms_version(world), channel="sms",
                                       send_date=timezone.localdate(), status=CampaignStatus.SENDING)
    queued = Delivery.objects.create(campaign=campaign, customer=anne, channel="sms")
    client = world.client_for("branch_manager")
    fields = replaced(_page_fields(client, f"/customers/{anne.public_id}/edit/"), consent_sms="denied",
                      consent_sms_source="phone")
    response = _post(client, f"/customers/{anne.public_id}/edit/", fields)
    assert response.status_code == 302, response.content.decode()[:2000]
    queued.refresh_from_db()
    assert (queued.status, queued.reason) == (DeliveryStatus.CANCELLED, DeliveryReason.NO_CONSENT)
    anne.refresh_from_db()
    assert anne.consent_sms == ConsentStatus.DENIED and anne.consent_sms_source == "phone"
    event = ConsentEvent.objects.filter(customer=anne, channel="sms").first()
    assert (event.status, event.recorded_by) == ("denied", world.users["branch_manager"])
    # the history names the person for this change and the file for the import's
    page = client.get(f"/customers/{anne.public_id}/").content.decode()
    imported = CustomerImport.objects.create(network=world.networks["alpha"], original_name="crm-march.csv")
    ConsentEvent.objects.filter(customer=anne, channel="email").update(customer_import=imported)
    page = client.get(f"/customers/{anne.public_id}/").content.decode()
    assert "Tester Branch-Manager" in page and "import crm-march.csv" in page


def test_the_branch_is_not_edited_here(world):
    anne = world.customers["N1"]
    answer = world.client_for("head_office").patch(f"/api/v1/customers/{anne.public_id}/",
                                                   {"branch_code": "N2"}, content_type="application/json")
    assert answer.status_code == 400 and "branch_code" in answer.json()
    anne.refresh_from_db()
    assert anne.branch == world.nodes["N1"]


# --- the API --------------------------------------------------------------------------------------

def test_the_api_creates_and_patches_as_the_form_does(world):
    client = world.client_for("branch_manager")
    created = client.post("/api/v1/customers/", {
        "external_id": "API-1", "first_name": "Paul", "last_name": "Api", "mobile": "0611223355",
        "interests": ["vin", "fromage"], "consent_sms": "granted", "consent_sms_source": "web form",
        "consent_sms_at": timezone.now().isoformat()}, content_type="application/json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["branch_code"], body["mobile"], body["interests"], body["consent_sms"]) == (
        "N1", "+33611223355", ["vin", "fromage"], "granted")
    assert body["possible_duplicates"] == []
    again = client.post("/api/v1/customers/", {"external_id": "API-1", "email": "a@example.test"},
                        content_type="application/json")
    assert again.status_code == 400 and again.json()["external_id"] == [
        "This CRM id is already used by another customer of the network."]
    patched = client.patch(f"/api/v1/customers/{body['id']}/", {"city": "Lille\r\nCentre", "email": "bad"},
                           content_type="application/json")
    assert patched.status_code == 400 and patched.json() == {"email": ["This is not a valid e-mail address."]}
    patched = client.patch(f"/api/v1/customers/{body['id']}/", {"city": "Lille\r\nCentre"},
                           content_type="application/json")
    assert patched.status_code == 200 and patched.json()["city"] == "Lille\nCentre"
    customer = Customer.objects.get(external_id="API-1")
    assert customer.updated_by == world.users["branch_manager"]
    event = ConsentEvent.objects.get(customer=customer)
    assert (event.source, event.recorded_by) == ("web form", world.users["branch_manager"])
    # N2's manager does not see this customer; the regional manager sees it and may not edit it
    assert world.client_for("sibling_branch_manager").patch(
        f"/api/v1/customers/{body['id']}/", {"city": "X"}, content_type="application/json").status_code == 404
    assert world.client_for("regional_manager").patch(
        f"/api/v1/customers/{body['id']}/", {"city": "X"}, content_type="application/json").status_code == 403
    # head office creates in a branch it names; another network's branch is not found
    head_office = world.client_for("head_office")
    assert head_office.post("/api/v1/customers/", {"email": "h@example.test"},
                            content_type="application/json").json() == {"branch": ["Choose the branch of the customer."]}
    assert head_office.post("/api/v1/customers/", {"email": "h@example.test", "branch_code": "W1"},
                            content_type="application/json").status_code == 404
    assert head_office.post("/api/v1/customers/", {"email": "h@example.test", "branch_code": "S1"},
                            content_type="application/json").status_code == 201


def test_a_service_call_without_the_right_is_refused(world):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        customer_update(customer=world.customers["N2"], edited_by=world.users["branch_manager"],
                        data={"city": "X"}, consents={})


def test_a_form_with_errors_opens_on_their_summary_linking_to_each_field(world):
    from tests.architecture.test_form_error_summary import _summary_checks

    client = world.client_for("branch_manager")
    fields = replaced(_page_fields(client, "/customers/new/"), email="anne@", consent_sms="granted",
                      consent_sms_at=TOMORROW, consent_sms_source="phone")
    response = _post(client, "/customers/new/", fields)
    assert response.status_code == 200
    _summary_checks(response.content.decode(), ["email", "consent_sms_at"])


def test_an_address_on_the_suppression_list_is_shown_not_refused(world):
    from central.customers.consent import address_hash
    from central.models import Suppression

    Suppression.objects.create(network=world.networks["alpha"], channel="email",
                               value_hash=address_hash("bounced@example.test"), reason="hard bounce")
    customer = customer_create(created_by=world.users["branch_manager"], branch=world.nodes["N1"],
                               data={"email": "Bounced@example.test", "mobile": "0611000000"}, consents={})
    page = world.client_for("branch_manager").get(f"/customers/{customer.public_id}/").content.decode()
    assert 'data-testid="suppressed"' in page and "(E-mail)" in page
    other = world.client_for("branch_manager").get(f"/customers/{world.customers['N1'].public_id}/").content.decode()
    assert 'data-testid="suppressed"' not in other


def test_a_date_with_a_twenty_digit_year_is_a_bad_date_not_a_server_error():
    with pytest.raises(ValueError):
        parse_date("1/1/99999999999999999999")


def test_no_customer_is_added_to_a_closed_branch(world):
    """Checked under the branch's lock, as closing it is: a customer typed while the branch was
    being closed is refused, not left in a closed branch."""
    branch = world.nodes["N1"]
    Node.objects.filter(pk=branch.pk).update(is_active=False)  # closed since the form was shown
    with pytest.raises(ValidationError) as refused:
        customer_create(created_by=world.users["head_office"], branch=branch,
                        data={"first_name": "Walk", "last_name": "In", "email": "walk.in@example.test"}, consents={})
    assert "closed" in str(refused.value)
    assert not Customer.objects.filter(email="walk.in@example.test").exists()
