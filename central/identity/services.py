"""Writes of a network's sending identity: saving it (secrets write-only, encrypted before they are
stored, audited by field name only) and the test send through the network's own connection."""

from __future__ import annotations

import logging
from email.utils import formataddr

from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from central.identity import connections
from central.identity.providers import PROVIDERS, available
from central.identity.selectors import identity_problem
from central.models import SECRET_FIELDS, PrinterSettings, SendingIdentity
from central.task_queue import task_send_on_commit
from local_stores import secrets
from local_stores.audit import network_event_record
from local_stores.models import Network, NetworkEvent, Node, NodeKind
from local_stores.outbound import outbound_host_problem, outbound_url_problem

logger = logging.getLogger(__name__)

#: Where a secret is sent: changing one of these without typing the secret again would hand the
#: stored secret to the new server or account (a test send logs in there with it).
SECRET_DESTINATIONS = {
    "email_secret": ("email_method", "esp", "esp_api_url", "esp_region", "smtp_host", "smtp_username"),
    "esp_secret_key": ("email_method", "esp", "esp_api_url", "esp_region"),
    "sms_secret": ("sms_provider", "sms_account"),
}

#: The fields head office edits (the secrets aside).
EDITABLE_FIELDS = (
    "from_domain", "from_local_part", "from_name", "reply_to", "reply_to_address", "email_method", "esp",
    "esp_api_url", "esp_region", "smtp_host", "smtp_port", "smtp_username", "smtp_security", "sms_provider",
    "sms_account", "sms_sender",
)


def _head_office(network: Network) -> Node | None:
    return Node.objects.filter(network=network, kind=NodeKind.HEAD_OFFICE).first()


def _provider_errors(identity: SendingIdentity) -> dict[str, list[str]]:
    """What the chosen e-mail service requires and is missing, by field (docs/sending-identity.md)."""
    if identity.email_method != SendingIdentity.EmailMethod.ANYMAIL:
        problem = outbound_host_problem(identity.smtp_host, identity.smtp_port) if identity.smtp_host else None
        return {"smtp_host": [problem]} if problem else {}
    if not identity.esp:
        return {"esp": [_("Choose the e-mail service.")]}
    if not available(identity.esp):
        return {"esp": [_("This e-mail service cannot be used here: its library is not installed.")]}
    provider = PROVIDERS[identity.esp]
    errors = {}
    if not identity.email_secret_encrypted:
        errors["email_secret"] = [_("This e-mail service needs its API key.")]
    if provider.second_secret_kwarg and not identity.esp_secret_key_encrypted:
        errors["esp_secret_key"] = [_("This e-mail service needs its secret key too.")]
    if provider.api_url_required and not identity.esp_api_url:
        errors["esp_api_url"] = [_("This e-mail service needs the address of its API (it is hosted by you).")]
    if identity.esp_api_url and (problem := outbound_url_problem(identity.esp_api_url)):
        errors["esp_api_url"] = [problem]
    if provider.region_required and not identity.esp_region:
        errors["esp_region"] = [_("This e-mail service needs its region (such as eu-west-3).")]
    return errors


def _drop_unused_second_secret(identity: SendingIdentity) -> None:
    """The second half of a key pair (Mailjet's secret key) is dropped when the e-mail is no longer
    sent through a service that takes one: it is never sent anywhere else."""
    provider = PROVIDERS.get(identity.esp) if identity.email_method == SendingIdentity.EmailMethod.ANYMAIL else None
    if identity.esp_secret_key_encrypted and not (provider and provider.second_secret_kwarg):
        identity.esp_secret_key_encrypted = ""
        identity.esp_secret_key_set_at = identity.esp_secret_key_set_by = None


def _clean(identity: SendingIdentity) -> None:
    errors: dict[str, list[str]] = _provider_errors(identity)
    if identity.reply_to == SendingIdentity.ReplyTo.FIXED and not identity.reply_to_address:
        errors["reply_to_address"] = [_("Give the fixed Reply-To address.")]
    if identity.from_local_part and ("@" in identity.from_local_part or " " in identity.from_local_part):
        errors["from_local_part"] = [_("Only the part before the @, without spaces.")]
    if identity.from_domain and (" " in identity.from_domain or "." not in identity.from_domain
                                 or "@" in identity.from_domain):
        errors["from_domain"] = [_("A domain name such as mail.example.com.")]
    try:
        identity.full_clean(exclude=["network", "updated_by"])
    except ValidationError as error:
        for field, messages in error.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)


def _secrets_follow_their_destination(identity: SendingIdentity, changed: list[str], replaced: list[str]) -> None:
    """A stored secret goes only where it was typed for: the server or account changed, it must be
    typed again (ValidationError on the secret's field)."""
    errors = {
        name: [_("The server or account changed: type the secret again (the stored one is not sent elsewhere).")]
        for name, destination in SECRET_DESTINATIONS.items()
        if identity.pk is not None and getattr(identity, SECRET_FIELDS[name]) and name not in replaced
        and any(field in changed for field in destination)
    }
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def identity_save(*, network: Network, saved_by, data: dict, new_secrets: dict[str, str] | None = None,
                  ip: str | None = None) -> SendingIdentity:
    """Save the network's identity from ``data`` (the editable fields given) and ``new_secrets``
    ({"email_secret": …}: an empty value keeps the stored secret). Audited: the names of the fields
    changed (``identity_changed``), each secret replaced (``identity_secret_replaced``), never a value."""
    identity = (SendingIdentity.objects.select_for_update().filter(network=network).first()
                or SendingIdentity(network=network))
    changed = []
    for field in EDITABLE_FIELDS:
        if field in data:
            value = data[field] if data[field] is not None else ""
            if field != "smtp_port" and isinstance(value, str):
                value = value.strip()
                value = value.lower() if field in ("from_domain", "esp_region") else value
            if getattr(identity, field) != value:
                changed.append(field)
                setattr(identity, field, value)
    replaced = []
    now = timezone.now()
    webhook_secret = ((new_secrets or {}).get("webhook_secret") or "").strip()
    if webhook_secret and (":" not in webhook_secret.strip(":") or len(webhook_secret) < 12):
        raise ValidationError({"webhook_secret": [_("Give it as user:password, at least 12 characters: the provider "
                                                    "sends it as HTTP basic authentication.")]})
    for name, column in SECRET_FIELDS.items():
        value = ((new_secrets or {}).get(name) or "").strip()
        if value:
            setattr(identity, column, secrets.encrypt(value))
            setattr(identity, f"{name}_set_at", now)
            setattr(identity, f"{name}_set_by", saved_by)
            replaced.append(name)
    _drop_unused_second_secret(identity)
    _secrets_follow_their_destination(identity, changed, replaced)
    _clean(identity)
    created = identity.pk is None
    if not (changed or replaced or created):
        return identity
    identity.updated_by = saved_by
    identity.save()
    node = _head_office(network)
    if changed or created:
        network_event_record(network=network, action=NetworkEvent.Action.IDENTITY_CHANGED, actor=saved_by, node=node,
                             details={"fields": changed}, ip=ip)
    for name in replaced:
        network_event_record(network=network, action=NetworkEvent.Action.IDENTITY_SECRET_REPLACED, actor=saved_by,
                             node=node, details={"secret": name}, ip=ip)
    return identity


#: The task that sends a queued test e-mail (central.tasks).
TEST_SEND_TASK = "central.identity_test_send"


def identity_test_queue(*, network: Network, sent_by, to: str, ip: str | None = None) -> SendingIdentity:
    """Queue one test e-mail to ``to`` (the task runs after the commit): the identity shows "test
    to … queued" until the task records the result."""
    identity = SendingIdentity.objects.filter(network=network).first()
    if identity is None:
        raise ValidationError(_("Save the sending identity first."))
    now = timezone.now()
    SendingIdentity.objects.filter(pk=identity.pk).update(last_test_at=now, last_test_to=to, last_test_ok=None,
                                                          last_test_result="")
    identity.last_test_at, identity.last_test_to, identity.last_test_ok, identity.last_test_result = now, to, None, ""
    task_send_on_commit(TEST_SEND_TASK, args=[identity.pk, sent_by.pk, to, ip or ""])
    return identity


def _without_secrets(text: str, identity: SendingIdentity) -> str:
    """``text`` (a provider's answer) with any of the identity's secrets it might quote masked."""
    for column in SECRET_FIELDS.values():
        secret = secrets.decrypt(getattr(identity, column))
        if len(secret) >= 4:
            text = text.replace(secret, "••••")
    return text


def identity_test_send(*, identity_id: int, sent_by, to: str, ip: str | None = None) -> tuple[bool, str]:
    """Send the queued test e-mail to ``to`` through the network's own connection, from its own
    address: the result (sent, or the provider's answer without any secret) is recorded on the
    identity with its date, and audited (``identity_test_sent``)."""
    identity = SendingIdentity.objects.select_related("network").filter(pk=identity_id).first()
    if identity is None:  # the network went away meanwhile
        return False, ""
    network = identity.network
    problem = identity_problem(network, "email")
    if problem:
        ok, result = False, problem
    else:
        sender = connections.sender_for(identity, name=network.name, branch_email="")
        message = EmailMessage(
            subject=_("Test from %(network)s's sending identity") % {"network": network.name},
            body=_("This message was sent by Relais to check the sending identity of %(network)s.") % {
                "network": network.name},
            from_email=formataddr((sender.name, sender.address)), to=[to],
            reply_to=[sender.reply_to] if sender.reply_to else None,
            connection=connections.email_connection(network, identity=identity))
        try:
            message.send()
            ok, result = True, _("Sent to %(to)s.") % {"to": to}
        except Exception as error:  # the provider's answer, shown to head office
            logger.info("test send of network %s failed: %s", network.public_id, type(error).__name__)
            answer = _without_secrets(f"{type(error).__name__}: {error}", identity)
            ok, result = False, _("Not sent: %(error)s") % {"error": answer[:400]}
    SendingIdentity.objects.filter(pk=identity.pk).update(last_test_at=timezone.now(), last_test_to=to,
                                                          last_test_ok=ok, last_test_result=result[:500])
    network_event_record(network=network, action=NetworkEvent.Action.IDENTITY_TEST_SENT, actor=sent_by,
                         node=_head_office(network), details={"sent": ok}, ip=ip or None)
    return ok, result


def secrets_rotate() -> int:
    """Every stored secret (sending identities, printers) encrypted again under the first key of
    RELAIS_SECRET_KEYS: after a new key was put first, so that the old ones can later be removed.
    Returns the number of secrets re-encrypted; a secret no key reads is left as it is."""
    rotated = 0
    for model, columns in ((SendingIdentity, list(SECRET_FIELDS.values())),
                           (PrinterSettings, ["password_encrypted", "private_key_encrypted"])):
        for record in model.objects.only("pk", *columns).iterator():
            changed = {}
            for column in columns:
                token = getattr(record, column)
                if token and secrets.decrypt(token):
                    changed[column] = secrets.rotate(token)
            if changed:
                model.objects.filter(pk=record.pk).update(**changed)
                rotated += len(changed)
    return rotated
