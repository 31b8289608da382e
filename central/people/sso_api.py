"""REST API of the single sign-on set-up (docs/sso.md), scoped like its page: the network's head
office (``manage_people`` on it; a caller managing several names it with ``?network=<slug>``);
anyone else, and another network, 404.

``GET/PUT/PATCH /api/v1/network/sso/``: the configuration (the client secret write-only: answers
say ``client_secret_set`` only). ``GET/POST /api/v1/network/sso/mappings/`` and
``DELETE /api/v1/network/sso/mappings/<id>/``: the groups claim's values mapped to roles on nodes.
``POST /api/v1/network/sso/discovery/``: fetch the provider's discovery document."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from central.people.sso_selectors import sso_mappings_of, sso_network_for, sso_networks_for
from local_stores.api_base import ScopedAPIView
from local_stores.models import Network, Node, Role, SsoConfig, SsoRoleMapping
from local_stores.sso import sso_config_save, sso_discovery_check, sso_mapping_add, sso_mapping_remove

NETWORK_PARAMETER = OpenApiParameter("network", str, description="a network's slug (who manages several)")


class SsoConfigSerializer(serializers.ModelSerializer):
    network = serializers.CharField(source="network.slug", read_only=True)
    # null in the answer before the first save (declared so in the schema); never accepted as input
    issuer_url = serializers.URLField(max_length=300, allow_null=True)
    client_id = serializers.CharField(max_length=200)
    client_secret = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=500,
                                          trim_whitespace=True,
                                          help_text="Write-only: stored encrypted, never answered; blank keeps it.")
    client_secret_set = serializers.SerializerMethodField()
    email_domains = serializers.ListField(child=serializers.CharField(max_length=253), allow_empty=True,
                                         required=False)
    provider_id = serializers.CharField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = SsoConfig
        fields = ["network", "provider_id", "enabled", "issuer_url", "client_id", "client_secret",
                  "client_secret_set", "client_secret_set_at", "scopes", "groups_claim", "email_domains",
                  "create_people", "password_login_allowed", "trust_provider_mfa", "updated_at"]
        read_only_fields = ["client_secret_set_at"]

    def to_representation(self, config: SsoConfig) -> dict:
        data = super().to_representation(config)
        data["issuer_url"] = data["issuer_url"] or None
        return data

    def validate_issuer_url(self, value: str | None) -> str:
        if not value:
            raise serializers.ValidationError(self.fields["issuer_url"].error_messages["null"])  # DRF's own words
        return value

    def get_client_secret_set(self, config: SsoConfig) -> bool:
        return bool(config.client_secret_encrypted)

    def validate_email_domains(self, value: list[str]) -> list[str]:
        domains = sorted({item.strip().lower().lstrip("@") for item in value if item.strip()})
        bad = [domain for domain in domains if "." not in domain or " " in domain or "@" in domain]
        if bad:
            raise serializers.ValidationError(_("Not a domain: %(domains)s") % {"domains": ", ".join(bad)})
        return domains

    def validate(self, attrs: dict) -> dict:
        config = self.instance
        enabled = attrs.get("enabled", config.enabled if config else False)
        domains = attrs.get("email_domains", config.email_domains if config else [])
        has_secret = bool(attrs.get("client_secret")) or bool(config and config.client_secret_encrypted)
        errors = {}
        if enabled and not domains:
            errors["email_domains"] = [_("Give at least one domain: the login page finds the provider by it.")]
        if enabled and not has_secret:
            errors["client_secret"] = [_("Give the client secret before enabling single sign-on.")]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class SsoMappingSerializer(serializers.ModelSerializer):
    node = serializers.CharField(source="node.public_id", read_only=True)
    node_name = serializers.CharField(source="node.name", read_only=True)
    role_label = serializers.CharField(source="get_role_display", read_only=True)

    class Meta:
        model = SsoRoleMapping
        fields = ["id", "claim_value", "node", "node_name", "role", "role_label"]


class SsoMappingInputSerializer(serializers.Serializer):
    claim_value = serializers.CharField(max_length=200)
    node = serializers.CharField(max_length=24, help_text="The public id of a node of the network.")
    role = serializers.ChoiceField(choices=Role.choices)


class _SsoNetworkMixin:
    scoping_selector = sso_networks_for
    scoped_model = Network

    def _network(self, request: Request) -> Network:
        return sso_network_for(request.user, str(request.query_params.get("network", ""))[:50] or None)


class SsoConfigApi(_SsoNetworkMixin, ScopedAPIView):
    """The network's single sign-on configuration (GET answers its defaults before it is saved)."""

    def _answer(self, network: Network) -> Response:
        config = SsoConfig.objects.filter(network=network).first() or SsoConfig(network=network)
        return Response(SsoConfigSerializer(config).data)

    @extend_schema(parameters=[NETWORK_PARAMETER], responses={200: SsoConfigSerializer})
    def get(self, request: Request) -> Response:
        return self._answer(self._network(request))

    def _save(self, request: Request, *, partial: bool) -> Response:
        network = self._network(request)
        config = SsoConfig.objects.filter(network=network).first()
        serializer = SsoConfigSerializer(config, data=request.data, partial=partial and config is not None)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        secret = data.pop("client_secret", "")
        sso_config_save(network=network, saved_by=request.user, data=data, client_secret=secret,
                        ip=request.META.get("REMOTE_ADDR"))
        return self._answer(network)

    @extend_schema(parameters=[NETWORK_PARAMETER], request=SsoConfigSerializer, responses={200: SsoConfigSerializer})
    def put(self, request: Request) -> Response:
        return self._save(request, partial=False)

    @extend_schema(parameters=[NETWORK_PARAMETER], request=SsoConfigSerializer, responses={200: SsoConfigSerializer})
    def patch(self, request: Request) -> Response:
        return self._save(request, partial=True)


class SsoMappingListApi(_SsoNetworkMixin, ScopedAPIView):
    """GET: the mappings; POST: add one (the node by its public id, the role by its value)."""

    @extend_schema(parameters=[NETWORK_PARAMETER], responses={200: SsoMappingSerializer(many=True)})
    def get(self, request: Request) -> Response:
        network = self._network(request)
        return Response(SsoMappingSerializer(sso_mappings_of(network), many=True).data)

    @extend_schema(parameters=[NETWORK_PARAMETER], request=SsoMappingInputSerializer,
                   responses={201: SsoMappingSerializer, 200: SsoMappingSerializer})
    def post(self, request: Request) -> Response:
        network = self._network(request)
        payload = SsoMappingInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        node = Node.objects.filter(network=network, closed_at__isnull=True, public_id=data.pop("node")).first()
        if node is None:
            raise serializers.ValidationError({"node": [_("Choose a node of this network.")]})
        existed = SsoRoleMapping.objects.filter(network=network, node=node, role=data["role"],
                                                claim_value=data["claim_value"].strip()).exists()
        mapping = sso_mapping_add(network=network, added_by=request.user, node=node,
                                  ip=request.META.get("REMOTE_ADDR"), **data)
        return Response(SsoMappingSerializer(mapping).data,
                        status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED)


class SsoMappingDetailApi(_SsoNetworkMixin, ScopedAPIView):
    """DELETE: remove the mapping (the next logins revoke the roles it gave)."""

    @extend_schema(parameters=[NETWORK_PARAMETER], request=None, responses={204: None})
    def delete(self, request: Request, mapping_id: str) -> Response:
        network = self._network(request)
        mapping = sso_mappings_of(network).filter(pk=int(mapping_id)).first() if mapping_id.isascii() and mapping_id.isdigit() and len(mapping_id) < 10 else None
        if mapping is None:
            raise NotFound()
        sso_mapping_remove(mapping=mapping, removed_by=request.user, ip=request.META.get("REMOTE_ADDR"))
        return Response(status=status.HTTP_204_NO_CONTENT)


DISCOVERY_ANSWER = inline_serializer("SsoDiscovery", fields={
    "ok": serializers.BooleanField(), "url": serializers.CharField(),
    "error": serializers.CharField(required=False),
    **{key: serializers.CharField(required=False) for key in (
        "issuer", "authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri", "end_session_endpoint")},
})


class SsoDiscoveryApi(_SsoNetworkMixin, ScopedAPIView):
    """Fetch the saved issuer's discovery document (``ok`` false with the error when it fails)."""

    @extend_schema(parameters=[NETWORK_PARAMETER], request=None, responses={200: DISCOVERY_ANSWER})
    def post(self, request: Request) -> Response:
        network = self._network(request)
        config = SsoConfig.objects.filter(network=network).first()
        if config is None or not config.issuer_url:
            raise serializers.ValidationError({"issuer_url": [_("Save the issuer URL first.")]})
        return Response(sso_discovery_check(config.issuer_url))
