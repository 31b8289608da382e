"""What customers bought, as the CRM exports it: what reporting credits campaigns with."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from central.models.customers import Customer, CustomerImport
from local_stores.models import Network, Node


class Purchase(models.Model):
    """A purchase a customer made, as the CRM exports it (imported by CSV): what campaigns are
    credited with when it falls in the days after their send (see reporting)."""

    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="+", db_index=False)
    #: The CRM's id of the purchase (receipt, order), or "#" and a digest of the row when the file
    #: gives none: the same file imported twice records each purchase once.
    key = models.CharField(_("purchase id"), max_length=64)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="purchases",
                                 verbose_name=_("customer"), db_index=False)
    branch = models.ForeignKey(Node, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("branch"),
                               db_index=False)
    purchased_on = models.DateField(_("date"))
    #: In the network's currency; a refund is negative.
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    customer_import = models.ForeignKey(CustomerImport, on_delete=models.SET_NULL, null=True, related_name="+",
                                        db_index=False)
    recorded_at = models.DateTimeField(_("recorded on"))

    class Meta:
        verbose_name = _("purchase")
        verbose_name_plural = _("purchases")
        constraints = [models.UniqueConstraint(fields=["network", "key"], name="purchase_once")]
        indexes = [models.Index(fields=["customer", "purchased_on"], name="purchase_customer_day"),
                   models.Index(fields=["network", "purchased_on"], name="purchase_network_day"),
                   # the roll-up task looks for purchases recorded since its last run
                   models.Index(fields=["recorded_at"], name="purchase_recorded_at")]

    def __str__(self) -> str:
        return f"{self.key} {self.purchased_on} {self.amount}"
