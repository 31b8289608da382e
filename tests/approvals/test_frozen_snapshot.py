"""Issue 18, item 3: the proof freezes every input of the rendering, and dispatch renders only
from that snapshot. After approval, the branch's address, signature and name change, the library
image's file is overwritten, and head office changes the SMS STOP mention and its forbidden words:
the messages a real SMTP server on loopback (aiosmtpd) receives — and the SMS the provider gets —
are the approved ones. A snapshot, a template version or a frozen image altered after approval
stops the send before its first message, with the reason on the campaign page. Runs on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from approvals.models import Proof
from central.delivery import claims, control, links, send_state, sending
from central.models import Campaign, CampaignStatus, Delivery, DeliveryStatus
from local_stores.models import Node
from local_stores.services import node_update
from templates_lib import frozen
from templates_lib.models import ContentRules, TemplateVersion
from tests.dispatching import add_customers
from tests.planning import joined_campaign, sms_version
from tests.snapshots import (
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


def dispatch_all(campaign: Campaign) -> claims.ChunkResult:
    ids = Delivery.objects.filter(campaign=campaign).order_by("pk").values_list("pk", flat=True)
    return sending.dispatch_chunk(campaign_id=campaign.pk, first_id=ids.first(), last_id=ids.last())


def branch_campaign(world, media):
    """N1's e-mail campaign, approved and scheduled with the red library image, to Anne and two more."""
    set_details(world, "N1")
    asset = upload(world, RED)
    campaign = joined_campaign(world, version=email_version(world, asset), reachable=0)
    add_customers(world, 2)
    approve_and_schedule(world, campaign, author="branch_manager",
                         slot_values={"headline": "Foire aux vins", "visual": asset.public_id})
    return campaign, asset


def change_everything_behind_the_proof(world, asset) -> None:
    """What the issue lists: the branch manager edits the branch's details (a signature holding a word
    the content rules refuse), head office renames the branch and changes the rules, and the asset's
    file is overwritten in place (its URL now serves other bytes)."""
    node_update(node=Node.objects.get(pk=world.nodes["N1"].pk), edited_by=world.users["branch_manager"],
                data={"manager_signature": "Tout est gratuit !", "phone": "06 99 99 99 99", "opening_hours": "fermé"})
    node_update(node=Node.objects.get(pk=world.nodes["N1"].pk), edited_by=world.users["head_office"],
                data={"address_line1": "99 avenue Nouvelle", "name": "Lille Centre"})
    ContentRules.objects.update_or_create(network=world.networks["alpha"], defaults={"forbidden_patterns": "gratuit"})
    Path(asset.file.path).write_bytes(BLUE)


# --- E-mail through a real SMTP server ----------------------------------------------------------


def test_the_messages_received_are_the_approved_proof_after_the_branch_and_the_image_changed(world, media, sink):
    campaign, asset = branch_campaign(world, media)
    proof = approved_proof(campaign)
    campaign = start_sending(world, campaign)
    change_everything_behind_the_proof(world, asset)

    result = dispatch_all(campaign)

    assert (result.sent, result.failed, result.stopped) == (3, 0, "")
    frozen_url = f"{BASE}/media/frozen/{sha256(RED)[:2]}/{sha256(RED)}.png"
    # the proof, as approved: the details of the day of the request and the frozen copy of the image
    assert proof.subject == "Foire aux vins chez Lille"
    assert image_sources(proof.html) == [frozen_url]
    for line in ("Lille · 1 rue Nationale · 59000 Lille · 03 20 00 00 01", "Horaires : 9h-19h",
                 "Marie Durand, gérante — Tester Branch-Manager", "Bonjour Camille,"):
        assert line in proof.text
    received = {item.to: item for item in sink.handler.received}
    assert sorted(received) == ["anne.nord@example.test", "c0@example.test", "c1@example.test"]
    for address, item in received.items():
        delivery = Delivery.objects.select_related("customer").get(campaign=campaign, customer__email=address)
        message = item.message
        assert message["Subject"] == proof.subject
        assert message["From"].addresses[0].display_name == "Lille"
        assert message["Reply-To"].addresses[0].addr_spec == "lille@alpha.example.test"
        # the text part is the proof's, but for the recipient's first name and their own links
        expected_text = (proof.text.replace("Bonjour Camille,", f"Bonjour {delivery.customer.first_name},")
                         .replace(f"{BASE}/u/preview", links.unsubscribe_url(delivery.token))
                         .replace(f"{BASE}/v/preview", links.view_online_url(delivery.token)))
        assert item.text.strip() == expected_text.strip()
        html = item.html
        assert image_sources(html)[0] == frozen_url  # (then the open pixel)
        for changed in ("99 avenue Nouvelle", "gratuit", "06 99 99 99 99", "fermé", "Lille Centre"):
            assert changed not in html and changed not in item.text
    # the frozen copy holds the approved bytes; the library's file now holds others
    assert Path(media, "frozen", sha256(RED)[:2], f"{sha256(RED)}.png").read_bytes() == RED
    assert Path(asset.file.path).read_bytes() == BLUE
    # "view online" shows the message as it was sent, not the branch's details of today
    token = Delivery.objects.filter(campaign=campaign).first().token
    online = world.client_for("anonymous").get(links.view_online_url(token).removeprefix(BASE))
    assert online.status_code == 200
    assert "1 rue Nationale" in online.content.decode() and "99 avenue Nouvelle" not in online.content.decode()


def test_the_snapshot_holds_every_input_and_the_hash_covers_it(world, media, settings):
    settings.DEFAULT_FROM_EMAIL = "Relais <envoi@relais.example.test>"
    campaign, asset = branch_campaign(world, media)
    proof = approved_proof(campaign)
    snapshot = proof.snapshot
    n1 = world.nodes["N1"]
    version = campaign.template_version
    assert snapshot["template_version"] == {"id": version.pk, "public_id": version.public_id,
                                            "content_hash": version.content_hash}
    assert snapshot["slot_values"] == {"headline": "Foire aux vins", "visual": asset.public_id}
    assert snapshot["default_variant"] == n1.public_id and list(snapshot["variants"]) == [n1.public_id]
    variant = snapshot["variants"][n1.public_id]
    assert variant["branch"] == {
        "pk": n1.public_id, "name": "Lille", "address_line1": "1 rue Nationale", "address_line2": "",
        "postal_code": "59000", "city": "Lille", "phone": "03 20 00 00 01", "email": "lille@alpha.example.test",
        "opening_hours": "9h-19h", "manager_signature": "Marie Durand, gérante",
        "manager_name": "Tester Branch-Manager", "website_url": "",
        "facebook_url": "", "instagram_url": "", "logo": None}
    assert variant["sender"] == {"name": "Lille", "address": "envoi@relais.example.test",
                                 "reply_to": ["lille@alpha.example.test"], "domain": "relais.example.test"}
    assert snapshot["assets"] == {asset.public_id: {
        "sha256": sha256(RED), "path": f"frozen/{sha256(RED)[:2]}/{sha256(RED)}.png", "content_type": "image/png"}}
    assert snapshot["system"] == {"stop_mention": "STOP au 36173", "unsubscribe_mailto": ""}
    assert list(snapshot["variant_hashes"]) == [n1.public_id]
    # the content hash is that of the fields read back, snapshot included: change one detail, and
    # the hash no longer matches (what the send refuses)
    from approvals.services import _content_hash, proof_frozen_fields

    fields = proof_frozen_fields(proof)
    assert _content_hash(fields) == proof.content_hash
    fields["snapshot"]["variants"][n1.public_id]["branch"]["address_line1"] = "99 avenue Nouvelle"
    assert _content_hash(fields) != proof.content_hash


def test_a_snapshot_altered_in_the_database_after_approval_stops_the_send(world, media, sink):
    campaign, _asset = branch_campaign(world, media)
    proof = approved_proof(campaign)
    campaign = start_sending(world, campaign)
    altered = proof.snapshot
    altered["variants"][world.nodes["N1"].public_id]["branch"]["manager_signature"] = "Tout est gratuit !"
    Proof.objects.filter(pk=proof.pk).update(snapshot=altered)

    result = dispatch_all(campaign)

    assert result.sent == 0 and result.stopped == CampaignStatus.PAUSED
    assert sink.handler.received == []
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED
    assert send_state.send_blocked_reason(campaign) == (
        "The approved proof holds no frozen rendering, or it was altered: request approval again.")
    assert set(Delivery.objects.filter(campaign=campaign).values_list("status", flat=True)) == {DeliveryStatus.QUEUED}


def test_a_template_version_changed_behind_the_proof_stops_the_send_and_the_page_says_why(world, media, sink):
    campaign, _asset = branch_campaign(world, media)
    campaign = start_sending(world, campaign)
    # a published version cannot be saved; a direct update stands for a change the proof did not see
    TemplateVersion.objects.filter(pk=campaign.template_version_id).update(subject="Tout est gratuit")

    result = dispatch_all(campaign)

    assert result.sent == 0 and sink.handler.received == []
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED
    reason = "The approved template version changed or is gone."
    assert send_state.send_blocked_reason(campaign) == reason
    page = world.client_for("branch_manager").get(f"/network/campaigns/{campaign.public_id}/")
    assert page.status_code == 200
    assert reason in page.content.decode()
    # resuming is refused with the same reason
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="The approved template version changed"):
        control.campaign_send_resume(campaign=campaign, resumed_by=world.users["branch_manager"])


def test_a_frozen_image_altered_in_the_storage_stops_the_send_before_its_first_message(world, media, sink):
    """The day's send (``campaigns_send_due``) renders the proof's samples again and reads every
    frozen file against its hash before the first message."""
    campaign, _asset = branch_campaign(world, media)
    proof = approved_proof(campaign)
    path = proof.snapshot["assets"][_asset.public_id]["path"]
    with default_storage.open(path, "wb") as stream:
        stream.write(BLUE)

    done = sending.campaigns_send_due(today=campaign.send_date)

    assert done["campaigns"] == 0  # none started
    assert sink.handler.received == []
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED
    assert send_state.send_blocked_reason(campaign) == f"The approved image {_asset.public_id} was changed after approval."


def test_the_day_s_send_goes_when_the_snapshot_renders_as_approved(world, media, sink,
                                                                   django_capture_on_commit_callbacks):
    campaign, asset = branch_campaign(world, media)
    change_everything_behind_the_proof(world, asset)

    with django_capture_on_commit_callbacks(execute=True):  # the chunks run in-process, after the commit
        done = sending.campaigns_send_due(today=campaign.send_date)

    assert done["campaigns"] == 1
    assert send_state.campaign_send_check(Campaign.objects.get(pk=campaign.pk)) is None
    assert sorted(sink.handler.addresses()) == ["anne.nord@example.test", "c0@example.test", "c1@example.test"]
    assert all("1 rue Nationale" in item.text for item in sink.handler.received)


def test_verify_names_the_variant_whose_rendering_differs_from_its_frozen_hash(world, media):
    campaign, _asset = branch_campaign(world, media)
    snapshot = approved_proof(campaign).snapshot
    assert frozen.verify(snapshot) is None
    snapshot["variant_hashes"][world.nodes["N1"].public_id] = "0" * 64
    assert frozen.verify(snapshot) == "The message for Lille no longer matches its approved proof."
    assert frozen.verify({}) == "The approved proof holds no frozen rendering: request approval again."


# --- SMS: the STOP mention as approved ----------------------------------------------------------


def test_the_sms_goes_out_with_the_approved_stop_mention_and_branch_name(world, settings, tmp_path):
    settings.RELAIS_SMS_BACKEND = "central.delivery.sms_backends.FileSmsBackend"
    settings.RELAIS_SMS_FILE_PATH = tmp_path / "sms"
    ContentRules.objects.update_or_create(network=world.networks["alpha"],
                                          defaults={"sms_stop_mention": "STOP au 36111"})
    campaign = joined_campaign(world, version=sms_version(world), reachable=2)
    approve_and_schedule(world, campaign, author="branch_manager", slot_values={"message": "vins de fête"})
    proof = approved_proof(campaign)
    campaign = start_sending(world, campaign)
    ContentRules.objects.filter(network=world.networks["alpha"]).update(sms_stop_mention="STOP au 99999")
    Node.objects.filter(pk=world.nodes["N1"].pk).update(name="Lille Centre")

    result = dispatch_all(campaign)

    assert result.sent == 2
    assert proof.text == "Lille : vins de fête. STOP au 36111"
    lines = [json.loads(line) for file in sorted(Path(tmp_path / "sms").glob("*.jsonl"))
             for line in file.read_text().splitlines()]
    assert [line["text"] for line in lines] == ["Lille : vins de fête. STOP au 36111"] * 2


# --- The branch's page: approved campaigns still using the old details ---------------------------


def test_the_branch_page_lists_approved_campaigns_using_old_details_and_asks_for_a_new_approval(world, media):
    campaign, _asset = branch_campaign(world, media)
    old_proof = approved_proof(campaign)
    client = world.client_for("branch_manager")
    page = client.get(f"/network/branches/{world.nodes['N1'].public_id}/").content.decode()
    assert 'data-testid="old-details"' not in page  # nothing changed yet
    node_update(node=Node.objects.get(pk=world.nodes["N1"].pk), edited_by=world.users["branch_manager"],
                data={"manager_signature": "Julie Petit, gérante", "phone": "03 20 99 99 99"})

    page = client.get(f"/network/branches/{world.nodes['N1'].public_id}/").content.decode()

    assert 'data-testid="old-details"' in page
    assert f"/network/campaigns/{campaign.public_id}/" in page
    assert "Changed since the approval: phone, manager&#x27;s signature" in page
    assert 'data-testid="request-again"' in page
    # the sibling branch's manager does not see it (the page answers 404)
    assert world.client_for("sibling_branch_manager").get(
        f"/network/branches/{world.nodes['N1'].public_id}/").status_code == 404

    response = client.post(f"/network/campaigns/{campaign.public_id}/request-approval/", "again=1",
                           content_type="application/x-www-form-urlencoded")

    assert response.status_code == 302
    old_proof.refresh_from_db()
    assert old_proof.status == "voided"
    assert old_proof.closed_reason.startswith("a new approval was requested with the branch's current details")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.AWAITING_APPROVAL
    new_proof = Proof.objects.get(campaign=campaign, status="pending")
    frozen_branch = new_proof.snapshot["variants"][world.nodes["N1"].public_id]["branch"]
    assert (frozen_branch["manager_signature"], frozen_branch["phone"]) == ("Julie Petit, gérante", "03 20 99 99 99")
    assert "Julie Petit, gérante" in new_proof.text and "Marie Durand" not in new_proof.text
    page = client.get(f"/network/branches/{world.nodes['N1'].public_id}/").content.decode()
    assert 'data-testid="old-details"' not in page


# --- Print: the mail merge from the frozen snapshot ----------------------------------------------


def test_the_mail_merge_prints_the_approved_image_and_address_after_both_changed(world, media, settings,
                                                                                django_capture_on_commit_callbacks):
    from io import BytesIO

    from pypdf import PdfReader

    from central.models import PrintFile
    from templates_lib import services as template_services
    from tests.dispatching import to_sending

    set_details(world, "N1")
    asset = upload(world, RED)
    template = template_services.template_create(network=world.networks["alpha"], kind="print", name="Flyer",
                                                 created_by=world.users["head_office"])
    draft = template.versions.get()
    template_services.draft_update(
        version=draft, edited_by=world.users["head_office"],
        body='<h1>{{ slot.headline }}</h1><img src="{{ slot.visual }}" alt=""><p>{{ branch.address }}</p>'
             "<p>Bonjour {{ recipient.first_name }}</p>",
        slots=[{"name": "headline", "type": "short_text", "label": "Titre", "max_length": 80, "required": True,
                "default": "Nos nouveautés"},
               {"name": "visual", "type": "image", "label": "Visuel", "required": True, "default": asset.public_id}])
    version = template_services.version_publish(version=draft, published_by=world.users["head_office"])
    campaign = joined_campaign(world, version=version, channels=["post"], reachable=0)
    add_customers(world, 2, prefix="p", channel="post")
    campaign = to_sending(world, campaign, slot_values={"headline": "Foire aux vins", "visual": asset.public_id})
    node_update(node=Node.objects.get(pk=world.nodes["N1"].pk), edited_by=world.users["head_office"],
                data={"address_line1": "99 avenue Nouvelle"})
    Path(asset.file.path).write_bytes(BLUE)

    with django_capture_on_commit_callbacks(execute=True):
        sending.campaign_dispatch(campaign=campaign)

    merge = PrintFile.objects.get(campaign=campaign, kind=PrintFile.Kind.MAIL_MERGE)
    reader = PdfReader(BytesIO(merge.file.read()))
    pages = [page.extract_text() for page in reader.pages]
    assert len(pages) == 2
    for index, text in enumerate(pages):
        assert "Foire aux vins" in text and "1 rue Nationale" in text and f"Bonjour Prénom{index}" in text
        assert "99 avenue Nouvelle" not in text
    assert [image.image.size for page in reader.pages for image in page.images] == [(16, 12), (16, 12)]


def test_a_proof_whose_image_file_is_missing_is_refused_with_a_clear_message(world, media):
    from django.core.exceptions import ValidationError

    from approvals.services import proof_request
    from central.campaigns.services import campaign_update

    set_details(world, "N1")
    asset = upload(world, RED)
    campaign = joined_campaign(world, version=email_version(world, asset), reachable=0)
    add_customers(world, 1)
    campaign_update(campaign=campaign, updated_by=world.users["branch_manager"],
                    slot_values={"headline": "Foire aux vins", "visual": asset.public_id})
    Path(asset.file.path).unlink()

    with pytest.raises(ValidationError) as refused:
        proof_request(campaign=Campaign.objects.get(pk=campaign.pk), requested_by=world.users["branch_manager"])

    assert refused.value.messages == ["The campaign cannot be rendered: The image Visuel cannot be read: its file is missing."]
    assert not Proof.objects.filter(campaign=campaign).exists()
