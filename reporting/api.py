"""REST API of the reports: the same figures as the dashboard, scoped the same way (the one scoping
selector, ``stats_visible_to``): GET /api/v1/reports/?starts_on=…&ends_on=…[&channel=…][&by=…].
Bad parameters answer 400 with the error of each field."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from central.models import Channel
from local_stores.api_base import ScopedAPIView
from reporting.forms import MAX_DAYS
from reporting.selectors import (
    BREAKDOWNS,
    DEFAULT_BREAKDOWN,
    Totals,
    branch_comparison,
    breakdown_for,
    report_scope,
    stats_for_period,
    stats_totals,
)
from reporting.services import METRICS

RATES = ("delivery_rate", "bounce_rate", "open_rate", "click_rate", "click_to_open_rate", "unsubscribe_rate",
         "complaint_rate", "conversion_rate", "revenue_per_recipient", "holdout_conversion_rate",
         "conversion_uplift", "incremental_revenue", "revenue_uplift")


class ReportQuerySerializer(serializers.Serializer):
    starts_on = serializers.DateField()
    ends_on = serializers.DateField()
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    by = serializers.ChoiceField(choices=sorted(BREAKDOWNS), required=False)

    def validate(self, data):
        if data["ends_on"] < data["starts_on"]:
            raise serializers.ValidationError({"ends_on": [_("The last day comes before the first.")]})
        if (data["ends_on"] - data["starts_on"]).days + 1 > MAX_DAYS:
            raise serializers.ValidationError({"ends_on": [_("Show %(days)s days at most.") % {"days": MAX_DAYS}]})
        return data


class TotalsSerializer(serializers.Serializer):
    def to_representation(self, totals: Totals) -> dict:
        return {**{metric: getattr(totals, metric) for metric in METRICS},
                **{rate: getattr(totals, rate) for rate in RATES}}


class ReportSerializer(serializers.Serializer):
    scope = serializers.CharField()
    starts_on = serializers.DateField()
    ends_on = serializers.DateField()
    channel = serializers.CharField(allow_blank=True)
    by = serializers.CharField()
    totals = TotalsSerializer()
    breakdown = serializers.ListField(child=serializers.DictField())
    comparison = serializers.ListField(child=serializers.DictField(), allow_null=True)


class ReportApi(ScopedAPIView):
    """The figures of the campaigns the caller sees over a period: totals and rates, broken down
    (by operation, region, branch, channel, campaign or day); for a branch's manager, the branch
    beside the quartiles of the network's branches (no other branch named; null with fewer than 5).
    Purchases: ``revenue`` is what recipients bought in the network's attribution days from the day a
    send began; ``holdout…`` the same of the control groups, ``measured…`` of the recipients of the
    campaigns that had one; ``incremental_revenue`` and ``revenue_uplift`` compare the two."""

    @extend_schema(parameters=[
        OpenApiParameter("starts_on", str, required=True, description="first day, YYYY-MM-DD"),
        OpenApiParameter("ends_on", str, required=True, description=f"last day, YYYY-MM-DD ({MAX_DAYS} days at most)"),
        OpenApiParameter("channel", str, enum=Channel.values),
        OpenApiParameter("by", str, enum=sorted(BREAKDOWNS)),
    ], responses={200: ReportSerializer})
    def get(self, request: Request) -> Response:
        query = ReportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        scope, node = report_scope(request.user)
        starts_on, ends_on = query.validated_data["starts_on"], query.validated_data["ends_on"]
        channel = query.validated_data.get("channel", "")
        by = query.validated_data.get("by") or DEFAULT_BREAKDOWN[scope]
        stats = stats_for_period(request.user, starts_on=starts_on, ends_on=ends_on, channel=channel)
        comparison = None
        if scope == "branch":
            compared = branch_comparison(branch=node, starts_on=starts_on, ends_on=ends_on, channel=channel)
            comparison = [vars(item) for item in compared] if compared is not None else None
        totals = TotalsSerializer()
        body = {
            "scope": scope, "starts_on": starts_on, "ends_on": ends_on, "channel": channel, "by": by,
            "totals": totals.to_representation(stats_totals(stats)),
            "breakdown": [{"key": str(key), "label": label, **totals.to_representation(item)}
                          for key, label, item in breakdown_for(request.user, stats, by)],
            "comparison": comparison,
        }
        return Response(body)

