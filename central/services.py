"""Writes to the customer referential."""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from central import customer_import
from central.models import CustomerImport
from local_stores.models import Network, Node, NodeKind
from local_stores.selectors import node_in_scope

logger = logging.getLogger(__name__)


def _head_office(network: Network) -> Node:
    return Node.objects.get(network=network, kind=NodeKind.HEAD_OFFICE)


def customer_import_create(*, network: Network, uploaded_file: UploadedFile, created_by) -> CustomerImport:
    """Record an uploaded CSV and queue its import (after the transaction commits).

    Raises PermissionDenied unless ``created_by`` may import customers into ``network``, and
    ValidationError for a file that is not a CSV or is too large.
    """
    if not node_in_scope(created_by, _head_office(network), perm="import_customers"):
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
        file=uploaded_file,
        original_name=name[:255],
        created_by=created_by,
        language=translation.get_language() or settings.LANGUAGE_CODE,
    )
    from central.tasks import customer_import_run_task

    transaction.on_commit(lambda: customer_import_run_task.delay(record.pk))
    return record


def customer_import_run(*, customer_import_id: int) -> CustomerImport:
    """Run one import to its end. Safe to call twice: a finished import is left as it is, and a
    re-run of an interrupted one upserts the same rows again (by CRM id), with the same outcome."""
    record = CustomerImport.objects.select_related("network").get(pk=customer_import_id)
    if record.is_finished:
        return record
    now = timezone.now()
    CustomerImport.objects.filter(pk=record.pk).update(status=CustomerImport.Status.RUNNING, started_at=now)
    try:
        with translation.override(record.language), record.file.open("rb") as stream, transaction.atomic():
            result = customer_import_load(network=record.network, stream=stream, import_id=record.pk, now=now)
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
    *, network: Network, stream, import_id: int | None = None, now=None, source: str = ""
):
    """Validate and upsert the customers of a CSV stream into ``network``, in the current
    transaction. Returns an ``ImportResult`` (counts and each bad row's line, field and reason).
    Raises ``ImportFileError`` when the file as a whole cannot be read."""
    now = now or timezone.now()
    reader, _header = customer_import.open_csv(stream)
    branch_ids = dict(
        Node.objects.filter(network=network, kind=NodeKind.BRANCH, is_active=True).values_list("code", "id")
    )
    validator = customer_import.RowValidator(
        branch_ids=branch_ids, default_source=source or f"import {now:%Y-%m-%d}", now=now
    )
    return customer_import.load(
        network_id=network.pk,
        rows=enumerate(reader, start=2),
        validator=validator,
        import_id=import_id,
        now=now,
        error_limit=CustomerImport.ERROR_LIMIT,
    )
