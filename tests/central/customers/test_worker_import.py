"""A customer import sent through the API runs on a Celery worker and reports back.

With RELAIS_TEST_WORKER=1 (CI's PostgreSQL + Redis run) the task crosses a real broker to a
real worker process; otherwise it runs in-process. Either way the data are committed for real."""

import io
import time

import pytest

from central.models import Customer, CustomerImport

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery_worker]


def wait_until_finished(public_id: str, timeout: float = 60.0) -> CustomerImport:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = CustomerImport.objects.get(public_id=public_id)
        if record.is_finished:
            return record
        time.sleep(0.2)
    raise AssertionError(f"import {public_id} did not finish in {timeout} s (status {record.status})")


def test_import_through_the_api_is_run_by_the_worker(transactional_world):
    client = transactional_world.client_for("head_office")
    rows = "".join(
        f"W{number},N1,Prénom,Nom{number},w{number}@example.test,,granted,\n" for number in range(500)
    )
    upload = io.BytesIO(
        (
            "external_id,branch_code,first_name,last_name,email,mobile,consent_email,consent_sms\n"
            + rows
            + "BAD,N1,,,,,,\n"
        ).encode()
    )
    upload.name = "crm.csv"
    response = client.post("/api/v1/customer-imports/", {"network": "alpha", "file": upload})
    assert response.status_code == 202
    record = wait_until_finished(response.json()["id"])
    assert record.status == CustomerImport.Status.DONE, record.failure_reason
    assert (record.rows_total, record.rows_created, record.rows_rejected) == (501, 500, 1)
    assert Customer.objects.filter(external_id__startswith="W").count() == 500
    page = client.get(f"/customers/imports/{record.public_id}/").content.decode()
    assert "An e-mail address or a mobile number is required." in page


def test_running_the_same_import_twice_changes_nothing_more(transactional_world):
    from central.customers.services import customer_import_run

    client = transactional_world.client_for("head_office")
    upload = io.BytesIO(b"external_id,branch_code,email\nT1,N1,t1@example.test\n")
    upload.name = "crm.csv"
    record = wait_until_finished(
        client.post("/api/v1/customer-imports/", {"network": "alpha", "file": upload}).json()["id"]
    )
    again = customer_import_run(customer_import_id=record.pk)  # a redelivered task
    assert again.rows_created == record.rows_created == 1
    assert Customer.objects.filter(external_id="T1").count() == 1
