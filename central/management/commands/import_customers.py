from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from central.customers import mappings
from central.customers.importing import ImportFileError
from central.customers.services import customer_import_load
from central.purchases.services import purchase_import_load
from local_stores.models import Network


class Command(BaseCommand):
    help = (
        "Import customers from a CSV file into a network (upsert by CRM id), or with --purchases their "
        "purchases (recorded once by purchase id); prints each rejected row."
    )

    def add_arguments(self, parser):
        parser.add_argument("network", help="network slug")
        parser.add_argument("path", type=Path)
        parser.add_argument("--source", default="", help="consent source recorded for this file")
        parser.add_argument("--purchases", action="store_true", help="the file holds purchases, not customers")
        parser.add_argument("--encoding", default="", choices=["", "utf-8", "cp1252", "iso8859_15"],
                            help="the file's encoding (default: detected; UTF-8, else Windows-1252 and the like)")
        parser.add_argument("--mapping", default="", metavar="NAME",
                            help="the name of a column mapping saved on the upload page (default: the one saved "
                                 "for the file's headers, if any)")

    def handle(self, *args, network: str, path: Path, source: str, purchases: bool = False, encoding: str = "",
               mapping: str = "", **options):
        try:
            target = Network.objects.get(slug=network)
        except Network.DoesNotExist as error:
            raise CommandError(f"No network with slug {network!r}.") from error
        if not path.is_file():
            raise CommandError(f"No file at {path}.")
        column_mapping = {}
        if mapping:
            try:
                column_mapping = dict(mappings.mapping_named(network=target, name=mapping).mapping)
            except ValidationError as error:
                raise CommandError(" ".join(error.messages)) from error
        try:
            with path.open("rb") as stream, transaction.atomic():
                if purchases:
                    result = purchase_import_load(network=target, stream=stream)
                else:
                    result = customer_import_load(
                        network=target, stream=stream, source=source or f"import {path.name}", encoding=encoding,
                        mapping=column_mapping,
                    )
        except ImportFileError as error:
            raise CommandError(str(error)) from error
        for error in result.errors:
            self.stderr.write(f"line {error.line}: {error.field or '-'}: {error.reason} [{error.value}]")
        self.stdout.write(
            f"{result.rows_total} rows read, {result.rows_created} created, {result.rows_updated} updated, "
            f"{result.rows_rejected} rejected"
        )
        if result.rows_rejected:
            raise SystemExit(3)
