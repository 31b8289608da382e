"""REST API of the customer referential. One class per operation, each with its own serializers."""

import json

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import Http404
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from central.channels import registry as channels
from central.customers import mappings
from central.customers.by_hand import FIELDS, customer_create, customer_update
from central.customers.filters import CustomerFilterSet
from central.customers.selectors import (
    branches_editable_by,
    customer_get,
    customer_import_get,
    customer_list,
    networks_importable_by,
    possible_duplicates,
)
from central.customers.services import customer_erase, customer_import_create
from central.models import Customer, CustomerImport
from config.parsers import MultiPartParser
from local_stores.api_base import ScopedAPIView, ScopedListAPIView, ScopedRetrieveAPIView
from local_stores.selectors import node_in_scope, nodes_in_scope


class CustomerOutputSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    branch = serializers.CharField(source="branch.public_id")
    branch_code = serializers.CharField(source="branch.code")
    interests = serializers.ListField(source="interest_list", child=serializers.CharField())

    class Meta:
        model = Customer
        fields = [
            "id",
            "external_id",
            "is_prospect",
            "branch",
            "branch_code",
            "civility",
            "first_name",
            "last_name",
            "email",
            "mobile",
            "address_line1",
            "postal_code",
            "city",
            "country",
            "segment",
            "rfm_recency",
            "rfm_frequency",
            "rfm_monetary",
            "interests",
            "last_purchase_on",
            "lifetime_value",
            "preferred_channel",
            "consent_email",
            "consent_email_at",
            "consent_email_source",
            "consent_sms",
            "consent_sms_at",
            "consent_sms_source",
            "consent_post",
            "consent_post_at",
            "consent_post_source",
            "objected_at",
            "created_at",
            "updated_at",
        ]


class CustomerWrittenSerializer(CustomerOutputSerializer):
    """A customer as created or edited: with the other customers of the branch that share their
    e-mail address or mobile number (perhaps the same person: shown, never refused)."""

    possible_duplicates = serializers.SerializerMethodField()

    class Meta(CustomerOutputSerializer.Meta):
        fields = [*CustomerOutputSerializer.Meta.fields, "possible_duplicates"]

    def get_possible_duplicates(self, customer) -> list[str]:
        return [other.public_id for other in possible_duplicates(customer=customer)[:10]]


class CustomerInputSerializer(serializers.Serializer):
    """The fields a person may type in, named as the customer's GET answers them; every value is
    checked by the service with the import's checks (400 by field, the import's messages). A consent
    change gives its status, its date (``consent_<channel>_at``, not in the future) and its source."""

    branch = serializers.CharField(required=False, help_text="The branch's id (creation only).")
    branch_code = serializers.CharField(required=False, help_text="Or the branch's code (creation only).")
    interests = serializers.JSONField(required=False, help_text="A list of tags, or a text separated by commas.")

    def get_fields(self):
        fields = super().get_fields()
        for name in FIELDS:
            fields.setdefault(name, serializers.CharField(required=False, allow_blank=True, trim_whitespace=False))
        for spec in channels.all():
            for suffix in ("", "_at", "_source"):
                fields[f"{spec.consent_field}{suffix}"] = serializers.CharField(
                    required=False, allow_blank=True, allow_null=True)
        return fields


def _service_input(validated: dict) -> tuple[dict, dict]:
    data = {name: validated[name] for name in FIELDS if name in validated}
    consents = {spec.code: {"status": validated.get(spec.consent_field), "at": validated.get(f"{spec.consent_field}_at"),
                            "source": validated.get(f"{spec.consent_field}_source")}
                for spec in channels.all() if validated.get(spec.consent_field)}
    return data, consents


class CustomerListApi(ScopedListAPIView):
    """Customers the caller may see, filtered and paginated. Scoped like the customer pages.
    POST creates a customer by hand in a branch where the caller may edit customers (404 elsewhere)."""

    serializer_class = CustomerOutputSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = CustomerFilterSet
    scoping_selector = customer_list

    def narrow(self, rows):
        if not nodes_in_scope(self.request.user, perm="view_customers").exists():
            raise Http404
        return rows

    @extend_schema(request=CustomerInputSerializer, responses={201: CustomerWrittenSerializer})
    def post(self, request):
        branches = branches_editable_by(request.user)
        if not branches.exists():
            raise Http404
        data = CustomerInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        given = data.validated_data
        if given.get("branch"):
            branch = branches.filter(public_id=given["branch"]).first()
        elif given.get("branch_code"):
            branch = branches.filter(code=given["branch_code"]).first()
        else:
            branch = branches.first() if branches.count() == 1 else None
            if branch is None:
                raise ValidationError({"branch": [_("Choose the branch of the customer.")]})
        if branch is None:
            raise Http404
        profile, consents = _service_input(given)
        with transaction.atomic():
            customer = customer_create(created_by=request.user, branch=branch, data=profile, consents=consents)
        return Response(CustomerWrittenSerializer(customer).data, status=status.HTTP_201_CREATED)


class CustomerDetailApi(ScopedRetrieveAPIView):
    """One customer; 404 when missing or outside the caller's scope. PATCH edits the given fields by
    hand (403 without the right to edit the customers of its branch; the branch is not changed here:
    an ownership transfer)."""

    serializer_class = CustomerOutputSerializer

    def get_object(self):
        return customer_get(fetched_by=self.request.user, public_id=self.kwargs["public_id"])

    @extend_schema(request=CustomerInputSerializer, responses={200: CustomerWrittenSerializer})
    def patch(self, request, public_id: str):
        customer = self.get_object()
        if not node_in_scope(request.user, customer.branch, perm="edit_customers"):
            raise PermissionDenied(_("You may not edit the customers of this branch."))
        data = CustomerInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        given = data.validated_data
        for name in ("branch", "branch_code"):
            if given.get(name) and given[name] not in (customer.branch.public_id, customer.branch.code):
                raise ValidationError({name: [_("A customer moves to another branch by an ownership transfer.")]})
        profile, consents = _service_input(given)
        with transaction.atomic():
            customer_update(customer=customer, edited_by=request.user, data=profile, consents=consents)
        customer.refresh_from_db()
        return Response(CustomerWrittenSerializer(customer).data)


class CustomerImportOutputSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    network = serializers.CharField(source="network.slug")

    class Meta:
        model = CustomerImport
        fields = [
            "id",
            "network",
            "original_name",
            "kind",
            "status",
            "created_at",
            "started_at",
            "finished_at",
            "rows_total",
            "rows_created",
            "rows_updated",
            "rows_rejected",
            "errors",
            "failure_reason",
        ]


class CustomerImportCreateApi(ScopedAPIView):
    """Upload a customer CSV (multipart, field ``file``; ``network`` is the network slug). The
    import runs in the background; poll the returned resource for its report."""

    parser_classes = [MultiPartParser]
    kind = CustomerImport.Kind.CUSTOMERS

    class CustomerImportInputSerializer(serializers.Serializer):
        network = serializers.SlugField(max_length=50)
        file = serializers.FileField()
        encoding = serializers.ChoiceField(
            choices=["", "utf-8", "cp1252", "iso8859_15"], required=False, default="",
            help_text="The file's encoding; empty detects it (UTF-8, else Windows-1252 and the like).")
        mapping = serializers.CharField(
            required=False, default="", allow_blank=True, max_length=20_000,
            help_text='A JSON object {"file column": "Relais column" or "ignore"}, or the name of a mapping '
                      "saved on the upload page; none: the mapping saved for the file's headers, if any.")

    @extend_schema(request=CustomerImportInputSerializer, responses={202: CustomerImportOutputSerializer})
    def post(self, request):
        data = self.CustomerImportInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        network = networks_importable_by(request.user).filter(slug=data.validated_data["network"]).first()
        if network is None:
            raise ValidationError({"network": [_("No network with this slug accepts your imports.")]})
        options = {}
        if self.kind != CustomerImport.Kind.CUSTOMERS:  # a purchases file: Relais' own columns, its encoding detected
            given = [name for name in ("mapping", "encoding") if data.validated_data[name]]
            if given:
                raise ValidationError({name: [_("Only for customer files.")] for name in given})
        else:
            options = {"encoding": data.validated_data["encoding"],
                       "column_mapping": _column_mapping(network, data.validated_data["mapping"])}
        with transaction.atomic():
            try:
                record = customer_import_create(
                    network=network, uploaded_file=data.validated_data["file"], created_by=request.user,
                    kind=self.kind, **options,
                )
            except DjangoValidationError as error:
                raise ValidationError(error.message_dict) from error
        record.refresh_from_db()
        return Response(CustomerImportOutputSerializer(record).data, status=status.HTTP_202_ACCEPTED)


def _column_mapping(network, raw: str) -> dict[str, str]:
    """The ``mapping`` parameter: a JSON object (checked), or a saved mapping's name; 400 otherwise."""
    raw = raw.strip()
    try:
        if raw.startswith("{"):
            try:
                return mappings.check_mapping(json.loads(raw))
            except (json.JSONDecodeError, RecursionError) as error:  # RecursionError: nested too deep
                raise DjangoValidationError({"mapping": _("The mapping is not valid JSON.")}) from error
        return dict(mappings.mapping_named(network=network, name=raw).mapping) if raw else {}
    except DjangoValidationError as error:
        raise ValidationError(error.message_dict) from error


class CustomerImportDetailApi(ScopedRetrieveAPIView):
    """The state and the report of one import."""

    serializer_class = CustomerImportOutputSerializer
    kind = CustomerImport.Kind.CUSTOMERS

    def get_object(self):
        record = customer_import_get(fetched_by=self.request.user, public_id=self.kwargs["public_id"])
        if record.kind != self.kind:
            raise Http404
        return record


class CustomerEraseApi(ScopedAPIView):
    """Erase a customer (RGPD art. 17): every personal datum removed, the addresses kept only as
    hashes on the suppression list, the messages not yet sent cancelled. Head office only (403);
    a customer one does not see: 404; already erased: 400."""

    service_error_field = "customer"

    class CustomerEraseInputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=40, required=False, allow_blank=True, default="",
                                       help_text="The request's reference.")

    @extend_schema(request=CustomerEraseInputSerializer, responses={200: CustomerOutputSerializer})
    def post(self, request, public_id: str):
        customer = customer_get(fetched_by=request.user, public_id=public_id)
        data = self.CustomerEraseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        erased = customer_erase(customer=customer, erased_by=request.user, reason=data.validated_data["reason"])
        return Response(CustomerOutputSerializer(erased).data)
