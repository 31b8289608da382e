"""REST API of the sending identity: ``GET/PATCH /api/v1/network/identity/`` (head office,
manage_identity; anyone else 404). Secrets are write-only: the answer says ``*_set: true/false``."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from central.identity.providers import offered_esps
from central.identity.selectors import (
    identity_for_page,
    identity_network_for,
    identity_problem,
    tracking_webhook_path,
)
from central.identity.services import EDITABLE_FIELDS, identity_save, identity_test_queue
from central.models import AWS_REGION_PATTERN, SECRET_FIELDS, SendingIdentity
from local_stores.api_base import ScopedAPIView

NETWORK_PARAMETER = OpenApiParameter("network", str, description="The network's slug (default: your first).")


class SendingIdentitySerializer(serializers.Serializer):
    network = serializers.SlugField(source="network.slug", read_only=True)
    from_local_part = serializers.CharField(max_length=64, required=False, allow_blank=True)
    from_domain = serializers.CharField(max_length=253, required=False, allow_blank=True)
    from_name = serializers.ChoiceField(choices=SendingIdentity.FromName.choices, required=False)
    reply_to = serializers.ChoiceField(choices=SendingIdentity.ReplyTo.choices, required=False)
    reply_to_address = serializers.EmailField(required=False, allow_blank=True)
    email_method = serializers.ChoiceField(choices=SendingIdentity.EmailMethod.choices, required=False)
    esp = serializers.ChoiceField(choices=(), required=False, allow_blank=True)
    esp_api_url = serializers.URLField(max_length=255, required=False, allow_blank=True)
    esp_region = serializers.RegexField(AWS_REGION_PATTERN, max_length=32, required=False, allow_blank=True,
                                        help_text="Amazon SES: the AWS region, such as eu-west-3.",
                                        error_messages={"invalid": _("An AWS region name such as eu-west-3.")})
    smtp_host = serializers.CharField(max_length=255, required=False, allow_blank=True)
    smtp_port = serializers.IntegerField(min_value=1, max_value=65535, required=False)
    smtp_username = serializers.CharField(max_length=255, required=False, allow_blank=True)
    smtp_security = serializers.ChoiceField(choices=SendingIdentity.Security.choices, required=False)
    sms_provider = serializers.ChoiceField(choices=SendingIdentity.SmsProvider.choices, required=False)
    sms_account = serializers.CharField(max_length=64, required=False, allow_blank=True)
    sms_sender = serializers.CharField(max_length=11, required=False, allow_blank=True)
    email_secret = serializers.CharField(max_length=500, required=False, allow_blank=True, write_only=True)
    webhook_secret = serializers.CharField(max_length=500, required=False, allow_blank=True, write_only=True)
    esp_secret_key = serializers.CharField(max_length=500, required=False, allow_blank=True, write_only=True)
    webhook_signing_key = serializers.CharField(max_length=500, required=False, allow_blank=True, write_only=True)
    sms_secret = serializers.CharField(max_length=500, required=False, allow_blank=True, write_only=True)
    email_secret_set = serializers.SerializerMethodField()
    webhook_secret_set = serializers.SerializerMethodField()
    sms_secret_set = serializers.SerializerMethodField()
    esp_secret_key_set = serializers.SerializerMethodField()
    webhook_signing_key_set = serializers.SerializerMethodField()
    tracking_webhook_url = serializers.SerializerMethodField()
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)
    last_test_at = serializers.DateTimeField(read_only=True, allow_null=True)
    last_test_to = serializers.CharField(read_only=True, help_text="The address of the last test send (empty before the first).")
    last_test_ok = serializers.BooleanField(read_only=True, allow_null=True)
    last_test_result = serializers.CharField(read_only=True)
    problems = serializers.SerializerMethodField()

    def get_email_secret_set(self, identity: SendingIdentity) -> bool:
        return bool(identity.email_secret_encrypted)

    def get_webhook_secret_set(self, identity: SendingIdentity) -> bool:
        return bool(identity.webhook_secret_encrypted)

    def get_sms_secret_set(self, identity: SendingIdentity) -> bool:
        return bool(identity.sms_secret_encrypted)

    def get_esp_secret_key_set(self, identity: SendingIdentity) -> bool:
        return bool(identity.esp_secret_key_encrypted)

    def get_webhook_signing_key_set(self, identity: SendingIdentity) -> bool:
        return bool(identity.webhook_signing_key_encrypted)

    def get_tracking_webhook_url(self, identity: SendingIdentity) -> str:
        """Where the provider posts its tracking events for this network ("" while not served)."""
        path = tracking_webhook_path(identity)
        request = self.context.get("request")
        return request.build_absolute_uri(path) if path and request is not None else path

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["esp"].choices = [("", ""), *offered_esps()]

    def get_problems(self, identity: SendingIdentity) -> list[str]:
        return [str(problem) for problem in (identity_problem(identity.network, "email"),
                                             identity_problem(identity.network, "sms")) if problem]


class SendingIdentityApi(ScopedAPIView):
    """The network's own sending identity. PATCH sends the fields to change; a secret sent replaces
    the stored one, a secret not sent (or empty) keeps it; no answer ever holds a secret."""

    @extend_schema(parameters=[NETWORK_PARAMETER], responses={200: SendingIdentitySerializer})
    def get(self, request: Request) -> Response:
        network = identity_network_for(request.user, request.query_params.get("network"))
        return Response(SendingIdentitySerializer(identity_for_page(network), context={"request": request}).data)

    @extend_schema(parameters=[NETWORK_PARAMETER], request=SendingIdentitySerializer,
                   responses={200: SendingIdentitySerializer})
    def patch(self, request: Request) -> Response:
        network = identity_network_for(request.user, request.query_params.get("network"))
        serializer = SendingIdentitySerializer(data=request.data if isinstance(request.data, dict) else {})
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        new_secrets = {name: data.pop(name, "") for name in SECRET_FIELDS}
        identity = identity_save(network=network, saved_by=request.user, ip=request.META.get("REMOTE_ADDR"),
                                 data={name: data[name] for name in EDITABLE_FIELDS if name in data},
                                 new_secrets=new_secrets)
        return Response(SendingIdentitySerializer(identity, context={"request": request}).data)


class IdentityTestSendSerializer(serializers.Serializer):
    to = serializers.EmailField(max_length=254, help_text=_("The address the test e-mail goes to."))


class SendingIdentityTestApi(ScopedAPIView):
    """POST: queue one test e-mail to ``to`` through the network's own account (202). The identity in
    the answer shows it queued (``last_test_ok`` null); its result comes in ``last_test_ok`` and
    ``last_test_result`` of GET network/identity/ once the task has run."""

    @extend_schema(parameters=[NETWORK_PARAMETER], request=IdentityTestSendSerializer,
                   responses={202: SendingIdentitySerializer})
    def post(self, request: Request) -> Response:
        network = identity_network_for(request.user, request.query_params.get("network"))
        serializer = IdentityTestSendSerializer(data=request.data if isinstance(request.data, dict) else {})
        serializer.is_valid(raise_exception=True)
        identity = identity_test_queue(network=network, sent_by=request.user, to=serializer.validated_data["to"],
                                       ip=request.META.get("REMOTE_ADDR"))
        return Response(SendingIdentitySerializer(identity, context={"request": request}).data,
                        status=status.HTTP_202_ACCEPTED)
