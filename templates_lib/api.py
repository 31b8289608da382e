"""REST API of the template library, scoped like the pages. One class per operation."""

from __future__ import annotations

import base64

from django.http import Http404, HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from config.parsers import MultiPartParser
from local_stores.api_base import ScopedAPIView, ScopedListAPIView, ScopedRetrieveAPIView
from local_stores.selectors import branches_visible_to
from templates_lib import previews, rendering, services
from templates_lib.models import Asset, PrintFormat, Template, TemplateKind, TemplateVersion
from templates_lib.selectors import (
    asset_get,
    asset_list,
    networks_managed_by,
    template_get,
    template_is_managed_by,
    template_list,
    version_get,
    versions_visible_to,
)


class VersionOutputSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")

    class Meta:
        model = TemplateVersion
        fields = ["id", "number", "status", "subject", "preheader", "body", "css", "print_format", "slots",
                  "content_hash", "created_at", "published_at"]


class TemplateOutputSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    network = serializers.CharField(source="network.slug")
    versions = serializers.SerializerMethodField()

    class Meta:
        model = Template
        fields = ["id", "network", "kind", "name", "description", "is_archived", "created_at", "versions"]

    def get_versions(self, template: Template) -> list[dict]:
        request = self.context["request"]
        return VersionOutputSerializer(versions_visible_to(request.user, template), many=True).data


class TemplateListApi(ScopedListAPIView):
    """Templates the caller may see: all of their network's for head office, the published and
    live ones for everyone else. Filters: ``q``, ``kind``, ``archived``."""

    serializer_class = TemplateOutputSerializer
    filter_backends: list = []
    scoping_selector = template_list

    class TemplateListFilterSerializer(serializers.Serializer):
        q = serializers.CharField(required=False, allow_blank=True, max_length=100)
        kind = serializers.ChoiceField(choices=TemplateKind.choices, required=False)
        archived = serializers.BooleanField(required=False, default=False)

    @extend_schema(parameters=[TemplateListFilterSerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def scoping_arguments(self) -> dict:
        filters = self.TemplateListFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        return {"search": data.get("q", ""), "kind": data.get("kind", ""), "archived": data.get("archived", False)}


class TemplateCreateApi(ScopedAPIView):
    """Create a template (head office): it starts with a draft version 1 to edit."""

    class TemplateCreateInputSerializer(serializers.Serializer):
        network = serializers.SlugField(max_length=50)
        kind = serializers.ChoiceField(choices=TemplateKind.choices)
        name = serializers.CharField(max_length=120)
        description = serializers.CharField(required=False, allow_blank=True, default="")

    @extend_schema(request=TemplateCreateInputSerializer, responses={201: TemplateOutputSerializer})
    def post(self, request):
        data = self.TemplateCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        network = networks_managed_by(request.user).filter(slug=data.validated_data["network"]).first()
        if network is None:
            raise ValidationError({"network": ["You manage no network with this slug."]})
        template = services.template_create(
            network=network, kind=data.validated_data["kind"], name=data.validated_data["name"],
            description=data.validated_data["description"], created_by=request.user,
        )
        return Response(TemplateOutputSerializer(template, context={"request": request}).data, status=status.HTTP_201_CREATED)


class TemplateDetailApi(ScopedRetrieveAPIView):
    """One template with the versions the caller may see; 404 if missing or not visible."""

    serializer_class = TemplateOutputSerializer

    def get_object(self):
        return template_get(fetched_by=self.request.user, public_id=self.kwargs["public_id"])


def _managed_version(request, public_id: str) -> TemplateVersion:
    version = version_get(fetched_by=request.user, public_id=public_id)
    if not template_is_managed_by(request.user, version.template):
        raise Http404
    return version


class DraftUpdateApi(ScopedAPIView):
    """Change a draft (head office). Every problem comes back by field, with line numbers; a
    published version answers 400: it never changes."""

    class DraftUpdateInputSerializer(serializers.Serializer):
        subject = serializers.CharField(required=False, allow_blank=True, max_length=200)
        preheader = serializers.CharField(required=False, allow_blank=True, max_length=200)
        body = serializers.CharField(required=False, max_length=rendering.SOURCE_MAX_CHARS)
        css = serializers.CharField(required=False, allow_blank=True, max_length=rendering.SOURCE_MAX_CHARS)
        # one of the formats, or blank (an e-mail or an SMS has none): a free string used to be
        # saved as it came on e-mail and SMS drafts (only print ones were checked)
        print_format = serializers.ChoiceField(choices=PrintFormat.choices, required=False, allow_blank=True)
        slots = serializers.ListField(child=serializers.DictField(), required=False, max_length=30)

    @extend_schema(request=DraftUpdateInputSerializer, responses={200: VersionOutputSerializer})
    def patch(self, request, public_id: str):
        version = _managed_version(request, public_id)
        data = self.DraftUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = services.draft_update(version=version, edited_by=request.user, **data.validated_data)
        return Response(VersionOutputSerializer(version).data)


class VersionPublishApi(ScopedAPIView):
    """Publish a draft (head office): from then on it never changes."""

    service_refusal_answers_404 = True  # who may not do it learns nothing more

    @extend_schema(request=None, responses={200: VersionOutputSerializer})
    def post(self, request, public_id: str):
        version = _managed_version(request, public_id)
        version = services.version_publish(version=version, published_by=request.user)
        return Response(VersionOutputSerializer(version).data)


class VersionPreviewApi(ScopedAPIView):
    """Render a visible version with slot values (checked against the slot types and the
    network's rules) and the caller's branch details. E-mail: subject, HTML and text; SMS: text
    and segment count; print: the PDF, base64-encoded."""

    class VersionPreviewInputSerializer(serializers.Serializer):
        slot_values = serializers.DictField(required=False, default=dict)

    @extend_schema(request=VersionPreviewInputSerializer, responses={200: OpenApiResponse(description="the rendered preview")})
    def post(self, request, public_id: str):

        version = version_get(fetched_by=request.user, public_id=public_id)
        data = self.VersionPreviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = services.slot_values_clean(version=version, values=data.validated_data["slot_values"])
        branch = branches_visible_to(request.user).filter(network=version.template.network).order_by("name").first()
        try:
            output = previews.render_for_kind(version, rendering.VariantContext(slot_values=values, branch=branch))
        except rendering.RenderError as error:
            raise ValidationError({"non_field_errors": [str(error)]}) from error
        kind = version.template.kind
        if kind == TemplateKind.EMAIL:
            return Response({"kind": kind, "subject": output.subject, "html": output.html, "text": output.text})
        if kind == TemplateKind.SMS:
            count = rendering.sms_count(output)
            return Response({"kind": kind, "text": output, "encoding": count.encoding, "characters": count.units,
                             "segments": count.segments})
        if request.query_params.get("format") == "pdf":
            return HttpResponse(output, content_type="application/pdf")
        return Response({"kind": kind, "pdf_base64": base64.b64encode(output).decode()})


class AssetOutputSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    network = serializers.CharField(source="network.slug")
    url = serializers.SerializerMethodField()
    tags = serializers.ListField(source="tag_list", child=serializers.CharField())

    class Meta:
        model = Asset
        fields = ["id", "network", "name", "url", "width", "height", "content_type", "size", "tags", "created_at"]

    def get_url(self, asset: Asset) -> str:
        return rendering.asset_public_url(asset)


class AssetListApi(ScopedListAPIView):
    """Images of the libraries the caller may use. Filters: ``q``, ``tag``."""

    serializer_class = AssetOutputSerializer
    filter_backends: list = []

    scoping_selector = asset_list

    def scoping_arguments(self) -> dict:
        return {"search": self.request.query_params.get("q", "")[:100],
                "tag": self.request.query_params.get("tag", "")[:30]}


class AssetUploadApi(ScopedAPIView):
    """Add an image to a network's library (head office; multipart: network, file, name, tags)."""

    parser_classes = [MultiPartParser]

    class AssetUploadInputSerializer(serializers.Serializer):
        network = serializers.SlugField(max_length=50)
        file = serializers.FileField()
        name = serializers.CharField(required=False, allow_blank=True, max_length=120, default="")
        tags = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")

    @extend_schema(request=AssetUploadInputSerializer, responses={201: AssetOutputSerializer})
    def post(self, request):
        data = self.AssetUploadInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        network = networks_managed_by(request.user).filter(slug=data.validated_data["network"]).first()
        if network is None:
            raise ValidationError({"network": ["You manage no network with this slug."]})
        asset = services.asset_upload(network=network, uploaded_file=data.validated_data["file"],
                                      name=data.validated_data["name"], tags=data.validated_data["tags"],
                                      uploaded_by=request.user)
        return Response(AssetOutputSerializer(asset).data, status=status.HTTP_201_CREATED)


class TemplateArchiveApi(ScopedAPIView):
    """Archive (``{"archived": true}``) or restore a template (head office)."""

    service_refusal_answers_404 = True  # who may not do it learns nothing more

    class ArchiveInputSerializer(serializers.Serializer):
        archived = serializers.BooleanField()

    @extend_schema(request=ArchiveInputSerializer, responses={200: TemplateOutputSerializer})
    def post(self, request, public_id: str):
        template = template_get(fetched_by=request.user, public_id=public_id)
        data = self.ArchiveInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.template_set_archived(template=template, archived=data.validated_data["archived"], changed_by=request.user)
        return Response(TemplateOutputSerializer(template, context={"request": request}).data)


class VersionCheckApi(ScopedAPIView):
    """Check a version without changing it: every problem by field, with line numbers (an empty
    object when it is sound)."""

    @extend_schema(request=None, responses={200: OpenApiResponse(description="problems by field")})
    def post(self, request, public_id: str):
        return Response(services.version_check(_managed_version(request, public_id)))


class AssetArchiveApi(ScopedAPIView):
    """Archive an image of the library (head office): it is no longer offered in image slots."""

    service_refusal_answers_404 = True  # who may not do it learns nothing more

    @extend_schema(request=None, responses={200: AssetOutputSerializer})
    def post(self, request, public_id: str):

        asset = asset_get(fetched_by=request.user, public_id=public_id)
        services.asset_set_archived(asset=asset, archived=True, changed_by=request.user)
        return Response(AssetOutputSerializer(asset).data)
