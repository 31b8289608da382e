"""The people pages' forms: invite, grant/revoke a role, accept an invitation."""

from __future__ import annotations

from django import forms
from django.contrib.auth.password_validation import password_validators_help_text_html
from django.utils.translation import gettext_lazy as _

from central.people.selectors import grantable_roles, manageable_nodes
from local_stores.forms import style_fields


class NodeChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.name} ({obj.get_kind_display()})"


class RoleOnNodeForm(forms.Form):
    """A role on a node, among those the actor may grant."""

    node = NodeChoiceField(label=_("Where"), queryset=None, to_field_name="public_id")
    role = forms.ChoiceField(label=_("Role"), choices=())

    def __init__(self, *args, actor, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        nodes = manageable_nodes(actor)
        self.fields["node"].queryset = nodes
        self.fields["node"].empty_label = _("Choose where")
        self.fields["role"].choices = [("", _("Choose a role")), *grantable_roles(actor, nodes)]
        style_fields(self)


class InviteForm(RoleOnNodeForm):
    email = forms.EmailField(label=_("E-mail"), max_length=254)
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)

    field_order = ["email", "first_name", "last_name", "node", "role"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.order_fields(self.field_order)
        self.fields["email"].widget.attrs["autocomplete"] = "off"


class AcceptNamesForm(forms.Form):
    """Join from an invitation's link in a network that logs in by single sign-on only: no password."""

    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        style_fields(self)


class AcceptForm(forms.Form):
    """Set one's password from an invitation's link."""

    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150)
    password1 = forms.CharField(
        label=_("Password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label=_("Password again"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        style_fields(self)

    def clean(self) -> dict:
        data = super().clean()
        if data.get("password1") and data.get("password2") and data["password1"] != data["password2"]:
            self.add_error("password2", _("The two passwords differ."))
        return data
