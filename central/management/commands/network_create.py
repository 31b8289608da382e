"""``manage.py network_create --name N --slug S --head-office H --admin-email E``: a network with
its head office, and an invitation e-mailed to its first head-office person (head office marketer).
Idempotent on the slug: a second run says the network exists and changes nothing."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from central.networks.services import network_exists, network_setup

#: The service's fields by the command's options.
_OPTION = {"name": "name", "slug": "slug", "head_office_name": "head-office", "admin_email": "admin-email"}


class Command(BaseCommand):
    help = (
        "Create a network with its head office and e-mail an invitation to its first head-office person "
        "(head office marketer). Does nothing when a network already has the slug."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="the network's name")
        parser.add_argument("--slug", required=True, help="its short name (letters, digits, hyphens)")
        parser.add_argument("--head-office", required=True, dest="head_office", help="the head office's name")
        parser.add_argument("--admin-email", required=True, dest="admin_email",
                            help="e-mail of the first head-office person, invited as head office marketer")

    def handle(self, *args, name: str, slug: str, head_office: str, admin_email: str, **options):
        if network_exists(slug):
            self.stdout.write(f"A network with the slug {slug.strip()!r} already exists: nothing changed.")
            return
        try:
            network, invitation = network_setup(
                name=name, slug=slug, head_office_name=head_office, admin_email=admin_email
            )
        except ValidationError as error:
            problems = "; ".join(f"--{_OPTION.get(field, field)}: {' '.join(messages)}"
                                 for field, messages in error.message_dict.items())
            raise CommandError(f"Nothing created. {problems}") from error
        self.stdout.write(self.style.SUCCESS(
            f"Network {network.name!r} ({network.slug}) created with its head office; invitation sent to "
            f"{invitation.email} (valid until {invitation.expires_at:%Y-%m-%d %H:%M} UTC)."
        ))
