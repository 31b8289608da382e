from django import forms
from django.utils.translation import gettext_lazy as _

from central.customers.importing import normalise_mobile


class SignupForm(forms.Form):
    """A visitor signs up for a branch's offers. ``website`` is a trap for robots: a person never
    sees it (hidden), a robot fills it in."""

    first_name = forms.CharField(label=_("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    email = forms.EmailField(label=_("E-mail address"), max_length=254, required=False)
    mobile = forms.CharField(label=_("Mobile number"), max_length=20, required=False,
                             help_text=_("For example 06 12 34 56 78."))
    consent_email = forms.BooleanField(label=_("I agree to receive the branch's offers by e-mail"), required=False)
    consent_sms = forms.BooleanField(label=_("I agree to receive the branch's offers by SMS"), required=False)
    website = forms.CharField(required=False, label=_("Leave this field empty"),
                              widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}))

    def clean_email(self) -> str:
        return (self.cleaned_data.get("email") or "").strip().lower()

    def clean_mobile(self) -> str:

        raw = (self.cleaned_data.get("mobile") or "").strip()
        if not raw:
            return ""
        number = normalise_mobile(raw)
        if number is None:
            raise forms.ValidationError(_("This is not a valid mobile number (e.g. 06 12 34 56 78 or +33612345678)."))
        return number

    def clean(self):
        data = super().clean()
        email, mobile = data.get("email"), data.get("mobile")
        if "email" in self.errors or "mobile" in self.errors:
            return data
        if not email and not mobile:
            raise forms.ValidationError(_("Give an e-mail address or a mobile number."))
        if data.get("consent_email") and not email:
            self.add_error("email", _("Give the e-mail address the offers should go to."))
        if data.get("consent_sms") and not mobile:
            self.add_error("mobile", _("Give the mobile number the offers should go to."))
        if email and not data.get("consent_email"):
            self.add_error("consent_email", _("Tick this box to receive offers at this address, or leave it empty."))
        if mobile and not data.get("consent_sms"):
            self.add_error("consent_sms", _("Tick this box to receive offers at this number, or leave it empty."))
        return data

    @property
    def is_robot(self) -> bool:
        return bool(self.data.get("website"))
