"""Invitations: a one-time, expiring link to join a network with a role on a node.

Only the SHA-256 of the token is stored. ``invitation_create`` returns the token once, for the
e-mail its caller queues; ``invitation_accept`` uses it up (one time, before it expires, not
revoked), creates the person and grants the role — under a row lock, so two clicks racing on one
link give one person and one refusal.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from local_stores.audit import network_event_record
from local_stores.models import Invitation, Membership, NetworkEvent, Node
from local_stores.services import role_grant

User = get_user_model()


class InvitationInvalid(Exception):
    """The link is unknown, used, expired or revoked: one answer for all four (no oracle)."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def invitation_create(
    *, node: Node, email: str, role: str, invited_by=None, first_name: str = "", last_name: str = ""
) -> tuple[Invitation, str]:
    """Invite ``email`` to hold ``role`` on ``node``. A pending invitation of the same address in
    the network is revoked (the new link replaces it). Returns the invitation and its token —
    the only time the token exists outside the e-mail. Checks of who may invite whom are the
    caller's (central.people)."""
    email = User.objects.normalize_email(email.strip()).lower()
    network = node.network
    now = timezone.now()
    Invitation.objects.filter(network=network, email__iexact=email, used_at__isnull=True,
                              revoked_at__isnull=True).update(revoked_at=now)
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        network=network, email=email, node=node, role=role, invited_by=invited_by,
        first_name=first_name.strip(), last_name=last_name.strip(), token_hash=token_hash(token),
        expires_at=now + timedelta(days=network.invitation_days),
    )
    network_event_record(
        network=network, action=NetworkEvent.Action.PERSON_INVITED, actor=invited_by, node=node,
        details={"invitation": invitation.public_id, "role": role},
    )
    return invitation, token


def invitation_for_token(token: str) -> Invitation:
    """The pending invitation of ``token``; InvitationInvalid otherwise."""
    invitation = (
        Invitation.objects.select_related("network", "node").filter(token_hash=token_hash(token or "")).first()
    )
    if (
        invitation is None
        or invitation.used_at is not None
        or invitation.revoked_at is not None
        or invitation.expires_at <= timezone.now()
    ):
        raise InvitationInvalid(_("This invitation link is no longer valid."))
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, password: str, first_name: str = "", last_name: str = "") -> User:
    """Use the link up: create (or reactivate) the person with ``password``, record their
    membership and grant the invited role. Raises InvitationInvalid or ValidationError
    (the password validators' messages)."""
    pending = invitation_for_token(token)
    invitation = Invitation.objects.select_for_update().get(pk=pending.pk)
    invitation = invitation_for_token(token)  # re-read under the lock: a racing click lost
    user = User.objects.filter(username__iexact=invitation.email).first()
    if user is not None and getattr(user, "membership", None) and user.membership.network_id != invitation.network_id:
        raise InvitationInvalid(_("This invitation link is no longer valid."))
    candidate = user or User(username=invitation.email, email=invitation.email)
    validate_password(password, candidate)
    candidate.first_name = first_name.strip() or invitation.first_name or candidate.first_name
    candidate.last_name = last_name.strip() or invitation.last_name or candidate.last_name
    candidate.is_active = True
    candidate.set_password(password)
    candidate.save()
    Membership.objects.update_or_create(
        user=candidate,
        defaults={"network": invitation.network, "status": Membership.Status.ACTIVE, "deactivated_at": None},
        create_defaults={"network": invitation.network, "source": Membership.Source.INVITATION},
    )
    role_grant(user=candidate, node=invitation.node, role=invitation.role, granted_by=invitation.invited_by)
    Invitation.objects.filter(pk=invitation.pk).update(used_at=timezone.now(), accepted_by=candidate)
    network_event_record(
        network=invitation.network, action=NetworkEvent.Action.INVITATION_ACCEPTED, actor=candidate,
        node=invitation.node, subject_user=candidate,
        details={"invitation": invitation.public_id, "role": invitation.role},
    )
    return candidate
