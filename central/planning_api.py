"""REST API of the national calendar: operations, the branches' answers and campaigns.

Thin, like the pages: every read goes through central's scoping selectors, so a foreign object and
a missing one both answer 404; every write goes through central's services, whose Django
``ValidationError`` becomes a 400 by field (and changes nothing: the services are atomic) and whose
``PermissionDenied`` becomes a 403, which only happens on an object the caller sees but may not
change. Objects are named by their public id, never by their database key.
"""

from __future__ import annotations

from datetime import date

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from central.calendar.selectors import (
    networks_planned_by,
    operation_eligible_branches,
    operation_get,
    operations_visible_to,
    participations_of,
)
from central.calendar.services import operation_publish, operation_save, participation_answer
from central.campaigns.selectors import (
    campaign_allowed_criteria,
    campaign_audience,
    campaign_audience_count,
    campaign_can_edit,
    campaign_clashes,
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
    Operation,
    OperationMode,
    OperationStatus,
    Participation,
    ParticipationStatus,
    TargetOverride,
)
from central.serializers import (
    CampaignDetailOutputSerializer,
    CampaignOutputSerializer,
    CampaignUpdateInputSerializer,
)
from local_stores.api_base import ScopedAPIView, ScopedListAPIView, ScopedRetrieveAPIView
from local_stores.models import Node
from local_stores.selectors import branches_visible_to, node_in_scope, nodes_visible_to
from templates_lib.models import TemplateVersion
from templates_lib.selectors import version_get

#: Query parameters that are never targeting criteria (DRF's format override).
_NOT_CRITERIA = {"format"}


def _require_campaign_editor(user, campaign: Campaign) -> None:
    """403 before the body is even read, for a visible campaign the caller may not change."""
    if not campaign_can_edit(user, campaign):
        raise PermissionDenied(_("You may not change this campaign."))


def _require_planner(user, operation: Operation) -> None:
    if not networks_planned_by(user).filter(pk=operation.network_id).exists():
        raise PermissionDenied(_("You do not plan the calendar of this network."))


# --- Operations ------------------------------------------------------------------------------------


class OperationNodeOutputSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    kind = serializers.CharField(help_text="region or branch")

    class Meta:
        model = Node
        fields = ["id", "kind", "code", "name"]


class OperationTemplateVersionOutputSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    template = serializers.CharField(source="template.public_id")
    name = serializers.CharField(source="template.name")
    kind = serializers.CharField(source="template.kind")

    class Meta:
        model = TemplateVersion
        fields = ["id", "template", "name", "kind", "number"]


class OperationOutputSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    network = serializers.CharField(source="network.slug")
    channels = serializers.ListField(child=serializers.CharField())
    allowed_criteria = serializers.ListField(child=serializers.CharField())
    template_versions = OperationTemplateVersionOutputSerializer(many=True)
    eligible_nodes = serializers.SerializerMethodField()
    eligible_branches = serializers.SerializerMethodField()

    class Meta:
        model = Operation
        fields = [
            "id", "network", "name", "theme", "description", "channels", "mode", "opt_out_allowed",
            "send_from", "send_until", "subscription_deadline", "is_pilot", "allowed_criteria", "national_priority",
            "holdout_percent", "cofunding_percent", "template_versions", "eligible_nodes", "eligible_branches", "status", "created_at", "published_at",
        ]

    @extend_schema_field(OperationNodeOutputSerializer(many=True))
    def get_eligible_nodes(self, operation: Operation) -> list[dict]:
        """The eligible regions and branches, as far as the caller sees them."""
        user = self.context["request"].user
        nodes = [node for node in operation.eligible_nodes.all() if node_in_scope(user, node)]
        return OperationNodeOutputSerializer(sorted(nodes, key=lambda node: node.path), many=True).data

    @extend_schema_field(OperationNodeOutputSerializer(many=True))
    def get_eligible_branches(self, operation: Operation) -> list[dict]:
        """The branches the operation is open to, among those the caller sees (where they may answer)."""
        user = self.context["request"].user
        branches = operation_eligible_branches(operation).filter(pk__in=branches_visible_to(user)).order_by("name")
        return OperationNodeOutputSerializer(branches, many=True).data


class OperationFieldsInputSerializer(serializers.Serializer):
    """The fields of an operation. Channels, criteria, dates and eligibility are checked together by
    the service, which answers by field."""

    name = serializers.CharField(max_length=120)
    theme = serializers.CharField(max_length=80, required=False, allow_blank=True, default="")
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    channels = serializers.ListField(child=serializers.CharField(max_length=8), max_length=3)
    mode = serializers.ChoiceField(choices=OperationMode.choices)
    opt_out_allowed = serializers.BooleanField(required=False, default=False)
    send_from = serializers.DateField()
    send_until = serializers.DateField()
    subscription_deadline = serializers.DateField(required=False, allow_null=True, default=None)
    is_pilot = serializers.BooleanField(required=False, default=False)
    national_priority = serializers.BooleanField(
        required=False, default=False,
        help_text="An exception to the network's priority order: this operation's messages go first.")
    holdout_percent = serializers.IntegerField(
        required=False, default=0,
        help_text="The share (0 to 50 %) of each campaign's selected customers held out at random as its control "
                  "group: they receive nothing, and their purchases measure the campaign's effect.")
    cofunding_percent = serializers.IntegerField(
        required=False, default=0,
        help_text="Co-funding: the share (0 to 100 %) of its campaigns' cost head office pays for the branches.")
    allowed_criteria = serializers.ListField(
        child=serializers.CharField(max_length=40), max_length=len(TARGETING_CRITERIA) + 5, required=False,
        default=list,
    )
    template_versions = serializers.ListField(
        child=serializers.CharField(max_length=24), max_length=20, required=False, default=list,
        help_text="Public ids of published template versions of the operation's network.",
    )
    eligible_nodes = serializers.ListField(
        child=serializers.CharField(max_length=24), max_length=500, required=False, default=list,
        help_text="Public ids of regions or branches; none means the whole network.",
    )


class OperationCreateInputSerializer(OperationFieldsInputSerializer):
    network = serializers.SlugField(max_length=50, help_text="The slug (or public id) of a network you plan.")


def _resolve_references(user, data: dict, errors: dict[str, list[str]]) -> dict[str, list]:
    """The template versions and eligible nodes named in ``data``, looked up among what ``user``
    sees; an unknown id (missing or foreign alike) is an error of its field."""
    resolved: dict[str, list] = {}
    if "template_versions" in data:
        versions, unknown = [], []
        for public_id in dict.fromkeys(data["template_versions"]):
            try:
                versions.append(version_get(fetched_by=user, public_id=public_id))
            except Http404:
                unknown.append(public_id)
        if unknown:
            errors["template_versions"] = [
                _("No template version you may use has the id “%(id)s”.") % {"id": public_id} for public_id in unknown
            ]
        resolved["template_versions"] = versions
    if "eligible_nodes" in data:
        wanted = list(dict.fromkeys(data["eligible_nodes"]))
        nodes = {node.public_id: node for node in nodes_visible_to(user).filter(public_id__in=wanted)}
        unknown = [public_id for public_id in wanted if public_id not in nodes]
        if unknown:
            errors["eligible_nodes"] = [
                _("No region or branch you see has the id “%(id)s”.") % {"id": public_id} for public_id in unknown
            ]
        resolved["eligible_nodes"] = [nodes[public_id] for public_id in wanted if public_id in nodes]
    return resolved


def _operation_for_output(user, operation: Operation) -> Operation:
    return operations_visible_to(user).prefetch_related("template_versions__template", "eligible_nodes").get(
        pk=operation.pk
    )


class OperationListApi(ScopedListAPIView):
    """Operations the caller sees: every operation of the networks they plan, the published ones
    open to one of their branches for everyone else. Filters: ``year`` (send window meets that
    year), ``status``, ``mode``. POST creates a draft (calendar planners only)."""

    serializer_class = OperationOutputSerializer
    filter_backends: list = []
    scoping_selector = operations_visible_to
    scoped_model = Operation

    class OperationListFilterSerializer(serializers.Serializer):
        year = serializers.IntegerField(required=False, min_value=2000, max_value=2100)
        status = serializers.ChoiceField(choices=OperationStatus.choices, required=False)
        mode = serializers.ChoiceField(choices=OperationMode.choices, required=False)

    @extend_schema(parameters=[OperationListFilterSerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def narrow(self, operations: QuerySet[Operation]) -> QuerySet[Operation]:
        filters = self.OperationListFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        if "year" in data:
            operations = operations.filter(send_from__lte=date(data["year"], 12, 31),
                                           send_until__gte=date(data["year"], 1, 1))
        if "status" in data:
            operations = operations.filter(status=data["status"])
        if "mode" in data:
            operations = operations.filter(mode=data["mode"])
        return operations.prefetch_related("template_versions__template", "eligible_nodes").order_by(
            "send_from", "name", "id"
        )

    @extend_schema(request=OperationCreateInputSerializer, responses={201: OperationOutputSerializer})
    def post(self, request: Request) -> Response:
        # Someone who plans no calendar at all is refused with 403, not 404: the collection is
        # theirs to read (GET answers 200), only creating in it is not.
        planned = networks_planned_by(request.user)
        if not planned.exists():
            raise PermissionDenied(_("You do not plan the calendar of any network."))
        data = OperationCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        wanted_network = fields.pop("network")
        errors: dict[str, list[str]] = {}
        network = planned.filter(Q(slug=wanted_network) | Q(public_id=wanted_network)).first()
        if network is None:
            errors["network"] = [_("You plan no network with this slug.")]
        references = _resolve_references(request.user, fields, errors)
        if errors:
            raise ValidationError(errors)
        fields.pop("template_versions")
        fields.pop("eligible_nodes")
        operation = operation_save(network=network, saved_by=request.user, **references, **fields)
        output = OperationOutputSerializer(_operation_for_output(request.user, operation),
                                                 context={"request": request})
        return Response(output.data, status=status.HTTP_201_CREATED)


class OperationDetailApi(ScopedRetrieveAPIView):
    """One operation, with the eligible branches the caller sees. PATCH changes a draft (calendar
    planners only; a published operation never changes: 400)."""

    serializer_class = OperationOutputSerializer

    def get_object(self) -> Operation:
        operation = operation_get(fetched_by=self.request.user, public_id=self.kwargs["public_id"])
        return _operation_for_output(self.request.user, operation)

    @extend_schema(request=OperationFieldsInputSerializer, responses={200: OperationOutputSerializer})
    def patch(self, request: Request, public_id: str) -> Response:
        operation = operation_get(fetched_by=request.user, public_id=public_id)
        _require_planner(request.user, operation)
        data = OperationFieldsInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        errors: dict[str, list[str]] = {}
        references = _resolve_references(request.user, fields, errors)
        if errors:
            raise ValidationError(errors)
        fields.pop("template_versions", None)
        fields.pop("eligible_nodes", None)
        # operation_save replaces both lists: what the request leaves out is kept as it is.
        references.setdefault("template_versions", list(operation.template_versions.select_related("template")))
        references.setdefault("eligible_nodes", list(operation.eligible_nodes.all()))
        operation_save(network=operation.network, saved_by=request.user, operation=operation,
                       **references, **fields)
        output = OperationOutputSerializer(_operation_for_output(request.user, operation),
                                                 context={"request": request})
        return Response(output.data)


class OperationPublishApi(ScopedAPIView):
    """Publish a draft operation to its eligible branches (calendar planners); a mandatory one
    enrols them at once."""

    @extend_schema(request=None, responses={200: OperationOutputSerializer})
    def post(self, request: Request, public_id: str) -> Response:
        operation = operation_get(fetched_by=request.user, public_id=public_id)
        operation_publish(operation=operation, published_by=request.user)
        output = OperationOutputSerializer(_operation_for_output(request.user, operation),
                                                 context={"request": request})
        return Response(output.data)


# --- Participations --------------------------------------------------------------------------------


class ParticipationOutputSerializer(serializers.ModelSerializer):
    branch = serializers.CharField(source="branch.public_id")
    branch_code = serializers.CharField(source="branch.code")
    branch_name = serializers.CharField(source="branch.name")
    status = serializers.CharField(help_text="joined, declined, enrolled or opted_out")

    class Meta:
        model = Participation
        fields = ["branch", "branch_code", "branch_name", "status", "decided_at"]


class ParticipationAnswerInputSerializer(serializers.Serializer):
    branch = serializers.CharField(max_length=24, help_text="The public id of a branch you act for.")
    status = serializers.ChoiceField(choices=ParticipationStatus.choices)


class ParticipationListApi(ScopedListAPIView):
    """The answers to an operation of the branches the caller sees. POST answers for one branch:
    join or decline an opt-in operation, opt out of a mandatory one (when allowed), before the
    subscription deadline. Declining or opting out cancels the branch's drafts of the operation only:
    while one of its campaigns of it awaits approval, is approved, scheduled, sending or paused, it
    answers 400 on ``status``, naming them (cancel or finish them first). A branch the caller does
    not see answers 404, like a missing one."""

    serializer_class = ParticipationOutputSerializer
    filter_backends: list = []

    scoping_selector = participations_of
    scoped_model = Participation

    def scoping_arguments(self) -> dict:
        return {"operation": operation_get(fetched_by=self.request.user, public_id=self.kwargs["public_id"])}

    def narrow(self, participations: QuerySet[Participation]) -> QuerySet[Participation]:
        return participations.order_by("branch__name", "id")

    @extend_schema(request=ParticipationAnswerInputSerializer, responses={200: ParticipationOutputSerializer})
    def post(self, request: Request, public_id: str) -> Response:
        operation = operation_get(fetched_by=request.user, public_id=public_id)
        data = ParticipationAnswerInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        branch = branches_visible_to(request.user).filter(public_id=data.validated_data["branch"]).first()
        if branch is None:
            raise Http404
        participation = participation_answer(operation=operation, branch=branch,
                                             status=data.validated_data["status"], answered_by=request.user)
        return Response(ParticipationOutputSerializer(participation).data)


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
