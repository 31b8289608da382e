"""What campaigns cost, and where each branch stands against its budget.

The network's unit costs are in its rules (``NetworkRules.cost_*``). A campaign's **estimated**
cost is its audience times the cost of one message: an e-mail; an SMS's segments (of the message
rendered for a sample recipient) times the segment's cost; a letter's pages (of the print version
rendered once) times the page's cost, plus a copy and its postage. Its **actual** cost is read from
what was sent: e-mails sent, the SMS segments each sent message took, the pages and letters of its
mail merges. Head office pays its own campaigns, and the share of an operation it co-funds
(``Operation.cofunding_percent``); the rest is the branch's.

A budget row (``Budget``) covers a branch over a period: the campaigns of the branch whose send
date falls in it are **committed** (approved or scheduled: estimated) or **spent** (sending, paused
or sent: actual), and what is left is **remaining**. These are reads, without side effects.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Sum

from central.models import (
    Budget,
    Campaign,
    CampaignStatus,
    Channel,
    Delivery,
    DeliveryStatus,
    NetworkRules,
    PrintFile,
)

CENT = Decimal("0.01")
COMMITTED_STATUSES = (CampaignStatus.APPROVED, CampaignStatus.SCHEDULED)
SPENT_STATUSES = (CampaignStatus.SENDING, CampaignStatus.PAUSED, CampaignStatus.SENT)


def _rules(campaign: Campaign) -> NetworkRules:
    from central.selectors import network_rules_of

    return network_rules_of(campaign.network)


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Cost:
    """A campaign's cost: ``messages`` at ``unit`` each (estimated), or as sent (actual), and who pays."""

    messages: int
    total: Decimal
    head_office: Decimal
    branch: Decimal
    #: what one message costs (the estimate's basis), and its parts in words, for the page
    unit: Decimal
    basis: str


def _split(campaign: Campaign, total: Decimal) -> tuple[Decimal, Decimal]:
    """(head office's share, branch's share) of ``total``: a national send is all head office's."""
    total = _cents(total)
    if campaign.branch_id is None:
        return total, Decimal("0.00")
    share = Decimal(campaign.operation.cofunding_percent if campaign.operation_id else 0)
    head_office = _cents(total * share / 100)
    return head_office, total - head_office


def sms_segments(campaign: Campaign) -> int:
    """The segments of the campaign's SMS rendered for the sample recipient (at least 1)."""
    from central.dispatch import variant_context
    from templates_lib import rendering

    text = rendering.render_for_kind(campaign.template_version, variant_context(campaign))
    return max(1, rendering.sms_count(text).segments)


def print_pages(campaign: Campaign) -> int:
    """The pages of one copy of the campaign's print version (rendered once, for the sample recipient)."""
    from central.dispatch import _pdf_pages, variant_context
    from templates_lib import rendering

    return max(1, _pdf_pages(rendering.render_for_kind(campaign.template_version, variant_context(campaign))))


def unit_cost(campaign: Campaign, rules: NetworkRules, proof=None) -> tuple[Decimal, str]:
    """What one message of ``campaign`` costs, and how it is made up (in figures): from what its
    ``proof`` froze (the SMS text, the print PDF) when given, else rendered now."""
    from central.dispatch import _pdf_pages
    from templates_lib import rendering

    if campaign.channel == Channel.EMAIL:
        return rules.cost_email, f"1 × {rules.cost_email}"
    if campaign.channel == Channel.SMS:
        segments = (max(1, rendering.sms_count(proof.text).segments) if proof is not None and proof.text
                    else sms_segments(campaign))
        return segments * rules.cost_sms_segment, f"{segments} × {rules.cost_sms_segment}"
    pages = (max(1, _pdf_pages(bytes(proof.pdf))) if proof is not None and proof.pdf else print_pages(campaign))
    unit = pages * rules.cost_print_page + rules.cost_print_copy + rules.cost_postage
    return unit, f"{pages} × {rules.cost_print_page} + {rules.cost_print_copy} + {rules.cost_postage}"


def campaign_cost_estimate(campaign: Campaign, *, audience: int, proof=None) -> Cost:
    """The cost of sending ``campaign`` to ``audience`` customers (its proposed list's count), its
    message measured on ``proof`` when given (nothing rendered again)."""
    unit, basis = unit_cost(campaign, _rules(campaign), proof)
    head_office, branch = _split(campaign, audience * unit)
    return Cost(audience, _cents(audience * unit), head_office, branch, unit, basis)


def campaign_cost_actual(campaign: Campaign) -> Cost:
    """What ``campaign`` has cost so far, from what was sent."""
    rules = _rules(campaign)
    sent = Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.SENT)
    count = sent.count()
    if campaign.channel == Channel.EMAIL:
        total, basis = count * rules.cost_email, f"{count} × {rules.cost_email}"
    elif campaign.channel == Channel.SMS:
        segments = sent.aggregate(n=Sum("segments"))["n"] or 0
        unknown = sent.filter(segments__isnull=True).count()  # sent before segments were recorded
        if unknown:
            segments += unknown * sms_segments(campaign)
        total, basis = segments * rules.cost_sms_segment, f"{segments} × {rules.cost_sms_segment}"
    else:
        merges = PrintFile.objects.filter(campaign=campaign, kind=PrintFile.Kind.MAIL_MERGE).aggregate(
            pages=Sum("pages"), letters=Sum("recipients"))
        pages, letters = merges["pages"] or 0, merges["letters"] or 0
        total = pages * rules.cost_print_page + letters * (rules.cost_print_copy + rules.cost_postage)
        basis = f"{pages} × {rules.cost_print_page} + {letters} × ({rules.cost_print_copy} + {rules.cost_postage})"
    head_office, branch = _split(campaign, total)
    return Cost(count, _cents(total), head_office, branch, rules.cost_email if campaign.channel == Channel.EMAIL
                else Decimal(0), basis)


@dataclass(frozen=True)
class BudgetStatus:
    budget: Budget
    committed: Decimal
    spent: Decimal

    @property
    def remaining(self) -> Decimal:
        return self.budget.amount - self.committed - self.spent

    @property
    def used_share(self) -> float | None:
        if self.budget.amount <= 0:
            return None
        return float((self.committed + self.spent) / self.budget.amount)


def _campaigns_of(budget: Budget):
    return Campaign.objects.filter(branch_id=budget.branch_id, send_date__range=(budget.starts_on, budget.ends_on)
                                   ).select_related("operation", "network", "template_version__template", "branch")


def budget_status(budget: Budget, *, estimates: dict[int, Decimal] | None = None) -> BudgetStatus:
    """Where ``budget`` stands: its branch's campaigns of the period, committed (approved or
    scheduled, at their estimate: the audience their proof froze) and spent (at their actual cost).
    ``estimates``: the branch's share already known per campaign id."""
    committed = spent = Decimal("0.00")
    for campaign in _campaigns_of(budget).filter(status__in=(*COMMITTED_STATUSES, *SPENT_STATUSES)):
        if campaign.status in SPENT_STATUSES:
            spent += campaign_cost_actual(campaign).branch
        elif estimates and campaign.pk in estimates:
            committed += estimates[campaign.pk]
        else:  # approved or scheduled: what its latest proof froze (the audience, the message)
            proof = campaign.proofs.order_by("-number").first()
            committed += campaign_cost_estimate(campaign, audience=proof.audience_count if proof else 0,
                                                proof=proof).branch
    return BudgetStatus(budget, committed, spent)


def budget_for(campaign: Campaign) -> Budget | None:
    """The budget row covering ``campaign``'s branch on its send date (the latest allocated)."""
    if campaign.branch_id is None:
        return None
    return (Budget.objects.filter(branch_id=campaign.branch_id, starts_on__lte=campaign.send_date,
                                  ends_on__gte=campaign.send_date).order_by("-created_at").first())


def over_budget(campaign: Campaign, *, audience: int) -> tuple[bool, Cost, Decimal | None]:
    """Whether sending ``campaign`` to ``audience`` customers would take its branch over its budget:
    (over, the estimate, what remains before it). A network that allocates no budget at all
    manages none (never over); once it does, a branch without a budget covering the send date has
    nothing to spend."""
    estimate = campaign_cost_estimate(campaign, audience=audience)
    if campaign.branch_id is None or estimate.branch <= 0:
        return False, estimate, None
    budget = budget_for(campaign)
    if budget is None:
        if not Budget.objects.filter(network_id=campaign.network_id).exists():
            return False, estimate, None
        return True, estimate, Decimal("0.00")
    status = budget_status(budget)
    return estimate.branch > status.remaining, estimate, status.remaining
