"""Branches review head office's national target (issue 18, item 7): the services, the selectors,
the pages and the API, with answers counted by hand.

The set-up: an operation of network alpha (deadline in 10 days) with head office's own national
SMS send targeting the segment "gold". Branch N1 (Lille) has seven customers of its own besides the
world's Anne Nord (who refuses SMS): five "gold" ones reachable by SMS (proposed), one "silver"
reachable (not proposed: the one the branch adds) and one "gold" who refuses SMS (never proposed).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from central.campaigns.services import national_campaign_create
from central.campaigns.target_review import review_add, review_remove, review_restore
from central.campaigns.target_review_selectors import (
    review_counts,
    review_deadline,
    review_is_open,
    review_list,
)
from central.models import Campaign, CampaignEvent, ConsentStatus, Customer, NationalTargetReview
from tests.planning import plan, sms_version

pytestmark = pytest.mark.django_db

NAMES = ["Arnaud", "Bellec", "Carvalho", "Dufresne", "Esnault"]


@pytest.fixture
def setup(world):
    version = sms_version(world)
    operation = plan(world, versions=[version])
    national = national_campaign_create(operation=operation, template_version=version,
                                        created_by=world.users["head_office"])
    Campaign.objects.filter(pk=national.pk).update(target_criteria={"segment": "gold"})
    n1, n2 = world.nodes["N1"], world.nodes["N2"]
    people = {}
    for index, name in enumerate(NAMES):
        people[name] = Customer.objects.create(
            network=n1.network, branch=n1, external_id=f"L-{index}", first_name="Client", last_name=name,
            email=f"{name.lower()}@lille.test", mobile=f"061100000{index}", segment="gold",
            consent_sms=ConsentStatus.GRANTED)
    people["Fabre"] = Customer.objects.create(
        network=n1.network, branch=n1, external_id="L-silver", first_name="Client", last_name="Fabre",
        email="fabre@lille.test", mobile="0611000099", segment="silver", consent_sms=ConsentStatus.GRANTED)
    people["Garnier"] = Customer.objects.create(
        network=n1.network, branch=n1, external_id="L-nosms", first_name="Client", last_name="Garnier",
        mobile="0611000098", segment="gold", consent_sms=ConsentStatus.DENIED)
    people["Voisin2"] = Customer.objects.create(
        network=n2.network, branch=n2, external_id="A-gold", first_name="Client", last_name="Hamon",
        mobile="0622000001", segment="gold", consent_sms=ConsentStatus.GRANTED)
    return world, operation, national, people


def _states(world, operation, actor="branch_manager", branch="N1", **filters):
    rows = review_list(fetched_by=world.users[actor], operation=operation, branch=world.nodes[branch], **filters)
    return {row.last_name: row.review_state for row in rows}


def _counts(world, operation, actor):
    return {c.branch.code: (c.kept, c.removed, c.added)
            for c in review_counts(fetched_by=world.users[actor], operation=operation)}


def test_the_branch_reviews_and_the_counts_follow(setup):
    world, operation, national, people = setup
    manager = world.users["branch_manager"]
    # proposed: the five gold customers reachable by SMS, all kept until reviewed
    assert _states(world, operation) == dict.fromkeys(NAMES, "kept")
    review_remove(operation=operation, customer=people["Arnaud"], reason="complaint", by=manager)
    review_remove(operation=operation, customer=people["Bellec"], reason="recent_contact", by=manager)
    review_add(operation=operation, customer=people["Fabre"], by=manager)
    review_restore(operation=operation, customer=people["Arnaud"], by=manager)
    # by hand: 5 proposed − Bellec removed = 4 kept (Arnaud restored); Fabre added
    assert _states(world, operation) == {"Arnaud": "kept", "Bellec": "removed", "Carvalho": "kept",
                                         "Dufresne": "kept", "Esnault": "kept", "Fabre": "added"}
    assert _counts(world, operation, "branch_manager") == {"N1": (4, 1, 1)}
    # head office: one row per eligible branch (N2's gold customer is proposed and kept)
    assert _counts(world, operation, "head_office") == {"N1": (4, 1, 1), "N2": (1, 0, 0), "S1": (0, 0, 0)}
    # the reviews as stored
    assert set(NationalTargetReview.objects.filter(operation=operation).values_list(
        "customer__last_name", "action", "reason", "branch__code")) == {
        ("Bellec", "remove", "recent_contact", "N1"), ("Fabre", "add", "", "N1")}
    # the audit trail of head office's send: four events, by the manager, in order
    events = list(CampaignEvent.objects.filter(campaign=national, action__startswith="target_review_")
                  .order_by("id").values_list("action", "changes__name", "by__username"))
    assert events == [("target_review_remove", "Client Arnaud", "branch_manager"),
                      ("target_review_remove", "Client Bellec", "branch_manager"),
                      ("target_review_add", "Client Fabre", "branch_manager"),
                      ("target_review_restore", "Client Arnaud", "branch_manager")]


def test_search_filters_and_reasons(setup):
    world, operation, _national, people = setup
    manager = world.users["branch_manager"]
    review_remove(operation=operation, customer=people["Carvalho"], reason="personal", by=manager)
    review_add(operation=operation, customer=people["Fabre"], by=manager)
    assert _states(world, operation, search="carval") == {"Carvalho": "removed"}
    assert _states(world, operation, search="L-3") == {"Dufresne": "kept"}  # CRM id
    assert _states(world, operation, search="esnault@lille") == {"Esnault": "kept"}  # e-mail
    assert _states(world, operation, state="removed") == {"Carvalho": "removed"}
    assert _states(world, operation, state="added") == {"Fabre": "added"}
    assert _states(world, operation, segment="silver") == {"Fabre": "added"}
    rows = review_list(fetched_by=manager, operation=operation, branch=world.nodes["N1"], state="removed")
    assert [row.review_reason for row in rows] == ["personal"]


def test_double_submits_change_nothing_more(setup):
    world, operation, national, people = setup
    manager = world.users["branch_manager"]
    for _ in range(2):
        review_remove(operation=operation, customer=people["Dufresne"], reason="other", by=manager)
        review_add(operation=operation, customer=people["Fabre"], by=manager)
    assert NationalTargetReview.objects.filter(operation=operation).count() == 2
    assert CampaignEvent.objects.filter(campaign=national, action__startswith="target_review_").count() == 2
    for _ in range(2):
        review_restore(operation=operation, customer=people["Dufresne"], by=manager)
    assert NationalTargetReview.objects.filter(operation=operation).count() == 1
    # removing an added customer withdraws the addition
    assert review_remove(operation=operation, customer=people["Fabre"], reason="", by=manager) is None
    assert NationalTargetReview.objects.filter(operation=operation).count() == 0


def test_what_is_refused(setup):
    world, operation, _national, people = setup
    manager = world.users["branch_manager"]
    with pytest.raises(ValidationError) as error:
        review_add(operation=operation, customer=people["Carvalho"], by=manager)
    assert error.value.message_dict == {"customer": ["Client Carvalho is already in head office's target."]}
    review_remove(operation=operation, customer=people["Carvalho"], reason="complaint", by=manager)
    with pytest.raises(ValidationError) as error:
        review_add(operation=operation, customer=people["Carvalho"], by=manager)
    assert error.value.message_dict == {"customer": [
        "Client Carvalho is already in head office's target and you removed them: restore them instead."]}
    with pytest.raises(ValidationError) as error:
        review_remove(operation=operation, customer=people["Esnault"], reason="because", by=manager)
    assert list(error.value.message_dict) == ["reason"]
    with pytest.raises(ValidationError) as error:  # not proposed: nothing to remove
        review_remove(operation=operation, customer=people["Fabre"], reason="other", by=manager)
    assert list(error.value.message_dict) == ["customer"]
    with pytest.raises(ValidationError) as error:  # refuses SMS: no send reaches them
        review_add(operation=operation, customer=people["Garnier"], by=manager)
    assert list(error.value.message_dict) == ["customer"]
    # another branch's customer, for N1's manager; N1's customer for N2's manager
    with pytest.raises(PermissionDenied):
        review_remove(operation=operation, customer=people["Voisin2"], reason="other", by=manager)
    with pytest.raises(PermissionDenied):
        review_add(operation=operation, customer=people["Fabre"], by=world.users["sibling_branch_manager"])
    with pytest.raises(PermissionDenied):  # the regional manager sees the customers, acts for no branch
        review_restore(operation=operation, customer=people["Carvalho"], by=world.users["regional_manager"])
    assert NationalTargetReview.objects.filter(operation=operation).count() == 1


def test_the_deadline(setup):
    world, operation, national, people = setup
    manager = world.users["branch_manager"]
    today = timezone.localdate()
    assert review_deadline(operation) == today + timedelta(days=10)  # the subscription deadline
    operation.subscription_deadline = today  # the last day is still open
    operation.save()
    assert review_is_open(operation)
    review_remove(operation=operation, customer=people["Arnaud"], reason="other", by=manager)
    operation.subscription_deadline = today - timedelta(days=1)
    operation.save()
    assert not review_is_open(operation)
    with pytest.raises(ValidationError) as error:
        review_restore(operation=operation, customer=people["Arnaud"], by=manager)
    assert "The review closed on" in error.value.messages[0]
    # no subscription deadline: the day before head office's earliest send
    operation.subscription_deadline = None
    operation.save()
    Campaign.objects.filter(pk=national.pk).update(send_date=today + timedelta(days=1))
    assert review_deadline(operation) == today
    assert review_is_open(operation)
    Campaign.objects.filter(pk=national.pk).update(send_date=today)
    assert not review_is_open(operation)
    # no live head-office send: nothing to review
    Campaign.objects.filter(pk=national.pk).update(status="cancelled", send_date=today + timedelta(days=5))
    assert review_deadline(operation) is None
    with pytest.raises(ValidationError):
        review_add(operation=operation, customer=people["Fabre"], by=manager)


# --- the pages --------------------------------------------------------------------------------------


def _page(world, operation, actor="branch_manager", **params):
    from django.urls import reverse

    return world.client_for(actor).get(reverse("campaigns:target-review", args=[operation.public_id]), params)


def test_the_review_page(setup):
    from django.urls import reverse

    world, operation, national, people = setup
    client = world.client_for("branch_manager")
    url = reverse("campaigns:target-review", args=[operation.public_id])
    page = client.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    for name in NAMES:
        assert f"Client {name}" in body
    assert "Client Fabre" not in body and "Client Hamon" not in body and "Client Garnier" not in body
    assert 'data-count="kept">5<' in body
    # remove with a reason, as a browser posts the row's form
    response = client.post(url, {"branch": world.nodes["N1"].public_id, "customer": people["Arnaud"].public_id,
                                 "reason": "complaint", "action": "remove"})
    assert response.status_code == 302
    # without a reason: nothing changes, the error at the top and beside the row's select
    response = client.post(url, {"customer": people["Bellec"].public_id, "reason": "", "action": "remove"})
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count("Choose why this customer should not receive head office&#x27;s message.") == 2
    assert 'id="review-errors"' in body and f'reason-error-{people["Bellec"].public_id}' in body
    # search for one of mine outside the target and add them
    body = client.get(url, {"add_q": "fabre"}).content.decode()
    assert "Client Fabre" in body and "Client Garnier" not in body
    assert client.post(url, {"customer": people["Fabre"].public_id, "action": "add"}).status_code == 302
    body = client.get(url).content.decode()
    assert 'data-count="kept">4<' in body and 'data-count="removed">1<' in body and 'data-count="added">1<' in body
    assert "Complaint or dispute in progress" in body
    # filters
    body = client.get(url, {"state": "removed"}).content.decode()
    assert "Client Arnaud" in body and "Client Bellec" not in body
    # head office's operation page: the branches' counts
    page = world.client_for("head_office").get(reverse("calendar:operation-detail", args=[operation.public_id]))
    body = page.content.decode()
    assert "review-counts-table" in body
    cells = re.sub(r' data-label="[^"]*"', "", body)  # the phone's column labels aside
    assert ('<tr data-branch="N1"><th scope="row" class="fw-normal">Lille</th><td class="text-end" data-count="kept">4'
            '</td><td class="text-end" data-count="removed">1</td><td class="text-end" data-count="added">1</td>') in cells
    # the audit trail of head office's send, in its history: what, which branch, whom, why
    history = world.client_for("head_office").get(reverse("campaigns:campaign-edit", args=[national.public_id]))
    body = history.content.decode()
    assert "Removed by its branch&#x27;s review" in body and "Added by its branch&#x27;s review" in body
    assert f"Client Arnaud ({people['Arnaud'].public_id})" in body and "Complaint or dispute in progress" in body


def test_the_page_in_and_out_of_scope(setup):
    world, operation, _national, people = setup
    # another branch's manager: its own list; N1's list answers 404, like a branch that does not exist
    body = _page(world, operation, "sibling_branch_manager").content.decode()
    assert "Client Hamon" in body and "Client Arnaud" not in body
    assert _page(world, operation, "sibling_branch_manager", branch=world.nodes["N1"].public_id).status_code == 404
    assert _page(world, operation, branch="nod_missing").status_code == 404
    # who sees no customers (approver, analyst) and another network's head office: 404
    for actor in ("approver", "analyst", "other_network_head_office"):
        assert _page(world, operation, actor).status_code == 404, actor
    # the regional manager reads, may not write (the operation page offers to see the lists, not review them)
    assert _page(world, operation, "regional_manager").status_code == 200
    from django.urls import reverse as _reverse

    detail = _reverse("calendar:operation-detail", args=[operation.public_id])
    body = world.client_for("regional_manager").get(detail).content.decode()
    assert body.count("See the list") == 2 and "Review head office's target" not in body
    body = world.client_for("branch_manager").get(detail).content.decode()
    assert body.count("Review head office's target") == 1 and "See the list" not in body
    from django.urls import reverse

    url = reverse("campaigns:target-review", args=[operation.public_id])
    response = world.client_for("regional_manager").post(url, {"customer": people["Arnaud"].public_id,
                                                                "reason": "other", "action": "remove"})
    assert response.status_code == 403
    # N2's manager posting N1's customer: not one of theirs, nothing changes
    response = world.client_for("sibling_branch_manager").post(
        url, {"customer": people["Arnaud"].public_id, "reason": "other", "action": "remove"})
    assert response.status_code == 200 and "Choose one of Arras&#x27;s customers." in response.content.decode()
    assert not NationalTargetReview.objects.exists()


def test_the_page_after_the_deadline(setup):
    world, operation, _national, _people = setup
    operation.subscription_deadline = timezone.localdate() - timedelta(days=1)
    operation.save()
    body = _page(world, operation).content.decode()
    assert 'id="review-closed"' in body and "Client Arnaud" in body
    assert 'value="remove"' not in body and "Add one of my customers" not in body


# --- the API ----------------------------------------------------------------------------------------


def _api(operation):
    return f"/api/v1/operations/{operation.public_id}/target-review/"


def test_the_api(setup):
    world, operation, _national, people = setup
    client = world.client_for("branch_manager")
    answer = client.get(_api(operation)).json()
    assert answer["branch"] == {"id": world.nodes["N1"].public_id, "name": "Lille"}
    assert answer["open"] is True and answer["deadline"] == (timezone.localdate() + timedelta(days=10)).isoformat()
    assert answer["counts"] == {"branch": world.nodes["N1"].public_id, "branch_name": "Lille", "kept": 5,
                                "removed": 0, "added": 0}
    assert [row["name"] for row in answer["results"]] == [f"Client {name}" for name in NAMES]
    response = client.post(_api(operation), {"customer": people["Bellec"].public_id, "action": "remove",
                                             "reason": "not_relevant"}, content_type="application/json")
    assert response.status_code == 200
    assert response.json() == {"customer": people["Bellec"].public_id, "state": "removed", "reason": "not_relevant",
                               "counts": {"branch": world.nodes["N1"].public_id, "branch_name": "Lille", "kept": 4,
                                          "removed": 1, "added": 0}}
    response = client.post(_api(operation), {"customer": people["Fabre"].public_id, "action": "add"},
                           content_type="application/json")
    assert response.json()["state"] == "added" and response.json()["counts"]["added"] == 1
    rows = client.get(_api(operation), {"state": "removed"}).json()["results"]
    assert rows == [{"id": people["Bellec"].public_id, "name": "Client Bellec", "crm_id": "L-1",
                     "email": "bellec@lille.test", "segment": "gold", "state": "removed", "reason": "not_relevant"}]
    # 400 by field
    response = client.post(_api(operation), {"customer": people["Carvalho"].public_id, "action": "remove"},
                           content_type="application/json")
    assert response.status_code == 400 and list(response.json()) == ["reason"]
    response = client.post(_api(operation), {"customer": people["Voisin2"].public_id, "action": "add"},
                           content_type="application/json")
    assert response.status_code == 400 and list(response.json()) == ["customer"]  # another branch's: as missing
    response = client.post(_api(operation), {"customer": "cus_missing", "action": "explode"},
                           content_type="application/json")
    assert response.status_code == 400 and set(response.json()) == {"action"}
    assert client.get(_api(operation), {"state": "lost"}).status_code == 400
    # 404: another branch's list, another network, who sees no customers
    assert client.get(_api(operation), {"branch": world.nodes["N2"].public_id}).status_code == 404
    for actor in ("other_network_head_office", "approver", "analyst"):
        assert world.client_for(actor).get(_api(operation)).status_code == 404, actor
    # the regional manager reads (its first branch, Arras), may not write
    regional = world.client_for("regional_manager")
    assert regional.get(_api(operation)).json()["branch"]["name"] == "Arras"
    assert regional.post(_api(operation), {"customer": people["Carvalho"].public_id, "action": "remove",
                                           "reason": "other"}, content_type="application/json").status_code == 403
    assert NationalTargetReview.objects.count() == 2


# --- arbitration --------------------------------------------------------------------------------------


def test_a_simulation_follows_the_review(setup):
    """Head office's send, simulated on its day after Lille's review: the removed customer is excluded
    with reason removed_by_branch, the added one is selected, the rest as the target gives."""
    from central.models import Candidate
    from central.rules.services import arbitration_simulate

    world, operation, national, people = setup
    manager = world.users["branch_manager"]
    review_remove(operation=operation, customer=people["Arnaud"], reason="complaint", by=manager)
    review_remove(operation=operation, customer=people["Bellec"], reason="other", by=manager)
    review_restore(operation=operation, customer=people["Bellec"], by=manager)
    review_add(operation=operation, customer=people["Fabre"], by=manager)
    national.refresh_from_db()
    run = arbitration_simulate(network=world.networks["alpha"], starts_on=national.send_date,
                               ends_on=national.send_date, run_by=world.users["head_office"])
    decided = {row["customer__last_name"]: (row["selected"], row["reason"]) for row in
               Candidate.objects.filter(run=run, campaign=national).values("customer__last_name", "selected", "reason")}
    assert decided == {
        "Arnaud": (False, "removed_by_branch"),
        "Bellec": (True, ""), "Carvalho": (True, ""), "Dufresne": (True, ""), "Esnault": (True, ""),
        "Fabre": (True, ""),  # added by the branch
        "Garnier": (False, "no_consent"),  # gold, but refuses SMS
        "Hamon": (True, ""),  # Arras's, not reviewed: goes as proposed
    }


def test_the_page_says_when_head_offices_send_passes_the_branch_by(setup):
    from central.calendar.services import participation_answer
    from central.campaigns.target_review_selectors import head_office_passes_by
    from central.models import CampaignStatus

    world, operation, _national, people = setup
    n1, n2 = world.nodes["N1"], world.nodes["N2"]
    assert head_office_passes_by(operation, n1) == "" and 'id="review-passes-by"' not in _page(
        world, operation).content.decode()
    participation_answer(operation=operation, branch=n1, status="declined", answered_by=world.users["branch_manager"])
    assert head_office_passes_by(operation, n1) == "declined"
    body = _page(world, operation).content.decode()
    assert "Your branch declined this operation" in body and "Add one of my customers" not in body
    with pytest.raises(ValidationError) as error:  # nothing to review: the send does not go there
        review_add(operation=operation, customer=people["Fabre"], by=world.users["branch_manager"])
    assert "Your branch declined this operation" in error.value.messages[0]
    # N2 joins: its draft is not a version yet; submitted for approval, it replaces head office's
    participation_answer(operation=operation, branch=n2, status="joined",
                         answered_by=world.users["sibling_branch_manager"])
    assert head_office_passes_by(operation, n2) == ""
    Campaign.objects.filter(operation=operation, branch=n2).update(status=CampaignStatus.AWAITING_APPROVAL)
    assert head_office_passes_by(operation, n2) == "own_version"
    assert "Your branch sends its own version" in _page(world, operation, "sibling_branch_manager").content.decode()
