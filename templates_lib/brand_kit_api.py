"""REST API of the brand kit (issue 20): head office template managers of a network read and change
its kit; anyone else gets 404, like an unknown network. A write goes through
``brand_kit_services.kit_update``: the page's checks field by field, and the templates built on the
previous kit get new drafts (published versions never change); the answer says how many.

A person reads the answer: the logo is the asset's public id and its name, the uploaded font its
name and the URL of its ``@font-face`` stylesheet. A write names them the same way (the logo by
``{"id": ...}``, the font by ``{"name": ...}``, ``null`` for none; of two fonts of the same name,
the one uploaded last). Uploading a font stays on the page (multipart, read with fontTools).
"""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from local_stores.api_base import ScopedAPIView
from local_stores.models import Network
from templates_lib import brand_kit_services
from templates_lib.brand_kit import BrandKit, FontFile
from templates_lib.models import Asset
from templates_lib.selectors import networks_managed_by

#: bounds on what a request may carry; the service says what is wrong within them
_VALUE_MAX = 20
_FOOTER_MAX = 4 * brand_kit_services.FOOTER_MAX_CHARS


def _managed_network(user, slug: str) -> Network:
    """The network ``slug`` if ``user`` manages its templates; Http404 otherwise (foreign and
    unknown alike)."""
    network = networks_managed_by(user).filter(slug=slug).first()
    if network is None:
        raise Http404
    return network


def _kit_of(network: Network) -> BrandKit | None:
    return BrandKit.objects.filter(network=network).select_related("network", "font_file", "logo").first()


class BrandKitLogoSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id", max_length=24, help_text="The public id of an image of the network's library.")
    name = serializers.CharField(read_only=True)


class BrandKitFontSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=60, help_text="The name of a font uploaded for the network.")
    stylesheet_url = serializers.CharField(read_only=True,
                                           help_text="Its @font-face stylesheet, which the e-mails reference.")


class BrandKitOutputSerializer(serializers.Serializer):
    network = serializers.CharField(source="network.slug")
    primary_color = serializers.CharField()
    accent_color = serializers.CharField()
    background_color = serializers.CharField()
    text_color = serializers.CharField()
    font_stack = serializers.CharField(help_text="The web-safe font stack.")
    font_file = BrandKitFontSerializer(allow_null=True, help_text="The uploaded font, or null.")
    font_family = serializers.CharField(help_text="The CSS font-family the e-mails use (the uploaded font first).")
    logo = BrandKitLogoSerializer(allow_null=True, help_text="The logo, or null.")
    button_background = serializers.CharField()
    button_color = serializers.CharField()
    button_radius = serializers.CharField()
    footer_html = serializers.CharField(help_text="The footer with the legal mentions (sanitised HTML).")
    updated_at = serializers.DateTimeField(allow_null=True, help_text="Null while the network has no kit yet.")


class BrandKitSavedSerializer(BrandKitOutputSerializer):
    drafts_made = serializers.IntegerField(help_text="How many templates got a new draft with the new kit.")
    templates_with_new_draft = serializers.ListField(child=serializers.CharField(), help_text="Their names.")
    templates_skipped = serializers.ListField(
        child=serializers.CharField(), help_text="Templates whose draft could not take the kit (their draft has errors).")
    message = serializers.CharField()


class BrandKitInputSerializer(serializers.Serializer):
    primary_color = serializers.CharField(max_length=_VALUE_MAX, allow_blank=True, help_text="e.g. #6b1d2a")
    accent_color = serializers.CharField(max_length=_VALUE_MAX, allow_blank=True)
    background_color = serializers.CharField(max_length=_VALUE_MAX, allow_blank=True)
    text_color = serializers.CharField(max_length=_VALUE_MAX, allow_blank=True)
    font_stack = serializers.CharField(max_length=200, allow_blank=True, help_text="One of the web-safe stacks.")
    font_file = BrandKitFontSerializer(allow_null=True, required=False,
                                       help_text="An uploaded font by its name, or null (PUT: null when left out).")
    logo = BrandKitLogoSerializer(allow_null=True, required=False,
                                  help_text="A library image by its id, or null (PUT: null when left out).")
    button_background = serializers.CharField(max_length=_VALUE_MAX, allow_blank=True)
    button_color = serializers.CharField(max_length=_VALUE_MAX, allow_blank=True)
    button_radius = serializers.CharField(max_length=_VALUE_MAX, allow_blank=True, help_text="0 to 40 px, e.g. 4px")
    footer_html = serializers.CharField(max_length=_FOOTER_MAX, allow_blank=True, trim_whitespace=False,
                                        help_text="Must keep {{ system.unsubscribe_url }}; line ends are normalised.")


def _kit_fields(network: Network, validated: dict, *, partial: bool) -> dict[str, object]:
    """The service's fields from the request's: the logo and the font looked up in the network only
    (one of another network, or none, is passed on as it came: the service refuses it by field)."""
    fields = dict(validated)
    if not partial:
        fields.setdefault("font_file", None)
        fields.setdefault("logo", None)
    if fields.get("logo") is not None:
        public_id = fields["logo"]["public_id"]
        fields["logo"] = Asset.objects.filter(network=network, public_id=public_id).first() or public_id
    if fields.get("font_file") is not None:
        name = " ".join(fields["font_file"]["name"].split())
        font = FontFile.objects.filter(network=network, name=name).order_by("-created_at", "-pk").first()
        fields["font_file"] = font or name
    return fields


class BrandKitApi(ScopedAPIView):
    """The brand kit of a network whose templates the caller manages (head office; 404 for anyone
    else and for an unknown network). Without a kit yet, GET answers the defaults with an empty
    footer and ``updated_at`` null. PUT sets every field (a logo or font left out is removed);
    PATCH changes the fields given. Every problem comes back by field (400). The templates built
    on the previous kit get a new draft; published versions never change."""

    service_refusal_answers_404 = True  # like an unknown network

    @extend_schema(responses={200: BrandKitOutputSerializer})
    def get(self, request, slug: str):
        network = _managed_network(request.user, slug)
        kit = _kit_of(network) or BrandKit(network=network, footer_html="")
        return Response(BrandKitOutputSerializer(kit).data)

    @extend_schema(request=BrandKitInputSerializer, responses={200: BrandKitSavedSerializer})
    def put(self, request, slug: str):
        return self._save(request, slug, partial=False)

    @extend_schema(request=BrandKitInputSerializer, responses={200: BrandKitSavedSerializer})
    def patch(self, request, slug: str):
        return self._save(request, slug, partial=True)

    def _save(self, request, slug: str, *, partial: bool) -> Response:
        network = _managed_network(request.user, slug)
        data = BrandKitInputSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        fields = _kit_fields(network, data.validated_data, partial=partial)
        result = brand_kit_services.kit_update(network=network, edited_by=request.user, **fields)
        answer = dict(BrandKitOutputSerializer(_kit_of(network)).data)
        answer.update(drafts_made=len(result.drafts),
                      templates_with_new_draft=[template.name for template in result.drafts],
                      templates_skipped=[template.name for template in result.skipped],
                      message=result.message)
        return Response(answer)
