"""What a message says: the frozen rendering inputs of a send (the approved proof's snapshot),
the recipient's and system values, and the e-mail (MIME) or SMS text built from them."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from email.utils import formataddr, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from central.delivery.links import message_urls, tracked_html
from central.identity import connections
from central.models import (
    Campaign,
    Customer,
    Delivery,
)
from local_stores.models import Node
from templates_lib import frozen, rendering
from templates_lib.mime import build_message


def variant_context(campaign: Campaign) -> rendering.VariantContext:
    """The campaign's variant from the *live* branch and library: for estimates made before a proof
    exists (a campaign's cost). Messages are rendered from the proof's snapshot (``FrozenSend``)."""
    operation = campaign.operation
    return rendering.VariantContext(slot_values=campaign.slot_values, branch=campaign.branch, campaign={
        "offer_code": "",
        "start_date": operation.send_from.strftime("%d/%m/%Y") if operation else "",
        "end_date": operation.send_until.strftime("%d/%m/%Y") if operation else "",
        "send_date": campaign.send_date.strftime("%d/%m/%Y"),
    })


def campaign_snapshot(campaign: Campaign) -> dict | None:
    """The frozen rendering inputs ``campaign`` is sent from — its approved proof's snapshot, asked
    of ``settings.RELAIS_SEND_SNAPSHOT`` (central cannot import approvals) — or None."""
    path = getattr(settings, "RELAIS_SEND_SNAPSHOT", "")
    return import_string(path)(campaign) if path else None


class FrozenSend:
    """What a send renders from: the approved proof's snapshot, never the live branch, library or
    content rules. Each variant (a branch of a co-signed national send, or the campaign's branch)
    is rendered again for the proof's sample recipient before its first message here, and compared
    with the hash the proof froze: a difference raises ``frozen.SnapshotProblem``."""

    def __init__(self, campaign: Campaign) -> None:
        snapshot = campaign_snapshot(campaign)
        if not snapshot or snapshot.get("format") != frozen.SNAPSHOT_FORMAT:
            raise frozen.SnapshotProblem(_(
                "The approved proof holds no frozen rendering, or it was altered: request approval again."))
        self.snapshot = snapshot
        self.version = frozen.version_of(snapshot)
        keys = [key for key in snapshot.get("variants") or {} if key != frozen.HEAD_OFFICE]
        self.branch_keys = dict(Node.objects.filter(public_id__in=keys).values_list("pk", "public_id"))
        self._contexts: dict[str, rendering.VariantContext] = {}

    def key_for(self, customer: Customer) -> str:
        """The variant of a recipient: their owner branch's in a co-signed send, else the default."""
        return frozen.variant_key(self.snapshot, self.branch_keys.get(customer.branch_id))

    def context(self, key: str) -> rendering.VariantContext:
        if key not in self._contexts:
            expected = (self.snapshot.get("variant_hashes") or {}).get(key)
            rendered = frozen.render_sample(self.version, self.snapshot, key, pdf=False)
            if frozen.rendering_hash(rendered) != expected:
                variant = (self.snapshot.get("variants") or {}).get(key) or {}
                raise frozen.SnapshotProblem(_("The message for %(branch)s no longer matches its approved proof.") % {
                    "branch": (variant.get("branch") or {}).get("name") or key})
            self._contexts[key] = frozen.variant_context(self.snapshot, key)
        return self._contexts[key]

    def sender(self, key: str) -> tuple[str, list[str], str]:
        frozen_sender = frozen.sender_of(self.snapshot, key)
        return (formataddr((str(frozen_sender.get("name", "")), str(frozen_sender.get("address", "")))),
                list(frozen_sender.get("reply_to") or []), str(frozen_sender.get("domain") or "relais.localhost"))

    @property
    def stop_mention(self) -> str:
        return frozen.stop_mention(self.snapshot)

    @property
    def unsubscribe_mailto(self) -> str:
        return str((self.snapshot.get("system") or {}).get("unsubscribe_mailto", ""))

def recipient_values(customer: Customer) -> dict[str, str]:
    return {
        "civility": customer.get_civility_display() if customer.civility else "",
        "first_name": customer.first_name, "last_name": customer.last_name,
        "full_name": f"{customer.first_name} {customer.last_name}".strip(),
        "email": customer.email, "city": customer.city,
    }


def system_values(token: str, *, stop_mention: str = "", urls: dict[str, str] | None = None) -> dict[str, str]:
    urls = urls or message_urls(token)
    return {"unsubscribe_url": urls["public:unsubscribe"], "view_online_url": urls["public:view-online"],
            "stop_mention": stop_mention}


def _sender_identity(campaign: Campaign) -> tuple[str, list[str], str]:
    """From (the branch's name, or the network's, on the network's sending identity's address or
    the platform's), Reply-To (per the identity's rule; without one, the branch's e-mail) and the
    domain of Message-IDs."""
    name = campaign.branch.name if campaign.branch_id else campaign.network.name
    given = connections.sender_for(connections.identity_of(campaign.network_id), name=name,
                                   branch_email=campaign.branch.email if campaign.branch_id else "")
    name = " ".join(given.name.split())  # a line break typed in the name would make every message unbuildable
    reply_to = [given.reply_to] if given.reply_to else []
    return formataddr((name, given.address)), reply_to, given.address.rpartition("@")[2] or "relais.localhost"


@dataclass
class EmailContent:
    """What one delivery's e-mail says, whichever way it is then put into MIME."""

    subject: str
    text: str
    html: str
    from_email: str
    to: str
    to_name: str
    to_address: str
    reply_to: list[str]
    headers: dict[str, str]


def email_content(campaign: Campaign, delivery: Delivery, compiled: rendering.CompiledEmail, *,
                  sender: tuple[str, list[str], str] | None = None, unsubscribe_mailto: str | None = None) -> EmailContent:
    """One delivery's e-mail: rendered for its recipient, links tracked, the open pixel, the
    one-click unsubscribe headers (RFC 8058) and a Message-ID made of the delivery's token."""
    customer, token = delivery.customer, delivery.token
    if "\r" in customer.email or "\n" in customer.email:  # a poison address fails alone, before anything
        raise ValueError("Invalid address; address parts cannot contain newlines.")
    urls = message_urls(token)
    rendered = rendering.render_email(compiled, recipient_values(customer), system_values(token, urls=urls))
    from_email, reply_to, domain = sender or _sender_identity(campaign)
    list_unsubscribe = f"<{urls['public:unsubscribe']}>"
    mailto = settings.RELAIS_UNSUBSCRIBE_MAILTO if unsubscribe_mailto is None else unsubscribe_mailto
    if mailto:
        list_unsubscribe += f", <mailto:{mailto}?subject=unsubscribe%20{token}>"
    name = " ".join(f"{customer.first_name} {customer.last_name}".split())  # a line break in a name: one line
    return EmailContent(
        subject=rendered.subject, text=rendered.text, html=tracked_html(rendered.html, token, urls=urls),
        from_email=from_email, to=formataddr((name, customer.email)) if name else customer.email,
        to_name=name, to_address=customer.email, reply_to=list(reply_to),
        headers={"List-Unsubscribe": list_unsubscribe, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                 "Message-ID": f"<{token}@{domain}>"})


def email_message(campaign: Campaign, delivery: Delivery, compiled: rendering.CompiledEmail, *,
                  connection=None, sender: tuple[str, list[str], str] | None = None,
                  unsubscribe_mailto: str | None = None) -> EmailMultiAlternatives:
    """The e-mail of one delivery as a Django message (any e-mail backend: SMTP, django-anymail…)."""
    content = email_content(campaign, delivery, compiled, sender=sender, unsubscribe_mailto=unsubscribe_mailto)
    message = EmailMultiAlternatives(
        subject=content.subject, body=content.text, from_email=content.from_email, to=[content.to],
        reply_to=content.reply_to, connection=connection, headers=content.headers)
    message.attach_alternative(content.html, "text/html")
    return message


@functools.lru_cache(maxsize=64)
def _bare_address(value: str) -> str:
    return parseaddr(value)[1]


class _RawMime:
    """What Django's SMTP backend asks of ``EmailMessage.message()``: its bytes."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def as_bytes(self, unixfrom: bool = False, policy=None, linesep: str = "\n") -> bytes:
        return self.raw if linesep == "\r\n" else self.raw.replace(b"\r\n", linesep.encode())

    def as_string(self, unixfrom: bool = False, maxheaderlen: int = 0, policy=None) -> str:
        return self.as_bytes().decode("ascii")


class PrebuiltEmail(EmailMultiAlternatives):
    """The same e-mail as ``email_message``, for Django's SMTP backend (and its subclasses): the
    MIME bytes are built by ``templates_lib.mime.build_message`` (base64 in C, headers encoded once)
    instead of Python's email package (≈ 2 ms per message, the biggest cost of a send). The SMTP
    backend only calls ``message().as_bytes()`` and reads the envelope — given as (name, address)
    pairs with the bare addresses, which SMTP's MAIL FROM / RCPT TO carry anyway, so that it does
    not parse the formatted ones again. Other backends (django-anymail's read the fields) get
    ``email_message``."""

    def __init__(self, content: EmailContent, *, connection=None) -> None:
        super().__init__(subject=content.subject, body=content.text, from_email=content.from_email,
                         to=[content.to], reply_to=content.reply_to, connection=connection, headers=content.headers)
        self.alternatives = [(content.html, "text/html")]
        self.raw = build_message(
            from_email=content.from_email, to=(content.to_name, content.to_address), subject=content.subject,
            text=content.text, html=content.html, reply_to=content.reply_to, message_id=content.headers["Message-ID"],
            headers={k: v for k, v in content.headers.items() if k != "Message-ID"})
        # the envelope (the From and To headers are in ``raw``)
        self.from_email = ("", _bare_address(content.from_email))  # type: ignore[assignment]
        self.envelope_to = [("", content.to_address)]

    def recipients(self) -> list:
        return self.envelope_to

    def message(self) -> _RawMime:
        return _RawMime(self.raw)


def sms_text(compiled, customer: Customer, token: str, stop_mention: str) -> str:
    """The SMS of one recipient; the opt-out mention is always there (publishing requires it in the
    template; a merge cannot lose it)."""
    text = rendering.render_sms(compiled, recipient_values(customer), system_values(token, stop_mention=stop_mention))
    if stop_mention and stop_mention not in text:
        text = f"{text} {stop_mention}".strip()
    return text
