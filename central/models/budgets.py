"""Budgets: what head office gives each branch to spend on marketing over a period."""

from functools import partial

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from local_stores.identifiers import new_public_id
from local_stores.models import Network, Node


class Budget(models.Model):
    """What head office gives a branch to spend on marketing over a period (its campaigns whose send
    date falls in it). An allocation to a region is split among its branches, one row each."""

    public_id = models.CharField(max_length=24, unique=True, default=partial(new_public_id, "bud"), editable=False)
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="budgets")
    branch = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="budgets", verbose_name=_("branch"))
    #: The region whose allocation this row is a share of (empty: allocated to the branch itself).
    region = models.ForeignKey(Node, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                               verbose_name=_("region"))
    starts_on = models.DateField(_("from"))
    ends_on = models.DateField(_("until"))
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["starts_on", "branch__name"]
        verbose_name = _("budget")
        verbose_name_plural = _("budgets")
        indexes = [models.Index(fields=["branch", "starts_on"], name="budget_branch_start")]

    def __str__(self) -> str:
        return f"{self.branch} {self.starts_on}→{self.ends_on}: {self.amount}"
