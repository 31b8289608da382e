from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from central.channels import registry as channels
from central.customers.columns import COLUMNS
from central.models import Channel, Civility, ConsentStatus, CustomerImport
from local_stores.forms import style_fields
from local_stores.line_breaks import LineBreaksFormMixin
from local_stores.models import Network
from local_stores.widgets import DateInput


class CustomerImportForm(forms.Form):
    network = forms.ModelChoiceField(queryset=Network.objects.none(), label=_("Network"), empty_label=None)
    kind = forms.ChoiceField(choices=CustomerImport.Kind.choices, initial=CustomerImport.Kind.CUSTOMERS,
                             widget=forms.RadioSelect, label=_("The file holds"), required=False)
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "UTF-8, comma or semicolon separated, one customer or one purchase per line; the first line names "
            "the columns."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
    encoding = forms.ChoiceField(
        label=_("File encoding"), required=False, initial="",
        choices=[("", _("Detect")), ("utf-8", "UTF-8"), ("cp1252", "Windows-1252"), ("iso8859_15", "ISO-8859-15")],
        help_text=_("Excel's “CSV (separator: semicolon)” is Windows-1252; “CSV UTF-8” is UTF-8."),
    )

    def __init__(self, *args, networks, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["network"].queryset = networks
        if networks.count() == 1:
            self.fields["network"].widget = forms.HiddenInput()
            self.fields["network"].initial = networks.first()

    def clean_kind(self) -> str:
        return self.cleaned_data.get("kind") or CustomerImport.Kind.CUSTOMERS

    def clean_file(self):
        uploaded = self.cleaned_data["file"]
        if uploaded.size > settings.RELAIS_IMPORT_MAX_BYTES:
            raise forms.ValidationError(_("The file is too large."))
        return uploaded


#: The Relais columns as people read them, in the mapping step's lists.
_COLUMN_LABELS = {
    "external_id": _("CRM id"), "branch_code": _("Branch code"), "civility": _("Civility"),
    "first_name": _("First name"), "last_name": _("Last name"), "email": _("E-mail"), "mobile": _("Mobile"),
    "address_line1": _("Address"), "postal_code": _("Postal code"), "city": _("City"), "country": _("Country"),
    "segment": _("Segment"), "rfm_recency": _("RFM recency"), "rfm_frequency": _("RFM frequency"),
    "rfm_monetary": _("RFM monetary value"), "interests": _("Interests"),
    "last_purchase_date": _("Last purchase date"), "lifetime_value": _("Lifetime value"),
    "preferred_channel": _("Preferred channel"), "consent_source": _("Consent source"),
    "objection": _("Objection"), "objection_date": _("Objection date"),
}


def column_label(name: str) -> str:
    """A Relais column's label in the reader's language (a consent column's with its channel)."""
    if name in _COLUMN_LABELS:
        return str(_COLUMN_LABELS[name])
    labels = dict(Channel.choices)
    for code in channels.codes():
        if name == f"consent_{code}":
            return str(_("Consent: %(channel)s") % {"channel": labels.get(code, code)})
        if name == f"consent_{code}_date":
            return str(_("Consent date: %(channel)s") % {"channel": labels.get(code, code)})
    return name


class ColumnMappingForm(forms.Form):
    """The mapping step: a list per file column Relais does not know (labelled with the file's
    header: Relais columns' labels and "Ignore this column"), and whether to save the mapping."""

    save_mapping = forms.BooleanField(label=_("Save this mapping for next time"), required=False, initial=True)
    mapping_name = forms.CharField(label=_("Name of the mapping"), required=False, max_length=90,
                                   help_text=_("Optional; the API and the command may use it."))

    def __init__(self, *args, unknown: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", _("Choose…")), *((name, column_label(name)) for name in COLUMNS),
                   ("ignore", _("Ignore this column"))]
        self.unknown = unknown
        for index, header in enumerate(unknown):
            self.fields[f"column_{index}"] = forms.ChoiceField(label=header, choices=choices, required=True)

    def column_fields(self):
        return [self[f"column_{index}"] for index in range(len(self.unknown))]

    def clean(self):
        cleaned = super().clean()
        chosen: dict[str, str] = {}
        for index, header in enumerate(self.unknown):
            target = cleaned.get(f"column_{index}")
            if target and target != "ignore" and target in chosen.values():
                self.add_error(f"column_{index}", _("Another column of the file is already read as this one."))
            elif target:
                chosen[header] = target
        cleaned["mapping"] = chosen
        return cleaned


class CustomerForm(LineBreaksFormMixin, forms.Form):
    """A customer typed in by hand. Only the shape of the fields here: every value is checked by the
    service with the import's own checks (``central.customers.checks``), whose messages come back
    beside the fields. The consent of each channel: its status, the day it was given or refused, and
    where it comes from (required when the status changes)."""

    branch = forms.CharField(label=_("Branch"), required=False, widget=forms.Select)
    form_token = forms.CharField(widget=forms.HiddenInput, required=False)
    external_id = forms.CharField(label=_("CRM id"), required=False,
                                  help_text=_("Leave empty for a customer who is not in the CRM yet."))
    # Choices shown as lists, checked by the service (the import's words for a value not in the list)
    civility = forms.CharField(label=_("Civility"), required=False, widget=forms.Select(choices=Civility.choices))
    first_name = forms.CharField(label=_("First name"), required=False)
    last_name = forms.CharField(label=_("Last name"), required=False)
    email = forms.CharField(label=_("E-mail"), required=False, widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    mobile = forms.CharField(label=_("Mobile"), required=False, widget=forms.TextInput(attrs={"inputmode": "tel"}),
                             help_text=_("An e-mail address or a mobile number is required."))
    address_line1 = forms.CharField(label=_("Address"), required=False)
    postal_code = forms.CharField(label=_("Postal code"), required=False)
    city = forms.CharField(label=_("City"), required=False)
    country = forms.CharField(label=_("Country"), required=False, help_text=_("Two letters, such as FR."))
    segment = forms.CharField(label=_("Segment"), required=False)
    interests = forms.CharField(label=_("Interests"), required=False, help_text=_("Separated by commas."))
    preferred_channel = forms.CharField(label=_("Preferred channel"), required=False,
                                        widget=forms.Select(choices=[("", "—"), *Channel.choices]))

    def __init__(self, *args, branches, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if branches is None or len(branches) <= 1:
            del self.fields["branch"]
        else:
            self.fields["branch"].widget.choices = [("", "—"),
                                                    *((branch.public_id, branch.name) for branch in branches)]
        for spec in channels.all():
            name = spec.consent_field
            channel = {"channel": spec.label}
            self.fields[name] = forms.CharField(label=_("Consent: %(channel)s") % channel, required=False,
                                                initial=ConsentStatus.UNKNOWN,
                                                widget=forms.Select(choices=ConsentStatus.choices))
            self.fields[f"{name}_at"] = forms.CharField(label=_("Given or refused on (%(channel)s)") % channel,
                                                        required=False, widget=DateInput())
            self.fields[f"{name}_source"] = forms.CharField(
                label=_("Source (%(channel)s)") % channel, required=False,
                widget=forms.TextInput(attrs={"list": "consent-sources"}))
        style_fields(self)

    def consent_rows(self):
        """(channel label, status field, date field, source field) of each channel, for the page."""
        return [(spec.label, self[spec.consent_field], self[f"{spec.consent_field}_at"],
                 self[f"{spec.consent_field}_source"]) for spec in channels.all()]

    def profile_fields(self):
        return [self[name] for name in self.fields if name != "branch" and not name.startswith("consent_")
                and name != "form_token"]
