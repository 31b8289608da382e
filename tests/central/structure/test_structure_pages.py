"""The structure's pages as people use them: the tree, creating, renaming (CRLF as browsers post
it), moving a branch, closing one that still owns customers (refused, naming the transfer page),
then after the transfer; the closed branch keeps its history."""

from __future__ import annotations

import pytest

from central.customers.transfers import ownership_transfer_request
from central.models import Campaign, CampaignStatus, Customer, TransferStatus
from central.structure.services import node_close_blockers
from local_stores.models import NetworkEvent, Node, NodeKind
from tests.architecture.test_crlf_forms import URLENCODED, as_browser_posts, form_fields, replaced
from tests.architecture.test_form_error_summary import _summary_checks
from tests.planning import joined_campaign

pytestmark = pytest.mark.django_db


def url(world, key: str, action: str = "") -> str:
    return f"/network/structure/{world.nodes[key].public_id}/{action + '/' if action else ''}"


def test_the_tree_shows_each_node_with_its_state_and_counts_and_searches(world):
    client = world.client_for("head_office")
    Node.objects.filter(pk=world.nodes["N2"].pk).update(is_active=False)
    body = client.get("/network/structure/").content.decode()
    for name in ("Alpha HQ", "North", "South", "Lille", "Arras", "Nîmes"):
        assert name in body
    assert "Brest" not in body and "Beta" not in body  # another network's
    assert body.count(">Closed</span>") == 1 and "New region" in body and "Import branches (CSV)" in body
    found = client.get("/network/structure/?q=arr").content.decode()
    assert "Arras" in found and "Lille" not in found
    closed = client.get("/network/structure/?state=closed").content.decode()
    assert "Arras" in closed and "Lille" not in closed


def test_a_region_and_a_branch_created_from_the_pages(world):
    client = world.client_for("head_office")
    page = client.get("/network/structure/new/?kind=region").content.decode()
    fields = replaced(form_fields(page, "method", "post"), code="EAST", name="Est", city="Metz")
    response = client.post("/network/structure/new/?kind=region", as_browser_posts(fields), content_type=URLENCODED)
    assert response.status_code == 302, response.content.decode()[-3000:]
    east = Node.objects.get(code="EAST")
    assert (east.kind, east.parent) == (NodeKind.REGION, world.nodes["alpha:HQ"])

    page = client.get(f"/network/structure/new/?kind=branch&parent={east.public_id}").content.decode()
    fields = replaced(form_fields(page, "method", "post"), code="E1", name="Metz Centre")
    assert ("parent", east.public_id) in fields
    client.post("/network/structure/new/?kind=branch", as_browser_posts(fields), content_type=URLENCODED)
    assert Node.objects.get(code="E1").parent == east
    again = client.post("/network/structure/new/?kind=branch", as_browser_posts(fields), content_type=URLENCODED)
    assert again.status_code == 200 and "This code is already used in the network." in again.content.decode()
    assert NetworkEvent.objects.filter(action=NetworkEvent.Action.NODE_CREATED).count() == 2


def test_renaming_with_opening_hours_posted_with_crlf(world):
    client = world.client_for("head_office")
    edit = url(world, "N1", "edit")
    fields = replaced(form_fields(client.get(edit).content.decode(), "method", "post"), name="Lille Centre",
                      opening_hours="Lun-Ven 9h-19h\nSam 9h-13h")
    body = as_browser_posts(fields)
    assert "%0D%0A" in body
    response = client.post(edit, body, content_type=URLENCODED)
    assert response.status_code == 302, response.content.decode()[-3000:]
    node = Node.objects.get(pk=world.nodes["N1"].pk)
    assert (node.name, node.opening_hours) == ("Lille Centre", "Lun-Ven 9h-19h\nSam 9h-13h")
    details = [event.details for event in NetworkEvent.objects.filter(node=node, action="node_renamed").order_by("id")]
    assert details == [{"name": {"old": "Lille", "new": "Lille Centre"}},
                       {"opening_hours": {"old": "", "new": "Lun-Ven 9h-19h\nSam 9h-13h"}}]
    history = client.get(url(world, "N1")).content.decode()
    assert "Lille → Lille Centre" in history


def test_a_moved_branch_leaves_its_old_region_s_manager_at_the_next_request(world):
    regional, manager = world.client_for("regional_manager"), world.client_for("branch_manager")
    branch_page = f"/network/branches/{world.nodes['N1'].public_id}/"
    assert regional.get(branch_page).status_code == 200
    assert regional.get(url(world, "N1")).status_code == 200

    client = world.client_for("head_office")
    fields = replaced(form_fields(client.get(url(world, "N1", "move")).content.decode(), "method", "post"),
                      **{"move-parent": world.nodes["SOUTH"].public_id})
    response = client.post(url(world, "N1", "move"), as_browser_posts(fields), content_type=URLENCODED)
    assert response.status_code == 302

    assert regional.get(branch_page).status_code == 404
    assert regional.get(url(world, "N1")).status_code == 404
    assert manager.get(branch_page).status_code == 200  # its own people keep their roles
    assert "South" in client.get(url(world, "N1")).content.decode()


def test_closing_a_branch_that_owns_customers_is_refused_until_they_are_transferred(world):
    client = world.client_for("head_office")
    n2 = world.nodes["N2"]
    response = client.post(url(world, "N2", "close"), follow=True)
    body = response.content.decode()
    assert Node.objects.get(pk=n2.pk).is_active
    assert "Arras cannot be closed yet." in body and "Ownership transfers" in body and "/network/transfers/" in body
    assert 'href="/network/transfers/"' in body

    transfer = ownership_transfer_request(to_branch=world.nodes["N1"], customer_reference="A-N2",
                                          requested_by=world.users["head_office"])
    assert transfer.status == TransferStatus.ACCEPTED
    response = client.post(url(world, "N2", "close"), follow=True)
    closed = Node.objects.get(pk=n2.pk)
    assert (closed.is_active, closed.closed_by) == (False, world.users["head_office"])
    page = client.get(url(world, "N2")).content.decode()
    assert 'data-testid="node-state">Closed' in page and "Reopen" in page
    assert "Node closed" in page  # its history stays readable
    assert client.get(f"/network/branches/{n2.public_id}/").status_code == 200
    assert Customer.objects.get(external_id="A-N2").branch == world.nodes["N1"]


def test_a_waiting_transfer_or_a_scheduled_campaign_also_blocks_the_close(world):
    n1 = world.nodes["N1"]
    Customer.objects.filter(branch=n1).update(branch=world.nodes["N2"])
    assert node_close_blockers(n1) == []
    ownership_transfer_request(to_branch=n1, customer_reference="A-S1", requested_by=world.users["branch_manager"])
    assert any("waiting for a decision" in reason for reason in node_close_blockers(n1))
    assert any("waiting for a decision" in reason for reason in node_close_blockers(world.nodes["S1"]))

    campaign = joined_campaign(world)
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SCHEDULED)
    blockers = node_close_blockers(Node.objects.get(pk=campaign.branch_id))
    assert any("scheduled or sending" in reason for reason in blockers)


def test_a_regional_manager_reads_the_region_but_changes_nothing(world):
    client = world.client_for("regional_manager")
    tree = client.get("/network/structure/").content.decode()
    assert "Lille" in tree and "Arras" in tree and "Nîmes" not in tree and "New region" not in tree
    assert client.post(url(world, "N1", "close")).status_code == 403
    assert client.get(url(world, "N1", "edit")).status_code == 403
    assert client.get("/network/structure/import/").status_code == 403
    assert client.get("/network/structure/new/?kind=branch").status_code == 403
    assert Node.objects.get(pk=world.nodes["N1"].pk).is_active


def test_the_forms_posted_invalid_open_on_the_error_summary(world):
    client = world.client_for("head_office")
    page = client.get("/network/structure/new/?kind=branch").content.decode()
    fields = replaced(form_fields(page, "method", "post"), code="", name="", email="not an address")
    response = client.post("/network/structure/new/?kind=branch", as_browser_posts(fields), content_type=URLENCODED)
    _summary_checks(response.content.decode(), ["code", "name", "email"])
    move = url(world, "N1", "move")
    response = client.post(move, as_browser_posts(replaced(form_fields(client.get(move).content.decode(), "method",
                                                                       "post"), **{"move-parent": ""})),
                           content_type=URLENCODED)
    assert response.status_code == 200 and "data-form-errors" in response.content.decode()


def test_the_branch_list_leads_to_the_structure_for_who_reads_it(world):
    for actor, shown in (("head_office", True), ("regional_manager", True), ("branch_manager", False)):
        body = world.client_for(actor).get("/network/branches/").content.decode()
        assert ('href="/network/structure/"' in body) is shown, actor
