"""Channels: one per chunk, holding its connection — e-mail (SMTP or django-anymail) and SMS
(``central.delivery.sms_backends`` backends). ``send`` hands one delivery to the provider."""

from __future__ import annotations

import logging
from decimal import Decimal

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.smtp import EmailBackend as SmtpEmailBackend
from django.utils.translation import gettext as _

from central.channels import registry as channels
from central.channels.sms import normalise_mobile
from central.delivery import sms_backends as sms
from central.delivery.content import FrozenSend, PrebuiltEmail, email_content, email_message, sms_text
from central.delivery.errors import PermanentFailure, SendOutcome, TemporaryFailure, email_failure
from central.identity import connections
from central.identity.selectors import identity_problem, sender_changed
from central.models import (
    Campaign,
    Delivery,
    DeliveryReason,
)
from templates_lib import frozen, rendering

logger = logging.getLogger(__name__)


# --- Channels: one per chunk ----------------------------------------------------------------------


def identity_ready(campaign: Campaign, frozen_send: FrozenSend | None = None):
    """The campaign's network's sending identity (None: it has none, and may send with the
    platform's settings); ``SnapshotProblem`` with the reason when it may not send: its identity is
    incomplete, or (e-mail) the From its proof froze is no longer the identity's."""
    problem = identity_problem(campaign.network_id, campaign.channel)
    if problem is None and frozen_send is not None:
        default = frozen.sender_of(frozen_send.snapshot, frozen.variant_key(frozen_send.snapshot, None))
        problem = sender_changed(campaign.network_id, str(default.get("address") or ""),
                                 frozen_from_identity=bool(default.get("from_identity")))
    if problem:
        raise frozen.SnapshotProblem(problem)
    return connections.identity_of(campaign.network_id)


class EmailChannel:
    """Renders from the approved proof's snapshot (``FrozenSend``: each variant compiled once, and
    checked against its proof before its first message), and sends over one connection of Django's
    e-mail backend (SMTP or any django-anymail provider), opened once per chunk: the network's own
    account (``central.identity.connections``), or the platform's for a network without a sending
    identity where none is required. With Django's SMTP backend, the MIME bytes are built by
    ``PrebuiltEmail`` (``templates_lib.mime``). A network that cannot send (its identity incomplete,
    or its From changed since the proof froze it) raises ``SnapshotProblem``: the send is blocked."""

    def __init__(self, campaign: Campaign, frozen_send: FrozenSend | None = None) -> None:
        self.campaign = campaign
        self.frozen = frozen_send or FrozenSend(campaign)
        identity = identity_ready(campaign, self.frozen)
        self.connection = connections.email_connection(campaign.network, identity=identity, fail_silently=False)
        self.prebuilt = isinstance(self.connection, SmtpEmailBackend)
        self.is_open = False
        self.sent_on_connection = 0
        self._compiled: dict[str, rendering.CompiledEmail] = {}

    def compiled(self, key: str | None = None) -> rendering.CompiledEmail:
        key = key or frozen.variant_key(self.frozen.snapshot, None)
        if key not in self._compiled:
            self._compiled[key] = rendering.compile_email(self.frozen.version, self.frozen.context(key))
        return self._compiled[key]

    def message(self, delivery: Delivery) -> EmailMultiAlternatives:
        key = self.frozen.key_for(delivery.customer)
        compiled, sender = self.compiled(key), self.frozen.sender(key)
        mailto = self.frozen.unsubscribe_mailto
        if not self.prebuilt:
            return email_message(self.campaign, delivery, compiled, connection=self.connection, sender=sender,
                                 unsubscribe_mailto=mailto)
        return PrebuiltEmail(email_content(self.campaign, delivery, compiled, sender=sender, unsubscribe_mailto=mailto),
                             connection=self.connection)

    def send(self, delivery: Delivery) -> SendOutcome:
        message = self.message(delivery)
        for attempt in (1, 2):
            try:
                if not self.is_open:
                    self.connection.open()
                    self.is_open, self.sent_on_connection = True, 0
                sent = self.connection.send_messages([message])
                break
            except Exception as error:
                failure = email_failure(error)
                if failure is None:
                    raise
                if isinstance(failure, TemporaryFailure) and failure.reset_connection:
                    reused = self.sent_on_connection > 0
                    self._reset()
                    if reused and attempt == 1:  # the server dropped an idle connection: reconnect once, now
                        continue
                raise failure from error
        self.sent_on_connection += 1
        if not sent:
            raise TemporaryFailure("the e-mail backend did not send the message")
        status = getattr(message, "anymail_status", None)
        return SendOutcome(provider_id=str(getattr(status, "message_id", None) or message.extra_headers["Message-ID"]))

    def _reset(self) -> None:
        try:
            self.connection.close()
        except Exception:  # the connection is gone anyway
            logger.debug("closing a broken e-mail connection", exc_info=True)
        self.is_open = False

    def close(self) -> None:
        if self.is_open:
            self._reset()


class SmsChannel:
    """Compiles the SMS once; per recipient, the merge, the segment count and the backend's send."""

    def __init__(self, campaign: Campaign, frozen_send: FrozenSend | None = None) -> None:
        self.campaign = campaign
        self.frozen = frozen_send or FrozenSend(campaign)
        self.backend = sms.backend_for(connections.sms_account(campaign.network, identity=identity_ready(campaign)))
        self.stop_mention = self.frozen.stop_mention  # the content rules' mention as approved
        self.price = Decimal(settings.RELAIS_SMS_COST_PER_SEGMENT)
        self._compiled: dict[str, object] = {}

    def send(self, delivery: Delivery) -> SendOutcome:
        key = self.frozen.key_for(delivery.customer)
        if key not in self._compiled:
            self._compiled[key] = rendering.compile_sms(self.frozen.version, self.frozen.context(key))
        to = normalise_mobile(delivery.customer.mobile)
        if not to:
            raise PermanentFailure(_("not a valid mobile number"))
        text = sms_text(self._compiled[key], delivery.customer, delivery.token, self.stop_mention)
        count = rendering.sms_count(text)
        try:
            provider_id = self.backend.send(to, text)
        except sms.SmsTemporaryError as error:
            raise TemporaryFailure(str(error)) from error
        except sms.SmsOptedOut as error:
            raise PermanentFailure(str(error), reason=DeliveryReason.SMS_STOP, opted_out=True) from error
        except sms.SmsPermanentError as error:
            raise PermanentFailure(str(error), reason=DeliveryReason.HARD_BOUNCE if error.invalid_number
                                   else DeliveryReason.REJECTED, suppress=error.invalid_number) from error
        return SendOutcome(provider_id=provider_id, segments=count.segments, cost=count.segments * self.price)

    def close(self) -> None:
        pass


def channel_for(campaign: Campaign):
    """The delivery class the registry names for the campaign's channel, for one chunk
    (``UnknownChannel`` for a channel not declared, or not dispatched message by message)."""
    return channels.get(campaign.channel).delivery(campaign)
