"""REST API of the network. One class per operation, each with its own small serializer."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers

from local_stores.api_base import ScopedListAPIView, ScopedRetrieveAPIView
from local_stores.models import Node
from local_stores.selectors import branch_get, branch_list


class BranchOutputSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    network = serializers.CharField(source="network.slug")
    region = serializers.CharField(source="parent.public_id", allow_null=True)

    class Meta:
        model = Node
        fields = [
            "id",
            "network",
            "region",
            "code",
            "name",
            "branch_type",
            "address_line1",
            "address_line2",
            "postal_code",
            "city",
            "country",
            "phone",
            "email",
            "opening_hours",
            "manager_signature",
            "website_url",
            "facebook_url",
            "instagram_url",
            "is_active",
        ]


class BranchListApi(ScopedListAPIView):
    """Branches the caller may see. Filters: ``q`` (name, code or city), ``region`` (region id),
    ``network`` (network slug)."""

    serializer_class = BranchOutputSerializer
    filter_backends: list = []
    scoping_selector = branch_list

    class BranchListFilterSerializer(serializers.Serializer):
        q = serializers.CharField(required=False, allow_blank=True, max_length=100)
        region = serializers.CharField(required=False, allow_blank=True, max_length=24)
        network = serializers.SlugField(required=False, allow_blank=True, max_length=50)

    @extend_schema(parameters=[BranchListFilterSerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def scoping_arguments(self) -> dict:
        filters = self.BranchListFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return {
            "search": filters.validated_data.get("q", ""),
            "region": filters.validated_data.get("region", ""),
            "network": filters.validated_data.get("network", ""),
        }


class BranchDetailApi(ScopedRetrieveAPIView):
    """One branch; 404 when it does not exist or lies outside the caller's scope."""

    serializer_class = BranchOutputSerializer
    lookup_url_kwarg = "public_id"

    def get_object(self):
        return branch_get(fetched_by=self.request.user, public_id=self.kwargs["public_id"])
