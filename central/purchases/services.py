"""Writes of the CRM's purchases: loading a CSV of them (``central/purchases/importing.py`` checks and stages it)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from central.customers import importing as customer_import
from central.models import CustomerImport
from central.purchases import importing as purchase_import
from local_stores.models import Network, Node, NodeKind


def purchase_import_load(*, network: Network, stream, import_id: int | None = None, now=None):
    """Validate and record the purchases of a CSV stream into ``network``, in the current
    transaction (see ``central.purchase_import``). Returns an ``ImportResult``; raises
    ``ImportFileError`` when the file as a whole cannot be read."""
    now = now or timezone.now()
    reader, _header = customer_import.open_csv(stream, purchase_import.COLUMNS, purchase_import.REQUIRED_COLUMNS)
    branch_ids = dict(Node.objects.filter(network=network, kind=NodeKind.BRANCH).values_list("code", "id"))
    validator = purchase_import.PurchaseRowValidator(branch_ids=branch_ids, today=timezone.localdate(now))
    with transaction.atomic():  # all or nothing, the caller's transaction usable after a failure (as customers)
        return purchase_import.load(network_id=network.pk, rows=enumerate(reader, start=2), validator=validator,
                                    import_id=import_id, now=now, error_limit=CustomerImport.ERROR_LIMIT)
