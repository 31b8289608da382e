"""The customers' CSV export, streamed row by row from an already-scoped queryset."""

from collections.abc import Iterator

from django.db.models import QuerySet

from central.models import Customer
from central.spreadsheets import csv_lines, spreadsheet_safe

CUSTOMER_EXPORT_FIELDS = (
    "public_id",
    "external_id",
    "branch__code",
    "civility",
    "first_name",
    "last_name",
    "email",
    "mobile",
    "postal_code",
    "city",
    "segment",
    "consent_email",
    "consent_sms",
    "consent_post",
    "objected_at",
)


def customers_csv(customers: QuerySet[Customer]) -> Iterator[str]:
    def lines():
        yield [name.replace("branch__code", "branch_code") for name in CUSTOMER_EXPORT_FIELDS]
        for row in customers.values_list(*CUSTOMER_EXPORT_FIELDS).iterator(chunk_size=2000):
            yield [spreadsheet_safe(value) for value in row]

    return csv_lines(lines())
