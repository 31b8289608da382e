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

from allauth.usersessions.models import UserSession
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from rest_framework.authtoken.models import Token

from local_stores.audit import network_event_record
from local_stores.models import (
    Invitation,
    Membership,
    NetworkEvent,
    Node,
    NodeKind,
    Role,
    RoleGroup,
    SsoConfig,
)
from local_stores.selectors import node_in_scope, nodes_in_scope
from local_stores.services import StateConflict, role_grant, role_revoke

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
    replaced = list(Invitation.objects.select_for_update().filter(
        network=network, email__iexact=email, used_at__isnull=True, revoked_at__isnull=True))
    Invitation.objects.filter(pk__in=[pending.pk for pending in replaced]).update(revoked_at=now)
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        network=network, email=email, node=node, role=role, invited_by=invited_by,
        first_name=first_name.strip(), last_name=last_name.strip(), token_hash=token_hash(token),
        expires_at=now + timedelta(days=network.invitation_days),
    )
    for pending in replaced:  # the new link replaces theirs: said in the trail, not silently
        network_event_record(
            network=network, action=NetworkEvent.Action.INVITATION_REVOKED, actor=invited_by, node=pending.node,
            details={"invitation": pending.public_id, "replaced_by": invitation.public_id},
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


def invitation_sso_only(invitation: Invitation) -> bool:
    """Whether the invitation's network logs its people in by single sign-on only: the newcomer then
    sets no password (docs/sso.md, "Single sign-on only")."""
    return SsoConfig.objects.filter(network_id=invitation.network_id, enabled=True, password_login_allowed=False).exists()


@transaction.atomic
def invitation_accept(*, token: str, password: str | None, first_name: str = "", last_name: str = "") -> User:
    """Use the link up: create the person with ``password`` (or set it for an active person of the
    network, who gains the role), record their membership and grant the invited role. In a network
    that logs in by single sign-on only, no password is set (a newcomer's is unusable; ``password``
    is ignored): they log in with their company account. A person of another network or a deactivated
    one: refused like a used link. Raises InvitationInvalid or ValidationError (the password
    validators' messages)."""
    pending = invitation_for_token(token)
    invitation = Invitation.objects.select_for_update().get(pk=pending.pk)
    invitation = invitation_for_token(token)  # re-read under the lock: a racing click lost
    user = (User.objects.filter(username__iexact=invitation.email).first()
            or User.objects.filter(email__iexact=invitation.email).order_by("pk").first())
    membership = Membership.objects.filter(user=user).first() if user is not None else None
    elsewhere = user is not None and RoleGroup.objects.filter(group__user=user).exclude(
        node__network_id=invitation.network_id).exists()
    if elsewhere or (membership is not None and (
        membership.network_id != invitation.network_id or membership.status == Membership.Status.DEACTIVATED
    )):
        # another network's person, or a deactivated one (reactivation is its own, checked act)
        raise InvitationInvalid(_("This invitation link is no longer valid."))
    candidate = user or User(username=invitation.email, email=invitation.email)
    sso_only = invitation_sso_only(invitation)
    if not sso_only:
        validate_password(password, candidate)
    candidate.first_name = first_name.strip() or invitation.first_name or candidate.first_name
    candidate.last_name = last_name.strip() or invitation.last_name or candidate.last_name
    candidate.is_active = True
    if not sso_only:
        candidate.set_password(password)
    elif candidate.pk is None:
        candidate.set_unusable_password()
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


# --- Who may manage whom: checked grants, deactivation, sessions ---------------------------------


class NotInScope(LookupError):
    """The node or the person lies outside what the actor manages (or does not exist): pages and
    the API answer 404, the same answer as for a missing object."""


def head_office_of_network(network) -> Node:
    return Node.objects.get(network=network, kind=NodeKind.HEAD_OFFICE)


def manages_head_office(actor, network) -> bool:
    """Whether ``actor`` holds ``manage_people`` on the network's head office (the whole tree)."""
    return node_in_scope(actor, head_office_of_network(network), perm="manage_people")


def memberships_in_scope(actor) -> QuerySet[Membership]:
    """THE people scoping rule: memberships of the actor's networks whose person holds a role on a
    node where the actor holds ``manage_people``; a head office also sees its network's role-less
    and deactivated people."""
    nodes = nodes_in_scope(actor, perm="manage_people")
    if not nodes.exists():
        return Membership.objects.none()
    networks = set(nodes.values_list("network_id", flat=True))
    head_networks = set(
        nodes.filter(kind=NodeKind.HEAD_OFFICE).values_list("network_id", flat=True)
    )
    holders = User.objects.filter(groups__relais_role__node__in=nodes).values("pk")
    return Membership.objects.filter(network_id__in=networks).filter(
        Q(network_id__in=head_networks) | Q(user__in=holders)
    )


#: The roles held on one kind of node only (as ``role_grant`` enforces), with the reason.
ROLE_NODE_KIND = {
    Role.HEAD_OFFICE_MARKETER: (NodeKind.HEAD_OFFICE, _lazy("The head-office marketer role is granted on the head office.")),
    Role.REGIONAL_MANAGER: (NodeKind.REGION, _lazy("The regional manager role is granted on a region.")),
    Role.BRANCH_MANAGER: (NodeKind.BRANCH, _lazy("The branch manager role is granted on a branch.")),
}


def grant_check(actor, node: Node, role: str) -> None:
    """May ``actor`` grant (or invite to) ``role`` on ``node``? NotInScope (404) outside their
    ``manage_people`` scope; PermissionDenied (403) with the reason for a regional manager's limits."""
    if node is None or not node_in_scope(actor, node, perm="manage_people"):
        raise NotInScope(node)
    if role not in Role.values:
        raise ValidationError({"role": _("Unknown role: %(role)s") % {"role": role}})
    needed = ROLE_NODE_KIND.get(role)
    if needed is not None and node.kind != needed[0]:
        raise ValidationError({"role": needed[1]})
    if manages_head_office(actor, node.network):
        return
    if node.kind != NodeKind.BRANCH:
        raise PermissionDenied(_("A regional manager grants roles on the branches of their region only."))
    if role not in (node.network.regional_grantable_roles or []):
        raise PermissionDenied(
            _("Regional managers of this network may not grant the role “%(role)s”: ask the head office.")
            % {"role": Role(role).label}
        )


def _membership_for(actor, user, network) -> Membership:
    """The person's membership of ``network`` (created for people who held roles before
    memberships existed); NotInScope for a person of another network."""
    membership = Membership.objects.filter(user=user).first()
    if membership is None:
        if RoleGroup.objects.filter(group__user=user).exclude(node__network=network).exists():
            raise NotInScope(user)
        membership = Membership.objects.create(user=user, network=network, source=Membership.Source.COMMAND)
    if membership.network_id != network.pk:
        raise NotInScope(user)
    return membership


def _not_oneself(actor, user) -> None:
    if actor is not None and user.pk == actor.pk:
        raise PermissionDenied(_("You cannot do this to your own account."))


@transaction.atomic
def role_grant_checked(*, actor, user, node: Node, role: str) -> RoleGroup:
    """Grant ``role`` on ``node`` to ``user`` on behalf of ``actor``, within the actor's limits."""
    grant_check(actor, node, role)
    _membership_for(actor, user, node.network)
    _not_oneself(actor, user)
    return role_grant(user=user, node=node, role=role, granted_by=actor)


@transaction.atomic
def role_revoke_checked(*, actor, user, node: Node, role: str) -> None:
    """Take ``role`` on ``node`` from ``user`` on behalf of ``actor``, within the actor's limits."""
    grant_check(actor, node, role)
    _membership_for(actor, user, node.network)
    _not_oneself(actor, user)
    role_revoke(user=user, node=node, role=role, revoked_by=actor)


def person_check(actor, membership: Membership) -> None:
    """May ``actor`` deactivate/reactivate or end the sessions of ``membership``'s person? 404
    outside their scope; 403 for a regional manager when one of the person's roles lies outside
    their region, and for oneself."""
    if not memberships_in_scope(actor).filter(pk=membership.pk).exists():
        raise NotInScope(membership)
    _not_oneself(actor, membership.user)
    if manages_head_office(actor, membership.network):
        return
    managed = nodes_in_scope(actor, perm="manage_people")
    if RoleGroup.objects.filter(group__user=membership.user).exclude(node__in=managed).exists():
        raise PermissionDenied(
            _("This person also holds roles outside your region: ask the head office.")
        )


#: (token in the user agent, its name in words), first match wins: Edge and Opera also say Chrome,
#: Chrome also says Safari, Android also says Linux.
_BROWSERS = (("Edg", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("FxiOS", "Firefox"),
             ("CriOS", "Chrome"), ("Chrome/", "Chrome"), ("Safari/", "Safari"), ("curl/", "curl"))
_SYSTEMS = (("iPhone", "iPhone"), ("iPad", "iPad"), ("Android", "Android"), ("Windows", "Windows"),
            ("Mac OS X", "macOS"), ("Macintosh", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"))


def device_label(user_agent: str) -> str:
    """A session's browser and device in words ("Firefox on Linux", "Safari on iPhone")."""
    agent = user_agent or ""
    browser = next((name for token, name in _BROWSERS if token in agent), "")
    system = next((name for token, name in _SYSTEMS if token in agent), "")
    if browser and system:
        return _("%(browser)s on %(system)s") % {"browser": browser, "system": system}
    return browser or system or _("Unknown browser")


def sessions_open(user) -> list[UserSession]:
    """``user``'s open sessions, most recently seen first — the rows allauth's usersessions records
    at each login (those whose session expired or was cut elsewhere are dropped on the way)."""
    sessions = UserSession.objects.purge_and_list(user)
    return sorted(sessions, key=lambda session: (session.last_seen_at, session.created_at), reverse=True)


def _sessions_end(user) -> int:
    """End every recorded session of ``user`` (each one's session-store entry and its row) and delete
    their API token. Reads only this person's rows: a constant number of queries per session of
    theirs, whatever the size of the session table. A session opened before allauth's usersessions
    was installed has no row and is not ended here; a deactivation still refuses it (an inactive
    person's session finds no user at the next request)."""
    sessions = list(UserSession.objects.filter(user_id=user.pk))
    for session in sessions:
        session.end()
    Token.objects.filter(user=user).delete()
    return len(sessions)


def _session_ended_record(*, actor, user, network, session: UserSession) -> None:
    network_event_record(
        network=network, action=NetworkEvent.Action.SESSIONS_ENDED, actor=actor, subject_user=user,
        details={"sessions": 1, "device": device_label(session.user_agent)[:80], "ip": session.ip},
    )


def person_session_end(*, actor, membership: Membership, session_id) -> UserSession:
    """End one of the person's sessions (the device is logged out at its next request, the others
    stay), audited with its device. 404 for a session that is not theirs or no longer open."""
    person_check(actor, membership)
    session = UserSession.objects.filter(user_id=membership.user_id, pk=session_id).first()
    if session is None:
        raise NotInScope(membership)
    session.end()
    _session_ended_record(actor=actor, user=membership.user, network=membership.network, session=session)
    return session


def own_session_end(*, user, session_id) -> UserSession:
    """End one of one's own sessions (404 for anybody else's), in one's network's trail if a member."""
    session = UserSession.objects.filter(user_id=user.pk, pk=session_id).first()
    if session is None:
        raise NotInScope(user)
    session.end()
    membership = Membership.objects.filter(user=user).select_related("network").first()
    if membership is not None:
        _session_ended_record(actor=user, user=user, network=membership.network, session=session)
    return session


def person_sessions_end(*, actor, membership: Membership) -> int:
    """End every session of the person and delete their API token (they log in again). Returns
    the number of sessions ended."""
    person_check(actor, membership)
    ended = _sessions_end(membership.user)
    network_event_record(
        network=membership.network, action=NetworkEvent.Action.SESSIONS_ENDED, actor=actor,
        subject_user=membership.user, details={"sessions": ended},
    )
    return ended


@transaction.atomic
def person_deactivate(*, actor, membership: Membership) -> Membership:
    """Cut the person off at once: inactive, every session ended, API token deleted. Their roles
    stay (a reactivation gives them back)."""
    person_check(actor, membership)
    membership = Membership.objects.select_for_update().select_related("user", "network").get(pk=membership.pk)
    user = membership.user
    user.is_active = False
    user.save(update_fields=["is_active"])
    membership.status = Membership.Status.DEACTIVATED
    membership.deactivated_at = timezone.now()
    membership.deactivated_by = actor
    membership.save(update_fields=["status", "deactivated_at", "deactivated_by"])
    ended = _sessions_end(user)
    network_event_record(
        network=membership.network, action=NetworkEvent.Action.PERSON_DEACTIVATED, actor=actor,
        subject_user=user, details={"sessions": ended},
    )
    return membership


@transaction.atomic
def person_reactivate(*, actor, membership: Membership) -> Membership:
    person_check(actor, membership)
    membership = Membership.objects.select_for_update().select_related("user", "network").get(pk=membership.pk)
    user = membership.user
    user.is_active = True
    user.save(update_fields=["is_active"])
    membership.status = Membership.Status.ACTIVE
    membership.deactivated_at = None
    membership.deactivated_by = None
    membership.save(update_fields=["status", "deactivated_at", "deactivated_by"])
    network_event_record(
        network=membership.network, action=NetworkEvent.Action.PERSON_REACTIVATED, actor=actor,
        subject_user=user,
    )
    return membership


def invitations_in_scope(actor) -> QuerySet[Invitation]:
    """Invitations to a node where ``actor`` holds ``manage_people``."""
    return Invitation.objects.filter(node__in=nodes_in_scope(actor, perm="manage_people"))


@transaction.atomic
def invitation_revoke(*, actor, invitation: Invitation) -> Invitation:
    """Void a pending invitation's link (404 outside the actor's scope)."""
    if not invitations_in_scope(actor).filter(pk=invitation.pk).exists():
        raise NotInScope(invitation)
    grant_check(actor, invitation.node, invitation.role)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.used_at is not None or invitation.revoked_at is not None:
        raise StateConflict(_("This invitation was already accepted or revoked."))
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    network_event_record(
        network=invitation.network, action=NetworkEvent.Action.INVITATION_REVOKED, actor=actor,
        node=invitation.node, details={"invitation": invitation.public_id, "role": invitation.role},
    )
    return invitation
