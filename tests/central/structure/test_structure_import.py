"""The structure import: a file of 300 branches, bad rows among them, posted on the page as a browser
posts it; every bad row reported with its line and column, the good ones created in one go, their
managers invited (the e-mails read from a real SMTP server) or given the role at once."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from central.structure import importing
from local_stores.models import Invitation, Membership, NetworkEvent, Node, NodeKind, Role
from local_stores.selectors import node_in_scope

pytestmark = pytest.mark.django_db

HEADER = "region,branch_code,name,address_line1,address_line2,postal_code,city,country,email,phone,opening_hours,manager_email,fax"
BAD = {  # line → (column, the row's cells)
    10: ("branch_code", ["Est", "B005", "Doublon"]),
    20: ("email", ["Est", "B020", "Mauvais e-mail", "", "", "", "", "FR", "pas-une-adresse"]),
    30: ("name", ["Est", "B030", ""]),
    40: ("city", ["Est", "B040", "Nul", "", "", "", "Me\x00tz"]),
    50: ("country", ["Est", "B050", "Pays", "", "", "", "", "XX"]),
    60: ("", ["Est", "B060", "Trop", "", "", "", "", "FR", "", "", "", "", "", "en trop"]),
    70: ("manager_email", ["Est", "B070", "Gérant", "", "", "", "", "FR", "", "", "", "pas@"]),
}


def hq(world) -> str:
    """The hidden field of the page's form: the network's head office (its public id)."""
    return world.nodes["alpha:HQ"].public_id


def structure_file(world) -> str:
    """300 rows (lines 2 to 301 as a spreadsheet numbers them: a quoted cell spans two lines of
    text): new regions, N2 updated, bad rows, managers on some lines."""
    lines = [HEADER]
    for line in range(2, 302):
        if line in BAD:
            cells = BAD[line][1]
            lines.append(",".join(cells + [""] * (13 - len(cells))))  # line 60: 14 cells
            continue
        region = "Est" if line % 2 else "Ouest Atlantique"
        manager = f"gerant{line}@alpha.test" if line % 25 == 0 else ""
        code, name = f"B{line:03d}", f"Comptoir {line}"
        if line == 80:
            region, code, name = "north", "N2", "Arras Gare"  # an existing branch: updated
        if line == 90:
            manager = world.users["sibling_branch_manager"].email  # a person of the network
        if line == 95:
            manager = world.users["other_network_head_office"].email  # a person of another network
        if line in (98, 99):
            manager = "deux.agences@alpha.test"  # one address for two branches
        lines.append(",".join([region, code, name, f"{line} rue de la Paix", "", "75002", "Paris", "fr",
                               f"b{line}@alpha.test", "+33 1 23 45 67 89", '"Lun-Ven 9h-19h\nSam 9h-13h"',
                               manager, "01 00 00 00 00"]))
    return "\r\n".join(lines) + "\r\n"


def test_a_file_of_300_branches_reports_each_bad_row_and_creates_the_good_ones(world, sink,
                                                                              django_capture_on_commit_callbacks):
    client = world.client_for("head_office")
    upload = SimpleUploadedFile("reseau.csv", structure_file(world).encode(), content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/network/structure/import/", {"head_office": hq(world), "file": upload})
    assert response.status_code == 302, response.content.decode()[:2000]
    page = client.get(response["Location"])
    body = page.content.decode()

    # each bad row, by its line and its column; the unknown column on line 1
    report = client.get(response["Location"] + "report.csv")
    rows = list(csv.DictReader(io.StringIO(report.content.decode())))
    errors = {(int(row["line"]), row["column"]) for row in rows}
    expected = {(line, column) for line, (column, _cells) in BAD.items()} | {(1, "fax")}
    assert expected <= errors, expected - errors
    assert all(f"<td data-label=\"Line\">{line}</td>" in body for line in BAD)
    assert "Metz" in report.content.decode() and "\x00" not in report.content.decode()
    notes = {(int(row["line"]), row["column"]) for row in rows} - expected
    assert notes == {(95, "manager_email"), (99, "manager_email")}, notes

    # the good ones: 300 rows − 7 bad − N2 updated
    alpha = world.networks["alpha"]
    created = Node.objects.filter(network=alpha, kind=NodeKind.BRANCH, code__startswith="B")
    assert created.count() == 300 - len(BAD) - 1
    assert "292" in body and "branches created" in body
    regions = {node.name: node for node in Node.objects.filter(network=alpha, kind=NodeKind.REGION)}
    assert {"Est", "Ouest Atlantique"} <= set(regions) and "Regions created" in body
    b003 = created.get(code="B003")
    assert (b003.parent, b003.country, b003.opening_hours) == (regions["Est"], "FR", "Lun-Ven 9h-19h\nSam 9h-13h")
    n2 = Node.objects.get(pk=world.nodes["N2"].pk)
    assert (n2.name, n2.parent_id, n2.city) == ("Arras Gare", world.nodes["NORTH"].pk, "Paris")

    # their managers: invitations e-mailed through the SMTP server, or the role at once
    invited = {f"gerant{line}@alpha.test" for line in range(25, 302, 25) if line not in BAD} | {
        "deux.agences@alpha.test"}
    assert set(sink.handler.addresses()) == invited
    for received in sink.handler.received:
        invitation = Invitation.objects.get(email=received.to)
        assert invitation.role == Role.BRANCH_MANAGER and invitation.used_at is None
        assert re.search(r"https://relais\.example\.test/accounts/invitation/[\w-]{20,}/", received.message.get_content())
    assert Invitation.objects.get(email="deux.agences@alpha.test").node.code == "B098"
    assert node_in_scope(world.users["sibling_branch_manager"], created.get(code="B090"), perm="change_node")
    assert not Invitation.objects.filter(email=world.users["other_network_head_office"].email).exists()
    event = NetworkEvent.objects.get(action=NetworkEvent.Action.STRUCTURE_IMPORTED)
    assert event.details["branches_created"] == 292 and event.details["rows_rejected"] == len(BAD)


def test_the_row_checks_alone():
    rows = [(2, {"region": "Est", "branch_code": "E1", "name": "Un", "country": "be", "phone": "+32 2 123 45 67"}),
            (3, {"region": "", "branch_code": "E1", "name": "Deux", "phone": "appelez-nous"}),
            (4, {"region": "Est", "branch_code": "HQ", "name": "Trois"}),
            (5, {"region": "Est", "branch_code": "N1", "name": "Lille", "email": "lille@alpha.test"})]
    checked = importing.rows_check(rows, codes={"HQ": ("head_office", 1), "N1": ("branch", 7)})
    assert [(row.line, row.existing, row.details.get("country")) for row in checked.rows] == [(2, None, "BE"),
                                                                                            (5, 7, None)]
    assert {(error.line, error.field) for error in checked.errors} == {
        (3, "region"), (3, "branch_code"), (3, "phone"), (4, "branch_code")}


def test_a_file_without_a_required_column_is_refused_as_a_whole(world):
    client = world.client_for("head_office")
    upload = SimpleUploadedFile("x.csv", b"branch_code,name\nB1,Un\n", content_type="text/csv")
    response = client.post("/network/structure/import/", {"head_office": hq(world), "file": upload})
    assert response.status_code == 200
    assert "Missing required column(s): region." in response.content.decode()
    assert "data-form-errors" in response.content.decode()
    assert not Node.objects.filter(code="B1").exists()


def test_the_report_of_an_import_is_its_author_s_only(world):
    client = world.client_for("head_office")
    upload = SimpleUploadedFile("x.csv", b"region,branch_code,name\nNorth,B1,Un\n", content_type="text/csv")
    location = client.post("/network/structure/import/", {"head_office": hq(world), "file": upload})["Location"]
    assert client.get(location).status_code == 200
    other = world.client_for("analyst")  # signed in, another session: the report is not theirs
    assert other.get(location).status_code == 404
    assert other.get(location + "report.csv").status_code == 404


def test_a_deactivated_person_of_the_network_is_neither_granted_nor_invited(world):
    person = world.users["sibling_branch_manager"]
    Membership.objects.create(user=person, network=world.networks["alpha"], status=Membership.Status.DEACTIVATED)
    person.is_active = False
    person.save(update_fields=["is_active"])
    upload = SimpleUploadedFile("x.csv", f"region,branch_code,name,manager_email\nNorth,B1,Un,{person.email}\n".encode(),
                                content_type="text/csv")
    report = world.client_for("head_office").post("/api/v1/structure-imports/", {"file": upload}).json()
    assert (report["branches_created"], report["roles_granted"], report["invitations_sent"]) == (1, 0, 0)
    assert [(note["line"], note["field"]) for note in report["notes"]] == [(2, "manager_email")]
    assert "deactivated" in report["notes"][0]["reason"]
    assert not Invitation.objects.filter(email=person.email).exists()


@pytest.mark.parametrize("tail", [b"X1,\xff\xfe bad byte,Nord\n", b'X2,"' + b"y" * 140_000 + b'",Nord\n'],
                         ids=["a bad byte far down", "a giant cell"])
def test_a_file_unreadable_far_down_is_refused_as_a_whole_not_a_server_error(world, tail):
    """The encoding is guessed from the file's start: a bad byte after it, or a cell bigger than the
    CSV reader takes, refuses the file with a message (it used to answer 500)."""
    # past the first 64 KB, on which the encoding is detected
    good = b"".join(b"B%d,Branch %d of the north with a long name,Nord\n" % (number, number) for number in range(1900))
    upload = SimpleUploadedFile("x.csv", b"branch_code,name,region\n" + good + tail, content_type="text/csv")
    response = world.client_for("head_office").post("/network/structure/import/",
                                                    {"head_office": hq(world), "file": upload})
    assert response.status_code == 200 and "The file cannot be read after line" in response.content.decode()
    assert not Node.objects.filter(code="B1").exists()
    api = world.client_for("head_office").post(
        "/api/v1/structure-imports/",
        {"head_office": hq(world), "file": SimpleUploadedFile("x.csv", b"branch_code,name,region\n" + good + tail)})
    assert api.status_code == 400
