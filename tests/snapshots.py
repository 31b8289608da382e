"""Shared builders of the frozen-snapshot and co-signed send tests: an e-mail template that shows
every branch detail and a library image, branches with known details, and the real path to a
scheduled or sending campaign (proof, approvals, schedule, committed arbitration, send start)."""

from __future__ import annotations

import hashlib
import io
import re

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from approvals.models import Proof, ProofStatus
from approvals.services import proof_decide, proof_request, send_gate
from central.arbitration import arbitrate
from central.campaigns.services import campaign_schedule, campaign_send_start, campaign_update
from central.models import ArbitrationRun, Campaign, CampaignStatus
from local_stores.models import Node
from templates_lib import services as template_services

BODY = """<mjml><mj-body><mj-section><mj-column>
<mj-image src="{{ slot.visual }}" alt="" />
<mj-text>{{ slot.headline }}</mj-text>
<mj-text>Bonjour {{ recipient.first_name }},</mj-text>
<mj-text>{{ branch.name }} · {{ branch.address }} · {{ branch.postal_code }} {{ branch.city }} · {{ branch.phone }}</mj-text>
<mj-text>Horaires : {{ branch.opening_hours }}</mj-text>
<mj-text>{{ branch.signature }} — {{ branch.manager_name }}</mj-text>
<mj-text><a href="{{ system.unsubscribe_url }}">Se désinscrire</a></mj-text>
</mj-column></mj-section></mj-body></mjml>"""
SLOTS = [
    {"name": "headline", "type": "short_text", "label": "Titre", "max_length": 80, "required": True,
     "default": "Nos nouveautés"},
    {"name": "visual", "type": "image", "label": "Visuel", "required": True},
]
#: The branches' details when the proof is made.
DETAILS = {
    "N1": {"address_line1": "1 rue Nationale", "postal_code": "59000", "phone": "03 20 00 00 01",
           "email": "lille@alpha.example.test", "opening_hours": "9h-19h", "manager_signature": "Marie Durand, gérante"},
    "N2": {"address_line1": "2 place des Héros", "postal_code": "62000", "phone": "03 21 00 00 02",
           "email": "arras@alpha.example.test", "opening_hours": "10h-18h", "manager_signature": "Paul Martin, gérant"},
    "S1": {"address_line1": "3 boulevard Victor-Hugo", "postal_code": "30000", "phone": "04 66 00 00 03",
           "email": "nimes@alpha.example.test", "opening_hours": "8h-20h", "manager_signature": "Inès Garcia, gérante"},
    "alpha:HQ": {"address_line1": "10 avenue du Siège", "postal_code": "75008", "city": "Paris",
                 "phone": "01 40 00 00 00", "email": "contact@alpha.example.test", "opening_hours": "",
                 "manager_signature": "Le service clients Alpha"},
}


def png_bytes(size: tuple[int, int], colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def upload(world, data: bytes):
    return template_services.asset_upload(
        network=world.networks["alpha"], uploaded_file=SimpleUploadedFile("visuel.png", data, content_type="image/png"),
        name="Visuel", tags="", uploaded_by=world.users["head_office"])


def email_version(world, visual):
    """Published; the image slot's default is the library image ``visual``."""
    slots = [SLOTS[0], {**SLOTS[1], "default": visual.public_id}]
    template = template_services.template_create(network=world.networks["alpha"], kind="email",
                                                 name="Signed e-mail", created_by=world.users["head_office"])
    draft = template.versions.get()
    template_services.draft_update(version=draft, edited_by=world.users["head_office"],
                                   subject="{{ slot.headline }} chez {{ branch.name }}", body=BODY, slots=slots)
    return template_services.version_publish(version=draft, published_by=world.users["head_office"])


def set_details(world, *keys: str) -> None:
    for key in keys:
        Node.objects.filter(pk=world.nodes[key].pk).update(**DETAILS[key])
        world.nodes[key].refresh_from_db()


def approved_proof(campaign: Campaign) -> Proof:
    return Proof.objects.get(campaign=campaign, status=ProofStatus.APPROVED)


def approve_and_schedule(world, campaign: Campaign, *, author: str, slot_values: dict | None = None) -> Campaign:
    """Request the proof (as ``author``), every step approves, schedule."""
    user = world.users[author]
    if slot_values is not None:
        campaign_update(campaign=campaign, updated_by=user, slot_values=slot_values)
    proof = proof_request(campaign=Campaign.objects.get(pk=campaign.pk), requested_by=user)
    for step in proof.steps:
        decider = world.users["regional_manager" if step["level"] == "region" else "approver"]
        proof_decide(proof=Proof.objects.get(pk=proof.pk), decided_by=decider, verdict="approve")
    return campaign_schedule(campaign=Campaign.objects.get(pk=campaign.pk), scheduled_by=user)


def start_sending(world, campaign: Campaign) -> Campaign:
    """The committed arbitration through the real gate makes the deliveries; the send starts."""
    campaign = Campaign.objects.get(pk=campaign.pk)
    assert campaign.status == CampaignStatus.SCHEDULED
    arbitrate(network=world.networks["alpha"], starts_on=campaign.send_date, ends_on=campaign.send_date,
              mode=ArbitrationRun.Mode.COMMIT, gate=send_gate)
    return campaign_send_start(campaign=campaign)


def image_sources(html: str) -> list[str]:
    return re.findall(r'<img[^>]*\bsrc="([^"]+)"', html)
