"""Branches review head office's national target (issue 18, item 7): the services, the selectors,
the pages and the API, with answers counted by hand.

The set-up: an operation of network alpha (deadline in 10 days) with head office's own national
SMS send targeting the segment "gold". Branch N1 (Lille) has seven customers of its own besides the
world's Anne Nord (who refuses SMS): five "gold" ones reachable by SMS (proposed), one "silver"
reachable (not proposed: the one the branch adds) and one "gold" who refuses SMS (never proposed).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from central.models import Campaign, CampaignEvent, ConsentStatus, Customer, NationalTargetReview
from central.services import national_campaign_create
from central.target_review import review_add, review_remove, review_restore
from central.target_review_selectors import (
    review_counts,
    review_deadline,
    review_is_open,
    review_list,
)
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
