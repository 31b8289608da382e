"""The single sign-on page's forms (head office): the provider, a role mapping, the company login."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import PasswordResetForm
from django.utils.translation import gettext_lazy as _

from central.people.forms import NodeChoiceField
from local_stores.forms import style_fields
from local_stores.models import Node, Role, SsoConfig
from local_stores.sso import password_login_refused, password_reset_refused_for_email


class SsoConfigForm(forms.ModelForm):
    issuer_url = forms.URLField(
        label=_("Issuer URL"), max_length=300, assume_scheme="https",
        help_text=_("The provider's issuer, e.g. https://login.microsoftonline.com/<tenant>/v2.0"),
    )
    client_secret = forms.CharField(
        label=_("Client secret"), required=False, strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Stored encrypted and never shown again: leave it empty to keep the stored one."),
    )
    email_domains = forms.CharField(
        label=_("E-mail domains"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("One a line: the login page sends whoever gives an address of these domains to this provider."),
    )

    class Meta:
        model = SsoConfig
        fields = ["enabled", "issuer_url", "client_id", "scopes", "groups_claim", "create_people",
                  "password_login_allowed", "trust_provider_mfa"]
        labels = {
            "password_login_allowed": _("People may also log in with a password"),
            "trust_provider_mfa": _("Trust the provider's second factor"),
        }
        help_texts = {
            "password_login_allowed": _("Untick for single sign-on only: the network's people (not the platform's "
                                        "superusers) can then neither log in nor get an API token with a password, "
                                        "nor reset one."),
            "trust_provider_mfa": _("When the provider says the person used a second factor (the id_token's "
                                    "\"amr\": mfa, otp, hwk, swk, sms, fpt or face), Relais does not ask for its own "
                                    "code at that login."),
            "groups_claim": _("The claim listing the person's groups (mapped to roles below)."),
            "create_people": _("Otherwise only people already invited to Relais can log in this way."),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["email_domains"] = "\n".join(self.instance.email_domains or [])
        style_fields(self)

    def clean_email_domains(self) -> list[str]:
        lines = self.cleaned_data.get("email_domains", "").replace("\r\n", "\n").replace(",", "\n").split("\n")
        domains = sorted({line.strip().lower().lstrip("@") for line in lines if line.strip()})
        bad = [domain for domain in domains if "." not in domain or " " in domain or "@" in domain]
        if bad:
            raise forms.ValidationError(_("Not a domain: %(domains)s") % {"domains": ", ".join(bad)})
        return domains

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("enabled") and not cleaned.get("email_domains"):
            self.add_error("email_domains", _("Give at least one domain: the login page finds the provider by it."))
        if cleaned.get("enabled") and not (cleaned.get("client_secret") or self.instance.client_secret_encrypted):
            self.add_error("client_secret", _("Give the client secret before enabling single sign-on."))
        return cleaned

    def service_arguments(self) -> dict:
        data = {field: self.cleaned_data[field] for field in self.Meta.fields}
        data["email_domains"] = self.cleaned_data["email_domains"]
        return {"data": data, "client_secret": self.cleaned_data.get("client_secret", "")}


class SsoMappingForm(forms.Form):
    claim_value = forms.CharField(label=_("Claim value"), max_length=200,
                                  help_text=_("A group as the provider names it, e.g. relais-n1-managers."))
    node = NodeChoiceField(label=_("Where"), queryset=Node.objects.none(), to_field_name="public_id")
    role = forms.ChoiceField(label=_("Role"), choices=())

    def __init__(self, *args, network, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["node"].queryset = Node.objects.filter(network=network, closed_at__isnull=True).order_by("path")
        self.fields["node"].empty_label = _("Choose where")
        self.fields["role"].choices = [("", _("Choose a role")), *Role.choices]
        style_fields(self)


class CompanyLoginForm(forms.Form):
    email = forms.EmailField(label=_("Your work e-mail address"), max_length=254)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        style_fields(self)


class SsoAwarePasswordResetForm(PasswordResetForm):
    """Django's password-reset form, refusing the addresses of a network that logs in by single
    sign-on only — by the address's domain, so the answer is the same whether or not someone has
    it — and sending nothing to its people whose address is of another domain (the usual answer)."""

    def clean_email(self) -> str:
        email = self.cleaned_data["email"]
        if password_reset_refused_for_email(email):
            raise forms.ValidationError(_("Your network signs in with its company account: log in with it."))
        return email

    def get_users(self, email):
        return (user for user in super().get_users(email) if password_login_refused(user) is None)
