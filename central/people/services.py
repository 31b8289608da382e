"""Writes of the people pages and API: invitations (checked as a grant), on top of the network
core's ``local_stores.people``."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from central.people.invitations import invitation_send
from local_stores.audit import network_event_record
from local_stores.models import Invitation, Membership, NetworkEvent, Node, RoleGroup
from local_stores.people import (
    NotInScope,
    grant_check,
    invitation_create,
    invitation_revoke,
    invitations_in_scope,
)

__all__ = ["invitation_resend", "invitation_revoke", "person_invite"]

User = get_user_model()


@transaction.atomic
def person_invite(
    *, actor, email: str, node: Node, role: str, first_name: str = "", last_name: str = ""
) -> tuple[Invitation, bool]:
    """Invite ``email`` to hold ``role`` on ``node`` (checked as a grant) and e-mail the link on
    commit. The same invitation submitted again (a double click, the back button) changes nothing:
    returns the pending one and ``False``."""
    grant_check(actor, node, role)
    email = User.objects.normalize_email(email.strip()).lower()
    member = Membership.objects.filter(user__email__iexact=email).select_related("network").first()
    elsewhere = RoleGroup.objects.filter(group__user__email__iexact=email).exclude(node__network=node.network)
    if (member is not None and member.network_id != node.network_id) or elsewhere.exists():
        raise ValidationError({"email": _("This address belongs to a person of another network.")})
    if member is not None and member.status == Membership.Status.DEACTIVATED:
        # an invitation would bring them back with every role they held: reactivating is its own, checked act
        raise ValidationError({"email": _("This person is deactivated: reactivate them from their page instead.")})
    pending = Invitation.objects.filter(
        network=node.network, email__iexact=email, node=node, role=role,
        used_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now(),
    ).first()
    if pending is not None:
        return pending, False
    invitation, token = invitation_create(
        node=node, email=email, role=role, invited_by=actor, first_name=first_name, last_name=last_name
    )
    invitation_send(invitation=invitation, token=token)
    return invitation, True


@transaction.atomic
def invitation_resend(*, actor, invitation: Invitation) -> Invitation:
    """A new link (the old one stops working), e-mailed again."""
    if not invitations_in_scope(actor).filter(pk=invitation.pk).exists():
        raise NotInScope(invitation)
    grant_check(actor, invitation.node, invitation.role)
    if invitation.used_at is not None:
        raise ValidationError(_("This invitation was already accepted."))
    fresh, token = invitation_create(
        node=invitation.node, email=invitation.email, role=invitation.role, invited_by=actor,
        first_name=invitation.first_name, last_name=invitation.last_name,
    )
    network_event_record(
        network=fresh.network, action=NetworkEvent.Action.INVITATION_RESENT, actor=actor, node=fresh.node,
        details={"invitation": fresh.public_id, "replaces": invitation.public_id, "role": fresh.role},
    )
    invitation_send(invitation=fresh, token=token)
    return fresh
