from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from central.models import TARGETING_CRITERIA, CalendarPeriod, Channel, Operation
from local_stores.forms import style_fields
from local_stores.models import Network, Node, NodeKind


class CustomerImportForm(forms.Form):
    network = forms.ModelChoiceField(queryset=Network.objects.none(), label=_("Network"), empty_label=None)
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "UTF-8, comma or semicolon separated, one customer per line; the first line names the columns."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def __init__(self, *args, networks, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["network"].queryset = networks
        if networks.count() == 1:
            self.fields["network"].widget = forms.HiddenInput()
            self.fields["network"].initial = networks.first()

    def clean_file(self):
        uploaded = self.cleaned_data["file"]
        if uploaded.size > settings.RELAIS_IMPORT_MAX_BYTES:
            raise forms.ValidationError(_("The file is too large."))
        return uploaded


class OperationForm(forms.ModelForm):
    """Head office plans an operation of its network's calendar (the service checks the whole)."""

    channels = forms.MultipleChoiceField(choices=Channel.choices, widget=forms.CheckboxSelectMultiple, label=_("Channels"))
    allowed_criteria = forms.MultipleChoiceField(
        choices=list(TARGETING_CRITERIA.items()), widget=forms.CheckboxSelectMultiple, required=False,
        label=_("Targeting criteria branches may use"),
        help_text=_("A handful at most: branches choose among these, nothing else."))

    class Meta:
        model = Operation
        fields = ["name", "theme", "description", "mode", "opt_out_allowed", "channels", "template_versions",
                  "send_from", "send_until", "subscription_deadline", "eligible_nodes", "is_pilot", "allowed_criteria"]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "mode": forms.RadioSelect,
            "send_from": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "send_until": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "subscription_deadline": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "template_versions": forms.CheckboxSelectMultiple,
            "eligible_nodes": forms.SelectMultiple(attrs={"size": 8}),
        }
        help_texts = {
            "eligible_nodes": _("Leave empty for the whole network; choose regions or branches for a pilot."),
            "subscription_deadline": _("Opt-in and mandatory operations: the last day branches answer."),
        }

    def __init__(self, *args, network: Network, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        from templates_lib.models import TemplateVersion, VersionStatus

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
            "starts_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "ends_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        style_fields(self)
