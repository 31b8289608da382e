"""The structure's API does what its pages do, with the same checks and messages."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from central.customers.transfers import ownership_transfer_request
from local_stores.models import NetworkEvent, Node

pytestmark = pytest.mark.django_db


def test_create_rename_move_and_contact_fields_through_the_api(world):
    client = world.client_for("head_office")
    created = client.post("/api/v1/nodes/", {"parent": world.nodes["alpha:HQ"].public_id, "kind": "region",
                                             "code": "EAST", "name": "Est"}, content_type="application/json")
    assert created.status_code == 201, created.json()
    east = created.json()["id"]
    branch = client.post("/api/v1/nodes/", {"parent": east, "kind": "branch", "code": "E1", "name": "Metz",
                                            "opening_hours": "Lun\r\nMar", "country": "FR"},
                         content_type="application/json").json()
    assert (branch["parent"], branch["opening_hours"]) == (east, "Lun\nMar")

    changed = client.patch(f"/api/v1/nodes/{branch['id']}/", {"name": "Metz Gare", "parent": world.nodes["NORTH"].public_id,
                                                              "phone": "03 87 00 00 00"}, content_type="application/json")
    assert changed.status_code == 200, changed.json()
    assert (changed.json()["name"], changed.json()["parent_name"], changed.json()["phone"]) == (
        "Metz Gare", "North", "03 87 00 00 00")
    actions = set(NetworkEvent.objects.filter(node__public_id=branch["id"]).values_list("action", flat=True))
    assert actions == {"node_created", "node_moved", "node_renamed"}

    duplicate = client.post("/api/v1/nodes/", {"parent": east, "kind": "branch", "code": "E1", "name": "Bis"},
                            content_type="application/json")
    assert duplicate.status_code == 400 and "code" in duplicate.json()
    bad = client.patch(f"/api/v1/nodes/{branch['id']}/", {"email": "nope"}, content_type="application/json")
    assert bad.status_code == 400 and "email" in bad.json()
    listed = client.get("/api/v1/nodes/?q=metz").json()
    assert [node["code"] for node in listed["results"]] == ["E1"]


def test_closing_through_the_api_is_refused_with_the_same_reasons(world):
    client = world.client_for("head_office")
    n2 = world.nodes["N2"].public_id
    refused = client.post(f"/api/v1/nodes/{n2}/close/")
    assert refused.status_code == 400
    message = " ".join(refused.json()["non_field_errors"])
    assert "Ownership transfers" in message and "/network/transfers/" in message
    ownership_transfer_request(to_branch=world.nodes["N1"], customer_reference="A-N2",
                               requested_by=world.users["head_office"])
    closed = client.post(f"/api/v1/nodes/{n2}/close/")
    assert closed.status_code == 200 and closed.json()["is_active"] is False and closed.json()["closed_at"]
    assert client.post(f"/api/v1/nodes/{n2}/reopen/").json()["is_active"] is True


def test_the_structure_import_through_the_api(world, sink, django_capture_on_commit_callbacks):
    client = world.client_for("head_office")
    csv_file = SimpleUploadedFile("r.csv", b"region;branch_code;name;country;manager_email\r\nNorth;N9;Douai;FR;"
                                  b"douai@alpha.test\r\nNorth;N10;;FR;\r\n", content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post("/api/v1/structure-imports/", {"file": csv_file})
    assert answer.status_code == 200, answer.json()
    report = answer.json()
    assert (report["branches_created"], report["invitations_sent"], report["rows_rejected"]) == (1, 1, 1)
    assert report["errors"] == [{"line": 3, "field": "name", "reason": "The name is required.", "value": ""}]
    assert sink.handler.addresses() == ["douai@alpha.test"]

    nothing = client.post("/api/v1/structure-imports/", {"file": SimpleUploadedFile(
        "r.csv", b"region,branch_code,name,country\nNorth,N11,Douai,ZZ\n", content_type="text/csv")})
    assert nothing.status_code == 400 and nothing.json()["errors"][0]["field"] == "country"
    unreadable = client.post("/api/v1/structure-imports/", {"file": SimpleUploadedFile(
        "r.csv", b"name\nX\n", content_type="text/csv")})
    assert unreadable.status_code == 400 and "file" in unreadable.json()
    assert not Node.objects.filter(code="N11").exists()


def test_a_country_typed_in_lower_case_is_stored_as_its_code_and_a_huge_file_is_refused(world, settings):
    client = world.client_for("head_office")
    node = client.post("/api/v1/nodes/", {"parent": world.nodes["NORTH"].public_id, "kind": "branch", "code": "N8",
                                          "name": "Lens", "country": "be"}, content_type="application/json").json()
    assert node["country"] == "BE"
    rows = "".join(f"North,X{index},Agence {index}\n" for index in range(2001))
    refused = client.post("/api/v1/structure-imports/", {"file": SimpleUploadedFile(
        "big.csv", f"region,branch_code,name\n{rows}".encode(), content_type="text/csv")})
    assert refused.status_code == 400 and "2000" in refused.json()["file"][0]
    assert not Node.objects.filter(code="X1").exists()
