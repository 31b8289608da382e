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

from django.db.models import Count, Q, Sum
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, ngettext_lazy

from central.channels import registry as channels
from central.delivery.content import variant_context
from central.delivery.mail_merge import pdf_page_count
from central.models import (
    Budget,
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
    NetworkRules,
    PrintFile,
)
from central.rules.selectors import network_rules_of
from local_stores.money import money
from templates_lib import previews, rendering

CENT = Decimal("0.01")
COMMITTED_STATUSES = (CampaignStatus.APPROVED, CampaignStatus.SCHEDULED)
SPENT_STATUSES = (CampaignStatus.SENDING, CampaignStatus.PAUSED, CampaignStatus.SENT)


def _rules(campaign: Campaign) -> NetworkRules:

    return network_rules_of(campaign.network)


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class CostPart:
    """One term of a cost: ``quantity`` of ``kind`` ("email", "segment", "page", "copy" — the
    paper, envelope and enclosing of a letter beyond its pages —, "postage") at ``price`` each."""

    kind: str
    quantity: int
    price: Decimal


@dataclass(frozen=True)
class Cost:
    """A campaign's cost: ``messages`` at ``unit`` each (estimated), or as sent (actual), and who
    pays. ``parts``: what one message is made of (an estimate), or everything sent (actual)."""

    messages: int
    total: Decimal
    head_office: Decimal
    branch: Decimal
    unit: Decimal
    parts: tuple[CostPart, ...]
    actual: bool = False

    def formula(self) -> list[str]:
        """The cost in words and figures, in the reader's language and currency: for an estimate
        "105 messages × 1,13 € = 118,65 €" and what one message is made of ("per message: 2 pages ×
        0,08 € + …"); for an actual cost its terms and their total."""

        terms = " + ".join(_part_words(part) for part in self.parts)
        if self.actual:
            return [f"{terms} = {money(self.total)}"]
        lines = [ngettext("%(count)s message × %(unit)s = %(total)s", "%(count)s messages × %(unit)s = %(total)s",
                          self.messages) % {"count": self.messages, "unit": money(self.unit, precise=True),
                                            "total": money(self.total)}]
        if len(self.parts) > 1 or any(part.quantity != 1 for part in self.parts):
            lines.append(_("per message: %(terms)s") % {"terms": terms})
        return lines


def _part_words(part: CostPart) -> str:

    words = {
        "email": ngettext_lazy("%(count)s e-mail × %(price)s", "%(count)s e-mails × %(price)s", "count"),
        "segment": ngettext_lazy("%(count)s SMS segment × %(price)s", "%(count)s SMS segments × %(price)s", "count"),
        "page": ngettext_lazy("%(count)s printed page × %(price)s", "%(count)s printed pages × %(price)s", "count"),
        "copy": ngettext_lazy("%(count)s envelope filled × %(price)s", "%(count)s envelopes filled × %(price)s",
                              "count"),
        "postage": ngettext_lazy("%(count)s stamp × %(price)s", "%(count)s stamps × %(price)s", "count"),
    }[part.kind]
    return words % {"count": part.quantity, "price": money(part.price, precise=True)}


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

    text = previews.render_for_kind(campaign.template_version, variant_context(campaign))
    return max(1, rendering.sms_count(text).segments)


def print_pages(campaign: Campaign) -> int:
    """The pages of one copy of the campaign's print version (rendered once, for the sample recipient)."""

    return max(1, pdf_page_count(previews.render_for_kind(campaign.template_version, variant_context(campaign))))


def unit_cost(campaign: Campaign, rules: NetworkRules, proof=None, *,
              measured: int | None = None) -> tuple[Decimal, tuple[CostPart, ...]]:
    """What one message of ``campaign`` costs, and what it is made of: an SMS's segments, a
    letter's pages — ``measured`` on the rendering the user is looking at when given, else on what
    its ``proof`` froze (the SMS text, the print PDF), else rendered now."""

    def segments() -> int:
        if measured is not None:
            return max(1, measured)
        if proof is not None and proof.text:
            return max(1, rendering.sms_count(proof.text).segments)
        return sms_segments(campaign)

    def pages() -> int:
        if measured is not None:
            return max(1, measured)
        if proof is not None and proof.pdf:
            return max(1, pdf_page_count(bytes(proof.pdf)))
        return print_pages(campaign)

    per_message = {"message": lambda: 1, "copy": lambda: 1, "segment": segments, "page": pages}
    parts = _priced(campaign, rules, per_message)
    return sum((part.quantity * part.price for part in parts), Decimal(0)), parts


def _priced(campaign: Campaign, rules: NetworkRules, quantities: dict) -> tuple[CostPart, ...]:
    """The cost parts the registry declares for the campaign's channel, each counted by
    ``quantities[rate.per]()`` (each measure taken once) at its ``NetworkRules`` price.
    ``UnknownChannel`` for a channel not declared; ``KeyError`` for a measure not counted here."""
    measured: dict[str, int] = {}
    parts = []
    for rate in channels.get(campaign.channel).cost_rates:
        if rate.per not in measured:
            measured[rate.per] = quantities[rate.per]()
        parts.append(CostPart(rate.name, measured[rate.per], getattr(rules, rate.price_field)))
    return tuple(parts)


def campaign_cost_estimate(campaign: Campaign, *, audience: int, proof=None, measured: int | None = None) -> Cost:
    """The cost of sending ``campaign`` to ``audience`` customers (its proposed list's count), its
    message measured on ``proof`` when given (nothing rendered again), or ``measured`` (an SMS's
    segments, a letter's pages) on the preview the user sees."""
    unit, parts = unit_cost(campaign, _rules(campaign), proof, measured=measured)
    head_office, branch = _split(campaign, audience * unit)
    return Cost(audience, _cents(audience * unit), head_office, branch, unit, parts)


def pdf_pages(pdf: bytes) -> int:
    """The pages of a rendered print PDF (at least 1)."""
    return max(1, pdf_page_count(pdf))


def _sent_figures(campaign_ids: list[int]) -> dict[int, dict[str, int]]:
    """What was sent, per campaign id, in two queries: messages sent, their SMS segments (and how
    many were sent before segments were recorded), the pages and letters of the mail merges."""

    figures = {pk: {"count": 0, "segments": 0, "unknown": 0, "pages": 0, "letters": 0} for pk in campaign_ids}
    for row in (Delivery.objects.filter(campaign_id__in=campaign_ids, status=DeliveryStatus.SENT).values("campaign_id")
                .annotate(n_sent=Count("id"), n_segments=Sum("segments"),
                          n_unknown=Count("id", filter=Q(segments__isnull=True)))):
        figures[row["campaign_id"]].update(count=row["n_sent"], segments=row["n_segments"] or 0,
                                           unknown=row["n_unknown"])
    for row in (PrintFile.objects.filter(campaign_id__in=campaign_ids, kind=PrintFile.Kind.MAIL_MERGE)
                .values("campaign_id").annotate(n_pages=Sum("pages"), n_letters=Sum("recipients"))):
        figures[row["campaign_id"]].update(pages=row["n_pages"] or 0, letters=row["n_letters"] or 0)
    return figures


def campaign_cost_actual(campaign: Campaign, *, rules: NetworkRules | None = None,
                         sent: dict[str, int] | None = None) -> Cost:
    """What ``campaign`` has cost so far, from what was sent (``rules`` and ``sent`` when the
    caller already read them for many campaigns: ``budget_statuses``)."""
    rules = rules or _rules(campaign)
    sent = sent if sent is not None else _sent_figures([campaign.pk])[campaign.pk]
    count = sent["count"]

    def segments() -> int:
        if sent["unknown"]:  # sent before segments were recorded
            return sent["segments"] + sent["unknown"] * sms_segments(campaign)
        return sent["segments"]

    parts = _priced(campaign, rules, {"message": lambda: count, "segment": segments, "page": lambda: sent["pages"],
                                      "copy": lambda: sent["letters"]})
    total = sum((part.quantity * part.price for part in parts), Decimal(0))
    head_office, branch = _split(campaign, total)
    unit = sum((getattr(rules, rate.price_field) for rate in channels.get(campaign.channel).cost_rates
                if rate.per == "message"), Decimal(0))
    return Cost(count, _cents(total), head_office, branch, unit, parts, actual=True)


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
    return budget_statuses([budget], estimates=estimates)[0]


def budget_statuses(budget_rows, *, estimates: dict[int, Decimal] | None = None) -> list[BudgetStatus]:
    """``budget_status`` of each of ``budget_rows``, in a fixed number of queries however many
    budgets and campaigns (the budgets page lists a whole network's): the campaigns, what they sent,
    their latest proofs and the networks' rules are each read once."""

    budget_rows = list(budget_rows)
    if not budget_rows:
        return []
    campaigns = list(Campaign.objects.filter(
        branch_id__in={budget.branch_id for budget in budget_rows},
        send_date__range=(min(b.starts_on for b in budget_rows), max(b.ends_on for b in budget_rows)),
        status__in=(*COMMITTED_STATUSES, *SPENT_STATUSES),
    ).select_related("operation", "network", "template_version__template", "branch"))
    networks = {campaign.network_id: campaign.network for campaign in campaigns}
    rules = {network_id: network_rules_of(network) for network_id, network in networks.items()}
    sent = _sent_figures([c.pk for c in campaigns if c.status in SPENT_STATUSES])
    proofs: dict[int, object] = {}  # each committed campaign's latest proof (the approvals app's model)
    committed_ids = [c.pk for c in campaigns if c.status in COMMITTED_STATUSES]
    for proof in (Campaign._meta.get_field("proofs").related_model.objects.filter(campaign_id__in=committed_ids)
                  .only("id", "campaign_id", "number", "audience_count", "text", "pdf").order_by("campaign_id", "number")):
        proofs[proof.campaign_id] = proof  # the highest number last
    statuses = []
    for budget in budget_rows:
        committed = spent = Decimal("0.00")
        for campaign in campaigns:
            if campaign.branch_id != budget.branch_id or not budget.starts_on <= campaign.send_date <= budget.ends_on:
                continue
            if campaign.status in SPENT_STATUSES:
                spent += campaign_cost_actual(campaign, rules=rules[campaign.network_id], sent=sent[campaign.pk]).branch
            elif estimates and campaign.pk in estimates:
                committed += estimates[campaign.pk]
            else:  # approved or scheduled: what its latest proof froze (the audience, the message)
                proof = proofs.get(campaign.pk)
                unit, _parts = unit_cost(campaign, rules[campaign.network_id], proof)
                audience = proof.audience_count if proof else 0
                committed += _split(campaign, audience * unit)[1]
        statuses.append(BudgetStatus(budget, committed, spent))
    return statuses


def budget_for(campaign: Campaign) -> Budget | None:
    """The budget row covering ``campaign``'s branch on its send date (the latest allocated)."""
    if campaign.branch_id is None:
        return None
    return (Budget.objects.filter(branch_id=campaign.branch_id, starts_on__lte=campaign.send_date,
                                  ends_on__gte=campaign.send_date).order_by("-created_at").first())


def over_budget(campaign: Campaign, *, audience: int, measured: int | None = None) -> tuple[bool, Cost, Decimal | None]:
    """Whether sending ``campaign`` to ``audience`` customers would take its branch over its budget:
    (over, the estimate, what remains before it). A network that allocates no budget at all
    manages none (never over); once it does, a branch without a budget covering the send date has
    nothing to spend. ``measured``: as for ``campaign_cost_estimate``."""
    estimate = campaign_cost_estimate(campaign, audience=audience, measured=measured)
    if campaign.branch_id is None or estimate.branch <= 0:
        return False, estimate, None
    budget = budget_for(campaign)
    if budget is None:
        if not Budget.objects.filter(network_id=campaign.network_id).exists():
            return False, estimate, None
        return True, estimate, Decimal("0.00")
    status = budget_status(budget)
    return estimate.branch > status.remaining, estimate, status.remaining
