"""REST API of the network's settings and audit trail.

``GET/PATCH /api/v1/network/``: the caller's network (``manage_network`` on its head office; a
caller managing several names it with ``?network=<slug>``); anyone else 404. PATCH sends the
settings to change; the service refuses the whole with a 400 by field.
``GET /api/v1/network-events/``: the audit trail the caller reads (the same scoping as the page),
paginated, filtered like the page."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from central.networks.audit_rows import details_lines, person_name
from central.networks.selectors import events_filtered, network_events_visible_to, network_managed_by
from central.networks.services import REGIONAL_GRANTABLE_CHOICES, network_settings_update
from local_stores.api_base import ScopedAPIView, ScopedListAPIView
from local_stores.models import Network, NetworkEvent


class NetworkSettingsSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id", read_only=True)
    logo = serializers.SerializerMethodField()
    languages = serializers.ListField(child=serializers.CharField(max_length=8), allow_empty=True)
    regional_grantable_roles = serializers.ListField(
        child=serializers.ChoiceField(choices=[(role.value, role.label) for role in REGIONAL_GRANTABLE_CHOICES]),
        allow_empty=True)
    invitation_days = serializers.IntegerField()
    default_language = serializers.CharField(max_length=8)
    time_zone = serializers.CharField(max_length=64)
    currency = serializers.CharField(max_length=3)

    class Meta:
        model = Network
        fields = ["id", "name", "slug", "logo", "languages", "default_language", "time_zone", "currency",
                  "invitation_days", "regional_grantable_roles"]
        read_only_fields = ["id", "slug", "logo"]

    def get_logo(self, network: Network) -> str | None:
        return network.logo.url if network.logo else None


class NetworkSettingsApi(ScopedAPIView):
    """The caller's network and its settings (head office)."""

    def _network(self, request: Request) -> Network:
        network = network_managed_by(request.user, slug=str(request.query_params.get("network", ""))[:50])
        if network is None:
            raise Http404
        return network

    @extend_schema(parameters=[OpenApiParameter("network", str, description="a network's slug (who manages several)")],
                   responses={200: NetworkSettingsSerializer})
    def get(self, request: Request) -> Response:
        return Response(NetworkSettingsSerializer(self._network(request)).data)

    @extend_schema(parameters=[OpenApiParameter("network", str, description="a network's slug (who manages several)")],
                   request=NetworkSettingsSerializer, responses={200: NetworkSettingsSerializer})
    def patch(self, request: Request) -> Response:
        network = self._network(request)
        serializer = NetworkSettingsSerializer(network, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        network = network_settings_update(
            network=network, changed_by=request.user, changes=dict(serializer.validated_data),
            ip=request.META.get("REMOTE_ADDR"),
        )
        return Response(NetworkSettingsSerializer(network).data)


class NetworkEventSerializer(serializers.ModelSerializer):
    network = serializers.CharField(source="network.slug")
    action_label = serializers.CharField(source="get_action_display")
    actor = serializers.SerializerMethodField()
    node = serializers.SerializerMethodField()
    subject = serializers.SerializerMethodField()
    details_text = serializers.SerializerMethodField()

    class Meta:
        model = NetworkEvent
        fields = ["at", "network", "action", "action_label", "actor", "node", "subject", "details", "details_text"]

    def get_actor(self, event: NetworkEvent) -> str | None:
        return person_name(event.actor) or None

    def get_subject(self, event: NetworkEvent) -> str | None:
        return person_name(event.subject_user) or None

    def get_node(self, event: NetworkEvent) -> dict | None:
        return {"id": event.node.public_id, "name": event.node.name} if event.node else None

    def get_details_text(self, event: NetworkEvent) -> list[str]:
        return details_lines(event)


class NetworkEventFilterSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=NetworkEvent.Action.choices, required=False)
    person = serializers.CharField(max_length=100, required=False)
    node = serializers.CharField(max_length=24, required=False)
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)


@extend_schema(parameters=[NetworkEventFilterSerializer])
class NetworkEventListApi(ScopedListAPIView):
    """The network's audit trail as the caller reads it (newest first)."""

    serializer_class = NetworkEventSerializer
    scoping_selector = network_events_visible_to

    def narrow(self, rows):
        filters = NetworkEventFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return events_filtered(rows, **filters.validated_data)
