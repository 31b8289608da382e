"""The dashboard's filters: a period, a channel, a breakdown — validated like any form."""

from datetime import timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from central.models import Channel
from local_stores.widgets import DateInput

#: The longest period a dashboard covers at once.
MAX_DAYS = 366
BREAKDOWN_CHOICES = [
    ("operation", _("Operation")),
    ("region", _("Region")),
    ("branch", _("Branch")),
    ("channel", _("Channel")),
    ("campaign", _("Campaign")),
    ("day", _("Day")),
]


class DashboardFilterForm(forms.Form):
    starts_on = forms.DateField(label=_("From"), widget=DateInput(attrs={"class": "form-control"}))
    ends_on = forms.DateField(label=_("To"), widget=DateInput(attrs={"class": "form-control"}))
    channel = forms.ChoiceField(label=_("Channel"), required=False, choices=[("", _("All channels")), *Channel.choices],
                                widget=forms.Select(attrs={"class": "form-select"}))
    by = forms.ChoiceField(label=_("Break down by"), choices=BREAKDOWN_CHOICES,
                           widget=forms.Select(attrs={"class": "form-select"}))

    @classmethod
    def initial_for(cls, by: str) -> dict:
        today = timezone.localdate()
        return {"starts_on": today - timedelta(days=29), "ends_on": today, "channel": "", "by": by}

    def clean(self):
        data = super().clean()
        starts_on, ends_on = data.get("starts_on"), data.get("ends_on")
        if starts_on and ends_on:
            if ends_on < starts_on:
                self.add_error("ends_on", _("The last day comes before the first."))
            elif (ends_on - starts_on).days + 1 > MAX_DAYS:
                self.add_error("ends_on", _("Show %(days)s days at most.") % {"days": MAX_DAYS})
        return data
