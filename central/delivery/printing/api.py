"""REST API of the print runs: a campaign's print files and hand-offs with their status, the PDF
and manifest downloads, head office's retry, and the network's printer settings.

Thin: reads through the scoped selectors of central/delivery/printing/services.py (foreign and missing: 404), writes
through its services (ValidationError → 400 by field, PermissionDenied → 403). The printer's
secrets are write-only: the answers say whether one is stored, never what it is."""

from __future__ import annotations

from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response

from central.delivery.printing.selectors import (
    networks_printing_managed_by,
    print_campaigns_visible_to,
    print_file_get,
    print_handoff_get,
    printer_settings_of,
)
from central.delivery.printing.services import (
    PrinterSecrets,
    print_handoff_retry,
    printer_settings_save,
)
from central.delivery.printing.views import file_response, print_file_name
from central.models import PrinterSettings, PrintFile, PrintHandoff
from local_stores.api_base import ScopedAPIView


class _FileNegotiation(BaseContentNegotiation):
    """The file routes answer their own content type whatever the client accepts; errors stay JSON."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class PrintFileOutputSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    kind_label = serializers.CharField(source="get_kind_display")
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = PrintFile
        fields = ["id", "kind", "kind_label", "pages", "recipients", "created_at", "download_url"]

    def get_download_url(self, record: PrintFile) -> str:
        return reverse("api-print-file", args=[record.public_id])


class PrintHandoffOutputSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    print_file = serializers.CharField(source="print_file.public_id")
    status_label = serializers.CharField(source="get_status_display")
    manifest_url = serializers.SerializerMethodField()

    class Meta:
        model = PrintHandoff
        fields = ["id", "print_file", "status", "status_label", "reason", "attempts", "method", "pieces", "pages",
                  "pdf_sha256", "bat_number", "bat_sha256", "manifest_sha256", "prepared_at", "last_attempt_at",
                  "delivered_at", "manifest_url"]

    def get_manifest_url(self, handoff: PrintHandoff) -> str:
        return reverse("api-print-manifest", args=[handoff.public_id])


class CampaignPrintOutputSerializer(serializers.Serializer):
    files = PrintFileOutputSerializer(many=True)
    handoffs = PrintHandoffOutputSerializer(many=True)


class CampaignPrintApi(ScopedAPIView):
    """A campaign's print runs: its PDFs and their hand-offs to the printer (prepared, delivered, or
    failed with the reason). For who sees the campaign's customers; 404 for anyone else."""

    @extend_schema(responses={200: CampaignPrintOutputSerializer})
    def get(self, request: Request, public_id: str) -> Response:
        campaign = get_object_or_404(print_campaigns_visible_to(request.user), public_id=public_id)
        files = PrintFile.objects.filter(campaign=campaign).order_by("kind", "created_at", "id")
        handoffs = PrintHandoff.objects.filter(campaign=campaign).select_related("print_file")
        return Response(CampaignPrintOutputSerializer({"files": files, "handoffs": handoffs}).data)


class PrintFileApi(ScopedAPIView):
    """A print run's PDF (the mail merge, or the store's flyer), as an attachment."""

    content_negotiation_class = _FileNegotiation

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY,
                              404: OpenApiResponse(description="No such print file.")})
    def get(self, request: Request, public_id: str) -> FileResponse:
        record = print_file_get(fetched_by=request.user, public_id=public_id)
        return file_response(record.file, print_file_name(record), "application/pdf")


class PrintManifestApi(ScopedAPIView):
    """A hand-off's CSV manifest: one line per piece, sorted by postal code, with page ranges,
    counts and the SHA-256 of the PDF and of the approved BAT."""

    content_negotiation_class = _FileNegotiation

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.BINARY,
                              404: OpenApiResponse(description="No such print run.")})
    def get(self, request: Request, public_id: str) -> FileResponse:
        handoff = print_handoff_get(fetched_by=request.user, public_id=public_id)
        return file_response(handoff.manifest, handoff.manifest.name.rsplit("/", 1)[-1], "text/csv; charset=utf-8")


class PrintRetryApi(ScopedAPIView):
    """Head office hands a print run to the printer again (queued; its status tells the outcome)."""

    service_error_field = "status"  # the run's state refuses it

    @extend_schema(request=None, responses={200: PrintHandoffOutputSerializer})
    def post(self, request: Request, public_id: str) -> Response:
        handoff = print_handoff_get(fetched_by=request.user, public_id=public_id)
        print_handoff_retry(handoff=handoff, retried_by=request.user)
        handoff = PrintHandoff.objects.select_related("print_file").get(pk=handoff.pk)
        return Response(PrintHandoffOutputSerializer(handoff).data)


class PrinterSettingsSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=PrinterSettings.Method.choices)
    host = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    port = serializers.IntegerField(min_value=1, max_value=65535, required=False, default=22)
    username = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    remote_directory = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    host_key_fingerprint = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    password = serializers.CharField(max_length=200, required=False, allow_blank=True, default="", write_only=True)
    private_key = serializers.CharField(max_length=20000, required=False, allow_blank=True, default="",
                                        write_only=True)
    clear_password = serializers.BooleanField(required=False, default=False, write_only=True)
    clear_private_key = serializers.BooleanField(required=False, default=False, write_only=True)
    has_password = serializers.SerializerMethodField()
    has_private_key = serializers.SerializerMethodField()

    def get_has_password(self, printer: PrinterSettings) -> bool:
        return bool(printer.password_encrypted)

    def get_has_private_key(self, printer: PrinterSettings) -> bool:
        return bool(printer.private_key_encrypted)


class PrinterSettingsApi(ScopedAPIView):
    """The network's printer (head office): how print runs reach it. PATCH sends the fields to change;
    the secrets are write-only (kept when not sent)."""

    def _network(self, request: Request, slug: str):
        return get_object_or_404(networks_printing_managed_by(request.user), slug=slug)

    @extend_schema(responses={200: PrinterSettingsSerializer})
    def get(self, request: Request, slug: str) -> Response:
        return Response(PrinterSettingsSerializer(printer_settings_of(self._network(request, slug))).data)

    @extend_schema(request=PrinterSettingsSerializer, responses={200: PrinterSettingsSerializer})
    def patch(self, request: Request, slug: str) -> Response:
        network = self._network(request, slug)
        printer = printer_settings_of(network)
        current = {"method": printer.method, "host": printer.host, "port": printer.port,
                   "username": printer.username, "remote_directory": printer.remote_directory,
                   "host_key_fingerprint": printer.host_key_fingerprint, "email": printer.email}
        serializer = PrinterSettingsSerializer(data={**current, **(request.data if isinstance(request.data, dict)
                                                                   else {})})
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        secrets = PrinterSecrets(password=data.pop("password"), private_key=data.pop("private_key").strip(),
                                 clear_password=data.pop("clear_password"),
                                 clear_private_key=data.pop("clear_private_key"))
        printer = printer_settings_save(network=network, saved_by=request.user, secrets=secrets, **data)
        return Response(PrinterSettingsSerializer(printer).data)
