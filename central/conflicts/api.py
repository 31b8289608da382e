"""REST API of the conflict report: ``GET network-rules/<slug>/conflicts/?starts_on=&ends_on=``.

Head office of the network only (anyone else: 404, as for a missing network). Reads the latest
simulation of exactly the days asked (``POST arbitration-simulations/`` with the same ``from`` and
``to`` runs one); ``run`` is null while there is none. Thin: everything through
``central.conflicts.selectors``."""

from __future__ import annotations

from datetime import timedelta

from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from central.calendar.selectors import networks_planned_by
from central.conflicts.selectors import (
    CampaignLabel,
    ConflictGroup,
    conflict_groups,
    conflict_lines,
    conflict_run,
    conflict_totals,
)
from central.rules.api import ReasonCountSerializer, RunSerializer
from central.rules.services import SIMULATION_MAX_DAYS
from local_stores.api_base import ScopedAPIView

#: The most lines (losing × winning × reason) an answer lists; the CSV of the page has them all.
CONFLICT_LINES_LIMIT = 2000


class ConflictWindowSerializer(serializers.Serializer):
    starts_on = serializers.DateField(required=False, help_text="First send date (default: tomorrow).")
    ends_on = serializers.DateField(required=False, help_text="Last send date (default: 13 days after starts_on).")

    def validate(self, attrs):
        tomorrow = timezone.localdate() + timedelta(days=1)
        try:
            starts_on = attrs.get("starts_on") or (attrs["ends_on"] - timedelta(days=13) if attrs.get("ends_on")
                                                   else tomorrow)
            ends_on = attrs.get("ends_on") or starts_on + timedelta(days=13)
        except OverflowError as error:  # the first or last day the calendar has
            field = "ends_on" if attrs.get("ends_on") else "starts_on"
            raise ValidationError({field: [_("Give a day closer to today.")]}) from error
        if ends_on < starts_on:
            raise ValidationError({"ends_on": [_("The last day comes before the first.")]})
        if (ends_on - starts_on).days + 1 > SIMULATION_MAX_DAYS:
            raise ValidationError({"ends_on": [_("Simulate %(days)s days at most.") % {"days": SIMULATION_MAX_DAYS}]})
        return {"starts_on": starts_on, "ends_on": ends_on}


def _reasons(reasons) -> list[dict]:
    return [{"reason": reason, "label": label, "count": n} for reason, label, n in reasons]


class ConflictCampaignSerializer(serializers.Serializer):
    id = serializers.CharField(allow_null=True)
    name = serializers.CharField(help_text="The operation's name, or the template's for a campaign without one.")
    branch = serializers.CharField(help_text="The branch's name, or head office for a national send.")
    operation = serializers.CharField(allow_blank=True)
    channel = serializers.CharField(allow_blank=True)
    send_date = serializers.DateField(allow_null=True)


def _campaign(label: CampaignLabel) -> dict:
    return {"id": label.public_id, "name": label.name, "branch": label.branch, "operation": label.operation,
            "channel": label.channel_code, "send_date": label.send_date}


class ConflictLineSerializer(serializers.Serializer):
    losing = ConflictCampaignSerializer(help_text="The campaign that lost the customers.")
    winning = ConflictCampaignSerializer(help_text="The campaign that took them.")
    reason = serializers.CharField()
    label = serializers.CharField()
    count = serializers.IntegerField(help_text="Customers lost for this reason.")


class ConflictGroupSerializer(serializers.Serializer):
    id = serializers.CharField(allow_null=True, help_text="null: head office's national sends, or no operation.")
    name = serializers.CharField()
    lost = serializers.IntegerField(help_text="Messages lost (customer × campaign).")
    customers = serializers.IntegerField(help_text="Distinct customers.")
    reasons = ReasonCountSerializer(many=True)


def _group(group: ConflictGroup) -> dict:
    return {"id": group.public_id, "name": group.name, "lost": group.lost, "customers": group.customers,
            "reasons": _reasons(group.reasons)}


class ConflictTotalsSerializer(serializers.Serializer):
    lost = serializers.IntegerField()
    customers = serializers.IntegerField()
    pairs = serializers.IntegerField(help_text="Pairs of campaigns (loser → winner).")
    reasons = ReasonCountSerializer(many=True)


class ConflictReportSerializer(serializers.Serializer):
    run = RunSerializer(allow_null=True, help_text="null: no simulation of exactly these days yet.")
    starts_on = serializers.DateField()
    ends_on = serializers.DateField()
    totals = ConflictTotalsSerializer()
    lines = ConflictLineSerializer(many=True)
    lines_total = serializers.IntegerField()
    truncated = serializers.BooleanField(help_text=f"More than {CONFLICT_LINES_LIMIT} lines: the first are listed.")
    by_branch = ConflictGroupSerializer(many=True, help_text="By the branch of the campaign that lost customers.")
    by_operation = ConflictGroupSerializer(many=True)


class NetworkConflictsApi(ScopedAPIView):
    """For a send window, which campaigns lost customers to which, how many, by reason, per branch
    and per operation — from the latest simulation of exactly those days (head office only)."""

    @extend_schema(parameters=[ConflictWindowSerializer], responses={200: ConflictReportSerializer})
    def get(self, request: Request, slug: str) -> Response:
        network = get_object_or_404(networks_planned_by(request.user), slug=slug)
        window = ConflictWindowSerializer(data=request.query_params)
        window.is_valid(raise_exception=True)
        starts_on, ends_on = window.validated_data["starts_on"], window.validated_data["ends_on"]
        run = conflict_run(fetched_by=request.user, network=network, starts_on=starts_on, ends_on=ends_on)
        report = {"run": run, "starts_on": starts_on, "ends_on": ends_on, "lines": [], "lines_total": 0,
                  "truncated": False, "by_branch": [], "by_operation": [],
                  "totals": {"lost": 0, "customers": 0, "pairs": 0, "reasons": []}}
        if run is not None:
            lines = conflict_lines(fetched_by=request.user, run=run)
            totals = conflict_totals(fetched_by=request.user, run=run)
            report |= {
                "lines": [{"losing": _campaign(line.losing), "winning": _campaign(line.winning), "reason": line.reason,
                           "label": line.reason_label, "count": line.count} for line in lines[:CONFLICT_LINES_LIMIT]],
                "lines_total": len(lines), "truncated": len(lines) > CONFLICT_LINES_LIMIT,
                "totals": {"lost": totals.lost, "customers": totals.customers, "pairs": totals.pairs,
                           "reasons": _reasons(totals.reasons)},
                "by_branch": [_group(group) for group in conflict_groups(fetched_by=request.user, run=run, by="branch")],
                "by_operation": [_group(group) for group in conflict_groups(fetched_by=request.user, run=run,
                                                                            by="operation")],
            }
        return Response(ConflictReportSerializer(report).data)
