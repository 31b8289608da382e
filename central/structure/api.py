"""REST API of the network's structure: nodes (list, create, change, close, reopen) and the
structure import. Head office (``manage_network``) writes; a regional manager reads their region's
part (a write answers 403 with the reason); anyone else: 404, as for a missing node."""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from central.customers.csv_files import ImportFileError
from central.structure.selectors import (
    head_offices_managed_by,
    structure_list,
    structure_node_get,
    structure_nodes_visible_to,
)
from central.structure.services import (
    node_change_checked,
    node_close_checked,
    node_create_checked,
    node_reopen_checked,
    structure_import,
)
from local_stores.api_base import ScopedAPIView, ScopedListAPIView
from local_stores.models import Node, NodeKind

DETAILS = ["address_line1", "address_line2", "postal_code", "city", "country", "email", "phone", "opening_hours"]


class NodeOutputSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    network = serializers.CharField(source="network.slug")
    parent = serializers.CharField(source="parent.public_id", allow_null=True, default=None)
    parent_name = serializers.CharField(source="parent.name", allow_null=True, default=None)

    class Meta:
        model = Node
        fields = ["id", "network", "kind", "parent", "parent_name", "code", "name", *DETAILS, "is_active",
                  "closed_at"]


class NodeDetailsSerializer(serializers.Serializer):
    address_line1 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    address_line2 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=16, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    country = serializers.CharField(max_length=2, required=False)
    email = serializers.EmailField(required=False, allow_blank=True)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    opening_hours = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class NodeListApi(ScopedListAPIView):
    """The nodes of the structure the caller reads, in the tree's order (``q``: name or code;
    ``state``: open or closed). POST creates a region (under the head office) or a branch (under a
    region): ``parent`` is the parent's id."""

    serializer_class = NodeOutputSerializer
    filter_backends: list = []
    scoping_selector = structure_list

    class NodeCreateSerializer(NodeDetailsSerializer):
        parent = serializers.CharField(max_length=24)
        kind = serializers.ChoiceField(choices=[NodeKind.REGION, NodeKind.BRANCH])
        code = serializers.CharField(max_length=32)
        name = serializers.CharField(max_length=120)

    def scoping_arguments(self) -> dict:
        state = self.request.query_params.get("state", "")
        return {"search": self.request.query_params.get("q", "")[:100], "state": state}

    @extend_schema(request=NodeCreateSerializer, responses={201: NodeOutputSerializer})
    def post(self, request):
        data = self.NodeCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        parent = structure_node_get(fetched_by=request.user, public_id=fields.pop("parent"))
        node = node_create_checked(actor=request.user, parent=parent, kind=fields.pop("kind"),
                                   code=fields.pop("code"), name=fields.pop("name"), **fields)
        return Response(NodeOutputSerializer(node).data, status=status.HTTP_201_CREATED)


class NodeDetailApi(ScopedAPIView):
    """One node (GET); PATCH renames it, moves a branch (``parent``: another region's id) and
    changes its address and contact fields."""

    class NodePatchSerializer(NodeDetailsSerializer):
        name = serializers.CharField(max_length=120, required=False)
        parent = serializers.CharField(max_length=24, required=False)

    @extend_schema(responses={200: NodeOutputSerializer})
    def get(self, request, public_id: str):
        return Response(NodeOutputSerializer(structure_node_get(fetched_by=request.user, public_id=public_id)).data)

    @extend_schema(request=NodePatchSerializer, responses={200: NodeOutputSerializer})
    def patch(self, request, public_id: str):
        node = structure_node_get(fetched_by=request.user, public_id=public_id)
        data = self.NodePatchSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        parent = fields.pop("parent", None)
        parent = structure_node_get(fetched_by=request.user, public_id=parent) if parent else None
        node = node_change_checked(actor=request.user, node=node, name=fields.pop("name", None), parent=parent,
                                   details=fields)
        return Response(NodeOutputSerializer(node).data)


class NodeCloseApi(ScopedAPIView):
    """Close a branch (or an empty region). 400 with every reason while the branch still owns
    customers, has ownership transfers waiting or campaigns on their way."""

    @extend_schema(request=None, responses={200: NodeOutputSerializer})
    def post(self, request, public_id: str):
        node = structure_node_get(fetched_by=request.user, public_id=public_id)
        return Response(NodeOutputSerializer(node_close_checked(actor=request.user, node=node)).data)


class NodeReopenApi(ScopedAPIView):
    """Open a closed node again."""

    @extend_schema(request=None, responses={200: NodeOutputSerializer})
    def post(self, request, public_id: str):
        node = structure_node_get(fetched_by=request.user, public_id=public_id)
        return Response(NodeOutputSerializer(node_reopen_checked(actor=request.user, node=node)).data)


class StructureImportReportSerializer(serializers.Serializer):
    rows_total = serializers.IntegerField()
    branches_created = serializers.IntegerField()
    branches_updated = serializers.IntegerField()
    regions_created = serializers.ListField(child=serializers.DictField())
    invitations_sent = serializers.IntegerField()
    roles_granted = serializers.IntegerField()
    rows_rejected = serializers.IntegerField()
    errors = serializers.ListField(child=serializers.DictField(), help_text="line, field, reason, value")
    notes = serializers.ListField(child=serializers.DictField(), help_text="rows imported, manager not invited")


class StructureImportApi(ScopedAPIView):
    """Import branches from a CSV file (multipart, field ``file``; ``network``: the network's slug
    when the caller manages several). Runs in the request; answers the report — 400 with it when
    no row could be imported."""

    parser_classes = [MultiPartParser]

    class StructureImportInputSerializer(serializers.Serializer):
        network = serializers.SlugField(max_length=50, required=False)
        file = serializers.FileField()

    @extend_schema(request=StructureImportInputSerializer, responses={200: StructureImportReportSerializer})
    def post(self, request):
        data = self.StructureImportInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        head_offices = head_offices_managed_by(request.user)
        if not head_offices.exists():
            if structure_nodes_visible_to(request.user).exists():
                raise PermissionDenied(_("Only head office changes the network's structure; you may read it."))
            raise Http404
        if slug := data.validated_data.get("network"):
            head_offices = head_offices.filter(network__slug=slug)
        if head_offices.count() != 1:
            raise ValidationError({"network": [_("Give the slug of a network whose structure you manage.")]})
        try:
            with transaction.atomic():
                report = structure_import(actor=request.user, head_office=head_offices.get(),
                                          stream=data.validated_data["file"].open("rb"))
        except ImportFileError as error:
            raise ValidationError({"file": [str(error)]}) from None
        nothing = report["rows_total"] and not (report["branches_created"] or report["branches_updated"])
        return Response(report, status=status.HTTP_400_BAD_REQUEST if nothing else status.HTTP_200_OK)
