"""The sending identity's forms (head office). Secrets are write-only: a password field never shows
what is stored, and an empty one keeps it."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from central.identity.providers import offered_esps
from central.identity.services import EDITABLE_FIELDS
from central.models import AWS_REGION_PATTERN, SECRET_FIELDS, SendingIdentity
from local_stores.forms import add_service_errors
from local_stores.line_breaks import LineBreaksFormMixin


def _secret(label):
    return forms.CharField(label=label, required=False, max_length=500, strip=True,
                           widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}))


class SendingIdentityForm(LineBreaksFormMixin, forms.Form):
    from_local_part = forms.CharField(label=_("From address (before the @)"), max_length=64, required=False)
    from_domain = forms.CharField(label=_("From domain"), max_length=253, required=False,
                                  help_text=_("A domain of the network's, with its SPF, DKIM and DMARC records."))
    from_name = forms.ChoiceField(label=_("Sender name"), choices=SendingIdentity.FromName.choices,
                                  widget=forms.RadioSelect)
    reply_to = forms.ChoiceField(label=_("Replies go to"), choices=SendingIdentity.ReplyTo.choices,
                                 widget=forms.RadioSelect)
    reply_to_address = forms.EmailField(label=_("Fixed Reply-To address"), required=False)
    email_method = forms.ChoiceField(label=_("E-mail sent through"), choices=SendingIdentity.EmailMethod.choices,
                                     widget=forms.RadioSelect)
    esp = forms.ChoiceField(label=_("E-mail service"), choices=(), required=False)
    esp_api_url = forms.URLField(label=_("E-mail service's API address"), max_length=255, required=False,
                                 assume_scheme="https",
                                 help_text=_("Empty: the service's default. Its EU region (Mailgun: "
                                             "https://api.eu.mailgun.net/v3, SparkPost: "
                                             "https://api.eu.sparkpost.com/api/v1/) or your own server "
                                             "(Postal, Unisender Go: required). Amazon SES: its endpoint, "
                                             "only if not the region's own."))
    esp_region = forms.RegexField(label=_("E-mail service's region (Amazon SES)"), regex=AWS_REGION_PATTERN,
                                  max_length=32, required=False,
                                  error_messages={"invalid": _("An AWS region name such as eu-west-3.")},
                                  help_text=_("The AWS region the account sends from, such as eu-west-3 (Paris)."))
    smtp_host = forms.CharField(label=_("SMTP host"), max_length=255, required=False)
    smtp_port = forms.IntegerField(label=_("SMTP port"), min_value=1, max_value=65535, initial=587)
    smtp_username = forms.CharField(label=_("SMTP user name"), max_length=255, required=False)
    smtp_security = forms.ChoiceField(label=_("SMTP security"), choices=SendingIdentity.Security.choices)
    email_secret = _secret(_("SMTP password or the e-mail service's API key (Amazon SES: access key ID)"))
    esp_secret_key = _secret(_("The e-mail service's secret key (Mailjet; Amazon SES: secret access key)"))
    webhook_secret = _secret(_("Tracking webhook secret"))
    webhook_signing_key = _secret(_("Tracking webhook signing key (Mailgun, MailerSend, Mandrill, Postal)"))
    sms_provider = forms.ChoiceField(label=_("SMS provider"), choices=SendingIdentity.SmsProvider.choices,
                                     widget=forms.RadioSelect)
    sms_account = forms.CharField(label=_("SMS account (Twilio account SID)"), max_length=64, required=False)
    sms_secret = _secret(_("SMS account's token"))
    sms_sender = forms.CharField(label=_("SMS sender"), max_length=11, required=False,
                                 help_text=_("At most 11 letters and digits, or a number."))

    def __init__(self, data=None, *, identity: SendingIdentity) -> None:
        super().__init__(data, initial={name: getattr(identity, name) for name in EDITABLE_FIELDS})
        self.fields["esp"].choices = [("", "—"), *offered_esps()]
        for name in SECRET_FIELDS:
            if getattr(identity, f"{name}_encrypted"):
                self.fields[name].help_text = _("A secret is stored: leave empty to keep it, or type a new one "
                                                "to replace it.")
        for field in self.fields.values():
            if not isinstance(field.widget, (forms.RadioSelect, forms.CheckboxInput)):
                field.widget.attrs.setdefault("class", "form-select" if isinstance(field.widget, forms.Select)
                                              else "form-control")

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        return {"data": {name: data[name] for name in EDITABLE_FIELDS},
                "new_secrets": {name: data[name] for name in SECRET_FIELDS}}

    def add_service_errors(self, error: ValidationError) -> None:
        add_service_errors(self, error)


class IdentityTestSendForm(LineBreaksFormMixin, forms.Form):
    to = forms.EmailField(label=_("Send a test e-mail to"))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["to"].widget.attrs.setdefault("class", "form-control")
