"""The purchase CSV import (the CRM's sales, for the campaigns' attributed revenue): each bad row
reported, unknown customers reported, each purchase recorded once however often the file comes."""

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from central.customers.importing import ImportFileError
from central.customers.services import customer_import_load
from central.models import CustomerImport, Purchase
from central.purchases.services import purchase_import_load

pytestmark = pytest.mark.django_db

CUSTOMERS = "external_id,branch_code,email,consent_email\nC1,N1,c1@example.test,granted\nC2,N2,c2@example.test,granted\n"
HEADER = "purchase_id,customer_external_id,branch_code,purchased_on,amount\n"


@pytest.fixture
def customers(world):
    customer_import_load(network=world.networks["alpha"], stream=io.BytesIO(CUSTOMERS.encode()))


def load(world, text: str, network: str = "alpha"):
    return purchase_import_load(network=world.networks[network], stream=io.BytesIO(text.encode("utf-8")))


def test_good_rows_are_recorded_and_each_bad_row_is_reported(world, customers):
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    result = load(world, HEADER + (
        "R1,C1,N1,2026-11-02,49.90\n"          # good
        "R2,C2,,02/11/2026,\"1 250,50\"\n"     # good: no branch (online), French writing
        "R3,C1,N1,2026-11-03,-12.90\n"         # good: a refund
        "R4,C9,N1,2026-11-03,10\n"             # unknown customer
        "R5,C1,ZZ,2026-11-03,10\n"             # unknown branch
        f"R6,C1,N1,{tomorrow},10\n"             # in the future
        "R7,C1,N1,2026-13-01,10\n"             # not a date
        "R8,C1,N1,2026-11-03,ten\n"            # not an amount
        "R9,,N1,2026-11-03,10\n"               # no customer
        "#R10,C1,N1,2026-11-03,10\n"           # reserved id
        "R11,C1,N1,2026-11-03,5\nR11,C2,N2,2026-11-04,6\n"  # one id, two lines
    ))
    assert (result.rows_total, result.rows_created, result.rows_updated) == (12, 3, 0)
    assert result.rows_rejected == 9
    fields = {(error.line, error.field) for error in result.errors}
    assert fields == {(5, "customer_external_id"), (6, "branch_code"), (7, "purchased_on"), (8, "purchased_on"),
                      (9, "amount"), (10, "customer_external_id"), (11, "purchase_id"), (12, "purchase_id"),
                      (13, "purchase_id")}
    unknown = next(error for error in result.errors if error.line == 5)
    assert "import the customers first" in unknown.reason and unknown.value == "C9"
    recorded = {p.key: (p.customer.external_id, p.branch.code if p.branch else None, p.purchased_on, p.amount)
                for p in Purchase.objects.select_related("customer", "branch")}
    assert recorded == {"R1": ("C1", "N1", date(2026, 11, 2), Decimal("49.90")),
                        "R2": ("C2", None, date(2026, 11, 2), Decimal("1250.50")),
                        "R3": ("C1", "N1", date(2026, 11, 3), Decimal("-12.90"))}


def test_a_nul_character_rejects_its_row_only(world, customers):
    """PostgreSQL stores no NUL: a cell holding one is that row's error, the rest of the file loads."""
    result = load(world, HEADER + "R1,C1,N1,2026-11-02,49.90\nR2\x00,C2,N2,2026-11-02,10\n")
    assert (result.rows_created, result.rows_rejected) == (1, 1)
    assert [(error.line, error.field, error.value) for error in result.errors] == [(3, "purchase_id", "R2")]
    assert list(Purchase.objects.values_list("key", flat=True)) == ["R1"]


def test_the_same_file_twice_records_each_purchase_once_and_a_correction_updates_it(world, customers):
    text = HEADER + "R1,C1,N1,2026-11-02,49.90\nR2,C2,N2,2026-11-02,20\n"
    load(world, text)
    again = load(world, text)
    assert (again.rows_created, again.rows_updated, Purchase.objects.count()) == (0, 2, 2)
    corrected = load(world, HEADER + "R1,C1,N1,2026-11-02,59.90\n")
    assert (corrected.rows_created, corrected.rows_updated) == (0, 1)
    assert Purchase.objects.get(key="R1").amount == Decimal("59.90")


def test_without_ids_identical_rows_are_distinct_purchases_but_the_file_twice_is_not(world, customers):
    text = "customer_external_id;purchased_on;amount\nC1;2026-11-02;10\nC1;2026-11-02;10\nC2;2026-11-02;10\n"
    first = load(world, text)
    assert (first.rows_created, Purchase.objects.count()) == (3, 3)
    second = load(world, text)
    assert (second.rows_created, second.rows_updated, Purchase.objects.count()) == (0, 3, 3)
    assert all(key.startswith("#") for key in Purchase.objects.values_list("key", flat=True))


def test_a_customer_of_another_network_is_unknown_here(world, customers):
    result = load(world, HEADER + "R1,C1,,2026-11-02,10\n", network="beta")
    assert result.rows_rejected == 1 and result.errors[0].field == "customer_external_id"
    assert not Purchase.objects.exists()


@pytest.mark.parametrize("text, message", [
    ("purchase_id,customer_external_id,amount\nR1,C1,10\n", "Missing required column(s): purchased_on."),
    ("customer_external_id,purchased_on,amount,email\nC1,2026-11-02,10,x@y.test\n", "Unknown column(s): email."),
    ("", "The file is empty."),
])
def test_unreadable_files_are_refused_whole(world, customers, text, message):
    with pytest.raises(ImportFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load(world, text)


def test_the_page_and_the_api_import_purchases_and_report(world, customers, django_capture_on_commit_callbacks):
    client = world.client_for("head_office")
    page = client.get("/customers/import/?kind=purchases").content.decode()
    assert 'value="purchases"' in page and "customer_external_id" in page
    upload = io.BytesIO((HEADER + "P1,C1,N1,2026-11-02,10\nP2,C404,N1,2026-11-02,10\n").encode())
    upload.name = "sales.csv"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/customers/import/", {"network": world.networks["alpha"].pk, "kind": "purchases",
                                                      "file": upload})
    assert response.status_code == 302
    body = client.get(response["Location"]).content.decode()
    assert "purchases recorded" in body and "C404" in body
    upload = io.BytesIO((HEADER + "A1,C2,N2,2026-11-03,30\n").encode())
    upload.name = "sales.csv"
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post("/api/v1/purchase-imports/", {"network": "alpha", "file": upload})
    assert created.status_code == 202 and created.json()["kind"] == "purchases"
    detail = client.get(f"/api/v1/purchase-imports/{created.json()['id']}/").json()
    assert (detail["status"], detail["rows_created"], detail["rows_rejected"]) == ("done", 1, 0)
    # one kind's resource is not found under the other's address
    assert client.get(f"/api/v1/customer-imports/{created.json()['id']}/").status_code == 404
    assert sorted(Purchase.objects.values_list("key", flat=True)) == ["A1", "P1"]
    assert CustomerImport.objects.filter(kind="purchases").count() == 2


@pytest.mark.parametrize("actor", ["branch_manager", "regional_manager", "approver", "analyst",
                                   "other_network_head_office"])
def test_only_the_networks_head_office_imports_purchases(world, customers, actor):
    client = world.client_for(actor)
    upload = io.BytesIO((HEADER + "X1,C1,N1,2026-11-02,10\n").encode())
    upload.name = "sales.csv"
    response = client.post("/api/v1/purchase-imports/", {"network": "alpha", "file": upload})
    assert response.status_code == 400 and "network" in response.json()
    assert not Purchase.objects.exists()
