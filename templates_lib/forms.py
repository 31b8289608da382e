"""Forms of the template library: template and draft editing, the slot form a branch fills,
assets and content rules. Business checks stay in services; forms shape the input."""

from __future__ import annotations

import json

from django import forms
from django.utils.translation import gettext_lazy as _

from local_stores.forms import style_fields
from local_stores.line_breaks import LineBreaksFormMixin
from local_stores.money import currency
from local_stores.widgets import DateInput
from templates_lib import slots
from templates_lib.models import Asset, PrintFormat, TemplateKind


class StyledForm(LineBreaksFormMixin, forms.Form):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        style_fields(self)


class TemplateCreateForm(StyledForm):
    network = forms.ModelChoiceField(queryset=None, label=_("Network"), empty_label=None)
    kind = forms.ChoiceField(choices=TemplateKind.choices, label=_("Kind"), widget=forms.RadioSelect)
    name = forms.CharField(max_length=120, label=_("Name"))
    description = forms.CharField(required=False, label=_("Description"), widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, networks, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["network"].queryset = networks
        if networks.count() == 1:
            self.fields["network"].initial = networks.first()
            self.fields["network"].widget = forms.HiddenInput()


SLOT_TYPE_CHOICES = [(key, label) for key, label in slots.SLOT_TYPES.items()]


class SlotDefinitionForm(StyledForm):
    name = forms.RegexField(regex=r"^[a-z][a-z0-9_]{0,39}$", max_length=40, label=_("Name in the source"),
                            error_messages={"invalid": _("Lowercase letters, digits and _, starting with a letter.")})
    type = forms.ChoiceField(choices=SLOT_TYPE_CHOICES, label=_("Type"), initial=slots.SHORT_TEXT)
    label = forms.CharField(max_length=80, label=_("Label shown to branches"))
    help_text = forms.CharField(max_length=300, required=False, label=_("Help"))
    default = forms.CharField(max_length=2000, required=False, label=_("Default"))
    required = forms.BooleanField(required=False, initial=True, label=_("Required"))
    max_length = forms.IntegerField(min_value=1, max_value=4000, required=False, label=_("Max. length"))
    choices = forms.CharField(required=False, label=_("Options (one per line)"), widget=forms.Textarea(attrs={"rows": 2}))
    tag = forms.CharField(max_length=60, required=False, label=_("Only images tagged"),
                          help_text=_("Image slot: offer only the library images carrying this tag. Empty: any image."))

    @staticmethod
    def default_as_text(default: object) -> str:
        """A default as the "Default" field shows it: a price's (amount, currency, conditions) as
        JSON, which ``as_definition`` reads back — so an untouched price slot saves as it was."""
        if isinstance(default, dict):
            return json.dumps(default, ensure_ascii=False)
        return "" if default is None else str(default)

    def as_definition(self) -> dict[str, object]:
        data = dict(self.cleaned_data)
        data["choices"] = [line.strip() for line in (data.get("choices") or "").splitlines() if line.strip()]
        default = data.get("default") or ""
        if data.get("type") == slots.PRICE and default.startswith("{"):
            try:
                parsed = json.loads(default)
            except ValueError:
                parsed = None  # left as typed: the slot's check says what a price is
            if isinstance(parsed, dict):
                data["default"] = parsed
        data.pop("DELETE", None)
        return data


SlotDefinitionFormSet = forms.formset_factory(SlotDefinitionForm, extra=1, can_delete=True, max_num=30)


class DraftForm(StyledForm):
    subject = forms.CharField(max_length=200, required=False, label=_("Subject"))
    preheader = forms.CharField(max_length=200, required=False, label=_("Preheader (preview text)"))
    body = forms.CharField(label=_("Source"), widget=forms.Textarea(attrs={"rows": 22, "spellcheck": "false", "class": "font-monospace", "data-source-editor": ""}))
    css = forms.CharField(required=False, label=_("CSS"), widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "class": "font-monospace", "data-source-editor": ""}))
    print_format = forms.ChoiceField(choices=[("", "—"), *PrintFormat.choices], required=False, label=_("Format"))

    def __init__(self, *args, kind: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if kind != TemplateKind.EMAIL:
            del self.fields["subject"], self.fields["preheader"]
        if kind != TemplateKind.PRINT:
            del self.fields["css"], self.fields["print_format"]


def slot_values_form(definitions: list[slots.SlotDefinition], assets: list[Asset], *, data=None, initial=None) -> forms.Form:
    """A form with one field per slot (three for a price), typed for the browser; the real checks
    are ``services.slot_values_clean``'s."""
    fields: dict[str, forms.Field] = {}
    for definition in definitions:
        common = {"label": definition.label, "help_text": definition.help_text, "required": False}
        if definition.type == slots.SHORT_TEXT:
            fields[definition.name] = forms.CharField(max_length=definition.max_length, **common)
        elif definition.type in (slots.LONG_TEXT, slots.RICH_TEXT):
            fields[definition.name] = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), **common)
        elif definition.type == slots.IMAGE:
            fields[definition.name] = forms.ChoiceField(
                choices=[("", "—")] + [(asset.public_id, asset.name) for asset in slots.images_for(definition, assets)],
                **common)
        elif definition.type == slots.DATE:
            fields[definition.name] = forms.DateField(widget=DateInput(), **common)
        elif definition.type == slots.PRICE:
            fields[f"{definition.name}__amount"] = forms.DecimalField(min_value=0, decimal_places=2, **common)
            fields[f"{definition.name}__currency"] = forms.ChoiceField(
                # the network's currency only (a Paris shop is not offered CHF, GBP or USD)
                choices=[(currency(), currency())], label=_("Currency"), required=False)
            fields[f"{definition.name}__conditions"] = forms.CharField(
                max_length=300, label=_("Conditions"), required=False)
        elif definition.type == slots.URL:
            fields[definition.name] = forms.CharField(max_length=500, widget=forms.URLInput, **common)
        elif definition.type == slots.CHOICE:
            fields[definition.name] = forms.ChoiceField(choices=[("", "—")] + [(c, c) for c in definition.choices], **common)
    form_class = type("SlotValuesForm", (StyledForm,), fields)
    return form_class(data=data, initial=initial)


def slot_values_from(form: forms.Form, definitions: list[slots.SlotDefinition]) -> dict[str, object]:
    """The raw values typed in ``form`` (before the service's checks), keyed by slot name."""
    data = form.data
    values: dict[str, object] = {}
    for definition in definitions:
        if definition.type == slots.PRICE:
            amount = data.get(f"{definition.name}__amount", "")
            values[definition.name] = {
                "amount": amount, "currency": data.get(f"{definition.name}__currency") or currency(),
                "conditions": data.get(f"{definition.name}__conditions", ""),
            } if amount not in ("", None) else None
        else:
            values[definition.name] = data.get(definition.name) or None
    return values


def slot_initial(definitions: list[slots.SlotDefinition], values: dict[str, object]) -> dict[str, object]:
    initial: dict[str, object] = {}
    for definition in definitions:
        value = values.get(definition.name)
        if definition.type == slots.PRICE and isinstance(value, dict):
            for part in ("amount", "currency", "conditions"):
                initial[f"{definition.name}__{part}"] = value.get(part)
        elif value is not None:
            initial[definition.name] = value
    return initial


class AssetUploadForm(StyledForm):
    network = forms.ModelChoiceField(queryset=None, label=_("Network"), empty_label=None)
    name = forms.CharField(max_length=120, required=False, label=_("Name"))
    tags = forms.CharField(max_length=300, required=False, label=_("Tags"), help_text=_("Separated by commas."))
    file = forms.FileField(label=_("Image"), help_text=_("PNG, JPEG, WebP or GIF; 5 MB and 6000 pixels a side at most."),
                           widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/webp,image/gif"}))

    def __init__(self, *args, networks, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["network"].queryset = networks
        if networks.count() == 1:
            self.fields["network"].initial = networks.first()
            self.fields["network"].widget = forms.HiddenInput()


class ContentRulesForm(StyledForm):
    forbidden_patterns = forms.CharField(required=False, label=_("Forbidden words"), widget=forms.Textarea(attrs={"rows": 5}),
                                         help_text=_("One regular expression per line, matched without regard to case."))
    allowed_link_domains = forms.CharField(required=False, label=_("Allowed link domains"), widget=forms.Textarea(attrs={"rows": 4}),
                                           help_text=_("One domain per line; its subdomains are allowed too. Empty: any public domain."))
    sms_stop_mention = forms.CharField(max_length=60, label=_("SMS opt-out mention"))
