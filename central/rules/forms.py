from django import forms
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext_lazy as _

from central.channels import registry as channels
from central.models import Channel, Origin
from local_stores.forms import style_fields
from local_stores.line_breaks import LineBreaksFormMixin
from local_stores.models import Node
from local_stores.widgets import DateInput

# --- The network's rules, the suppression list, simulations, ownership transfers ----------------------


COST_FIELDS = channels.cost_fields()


class NetworkRulesForm(LineBreaksFormMixin, forms.Form):
    """The network's rules as head office edits them. The form only reads the values; the service
    (``network_rules_update``) decides what is sound and answers by field."""

    priority_1 = forms.ChoiceField(choices=Origin.choices, label=_("First"))
    priority_2 = forms.ChoiceField(choices=Origin.choices, label=_("Then"))
    priority_3 = forms.ChoiceField(choices=Origin.choices, label=_("Last"))
    cap_total = forms.IntegerField(label=_("Marketing messages per customer, at most"),
                                   widget=forms.NumberInput(attrs={"min": 1}))
    cap_days = forms.IntegerField(label=_("over this many days (rolling)"), widget=forms.NumberInput(attrs={"min": 1}))
    national_reserved = forms.IntegerField(label=_("of which reserved for national campaigns"),
                                           widget=forms.NumberInput(attrs={"min": 0}))
    local_reserved = forms.IntegerField(label=_("of which reserved for local campaigns"),
                                        widget=forms.NumberInput(attrs={"min": 0}))
    quiet_weekdays = forms.TypedMultipleChoiceField(
        choices=[(day, WEEKDAYS[day - 1]) for day in range(1, 8)], coerce=int, required=False,
        widget=forms.CheckboxSelectMultiple, label=_("Quiet days: no marketing message is sent"))
    quiet_from = forms.TimeField(required=False, label=_("Quiet hours from"),
                                 widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    quiet_until = forms.TimeField(required=False, label=_("Quiet hours until"),
                                  widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                                  help_text=_("Messages due in quiet hours wait until they end (applied when sending)."))
    one_per_operation = forms.BooleanField(required=False, label=_("One message per customer per operation"))
    attribution_days = forms.IntegerField(
        label=_("Days a purchase is credited to a campaign"), widget=forms.NumberInput(attrs={"min": 1, "max": 90}),
        help_text=_("A recipient's purchases in this many days from the day the send began count as the "
                    "campaign's revenue (and its control group's, over the same days)."))
    segment_caps = forms.CharField(
        required=False, label=_("Caps per segment"), widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One segment per line, as “segment = messages”, e.g. “vip = 4”: the customers of that "
                    "segment get this cap instead of the network's, over the same days. 0 rests a segment."))

    cost_email = forms.DecimalField(label=_("An e-mail"), max_digits=8, decimal_places=4, min_value=0)
    cost_sms_segment = forms.DecimalField(label=_("An SMS segment (160 characters)"), max_digits=8, decimal_places=4,
                                          min_value=0)
    cost_print_page = forms.DecimalField(label=_("A printed page"), max_digits=8, decimal_places=4, min_value=0)
    cost_print_copy = forms.DecimalField(label=_("A printed copy (paper, envelope)"), max_digits=8, decimal_places=4,
                                         min_value=0)
    cost_postage = forms.DecimalField(label=_("The postage of a letter"), max_digits=8, decimal_places=4, min_value=0)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for channel, label in Channel.choices:
            self.fields[f"{channel}_cap_count"] = forms.IntegerField(
                required=False, label=_("%(channel)s: messages at most") % {"channel": label},
                widget=forms.NumberInput(attrs={"min": 1}))
            self.fields[f"{channel}_cap_days"] = forms.IntegerField(
                required=False, label=_("%(channel)s: over this many days") % {"channel": label},
                widget=forms.NumberInput(attrs={"min": 1}), help_text=_("Both empty: no cap for this channel."))
        style_fields(self)

    @classmethod
    def initial_for(cls, rules) -> dict[str, object]:
        order = [origin for origin in rules.order if origin in Origin.values]
        order = (order + [origin for origin in Origin.values if origin not in order])[:3]
        initial: dict[str, object] = {
            "priority_1": order[0], "priority_2": order[1], "priority_3": order[2], "cap_total": rules.cap_total,
            "cap_days": rules.cap_days, "national_reserved": rules.national_reserved,
            "local_reserved": rules.local_reserved, "quiet_weekdays": list(rules.quiet_weekdays or []),
            "quiet_from": rules.quiet_from, "quiet_until": rules.quiet_until,
            "one_per_operation": rules.one_per_operation, "attribution_days": rules.attribution_days,
            **{name: getattr(rules, name) for name in COST_FIELDS},
            "segment_caps": "\n".join(f"{segment} = {count}" for segment, count in sorted((rules.segment_caps or {}).items())),
        }
        for channel, cap in (rules.channel_caps or {}).items():
            if isinstance(cap, dict):
                initial[f"{channel}_cap_count"], initial[f"{channel}_cap_days"] = cap.get("count"), cap.get("days")
        return initial

    def clean_segment_caps(self) -> dict[str, int]:
        """“segment = n” lines as {segment: n}; every line that cannot be read is named."""
        caps: dict[str, int] = {}
        errors = []
        for number, line in enumerate((self.cleaned_data.get("segment_caps") or "").splitlines(), start=1):
            if not line.strip():
                continue
            segment, sign, count = line.replace(":", "=").partition("=")
            segment, count = segment.strip(), count.strip()
            if not sign or not segment or not (count.isascii() and count.isdigit()):
                errors.append(_("Line %(line)s: write “segment = number of messages”.") % {"line": number})
            elif segment in caps:
                errors.append(_("Line %(line)s: the segment “%(segment)s” is already given.") % {
                    "line": number, "segment": segment})
            else:
                caps[segment] = int(count)
        if errors:
            raise forms.ValidationError(errors)
        return caps

    def clean(self):
        data = super().clean()
        for channel in Channel.values:
            count, days = data.get(f"{channel}_cap_count"), data.get(f"{channel}_cap_days")
            if (count is None) != (days is None) and f"{channel}_cap_count" not in self.errors \
                    and f"{channel}_cap_days" not in self.errors:
                missing = f"{channel}_cap_days" if days is None else f"{channel}_cap_count"
                self.add_error(missing, _("Give both the number of messages and the number of days, or neither."))
        return data

    def rules_fields(self) -> dict[str, object]:
        """The cleaned values as ``network_rules_update`` takes them."""
        data = self.cleaned_data
        return {
            "priority_order": [data["priority_1"], data["priority_2"], data["priority_3"]],
            "cap_total": data["cap_total"], "cap_days": data["cap_days"],
            "channel_caps": {channel: {"count": data[f"{channel}_cap_count"], "days": data[f"{channel}_cap_days"]}
                             for channel in Channel.values if data.get(f"{channel}_cap_count") is not None},
            "national_reserved": data["national_reserved"], "local_reserved": data["local_reserved"],
            "quiet_weekdays": sorted(data["quiet_weekdays"]), "quiet_from": data["quiet_from"],
            "quiet_until": data["quiet_until"], "one_per_operation": data["one_per_operation"],
            "segment_caps": data["segment_caps"], "attribution_days": data["attribution_days"],
            **{name: data[name] for name in COST_FIELDS},
        }

    def field_for(self, service_field: str, params: dict | None) -> str | None:
        """Where a service error goes on this form."""
        if service_field == "priority_order":
            return "priority_1"
        if service_field == "channel_caps":
            channel = (params or {}).get("channel")
            return f"{channel}_cap_count" if f"{channel}_cap_count" in self.fields else None
        return service_field if service_field in self.fields else None


class SuppressionForm(forms.Form):
    channel = forms.ChoiceField(choices=[(spec.code, spec.label) for spec in channels.with_matched_address()],
                                widget=forms.RadioSelect, label=_("Channel"), initial=channels.with_matched_address()[0].code)
    address = forms.CharField(max_length=254, label=_("E-mail address or mobile number"),
                              help_text=_("Only its SHA-256 is kept: the address itself is not stored."))
    reason = forms.CharField(max_length=40, label=_("Why"), help_text=_("A hard bounce, a complaint, an erasure…"))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["address"].widget.attrs["autocomplete"] = "off"
        style_fields(self)


class SimulationWindowForm(forms.Form):
    """The days a simulation covers (``from`` and ``to`` in the query string)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["from"] = forms.DateField(label=_("From"), widget=DateInput())
        self.fields["to"] = forms.DateField(label=_("To"), widget=DateInput())
        style_fields(self)

    def clean(self):
        data = super().clean()
        if data.get("from") and data.get("to") and data["to"] < data["from"]:
            self.add_error("to", _("The last day comes before the first."))
        return data


class OwnershipRequestForm(LineBreaksFormMixin, forms.Form):
    to_branch = forms.ModelChoiceField(queryset=Node.objects.none(), label=_("For the branch"), empty_label=None,
                                       to_field_name="public_id")
    customer = forms.CharField(max_length=254, label=_("Customer"),
                               help_text=_("Their CRM id, e-mail address or mobile number."))
    note = forms.CharField(required=False, max_length=1000, label=_("Why"), widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, branches, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["to_branch"].queryset = branches
        if branches.count() == 1:
            self.fields["to_branch"].widget = forms.HiddenInput()
            self.fields["to_branch"].initial = branches.first()
        self.fields["customer"].widget.attrs["autocomplete"] = "off"
        style_fields(self)
