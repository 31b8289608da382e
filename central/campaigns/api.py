"""REST API of campaigns: national and local campaigns, their audience, clashes, target changes,
history and cancellation. The calendar's operations are ``central.calendar.api``; the campaign
serializers shared with approvals' API are ``central.serializers``.

Thin, like the pages: every read goes through central's scoping selectors, so a foreign object and
a missing one both answer 404; every write goes through central's services, whose Django
``ValidationError`` becomes a 400 by field (and changes nothing: the services are atomic) and whose
``PermissionDenied`` becomes a 403, which only happens on an object the caller sees but may not
change. Objects are named by their public id, never by their database key.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from central.calendar.selectors import operation_get
from central.campaigns.clashes import campaign_clashes
from central.campaigns.selectors import (
    campaign_allowed_criteria,
    campaign_audience,
    campaign_audience_count,
    campaign_can_edit,
    campaign_customers_visible,
    campaign_get,
    campaign_history,
    campaign_list,
)
from central.campaigns.services import (
    campaign_cancel,
    campaign_target_change,
    campaign_update,
    kit_use,
    national_campaign_create,
)
from central.campaigns.targeting import criteria_clean
from central.models import (
    TARGETING_CRITERIA,
    Campaign,
    CampaignEvent,
    CampaignStatus,
    Customer,
    TargetOverride,
)
from central.serializers import (
    CampaignDetailOutputSerializer,
    CampaignOutputSerializer,
    CampaignUpdateInputSerializer,
)
from local_stores.api_base import ScopedAPIView, ScopedListAPIView, ScopedRetrieveAPIView
from local_stores.selectors import branches_visible_to

#: Query parameters that are never targeting criteria (DRF's format override).
_NOT_CRITERIA = {"format"}


def _require_campaign_editor(user, campaign: Campaign) -> None:
    """403 before the body is even read, for a visible campaign the caller may not change."""
    if not campaign_can_edit(user, campaign):
        raise PermissionDenied(_("You may not change this campaign."))


# --- Campaigns -------------------------------------------------------------------------------------


class CampaignCreateInputSerializer(serializers.Serializer):
    operation = serializers.CharField(max_length=24, help_text="The public id of a published operation.")
    branch = serializers.CharField(
        max_length=24, required=False, allow_blank=True, allow_null=True, default="",
        help_text="The branch using a kit; leave it out for a national campaign (calendar planners).",
    )
    template_version = serializers.CharField(max_length=24, help_text="One of the operation's template versions.")


def _campaign_output(request: Request, campaign: Campaign) -> dict:
    campaign = campaign_get(fetched_by=request.user, public_id=campaign.public_id)
    return CampaignDetailOutputSerializer(campaign, context={"request": request}).data


class CampaignListApi(ScopedListAPIView):
    """Campaigns the caller sees: those of their branches, and the national ones of the networks
    whose calendar they plan. Filters: ``operation``, ``branch`` (public ids), ``status`` (cancelled
    campaigns are left out unless asked for). POST creates one: a branch uses a kit, or a planner
    plans a national send (no branch)."""

    serializer_class = CampaignOutputSerializer
    filter_backends: list = []

    class CampaignListFilterSerializer(serializers.Serializer):
        operation = serializers.CharField(required=False, allow_blank=True, max_length=24)
        branch = serializers.CharField(required=False, allow_blank=True, max_length=24)
        status = serializers.ChoiceField(choices=CampaignStatus.choices, required=False)

    @extend_schema(parameters=[CampaignListFilterSerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    scoping_selector = campaign_list
    scoped_model = Campaign

    def _filters(self) -> dict:
        filters = self.CampaignListFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return filters.validated_data

    def scoping_arguments(self) -> dict:
        return {"include_cancelled": "status" in self._filters()}

    def narrow(self, campaigns: QuerySet[Campaign]) -> QuerySet[Campaign]:
        data = self._filters()
        # Filtering the scoped list by public id: a foreign operation or branch gives an empty list.
        if "status" in data:
            campaigns = campaigns.filter(status=data["status"])
        if data.get("operation"):
            campaigns = campaigns.filter(operation__public_id=data["operation"])
        if data.get("branch"):
            campaigns = campaigns.filter(branch__public_id=data["branch"])
        return campaigns

    @extend_schema(request=CampaignCreateInputSerializer, responses={201: CampaignDetailOutputSerializer})
    def post(self, request: Request) -> Response:
        data = CampaignCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        operation = operation_get(fetched_by=request.user, public_id=data.validated_data["operation"])
        version = operation.template_versions.filter(public_id=data.validated_data["template_version"]).first()
        branch = None
        if data.validated_data["branch"]:
            branch = branches_visible_to(request.user).filter(public_id=data.validated_data["branch"]).first()
            if branch is None:
                raise Http404
        if version is None:
            raise ValidationError({"template_version": [_("Choose one of the operation's templates.")]})
        if branch is None:
            campaign = national_campaign_create(operation=operation, template_version=version,
                                                created_by=request.user)
        else:
            campaign = kit_use(operation=operation, branch=branch, template_version=version,
                               used_by=request.user)
        return Response(_campaign_output(request, campaign), status=status.HTTP_201_CREATED)


class CampaignDetailApi(ScopedRetrieveAPIView):
    """One campaign, with its audience count, edit deadline, allowed criteria and whether the caller
    may change it. PATCH customises a draft: slot values, send date, target criteria, all or
    nothing."""

    serializer_class = CampaignDetailOutputSerializer

    def get_object(self) -> Campaign:
        return campaign_get(fetched_by=self.request.user, public_id=self.kwargs["public_id"])

    @extend_schema(request=CampaignUpdateInputSerializer, responses={200: CampaignDetailOutputSerializer})
    def patch(self, request: Request, public_id: str) -> Response:
        campaign = campaign_get(fetched_by=request.user, public_id=public_id)
        _require_campaign_editor(request.user, campaign)
        data = CampaignUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        campaign_update(campaign=campaign, updated_by=request.user, **data.validated_data)
        return Response(_campaign_output(request, campaign))


class AudienceCustomerOutputSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")

    class Meta:
        model = Customer
        fields = ["id", "first_name", "last_name"]


class CampaignAudienceApi(ScopedListAPIView):
    """The proposed list of a campaign, page by page: the reachable own customers matching its
    criteria, minus those removed, plus those added. 404 for who does not see those customers."""

    serializer_class = AudienceCustomerOutputSerializer
    filter_backends: list = []

    scoping_selector = campaign_audience
    scoped_model = Customer

    def scoping_arguments(self) -> dict:
        campaign = campaign_get(fetched_by=self.request.user, public_id=self.kwargs["public_id"])
        if not campaign_customers_visible(self.request.user, campaign):
            raise Http404
        return {"campaign": campaign}

    def narrow(self, customers: QuerySet[Customer]) -> QuerySet[Customer]:
        return customers.order_by("last_name", "first_name", "id")


class AudienceCountOutputSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    criteria = serializers.DictField(help_text="The criteria counted, as cleaned.")


class CampaignAudienceCountApi(ScopedAPIView):
    """How many customers the campaign would reach with the criteria given as query parameters
    (``segment``, ``interest``, ``bought_within_days``, ``min_rfm``, ``postal_code_prefix``; an
    empty one is not used), nothing saved; with no parameter, its saved criteria. Criteria the
    operation does not allow, or unsound values, answer 400 keyed by parameter."""

    @extend_schema(
        parameters=[
            OpenApiParameter(name, OpenApiTypes.STR, OpenApiParameter.QUERY, required=False)
            for name in TARGETING_CRITERIA
        ],
        responses={200: AudienceCountOutputSerializer},
    )
    def get(self, request: Request, public_id: str) -> Response:
        campaign = campaign_get(fetched_by=request.user, public_id=public_id)
        if not campaign_customers_visible(request.user, campaign):
            raise Http404
        raw = {name: request.query_params.get(name) for name in request.query_params if name not in _NOT_CRITERIA}
        criteria = None
        if raw:
            criteria = criteria_clean(raw, allowed=campaign_allowed_criteria(campaign))
        count = campaign_audience_count(fetched_by=request.user, campaign=campaign, criteria=criteria)
        return Response(AudienceCountOutputSerializer(
            {"count": count, "criteria": campaign.target_criteria if criteria is None else criteria}
        ).data)


class ClashOutputSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="campaign, blackout, local_reserved or pressure")
    label = serializers.CharField()
    send_date = serializers.DateField(allow_null=True)
    overlap = serializers.IntegerField(
        allow_null=True, help_text="Customers in common (campaign); customers the pressure rules are expected to "
                                   "exclude, per the latest simulation of that day (pressure).")
    blocking = serializers.BooleanField()


class CampaignClashesApi(ScopedAPIView):
    """What collides with the campaign if sent on ``send_date`` (default: its own): blackout periods
    (blocking), periods reserved for local campaigns (national ones), and campaigns on the same
    channel within a few days with customers in common (counted among those the caller sees)."""

    class ClashQuerySerializer(serializers.Serializer):
        send_date = serializers.DateField(required=False)

    @extend_schema(parameters=[ClashQuerySerializer], responses={200: ClashOutputSerializer(many=True)})
    def get(self, request: Request, public_id: str) -> Response:
        campaign = campaign_get(fetched_by=request.user, public_id=public_id)
        query = self.ClashQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        clashes = campaign_clashes(fetched_by=request.user, campaign=campaign,
                                   send_date=query.validated_data.get("send_date"))
        return Response(ClashOutputSerializer(clashes, many=True).data)


class TargetChangeInputSerializer(serializers.Serializer):
    customer = serializers.CharField(max_length=24, help_text="The public id of one of the branch's customers.")
    action = serializers.ChoiceField(choices=[("exclude", "exclude"), ("include", "include"), ("reset", "reset")])


class TargetChangeOutputSerializer(serializers.Serializer):
    customer = serializers.CharField()
    override = serializers.ChoiceField(choices=TargetOverride.Action.choices, allow_null=True,
                                       help_text="null: the criteria decide again.")
    audience_count = serializers.IntegerField()


class CampaignTargetApi(ScopedAPIView):
    """Remove one of the branch's own customers from the proposed list, add one the criteria left
    out, or undo either (``exclude``, ``include``, ``reset``), until the edit deadline."""

    @extend_schema(request=TargetChangeInputSerializer, responses={200: TargetChangeOutputSerializer})
    def post(self, request: Request, public_id: str) -> Response:
        campaign = campaign_get(fetched_by=request.user, public_id=public_id)
        _require_campaign_editor(request.user, campaign)
        data = TargetChangeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        override = campaign_target_change(campaign=campaign, customer_public_id=data.validated_data["customer"],
                                          action=data.validated_data["action"], changed_by=request.user)
        return Response(TargetChangeOutputSerializer({
            "customer": data.validated_data["customer"].strip(),
            "override": override.action if override else None,
            "audience_count": campaign_audience_count(fetched_by=request.user, campaign=campaign),
        }).data)


class CampaignEventOutputSerializer(serializers.ModelSerializer):
    by = serializers.SerializerMethodField()
    changes = serializers.SerializerMethodField()

    class Meta:
        model = CampaignEvent
        fields = ["action", "changes", "by", "at"]

    def get_by(self, event: CampaignEvent) -> str | None:
        if event.by is None:
            return None
        return event.by.get_full_name() or event.by.get_username()

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_changes(self, event: CampaignEvent) -> dict:
        # A target change names a customer: shown only to who sees the campaign's customers.
        if event.action.startswith("target_") and not self.context.get("sees_customers"):
            return {}
        return event.changes


class CampaignHistoryApi(ScopedListAPIView):
    """The audit trail of a campaign, newest first: creation, customisation (before and after),
    target changes, cancellation."""

    serializer_class = CampaignEventOutputSerializer
    filter_backends: list = []

    scoped_model = CampaignEvent
    unscoped_queryset_because = "the trail of one campaign, itself fetched through campaign_get (404 if not seen)"

    def unscoped_queryset(self) -> QuerySet[CampaignEvent]:
        self.campaign = campaign_get(fetched_by=self.request.user, public_id=self.kwargs["public_id"])
        return campaign_history(campaign=self.campaign)

    def get_serializer_context(self) -> dict:
        context = super().get_serializer_context()
        campaign = getattr(self, "campaign", None)
        context["sees_customers"] = campaign is not None and campaign_customers_visible(self.request.user, campaign)
        return context


class CampaignCancelApi(ScopedAPIView):
    """Cancel a campaign still being prepared, before its edit deadline."""

    @extend_schema(request=None, responses={200: CampaignDetailOutputSerializer})
    def post(self, request: Request, public_id: str) -> Response:
        campaign = campaign_get(fetched_by=request.user, public_id=public_id)
        campaign_cancel(campaign=campaign, cancelled_by=request.user)
        return Response(_campaign_output(request, campaign))
