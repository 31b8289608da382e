"""The form of the network's printer settings (head office). The secrets are write-only: the
form shows whether one is stored, never its value."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from central.delivery.printing.services import PrinterSecrets
from central.models import PrinterSettings
from local_stores.forms import add_service_errors
from local_stores.line_breaks import LineBreaksFormMixin


class PrinterSettingsForm(LineBreaksFormMixin, forms.Form):
    method = forms.ChoiceField(label=_("How print runs reach the printer"), choices=PrinterSettings.Method.choices,
                               widget=forms.RadioSelect)
    host = forms.CharField(label=_("SFTP host"), max_length=255, required=False)
    port = forms.IntegerField(label=_("SFTP port"), min_value=1, max_value=65535, initial=22)
    username = forms.CharField(label=_("SFTP user name"), max_length=150, required=False)
    password = forms.CharField(label=_("SFTP password"), required=False, max_length=200,
                               widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}))
    clear_password = forms.BooleanField(label=_("Remove the stored password"), required=False)
    private_key = forms.CharField(label=_("SFTP private key"), required=False, max_length=20000,
                                  widget=forms.Textarea(attrs={"rows": 4, "autocomplete": "off", "spellcheck": "false"}))
    clear_private_key = forms.BooleanField(label=_("Remove the stored private key"), required=False)
    remote_directory = forms.CharField(label=_("Remote directory"), max_length=255, required=False)
    host_key_fingerprint = forms.CharField(
        label=_("Host key fingerprint"), max_length=100, required=False,
        help_text=_("The server's SHA-256 fingerprint, as “ssh-keygen -lf” shows it: SHA256:…"))
    email = forms.EmailField(label=_("Printer's e-mail address"), required=False)

    def __init__(self, data=None, *, printer: PrinterSettings) -> None:
        super().__init__(data, initial={
            "method": printer.method, "host": printer.host, "port": printer.port, "username": printer.username,
            "remote_directory": printer.remote_directory, "host_key_fingerprint": printer.host_key_fingerprint,
            "email": printer.email,
        })
        if printer.password_encrypted:
            self.fields["password"].help_text = _("A password is stored: leave empty to keep it.")
        if printer.private_key_encrypted:
            self.fields["private_key"].help_text = _("A private key is stored: leave empty to keep it.")
        for field in self.fields.values():
            if isinstance(field.widget, forms.CheckboxInput):
                field.widget.attrs.setdefault("class", "form-check-input")
            elif not isinstance(field.widget, forms.RadioSelect):
                field.widget.attrs.setdefault("class", "form-control")

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "method": data["method"], "host": data["host"], "port": data["port"], "username": data["username"],
            "remote_directory": data["remote_directory"], "host_key_fingerprint": data["host_key_fingerprint"],
            "email": data["email"],
            "secrets": PrinterSecrets(password=data["password"], private_key=data["private_key"].strip(),
                                      clear_password=data["clear_password"],
                                      clear_private_key=data["clear_private_key"]),
        }

    def add_service_errors(self, error: ValidationError) -> None:
        add_service_errors(self, error)
