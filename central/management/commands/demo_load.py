from django.core.management.base import BaseCommand

from fixtures.demo import ACCOUNTS, DEMO_PASSWORD, load_demo


class Command(BaseCommand):
    help = "Load the demo networks, accounts and customers (does nothing if they are already there)."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=5000)

    def handle(self, *args, customers: int, **options):
        if not load_demo(customers=customers, stdout=self.stdout):
            self.stdout.write("The demo network is already loaded.")
            return
        self.stdout.write(self.style.SUCCESS(f"Demo loaded. Accounts (password: {DEMO_PASSWORD}):"))
        for username, _first, _last, role, code, _staff in ACCOUNTS:
            self.stdout.write(f"  {username:16} {role.label} — {code}")
        self.stdout.write("  azur.marketing   head office of the second network (Hôtels Azur)")
        self.stdout.write("  admin            superuser (Django admin)")
