"""REST API of the branches' review of head office's national target:
``/api/v1/operations/<public_id>/target-review/``.

GET lists, page by page, the customers of one branch (``branch``: its public id; by default the
first the caller reviews) that head office's send proposes or that the branch added, each with its
state (kept, removed, added) and the removal's reason, narrowed by ``q`` (name, e-mail, CRM id),
``state`` and ``segment``; beside the page, the branch's counts and whether the review is open.
POST removes (with a ``reason``), restores or adds one customer. Thin, like the pages: reads
through the scoping selectors (a foreign operation and a missing one both answer 404; who sees no
customer of an eligible branch gets 404 too), writes through ``central.campaigns.target_review``'s
services (400 by field, 403 for who sees the customer but does not act for their branch).
"""

from __future__ import annotations

from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from central.calendar.selectors import operation_get
from central.campaigns.target_review import review_add, review_remove, review_restore
from central.campaigns.target_review_selectors import (
    STATES,
    review_branches,
    review_counts,
    review_deadline,
    review_is_open,
    review_list,
)
from central.customers.selectors import customers_visible_to
from central.models import Customer, NationalTargetReview
from config.pagination import DefaultPagination
from local_stores.api_base import ScopedAPIView
from local_stores.selectors import node_in_scope


class ReviewRowOutputSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    name = serializers.CharField(source="full_name")
    crm_id = serializers.CharField(source="external_id")
    state = serializers.CharField(source="review_state", help_text="kept, removed or added")
    reason = serializers.CharField(source="review_reason", allow_null=True,
                                   help_text="why the branch removed the customer (removed only)")

    class Meta:
        model = Customer
        fields = ["id", "name", "crm_id", "email", "segment", "state", "reason"]


class ReviewCountsOutputSerializer(serializers.Serializer):
    branch = serializers.CharField(source="branch.public_id")
    branch_name = serializers.CharField(source="branch.name")
    kept = serializers.IntegerField()
    removed = serializers.IntegerField()
    added = serializers.IntegerField()


class ReviewBranchOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()


class ReviewListOutputSerializer(serializers.Serializer):
    branch = ReviewBranchOutputSerializer()
    open = serializers.BooleanField(help_text="whether the branch may still review")
    deadline = serializers.DateField(allow_null=True, help_text="the last day of the review")
    counts = ReviewCountsOutputSerializer(allow_null=True)
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ReviewRowOutputSerializer(many=True)


class ReviewChangeInputSerializer(serializers.Serializer):
    customer = serializers.CharField(max_length=40, help_text="the customer's public id")
    action = serializers.ChoiceField(choices=["remove", "restore", "add"])
    reason = serializers.ChoiceField(choices=NationalTargetReview.RemovalReason.choices, required=False,
                                     allow_blank=True, help_text="required to remove a proposed customer")


class ReviewChangeOutputSerializer(serializers.Serializer):
    customer = serializers.CharField()
    state = serializers.CharField(help_text="kept, removed, added, or out (an added customer taken back out)")
    reason = serializers.CharField(allow_blank=True)
    counts = ReviewCountsOutputSerializer()


def _branches(request: Request, operation):
    branches = list(review_branches(request.user, operation))
    if not branches:
        raise Http404
    return branches


class TargetReviewApi(ScopedAPIView):
    def _context(self, request: Request, public_id: str):
        operation = operation_get(fetched_by=request.user, public_id=public_id)
        branches = _branches(request, operation)
        wanted = request.query_params.get("branch", "")
        branch = next((b for b in branches if b.public_id == wanted), None) if wanted else branches[0]
        if branch is None:  # another branch's review, or no such branch: the same 404
            raise Http404
        state = request.query_params.get("state", "")
        if state and state not in STATES:
            raise ValidationError({"state": [_("Choose kept, removed or added.")]})
        return operation, branch, state

    @extend_schema(
        parameters=[
            OpenApiParameter("branch", OpenApiTypes.STR, OpenApiParameter.QUERY, required=False,
                             description="a branch's public id (default: the first the caller reviews)"),
            OpenApiParameter("q", OpenApiTypes.STR, OpenApiParameter.QUERY, required=False,
                             description="name, e-mail or CRM id"),
            OpenApiParameter("state", OpenApiTypes.STR, OpenApiParameter.QUERY, required=False, enum=list(STATES)),
            OpenApiParameter("segment", OpenApiTypes.STR, OpenApiParameter.QUERY, required=False),
            OpenApiParameter("page", OpenApiTypes.INT, OpenApiParameter.QUERY, required=False),
            OpenApiParameter("page_size", OpenApiTypes.INT, OpenApiParameter.QUERY, required=False),
        ],
        responses={200: ReviewListOutputSerializer},
    )
    def get(self, request: Request, public_id: str) -> Response:
        """The branch's review list, page by page, with its counts and the review's deadline."""
        operation, branch, state = self._context(request, public_id)
        params = request.query_params
        rows = review_list(fetched_by=request.user, operation=operation, branch=branch,
                           search=params.get("q", "")[:100], state=state, segment=params.get("segment", "")[:32])
        paginator = DefaultPagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        listed = paginator.get_paginated_response(ReviewRowOutputSerializer(page, many=True).data).data
        counts = review_counts(fetched_by=request.user, operation=operation, branches=[branch])
        deadline = review_deadline(operation)
        return Response({
            "branch": {"id": branch.public_id, "name": branch.name},
            "open": review_is_open(operation), "deadline": deadline.isoformat() if deadline else None,
            "counts": ReviewCountsOutputSerializer(counts[0]).data if counts else None,
            **listed,
        })

    @extend_schema(request=ReviewChangeInputSerializer, responses={200: ReviewChangeOutputSerializer})
    def post(self, request: Request, public_id: str) -> Response:
        """Remove (with a reason), restore or add one customer of a branch the caller acts for."""
        operation = operation_get(fetched_by=request.user, public_id=public_id)
        branches = _branches(request, operation)
        if not any(node_in_scope(request.user, branch, perm="change_node") for branch in branches):
            raise PermissionDenied(_("You do not act for any branch of this operation."))
        data = ReviewChangeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reference = data.validated_data["customer"].strip()
        customer = (customers_visible_to(request.user).filter(branch__in=[b.pk for b in branches],
                                                               erased_at__isnull=True)
                    .select_related("branch").filter(public_id=reference).first())
        if customer is None:
            raise ValidationError({"customer": [_("None of your customers has the id “%(id)s”.") % {"id": reference}]})
        action = data.validated_data["action"]
        if action == "remove":
            review_remove(operation=operation, customer=customer, reason=data.validated_data.get("reason", ""),
                          by=request.user)
        elif action == "restore":
            review_restore(operation=operation, customer=customer, by=request.user)
        else:
            review_add(operation=operation, customer=customer, by=request.user)
        row = review_list(fetched_by=request.user, operation=operation, branch=customer.branch).filter(
            pk=customer.pk).first()
        counts = review_counts(fetched_by=request.user, operation=operation, branches=[customer.branch])
        return Response(ReviewChangeOutputSerializer({
            "customer": customer.public_id, "state": row.review_state if row else "out",
            "reason": (row.review_reason or "") if row else "", "counts": counts[0],
        }).data)
