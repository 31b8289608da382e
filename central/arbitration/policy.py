"""The arbitration's policy: which campaigns a run looks at, the network's rules, a campaign's origin,
counted operation and priority, where head office's national sends do not go (docs/arbitration.md)."""

from __future__ import annotations

from central.calendar.selectors import national_send_exceptions
from central.models import (
    ArbitrationRun,
    Campaign,
    CampaignStatus,
    NationalTargetReview,
    NetworkRules,
    OperationMode,
    Origin,
)
from local_stores.models import Network

#: Statuses arbitrated: for real, only what the send gate let through; a simulation also looks at
#: what is still being prepared or approved.
COMMIT_STATUSES = (CampaignStatus.SCHEDULED,)
SIMULATION_STATUSES = (CampaignStatus.DRAFT, CampaignStatus.AWAITING_APPROVAL, CampaignStatus.APPROVED,
                       *COMMIT_STATUSES)


def rules_for(network: Network) -> NetworkRules:
    rules, _created = NetworkRules.objects.get_or_create(network=network)
    return rules


def campaign_origin(campaign: Campaign) -> str:
    """National: the head office's own sends and branches' subscriptions to calendar operations;
    local: what a branch does on its own (a kit it used, a free campaign)."""
    if campaign.branch_id is None:
        return Origin.NATIONAL
    if campaign.operation_id is not None and campaign.operation.mode != OperationMode.KIT:
        return Origin.NATIONAL
    return Origin.LOCAL


def campaign_priority(campaign: Campaign, rules: NetworkRules) -> int:
    if campaign.operation_id is not None and campaign.operation.national_priority:
        return 0
    order = rules.order
    origin = campaign_origin(campaign)
    return (order.index(origin) if origin in order else len(order)) + 1


def counted_operation(campaign: Campaign) -> int | None:
    """The operation that "one message per customer per operation" counts: a calendar operation;
    each use of a kit is a send of its own."""
    if campaign.operation_id is None or campaign.operation.mode == OperationMode.KIT:
        return None
    return campaign.operation_id


# --- Where a national send goes ------------------------------------------------------------------
#
# Head office's own send of an operation (a campaign without a branch) is joined to every node; it
# does not go to the customers of a branch outside the operation (a pilot's other branches), nor of a
# branch that declined it (opt-in) or opted out (mandatory); and never to those of a branch that has
# its own version of the operation: the most specific version wins, whatever the order of
# scheduling and the days of the sends within the operation.

def national_reach(network: Network, campaigns: list[Campaign], *, mode: str) -> list[tuple[int, int, str, int | None]]:
    """For head office's sends among ``campaigns``: the nodes (0: no branch) whose customers they do
    not reach, with the reason and — for a branch's own version — that version: rows of (campaign,
    node, reason, version)."""
    national = [c for c in campaigns if c.branch_id is None and c.operation_id is not None]
    rows: list[tuple[int, int, str, int | None]] = []
    for operation in {c.operation_id: c.operation for c in national}.values():
        exceptions = national_send_exceptions(operation, simulation=mode == ArbitrationRun.Mode.SIMULATION)
        rows += [(c.pk, node_id, reason, version) for c in national if c.operation_id == operation.pk
                 for node_id, (reason, version) in exceptions.items()]
    return rows


def _reviewed(campaigns: list[Campaign]) -> frozenset[str]:
    """The review actions branches took on head office's target of the run's operations."""
    operations = {c.operation_id for c in campaigns if c.branch_id is None and c.operation_id is not None}
    if not operations:
        return frozenset()
    return frozenset(NationalTargetReview.objects.filter(operation_id__in=operations)
                     .values_list("action", flat=True).distinct().order_by())
