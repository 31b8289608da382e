"""Writes to the customer referential: the CSV import (customers or purchases) and erasure (RGPD art. 17)."""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from central.channels import registry as channels
from central.customers import consent, csv_files, mappings
from central.customers import importing as customer_import
from central.models import (
    Customer,
    CustomerImport,
    Delivery,
    Purchase,
    SignupRequest,
    TargetOverride,
    TrackingEvent,
)
from central.purchases.services import purchase_import_load
from central.signals import customer_erased
from central.task_queue import task_send_on_commit
from local_stores.models import Network, Node, NodeKind
from local_stores.selectors import head_office_of, node_in_scope

logger = logging.getLogger(__name__)

def customer_import_create(
    *, network: Network, uploaded_file: UploadedFile, created_by, kind: str = CustomerImport.Kind.CUSTOMERS,
    encoding: str = "", column_mapping: dict[str, str] | None = None, queue: bool = True,
) -> CustomerImport:
    """Record an uploaded CSV of customers or of their purchases (``kind``) and queue its import
    (after the transaction commits), read in ``encoding`` ("" detects it) with ``column_mapping``
    ({file header: Relais column or "ignore"}; none: the network's saved mapping for its headers).
    ``queue`` False: the import waits for its columns to be mapped (``customer_import_start``).

    Raises PermissionDenied unless ``created_by`` may import customers into ``network``, and
    ValidationError for a file that is not a CSV or is too large.
    """
    if kind not in CustomerImport.Kind.values:
        raise ValidationError({"kind": _("Import customers or purchases.")})
    if encoding not in csv_files.ENCODINGS:
        raise ValidationError({"encoding": _("Choose the file's encoding among: detect, UTF-8, Windows-1252, "
                                             "ISO-8859-15.")})
    column_mapping = mappings.check_mapping(column_mapping or {})
    if not node_in_scope(created_by, head_office_of(network), perm="import_customers"):
        raise PermissionDenied(_("You may not import customers into this network."))
    name = Path(uploaded_file.name or "customers.csv").name
    if not name.lower().endswith((".csv", ".txt")):
        raise ValidationError({"file": _("Send a .csv file (UTF-8, comma or semicolon separated).")})
    if uploaded_file.size > settings.RELAIS_IMPORT_MAX_BYTES:
        raise ValidationError(
            {
                "file": _("The file is larger than %(size)d MB.")
                % {"size": settings.RELAIS_IMPORT_MAX_BYTES // (1024 * 1024)}
            }
        )
    if uploaded_file.size == 0:
        raise ValidationError({"file": _("The file is empty.")})
    record = CustomerImport.objects.create(
        network=network,
        kind=kind,
        file=uploaded_file,
        original_name=name[:255],
        created_by=created_by,
        language=translation.get_language() or settings.LANGUAGE_CODE,
        encoding=encoding,
        column_mapping=column_mapping,
        status=CustomerImport.Status.PENDING if queue else CustomerImport.Status.MAPPING,
    )
    if queue:
        task_send_on_commit("central.customer_import_run", args=[record.pk])
    return record


def customer_import_start(
    *, record: CustomerImport, column_mapping: dict[str, str], header: list[str], started_by, save_as: str | None
) -> CustomerImport:
    """Queue an import that waited for its columns to be mapped, with ``column_mapping``; ``save_as``
    (a name, or "" for a dated one) saves the mapping for the network's next files of these headers."""
    if not node_in_scope(started_by, head_office_of(record.network), perm="import_customers"):
        raise PermissionDenied(_("You may not import customers into this network."))
    column_mapping = mappings.check_mapping(column_mapping)
    updated = CustomerImport.objects.filter(pk=record.pk, status=CustomerImport.Status.MAPPING).update(
        status=CustomerImport.Status.PENDING, column_mapping=column_mapping)
    if not updated:
        raise ValidationError(_("This import has already started."))
    if save_as is not None:
        mappings.mapping_save(network=record.network, header=header, mapping=column_mapping,
                              encoding=record.encoding, created_by=started_by, name=save_as)
    task_send_on_commit("central.customer_import_run", args=[record.pk])
    record.refresh_from_db()
    return record


def customer_import_run(*, customer_import_id: int) -> CustomerImport:
    """Run one import to its end. Safe to call twice: a finished import is left as it is, and a
    re-run of an interrupted one upserts the same rows again (by CRM id), with the same outcome."""
    record = CustomerImport.objects.select_related("network").get(pk=customer_import_id)
    if record.is_finished or record.status == CustomerImport.Status.MAPPING:
        return record
    now = timezone.now()
    CustomerImport.objects.filter(pk=record.pk).update(status=CustomerImport.Status.RUNNING, started_at=now)
    try:
        with translation.override(record.language), record.file.open("rb") as stream, transaction.atomic():
            load = purchase_import_load if record.kind == CustomerImport.Kind.PURCHASES else customer_import_load
            options = {} if record.kind == CustomerImport.Kind.PURCHASES else {
                "encoding": record.encoding, "mapping": record.column_mapping}
            result = load(network=record.network, stream=stream, import_id=record.pk, now=now, **options)
    except customer_import.ImportFileError as error:
        record.status = CustomerImport.Status.FAILED
        record.failure_reason = str(error)
    except Exception as error:
        logger.exception("customer import %s failed", record.public_id)
        record.status = CustomerImport.Status.FAILED
        with translation.override(record.language):
            record.failure_reason = _(
                "The import stopped on an unexpected error and nothing was imported: %(error)s"
            ) % {"error": type(error).__name__}
    else:
        record.status = CustomerImport.Status.DONE
        record.rows_total = result.rows_total
        record.rows_created = result.rows_created
        record.rows_updated = result.rows_updated
        record.rows_rejected = result.rows_rejected
        record.errors = [error.as_dict() for error in result.errors]
    record.finished_at = timezone.now()
    record.save()
    return record


def customer_import_load(
    *, network: Network, stream, import_id: int | None = None, now=None, source: str = "", encoding: str = "",
    mapping: dict[str, str] | None = None,
):
    """Validate and upsert the customers of a CSV stream into ``network``, in the current
    transaction, read in ``encoding`` ("" detects it) with ``mapping`` (none: the network's saved
    mapping for the file's headers, if any). Returns an ``ImportResult`` (counts and each bad row's line, field and reason).
    Raises ``ImportFileError`` when the file as a whole cannot be read."""
    now = now or timezone.now()
    reader, _header = customer_import.open_csv(
        stream, encoding=encoding,
        mapping=mapping or (lambda header: mappings.resolve_mapping(network=network, header=header, mapping={})))
    branch_ids = dict(
        Node.objects.filter(network=network, kind=NodeKind.BRANCH, is_active=True).values_list("code", "id")
    )
    validator = customer_import.RowValidator(
        branch_ids=branch_ids, default_source=source or f"import {now:%Y-%m-%d}", now=now
    )
    # all or nothing, whoever calls: a file failing while its rows are copied in (a bad byte far down)
    # rolls back to here, and the caller's transaction stays usable (PostgreSQL aborts it otherwise)
    with transaction.atomic():
        return customer_import.load(
            network_id=network.pk,
            rows=enumerate(reader, start=2),
            validator=validator,
            import_id=import_id,
            now=now,
            error_limit=CustomerImport.ERROR_LIMIT,
        )


def customer_erase(*, customer: Customer, erased_by, reason: str = "") -> Customer:
    """Erase a customer on request: their addresses go on the network's suppression list (hashed:
    a later import of the same address sends nothing), every message not yet sent is cancelled,
    and every personal datum is removed — the customer's fields, consent history, purchases,
    sign-ups, the providers' wording of their bounces and the errors of their deliveries. The
    anonymous rows that statistics count (deliveries, events, contacts, decisions) stay, tied to the
    emptied record. Head office only (``change_customers`` over the customer's branch); once."""
    if not node_in_scope(erased_by, customer.branch, perm="change_customers"):
        raise PermissionDenied(_("You may not erase this customer."))
    if customer.erased_at is not None:
        raise ValidationError(_("This customer was already erased."))
    now = timezone.now()
    with transaction.atomic():
        for spec in channels.with_matched_address():  # every channel whose address the list compares
            consent.suppress_address(customer=customer, channel=spec.code, reason="erasure")
        consent.customer_objection_record(customer=customer, source="erasure", at=now)
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        SignupRequest.objects.filter(Q(customer=customer) | (Q(branch__network_id=customer.network_id) & (
            (Q(email=customer.email.lower()) & ~Q(email="")) | (Q(mobile=customer.mobile) & ~Q(mobile=""))))).delete()
        consent.consent_erase(customer=customer)  # the history, and every consent (saved below)
        Purchase.objects.filter(customer=customer).delete()
        TargetOverride.objects.filter(customer=customer).delete()
        deliveries = Delivery.objects.filter(customer=customer)
        deliveries.update(last_error="")
        TrackingEvent.objects.filter(delivery__in=deliveries).update(url="")
        for name in ("first_name", "last_name", "email", "mobile", "address_line1", "postal_code", "city", "segment",
                     "interests", "civility", "preferred_channel"):
            setattr(customer, name, "")
        for name in ("rfm_recency", "rfm_frequency", "rfm_monetary", "last_purchase_on", "lifetime_value"):
            setattr(customer, name, None)
        customer.external_id = f"erased:{customer.public_id}"
        customer.is_prospect = False
        customer.erased_at = now
        customer.save()
        customer_erased.send(sender=Customer, customer=customer)
        # what remains of the history: that the customer was erased, by whom (no personal datum)
        consent.consent_erasure_record(
            customer=customer, at=now,
            source=f"erasure by {erased_by.get_username()}"[:120] + (f": {reason}"[:40] if reason else ""))
    return customer
