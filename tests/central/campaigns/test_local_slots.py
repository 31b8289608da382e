"""Issue 18, item 6: a co-signed national send with a *local slot*. Head office marks the slot
"offer" of its national e-mail as filled by each branch (its own offer being the default); Lille's
manager writes "Offre Lille -30 %" on the target-review page, Arras writes nothing. The proof freezes
Lille's text in Lille's variant (its hash covering it), the approvals, schedule and send follow, and
through a real SMTP server on loopback Lille's customers read Lille's offer, Arras' and Nîmes' head
office's. Refused: a forbidden word (by slot), another branch's manager, anything after head
office's proof was requested. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from approvals.services import _content_hash, proof_frozen_fields, proof_request
from central.campaigns.local_slots import local_slot_values_save, local_slots_set
from central.campaigns.services import campaign_update, national_campaign_create
from central.delivery import sending
from central.models import Campaign, CampaignEvent, CampaignStatus, Delivery, LocalSlotValues
from templates_lib import frozen
from templates_lib.services import content_rules_update
from tests.dispatching import SLOT_VALUES, add_customers, email_version
from tests.planning import plan
from tests.snapshots import approve_and_schedule, approved_proof, set_details, start_sending

pytestmark = pytest.mark.django_db

HEAD_OFFICE_OFFER = SLOT_VALUES["offer"]  # "-20 % sur les bordeaux"
LILLE_OFFER = "Offre Lille -30 %"


@pytest.fixture
def national(world):
    """Head office's national e-mail (headline, offer) of an operation open to N1 (Lille), N2
    (Arras) and S1 (Nîmes), a draft with head office's texts; one more customer in each branch."""
    set_details(world, "N1", "N2", "S1", "alpha:HQ")
    version = email_version(world)
    operation = plan(world, name="Foire nationale", versions=[version])
    campaign = national_campaign_create(operation=operation, template_version=version,
                                        created_by=world.users["head_office"])
    campaign = campaign_update(campaign=campaign, updated_by=world.users["head_office"], slot_values=SLOT_VALUES)
    for branch in ("N1", "N2", "S1"):
        add_customers(world, 1, prefix=f"{branch.lower()}-", branch=branch)
    return Campaign.objects.get(pk=campaign.pk)


def _review_url(campaign, world, branch="N1"):
    return f"/network/operations/{campaign.operation.public_id}/target-review/?branch={world.nodes[branch].public_id}"


def _post_text(world, campaign, text, *, actor="branch_manager", branch="N1"):
    """The branch's form as a browser posts it (the review page's fields)."""
    return world.client_for(actor).post(_review_url(campaign, world, branch), {
        "branch": world.nodes[branch].public_id, "campaign": campaign.public_id, "action": "local_texts",
        f"local-{campaign.public_id}-offer": text,
    })


def test_each_branch_s_customers_read_their_branch_s_offer_or_head_office_s(world, national, sink):
    # head office marks "offer" as filled by each branch, from its campaign editor
    page = world.client_for("head_office").get(f"/network/campaigns/{national.public_id}/").content.decode()
    assert "Slots each branch may fill" in page and 'id="local-slot-offer"' in page
    response = world.client_for("head_office").post(f"/network/campaigns/{national.public_id}/",
                                                    {"form": "local_slots", "local_slots": "offer"})
    assert response.status_code == 302
    assert Campaign.objects.get(pk=national.pk).local_slots == ["offer"]

    # Lille's manager writes its offer on its review page; Arras writes nothing
    page = world.client_for("branch_manager").get(_review_url(national, world)).content.decode()
    assert "Your text in head office's message" in page
    assert f'placeholder="{HEAD_OFFICE_OFFER}"' in page
    assert _post_text(world, national, LILLE_OFFER).status_code == 302
    assert LocalSlotValues.objects.get(campaign=national, branch=world.nodes["N1"]).values == {"offer": LILLE_OFFER}
    page = world.client_for("branch_manager").get(_review_url(national, world)).content.decode()
    assert f'value="{LILLE_OFFER}"' in page

    # head office requests its proof; every step approves; scheduled
    approve_and_schedule(world, national, author="head_office")
    proof = approved_proof(national)
    snapshot = proof.snapshot
    lille, arras, nimes = (world.nodes[key].public_id for key in ("N1", "N2", "S1"))
    assert snapshot["variants"][lille]["slot_values"] == {"headline": "Foire aux vins", "offer": LILLE_OFFER}
    assert "slot_values" not in snapshot["variants"][arras] and "slot_values" not in snapshot["variants"][nimes]
    samples = {sample["name"]: sample["text"] for sample in snapshot["samples"]}
    assert sorted(samples) == ["Arras", "Lille", "Nîmes"]
    assert f"Lille : {LILLE_OFFER}" in samples["Lille"]
    assert f"Arras : {HEAD_OFFICE_OFFER}" in samples["Arras"] and LILLE_OFFER not in samples["Arras"]
    assert f"Nîmes : {HEAD_OFFICE_OFFER}" in samples["Nîmes"]
    assert f"Alpha HQ : {HEAD_OFFICE_OFFER}" in proof.text  # the proof's own rendering: head office's
    # the variant hashes cover Lille's text (what dispatch checks), and so does the proof's hash
    assert frozen.verify(snapshot) is None
    tampered = {**snapshot, "variants": {**snapshot["variants"], lille: {
        **snapshot["variants"][lille], "slot_values": {"headline": "Foire aux vins", "offer": "Offre Lille -50 %"}}}}
    assert frozen.verify(tampered) == "The message for Lille no longer matches its approved proof."
    fields = proof_frozen_fields(approved_proof(national))
    assert _content_hash(fields) == proof.content_hash
    fields["snapshot"]["variants"][lille]["slot_values"]["offer"] = "Offre Lille -50 %"
    assert _content_hash(fields) != proof.content_hash

    # sent through the real SMTP server
    campaign = start_sending(world, national)
    ids = Delivery.objects.filter(campaign=campaign).order_by("pk").values_list("pk", flat=True)
    result = sending.dispatch_chunk(campaign_id=campaign.pk, first_id=ids.first(), last_id=ids.last())
    by_address = {item.to: item for item in sink.handler.received}
    # Anne (N1) and Bruno (N2) of the world, and the three added; Chloe (S1) gave no e-mail consent
    assert result.sent == 5 and sorted(by_address) == [
        "anne.nord@example.test", "bruno.voisin@example.test", "n1-0@example.test", "n2-0@example.test",
        "s1-0@example.test"]
    expected = {"anne.nord@example.test": ("Lille", LILLE_OFFER), "n1-0@example.test": ("Lille", LILLE_OFFER),
                "bruno.voisin@example.test": ("Arras", HEAD_OFFICE_OFFER),
                "n2-0@example.test": ("Arras", HEAD_OFFICE_OFFER), "s1-0@example.test": ("Nîmes", HEAD_OFFICE_OFFER)}
    for address, (name, offer) in expected.items():
        item = by_address[address]
        assert item.message["From"].addresses[0].display_name == name
        assert f"{name} : {offer}" in item.text and f"{name} : {offer}" in item.html
        other = HEAD_OFFICE_OFFER if offer == LILLE_OFFER else LILLE_OFFER
        assert other not in item.text and other not in item.html


def test_a_forbidden_word_is_refused_by_slot_and_nothing_is_stored(world, national):
    content_rules_update(network=world.networks["alpha"], updated_by=world.users["head_office"],
                         forbidden_patterns="gratuit", allowed_link_domains="", sms_stop_mention="STOP au 36173")
    local_slots_set(campaign=national, slots=["offer"], by=world.users["head_office"])

    with pytest.raises(ValidationError) as refused:
        local_slot_values_save(campaign=national, branch=world.nodes["N1"], values={"offer": "Tout gratuit"},
                               by=world.users["branch_manager"])
    assert refused.value.message_dict == {
        "offer": ["Offre: “gratuit” is not allowed by the network's rules (rule “gratuit”)."]}

    # the page: the error at the top and beside the field, nothing stored
    response = _post_text(world, national, "Tout gratuit")
    body = response.content.decode()
    assert response.status_code == 200
    top = body.index('id="review-errors"')
    beside = body.index(f'id="id_local-{national.public_id}-offer"')
    message = "Offre: “gratuit” is not allowed by the network&#x27;s rules (rule “gratuit”)."
    assert body.index(message) > top and body.index(message, beside) > beside
    assert not LocalSlotValues.objects.filter(campaign=national).exists()
    assert not CampaignEvent.objects.filter(campaign=national, action="local_slot_values").exists()


def test_only_the_local_slots_and_only_for_one_s_own_branch(world, national):
    local_slots_set(campaign=national, slots=["offer"], by=world.users["head_office"])

    with pytest.raises(ValidationError) as refused:
        local_slot_values_save(campaign=national, branch=world.nodes["N1"], values={"headline": "Ma foire"},
                               by=world.users["branch_manager"])
    assert refused.value.message_dict == {"headline": ["Head office does not let branches fill “headline”."]}
    # Arras' manager for Lille: refused by the service, 404 on the page
    with pytest.raises(PermissionDenied):
        local_slot_values_save(campaign=national, branch=world.nodes["N1"], values={"offer": "Offre Arras"},
                               by=world.users["sibling_branch_manager"])
    assert _post_text(world, national, "Offre Arras", actor="sibling_branch_manager").status_code == 404
    assert _post_text(world, national, "Offre Arras", actor="nobody").status_code == 404
    assert not LocalSlotValues.objects.filter(campaign=national).exists()
    # a branch may not choose the local slots
    with pytest.raises(PermissionDenied):
        local_slots_set(campaign=national, slots=["headline"], by=world.users["branch_manager"])
    with pytest.raises(ValidationError) as refused:
        local_slots_set(campaign=national, slots=["offer", "nothing"], by=world.users["head_office"])
    assert refused.value.message_dict == {
        "local_slots": ["Branches may fill only text, date, price or choice slots of this template (not nothing)."]}
    assert Campaign.objects.get(pk=national.pk).local_slots == ["offer"]


def test_double_submit_and_an_empty_value_back_to_head_office_s(world, national):
    local_slots_set(campaign=national, slots=["offer"], by=world.users["head_office"])
    local_slots_set(campaign=national, slots=["offer"], by=world.users["head_office"])
    assert CampaignEvent.objects.filter(campaign=national, action="local_slots").count() == 1
    for _ in range(2):
        assert _post_text(world, national, f"  {LILLE_OFFER}  ").status_code == 302
    assert LocalSlotValues.objects.get(campaign=national, branch=world.nodes["N1"]).values == {"offer": LILLE_OFFER}
    events = CampaignEvent.objects.filter(campaign=national, action="local_slot_values")
    assert [(event.changes["branch"], event.changes["slot_values"]) for event in events] == [
        ("Lille", {"offer": [None, LILLE_OFFER]})]
    # the editor's history names the branch's text
    page = world.client_for("head_office").get(f"/network/campaigns/{national.public_id}/").content.decode()
    assert "A branch&#x27;s own text" in page and f"offer: « — » → « {LILLE_OFFER} »" in page

    assert _post_text(world, national, "").status_code == 302
    assert not LocalSlotValues.objects.filter(campaign=national).exists()
    assert CampaignEvent.objects.filter(campaign=national, action="local_slot_values").count() == 2


def test_after_head_office_s_proof_request_the_local_texts_are_frozen(world, national):
    local_slots_set(campaign=national, slots=["offer"], by=world.users["head_office"])
    local_slot_values_save(campaign=national, branch=world.nodes["N1"], values={"offer": LILLE_OFFER},
                           by=world.users["branch_manager"])
    proof_request(campaign=national, requested_by=world.users["head_office"])
    assert Campaign.objects.get(pk=national.pk).status == CampaignStatus.AWAITING_APPROVAL

    with pytest.raises(ValidationError) as refused:
        local_slot_values_save(campaign=national, branch=world.nodes["N1"], values={"offer": "Offre Lille -40 %"},
                               by=world.users["branch_manager"])
    assert refused.value.messages[0].startswith("Head office's proof was requested on ")
    assert refused.value.messages[0].endswith(": the local texts are frozen in it.")
    response = _post_text(world, national, "Offre Lille -40 %")
    body = response.content.decode()
    assert response.status_code == 200 and "the local texts are frozen in it." in body
    assert LocalSlotValues.objects.get(campaign=national, branch=world.nodes["N1"]).values == {"offer": LILLE_OFFER}
    # the page reads only: the form disabled, no save button, the reason said
    page = world.client_for("branch_manager").get(_review_url(national, world)).content.decode()
    assert 'class="alert alert-secondary mb-2 local-texts-frozen"' in page and 'value="local_texts"' not in page
    # head office may no longer change the local slots either
    with pytest.raises(ValidationError):
        local_slots_set(campaign=national, slots=[], by=world.users["head_office"])


def test_a_branch_head_office_s_send_does_not_reach_writes_nothing(world, national):
    from central.calendar.services import participation_answer

    local_slots_set(campaign=national, slots=["offer"], by=world.users["head_office"])
    participation_answer(operation=national.operation, branch=world.nodes["N2"], status="declined",
                         answered_by=world.users["sibling_branch_manager"])
    with pytest.raises(ValidationError) as refused:
        local_slot_values_save(campaign=national, branch=world.nodes["N2"], values={"offer": "Offre Arras"},
                               by=world.users["sibling_branch_manager"])
    assert refused.value.messages == ["Head office's send does not reach Arras's customers: there is no text of "
                                      "yours in it."]
    assert not LocalSlotValues.objects.exists()
