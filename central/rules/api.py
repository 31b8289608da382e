"""REST API of the network's rules: the rules (head office), simulations, a campaign's expected
outcome, "why not?" for a customer, and ownership transfers.

Thin, like central.campaigns.api: reads through central's scoping selectors (a foreign object and a missing
one both answer 404), writes through its services (ValidationError → 400 by field, PermissionDenied
→ 403 on an object the caller sees but may not change). Counts are always scoped: a branch never
reads another branch's campaigns, customers or counts, whatever the run covered.
"""

from __future__ import annotations

from django.db.models import Q
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from central.campaigns.selectors import campaign_customers_visible, campaign_get
from central.customers.selectors import customer_get
from central.customers.transfers import (
    ownership_transfer_decide,
    ownership_transfer_get,
    ownership_transfer_request,
    ownership_transfer_view,
    ownership_transfers_visible_to,
)
from central.models import ArbitrationRun, NetworkRules, OwnershipTransfer, Reason, TransferStatus
from central.rules.selectors import (
    SimulationCounts,
    campaign_name,
    campaign_simulation_summary,
    customer_why_not,
    network_rules_get,
    networks_simulated_by,
    simulation_campaigns,
    simulation_counts,
)
from central.rules.services import arbitration_simulate, campaign_simulation, network_rules_update
from local_stores.api_base import ScopedAPIView, ScopedListAPIView
from local_stores.selectors import branches_visible_to

# --- The rules --------------------------------------------------------------------------------------


class ChannelCapSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Messages at most on this channel…")
    days = serializers.IntegerField(help_text="…over this many days (rolling).")


class NetworkRulesOutputSerializer(serializers.ModelSerializer):
    network = serializers.CharField(source="network.slug")
    priority_order = serializers.ListField(source="order", child=serializers.CharField(),
                                           help_text="Origins, first to last: transactional, local, national.")
    channel_caps = serializers.DictField(child=ChannelCapSerializer(), help_text="By channel: email, sms, post.")
    segment_caps = serializers.DictField(child=serializers.IntegerField(),
                                         help_text="By customer segment: its own cap over cap_days.")
    quiet_weekdays = serializers.ListField(child=serializers.IntegerField(), help_text="ISO weekdays, 1 = Monday.")
    updated_by = serializers.SerializerMethodField()
    # null until the network's rules are first saved (the defaults are shown, unsaved)
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = NetworkRules
        fields = ["network", "priority_order", "cap_total", "cap_days", "channel_caps", "segment_caps", "national_reserved",
                  "local_reserved", "quiet_weekdays", "quiet_from", "quiet_until", "one_per_operation",
                  "attribution_days", "cost_email", "cost_sms_segment", "cost_print_page", "cost_print_copy",
                  "cost_postage", "updated_by", "updated_at"]

    def get_updated_by(self, rules: NetworkRules) -> str | None:
        if rules.updated_by is None:
            return None
        return rules.updated_by.get_full_name() or rules.updated_by.get_username()


class NetworkRulesInputSerializer(serializers.Serializer):
    """Any of the rules; the service checks them together and answers by field."""

    priority_order = serializers.ListField(child=serializers.CharField(max_length=16), max_length=5,
                                           help_text="The three origins, first to last.")
    cap_total = serializers.IntegerField(help_text="Marketing messages per customer, at most…")
    cap_days = serializers.IntegerField(help_text="…over this many days (rolling).")
    channel_caps = serializers.DictField(child=ChannelCapSerializer(), help_text="By channel; {} for none.")
    segment_caps = serializers.DictField(child=serializers.IntegerField(),
                                         help_text="By customer segment, its own cap over cap_days "
                                                   '(e.g. {"vip": 4}); {} for none.')
    national_reserved = serializers.IntegerField(help_text="Slots of the cap only national campaigns may use.")
    local_reserved = serializers.IntegerField(help_text="Slots of the cap only local campaigns may use.")
    quiet_weekdays = serializers.ListField(child=serializers.IntegerField(), max_length=7)
    quiet_from = serializers.TimeField(allow_null=True)
    quiet_until = serializers.TimeField(allow_null=True)
    one_per_operation = serializers.BooleanField()
    attribution_days = serializers.IntegerField(
        help_text="A recipient's purchases this many days from the send (1 to 90) are credited to the campaign.")
    cost_email = serializers.DecimalField(max_digits=8, decimal_places=4, help_text="What an e-mail costs.")
    cost_sms_segment = serializers.DecimalField(max_digits=8, decimal_places=4, help_text="What an SMS segment costs.")
    cost_print_page = serializers.DecimalField(max_digits=8, decimal_places=4, help_text="What a printed page costs.")
    cost_print_copy = serializers.DecimalField(max_digits=8, decimal_places=4,
                                               help_text="What a printed copy costs beyond its pages (paper, envelope).")
    cost_postage = serializers.DecimalField(max_digits=8, decimal_places=4, help_text="The postage of a letter.")


class NetworkRulesApi(ScopedAPIView):
    """The rules of a network whose calendar the caller plans (404 for anyone else): priority order,
    pressure caps, the quota, quiet days and hours, one message per operation. PATCH changes any of
    them; every change is recorded (before → after)."""

    @extend_schema(responses={200: NetworkRulesOutputSerializer})
    def get(self, request: Request, slug: str) -> Response:
        return Response(NetworkRulesOutputSerializer(network_rules_get(fetched_by=request.user, slug=slug)).data)

    @extend_schema(request=NetworkRulesInputSerializer, responses={200: NetworkRulesOutputSerializer})
    def patch(self, request: Request, slug: str) -> Response:
        rules = network_rules_get(fetched_by=request.user, slug=slug)
        data = NetworkRulesInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        if "channel_caps" in fields:
            fields["channel_caps"] = {channel: dict(cap) for channel, cap in fields["channel_caps"].items()}
        network_rules_update(network=rules.network, updated_by=request.user, **fields)
        return Response(NetworkRulesOutputSerializer(network_rules_get(fetched_by=request.user, slug=slug)).data)


# --- Simulations ------------------------------------------------------------------------------------


class ReasonCountSerializer(serializers.Serializer):
    reason = serializers.CharField(help_text=", ".join(Reason.values))
    label = serializers.CharField()
    count = serializers.IntegerField()


class CountsSerializer(serializers.Serializer):
    candidates = serializers.IntegerField(help_text="Customers targeted (pairs customer × campaign).")
    selected = serializers.IntegerField(help_text="Will receive it.")
    audience = serializers.IntegerField(help_text=(
        "The candidates in the audience as the campaign editor counts it (reachable on the channel, the "
        "branch's own, where a national send goes): candidates less those excluded for objection, consent, "
        "address, ownership or reach; the network's rules decide on these."))
    excluded = serializers.SerializerMethodField()

    @extend_schema_field(ReasonCountSerializer(many=True))
    def get_excluded(self, counts: SimulationCounts) -> list[dict]:
        return [{"reason": reason, "label": label, "count": n} for reason, label, n in counts.reasons]


class RunSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id")
    mode = serializers.CharField(help_text="simulation or commit (the real run before sending)")

    class Meta:
        model = ArbitrationRun
        fields = ["id", "mode", "starts_on", "ends_on", "started_at", "finished_at"]


class SimulationCampaignSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    branch = serializers.CharField(allow_null=True, help_text="The branch's public id; null for a national one.")
    branch_name = serializers.CharField(allow_null=True)
    channel = serializers.CharField()
    send_date = serializers.DateField()
    counts = CountsSerializer()


class SimulationOutputSerializer(serializers.Serializer):
    run = RunSerializer()
    totals = CountsSerializer(help_text="Over the campaigns listed.")
    campaigns = SimulationCampaignSerializer(many=True)


class SimulationInputSerializer(serializers.Serializer):
    """``network`` (slug) with ``from`` and ``to``; or ``campaign`` (public id): then its send date ±
    the caps' window."""

    network = serializers.CharField(required=False, max_length=50)
    campaign = serializers.CharField(required=False, max_length=24)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.DateField(required=False, help_text="First send date (with network).")
        fields["to"] = serializers.DateField(required=False, help_text="Last send date (with network).")
        return fields

    def validate(self, attrs):
        if bool(attrs.get("network")) == bool(attrs.get("campaign")):
            raise ValidationError({"non_field_errors": [_("Give a network or a campaign.")]})
        if attrs.get("network"):
            missing = {name: [_("This field is required.")] for name in ("from", "to") if not attrs.get(name)}
            if missing:
                raise ValidationError(missing)
        return attrs


#: The most campaigns a simulation answer lists.
SIMULATION_LIST_LIMIT = 500


def _simulation_output(request: Request, run: ArbitrationRun, *, starts_on=None, ends_on=None,
                       campaign=None) -> dict:
    window = {"starts_on": starts_on, "ends_on": ends_on}
    campaigns = list(simulation_campaigns(fetched_by=request.user, run=run, **window)[:SIMULATION_LIST_LIMIT])
    if campaign is not None:
        campaigns = [c for c in campaigns if c.pk == campaign.pk]
    ids = [c.pk for c in campaigns]
    counts = simulation_counts(fetched_by=request.user, run=run, by="campaign", campaign_ids=ids, **window)
    totals = simulation_counts(fetched_by=request.user, run=run, campaign_ids=ids, **window).get(None)
    empty = SimulationCounts(excluded={})
    return SimulationOutputSerializer({
        "run": run, "totals": totals or empty,
        "campaigns": [{
            "id": c.public_id, "name": campaign_name(c), "branch": c.branch.public_id if c.branch_id else None,
            "branch_name": c.branch.name if c.branch_id else None, "channel": c.channel, "send_date": c.send_date,
            "counts": counts.get(c.pk, empty),
        } for c in campaigns],
    }).data


class ArbitrationSimulationApi(ScopedAPIView):
    """Run a simulation (nothing is sent) and get its summary: per campaign, how many customers
    will receive it and why the others will not. Over a network's days (head office, or anyone who
    sees customers of the network — then only their campaigns and customers are counted), or
    around one campaign."""

    service_error_fields = {"starts_on": "from", "ends_on": "to"}  # the service names the days so

    @extend_schema(request=SimulationInputSerializer, responses={201: SimulationOutputSerializer})
    def post(self, request: Request) -> Response:
        data = SimulationInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if values.get("campaign"):
            campaign = campaign_get(fetched_by=request.user, public_id=values["campaign"])
            if not campaign_customers_visible(request.user, campaign):
                raise Http404
            run = campaign_simulation(campaign=campaign, run_by=request.user)
            return Response(_simulation_output(request, run, campaign=campaign), status=status.HTTP_201_CREATED)
        network = networks_simulated_by(request.user).filter(
            Q(slug=values["network"]) | Q(public_id=values["network"])).first()
        if network is None:
            raise Http404
        run = arbitration_simulate(network=network, starts_on=values["from"], ends_on=values["to"],
                                   run_by=request.user)
        return Response(_simulation_output(request, run, starts_on=values["from"], ends_on=values["to"]),
                        status=status.HTTP_201_CREATED)


class LostToSerializer(serializers.Serializer):
    campaign = serializers.CharField(allow_null=True, help_text="Public id, when the caller sees that campaign.")
    label = serializers.CharField(help_text="Its name, or “another campaign” for another branch's.")
    count = serializers.IntegerField()


class CampaignSimulationOutputSerializer(serializers.Serializer):
    run = RunSerializer(allow_null=True, help_text="null: no simulation covers the campaign yet.")
    counts = CountsSerializer()
    lost_to = LostToSerializer(many=True)
    stale = serializers.BooleanField(help_text="The campaign changed since: simulate again.")


class CampaignSimulationApi(ScopedAPIView):
    """The latest simulation covering a campaign: how many of its customers will receive it, why
    the others will not, and to which campaigns they were lost. 404 for who does not see the
    campaign's customers."""

    @extend_schema(responses={200: CampaignSimulationOutputSerializer})
    def get(self, request: Request, public_id: str) -> Response:
        campaign = campaign_get(fetched_by=request.user, public_id=public_id)
        summary = campaign_simulation_summary(fetched_by=request.user, campaign=campaign)
        if summary is None:
            raise Http404
        return Response(CampaignSimulationOutputSerializer({
            "run": summary.run, "counts": summary.counts, "stale": summary.stale,
            "lost_to": [{"campaign": reference["id"], "label": reference["label"], "count": n}
                        for reference, n in summary.lost_to],
        }).data)


# --- Why not? ---------------------------------------------------------------------------------------


class WhyLineSerializer(serializers.Serializer):
    campaign = serializers.CharField(allow_null=True, help_text="Public id, when the caller sees the campaign.")
    campaign_label = serializers.CharField()
    channel = serializers.CharField()
    send_date = serializers.DateField()
    selected = serializers.BooleanField()
    reason = serializers.CharField(allow_blank=True, help_text="Empty when selected; else " + ", ".join(Reason.values))
    lost_to = serializers.CharField(allow_null=True, help_text="The campaign that took the slot, as the caller may "
                                                               "name it.")
    text = serializers.CharField(help_text="The decision in plain words.")


class CustomerWhyOutputSerializer(serializers.Serializer):
    customer = serializers.CharField()
    run = RunSerializer(allow_null=True, help_text="The latest run (simulation or real) that concerned the "
                                                   "customer; null if none.")
    lines = WhyLineSerializer(many=True)


class CustomerWhyApi(ScopedAPIView):
    """For one of the caller's customers (404 for anyone else's): each campaign of the latest
    arbitration that concerned them, and why they will or will not receive it, in plain words."""

    @extend_schema(responses={200: CustomerWhyOutputSerializer})
    def get(self, request: Request, public_id: str) -> Response:
        customer = customer_get(fetched_by=request.user, public_id=public_id)
        why = customer_why_not(fetched_by=request.user, customer=customer)
        return Response(CustomerWhyOutputSerializer({
            "customer": customer.public_id, "run": why.run,
            "lines": [{
                "campaign": line.campaign["id"], "campaign_label": line.campaign["name"] or line.campaign["label"],
                "channel": line.channel, "send_date": line.send_date, "selected": line.selected,
                "reason": line.reason, "lost_to": line.lost_to["label"] if line.lost_to else None, "text": line.text,
            } for line in why.lines],
        }).data)


# --- Ownership transfers ----------------------------------------------------------------------------


class TransferBranchSerializer(serializers.Serializer):
    id = serializers.CharField(allow_null=True, help_text="null: a branch the caller does not see.")
    name = serializers.CharField()


class TransferCustomerSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()


class OwnershipTransferOutputSerializer(serializers.Serializer):
    id = serializers.CharField(source="transfer.public_id")
    status = serializers.CharField(source="transfer.status", help_text=", ".join(TransferStatus.values))
    customer = TransferCustomerSerializer(allow_null=True, help_text="null while the customer is not the caller's.")
    requested_as = serializers.CharField(help_text="What the requester typed to name the customer.")
    from_branch = TransferBranchSerializer()
    to_branch = TransferBranchSerializer()
    note = serializers.CharField(source="transfer.note")
    requested_by = serializers.SerializerMethodField()
    requested_at = serializers.DateTimeField(source="transfer.requested_at")
    decided_by = serializers.SerializerMethodField()
    decided_at = serializers.DateTimeField(source="transfer.decided_at", allow_null=True)
    decision_note = serializers.CharField(source="transfer.decision_note")
    can_decide = serializers.BooleanField()

    @staticmethod
    def _name(user) -> str | None:
        return None if user is None else (user.get_full_name() or user.get_username())

    def get_requested_by(self, row: dict) -> str | None:
        return self._name(row["transfer"].requested_by)

    def get_decided_by(self, row: dict) -> str | None:
        return self._name(row["transfer"].decided_by)


class OwnershipTransferCreateInputSerializer(serializers.Serializer):
    to_branch = serializers.CharField(max_length=24, help_text="The public id of a branch you act for.")
    customer = serializers.CharField(max_length=254, help_text="The customer's CRM id, e-mail address, mobile number "
                                                               "or Relais id.")
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class OwnershipTransferDecideInputSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=[("accept", "accept"), ("refuse", "refuse")])
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class OwnershipTransferListApi(ScopedListAPIView):
    """Transfers to or from the branches whose customers the caller sees, newest first (filter:
    ``status``). POST asks for a customer of another branch for one of the caller's branches;
    head office's request (or the regional manager's over both branches) is accepted at once."""

    serializer_class = OwnershipTransferOutputSerializer
    filter_backends: list = []
    scoping_selector = ownership_transfers_visible_to
    scoped_model = OwnershipTransfer

    class TransferFilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=TransferStatus.choices, required=False)

    @extend_schema(parameters=[TransferFilterSerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def narrow(self, transfers):
        filters = self.TransferFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        if "status" in filters.validated_data:
            transfers = transfers.filter(status=filters.validated_data["status"])
        return transfers.order_by("-requested_at", "-id")

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        rows = [ownership_transfer_view(request.user, transfer) for transfer in page]
        return self.get_paginated_response(self.get_serializer(rows, many=True).data)

    @extend_schema(request=OwnershipTransferCreateInputSerializer, responses={201: OwnershipTransferOutputSerializer})
    def post(self, request: Request) -> Response:
        data = OwnershipTransferCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        branch = branches_visible_to(request.user).filter(public_id=data.validated_data["to_branch"]).first()
        if branch is None:
            raise Http404
        transfer = ownership_transfer_request(to_branch=branch, customer_reference=data.validated_data["customer"],
                                              requested_by=request.user, note=data.validated_data["note"])
        transfer = ownership_transfer_get(fetched_by=request.user, public_id=transfer.public_id)
        return Response(OwnershipTransferOutputSerializer(ownership_transfer_view(request.user, transfer)).data,
                        status=status.HTTP_201_CREATED)


class OwnershipTransferDecideApi(ScopedAPIView):
    """Accept (the customer changes branch) or refuse a waiting transfer: head office, or the
    regional manager over both branches (403 for anyone else who sees it)."""

    @extend_schema(request=OwnershipTransferDecideInputSerializer, responses={200: OwnershipTransferOutputSerializer})
    def post(self, request: Request, public_id: str) -> Response:
        transfer = ownership_transfer_get(fetched_by=request.user, public_id=public_id)
        data = OwnershipTransferDecideInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ownership_transfer_decide(transfer=transfer, decided_by=request.user,
                                  accept=data.validated_data["decision"] == "accept",
                                  note=data.validated_data["note"])
        transfer = ownership_transfer_get(fetched_by=request.user, public_id=public_id)
        return Response(OwnershipTransferOutputSerializer(ownership_transfer_view(request.user, transfer)).data)

