import secrets

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from central.customers.importing import normalise_mobile
from central.delivery.sms_inbound import sms_inbound_receive


class Command(BaseCommand):
    @property
    def help(self) -> str:  # argparse wants a str, not a lazy one
        return _("Simulate a reply to an SMS, as the provider's webhook would receive it (the file backend of "
                 "development has no inbound side): STOP, ARRÊT… withdraws the SMS consent of every customer "
                 "with that number.")

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="sender", required=True,
                            help=_("the sender's mobile number (+33612345678 or 06 12 34 56 78)"))
        parser.add_argument("--body", required=True, help=_("the text of the reply, e.g. STOP"))
        parser.add_argument("--message-id", default="",
                            help=_("the provider's id of the reply (a new one by default); the same id "
                                   "twice changes nothing the second time"))

    def handle(self, *args, sender: str, body: str, message_id: str, **options):
        number = normalise_mobile(sender)
        if not number:
            raise CommandError(_("This is not a valid mobile number (e.g. 06 12 34 56 78 or +33612345678)."))
        message_id = message_id or "cli-" + secrets.token_hex(12)
        result = sms_inbound_receive(sender=number, body=body, message_id=message_id)
        if not result.stop:
            self.stdout.write(_("Not an opt-out keyword: nothing recorded."))
        elif not result.customers:
            self.stdout.write(_("No customer has this number: nothing recorded."))
        elif result.duplicate:
            self.stdout.write(_("This reply (%(id)s) was already recorded: nothing changed.") % {"id": message_id})
        else:
            self.stdout.write(ngettext(
                "SMS consent withdrawn for %(withdrawn)d of the %(count)d customer with this number (reply %(id)s).",
                "SMS consent withdrawn for %(withdrawn)d of the %(count)d customers with this number (reply %(id)s).",
                result.customers,
            ) % {"withdrawn": result.withdrawn, "count": result.customers, "id": message_id})
