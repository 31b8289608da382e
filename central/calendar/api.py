"""REST API of the national calendar: operations and the branches' answers (participations).
The campaigns' API is ``central.campaigns.api``.

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
from drf_spectacular.utils import extend_schema, extend_schema_field
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
from central.models import (
    TARGETING_CRITERIA,
    Operation,
    OperationMode,
    OperationStatus,
    Participation,
    ParticipationStatus,
)
from local_stores.api_base import ScopedAPIView, ScopedListAPIView, ScopedRetrieveAPIView
from local_stores.models import Node
from local_stores.selectors import branches_visible_to, node_in_scope, nodes_visible_to
from templates_lib.models import TemplateVersion
from templates_lib.selectors import version_get


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
