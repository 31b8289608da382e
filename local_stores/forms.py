from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from local_stores.line_breaks import LineBreaksFormMixin
from local_stores.models import Node

LOGO_MAX_BYTES = 2 * 1024 * 1024


def add_service_errors(form: forms.BaseForm, error: ValidationError) -> None:
    """A service's ValidationError beside each field it names (or at the top of the form)."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, messages in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages)


def style_fields(form: forms.BaseForm) -> forms.BaseForm:
    """Give every widget of ``form`` its Bootstrap class (pages of every app use it)."""
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.CheckboxInput):
            css = "form-check-input"
        elif isinstance(widget, forms.RadioSelect | forms.HiddenInput):
            continue
        elif isinstance(widget, forms.Select):
            css = "form-select"
        else:
            css = "form-control"
        existing = widget.attrs.get("class", "")
        widget.attrs["class"] = f"{css} {existing}".strip()
    return form
LOGO_MAX_SIDE = 2000


def _formfield(field: models.Field, **kwargs) -> forms.Field | None:
    if isinstance(field, models.URLField):
        kwargs["assume_scheme"] = "https"  # a link typed without a scheme is https
    return field.formfield(**kwargs)


class NodeProfileForm(LineBreaksFormMixin, forms.ModelForm):
    """Edits exactly the fields the user may change (given by ``node_editable_fields``)."""

    class Meta:
        model = Node
        formfield_callback = _formfield
        fields = [
            "name",
            "branch_type",
            "address_line1",
            "address_line2",
            "postal_code",
            "city",
            "is_active",
            "phone",
            "email",
            "opening_hours",
            "manager_signature",
            "website_url",
            "facebook_url",
            "instagram_url",
            "logo",
        ]
        widgets = {
            "opening_hours": forms.Textarea(attrs={"rows": 3}),
            "manager_signature": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, editable_fields: tuple[str, ...], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in list(self.fields):
            if name not in editable_fields:
                del self.fields[name]
        style_fields(self)

    def clean_logo(self):
        logo = self.cleaned_data.get("logo")
        if not logo or not hasattr(logo, "image"):
            return logo
        if logo.size > LOGO_MAX_BYTES:
            raise ValidationError(_("The logo must weigh 2 MB at most."))
        width, height = logo.image.size
        if max(width, height) > LOGO_MAX_SIDE:
            raise ValidationError(
                _("The logo must be at most %(side)d pixels wide and high.") % {"side": LOGO_MAX_SIDE}
            )
        if logo.image.format not in {"PNG", "JPEG", "WEBP"}:
            raise ValidationError(_("The logo must be a PNG, JPEG or WebP image."))
        return logo
