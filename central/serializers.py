"""Serializers of campaigns shared by the API of the calendar (central/calendar/api.py, central/campaigns/api.py) and that of
approvals (approvals.api): not a web module, so that another app's API may build on it without
importing central's views (pyproject.toml, "No app imports the web layer of another")."""

from __future__ import annotations

from datetime import date

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from central.budgets import costs as budgets
from central.campaigns.selectors import (
    campaign_allowed_criteria,
    campaign_audience_count,
    campaign_customers_visible,
    campaign_edit_deadline,
    campaign_is_editable,
)
from central.models import Campaign, CampaignStatus


class CampaignOutputSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    network = serializers.CharField(source="network.slug")
    branch = serializers.CharField(source="branch.public_id", allow_null=True)
    branch_code = serializers.CharField(source="branch.code", allow_null=True)
    branch_name = serializers.CharField(source="branch.name", allow_null=True)
    operation = serializers.CharField(source="operation.public_id", allow_null=True)
    operation_name = serializers.CharField(source="operation.name", allow_null=True)
    template_version = serializers.CharField(source="template_version.public_id")
    template_name = serializers.CharField(source="template_version.template.name")
    channel = serializers.CharField(help_text="email, sms or post")
    status = serializers.CharField(help_text="draft (being prepared) or cancelled")
    slot_values = serializers.DictField()
    target_criteria = serializers.DictField()
    edit_deadline = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = [
            "id", "network", "branch", "branch_code", "branch_name", "operation", "operation_name",
            "template_version", "template_name", "channel", "slot_values", "target_criteria", "send_date",
            "edit_deadline", "status", "created_at", "updated_at",
        ]

    def get_edit_deadline(self, campaign: Campaign) -> date:
        return campaign_edit_deadline(campaign)


class CampaignCostSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="estimate (before sending: the audience × a message's cost) or actual")
    messages = serializers.IntegerField()
    total = serializers.DecimalField(max_digits=12, decimal_places=2)
    head_office = serializers.DecimalField(max_digits=12, decimal_places=2, help_text="The co-funded share.")
    branch = serializers.DecimalField(max_digits=12, decimal_places=2, help_text="Charged to the branch's budget.")


class CampaignDetailOutputSerializer(CampaignOutputSerializer):
    audience_count = serializers.SerializerMethodField()
    allowed_criteria = serializers.SerializerMethodField()
    can_edit = serializers.SerializerMethodField()
    cost = serializers.SerializerMethodField()

    class Meta(CampaignOutputSerializer.Meta):
        fields = [*CampaignOutputSerializer.Meta.fields, "audience_count", "allowed_criteria", "can_edit", "cost"]

    @extend_schema_field(CampaignCostSerializer(allow_null=True))
    def get_cost(self, campaign: Campaign) -> dict | None:
        """Sent (or sending): what it cost; before: its estimate for the audience the caller sees
        (null for who does not see the customers concerned)."""

        if campaign.status in (CampaignStatus.SENDING, CampaignStatus.PAUSED, CampaignStatus.SENT):
            cost, kind = budgets.campaign_cost_actual(campaign), "actual"
        else:
            audience = self.get_audience_count(campaign)
            if audience is None:
                return None
            cost, kind = budgets.campaign_cost_estimate(campaign, audience=audience), "estimate"
        return CampaignCostSerializer({"kind": kind, "messages": cost.messages, "total": cost.total,
                                       "head_office": cost.head_office, "branch": cost.branch}).data

    def get_audience_count(self, campaign: Campaign) -> int | None:
        """The size of the proposed list; null for who does not see the customers concerned."""
        user = self.context["request"].user
        if not campaign_customers_visible(user, campaign):
            return None
        return campaign_audience_count(fetched_by=user, campaign=campaign)

    def get_allowed_criteria(self, campaign: Campaign) -> list[str]:
        return campaign_allowed_criteria(campaign)

    def get_can_edit(self, campaign: Campaign) -> bool:
        """Whether the caller may change it now: the right to, still a draft, before the deadline."""
        return campaign_is_editable(self.context["request"].user, campaign)


class CampaignUpdateInputSerializer(serializers.Serializer):
    slot_values = serializers.DictField(required=False, help_text="Errors come back keyed by slot name.")
    send_date = serializers.DateField(required=False)
    target_criteria = serializers.DictField(
        required=False, help_text="Criteria among allowed_criteria; errors come back keyed target_<criterion>."
    )
