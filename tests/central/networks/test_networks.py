"""Networks (issue 22, part A): the platform creates a network (page and command) with its head
office and the invitation of its first head-office person, e-mailed through a real SMTP server;
the head office edits its network's settings (audited with old and new values), bad values are
refused beside their field and by the API with a 400 by field; the audit trail is scoped and
exported safely."""

from __future__ import annotations

import csv
import io
import re

import lxml.html
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from PIL import Image

from local_stores.audit import network_event_record
from local_stores.models import Invitation, Network, NetworkEvent, Node, NodeKind, Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def platform_admin():
    user = UserFactory(username="root", first_name="Pat", last_name="Platform", is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(user)
    return client


def settings_post(network: Network, **changes) -> dict:
    """The settings form as a browser posts it: every field with its current value, then changes."""
    data = {
        "network": network.slug, "name": network.name, "languages": list(network.languages),
        "default_language": network.default_language, "time_zone": network.time_zone,
        "currency": network.currency, "invitation_days": str(network.invitation_days),
        "regional_grantable_roles": list(network.regional_grantable_roles),
    }
    data.update(changes)
    return data


def field_error(html: str, field: str) -> str:
    """The message shown beside ``field`` (its control says aria-invalid)."""
    tree = lxml.html.fromstring(html)
    assert tree.xpath("//*[@data-form-errors]"), "the error summary at the top of the form"
    control = tree.xpath(f"//*[@name='{field}']")
    assert control and any(item.get("aria-invalid") == "true" for item in control), field
    return tree.xpath(f"string(//*[@id='id_{field}_error'])").strip()


def png(name: str = "logo.png") -> io.BytesIO:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 20), "red").save(buffer, "PNG")
    buffer.seek(0)
    buffer.name = name
    return buffer


# --- The platform creates a network --------------------------------------------------------------


def test_the_platform_creates_a_network_whose_first_person_receives_the_invitation(
    platform_admin, sink, django_capture_on_commit_callbacks
):
    form = {"name": "Gamma Shops", "slug": "gamma", "head_office_name": "Gamma HQ", "admin_email": "Lea@Gamma.test"}
    with django_capture_on_commit_callbacks(execute=True):
        response = platform_admin.post("/platform/networks/new/", form, follow=True)
    assert response.status_code == 200
    network = Network.objects.get(slug="gamma")
    head_office = Node.objects.get(network=network, kind=NodeKind.HEAD_OFFICE)
    assert head_office.name == "Gamma HQ"
    invitation = Invitation.objects.get(network=network)
    assert (invitation.email, invitation.role, invitation.node) == ("lea@gamma.test", Role.HEAD_OFFICE_MARKETER, head_office)
    assert [item.to for item in sink.handler.received] == ["lea@gamma.test"]
    body = sink.handler.received[0].message.get_body(preferencelist=("plain",)).get_content()
    assert re.search(r"/accounts/invitation/[\w-]{30,}/", body)
    assert set(NetworkEvent.objects.filter(network=network).values_list("action", flat=True)) == {
        NetworkEvent.Action.NETWORK_CREATED, NetworkEvent.Action.PERSON_INVITED}
    listed = platform_admin.get("/platform/networks/?q=gam").content.decode()
    assert "Gamma Shops" in listed and "Gamma HQ" in listed

    # the same form posted again (a second click, the back button): refused beside the slug, nothing new
    again = platform_admin.post("/platform/networks/new/", form)
    assert again.status_code == 200
    assert "already uses this short name" in field_error(again.content.decode(), "slug")
    assert Network.objects.filter(slug="gamma").count() == 1
    assert Invitation.objects.filter(network=network).count() == 1


def test_the_creation_form_refuses_bad_values_beside_each_field(platform_admin):
    response = platform_admin.post("/platform/networks/new/", {
        "name": "", "slug": "no spaces", "head_office_name": "HQ", "admin_email": "not-an-address"})
    html = response.content.decode()
    for field in ("name", "slug", "admin_email"):
        assert field_error(html, field)
    assert not Network.objects.exists()


def test_the_command_creates_a_network_once(sink, capsys, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("network_create", "--name", "Delta", "--slug", "delta", "--head-office", "Delta HQ",
                     "--admin-email", "boss@delta.test")
    network = Network.objects.get(slug="delta")
    assert Node.objects.get(network=network, kind=NodeKind.HEAD_OFFICE).name == "Delta HQ"
    assert Invitation.objects.get(network=network).email == "boss@delta.test"
    assert sink.handler.addresses() == ["boss@delta.test"]
    assert "created" in capsys.readouterr().out

    with django_capture_on_commit_callbacks(execute=True):
        call_command("network_create", "--name", "Delta bis", "--slug", "delta", "--head-office", "Other",
                     "--admin-email", "other@delta.test")
    assert "already exists" in capsys.readouterr().out
    network.refresh_from_db()
    assert network.name == "Delta"
    assert Invitation.objects.filter(network=network).count() == 1
    assert sink.handler.addresses() == ["boss@delta.test"]


def test_the_command_refuses_invalid_input_with_a_clear_message(sink):
    with pytest.raises(CommandError, match="--admin-email"):
        call_command("network_create", "--name", "Eps", "--slug", "eps", "--head-office", "HQ",
                     "--admin-email", "nope")
    with pytest.raises(CommandError, match="--slug"):
        call_command("network_create", "--name", "Eps", "--slug", "e p s", "--head-office", "HQ",
                     "--admin-email", "a@eps.test")
    assert not Network.objects.filter(name="Eps").exists()
    assert sink.handler.received == []


@pytest.mark.parametrize("actor", ["head_office", "branch_manager", "nobody"])
def test_the_platform_pages_answer_404_to_anyone_but_a_superuser(world, actor):
    client = world.client_for(actor)
    assert client.get("/platform/networks/").status_code == 404
    assert client.post("/platform/networks/new/", {"name": "X", "slug": "x", "head_office_name": "X",
                                                   "admin_email": "x@x.test"}).status_code == 404
    assert not Network.objects.filter(slug="x").exists()
    assert Client().get("/platform/networks/")["Location"].startswith("/accounts/login/")


# --- The head office edits its network's settings ------------------------------------------------


def test_head_office_edits_the_settings_and_the_change_is_audited(world, media):
    alpha = world.networks["alpha"]
    client = world.client_for("head_office")
    data = settings_post(alpha, name="Alpha Stores", currency="CHF", time_zone="Europe/Zurich",
                         languages=["fr"], default_language="fr", invitation_days="14",
                         regional_grantable_roles=["branch_manager", "analyst"], logo=png())
    response = client.post("/network/settings/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    alpha.refresh_from_db()
    assert (alpha.name, alpha.currency, alpha.time_zone, alpha.languages, alpha.invitation_days) == (
        "Alpha Stores", "CHF", "Europe/Zurich", ["fr"], 14)
    assert alpha.logo.name.startswith("logos/")
    event = NetworkEvent.objects.get(network=alpha, action=NetworkEvent.Action.NETWORK_SETTINGS_CHANGED)
    assert event.actor == world.users["head_office"]
    fields = event.details["fields"]
    assert fields["name"] == {"old": "Alpha", "new": "Alpha Stores"}
    assert fields["currency"] == {"old": "EUR", "new": "CHF"}
    assert fields["languages"] == {"old": ["fr", "en"], "new": ["fr"]}
    assert fields["regional_grantable_roles"]["new"] == ["branch_manager", "analyst"]
    assert fields["logo"]["old"] == "" and fields["logo"]["new"].endswith(".png")
    assert "default_language" not in fields  # unchanged

    # the audit page shows it readably
    audit = client.get("/network/audit/").content.decode()
    assert "Alpha → Alpha Stores" in audit and "EUR → CHF" in audit and "Tester Head-Office" in audit
    assert "French, English → French" in audit and "Branch manager → Branch manager, Analyst" in audit

    # the same form posted again: nothing changed, nothing recorded
    client.post("/network/settings/", settings_post(alpha))
    assert NetworkEvent.objects.filter(action=NetworkEvent.Action.NETWORK_SETTINGS_CHANGED).count() == 1


@pytest.mark.parametrize("changes, field, words", [
    ({"currency": "XYZ"}, "currency", "valid choice"),
    ({"currency": "FRF"}, "currency", "valid choice"),  # the franc: ISO 4217, but no longer in use
    ({"time_zone": "Mars/Olympus"}, "time_zone", "valid choice"),
    ({"languages": ["fr", "tlh"]}, "languages", "valid choice"),
    ({"languages": ["en"], "default_language": "fr"}, "default_language", "one of the network's languages"),
    ({"languages": []}, "languages", "required"),
    ({"invitation_days": "45"}, "invitation_days", "30"),
    ({"regional_grantable_roles": ["head_office_marketer"]}, "regional_grantable_roles", "valid choice"),
])
def test_bad_settings_are_refused_beside_their_field(world, changes, field, words):
    alpha = world.networks["alpha"]
    response = world.client_for("head_office").post("/network/settings/", settings_post(alpha, **changes))
    assert response.status_code == 200
    assert words in field_error(response.content.decode(), field)
    assert Network.objects.get(pk=alpha.pk).currency == "EUR"
    assert not NetworkEvent.objects.filter(action=NetworkEvent.Action.NETWORK_SETTINGS_CHANGED).exists()


def test_a_file_that_is_no_image_is_refused_as_logo(world, media):
    alpha = world.networks["alpha"]
    fake = io.BytesIO(b"%PDF-1.4 not an image")
    fake.name = "logo.png"
    response = world.client_for("head_office").post("/network/settings/", settings_post(alpha, logo=fake))
    assert field_error(response.content.decode(), "logo")
    assert not Network.objects.get(pk=alpha.pk).logo


@pytest.mark.parametrize("changes, field", [
    ({"currency": "XYZ"}, "currency"), ({"currency": "eur"}, "currency"), ({"time_zone": "Mars/Olympus"}, "time_zone"),
    ({"languages": ["fr", "tlh"]}, "languages"), ({"default_language": "de"}, "default_language"),
    ({"invitation_days": 0}, "invitation_days"), ({"regional_grantable_roles": ["approver", "root"]},
                                                  "regional_grantable_roles"),
])
def test_the_api_refuses_bad_settings_with_a_400_by_field(world, changes, field):
    response = world.client_for("head_office").patch("/api/v1/network/", changes, content_type="application/json")
    assert response.status_code == 400
    assert field in response.json()
    assert Network.objects.get(slug="alpha").currency == "EUR"


def test_the_api_reads_and_changes_the_callers_network(world):
    client = world.client_for("head_office")
    assert client.get("/api/v1/network/").json()["slug"] == "alpha"
    response = client.patch("/api/v1/network/", {"currency": "GBP", "invitation_days": 3},
                            content_type="application/json")
    assert response.status_code == 200 and response.json()["currency"] == "GBP"
    event = NetworkEvent.objects.get(action=NetworkEvent.Action.NETWORK_SETTINGS_CHANGED)
    assert event.details["fields"] == {"currency": {"old": "EUR", "new": "GBP"},
                                       "invitation_days": {"old": 7, "new": 3}}


@pytest.mark.parametrize("actor", ["other_network_head_office", "regional_manager", "branch_manager",
                                   "approver", "analyst", "nobody"])
def test_no_one_else_sees_or_edits_alphas_settings(world, actor):
    client = world.client_for(actor)
    alpha = world.networks["alpha"]
    assert client.get("/network/settings/?network=alpha").status_code == 404
    client.post("/network/settings/", settings_post(alpha, name="Taken"))
    assert client.get("/api/v1/network/?network=alpha").status_code == 404
    assert client.patch("/api/v1/network/?network=alpha", {"name": "Taken"},
                        content_type="application/json").status_code == 404
    assert Network.objects.get(pk=alpha.pk).name == "Alpha"
    if actor == "other_network_head_office":  # their own network only
        assert client.get("/api/v1/network/").json()["slug"] == "beta"


# --- The audit trail ---------------------------------------------------------------------------------


@pytest.fixture
def events(world):
    alpha, beta = world.networks["alpha"], world.networks["beta"]
    hq = world.users["head_office"]
    network_event_record(network=alpha, action=NetworkEvent.Action.NETWORK_SETTINGS_CHANGED, actor=hq,
                         node=world.nodes["alpha:HQ"], details={"fields": {"currency": {"old": "EUR", "new": "CHF"}}})
    network_event_record(network=alpha, action=NetworkEvent.Action.ROLE_GRANTED, actor=hq, node=world.nodes["N1"],
                         subject_user=world.users["branch_manager"], details={"role": "branch_manager"})
    network_event_record(network=alpha, action=NetworkEvent.Action.NODE_RENAMED, actor=hq, node=world.nodes["S1"],
                         details={"fields": {"name": {"old": "Nimes", "new": "Nîmes"}}})
    network_event_record(network=beta, action=NetworkEvent.Action.NODE_RENAMED,
                         actor=world.users["other_network_head_office"], node=world.nodes["W1"],
                         details={"fields": {"name": {"old": "Brest-old", "new": "Brest"}}})


def test_the_audit_trail_is_scoped(world, events):
    whole = world.client_for("head_office").get("/network/audit/").content.decode()
    assert "EUR → CHF" in whole and "Nimes → Nîmes" in whole and "Tester Branch-Manager" in whole
    assert "Brest-old" not in whole
    assert "role granted" in whole and "Branch manager" in whole

    regional = world.client_for("regional_manager").get("/network/audit/").content.decode()
    assert "Tester Branch-Manager" in regional  # N1 lies in North
    assert "Nimes" not in regional and "EUR → CHF" not in regional and "Brest-old" not in regional

    beta = world.client_for("other_network_head_office").get("/network/audit/").content.decode()
    assert "Brest-old → Brest" in beta and "Nimes" not in beta and "EUR" not in beta

    for actor in ("branch_manager", "approver", "analyst", "nobody"):
        assert world.client_for(actor).get("/network/audit/").status_code == 404
        assert world.client_for(actor).get("/network/audit/export.csv").status_code == 404


def test_the_audit_trail_filters(world, events):
    client = world.client_for("head_office")
    by_action = client.get("/network/audit/?action=node_renamed").content.decode()
    assert "Nimes" in by_action and "EUR → CHF" not in by_action
    by_node = client.get(f"/network/audit/?node={world.nodes['N1'].public_id}").content.decode()
    assert "Tester Branch-Manager" in by_node and "Nimes" not in by_node
    by_person = client.get("/network/audit/?person=branch-manager").content.decode()
    assert "Tester Branch-Manager" in by_person and "Nimes" not in by_person
    none = client.get("/network/audit/?date_from=2000-01-01&date_to=2000-01-02").content.decode()
    assert "No event matches these filters." in none


def test_the_api_answers_the_same_scope(world, events):
    answer = world.client_for("regional_manager").get("/api/v1/network-events/").json()
    assert {row["node"]["name"] for row in answer["results"]} == {"North", "Lille", "Arras"}  # the grants in North
    assert answer["count"] == len(answer["results"]) > 0
    assert "Nîmes" not in str(answer) and "EUR" not in str(answer)
    whole = world.client_for("head_office").get("/api/v1/network-events/?action=node_renamed").json()
    assert [row["details_text"] for row in whole["results"]] == [["name: Nimes → Nîmes"]]
    beta = world.client_for("other_network_head_office").get("/api/v1/network-events/").json()["results"]
    assert {row["network"] for row in beta} == {"beta"} and "Brest-old" in str(beta)
    assert world.client_for("branch_manager").get("/api/v1/network-events/").json()["count"] == 0
    assert world.client_for("head_office").get("/api/v1/network-events/?date_from=yesterday").status_code == 400


def test_the_csv_export_is_scoped_and_safe_from_formulas(world, events):
    hq = world.users["head_office"]
    hq.first_name = "=HYPERLINK(\"http://evil.test\")"
    hq.save()
    response = world.client_for("head_office").get("/network/audit/export.csv?action=node_renamed")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:3] == ["When", "Network", "Who"]
    assert len(rows) == 2  # alpha's one renaming, not beta's
    assert rows[1][2].startswith("'=HYPERLINK")
    assert rows[1][4] == "Nîmes" and rows[1][6] == "name: Nimes → Nîmes"


def test_the_platform_list_counts_each_networks_branches_and_people(world, platform_admin):
    html = platform_admin.get("/platform/networks/").content.decode()
    rows = {
        row.xpath("string(td[1])").strip(): [row.xpath(f"string(td[{column}])").strip() for column in (3, 4, 5)]
        for row in lxml.html.fromstring(html).xpath("//main//table/tbody/tr")
    }
    # alpha: N1, N2, S1 and seven people with a role; beta: W1 and its head office
    assert rows == {"Alpha": ["Alpha HQ", "3", "7"], "Beta": ["Beta HQ", "1", "1"]}
    assert platform_admin.get("/platform/networks/?q=zzz").content.decode().count("No network matches") == 1
