"""Issue 18, item 6: a co-signed national send. Head office's message is rendered for each customer
with *their* owner branch's details as the proof froze them — the branch's name as the sender, its
Reply-To, address, opening hours and manager's signature — so that it reads as coming from the
customer's own branch. The proof shows several branches' renderings, and its hash covers every
branch's variant. Sent through a real SMTP server on loopback (aiosmtpd) after a branch's address and
the library image's file changed behind the proof. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from approvals.services import _content_hash, proof_frozen_fields
from central.delivery import content, links, sending
from central.models import Campaign, Delivery
from local_stores.models import Node
from local_stores.services import node_update
from templates_lib import frozen
from tests.dispatching import add_customers
from tests.planning import plan
from tests.snapshots import (
    DETAILS,
    approve_and_schedule,
    approved_proof,
    email_version,
    image_sources,
    png_bytes,
    set_details,
    sha256,
    start_sending,
    upload,
)

pytestmark = pytest.mark.django_db
BASE = "https://relais.example.test"
RED = png_bytes((16, 12), "red")
BLUE = png_bytes((30, 30), "blue")


def national_campaign(world):
    """Head office's national e-mail of an operation open to the whole network (N1, N2, S1), with one
    more customer in each branch; approved (head office's approver) and scheduled."""
    set_details(world, "N1", "N2", "S1", "alpha:HQ")
    asset = upload(world, RED)
    version = email_version(world, asset)
    operation = plan(world, name="Foire nationale", versions=[version])
    for branch in ("N1", "N2", "S1"):
        add_customers(world, 1, prefix=f"{branch.lower()}-", branch=branch)
    campaign = Campaign.objects.create(network=world.networks["alpha"], branch=None, operation=operation,
                                       template_version=version, channel="email", send_date=operation.send_from,
                                       slot_values={"headline": "Foire aux vins", "visual": asset.public_id},
                                       created_by=world.users["head_office"])
    approve_and_schedule(world, campaign, author="head_office")
    return Campaign.objects.get(pk=campaign.pk), asset


#: What each branch's customers must read (the details frozen by the proof).
EXPECTED = {
    "N1": ("Lille", "lille@alpha.example.test",
           "Lille · 1 rue Nationale · 59000 Lille · 03 20 00 00 01", "Horaires : 9h-19h",
           "Marie Durand, gérante — Tester Branch-Manager"),
    "N2": ("Arras", "arras@alpha.example.test",
           "Arras · 2 place des Héros · 62000 Arras · 03 21 00 00 02", "Horaires : 10h-18h",
           "Paul Martin, gérant — Tester Sibling-Branch-Manager"),
    "S1": ("Nîmes", "nimes@alpha.example.test",
           "Nîmes · 3 boulevard Victor-Hugo · 30000 Nîmes · 04 66 00 00 03", "Horaires : 8h-20h",
           "Inès Garcia, gérante — Tester Other-Region-Manager"),
}


def test_each_customer_gets_head_office_s_message_signed_by_their_own_branch_as_approved(world, media, sink):
    campaign, asset = national_campaign(world)
    proof = approved_proof(campaign)
    campaign = start_sending(world, campaign)
    # behind the proof: Arras moves, Lille's manager changes, and the image's file is overwritten
    node_update(node=Node.objects.get(pk=world.nodes["N2"].pk), edited_by=world.users["head_office"],
                data={"address_line1": "50 rue Neuve", "postal_code": "62001"})
    node_update(node=Node.objects.get(pk=world.nodes["N1"].pk), edited_by=world.users["branch_manager"],
                data={"manager_signature": "Nouveau gérant"})
    Path(asset.file.path).write_bytes(BLUE)

    ids = Delivery.objects.filter(campaign=campaign).order_by("pk").values_list("pk", flat=True)
    result = sending.dispatch_chunk(campaign_id=campaign.pk, first_id=ids.first(), last_id=ids.last())

    # Anne (N1) and Bruno (N2) of the world, and the three added; Chloe (S1) gave no e-mail consent
    by_address = {item.to: item for item in sink.handler.received}
    assert result.sent == 5 and sorted(by_address) == [
        "anne.nord@example.test", "bruno.voisin@example.test", "n1-0@example.test", "n2-0@example.test",
        "s1-0@example.test"]
    frozen_url = f"{BASE}/media/frozen/{sha256(RED)[:2]}/{sha256(RED)}.png"
    owner = {"anne.nord@example.test": "N1", "n1-0@example.test": "N1", "bruno.voisin@example.test": "N2",
             "n2-0@example.test": "N2", "s1-0@example.test": "S1"}
    samples = {sample["name"]: sample for sample in proof.snapshot["samples"]}
    for address, item in by_address.items():
        name, reply_to, address_line, hours, signature = EXPECTED[owner[address]]
        message = item.message
        assert message["From"].addresses[0].display_name == name
        assert message["Reply-To"].addresses[0].addr_spec == reply_to
        assert message["Subject"] == f"Foire aux vins chez {name}"
        for line in (address_line, hours, signature):
            assert line in item.text
        for changed in ("50 rue Neuve", "Nouveau gérant", "10 avenue du Siège"):
            assert changed not in item.text and changed not in item.html
        assert image_sources(item.html)[0] == frozen_url
        # the text is the proof's sample of that branch, for this recipient and their links
        delivery = Delivery.objects.select_related("customer").get(campaign=campaign, customer__email=address)
        sample = samples[name]
        assert sample["subject"] == message["Subject"] and sample["sender"] == name
        expected_text = (sample["text"].replace("Bonjour Camille,", f"Bonjour {delivery.customer.first_name},")
                         .replace(f"{BASE}/u/preview", links.unsubscribe_url(delivery.token)))
        assert item.text.strip() == expected_text.strip()


def test_the_proof_shows_several_branches_and_its_hash_covers_each_branch_s_variant(world, media):
    campaign, _asset = national_campaign(world)
    proof = approved_proof(campaign)
    snapshot = proof.snapshot
    keys = {world.nodes[key].public_id: key for key in ("N1", "N2", "S1")}
    # one variant per branch the operation reaches, and head office's for customers without one
    assert set(snapshot["variants"]) == {frozen.HEAD_OFFICE, *keys}
    assert set(snapshot["variant_hashes"]) == set(snapshot["variants"])
    assert snapshot["default_variant"] == frozen.HEAD_OFFICE
    assert snapshot["variants"][frozen.HEAD_OFFICE]["sender"]["name"] == "Alpha"
    # the proof's own rendering is head office's; three branches' samples are shown beside it
    assert "10 avenue du Siège" in proof.text and proof.subject == "Foire aux vins chez Alpha HQ"
    assert sorted(sample["name"] for sample in snapshot["samples"]) == ["Arras", "Lille", "Nîmes"]
    for sample in snapshot["samples"]:
        name, _reply_to, address_line, hours, signature = EXPECTED[keys[sample["variant"]]]
        assert sample["name"] == name and address_line in sample["text"] and signature in sample["text"] and hours in sample["text"]
    # each variant's rendering is in the hash: another hash for Nîmes, and the proof's hash changes
    fields = proof_frozen_fields(proof)
    assert _content_hash(fields) == proof.content_hash
    fields["snapshot"]["variant_hashes"][world.nodes["S1"].public_id] = "0" * 64
    assert _content_hash(fields) != proof.content_hash
    # the three branches' renderings differ from one another
    assert len({snapshot["variant_hashes"][key] for key in keys}) == 3


def test_the_proof_page_shows_the_branches_samples(world, media):
    campaign, _asset = national_campaign(world)
    proof = approved_proof(campaign)
    page = world.client_for("approver").get(f"/approvals/proofs/{proof.public_id}/")
    assert page.status_code == 200
    body = page.content.decode()
    for name in ("Lille", "Arras", "Nîmes"):
        assert f"Foire aux vins chez {name}" in body
    assert "Marie Durand, gérante" in body and "Inès Garcia, gérante" in body


def test_a_customer_of_a_branch_opened_after_the_proof_gets_head_office_s_variant(world, media, sink):
    campaign, _asset = national_campaign(world)
    send = content.FrozenSend(campaign)
    newcomer = Node.objects.create(network=world.networks["alpha"], parent=world.nodes["NORTH"], kind="branch",
                                   code="N9", name="Douai", path=world.nodes["NORTH"].path + "nod_douai/")
    customer = add_customers(world, 1, prefix="n9-", branch="N1")[0]
    customer.branch = newcomer
    assert send.key_for(customer) == frozen.HEAD_OFFICE
    assert send.key_for(world.customers["N2"]) == world.nodes["N2"].public_id
    assert send.sender(frozen.HEAD_OFFICE)[0].startswith("Alpha <")
    assert DETAILS["alpha:HQ"]["address_line1"] in frozen.render_sample(
        send.version, send.snapshot, frozen.HEAD_OFFICE, pdf=False)["text"]


def test_head_office_sees_on_a_branch_s_page_the_national_send_using_its_old_details(world, media):
    campaign, _asset = national_campaign(world)
    node_update(node=Node.objects.get(pk=world.nodes["N2"].pk), edited_by=world.users["head_office"],
                data={"address_line1": "50 rue Neuve"})

    page = world.client_for("head_office").get(f"/network/branches/{world.nodes['N2'].public_id}/").content.decode()
    other = world.client_for("head_office").get(f"/network/branches/{world.nodes['S1'].public_id}/").content.decode()

    assert 'data-testid="old-details"' in page and f"/network/campaigns/{campaign.public_id}/" in page
    assert "Changed since the approval: address" in page and 'data-testid="request-again"' in page
    assert 'data-testid="old-details"' not in other  # Nîmes did not change


def test_a_co_signed_national_sms_is_signed_by_each_customer_s_branch(world, settings, tmp_path):
    import json

    from tests.planning import sms_version

    settings.RELAIS_SMS_BACKEND = "central.delivery.sms_backends.FileSmsBackend"
    settings.RELAIS_SMS_FILE_PATH = tmp_path / "sms"
    version = sms_version(world)
    operation = plan(world, name="SMS national", versions=[version])
    for branch, mobile in (("N1", "+33611111111"), ("N2", "+33622222222"), ("S1", "+33633333333")):
        add_customers(world, 1, prefix=f"{branch.lower()}-", branch=branch, channel="sms", mobile=mobile)
    campaign = Campaign.objects.create(network=world.networks["alpha"], branch=None, operation=operation,
                                       template_version=version, channel="sms", send_date=operation.send_from,
                                       slot_values={"message": "vins de fête"}, created_by=world.users["head_office"])
    approve_and_schedule(world, campaign, author="head_office")
    proof = approved_proof(campaign)
    campaign = start_sending(world, campaign)
    Node.objects.filter(pk=world.nodes["N2"].pk).update(name="Arras Gare")  # after approval

    ids = Delivery.objects.filter(campaign=campaign).order_by("pk").values_list("pk", flat=True)
    sending.dispatch_chunk(campaign_id=campaign.pk, first_id=ids.first(), last_id=ids.last())

    sent = {line["to"]: line["text"] for file in Path(tmp_path / "sms").glob("*.jsonl")
            for line in map(json.loads, file.read_text().splitlines())}
    # Anne (N1, of the world) has no SMS consent; the three added get their own branch's name
    assert sent == {"+33611111111": "Lille : vins de fête. STOP au 36173",
                    "+33622222222": "Arras : vins de fête. STOP au 36173",
                    "+33633333333": "Nîmes : vins de fête. STOP au 36173"}
    assert proof.text == "Alpha HQ : vins de fête. STOP au 36173"
    assert sorted(sample["text"] for sample in proof.snapshot["samples"]) == sorted(sent.values())
