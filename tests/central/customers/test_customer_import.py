"""The customer CSV import: each bad row reported with line, field and reason; good rows in,
bad rows out; upsert by CRM id; consent kept, changed and recorded in the history."""

import io
from datetime import timedelta

import pytest
from django.utils import timezone

from central.customers.importing import ImportFileError
from central.customers.services import customer_import_load
from central.models import ConsentEvent, Customer

pytestmark = pytest.mark.django_db

HEADER = "external_id,branch_code,first_name,last_name,email,mobile,consent_email,consent_sms\n"


def run_import(world, text: str, network: str = "alpha"):
    return customer_import_load(network=world.networks[network], stream=io.BytesIO(text.encode("utf-8")))


def errors_by_line(result) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    for error in result.errors:
        found.setdefault(error.line, set()).add(error.field)
    return found


def test_bad_rows_are_reported_and_left_out_while_good_rows_are_imported(world):
    # Given a file mixing good rows and each kind of bad row
    text = HEADER + (
        "G1,N1,Good,One,good.one@example.test,,granted,\n"  # line 2: good
        "B1,N1,No,Contact,,,,\n"  # line 3: neither e-mail nor mobile
        "B2,N1,Bad,Mail,not-an-email,,granted,\n"  # line 4: malformed e-mail
        "B3,XX,Lost,Branch,lost@example.test,,,\n"  # line 5: unknown branch
        "D1,N2,Dup,First,dup1@example.test,,,\n"  # line 6: duplicate CRM id...
        "G2,N2,Good,Two,,06 11 22 33 44,,granted\n"  # line 7: good (mobile only)
        "D1,N2,Dup,Second,dup2@example.test,,,\n"  # line 8: ...duplicated here
        "B4,N1,Bad,Consent,b4@example.test,,maybe,\n"  # line 9: bad consent value
        "B5,W1,Other,Network,b5@example.test,,,\n"  # line 10: a branch of another network
    )
    # When it is imported
    result = run_import(world, text)
    # Then every bad row is reported with its line and field
    assert errors_by_line(result) == {
        3: {"email"},
        4: {"email"},
        5: {"branch_code"},
        6: {"external_id"},
        8: {"external_id"},
        9: {"consent_email"},
        10: {"branch_code"},
    }
    reasons = {error.line: error.reason for error in result.errors}
    assert "also appears on line(s) 8" in reasons[6]
    assert "Unknown branch" in reasons[5]
    assert (result.rows_total, result.rows_created, result.rows_updated, result.rows_rejected) == (9, 2, 0, 7)
    # And only the good rows are in
    imported = set(
        Customer.objects.filter(network=world.networks["alpha"]).values_list("external_id", flat=True)
    )
    assert imported == {"A-N1", "A-N2", "A-S1", "G1", "G2"}
    assert Customer.objects.get(external_id="G2").mobile == "+33611223344"


def test_reimport_updates_by_crm_id_keeps_public_id_and_unspecified_consent(world):
    before = world.customers["N1"]
    assert before.consent_email == "granted"
    # The CRM sends the same customer with a new name, no e-mail consent and a new SMS consent
    result = run_import(
        world, HEADER + "A-N1,N2,Anne,Nord-Martin,anne.nord@example.test,0612345678,,granted\n"
    )
    assert (result.rows_created, result.rows_updated, result.rows_rejected) == (0, 1, 0)
    after = Customer.objects.get(pk=before.pk)
    assert after.public_id == before.public_id
    assert after.last_name == "Nord-Martin"
    assert after.branch.code == "N2"  # ownership follows the CRM
    assert after.consent_email == "granted"  # empty cell: consent kept
    assert after.consent_email_at == before.consent_email_at
    assert after.consent_sms == "granted"  # changed
    history = list(
        ConsentEvent.objects.filter(customer=after, channel="sms").values_list("status", flat=True)
    )
    assert history == ["granted", "denied"]  # newest first: the change and the original


def test_same_consent_again_writes_no_history(world):
    customer = world.customers["N1"]
    count = ConsentEvent.objects.filter(customer=customer).count()
    run_import(world, HEADER + "A-N1,N1,Anne,Nord,anne.nord@example.test,0612345678,granted,denied\n")
    assert ConsentEvent.objects.filter(customer=customer).count() == count


def test_objection_beats_consent_and_is_recorded(world):
    run_import(
        world,
        "external_id,branch_code,email,consent_email,objection,objection_date\nA-N2,N2,bruno.voisin@example.test,granted,yes,2025-03-01\n",
    )
    customer = Customer.objects.get(external_id="A-N2")
    assert customer.has_objected
    assert customer.consent_for("email") == "denied"
    assert ConsentEvent.objects.filter(customer=customer, channel="all", status="objected").count() == 1
    # Withdrawing it is recorded too
    run_import(world, "external_id,branch_code,email,objection\nA-N2,N2,bruno.voisin@example.test,no\n")
    customer.refresh_from_db()
    assert not customer.has_objected
    assert ConsentEvent.objects.filter(customer=customer, channel="all", status="withdrawn").count() == 1


def test_a_stop_or_an_unsubscribe_made_through_relais_is_not_undone_by_a_file(world):
    """The CRM does not know yet that Anne replied STOP and that Bruno clicked an unsubscribe link:
    re-exporting their old consents subscribes nobody again; a consent dated after the STOP does."""
    from central.customers.consent import customer_consent_withdraw, customer_objection_record

    anne, bruno = world.customers["N1"], world.customers["N2"]
    Customer.objects.filter(pk=anne.pk).update(consent_sms="granted")
    anne.refresh_from_db()
    stopped = timezone.now() - timedelta(days=3)
    customer_consent_withdraw(customer=anne, channel="sms", source="SMS STOP (reply SM123)", at=stopped)
    customer_objection_record(customer=bruno, source="unsubscribe link")
    header = "external_id,branch_code,email,mobile,consent_sms,consent_sms_date,objection\n"
    run_import(world, header + "A-N1,N1,anne.nord@example.test,0612345678,granted,,\n"
                              "A-N2,N2,bruno.voisin@example.test,,,,no\n")
    anne.refresh_from_db()
    assert (anne.consent_sms, anne.consent_sms_at) == ("denied", stopped)
    assert Customer.objects.get(pk=bruno.pk).has_objected
    assert not ConsentEvent.objects.filter(customer=anne, channel="sms", status="granted", recorded_at__gt=stopped)
    run_import(world, header + "A-N1,N1,anne.nord@example.test,0612345678,granted,2020-01-01,\n")
    assert Customer.objects.get(pk=anne.pk).consent_sms == "denied"  # dated before the STOP
    given_again = (timezone.localdate() - timedelta(days=1)).isoformat()
    run_import(world, header + f"A-N1,N1,anne.nord@example.test,0612345678,granted,{given_again},\n")
    assert Customer.objects.get(pk=anne.pk).consent_sms == "granted"  # given again after the STOP


def test_same_crm_id_in_two_networks_are_two_customers(world):
    result = run_import(world, HEADER + "A-N1,W1,Homonyme,Beta,h@example.test,,,\n", network="beta")
    assert result.rows_created == 1
    assert Customer.objects.filter(external_id="A-N1").count() == 2
    assert Customer.objects.get(external_id="A-N1", network=world.networks["alpha"]).first_name == "Anne"


def test_semicolon_separated_file_with_bom_and_french_dates(world):
    text = "\ufeffexternal_id;branch_code;email;consent_email;consent_email_date;last_purchase_date;lifetime_value\n"
    text += "FR1;S1;fr1@example.test;oui;15/01/2025;31/12/2025;1 250,50\n"
    result = run_import(world, text)
    assert result.rows_rejected == 0, result.errors
    customer = Customer.objects.get(external_id="FR1")
    assert customer.consent_email == "granted"
    assert timezone.localtime(customer.consent_email_at).date().isoformat() == "2025-01-15"
    assert str(customer.lifetime_value) == "1250.50"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("external_id,branch_code,emial\nX,N1,x@example.test\n", "Unknown column"),
        ("external_id,email\nX,x@example.test\n", "Missing required column"),
        ("external_id,branch_code,first_name\nX,N1,Y\n", "email"),
        ("", "empty"),
    ],
)
def test_unreadable_files_are_refused_whole(world, text, message):
    count = Customer.objects.count()
    with pytest.raises(ImportFileError, match=message):
        run_import(world, text)
    assert Customer.objects.count() == count


def test_not_utf8_when_utf8_is_chosen_is_refused_with_a_clear_message(world):
    with pytest.raises(ImportFileError, match="UTF-8"):
        customer_import_load(
            network=world.networks["alpha"], encoding="utf-8",
            stream=io.BytesIO("external_id,branch_code,email\nX,N1,é@x.fr\n".encode("latin-1")),
        )


def test_future_consent_date_and_bad_scores_are_row_errors(world):
    text = "external_id,branch_code,email,consent_email,consent_email_date,rfm_recency,interests\n"
    text += "F1,N1,f1@example.test,granted,2999-01-01,9,vins|<script>\n"
    result = run_import(world, text)
    assert errors_by_line(result) == {2: {"consent_email_date", "rfm_recency", "interests"}}


def test_import_page_runs_the_import_and_reports_bad_rows(world, django_capture_on_commit_callbacks):
    client = world.client_for("head_office")
    upload = io.BytesIO((HEADER + "P1,N1,Page,One,p1@example.test,,granted,\nP2,N1,Page,Two,,,,\n").encode())
    upload.name = "crm.csv"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/customers/import/", {"network": world.networks["alpha"].pk, "file": upload})
    assert response.status_code == 302
    report = client.get(response["Location"])
    body = report.content.decode()
    assert report.status_code == 200
    assert "An e-mail address or a mobile number is required." in body
    assert Customer.objects.filter(external_id="P1").exists()
    assert not Customer.objects.filter(external_id="P2").exists()
    errors_csv = client.get(response["Location"] + "errors.csv").content.decode()
    assert errors_csv.splitlines()[1].startswith("3,email,")


def test_import_page_refuses_a_non_csv_file_with_a_form_error(world):
    client = world.client_for("head_office")
    upload = io.BytesIO(b"GIF89a")
    upload.name = "photo.gif"
    response = client.post("/customers/import/", {"network": world.networks["alpha"].pk, "file": upload})
    assert response.status_code == 200
    assert "Send a .csv file" in response.content.decode()


def test_import_api_accepts_a_file_and_reports(world, django_capture_on_commit_callbacks):
    client = world.client_for("head_office")
    upload = io.BytesIO(
        (
            HEADER + "API1,N1,Api,One,api1@example.test,,granted,\nAPI2,NOPE,Api,Two,a2@example.test,,,\n"
        ).encode()
    )
    upload.name = "crm.csv"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/customer-imports/", {"network": "alpha", "file": upload})
    assert response.status_code == 202
    detail = client.get(f"/api/v1/customer-imports/{response.json()['id']}/").json()
    assert detail["status"] == "done"
    assert (detail["rows_created"], detail["rows_rejected"]) == (1, 1)
    assert detail["errors"][0]["line"] == 3 and detail["errors"][0]["field"] == "branch_code"


@pytest.mark.parametrize(
    "actor", ["branch_manager", "regional_manager", "approver", "analyst", "other_network_head_office"]
)
def test_only_the_networks_head_office_imports_into_it(world, actor):
    client = world.client_for(actor)
    upload = io.BytesIO((HEADER + "X1,N1,X,Y,x@example.test,,,\n").encode())
    upload.name = "crm.csv"
    response = client.post("/api/v1/customer-imports/", {"network": "alpha", "file": upload})
    assert response.status_code == 400
    assert "network" in response.json()
    assert not Customer.objects.filter(external_id="X1").exists()
    if actor != "other_network_head_office":
        assert client.get("/customers/import/").status_code == 404


def test_the_report_is_written_in_the_uploaders_language(world, django_capture_on_commit_callbacks):
    from central.models import CustomerImport

    client = world.client_for("head_office")
    upload = io.BytesIO((HEADER + "L1,N1,No,Contact,,,,\n").encode())
    upload.name = "crm.csv"
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/customers/import/", {"network": world.networks["alpha"].pk, "file": upload}, HTTP_ACCEPT_LANGUAGE="fr")
    record = CustomerImport.objects.get()
    assert record.language == "fr"
    assert record.errors[0]["reason"] == "Une adresse e-mail ou un numéro de mobile est obligatoire."
