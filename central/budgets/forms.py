from django import forms
from django.utils.translation import gettext_lazy as _

from local_stores.forms import style_fields
from local_stores.models import Network, Node, NodeKind
from local_stores.widgets import DateInput


class BudgetPeriodForm(forms.Form):
    """The period the budget page shows (a year by default)."""

    starts_on = forms.DateField(label=_("From"), widget=DateInput())
    ends_on = forms.DateField(label=_("Until"), widget=DateInput())

    def clean(self):
        data = super().clean()
        if data.get("starts_on") and data.get("ends_on") and data["ends_on"] < data["starts_on"]:
            self.add_error("ends_on", _("The last day comes before the first."))
        return data

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        style_fields(self)


class BudgetAllocateForm(forms.Form):
    """Head office gives a branch, or a region (split among its branches), a budget for a period."""

    node = forms.ModelChoiceField(queryset=Node.objects.none(), label=_("Branch or region"))
    starts_on = forms.DateField(label=_("From"), widget=DateInput())
    ends_on = forms.DateField(label=_("Until"), widget=DateInput())
    amount = forms.DecimalField(label=_("Amount"), max_digits=12, decimal_places=2, min_value=0,
                                help_text=_("A region's amount is split equally among its active branches."))
    note = forms.CharField(label=_("Note"), max_length=200, required=False)

    def __init__(self, *args, network: Network, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["node"].queryset = Node.objects.filter(
            network=network, kind__in=[NodeKind.REGION, NodeKind.BRANCH], is_active=True).order_by("path")
        self.fields["node"].label_from_instance = (
            lambda n: f"— {n.name}" if n.kind == NodeKind.BRANCH else _("%(name)s (region)") % {"name": n.name})
        style_fields(self)
