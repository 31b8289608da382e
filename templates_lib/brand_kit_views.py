"""The brand kit page (issue 20): head office sets its network's colours, font, logo, button style
and footer; saving a changed kit reports how many templates got a new draft."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from templates_lib import brand_kit_services
from templates_lib.brand_kit import BrandKit, FontFile
from templates_lib.forms import StyledForm
from templates_lib.models import Asset
from templates_lib.selectors import networks_managed_by


class ColourInput(forms.TextInput):
    input_type = "color"

    def __init__(self) -> None:
        super().__init__(attrs={"class": "form-control-color", "data-kit-preview": "1"})


class BrandKitForm(StyledForm):
    primary_color = forms.CharField(label=_("Primary colour"), widget=ColourInput())
    accent_color = forms.CharField(label=_("Accent colour"), widget=ColourInput())
    background_color = forms.CharField(label=_("Background colour"), widget=ColourInput())
    text_color = forms.CharField(label=_("Text colour"), widget=ColourInput())
    font_stack = forms.ChoiceField(label=_("Font every mail client has"))
    font_file = forms.ModelChoiceField(queryset=FontFile.objects.none(), required=False, label=_("Uploaded font"),
                                       empty_label=_("None: the font above only"))
    font_upload = forms.FileField(required=False, label=_("Upload a font (WOFF2, WOFF or TTF, 2 MB at most)"),
                                  widget=forms.ClearableFileInput(attrs={"accept": ".woff2,.woff,.ttf"}))
    font_name = forms.CharField(required=False, max_length=60, label=_("Name of the uploaded font"))
    logo = forms.ModelChoiceField(queryset=Asset.objects.none(), required=False, label=_("Logo"),
                                  empty_label=_("No logo"), widget=forms.RadioSelect)
    button_background = forms.CharField(label=_("Button colour"), widget=ColourInput())
    button_color = forms.CharField(label=_("Button text colour"), widget=ColourInput())
    button_radius = forms.CharField(label=_("Button corner radius"), max_length=5,
                                    widget=forms.TextInput(attrs={"data-kit-preview": "1", "inputmode": "numeric"}))
    footer_html = forms.CharField(
        label=_("Footer with the legal mentions"), widget=forms.Textarea(attrs={"rows": 5, "data-kit-preview": "1"}),
        help_text=_("Company name, address, registration; must keep the link {{ system.unsubscribe_url }}. "
                    "Bold, italic and links only."))

    def __init__(self, *args, network, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["font_stack"].choices = [(stack, label) for label, stack in brand_kit_services.font_stacks()]
        self.fields["font_file"].queryset = FontFile.objects.filter(network=network)
        self.fields["logo"].queryset = Asset.objects.filter(network=network, is_archived=False).order_by("name")
        self.fields["logo"].label_from_instance = lambda asset: asset.name
        self.fields["font_stack"].widget.attrs["data-kit-preview"] = "1"


def _initial(kit: BrandKit | None) -> dict[str, object]:
    if kit is None:
        defaults = BrandKit()
        defaults.footer_html = ('<p>Société — adresse — RCS</p>\n'
                                '<p><a href="{{ system.unsubscribe_url }}">Se désinscrire</a></p>')
        kit = defaults
    return {name: getattr(kit, name) for name in brand_kit_services.KIT_FIELDS}


@login_required
@require_http_methods(["GET", "POST"])
def brand_kit_view(request: HttpRequest) -> HttpResponse:
    network = networks_managed_by(request.user).order_by("name").first()
    if network is None:
        raise Http404
    kit = BrandKit.objects.filter(network=network).select_related("font_file", "logo").first()
    form = BrandKitForm(request.POST or None, request.FILES or None, initial=_initial(kit), network=network)
    if request.method == "POST" and form.is_valid():
        fields = {name: value for name, value in form.cleaned_data.items() if name in brand_kit_services.KIT_FIELDS}
        try:
            with transaction.atomic():
                upload = form.cleaned_data.get("font_upload")
                if upload:
                    fields["font_file"] = brand_kit_services.font_upload(
                        network=network, uploaded_file=upload, name=form.cleaned_data.get("font_name") or "",
                        uploaded_by=request.user)
                result = brand_kit_services.kit_update(network=network, edited_by=request.user, **fields)
        except ValidationError as error:
            for field, field_errors in error.message_dict.items() if hasattr(error, "error_dict") else [
                    (None, error.messages)]:
                for message in field_errors:
                    form.add_error(field if field in form.fields else None, message)
        else:
            messages.success(request, result.message)
            return redirect("templates_lib:brand-kit")
    logos = [(choice, asset) for choice, asset in zip(form["logo"], [None, *form.fields["logo"].queryset],
                                                      strict=False)]
    return render(request, "templates_lib/brand_kit.html", {
        "form": form, "network": network, "kit": kit, "logos": logos,
    })
