"""The CRM's purchases through the API: a purchase file's import is a customer import of the
purchases' kind (same resource, same report)."""

from central.customers.api import CustomerImportCreateApi, CustomerImportDetailApi
from central.models import CustomerImport


class PurchaseImportCreateApi(CustomerImportCreateApi):
    """Upload a CSV of purchases from the CRM (multipart, field ``file``; ``network`` is the
    network slug): columns customer_external_id, purchased_on, amount, and optionally purchase_id
    and branch_code. The import runs in the background; poll the returned resource for its report
    (``rows_created``: purchases recorded, ``rows_updated``: purchases already known)."""

    kind = CustomerImport.Kind.PURCHASES


class PurchaseImportDetailApi(CustomerImportDetailApi):
    """The state and the report of one purchase import."""

    kind = CustomerImport.Kind.PURCHASES
