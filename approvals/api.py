"""REST API of approvals (/api/v1/proofs/, /api/v1/approval-policies/, /api/v1/approval-audit/).

Thin, like the pages: every read goes through the approvals selectors (``proofs_visible_to``,
``proof_get``, ``policies_visible_to``, ``audit_visible_to``) and the campaigns through
``central.campaigns.selectors.campaign_get``, so a foreign object and a missing one both answer 404, files
included. Every write goes through a service: its ``ValidationError`` becomes a 400 by field
(nothing changed: the services are atomic), its ``PermissionDenied`` a 403 with its message, which
only happens on an object the caller sees but may not act on. A proof or campaign no longer in the
state the action needs (another request came first: an edit voided the proof, someone decided or
revoked it) answers 409 with the reason (``StateConflict``). Objects are named by public id.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response

from approvals.deciders import (
    decision_conflict,
    decision_refusal,
    revoke_conflict,
    revoke_permitted,
    revoke_refusal,
)
from approvals.models import (
    ApprovalPolicy,
    AuditAction,
    AuditEntry,
    ChangeLevel,
    Decision,
    Origin,
    Proof,
    ProofStatus,
    StepLevel,
    Verdict,
)
from approvals.policies import policy_save
from approvals.requesting import proof_request_with_values
from approvals.selectors import (
    audit_visible_to,
    networks_setting_policies,
    pending_proofs_for,
    policies_visible_to,
    proof_decisions,
    proof_get,
    proofs_of_campaign,
    proofs_visible_to,
)
from approvals.services import approval_revoke, proof_decide, proof_request
from central.campaigns.selectors import campaign_can_edit, campaign_get
from central.campaigns.services import campaign_schedule
from central.models import Channel
from central.serializers import CampaignDetailOutputSerializer, CampaignUpdateInputSerializer
from local_stores.api_base import ScopedAPIView, ScopedListAPIView, ScopedRetrieveAPIView
from local_stores.models import Role
from local_stores.services import StateConflict

#: The frozen e-mail is someone else's HTML: shown sandboxed, no script, no fetch but images.
CONTENT_SECURITY_POLICY = "default-src 'none'; img-src data: https: http:; style-src 'unsafe-inline'; sandbox"


def _person(user) -> str | None:
    if user is None:
        return None
    return user.get_full_name() or user.get_username()


class _IgnoreClientContentNegotiation(BaseContentNegotiation):
    """The file routes answer their own content type whatever the client accepts; errors stay JSON."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


# --- Proofs: output -----------------------------------------------------------------------------------


class ProofCampaignOutputSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    label = serializers.CharField(source="__str__")
    branch = serializers.CharField(source="branch.public_id", allow_null=True)
    branch_name = serializers.CharField(source="branch.name", allow_null=True)
    channel = serializers.CharField(help_text="email, sms or post")


class ProofOutputSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    campaign = ProofCampaignOutputSerializer()
    channel = serializers.CharField(help_text="email, sms or post")
    status = serializers.CharField(
        help_text="pending, approved, rejected, changes (requested), voided (the campaign changed) or revoked"
    )
    current_step = serializers.IntegerField(help_text="Index in steps of the step waiting for a decision.")
    requested_by = serializers.SerializerMethodField()

    class Meta:
        model = Proof
        fields = [
            "id", "number", "campaign", "channel", "status", "current_step", "send_date", "decision_deadline",
            "audience_count", "requested_by", "requested_at", "closed_at",
        ]

    def get_requested_by(self, proof: Proof) -> str | None:
        return _person(proof.requested_by)


class ProofStepOutputSerializer(serializers.Serializer):
    level = serializers.CharField(help_text="region or head_office")
    role = serializers.CharField(help_text="regional_manager or approver")
    node_name = serializers.CharField()
    quorum = serializers.IntegerField()
    approvals = serializers.IntegerField(help_text="Approvals decided on this step so far.")
    escalated = serializers.BooleanField(help_text="Its deadline passed: head-office approvers may decide it too.")


class ProofSlotOutputSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    default = serializers.JSONField(allow_null=True)
    value = serializers.JSONField(allow_null=True)
    changed = serializers.BooleanField(help_text="The branch's value differs from the template's default.")


class DecisionOutputSerializer(serializers.ModelSerializer):
    by = serializers.SerializerMethodField()
    verdict = serializers.ChoiceField(choices=Verdict.choices)
    slot_comments = serializers.DictField(child=serializers.CharField())
    at = serializers.DateTimeField(source="decided_at")

    class Meta:
        model = Decision
        fields = ["by", "step", "verdict", "comment", "slot_comments", "at"]

    def get_by(self, decision: Decision) -> str | None:
        return _person(decision.decided_by)


class ProofDetailOutputSerializer(ProofOutputSerializer):
    steps = serializers.SerializerMethodField()
    slots = serializers.SerializerMethodField()
    target_criteria = serializers.DictField()
    content_url = serializers.SerializerMethodField()
    pdf_url = serializers.SerializerMethodField()
    decisions = serializers.SerializerMethodField()
    can_decide = serializers.SerializerMethodField()
    can_revoke = serializers.SerializerMethodField()

    class Meta(ProofOutputSerializer.Meta):
        fields = [
            *ProofOutputSerializer.Meta.fields, "origin", "change_level", "steps", "target_criteria", "slots",
            "content_hash", "campaign_hash", "subject", "text", "content_url", "pdf_url", "closed_reason",
            "decisions", "can_decide", "can_revoke",
        ]

    def _decisions(self, proof: Proof) -> list[Decision]:
        cache = self.context.setdefault("_decisions", {})
        if proof.pk not in cache:
            cache[proof.pk] = list(proof_decisions(proof=proof))
        return cache[proof.pk]

    @extend_schema_field(ProofStepOutputSerializer(many=True))
    def get_steps(self, proof: Proof) -> list[dict]:
        decisions = self._decisions(proof)
        escalated = set(proof.escalated_steps or [])
        steps = [
            {"level": step["level"], "role": step["role"], "node_name": step["node_name"], "quorum": step["quorum"],
             "approvals": sum(1 for d in decisions if d.step == index and d.verdict == Verdict.APPROVE),
             "escalated": index in escalated}
            for index, step in enumerate(proof.steps)
        ]
        return ProofStepOutputSerializer(steps, many=True).data

    @extend_schema_field(ProofSlotOutputSerializer(many=True))
    def get_slots(self, proof: Proof) -> list[dict]:
        """The frozen slot values against the template's defaults, in the template's order."""
        names = list(dict.fromkeys([*proof.slot_labels, *proof.default_values, *proof.slot_values]))
        slots = []
        for name in names:
            default, value = proof.default_values.get(name), proof.slot_values.get(name)
            slots.append({"name": name, "label": proof.slot_labels.get(name) or name, "default": default,
                          "value": value, "changed": (value or None) != (default or None)})
        return ProofSlotOutputSerializer(slots, many=True).data

    def get_content_url(self, proof: Proof) -> str | None:
        """The frozen e-mail HTML (e-mail proofs only)."""
        if proof.channel != Channel.EMAIL or not proof.html:
            return None
        return reverse("api-proof-content", kwargs={"public_id": proof.public_id})

    def get_pdf_url(self, proof: Proof) -> str | None:
        """The frozen print PDF (print proofs only)."""
        if not proof.pdf:
            return None
        return reverse("api-proof-pdf", kwargs={"public_id": proof.public_id})

    @extend_schema_field(DecisionOutputSerializer(many=True))
    def get_decisions(self, proof: Proof) -> list[dict]:
        return DecisionOutputSerializer(self._decisions(proof), many=True).data

    def get_can_decide(self, proof: Proof) -> bool:
        """Whether the caller may decide the current step now."""
        return decision_refusal(self.context["request"].user, proof) is None

    def get_can_revoke(self, proof: Proof) -> bool:
        """Whether the caller may revoke the approval now (until the first message leaves)."""
        return revoke_refusal(self.context["request"].user, proof) is None


def _proof_output(request: Request, proof: Proof) -> dict:
    proof = proof_get(fetched_by=request.user, public_id=proof.public_id)
    return ProofDetailOutputSerializer(proof, context={"request": request}).data


# --- Proofs: routes -----------------------------------------------------------------------------------


class ProofListApi(ScopedListAPIView):
    """Proofs the caller sees: those of the campaigns they see and those they approve, newest
    first. Filters: ``status``, ``campaign`` (public id), ``pending=me`` (only those waiting for the
    caller's decision now, earliest deadline first)."""

    serializer_class = ProofOutputSerializer
    filter_backends: list = []
    scoping_selector = proofs_visible_to

    class ProofListFilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=ProofStatus.choices, required=False)
        campaign = serializers.CharField(required=False, allow_blank=True, max_length=24)
        pending = serializers.ChoiceField(choices=[("me", "me")], required=False,
                                          help_text="me: only the proofs waiting for your decision now.")

    @extend_schema(parameters=[ProofListFilterSerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def narrow(self, proofs: QuerySet[Proof]) -> QuerySet[Proof]:
        filters = self.ProofListFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        proofs = proofs.defer("html", "pdf")
        if "status" in data:
            proofs = proofs.filter(status=data["status"])
        if data.get("campaign"):
            proofs = proofs.filter(campaign__public_id=data["campaign"])
        if data.get("pending") == "me":
            waiting = [proof.pk for proof in pending_proofs_for(fetched_by=self.request.user)]
            return proofs.filter(pk__in=waiting).order_by("decision_deadline", "requested_at", "id")
        return proofs.order_by("-requested_at", "-id")


class ProofDetailApi(ScopedRetrieveAPIView):
    """One proof: what was frozen (content, slot values against the defaults, target, audience,
    date, fingerprints), its steps and decisions, and whether the caller may decide or revoke now."""

    serializer_class = ProofDetailOutputSerializer

    def get_object(self) -> Proof:
        return proof_get(fetched_by=self.request.user, public_id=self.kwargs["public_id"])


class ProofContentApi(ScopedAPIView):
    """The frozen e-mail HTML, as the recipients would get it, under a strict Content Security
    Policy (sandboxed: no script, no form, only images and inline styles). 404 for a proof that is
    not an e-mail."""

    content_negotiation_class = _IgnoreClientContentNegotiation

    @extend_schema(responses={(200, "text/html"): OpenApiTypes.STR,
                              404: OpenApiResponse(description="No such proof, or not an e-mail.")})
    def get(self, request: Request, public_id: str) -> HttpResponse:
        proof = proof_get(fetched_by=request.user, public_id=public_id)
        if proof.channel != Channel.EMAIL or not proof.html:
            raise Http404
        response = HttpResponse(proof.html, content_type="text/html; charset=utf-8")
        response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        return response


class ProofPdfApi(ScopedAPIView):
    """The frozen print proof, marked “BAT”. 404 for a proof without a PDF."""

    content_negotiation_class = _IgnoreClientContentNegotiation

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY,
                              404: OpenApiResponse(description="No such proof, or no PDF.")})
    def get(self, request: Request, public_id: str) -> HttpResponse:
        proof = proof_get(fetched_by=request.user, public_id=public_id)
        if not proof.pdf:
            raise Http404
        response = HttpResponse(bytes(proof.pdf), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="BAT-{proof.number}-{proof.campaign.public_id}.pdf"'
        response["Content-Security-Policy"] = "sandbox"
        response["Cache-Control"] = "private, no-store"
        return response


class DecisionInputSerializer(serializers.Serializer):
    verdict = serializers.ChoiceField(choices=Verdict.choices)
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000,
                                    help_text="Needed to reject or request changes (or slot comments).")
    slot_comments = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=2000), required=False, default=dict,
        help_text="Comments by slot name; names the proof does not have are ignored.",
    )


class ProofDecisionApi(ScopedAPIView):
    """Approve, reject or request changes on the proof's current step. 403 (with the reason) for
    who may not decide it: an author of the campaign, someone whose step it is not, someone who
    already decided it. 409 (with the reason) for a proof no longer waiting for a decision (decided,
    voided by an edit, its campaign no longer waiting for approval)."""

    @extend_schema(request=DecisionInputSerializer, responses={201: DecisionOutputSerializer,
                                                               409: OpenApiResponse(description="No longer waiting.")})
    def post(self, request: Request, public_id: str) -> Response:
        proof = proof_get(fetched_by=request.user, public_id=public_id)
        conflict = decision_conflict(proof)
        if conflict:
            raise StateConflict(conflict)
        refused = decision_refusal(request.user, proof)
        if refused:
            raise PermissionDenied(refused)
        data = DecisionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        decision = proof_decide(proof=proof, decided_by=request.user, **data.validated_data)
        return Response(DecisionOutputSerializer(decision).data, status=status.HTTP_201_CREATED)


class RevokeInputSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True, max_length=5000, help_text="Why the approval is withdrawn.")


class ProofRevokeApi(ScopedAPIView):
    """Withdraw an approval until the first message leaves (an approver of the proof): the
    campaign goes back to draft. 403 for who is not an approver of the proof; 409 (with the reason)
    for a proof no longer approved (revoked, voided by an edit) or a campaign already sending."""

    @extend_schema(request=RevokeInputSerializer, responses={200: ProofDetailOutputSerializer,
                                                             409: OpenApiResponse(description="No longer approved.")})
    def post(self, request: Request, public_id: str) -> Response:
        proof = proof_get(fetched_by=request.user, public_id=public_id)
        if not revoke_permitted(request.user, proof):  # who may not revoke learns nothing of its state
            raise PermissionDenied(_("Only an approver of this proof can revoke it."))
        conflict = revoke_conflict(proof)
        if conflict:
            raise StateConflict(conflict)
        data = RevokeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        approval_revoke(proof=proof, revoked_by=request.user, reason=data.validated_data["reason"])
        return Response(_proof_output(request, proof))


class CampaignProofListApi(ScopedListAPIView):
    """The proofs of a campaign the caller sees, latest first. POST requests approval: the draft
    campaign is frozen into a new proof and sent to its first approvers (who may change the
    campaign only)."""

    serializer_class = ProofOutputSerializer
    filter_backends: list = []

    scoping_selector = proofs_of_campaign

    def scoping_arguments(self) -> dict:
        return {"campaign": campaign_get(fetched_by=self.request.user, public_id=self.kwargs["public_id"])}

    def narrow(self, proofs: QuerySet[Proof]) -> QuerySet[Proof]:
        return proofs.defer("html", "pdf")

    @extend_schema(request=CampaignUpdateInputSerializer, responses={201: ProofDetailOutputSerializer})
    def post(self, request: Request, public_id: str) -> Response:
        """With a body (any of ``slot_values``, ``send_date``, ``target_criteria``, as PATCH takes them)
        the values are saved and frozen in one transaction: the proof holds exactly what was sent, and
        a refused value (400, keyed by field) saves and requests nothing. Without a body the proof
        freezes the campaign as saved (what GET answers); the answer carries what was frozen."""
        campaign = campaign_get(fetched_by=request.user, public_id=public_id)
        if not campaign_can_edit(request.user, campaign):
            raise PermissionDenied(_("You may not request approval for this campaign."))
        data = CampaignUpdateInputSerializer(data=request.data or {})
        data.is_valid(raise_exception=True)
        if data.validated_data:
            proof = proof_request_with_values(campaign=campaign, requested_by=request.user,
                                              slot_values=data.validated_data.get("slot_values"),
                                              send_date=data.validated_data.get("send_date"),
                                              target_criteria=data.validated_data.get("target_criteria"))
        else:
            proof = proof_request(campaign=campaign, requested_by=request.user)
        return Response(_proof_output(request, proof), status=status.HTTP_201_CREATED)


class CampaignScheduleApi(ScopedAPIView):
    """Put an approved campaign in the send queue for its date. Refused (400, with the send gate's
    reason) unless an approved proof carries the campaign's current content, target and date."""

    @extend_schema(request=None, responses={200: CampaignDetailOutputSerializer})
    def post(self, request: Request, public_id: str) -> Response:
        campaign = campaign_get(fetched_by=request.user, public_id=public_id)
        campaign_schedule(campaign=campaign, scheduled_by=request.user)
        campaign = campaign_get(fetched_by=request.user, public_id=public_id)
        return Response(CampaignDetailOutputSerializer(campaign, context={"request": request}).data)


# --- Policies -------------------------------------------------------------------------------------------


def _require_policy_setter(user) -> QuerySet:
    """The networks whose policies ``user`` sets; the whole section answers 404 to anyone else."""
    networks = networks_setting_policies(user)
    if not networks.exists():
        raise Http404
    return networks


class PolicyStepSerializer(serializers.Serializer):
    level = serializers.ChoiceField(choices=StepLevel.choices)
    role = serializers.ChoiceField(choices=[(Role.REGIONAL_MANAGER.value, Role.REGIONAL_MANAGER.label),
                                            (Role.APPROVER.value, Role.APPROVER.label)])
    quorum = serializers.IntegerField(min_value=1, max_value=5, default=1)


class ApprovalPolicyOutputSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    network = serializers.CharField(source="network.slug")
    channel = serializers.CharField(help_text="email, sms or post; empty: any")
    origin = serializers.CharField(help_text="national, subscription, kit or local; empty: any")
    changes = serializers.CharField(help_text="defaults, text or images; empty: any")
    steps = PolicyStepSerializer(many=True)
    updated_by = serializers.SerializerMethodField()

    class Meta:
        model = ApprovalPolicy
        fields = ["id", "network", "name", "position", "channel", "origin", "changes", "steps",
                  "print_without_head_office", "is_active", "updated_by", "updated_at"]

    def get_updated_by(self, policy: ApprovalPolicy) -> str | None:
        return _person(policy.updated_by)


def _any(choices) -> list[tuple[str, str]]:
    return [("", gettext_lazy("Any")), *choices]


class ApprovalPolicyInputSerializer(serializers.Serializer):
    """The fields of a policy; the first active policy (by position) matching a campaign's channel,
    origin and change level (empty = any) gives its steps."""

    name = serializers.CharField(max_length=120, allow_blank=True)
    position = serializers.IntegerField(min_value=0, max_value=10000, required=False)
    channel = serializers.ChoiceField(choices=_any(Channel.choices), allow_blank=True, required=False)
    origin = serializers.ChoiceField(choices=_any(Origin.choices), allow_blank=True, required=False)
    changes = serializers.ChoiceField(choices=_any(ChangeLevel.choices), allow_blank=True, required=False)
    steps = PolicyStepSerializer(many=True, allow_empty=True)
    print_without_head_office = serializers.BooleanField(required=False)
    is_active = serializers.BooleanField(required=False)


class ApprovalPolicyCreateInputSerializer(ApprovalPolicyInputSerializer):
    network = serializers.CharField(max_length=50, help_text="The slug of a network whose policies you set.")


class ApprovalPolicyListApi(ScopedListAPIView):
    """The approval policies of the networks whose policies the caller sets (head office), in the
    order they are tried. POST adds one. 404 for everyone else."""

    serializer_class = ApprovalPolicyOutputSerializer
    filter_backends: list = []

    scoping_selector = policies_visible_to

    def narrow(self, policies: QuerySet[ApprovalPolicy]) -> QuerySet[ApprovalPolicy]:
        _require_policy_setter(self.request.user)
        return policies.select_related("network", "updated_by").order_by(
            "network__slug", "position", "id")

    @extend_schema(request=ApprovalPolicyCreateInputSerializer, responses={201: ApprovalPolicyOutputSerializer})
    def post(self, request: Request) -> Response:
        networks = _require_policy_setter(request.user)
        data = ApprovalPolicyCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        wanted = fields.pop("network")
        network = networks.filter(Q(slug=wanted) | Q(public_id=wanted)).first()
        if network is None:
            raise ValidationError({"network": [_("You set the approval policies of no network with this slug.")]})
        policy = policy_save(network=network, saved_by=request.user, **fields)
        return Response(ApprovalPolicyOutputSerializer(policy).data, status=status.HTTP_201_CREATED)


class ApprovalPolicyDetailApi(ScopedRetrieveAPIView):
    """One approval policy (head office). PATCH changes it; proofs already requested keep their
    steps."""

    serializer_class = ApprovalPolicyOutputSerializer
    filter_backends: list = []
    scoping_selector = policies_visible_to
    lookup_field = "public_id"  # get_object: the scoped rows looked up, 404 for foreign and missing

    def narrow(self, policies: QuerySet[ApprovalPolicy]) -> QuerySet[ApprovalPolicy]:
        return policies.select_related("network", "updated_by")

    @extend_schema(request=ApprovalPolicyInputSerializer, responses={200: ApprovalPolicyOutputSerializer})
    def patch(self, request: Request, public_id: str) -> Response:
        policy = self.get_object()
        data = ApprovalPolicyInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        policy = policy_save(network=policy.network, saved_by=request.user, policy=policy,
                             **data.validated_data)
        return Response(ApprovalPolicyOutputSerializer(self.get_object()).data)


# --- Audit -----------------------------------------------------------------------------------------------


class AuditEntryOutputSerializer(serializers.ModelSerializer):
    network = serializers.CharField(source="network.slug")
    branch = serializers.CharField(source="branch.public_id", allow_null=True)
    branch_name = serializers.CharField(source="branch.name", allow_null=True)
    campaign = serializers.CharField(source="campaign.public_id", allow_null=True)
    proof = serializers.CharField(source="proof.public_id", allow_null=True)
    proof_number = serializers.IntegerField(source="proof.number", allow_null=True)
    action = serializers.ChoiceField(choices=AuditAction.choices)
    by = serializers.SerializerMethodField()
    details = serializers.DictField()

    class Meta:
        model = AuditEntry
        fields = ["at", "network", "action", "branch", "branch_name", "campaign", "proof", "proof_number", "by",
                  "details"]

    def get_by(self, entry: AuditEntry) -> str | None:
        return _person(entry.by)


class AuditListApi(ScopedListAPIView):
    """The approvals audit trail of the networks whose policies the caller sets (head office),
    newest first: requests, decisions, voids, revocations, reminders, escalations, policy changes.
    Filters: ``campaign`` (public id), ``action``, ``since`` (a date). 404 for everyone else."""

    serializer_class = AuditEntryOutputSerializer
    filter_backends: list = []
    scoping_selector = audit_visible_to

    class AuditListFilterSerializer(serializers.Serializer):
        campaign = serializers.CharField(required=False, allow_blank=True, max_length=24)
        action = serializers.ChoiceField(choices=AuditAction.choices, required=False)
        since = serializers.DateField(required=False, help_text="Entries of that day and after.")

    @extend_schema(parameters=[AuditListFilterSerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def narrow(self, entries: QuerySet[AuditEntry]) -> QuerySet[AuditEntry]:
        _require_policy_setter(self.request.user)
        filters = self.AuditListFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        entries = entries.select_related("network")
        if data.get("campaign"):
            entries = entries.filter(campaign__public_id=data["campaign"])
        if "action" in data:
            entries = entries.filter(action=data["action"])
        if "since" in data:
            entries = entries.filter(at__date__gte=data["since"])
        return entries.order_by("-at", "-id")
