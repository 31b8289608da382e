"""The branch managers' short forms for a campaign: the send date and the target, with only the
criteria the operation allows. The real checks are the services'; these forms type the fields for
the browser (date pickers, numbers) and show the service's messages next to them."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from central.campaigns.targeting import MAX_DAYS, RFM_RANGE
from central.customers.labels import segment_label
from central.models import AUDIENCE_KINDS, TARGETING_CRITERIA
from local_stores.forms import style_fields
from local_stores.widgets import DateInput


class SendDateForm(forms.Form):
    send_date = forms.DateField(label=_("Send date"), widget=DateInput())

    def __init__(self, *args, first=None, last=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        widget = self.fields["send_date"].widget
        if first:
            widget.attrs["min"] = first.isoformat()
        if last:
            widget.attrs["max"] = last.isoformat()
        style_fields(self)


def target_form(allowed: list[str], *, segments: list[str], data=None, initial=None) -> forms.Form:
    """Fields for the ``allowed`` criteria only, prefixed ``target_`` (as the service's errors)."""
    fields: dict[str, forms.Field] = {}
    help_any = _("Leave empty to keep everyone.")
    for name in allowed:
        label = TARGETING_CRITERIA[name]
        if name == "segment":
            fields["target_segment"] = forms.ChoiceField(
                label=label, required=False, help_text=help_any,
                choices=[("", _("All segments"))] + [(segment, segment_label(segment)) for segment in segments])
        elif name == "interest":
            fields["target_interest"] = forms.CharField(label=label, required=False, max_length=40, help_text=help_any)
        elif name == "bought_within_days":
            fields["target_bought_within_days"] = forms.IntegerField(
                label=label, required=False, min_value=1, max_value=MAX_DAYS, help_text=_("In days."))
        elif name == "min_rfm":
            fields["target_min_rfm"] = forms.IntegerField(
                label=label, required=False, min_value=RFM_RANGE[0], max_value=RFM_RANGE[1],
                help_text=_("Recency + frequency + monetary scores, from 3 to 15."))
        elif name == "audience_kind":
            fields["target_audience_kind"] = forms.ChoiceField(
                label=label, required=False, choices=[("", _("Customers and prospects")), *AUDIENCE_KINDS.items()])
        elif name == "postal_code_prefix":
            fields["target_postal_code_prefix"] = forms.CharField(
                label=label, required=False, max_length=5, help_text=_("For example 59 or 750."))
    form = type("TargetForm", (forms.Form,), fields)(data=data, initial=initial)
    for field in form.fields.values():
        if isinstance(field, forms.IntegerField):
            field.widget.attrs["inputmode"] = "numeric"
    return style_fields(form)


def target_criteria_from(data, allowed: list[str]) -> dict[str, object]:
    """The raw criteria typed in the form, for ``criteria_clean``."""
    return {name: (data.get(f"target_{name}") or "").strip() for name in allowed}


def target_initial(criteria: dict[str, object]) -> dict[str, object]:
    return {f"target_{name}": value for name, value in criteria.items()}
