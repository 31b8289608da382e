from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from central.models import CustomerImport
from local_stores.models import Network


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
