"""Shared builders of the dispatch tests: a real SMTP server on loopback (aiosmtpd), e-mail, SMS
and print campaigns brought to *sending* the real way (proof, approvals, schedule, the committed
arbitration through the real send gate, send start)."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller
from django.core.mail.backends.smtp import EmailBackend

from approvals.services import proof_decide, proof_request, send_gate
from central.arbitration import arbitrate
from central.campaigns.services import campaign_schedule, campaign_send_start, campaign_update
from central.models import ArbitrationRun, Campaign, ConsentStatus, Customer
from templates_lib import services as template_services
from tests.planning import joined_campaign

EMAIL_BODY = """<mjml><mj-body><mj-section><mj-column>
<mj-text>{{ slot.headline }}</mj-text>
<mj-text>Bonjour {{ recipient.first_name }} {{ recipient.last_name }},</mj-text>
<mj-text>{{ branch.name }} : {{ slot.offer }}</mj-text>
<mj-button href="https://shop.example.test/offre?x=1&amp;y=2">Voir l'offre</mj-button>
<mj-text><a href="{{ system.unsubscribe_url }}">Se désinscrire</a> · <a href="{{ system.view_online_url }}">Voir en ligne</a></mj-text>
</mj-column></mj-section></mj-body></mjml>"""
SLOTS = [
    {"name": "headline", "type": "short_text", "label": "Titre", "max_length": 80, "required": True,
     "default": "Nos nouveautés"},
    {"name": "offer", "type": "short_text", "label": "Offre", "max_length": 80, "required": True,
     "default": "Offre de base"},
]
SLOT_VALUES = {"headline": "Foire aux vins", "offer": "-20 % sur les bordeaux"}
PRINT_BODY = "<h1>{{ slot.headline }}</h1><p>{{ branch.name }} — {{ slot.offer }}</p><p>Bonjour {{ recipient.first_name }}</p>"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Received:
    to: str
    message: email.message.EmailMessage

    @property
    def html(self) -> str:
        return self.message.get_body(preferencelist=("html",)).get_content()

    @property
    def text(self) -> str:
        return self.message.get_body(preferencelist=("plain",)).get_content()


@dataclass
class SinkHandler:
    """Accepts everything, but: recipients starting with "bounce" get 550 5.1.1; each address of
    ``greylist`` gets 451 that many times first."""

    received: list[Received] = field(default_factory=list)
    greylist: dict[str, int] = field(default_factory=dict)
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        with self.lock:
            self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower().startswith("bounce"):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        with self.lock:
            if self.greylist.get(address, 0) > 0:
                self.greylist[address] -= 1
                return "451 4.7.1 Greylisted, please try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            for address in envelope.rcpt_tos:
                self.received.append(Received(address, message))
        return "250 Message accepted for delivery"

    def count(self, address: str) -> int:
        with self.lock:
            return sum(1 for item in self.received if item.to == address)

    def addresses(self) -> list[str]:
        with self.lock:
            return sorted(item.to for item in self.received)


class SmtpSink:
    def __init__(self) -> None:
        self.handler = SinkHandler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


def smtp_settings(settings, port: int) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    settings.RELAIS_BASE_URL = "https://relais.example.test"


class HookedBackend(EmailBackend):
    """The SMTP backend, calling ``after_send`` hooks with itself after each message it sent (to act
    between two messages of a chunk, as a person — or the network — would during a send)."""

    after_send: list = []

    def send_messages(self, email_messages):
        sent = super().send_messages(email_messages)
        for hook in list(type(self).after_send):
            hook(self)
        return sent


def _published(world, kind: str, **fields):
    template = template_services.template_create(network=world.networks["alpha"], kind=kind,
                                                 name=f"Dispatch {kind}", created_by=world.users["head_office"])
    draft = template.versions.get()
    template_services.draft_update(version=draft, edited_by=world.users["head_office"], **fields)
    return template_services.version_publish(version=draft, published_by=world.users["head_office"])


def email_version(world):
    return _published(world, "email", subject="{{ slot.headline }} chez {{ branch.name }}", body=EMAIL_BODY,
                      slots=SLOTS)


def print_version(world):
    return _published(world, "print", body=PRINT_BODY, slots=SLOTS)


def approve_all(world, proof):
    proof_decide(proof=proof, decided_by=world.users["regional_manager"], verdict="approve")
    proof_decide(proof=proof, decided_by=world.users["approver"], verdict="approve")


def add_customers(world, count: int, *, prefix: str = "c", channel: str = "email", branch: str = "N1",
                  **fields) -> list[Customer]:
    node = world.nodes[branch]
    made = []
    for index in range(count):
        values = {
            "network": node.network, "branch": node, "external_id": f"{prefix}-{index}",
            "first_name": f"Prénom{index}", "last_name": f"{prefix.capitalize()}{index:03d}",
            "email": f"{prefix}{index}@example.test", "mobile": f"+336{index:08d}",
            "address_line1": f"{index} rue des Vignes", "postal_code": f"59{index:03d}", "city": "Lille",
            f"consent_{channel}": ConsentStatus.GRANTED,
        } | fields
        made.append(Customer.objects.create(**values))
    return made


def to_sending(world, campaign: Campaign, slot_values: dict | None = None) -> Campaign:
    """The real path: customise, request a proof, both steps approve, schedule, the committed
    arbitration (through the approvals gate) makes the deliveries, the send starts."""
    manager = world.users["branch_manager"]
    campaign_update(campaign=campaign, updated_by=manager, slot_values=slot_values or SLOT_VALUES)
    approve_all(world, proof_request(campaign=campaign, requested_by=manager))
    campaign_schedule(campaign=Campaign.objects.get(pk=campaign.pk), scheduled_by=manager)
    campaign = Campaign.objects.get(pk=campaign.pk)
    arbitrate(network=world.networks["alpha"], starts_on=campaign.send_date, ends_on=campaign.send_date,
              mode=ArbitrationRun.Mode.COMMIT, gate=send_gate)
    return campaign_send_start(campaign=campaign)


def email_campaign(world, customers: int = 5, **customer_fields) -> Campaign:
    """An e-mail campaign of branch N1 to ``customers`` new customers, plus Anne (N1, of the world)."""
    campaign = joined_campaign(world, version=email_version(world), reachable=0)
    add_customers(world, customers, **customer_fields)
    return to_sending(world, campaign)
