from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from local_stores.forms import style_fields
from local_stores.line_breaks import LineBreaksFormMixin
from local_stores.models import Node

#: The node's address and contact fields the structure's forms set (``local_stores.structure``).
DETAIL_FIELDS = ["address_line1", "address_line2", "postal_code", "city", "country", "email", "phone",
                 "opening_hours"]


class NodeDetailsForm(LineBreaksFormMixin, forms.ModelForm):
    """A node's name, address and contact details (validated as the model does; saved by the
    services, never by ``save()``)."""

    class Meta:
        model = Node
        fields = ["name", *DETAIL_FIELDS]
        widgets = {"opening_hours": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        style_fields(self)

    def details(self) -> dict[str, object]:
        return {name: self.cleaned_data[name] for name in DETAIL_FIELDS}


class NodeCreateForm(NodeDetailsForm):
    parent = forms.ModelChoiceField(queryset=Node.objects.none(), label=_("Under"), empty_label=None,
                                    to_field_name="public_id")

    class Meta(NodeDetailsForm.Meta):
        fields = ["parent", "code", "name", *DETAIL_FIELDS]

    def __init__(self, *args, parents, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["parent"].queryset = parents
        self.fields["parent"].label_from_instance = lambda node: node.name
        style_fields(self)

    def validate_unique(self) -> None:
        """The code's uniqueness in the network is the service's check (the form has no network)."""


class NodeMoveForm(forms.Form):
    parent = forms.ModelChoiceField(queryset=Node.objects.none(), label=_("New region"),
                                    empty_label=_("Choose a region"), to_field_name="public_id")

    def __init__(self, *args, regions, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["parent"].queryset = regions
        self.fields["parent"].label_from_instance = lambda node: node.name
        style_fields(self)


class StructureImportForm(forms.Form):
    head_office = forms.ModelChoiceField(queryset=Node.objects.none(), label=_("Network"), empty_label=None,
                                         to_field_name="public_id")
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_("UTF-8, comma or semicolon separated, one branch per line; the first line names the columns."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def __init__(self, *args, head_offices, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["head_office"].queryset = head_offices
        self.fields["head_office"].label_from_instance = lambda node: node.network.name
        if head_offices.count() == 1:
            self.fields["head_office"].widget = forms.HiddenInput()
            self.fields["head_office"].initial = head_offices.first()
        style_fields(self)

    def clean_file(self):
        uploaded = self.cleaned_data["file"]
        if uploaded.size > settings.RELAIS_IMPORT_MAX_BYTES:
            raise forms.ValidationError(_("The file is too large."))
        return uploaded
