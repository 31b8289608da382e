"""REST API of the budgets, scoped like the page (``budgets_visible_to``): GET lists where each
budget of a period stands; POST (head office) allocates one to a branch or a region."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from central.budgets import costs as budgets
from central.budgets.selectors import budgets_overlapping
from central.budgets.services import budget_allocate
from central.calendar.selectors import networks_planned_by
from local_stores.api_base import ScopedAPIView
from local_stores.models import Node, NodeKind


class BudgetOutputSerializer(serializers.Serializer):
    def to_representation(self, row: budgets.BudgetStatus) -> dict:
        budget = row.budget
        return {"id": budget.public_id, "branch": budget.branch.public_id, "branch_name": budget.branch.name,
                "region": budget.region.public_id if budget.region else None, "starts_on": budget.starts_on,
                "ends_on": budget.ends_on, "note": budget.note,
                # amounts as strings to the cent, like every decimal of the API
                **{name: f"{value:.2f}" for name, value in (("allocated", budget.amount), ("committed", row.committed),
                                                              ("spent", row.spent), ("remaining", row.remaining))}}


class BudgetQuerySerializer(serializers.Serializer):
    starts_on = serializers.DateField(required=False)
    ends_on = serializers.DateField(required=False)

    def validate(self, data):
        today = timezone.localdate()
        data.setdefault("starts_on", today.replace(month=1, day=1))
        data.setdefault("ends_on", today.replace(month=12, day=31))
        if data["ends_on"] < data["starts_on"]:
            raise serializers.ValidationError({"ends_on": [_("The last day comes before the first.")]})
        return data


class BudgetAllocateInputSerializer(serializers.Serializer):
    node = serializers.CharField(max_length=24, help_text="The public id of a branch, or of a region (split equally).")
    starts_on = serializers.DateField()
    ends_on = serializers.DateField()
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class BudgetListApi(ScopedAPIView):
    """The budgets of the branches the caller sees over a period (this year by default): allocated,
    committed (approved campaigns, estimated), spent (sent campaigns, actual) and remaining. POST:
    head office allocates a budget to a branch, or to a region split equally among its branches."""

    @extend_schema(parameters=[OpenApiParameter("starts_on", str), OpenApiParameter("ends_on", str)],
                   responses={200: BudgetOutputSerializer(many=True)})
    def get(self, request: Request) -> Response:
        query = BudgetQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = budgets_overlapping(request.user, **query.validated_data)
        return Response([BudgetOutputSerializer().to_representation(budgets.budget_status(budget)) for budget in rows])

    @extend_schema(request=BudgetAllocateInputSerializer, responses={201: BudgetOutputSerializer(many=True)})
    def post(self, request: Request) -> Response:
        data = BudgetAllocateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        networks = networks_planned_by(request.user)
        node = Node.objects.filter(network__in=networks, public_id=data.validated_data["node"],
                                   kind__in=[NodeKind.BRANCH, NodeKind.REGION]).select_related("network").first()
        if node is None:
            raise ValidationError({"node": [_("No branch or region of a network you plan has this id.")]})
        fields = {key: value for key, value in data.validated_data.items() if key != "node"}
        created = budget_allocate(network=node.network, node=node, allocated_by=request.user, **fields)
        return Response([BudgetOutputSerializer().to_representation(budgets.budget_status(budget)) for budget in created],
                        status=status.HTTP_201_CREATED)
