"""REST API of the customer referential. One class per operation, each with its own serializers."""

from django.db import transaction
from django.http import Http404
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from central.customers.filters import CustomerFilterSet
from central.customers.selectors import (
    customer_get,
    customer_import_get,
    customer_list,
    networks_importable_by,
)
from central.customers.services import customer_erase, customer_import_create
from central.models import Customer, CustomerImport
from config.parsers import MultiPartParser
from local_stores.api_base import ScopedAPIView, ScopedListAPIView, ScopedRetrieveAPIView
from local_stores.selectors import nodes_in_scope


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


class CustomerListApi(ScopedListAPIView):
    """Customers the caller may see, filtered and paginated. Scoped like the customer pages."""

    serializer_class = CustomerOutputSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = CustomerFilterSet
    scoping_selector = customer_list

    def narrow(self, rows):
        if not nodes_in_scope(self.request.user, perm="view_customers").exists():
            raise Http404
        return rows


class CustomerDetailApi(ScopedRetrieveAPIView):
    """One customer; 404 when missing or outside the caller's scope."""

    serializer_class = CustomerOutputSerializer

    def get_object(self):
        return customer_get(fetched_by=self.request.user, public_id=self.kwargs["public_id"])


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

    @extend_schema(request=CustomerImportInputSerializer, responses={202: CustomerImportOutputSerializer})
    def post(self, request):
        data = self.CustomerImportInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        network = networks_importable_by(request.user).filter(slug=data.validated_data["network"]).first()
        if network is None:
            raise ValidationError({"network": [_("No network with this slug accepts your imports.")]})
        with transaction.atomic():
            record = customer_import_create(
                network=network, uploaded_file=data.validated_data["file"], created_by=request.user,
                kind=self.kind,
            )
        record.refresh_from_db()
        return Response(CustomerImportOutputSerializer(record).data, status=status.HTTP_202_ACCEPTED)


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
