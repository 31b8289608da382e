"""REST API of the people and invitations, scoped like the pages (``people_visible_to``,
``invitations_visible_to``): 404 outside the caller's ``manage_people`` scope, 403 with the reason
for a regional manager's limits, 400 by field."""

from __future__ import annotations

from contextlib import contextmanager

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from central.people import selectors
from central.people.services import invitation_resend, invitation_revoke, person_invite
from local_stores.api_base import ScopedAPIView, ScopedListAPIView, ScopedRetrieveAPIView
from local_stores.models import Invitation, Membership, Role
from local_stores.people import (
    NotInScope,
    person_deactivate,
    person_reactivate,
    role_grant_checked,
    role_revoke_checked,
)


@contextmanager
def _not_in_scope_is_404():
    try:
        yield
    except NotInScope as error:
        raise NotFound() from error


class PersonSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id", read_only=True)
    email = serializers.CharField(source="user.email", read_only=True)
    first_name = serializers.CharField(source="user.first_name", read_only=True)
    last_name = serializers.CharField(source="user.last_name", read_only=True)
    network = serializers.CharField(source="network.slug", read_only=True)
    roles = serializers.SerializerMethodField()

    class Meta:
        model = Membership
        fields = ["id", "email", "first_name", "last_name", "network", "status", "source", "created_at",
                  "deactivated_at", "roles"]

    def get_roles(self, membership: Membership) -> list[dict]:
        return [{"role": group.role, "role_label": group.get_role_display(), "node": group.node.public_id,
                 "node_name": group.node.name} for group in selectors.roles_held(membership)]


class InvitationSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id", read_only=True)
    node = serializers.CharField(source="node.public_id", read_only=True)
    node_name = serializers.CharField(source="node.name", read_only=True)
    state = serializers.SerializerMethodField()

    class Meta:
        model = Invitation
        fields = ["id", "email", "first_name", "last_name", "node", "node_name", "role", "created_at",
                  "expires_at", "used_at", "revoked_at", "state"]

    def get_state(self, invitation: Invitation) -> str:
        if invitation.used_at:
            return "accepted"
        if invitation.revoked_at:
            return "revoked"
        return "expired" if invitation.expires_at <= timezone.now() else "pending"


class RoleInputSerializer(serializers.Serializer):
    node = serializers.CharField(max_length=24, help_text="The public id of the node.")
    role = serializers.ChoiceField(choices=Role.choices)


class InviteInputSerializer(RoleInputSerializer):
    email = serializers.EmailField(max_length=254)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")


def _node(user, public_id: str):
    node = selectors.manageable_nodes(user).filter(public_id=public_id).first()
    if node is None:
        raise NotFound()
    return node


class PersonListApi(ScopedListAPIView):
    """The people the caller manages, with their roles."""

    scoping_selector = selectors.people_visible_to
    serializer_class = PersonSerializer

    def narrow(self, rows):
        return rows.order_by("user__last_name", "user__first_name", "pk")


class PersonDetailApi(ScopedRetrieveAPIView):
    scoping_selector = selectors.people_visible_to
    serializer_class = PersonSerializer
    lookup_field = "public_id"


class PersonRolesApi(ScopedAPIView):
    """POST grants a role on a node to the person; DELETE takes it away (node and role in the body
    or the query)."""

    scoping_selector = selectors.people_visible_to

    def _apply(self, request: Request, public_id: str, service, data) -> Response:
        membership = selectors.person_get(fetched_by=request.user, public_id=public_id)
        payload = RoleInputSerializer(data=data)
        payload.is_valid(raise_exception=True)
        node = _node(request.user, payload.validated_data["node"])
        with _not_in_scope_is_404():
            service(actor=request.user, user=membership.user, node=node, role=payload.validated_data["role"])
        return Response(PersonSerializer(membership).data)

    @extend_schema(request=RoleInputSerializer, responses={200: PersonSerializer})
    def post(self, request: Request, public_id: str) -> Response:
        return self._apply(request, public_id, role_grant_checked, request.data)

    @extend_schema(request=RoleInputSerializer, responses={200: PersonSerializer},
                   parameters=[OpenApiParameter("node", str), OpenApiParameter("role", str)])
    def delete(self, request: Request, public_id: str) -> Response:
        data = request.data if request.data else request.query_params
        return self._apply(request, public_id, role_revoke_checked, data)


class PersonStateApi(ScopedAPIView):
    """Deactivate (sessions and API token cut at once) or reactivate the person."""

    scoping_selector = selectors.people_visible_to
    operation = ""

    @extend_schema(request=None, responses={200: PersonSerializer})
    def post(self, request: Request, public_id: str) -> Response:
        membership = selectors.person_get(fetched_by=request.user, public_id=public_id)
        service = person_deactivate if self.operation == "deactivate" else person_reactivate
        with _not_in_scope_is_404():
            membership = service(actor=request.user, membership=membership)
        return Response(PersonSerializer(membership).data)


class InvitationListApi(ScopedListAPIView):
    """GET: invitations to the nodes the caller manages. POST: invite (checked as a grant); the
    link is e-mailed, never answered."""

    scoping_selector = selectors.invitations_visible_to
    serializer_class = InvitationSerializer

    @extend_schema(request=InviteInputSerializer, responses={201: InvitationSerializer, 200: InvitationSerializer})
    def post(self, request: Request) -> Response:
        payload = InviteInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        node = _node(request.user, data.pop("node"))
        with _not_in_scope_is_404():
            invitation, created = person_invite(actor=request.user, node=node, **data)
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED if created else 200)


class InvitationActionApi(ScopedAPIView):
    scoping_selector = selectors.invitations_visible_to
    operation = ""

    @extend_schema(request=None, responses={200: InvitationSerializer})
    def post(self, request: Request, public_id: str) -> Response:
        invitation = selectors.invitation_get(fetched_by=request.user, public_id=public_id)
        with _not_in_scope_is_404():
            if self.operation == "revoke":
                invitation = invitation_revoke(actor=request.user, invitation=invitation)
            else:
                invitation = invitation_resend(actor=request.user, invitation=invitation)
        return Response(InvitationSerializer(invitation).data)

