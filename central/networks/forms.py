"""The forms of the networks' pages: types and choices only; the services check the whole."""

from __future__ import annotations

from babel.numbers import get_currency_name
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import get_language, to_locale
from django.utils.translation import gettext_lazy as _

from central.networks.services import (
    INVITATION_DAYS_MAX,
    INVITATION_DAYS_MIN,
    REGIONAL_GRANTABLE_CHOICES,
    currency_codes,
    time_zone_names,
)
from local_stores.forms import LOGO_MAX_BYTES, LOGO_MAX_SIDE, style_fields
from local_stores.line_breaks import LineBreaksFormMixin
from local_stores.models import Network, NetworkEvent, Role
from local_stores.widgets import DateInput


def currency_choices() -> list[tuple[str, str]]:
    return [(code, f"{code} — {get_currency_name(code, locale=to_locale(get_language() or 'en'))}") for code in sorted(currency_codes())]


class NetworkCreateForm(LineBreaksFormMixin, forms.Form):
    name = forms.CharField(label=_("Network's name"), max_length=120)
    slug = forms.SlugField(label=_("Short name"), max_length=50,
                           help_text=_("Letters, digits and hyphens; it names the network in links and exports."))
    head_office_name = forms.CharField(label=_("Head office's name"), max_length=120)
    admin_email = forms.EmailField(label=_("First head-office person's e-mail"),
                                   help_text=_("They receive an invitation to join as head office marketer."))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        style_fields(self)


class NetworkSettingsForm(LineBreaksFormMixin, forms.Form):
    name = forms.CharField(label=_("Network's name"), max_length=120)
    logo = forms.ImageField(label=_("Logo"), required=False, help_text=_("PNG, JPEG or WebP, 2 MB at most."))
    clear_logo = forms.BooleanField(label=_("Remove the logo"), required=False)
    languages = forms.MultipleChoiceField(label=_("Languages"), choices=settings.LANGUAGES,
                                          widget=forms.CheckboxSelectMultiple)
    default_language = forms.ChoiceField(label=_("Default language"), choices=settings.LANGUAGES,
                                         help_text=_("Invitations and e-mails to people go out in this language."))
    time_zone = forms.ChoiceField(label=_("Time zone"))
    currency = forms.ChoiceField(label=_("Currency"))
    invitation_days = forms.IntegerField(
        label=_("Days an invitation stays valid"), min_value=INVITATION_DAYS_MIN, max_value=INVITATION_DAYS_MAX)
    regional_grantable_roles = forms.MultipleChoiceField(
        label=_("Roles regional managers may grant on their branches"), required=False,
        choices=[(role.value, role.label) for role in REGIONAL_GRANTABLE_CHOICES], widget=forms.CheckboxSelectMultiple)
    mfa_required_roles = forms.MultipleChoiceField(
        label=_("Roles that must log in with a second factor"), required=False, choices=Role.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Whoever holds one of these roles sets up an authenticator app and gives its code at every login."))

    def __init__(self, *args, network: Network, **kwargs) -> None:
        initial = {
            "name": network.name, "languages": network.languages, "default_language": network.default_language,
            "time_zone": network.time_zone, "currency": network.currency, "invitation_days": network.invitation_days,
            "regional_grantable_roles": network.regional_grantable_roles,
            "mfa_required_roles": network.mfa_required_roles,
        }
        super().__init__(*args, initial=initial, **kwargs)
        self.network = network
        self.fields["time_zone"].choices = [(name, name) for name in sorted(time_zone_names())]
        self.fields["currency"].choices = currency_choices()
        if not network.logo:
            del self.fields["clear_logo"]
        style_fields(self)

    def clean_logo(self):
        logo = self.cleaned_data.get("logo")
        if not logo or not hasattr(logo, "image"):
            return logo
        if logo.size > LOGO_MAX_BYTES:
            raise ValidationError(_("The logo must weigh 2 MB at most."))
        if max(logo.image.size) > LOGO_MAX_SIDE:
            raise ValidationError(_("The logo must be at most %(side)d pixels wide and high.") % {"side": LOGO_MAX_SIDE})
        if logo.image.format not in {"PNG", "JPEG", "WEBP"}:
            raise ValidationError(_("The logo must be a PNG, JPEG or WebP image."))
        return logo

    def changes(self) -> dict:
        return {field: self.cleaned_data[field] for field in (
            "name", "languages", "default_language", "time_zone", "currency", "invitation_days",
            "regional_grantable_roles", "mfa_required_roles")}


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(label=_("Action"), required=False)
    person = forms.CharField(label=_("Person"), required=False, max_length=100)
    node = forms.ChoiceField(label=_("Place"), required=False)
    date_from = forms.DateField(label=_("From"), required=False, widget=DateInput())
    date_to = forms.DateField(label=_("To"), required=False, widget=DateInput())

    def __init__(self, *args, nodes, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", _("All actions")), *NetworkEvent.Action.choices]
        self.fields["node"].choices = [("", _("Everywhere"))] + [(node.public_id, node.name) for node in nodes]
        style_fields(self)

    def filters(self) -> dict:
        if not self.is_valid():
            return {}
        return {key: value for key, value in self.cleaned_data.items() if value}

