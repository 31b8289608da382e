"""CRM files as they really are: French Excel's Windows-1252 with semicolons, UTF-8 with a BOM, tabs,
the CRM's own column names (synonyms), unknown columns mapped on the upload page or through the API,
a mapping saved and used again, a file that is not in the encoding chosen. Each file is written as
bytes, as the CRM writes it."""

import io
import json
import re

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from central.customers import mappings
from central.customers.csv_files import ImportFileError, detect_encoding, normalise_header
from central.customers.services import customer_import_load
from central.models import Customer, CustomerImport, CustomerImportMapping

pytestmark = pytest.mark.django_db

FRENCH_EXCEL = (
    "Code client;Code magasin;Civilité;Prénom;Nom;E-mail;Portable;CP;Ville;Région\r\n"
    "W1;N1;Mme;Hélène;Léger;helene.leger@example.test;06 12 34 56 78;75001;Paris;Île-de-France\r\n"
    "W2;N1;M.;François;Gâteau;;;13001;Marseille;Provence\r\n"  # neither e-mail nor mobile
    "W3;ZZ;M.;Noël;Bœuf;noel@example.test;;69001;Lyon;Rhône\r\n"  # unknown branch
)


def upload(data: bytes, name: str = "crm.csv") -> io.BytesIO:
    stream = io.BytesIO(data)
    stream.name = name
    return stream


def load(world, data: bytes, **options):
    return customer_import_load(network=world.networks["alpha"], stream=io.BytesIO(data), **options)


def test_header_names_are_compared_trimmed_casefolded_and_without_accents():
    assert normalise_header("  Prénom ") == "prenom"
    assert normalise_header("E-MAIL") == "e_mail"
    assert normalise_header("\ufeffCode  Magasin") == "code_magasin"


def test_the_encoding_is_detected_on_the_first_bytes():
    assert detect_encoding("Prénom;Nom\n".encode()) == "utf-8-sig"
    assert detect_encoding(b"\xef\xbb\xbfexternal_id\n") == "utf-8-sig"
    assert detect_encoding(FRENCH_EXCEL.encode("cp1252")) in {"cp1252", "iso8859_15"}
    assert detect_encoding(b"\x93\x94\xe9\x80" * 3) in {"cp1252", "iso8859_15", "cp850", "mac_roman"}


def test_a_windows_1252_file_with_semicolons_and_crm_names_imports_with_its_accents(world):
    # Given French Excel's CSV: Windows-1252, semicolons, the CRM's own column names, one column
    # ("Région") that is not Relais' and is ignored by a mapping
    data = FRENCH_EXCEL.encode("cp1252")
    result = load(world, data, mapping={"Région": "ignore"})
    # Then the accents are right and each bad row is still reported with its line and column
    helene = Customer.objects.get(external_id="W1")
    assert (helene.first_name, helene.last_name, helene.civility) == ("Hélène", "Léger", "mme")
    assert (helene.mobile, helene.postal_code, helene.branch.code) == ("+33612345678", "75001", "N1")
    assert {(error.line, error.field) for error in result.errors} == {(3, "email"), (4, "branch_code")}
    assert (result.rows_created, result.rows_rejected) == (1, 2)


def test_a_column_named_in_a_mapping_is_read_as_that_column(world):
    data = FRENCH_EXCEL.encode("cp1252")
    load(world, data, mapping={"Région": "segment"})
    assert Customer.objects.get(external_id="W1").segment == "Île-de-France"


def test_a_utf8_file_with_bom_and_a_tab_separated_file(world):
    bom = "\ufeffexternal_id,branch_code,first_name,email\nB1,N1,Zoé,zoe@example.test\n".encode()
    assert load(world, bom).rows_created == 1
    tabs = "Code client\tCode magasin\tPrénom\tCourriel\nT1\tN2\tÉmile\temile@example.test\n".encode()
    result = load(world, tabs)
    assert (result.rows_created, result.rows_rejected) == (1, 0)
    assert Customer.objects.get(external_id="B1").first_name == "Zoé"
    assert Customer.objects.get(external_id="T1").first_name == "Émile"


def test_a_file_not_in_the_chosen_encoding_gives_the_clear_whole_file_error(world):
    data = FRENCH_EXCEL.encode("cp1252")
    with pytest.raises(ImportFileError, match="cannot be read as UTF-8"):
        load(world, data, encoding="utf-8", mapping={"Région": "ignore"})
    # a bad byte far after the header fails the file too (nothing is imported)
    late = ("external_id,branch_code,email\n" + "L1,N1,l1@example.test\n" * 5000).encode() + b"L2,N1,\xe9\n"
    with pytest.raises(ImportFileError, match="cannot be read as UTF-8"):
        load(world, late, encoding="utf-8")
    assert not Customer.objects.filter(external_id__in=["W1", "L1"]).exists()


def test_a_file_not_in_the_chosen_encoding_fails_the_import_with_that_message(world, django_capture_on_commit_callbacks):
    client = world.client_for("head_office")
    data = "external_id,branch_code,email\nU1,N1,u1@example.test\n".encode("utf-16")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/customer-imports/", {"network": "alpha", "file": upload(data),
                                                              "encoding": "utf-8", "mapping": ""})
    assert response.status_code == 202
    record = CustomerImport.objects.get()
    assert record.status == "failed" and "cannot be read as UTF-8" in record.failure_reason
    # detected, the same file imports
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/api/v1/customer-imports/", {"network": "alpha", "file": upload(data)})
    assert Customer.objects.filter(external_id="U1").exists()


def test_the_page_asks_for_unknown_columns_shows_the_first_rows_saves_the_mapping_and_uses_it_again(
    world, django_capture_on_commit_callbacks
):
    client = world.client_for("head_office")
    data = FRENCH_EXCEL.encode("cp1252")
    network = world.networks["alpha"].pk
    # Given the upload of a file with a column Relais does not know
    response = client.post("/customers/import/", {"network": network, "file": upload(data), "encoding": ""})
    # Then the mapping step asks for that column only, with the first rows and their problems
    body = response.content.decode()
    assert response.status_code == 200
    assert "File column “Région”" in body and "Ignore this column" in body
    assert "Hélène" in body and "Île-de-France" in body
    assert "Unknown branch" in body
    assert re.search(r'<input type="checkbox" name="save_mapping"[^>]*checked', body)
    record = CustomerImport.objects.get()
    assert record.status == CustomerImport.Status.MAPPING
    assert not Customer.objects.filter(external_id="W1").exists()
    # The step may be taken up again from the import's page (the recent imports list links to it)
    again_step = client.get(f"/customers/imports/{record.public_id}/")
    assert again_step.status_code == 200 and "File column “Région”" in again_step.content.decode()
    assert 'action="/customers/import/"' in again_step.content.decode()
    # A column read twice is refused beside its list
    refused = client.post("/customers/import/", {"import": record.public_id, "column_0": "first_name",
                                                 "save_mapping": "on"})
    assert refused.status_code == 200 and "Column(s) appear twice: first_name" in refused.content.decode()
    # When the person maps it (the browser posts the step) the import runs
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post("/customers/import/", {"import": record.public_id, "column_0": "segment",
                                                  "save_mapping": "on", "mapping_name": "CRM Excel"})
    assert done.status_code == 302
    record.refresh_from_db()
    assert record.status == "done" and record.rows_created == 1 and record.rows_rejected == 2
    assert Customer.objects.get(external_id="W1").segment == "Île-de-France"
    saved = CustomerImportMapping.objects.get(network=world.networks["alpha"])
    assert (saved.name, saved.mapping) == ("CRM Excel", {"Région": "segment"})
    # And the next file of the same columns imports with no step
    again = FRENCH_EXCEL.replace("Hélène", "Hélèna").encode("cp1252")
    with django_capture_on_commit_callbacks(execute=True):
        next_response = client.post("/customers/import/", {"network": network, "file": upload(again)})
    assert next_response.status_code == 302
    assert Customer.objects.get(external_id="W1").first_name == "Hélèna"
    # the command too, without naming it
    path = world_tmp_file(again.replace("Hélèna".encode("cp1252"), "Hélènb".encode("cp1252")))
    with pytest.raises(SystemExit):  # rows rejected: exit code 3
        call_command("import_customers", "alpha", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    assert Customer.objects.get(external_id="W1").first_name == "Hélènb"


def world_tmp_file(data: bytes):
    import tempfile
    from pathlib import Path

    handle = tempfile.NamedTemporaryFile(suffix=".csv", delete=False)  # noqa: SIM115
    handle.write(data)
    handle.close()
    return Path(handle.name)


def test_a_file_whose_columns_are_all_known_or_synonyms_has_no_step(world, django_capture_on_commit_callbacks):
    client = world.client_for("head_office")
    data = "Code client;Code magasin;Nom;Courriel\nS1;N1;Sélène;s1@example.test\n".encode("cp1252")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/customers/import/", {"network": world.networks["alpha"].pk, "file": upload(data),
                                                      "encoding": "cp1252"})
    assert response.status_code == 302
    assert Customer.objects.get(external_id="S1").last_name == "Sélène"


def test_the_page_reports_a_file_not_in_the_chosen_encoding_beside_the_file(world):
    client = world.client_for("head_office")
    response = client.post("/customers/import/", {"network": world.networks["alpha"].pk,
                                                  "file": upload(FRENCH_EXCEL.encode("cp1252")), "encoding": "utf-8"})
    assert response.status_code == 200
    assert "cannot be read as UTF-8" in response.content.decode()
    assert not CustomerImport.objects.exists()


def test_the_api_takes_a_mapping_as_json_or_by_name(world, django_capture_on_commit_callbacks):
    client = world.client_for("head_office")
    data = FRENCH_EXCEL.encode("cp1252")
    # an unknown target column: 400 with the field's error
    bad = client.post("/api/v1/customer-imports/", {"network": "alpha", "file": upload(data),
                                                    "mapping": json.dumps({"Région": "region"})})
    assert bad.status_code == 400 and "region" in bad.json()["mapping"][0]
    assert client.post("/api/v1/customer-imports/", {"network": "alpha", "file": upload(data),
                                                     "mapping": "{not json"}).status_code == 400
    missing = client.post("/api/v1/customer-imports/", {"network": "alpha", "file": upload(data), "mapping": "Nope"})
    assert missing.status_code == 400 and "Nope" in missing.json()["mapping"][0]
    assert not CustomerImport.objects.exists()
    # a JSON object
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/customer-imports/", {"network": "alpha", "file": upload(data),
                                                              "mapping": json.dumps({"Région": "segment"})})
    assert response.status_code == 202
    detail = client.get(f"/api/v1/customer-imports/{response.json()['id']}/").json()
    assert detail["status"] == "done" and detail["rows_created"] == 1
    assert [(error["line"], error["field"]) for error in detail["errors"]] == [(3, "email"), (4, "branch_code")]
    assert Customer.objects.get(external_id="W1").segment == "Île-de-France"
    # a saved mapping's name (the API, then the command)
    mappings.mapping_save(network=world.networks["alpha"], header=["Autre"], mapping={"Région": "ignore"},
                          name="Sans région")
    with django_capture_on_commit_callbacks(execute=True):
        named = client.post("/api/v1/customer-imports/", {"network": "alpha", "file": upload(data),
                                                           "mapping": "Sans région"})
    assert client.get(f"/api/v1/customer-imports/{named.json()['id']}/").json()["status"] == "done"
    path = world_tmp_file(data)
    out = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("import_customers", "alpha", str(path), "--mapping", "Sans région", "--encoding", "cp1252",
                     stdout=out, stderr=io.StringIO())
    assert "1 updated, 2 rejected" in out.getvalue()
    with pytest.raises(CommandError, match="No saved mapping"):
        call_command("import_customers", "alpha", str(path), "--mapping", "Nope")
    with pytest.raises(CommandError, match="Unknown column"):  # no mapping: "Région" is unknown
        call_command("import_customers", "alpha", str(path))


@pytest.mark.parametrize("actor", ["other_network_head_office", "branch_manager"])
def test_the_mapping_step_of_another_networks_import_is_not_found(world, actor):
    client = world.client_for("head_office")
    client.post("/customers/import/", {"network": world.networks["alpha"].pk,
                                       "file": upload(FRENCH_EXCEL.encode("cp1252"))})
    record = CustomerImport.objects.get()
    response = world.client_for(actor).post("/customers/import/", {"import": record.public_id, "column_0": "segment"})
    assert response.status_code == 404
    record.refresh_from_db()
    assert record.status == CustomerImport.Status.MAPPING
    assert client.post("/customers/import/", {"import": "imp-missing", "column_0": "segment"}).status_code == 404


# --- files that broke the reading (review of the CRM-file reading) ---

LONG_HEADER = ("x" * 140_000 + "\n").encode()  # a header line over csv's 128 KiB field limit, no delimiter
OPEN_QUOTE = ("external_id;branch_code;email\nQ1;N1;\"q1@example.test\n" + "Q2;N1;q2@example.test\n" * 8000).encode()


@pytest.mark.parametrize("data", [LONG_HEADER, OPEN_QUOTE], ids=["long-header", "open-quote"])
def test_a_field_over_the_csv_limit_is_the_files_error_on_the_page_the_api_and_the_load(
    world, data, django_capture_on_commit_callbacks
):
    client = world.client_for("head_office")
    response = client.post("/customers/import/", {"network": world.networks["alpha"].pk, "file": upload(data)})
    assert response.status_code == 200
    assert "save it again as CSV" in response.content.decode()
    with pytest.raises(ImportFileError, match="save it again as CSV"):
        load(world, data)
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post("/api/v1/customer-imports/", {"network": "alpha", "file": upload(data)})
    assert created.status_code == 202
    detail = client.get(f"/api/v1/customer-imports/{created.json()['id']}/").json()
    assert detail["status"] == "failed" and "save it again as CSV" in detail["failure_reason"]
    assert "unexpected error" not in detail["failure_reason"]


def test_a_nul_in_a_mapping_key_or_a_header_or_the_step_s_import_field_is_no_500(world):
    client = world.client_for("head_office")
    data = FRENCH_EXCEL.encode("cp1252")
    refused = client.post("/api/v1/customer-imports/", {"network": "alpha", "file": upload(data),
                                                        "mapping": json.dumps({"Ré\x00gion": "segment"})})
    assert refused.status_code == 400 and "mapping" in refused.json()
    with pytest.raises(ValidationError):
        mappings.check_mapping({"A\x00": "ignore"})
    preview = mappings.preview(io.BytesIO(b"external_id;Col\x00umn;email\nN0;x;n0@example.test\n"),
                               network=world.networks["alpha"])
    assert preview.header == ["external_id", "Column", "email"]
    assert client.post("/customers/import/", {"import": "imp-\x00", "column_0": "segment"}).status_code == 404


def test_a_deeply_nested_json_mapping_is_a_400(world):
    client = world.client_for("head_office")
    response = client.post("/api/v1/customer-imports/", {
        "network": "alpha", "file": upload(FRENCH_EXCEL.encode("cp1252")), "mapping": "{\"a\":" * 3000 + "1" + "}" * 3000})
    assert response.status_code == 400 and "mapping" in response.json()


FRENCH_EXCEL_EURO = (
    "Code client;Code magasin;Nom;Courriel;Segment\r\n"
    "E1;N1;Dupont;e1@example.test;Panier 100€+\r\n"
    "E2;N1;O’Brien;e2@example.test;Panier 50€\r\n"
)


def test_a_windows_1252_file_with_only_euro_and_apostrophe_is_read_as_windows_1252(world):
    assert detect_encoding(FRENCH_EXCEL_EURO.encode("cp1252")) == "cp1252"
    assert detect_encoding(FRENCH_EXCEL.encode("cp1252")) == "cp1252"
    accents = "Nom;Ville\r\nCaf\u00e9 \u00e0 la cr\u00e8me;Fa\u00e7ade\r\n".encode("cp1252")
    assert detect_encoding(accents) == "cp1252"
    load(world, FRENCH_EXCEL_EURO.encode("cp1252"))
    assert Customer.objects.get(external_id="E1").segment == "Panier 100€+"
    assert Customer.objects.get(external_id="E2").last_name == "O’Brien"


def test_a_small_file_whose_only_accent_ends_it_is_not_taken_for_cut_utf8(world):
    data = "Code client;Code magasin;Courriel;Nom\r\nR1;N1;r1@example.test;René\r\n".encode("cp1252")
    assert detect_encoding(data) == "cp1252"
    load(world, data)
    assert Customer.objects.get(external_id="R1").last_name == "René"
    # a full sample cut inside a UTF-8 character is still UTF-8
    full = ("a" * (64 * 1024 - 1)).encode() + "é".encode()[:1]
    assert detect_encoding(full) == "utf-8-sig"


def test_saving_a_mapping_updates_the_one_of_its_headers_and_refuses_another_s_name(world):
    network = world.networks["alpha"]
    first = mappings.mapping_save(network=network, header=["Région"], mapping={"Région": "segment"}, name="CRM")
    again = mappings.mapping_save(network=network, header=["Région"], mapping={"Région": "ignore"}, name="CRM 2")
    assert again.pk == first.pk and (again.name, again.mapping) == ("CRM 2", {"Région": "ignore"})
    kept = mappings.mapping_save(network=network, header=["Région"], mapping={"Région": "segment"})
    assert kept.pk == first.pk and kept.name == "CRM 2"
    with pytest.raises(ValidationError) as refused:
        mappings.mapping_save(network=network, header=["Autre"], mapping={"Autre": "ignore"}, name="CRM 2")
    assert "mapping_name" in refused.value.message_dict
    assert CustomerImportMapping.objects.filter(network=network).count() == 1


def test_the_step_refuses_a_mapping_name_another_layout_uses_beside_the_name(world):
    client = world.client_for("head_office")
    mappings.mapping_save(network=world.networks["alpha"], header=["Autre"], mapping={"Autre": "ignore"},
                          name="CRM Excel")
    client.post("/customers/import/", {"network": world.networks["alpha"].pk,
                                       "file": upload(FRENCH_EXCEL.encode("cp1252"))})
    record = CustomerImport.objects.get()
    response = client.post("/customers/import/", {"import": record.public_id, "column_0": "segment",
                                                  "save_mapping": "on", "mapping_name": "CRM Excel"})
    body = response.content.decode()
    assert response.status_code == 200 and "already named “CRM Excel”" in body
    assert re.search(r'id="id_mapping_name_error"[^>]*>A mapping of other columns', body)
    record.refresh_from_db()
    assert record.status == CustomerImport.Status.MAPPING


@pytest.mark.parametrize("field, value", [("mapping", json.dumps({"Montant": "ignore"})), ("encoding", "cp1252")])
def test_the_purchases_api_refuses_a_mapping_or_an_encoding(world, field, value):
    client = world.client_for("head_office")
    data = b"external_id,amount,purchased_at\nW1,10,2025-01-01\n"
    response = client.post("/api/v1/purchase-imports/", {"network": "alpha", "file": upload(data), field: value})
    assert response.status_code == 400 and field in response.json()
    assert not CustomerImport.objects.exists()
