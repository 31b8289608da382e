"""The branch pages of the calendar: operations open to a branch, join/decline, the campaign editor
(live preview, count and clashes through htmx), the proposed list; scoped, foreign = missing = 404."""

from datetime import timedelta

import pytest
from django.utils import timezone

from central.calendar.services import participation_answer
from central.models import Campaign, CampaignEvent, ConsentStatus, Customer, OperationMode, TargetOverride
from tests.planning import plan, sms_version

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


@pytest.fixture
def operation(world):
    return plan(world, versions=[sms_version(world)], allowed_criteria=["segment"])


def customers(world, code, count, **fields):
    branch = world.nodes[code]
    values = {"consent_sms": ConsentStatus.GRANTED, "mobile": "0611111111", "segment": "gold"} | fields
    return [Customer.objects.create(network=branch.network, branch=branch, external_id=f"{code}-p{i}-{len(fields)}",
                                    last_name=f"Dupont{code}{values['segment'].title()}{i}", **values) for i in range(count)]


def test_operations_page_lists_what_is_open_to_the_branch_only(world, operation):
    pilot = plan(world, name="Pilote Sud", eligible=["SOUTH"], is_pilot=True, versions=[])
    body = world.client_for("branch_manager").get("/network/operations/").content.decode()
    assert "Foire aux vins" in body and "Pilote Sud" not in body
    assert "Join" in body
    body = world.client_for("other_region_manager").get("/network/operations/").content.decode()
    assert "Pilote Sud" in body
    assert pilot.name in body


def test_the_empty_state_for_someone_without_a_branch(world):
    body = world.client_for("nobody").get("/network/operations/").content.decode()
    assert "You do not act for any branch" in body


def test_joining_leads_to_the_editor_and_saving_records_the_change(world, operation):
    client = world.client_for("branch_manager")
    branch = world.nodes["N1"]
    response = client.post(f"/network/operations/{operation.public_id}/answer/",
                           {"branch": branch.public_id, "status": "joined"})
    campaign = Campaign.objects.get(operation=operation, branch=branch)
    assert response.status_code == 302 and response["Location"] == f"/network/campaigns/{campaign.public_id}/"
    page = client.get(response["Location"]).content.decode()
    assert "vins de fête" in page and "Lille" in page  # the preview, with the branch's name
    customers(world, "N1", 3)
    customers(world, "N1", 2, segment="silver")
    new_date = operation.send_from + timedelta(days=1)
    live = client.post(f"/network/campaigns/{campaign.public_id}/",
                       {"message": "huîtres", "send_date": new_date.isoformat(), "target_segment": "silver"},
                       HTTP_HX_REQUEST="true").content.decode()
    assert 'data-testid="audience-count">2<' in live
    assert "huîtres" in live
    campaign.refresh_from_db()
    assert campaign.slot_values == {"message": "vins de fête"}  # the live preview saves nothing
    response = client.post(f"/network/campaigns/{campaign.public_id}/",
                           {"message": "huîtres", "send_date": new_date.isoformat(), "target_segment": "silver"})
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert (campaign.slot_values, campaign.send_date, campaign.target_criteria) == (
        {"message": "huîtres"}, new_date, {"segment": "silver"})
    history = client.get(f"/network/campaigns/{campaign.public_id}/").content.decode()
    assert "huîtres" in history and "Customised" in history


def test_a_date_outside_the_window_is_refused_next_to_the_field_and_nothing_is_saved(world, operation):
    participation_answer(operation=operation, branch=world.nodes["N1"], status="joined",
                         answered_by=world.users["branch_manager"])
    campaign = Campaign.objects.get(operation=operation)
    late = operation.send_until + timedelta(days=3)
    body = world.client_for("branch_manager").post(
        f"/network/campaigns/{campaign.public_id}/", {"message": "autre", "send_date": late.isoformat()}
    ).content.decode()
    assert "the operation&#x27;s send window" in body and "Nothing was saved" in body
    campaign.refresh_from_db()
    assert campaign.slot_values == {"message": "vins de fête"}
    assert not CampaignEvent.objects.filter(campaign=campaign, action="customised").exists()


def test_answering_after_the_deadline_is_refused_with_a_message(world):
    late = plan(world, name="Trop tard", subscription_deadline=TODAY - timedelta(days=1), send_from=TODAY + timedelta(days=2))
    response = world.client_for("branch_manager").post(
        f"/network/operations/{late.public_id}/answer/", {"branch": world.nodes["N1"].public_id, "status": "joined"},
        follow=True)
    assert "The subscription deadline" in response.content.decode()
    assert not Campaign.objects.filter(operation=late).exists()


def test_campaign_pages_are_scoped_foreign_and_missing_alike(world, operation):
    participation_answer(operation=operation, branch=world.nodes["N1"], status="joined",
                         answered_by=world.users["branch_manager"])
    campaign = Campaign.objects.get(operation=operation)
    for actor in ("sibling_branch_manager", "other_region_manager", "other_network_head_office", "nobody"):
        client = world.client_for(actor)
        for public_id in (campaign.public_id, "cmp_doesnotexist0000"):
            for suffix in ("", "target/"):
                assert client.get(f"/network/campaigns/{public_id}/{suffix}").status_code == 404
            assert client.post(f"/network/campaigns/{public_id}/", {"message": "x"}).status_code == 404
    # The regional manager sees it but may not change it.
    regional = world.client_for("regional_manager")
    assert regional.get(f"/network/campaigns/{campaign.public_id}/").status_code == 200
    assert regional.post(f"/network/campaigns/{campaign.public_id}/", {"message": "x"}).status_code == 403


def test_the_proposed_list_shows_own_customers_and_takes_removals_and_additions(world, operation):
    participation_answer(operation=operation, branch=world.nodes["N1"], status="joined",
                         answered_by=world.users["branch_manager"])
    campaign = Campaign.objects.get(operation=operation)
    gold = customers(world, "N1", 2)
    silver = customers(world, "N1", 1, segment="silver")
    sibling = customers(world, "N2", 1)
    Campaign.objects.filter(pk=campaign.pk).update(target_criteria={"segment": "gold"})
    client = world.client_for("branch_manager")
    url = f"/network/campaigns/{campaign.public_id}/target/"
    body = client.get(url).content.decode()
    assert gold[0].last_name in body and silver[0].last_name not in body and sibling[0].last_name not in body
    client.post(url, {"customer": gold[0].public_id, "action": "exclude"})
    found = client.get(url, {"q": "Dupont", "add": "1"}).content.decode()
    assert silver[0].last_name in found and sibling[0].last_name not in found
    client.post(url, {"customer": silver[0].public_id, "action": "include"})
    refused = client.post(url, {"customer": sibling[0].public_id, "action": "include"}, follow=True).content.decode()
    assert f"No customer of Lille has the id “{sibling[0].public_id}”" in refused
    assert set(TargetOverride.objects.filter(campaign=campaign).values_list("customer_id", "action")) == {
        (gold[0].pk, "exclude"), (silver[0].pk, "include")}


def test_a_kit_is_used_from_the_operations_page(world):
    version = sms_version(world)
    kit = plan(world, name="Kit dégustation", mode=OperationMode.KIT, versions=[version])
    client = world.client_for("branch_manager")
    assert "Use “Promo SMS”" in client.get("/network/operations/").content.decode()
    response = client.post(f"/network/operations/{kit.public_id}/use-kit/",
                           {"branch": world.nodes["N1"].public_id, "version": version.public_id})
    campaign = Campaign.objects.get(operation=kit)
    assert response["Location"] == f"/network/campaigns/{campaign.public_id}/"
    # Not for a branch one does not act for.
    client.post(f"/network/operations/{kit.public_id}/use-kit/",
                {"branch": world.nodes["N2"].public_id, "version": version.public_id})
    assert Campaign.objects.filter(operation=kit).count() == 1


def test_who_sees_the_campaign_but_not_the_customers_reads_no_names_and_no_count(world, operation):
    participation_answer(operation=operation, branch=world.nodes["N1"], status="joined",
                         answered_by=world.users["branch_manager"])
    campaign = Campaign.objects.get(operation=operation)
    gold = customers(world, "N1", 2)
    world.client_for("branch_manager").post(f"/network/campaigns/{campaign.public_id}/target/",
                                            {"customer": gold[0].public_id, "action": "exclude"})
    manager_page = world.client_for("branch_manager").get(f"/network/campaigns/{campaign.public_id}/").content.decode()
    assert gold[0].last_name in manager_page and 'data-testid="audience-count"' in manager_page
    for actor in ("approver", "analyst"):
        client = world.client_for(actor)
        page = client.get(f"/network/campaigns/{campaign.public_id}/")
        assert page.status_code == 200
        body = page.content.decode()
        assert "Removed from the list" in body  # the event is there…
        assert gold[0].last_name not in body and 'data-testid="audience-count"' not in body  # …not whom
        assert client.get(f"/network/campaigns/{campaign.public_id}/target/").status_code == 404
