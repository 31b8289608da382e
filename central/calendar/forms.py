from django import forms
from django.utils.translation import gettext_lazy as _

from central.models import TARGETING_CRITERIA, CalendarPeriod, Channel, Operation
from local_stores.forms import style_fields
from local_stores.line_breaks import LineBreaksFormMixin
from local_stores.models import Network, Node, NodeKind
from local_stores.widgets import DateInput
from templates_lib.models import TemplateVersion, VersionStatus


class OperationForm(LineBreaksFormMixin, forms.ModelForm):
    """Head office plans an operation of its network's calendar (the service checks the whole)."""

    channels = forms.MultipleChoiceField(choices=Channel.choices, widget=forms.CheckboxSelectMultiple, label=_("Channels"))
    allowed_criteria = forms.MultipleChoiceField(
        choices=list(TARGETING_CRITERIA.items()), widget=forms.CheckboxSelectMultiple, required=False,
        label=_("Targeting criteria branches may use"),
        help_text=_("A handful at most: branches choose among these, nothing else."))
    holdout_percent = forms.IntegerField(
        required=False, initial=0, label=_("Control group (%)"), widget=forms.NumberInput(attrs={"min": 0, "max": 50}),
        help_text=_("Optional, 0 to 50: this share of each campaign's selected customers, drawn at random, receives "
                    "nothing; comparing their purchases with the recipients' measures what the campaign earned "
                    "(the uplift)."))

    class Meta:
        model = Operation
        fields = ["name", "theme", "description", "mode", "opt_out_allowed", "channels", "template_versions",
                  "send_from", "send_until", "subscription_deadline", "eligible_nodes", "is_pilot", "allowed_criteria",
                  "national_priority", "holdout_percent", "cofunding_percent"]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "mode": forms.RadioSelect,
            "send_from": DateInput(),
            "send_until": DateInput(),
            "subscription_deadline": DateInput(),
            "template_versions": forms.CheckboxSelectMultiple,
            "eligible_nodes": forms.SelectMultiple(attrs={"size": 8}),
        }
        help_texts = {
            "eligible_nodes": _("Leave empty for the whole network; choose regions or branches for a pilot."),
            "subscription_deadline": _("Opt-in and mandatory operations: the last day branches answer."),
            "national_priority": _("An exception to the network's priority order: when the pressure cap is "
                                   "reached, this operation's messages go before every other campaign."),
        }

    cofunding_percent = forms.IntegerField(
        required=False, initial=0, label=_("Paid by head office (%)"),
        widget=forms.NumberInput(attrs={"min": 0, "max": 100}),
        help_text=_("Co-funding: the share of its campaigns' cost head office pays for the branches that take part "
                    "(e.g. 50 % of the print run); the rest comes out of each branch's budget."))

    def clean_holdout_percent(self) -> int:
        return self.cleaned_data.get("holdout_percent") or 0

    def clean_cofunding_percent(self) -> int:
        return self.cleaned_data.get("cofunding_percent") or 0

    def __init__(self, *args, network: Network, **kwargs) -> None:
        super().__init__(*args, **kwargs)

        self.fields["template_versions"].queryset = (
            TemplateVersion.objects.filter(template__network=network, template__is_archived=False,
                                           status=VersionStatus.PUBLISHED)
            .select_related("template").order_by("template__name", "-number")
        )
        self.fields["template_versions"].label_from_instance = lambda v: f"{v.template.name} v{v.number} ({v.template.get_kind_display()})"
        self.fields["eligible_nodes"].queryset = Node.objects.filter(
            network=network, kind__in=[NodeKind.REGION, NodeKind.BRANCH], is_active=True).order_by("path")
        self.fields["eligible_nodes"].label_from_instance = lambda n: f"{'— ' if n.kind == NodeKind.BRANCH else ''}{n.name}"
        style_fields(self)


class CalendarPeriodForm(forms.ModelForm):
    channels = forms.MultipleChoiceField(choices=Channel.choices, widget=forms.CheckboxSelectMultiple, required=False,
                                         label=_("Channels"), help_text=_("None ticked: every channel."))

    class Meta:
        model = CalendarPeriod
        fields = ["kind", "name", "starts_on", "ends_on", "channels"]
        widgets = {
            "kind": forms.RadioSelect,
            "starts_on": DateInput(),
            "ends_on": DateInput(),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        style_fields(self)
