"""Sending an invitation's link. The token exists only in this e-mail: it is never stored, logged
or queued (the message leaves once the transaction that created the invitation commits)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from local_stores.models import Invitation

#: Where the link of an invitation leads (mounted by central.people.urls).
INVITATION_PATH = "/accounts/invitation/{token}/"


def invitation_link(token: str) -> str:
    return settings.RELAIS_BASE_URL.rstrip("/") + INVITATION_PATH.format(token=token)


def invitation_send(*, invitation: Invitation, token: str) -> None:
    """E-mail the link to the invited address once the current transaction commits, in the
    network's default language, from the platform's address."""
    network = invitation.network

    def send() -> None:
        with translation.override(network.default_language or settings.LANGUAGE_CODE):
            inviter = invitation.invited_by.get_full_name() if invitation.invited_by else network.name
            send_mail(
                subject=_("%(network)s invites you to Relais") % {"network": network.name},
                message=_(
                    "Hello,\n\n%(inviter)s invites you to join %(network)s on Relais as %(role)s of %(node)s.\n\n"
                    "Choose your password by opening this link (valid until %(expires)s, usable once):\n"
                    "%(link)s\n\nIf you were not expecting this invitation, ignore this message."
                )
                % {
                    "inviter": inviter or network.name,
                    "network": network.name,
                    "role": invitation.get_role_display(),
                    "node": invitation.node.name,
                    "expires": invitation.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
                    "link": invitation_link(token),
                },
                from_email=None,
                recipient_list=[invitation.email],
            )

    transaction.on_commit(send)
