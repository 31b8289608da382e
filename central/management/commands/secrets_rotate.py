from django.core.management.base import BaseCommand

from central.identity.services import secrets_rotate


class Command(BaseCommand):
    help = ("Encrypt every stored secret (sending identities, printers) again under the first key of "
            "RELAIS_SECRET_KEYS (docs/sending-identity.md, rotation).")

    def handle(self, *args, **options):
        self.stdout.write(f"{secrets_rotate()} secrets encrypted again under the first key.")
