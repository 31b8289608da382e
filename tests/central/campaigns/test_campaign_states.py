"""Every list shows each campaign's state (issue 19, defects 4 and 5), built in one place
(central/campaigns/states.py): draft, waiting for approval step n of m, changes requested, approved,
scheduled, sending x %, sent, cancelled — in English and in French, on the branch's operations page
(table and operation card), the operation's page, the branch's page and the campaign's checklist;
joining names the campaigns it created; the number of queries does not grow with the list; an
offer's end or a date slot before the send date is a warning in the editor and on the proof page."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from approvals.services import proof_decide, proof_request
from central.campaigns.selectors import campaign_list
from central.campaigns.services import campaign_cancel, campaign_schedule, campaign_update
from central.campaigns.states import campaign_states
from central.models import Campaign, CampaignStatus, ConsentStatus, Customer, Delivery, DeliveryStatus
from templates_lib import services as template_services
from tests.planning import joined_campaign, plan, sms_version

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def client(world, actor="branch_manager", language="en") -> Client:
    browser = Client(HTTP_ACCEPT_LANGUAGE=language)
    browser.force_login(world.users[actor])
    return browser


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def refresh(campaign: Campaign) -> Campaign:
    return Campaign.objects.get(pk=campaign.pk)


def to_state(world, campaign: Campaign, state: str) -> Campaign:
    """Bring ``campaign`` (a draft of N1) to ``state`` the real way (deliveries made by hand for sending)."""
    manager, region, approver = (world.users[name] for name in ("branch_manager", "regional_manager", "approver"))
    if state == "draft":
        return campaign
    if state == "cancelled":
        campaign_cancel(campaign=campaign, cancelled_by=manager)
        return refresh(campaign)
    proof = proof_request(campaign=campaign, requested_by=manager)
    if state == "awaiting_1":
        return refresh(campaign)
    if state in ("changes", "rejected"):
        proof_decide(proof=proof, decided_by=region, verdict="changes" if state == "changes" else "reject",
                     comment="L'offre finit le 24 décembre : changez la date.")
        return refresh(campaign)
    proof_decide(proof=proof, decided_by=region, verdict="approve")
    if state == "awaiting_2":
        return refresh(campaign)
    proof_decide(proof=proof, decided_by=approver, verdict="approve")
    if state == "approved":
        return refresh(campaign)
    campaign_schedule(campaign=refresh(campaign), scheduled_by=manager)
    if state == "scheduled":
        return refresh(campaign)
    # sending: 5 deliveries, 2 finished (one sent, one failed) — 40 %
    customers = [Customer.objects.create(network=campaign.network, branch=campaign.branch, external_id=f"st-{i}",
                                         last_name=f"S{i}", mobile=f"+3361000000{i}", consent_sms=ConsentStatus.GRANTED)
                 for i in range(5)]
    outcomes = [DeliveryStatus.SENT, DeliveryStatus.FAILED] + [DeliveryStatus.QUEUED] * 3
    if state == "sent":
        outcomes = [DeliveryStatus.SENT] * 5
    for customer, outcome in zip(customers, outcomes, strict=True):
        Delivery.objects.create(campaign=campaign, customer=customer, channel=campaign.channel, status=outcome)
    status = {"sending": CampaignStatus.SENDING, "paused": CampaignStatus.PAUSED, "sent": CampaignStatus.SENT}[state]
    Campaign.objects.filter(pk=campaign.pk).update(status=status)
    return refresh(campaign)


#: state → (English label, French label), written by hand.
LABELS = {
    "draft": ("Draft", "Brouillon"),
    "awaiting_1": ("Waiting for approval, step 1 of 2", "En attente de validation, étape 1 sur 2"),
    "awaiting_2": ("Waiting for approval, step 2 of 2", "En attente de validation, étape 2 sur 2"),
    "changes": ("Changes requested", "Modifications demandées"),
    "rejected": ("Rejected: changes needed", "Refusée\u00a0: à modifier"),
    "approved": ("Approved, not scheduled yet", "Validée, pas encore programmée"),
    "scheduled": ("Scheduled", "Programmée"),
    "sending": ("Sending 40 %", "Envoi en cours\u00a0: 40\u00a0%"),
    "paused": ("Paused at 40 %", "En pause à 40\u00a0%"),
    "sent": ("Sent", "Envoyé"),
    "cancelled": ("Cancelled", "Annulée"),
}


@pytest.mark.parametrize("state", list(LABELS))
def test_each_state_has_its_label_in_english_and_french(world, state):
    campaign = to_state(world, joined_campaign(world), state)
    english, french = LABELS[state]
    states = campaign_states(fetched_by=world.users["branch_manager"], campaigns=[campaign])
    assert states[campaign.pk].label == english
    if state != "cancelled":  # the branch's lists leave cancelled campaigns out; its page shows the state
        page = client(world).get("/network/operations/").content.decode()
        assert f'data-testid="campaign-state">{english}</span>' in page
        assert page.count(f">{english}</span>") == 2  # the table, and the operation's card
        french_page = client(world, language="fr").get("/network/operations/").content.decode()
        assert f'data-testid="campaign-state">{french}</span>' in french_page
    # the operation's page (head office sees every branch's campaign with its channel and state)
    detail = client(world, "head_office").get(f"/calendar/operations/{campaign.operation.public_id}/")
    if state != "cancelled":
        table = text_of(detail.content.decode().split('data-testid="operation-campaigns"')[1].split("</table>")[0])
        assert f"Lille Promo SMS SMS {campaign.send_date:%m/%d/%Y} {english}" in table
    # the campaign's own page
    edit = client(world).get(f"/network/campaigns/{campaign.public_id}/").content.decode()
    if state != "cancelled":
        assert f'data-testid="campaign-state">{english}</span>' in edit


def test_the_returned_state_carries_the_approvers_comment(world):
    campaign = to_state(world, joined_campaign(world), "changes")
    state = campaign_states(fetched_by=world.users["branch_manager"], campaigns=[campaign])[campaign.pk]
    assert state.key == "changes_requested"
    assert state.comment == "L'offre finit le 24 décembre : changez la date."
    assert state.proof.number == 1


def test_the_branch_page_lists_its_campaigns_with_their_states(world):
    campaign = to_state(world, joined_campaign(world), "awaiting_1")
    page = text_of(client(world).get(f"/network/branches/{world.nodes['N1'].public_id}/").content.decode())
    assert "Foire aux vins · Promo SMS · SMS" in page
    assert "Waiting for approval, step 1 of 2" in page
    # a branch of another region does not see it
    other = client(world, "other_region_manager").get(f"/network/branches/{world.nodes['N1'].public_id}/")
    assert other.status_code == 404
    assert campaign.pk


def test_states_take_two_queries_whatever_the_number_of_campaigns(world):
    manager = world.users["branch_manager"]
    version = sms_version(world)
    first = joined_campaign(world, version=version)
    to_state(world, first, "sending")

    def count_queries() -> tuple[int, int]:
        campaigns = list(campaign_list(fetched_by=manager, branch=world.nodes["N1"]))
        manager.__dict__.pop("_relais_scope_paths", None)
        with CaptureQueriesContext(connection) as queries:
            campaign_states(fetched_by=manager, campaigns=campaigns)
        return len(campaigns), len(queries)

    few, few_queries = count_queries()
    for index in range(5):  # five more operations joined, some in other states
        other = joined_campaign(world, version=version, name=f"Opération {index}")
        if index % 2:
            to_state(world, other, "awaiting_1")
    many, many_queries = count_queries()
    assert (few, many) == (1, 6)
    assert many_queries == few_queries
    assert few_queries <= 5  # the scope (guardian: the user's and their groups' grants), latest proofs, deliveries


def test_a_campaign_of_another_branch_reads_no_proof_of_it(world):
    campaign = to_state(world, joined_campaign(world), "changes")
    # a manager of another branch cannot get it through the scoping selector; if handed it anyway,
    # the proofs are read through approvals' scoping selector: no comment leaks.
    state = campaign_states(fetched_by=world.users["other_region_manager"], campaigns=[campaign])[campaign.pk]
    assert state.label == "Draft" and state.comment == ""


# --- Joining names the campaigns it created (defect 4) -----------------------------------------------


def _sms_template(world, name):
    template = template_services.template_create(network=world.networks["alpha"], kind="sms", name=name,
                                                 created_by=world.users["head_office"])
    draft = template.versions.get()
    template_services.draft_update(version=draft, edited_by=world.users["head_office"],
                                   body="{{ branch.name }} : {{ slot.message }}. {{ system.stop_mention }}",
                                   slots=[{"name": "message", "type": "short_text", "label": "Message",
                                           "max_length": 60, "default": "vins"}])
    return template_services.version_publish(version=draft, published_by=world.users["head_office"])


def test_joining_names_every_campaign_it_created_and_the_card_lists_them(world):
    operation = plan(world, versions=[_sms_template(world, "Relance cave"), _sms_template(world, "Dégustation")],
                     channels=["sms"])
    browser = client(world)
    response = browser.post(f"/network/operations/{operation.public_id}/answer/",
                            {"branch": world.nodes["N1"].public_id, "status": "joined"}, follow=True)
    page = text_of(response.content.decode())
    message = page.split("Lille: Joined.")[1].split(" Operations · Lille")[0].strip()
    assert message in ("2 campaigns to prepare: “Relance cave” (SMS, draft), “Dégustation” (SMS, draft).",
                       "2 campaigns to prepare: “Dégustation” (SMS, draft), “Relance cave” (SMS, draft).")
    # two campaigns: back to the operations page, where the card lists both with their states, as links
    assert response.redirect_chain[-1][0].endswith(f"#operation-{operation.public_id}")
    card = response.content.decode().split(f'id="operation-{operation.public_id}"')[1].split("</div></div></div>")[0]
    for campaign in Campaign.objects.filter(operation=operation):
        assert f'href="/network/campaigns/{campaign.public_id}/"' in card
    assert card.count('data-testid="campaign-state">Draft</span>') == 2
    french = text_of(client(world, language="fr").get("/network/operations/").content.decode())
    assert "2 campagnes pour cette opération" in french


def test_joining_from_the_operation_page_names_the_campaigns_too(world):
    operation = plan(world, versions=[_sms_template(world, "Relance cave")], channels=["sms"])
    response = client(world).post(f"/calendar/operations/{operation.public_id}/answer/",
                                  {"branch": world.nodes["N1"].public_id, "status": "joined"}, follow=True)
    assert "1 campaign to prepare: “Relance cave” (SMS, draft)." in text_of(response.content.decode())


# --- Dates before the send date (defect 4) -----------------------------------------------------------


def _offer_version(world):
    template = template_services.template_create(network=world.networks["alpha"], kind="sms", name="Offre Noël",
                                                 created_by=world.users["head_office"])
    draft = template.versions.get()
    template_services.draft_update(
        version=draft, edited_by=world.users["head_office"],
        body="{{ branch.name }} : {{ slot.offer }} {{ slot.offer.conditions }} le {{ slot.event_date }}. "
             "{{ system.stop_mention }}",
        slots=[{"name": "offer", "type": "price", "label": "Offre",
                "default": {"amount": "10.00", "currency": "EUR",
                            "conditions": "Valable jusqu'au 24 décembre, sur présentation de ce message."}},
               {"name": "event_date", "type": "date", "label": "Dégustation", "default": "2026-12-10"}])
    return template_services.version_publish(version=draft, published_by=world.users["head_office"])


def test_an_offer_ending_before_the_send_date_warns_in_the_editor_and_on_the_proof(world):
    campaign = joined_campaign(world, version=_offer_version(world))
    send = campaign.send_date
    offer = {"amount": "10.00", "currency": "EUR",
             "conditions": f"Valable jusqu'au {(send - timedelta(days=3)).day} "
                           f"{['janvier', 'février', 'mars', 'avril', 'mai', 'juin', 'juillet', 'août', 'septembre', 'octobre', 'novembre', 'décembre'][(send - timedelta(days=3)).month - 1]}."}
    campaign_update(campaign=campaign, updated_by=world.users["branch_manager"],
                    slot_values={"offer": offer, "event_date": (send + timedelta(days=2)).isoformat()})
    edit = text_of(client(world).get(f"/network/campaigns/{campaign.public_id}/").content.decode())
    assert "A date in the message is before the send date" in edit
    assert "Offre: “jusqu'au" in edit and "Dégustation:" not in edit  # the event comes after the send: fine
    proof = proof_request(campaign=refresh(campaign), requested_by=world.users["branch_manager"])
    page = text_of(client(world, "regional_manager").get(f"/approvals/proofs/{proof.public_id}/").content.decode())
    assert "A date in the message is before the send date" in page and "Offre: “jusqu'au" in page
    french = text_of(client(world, "regional_manager", "fr").get(f"/approvals/proofs/{proof.public_id}/").content.decode())
    assert "Une date du message est antérieure à la date d’envoi" in french


def test_a_date_slot_before_the_send_date_warns_and_a_later_one_does_not(world):
    campaign = joined_campaign(world, version=_offer_version(world))
    send = campaign.send_date
    later = {"amount": "10.00", "currency": "EUR", "conditions": "Dans la limite des stocks."}
    campaign_update(campaign=campaign, updated_by=world.users["branch_manager"],
                    slot_values={"offer": later, "event_date": (send + timedelta(days=1)).isoformat()})
    edit = text_of(client(world).get(f"/network/campaigns/{campaign.public_id}/").content.decode())
    assert "A date in the message is before the send date" not in edit
    campaign_update(campaign=refresh(campaign), updated_by=world.users["branch_manager"],
                    slot_values={"offer": later, "event_date": (send - timedelta(days=1)).isoformat()})
    edit = text_of(client(world).get(f"/network/campaigns/{campaign.public_id}/").content.decode())
    assert "A date in the message is before the send date" in edit and "Dégustation:" in edit


@pytest.mark.parametrize(("text", "expected"), [
    ("Valable jusqu'au 24 décembre, sur présentation de ce courrier.", "2026-12-24"),
    ("Offer valid until 24 December", "2026-12-24"),
    ("until December 24th, 2027", "2027-12-24"),
    ("du 1er au 24 décembre", "2026-12-24"),
    ("jusqu’au 24/12", "2026-12-24"),
    ("jusqu'au 5 janvier", "2027-01-05"),
    ("Rendez-vous au 12 rue de la Paix", None),
    ("Valable un mois, sur présentation de ce courrier.", None),
])
def test_the_end_of_an_offer_is_read_only_from_plain_phrases(text, expected):
    from datetime import date

    from templates_lib.slot_dates import end_dates_in

    found = end_dates_in(text, send_date=date(2027, 1, 15))  # no year: the 24 December nearest the send
    assert [day.isoformat() for day, _words in found] == ([expected] if expected else [])


def test_the_warning_follows_what_is_typed_in_the_live_area(world):
    """Typed, not saved: the live area (htmx) warns as soon as the send date passes the offer's end."""
    campaign = joined_campaign(world, version=_offer_version(world))
    operation = campaign.operation
    end = operation.send_from + timedelta(days=2)
    months = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
              "novembre", "décembre"]
    typed = {"offer__amount": "10", "offer__currency": "EUR",
             "offer__conditions": f"Valable\r\njusqu'au {end.day} {months[end.month - 1]}.",
             "event_date": operation.send_until.isoformat()}
    url = f"/network/campaigns/{campaign.public_id}/"
    before = client(world).post(url, typed | {"send_date": operation.send_from.isoformat()}, HTTP_HX_REQUEST="true")
    assert "A date in the message is before the send date" not in before.content.decode()
    after = client(world).post(url, typed | {"send_date": (end + timedelta(days=1)).isoformat()},
                               HTTP_HX_REQUEST="true")
    assert "A date in the message is before the send date" in after.content.decode()
    assert "Offre: “jusqu'au" in text_of(after.content.decode())
    assert refresh(campaign).slot_values == campaign.slot_values  # nothing saved
