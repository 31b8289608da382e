"""Transfers of customers between branches: a branch asks for a customer of another branch (naming
them by CRM id, e-mail or mobile: it does not see them), head office or the regional manager over
both branches accepts or refuses, and the customer changes branch only on acceptance. Every step is
recorded; everyone reads only what their scope allows."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from central.customers.selectors import customers_visible_to
from central.customers.transfers import ownership_transfer_decide, ownership_transfer_request
from central.models import Customer, OwnershipTransfer, TransferStatus

pytestmark = pytest.mark.django_db


def request(world, *, customer_ref, actor="branch_manager", to="N1", note=""):
    return ownership_transfer_request(to_branch=world.nodes[to], customer_reference=customer_ref,
                                      requested_by=world.users[actor], note=note)


def decide(world, transfer, *, actor="head_office", accept=True, note=""):
    return ownership_transfer_decide(transfer=transfer, decided_by=world.users[actor], accept=accept, note=note)


def api(world, actor, method, url, data=None):
    client = world.client_for(actor)
    if method == "get":
        return client.get(url, data or {})
    return client.post(url, data or {}, content_type="application/json")


def test_a_branch_asks_and_head_office_accepts(world):
    bruno = world.customers["N2"]  # Bruno Voisin, of Arras (N2)
    transfer = request(world, customer_ref="Bruno.Voisin@example.test", note="shops in Lille now")
    assert (transfer.status, transfer.from_branch, transfer.to_branch) == (
        TransferStatus.REQUESTED, world.nodes["N2"], world.nodes["N1"])
    assert transfer.requested_by == world.users["branch_manager"] and transfer.requested_at is not None
    bruno.refresh_from_db()
    assert bruno.branch == world.nodes["N2"]  # nothing moves before the decision
    assert not customers_visible_to(world.users["branch_manager"]).filter(pk=bruno.pk).exists()
    decide(world, transfer, note="ok")
    transfer.refresh_from_db()
    bruno.refresh_from_db()
    assert transfer.status == TransferStatus.ACCEPTED and transfer.decided_by == world.users["head_office"]
    assert transfer.decided_at is not None and transfer.decision_note == "ok"
    assert bruno.branch == world.nodes["N1"]
    assert customers_visible_to(world.users["branch_manager"]).filter(pk=bruno.pk).exists()
    assert not customers_visible_to(world.users["sibling_branch_manager"]).filter(pk=bruno.pk).exists()
    with pytest.raises(ValidationError):
        decide(world, transfer)  # already decided


def test_the_regional_manager_over_both_branches_refuses(world):
    transfer = request(world, customer_ref="A-N2", note="")  # the CRM id
    decide(world, transfer, actor="regional_manager", accept=False, note="stays in Arras")
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.REFUSED and transfer.decided_by == world.users["regional_manager"]
    assert Customer.objects.get(pk=world.customers["N2"].pk).branch == world.nodes["N2"]


def test_who_may_decide(world):
    within_region = request(world, customer_ref="A-N2")
    across_regions = request(world, customer_ref="A-S1")
    for actor in ("branch_manager", "sibling_branch_manager", "other_region_manager", "approver", "analyst",
                  "other_network_head_office", "nobody"):
        with pytest.raises(PermissionDenied):
            decide(world, within_region, actor=actor)
    # the regional manager of the North is not over Nîmes (South)
    with pytest.raises(PermissionDenied):
        decide(world, across_regions, actor="regional_manager")
    decide(world, across_regions, actor="head_office")
    assert Customer.objects.get(pk=world.customers["S1"].pk).branch == world.nodes["N1"]


def test_head_office_moves_a_customer_at_once(world):
    transfer = request(world, customer_ref=world.customers["S1"].public_id, actor="head_office", to="N2")
    assert transfer.status == TransferStatus.ACCEPTED and transfer.decided_by == world.users["head_office"]
    assert Customer.objects.get(pk=world.customers["S1"].pk).branch == world.nodes["N2"]


def test_requests_that_cannot_be_made(world):
    with pytest.raises(ValidationError) as caught:
        request(world, customer_ref="nobody@example.test")
    assert "No customer of the network" in caught.value.message_dict["customer"][0]
    with pytest.raises(ValidationError) as caught:  # a customer of another network is no candidate
        request(world, customer_ref="denis@example.test")
    assert "No customer of the network" in caught.value.message_dict["customer"][0]
    with pytest.raises(ValidationError) as caught:
        request(world, customer_ref="anne.nord@example.test")  # already N1's
    assert "already belongs" in caught.value.message_dict["customer"][0]
    request(world, customer_ref="A-N2")
    with pytest.raises(ValidationError) as caught:
        request(world, customer_ref="bruno.voisin@example.test")
    assert "already waiting" in caught.value.message_dict["customer"][0]
    for actor, branch in (("branch_manager", "N2"), ("regional_manager", "N1"), ("approver", "N1"),
                          ("other_network_head_office", "N1")):
        with pytest.raises(PermissionDenied):
            request(world, customer_ref="A-S1", actor=actor, to=branch)
    with pytest.raises(PermissionDenied):  # a region is no branch
        request(world, customer_ref="A-S1", actor="head_office", to="NORTH")
    # two customers sharing an e-mail address: the CRM id is needed
    for index in (1, 2):
        Customer.objects.create(network=world.networks["alpha"], branch=world.nodes["S1"], external_id=f"twin-{index}",
                                last_name="Twin", email="twins@example.test")
    with pytest.raises(ValidationError) as caught:
        request(world, customer_ref="twins@example.test")
    assert "Several customers" in caught.value.message_dict["customer"][0]


def test_accepting_after_the_customer_moved_otherwise_is_refused(world):
    transfer = request(world, customer_ref="A-N2")
    Customer.objects.filter(pk=world.customers["N2"].pk).update(branch=world.nodes["S1"])
    with pytest.raises(ValidationError):
        decide(world, transfer)
    assert OwnershipTransfer.objects.get(pk=transfer.pk).status == TransferStatus.REQUESTED


def test_the_transfers_page_is_scoped_and_names_only_what_one_sees(world):
    manager = world.client_for("branch_manager")
    page = manager.get("/network/transfers/")
    assert page.status_code == 200 and page.context["form"] is not None
    response = manager.post("/network/transfers/", {"to_branch": world.nodes["N1"].public_id,
                                                    "customer": "0612345678", "note": "x"})
    assert response.status_code == 200  # Anne Nord's mobile: already N1's
    assert "already belongs" in response.context["form"].errors["customer"][0]
    response = manager.post("/network/transfers/", {"to_branch": world.nodes["N1"].public_id,
                                                    "customer": "bruno.voisin@example.test", "note": "moved"})
    assert response.status_code == 302
    transfer = OwnershipTransfer.objects.get()
    html = manager.get("/network/transfers/").content.decode()
    # the requester reads what they typed, not the customer's name, nor the branch they do not see
    assert "bruno.voisin@example.test" in html and "Voisin" not in html.replace("bruno.voisin", "")
    assert "Arras" not in html
    # N2's manager sees a request about their customer, not who asks
    sibling = world.client_for("sibling_branch_manager").get("/network/transfers/").content.decode()
    assert "Bruno Voisin" in sibling and "Lille" not in sibling and "/decide/" not in sibling
    # Nîmes (S1), the approver and beta see nothing of it
    assert "Voisin" not in world.client_for("other_region_manager").get("/network/transfers/").content.decode()
    for actor in ("approver", "analyst", "nobody"):
        assert world.client_for(actor).get("/network/transfers/").status_code == 404
    assert "Voisin" not in world.client_for("other_network_head_office").get("/network/transfers/").content.decode()
    # deciding: the sibling may not (message, nothing changes); head office accepts
    url = f"/network/transfers/{transfer.public_id}/decide/"
    world.client_for("sibling_branch_manager").post(url, {"decision": "accept"})
    assert OwnershipTransfer.objects.get().status == TransferStatus.REQUESTED
    assert world.client_for("other_region_manager").post(url, {"decision": "accept"}).status_code == 404
    head_office = world.client_for("head_office")
    assert "/decide/" in head_office.get("/network/transfers/").content.decode()
    assert head_office.post(url, {"decision": "accept", "note": "ok"}).status_code == 302
    assert OwnershipTransfer.objects.get().status == TransferStatus.ACCEPTED
    # now theirs: the requester reads the name
    assert "Bruno Voisin" in manager.get("/network/transfers/").content.decode()


def test_the_transfers_api(world):
    body = api(world, "branch_manager", "post", "/api/v1/ownership-transfers/", {
        "to_branch": world.nodes["N1"].public_id, "customer": "A-N2", "note": "moved"})
    assert body.status_code == 201, body.content
    created = body.json()
    assert created["status"] == "requested" and created["customer"] is None and created["requested_as"] == "A-N2"
    assert created["from_branch"]["id"] is None  # Arras: a branch the requester does not see
    assert created["to_branch"]["id"] == world.nodes["N1"].public_id and created["can_decide"] is False
    url = f"/api/v1/ownership-transfers/{created['id']}/decide/"
    assert api(world, "branch_manager", "post", url, {"decision": "accept"}).status_code == 403
    assert api(world, "other_region_manager", "post", url, {"decision": "accept"}).status_code == 404
    assert api(world, "regional_manager", "post", url, {"decision": "maybe"}).status_code == 400
    listed = api(world, "regional_manager", "get", "/api/v1/ownership-transfers/", {"status": "requested"}).json()
    assert [row["id"] for row in listed["results"]] == [created["id"]] and listed["results"][0]["can_decide"]
    decided = api(world, "regional_manager", "post", url, {"decision": "refuse", "note": "no"})
    assert decided.status_code == 200 and decided.json()["status"] == "refused"
    assert api(world, "regional_manager", "post", url, {"decision": "accept"}).status_code == 400
    for actor in ("other_region_manager", "other_network_head_office", "approver"):
        assert api(world, actor, "get", "/api/v1/ownership-transfers/").json()["results"] == [], actor
    # a branch one does not act for: 404 if unseen, 403 if seen
    assert api(world, "branch_manager", "post", "/api/v1/ownership-transfers/", {
        "to_branch": world.nodes["N2"].public_id, "customer": "A-S1"}).status_code == 404
    assert api(world, "regional_manager", "post", "/api/v1/ownership-transfers/", {
        "to_branch": world.nodes["N1"].public_id, "customer": "A-S1"}).status_code == 403
    missing = api(world, "branch_manager", "post", "/api/v1/ownership-transfers/", {
        "to_branch": world.nodes["N1"].public_id, "customer": "ghost@example.test"})
    assert missing.status_code == 400 and list(missing.json()) == ["customer"]
    # head office moves a customer at once
    moved = api(world, "head_office", "post", "/api/v1/ownership-transfers/", {
        "to_branch": world.nodes["N1"].public_id, "customer": "A-S1"}).json()
    assert moved["status"] == "accepted" and moved["customer"]["name"] == "Chloe Sud"
