"""Post: a campaign's mail merge printed (one PDF, one page set per recipient) and handed to the
network's printer (``central.delivery.printing.services``); its deliveries are marked sent."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

import weasyprint
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation

from central.customers.consent import consent_problem
from central.delivery.claims import contact_for, delivery_end, sending_campaign
from central.delivery.content import FrozenSend, recipient_values, system_values
from central.delivery.errors import CANCELLED, FAILED, SENT
from central.delivery.printing.services import print_handoff_start  # manifest, BAT, to the network's printer
from central.delivery.send_state import campaign_finish_if_done, campaign_for_send
from central.models import (
    Campaign,
    CampaignStatus,
    Channel,
    Contact,
    Customer,
    Delivery,
    DeliveryReason,
    DeliveryStatus,
    PrintFile,
)
from templates_lib import frozen, merge, rendering, rendering_print
from templates_lib.slots import escape_html

logger = logging.getLogger(__name__)


# --- Print ---------------------------------------------------------------------------------------


def _marker(name: str) -> str:
    return f"@@relais-merge-{name}@@"


def _address_block(customer: Customer) -> str:
    name = " ".join(filter(None, [customer.get_civility_display() if customer.civility else "",
                                  customer.first_name, customer.last_name]))
    lines = [name, customer.address_line1, f"{customer.postal_code} {customer.city}".strip()]
    if customer.country and customer.country != "FR":
        lines.append(customer.country)
    return "<br>".join(escape_html(line) for line in lines if line)


MERGE_CSS = (
    ".relais-merge-page { break-after: page; } .relais-merge-page:last-child { break-after: auto; }\n"
    ".relais-address { width: 85mm; margin: 0 0 8mm auto; font: 10pt/1.35 sans-serif; }"
)


def mail_merge_pdf(campaign: Campaign, deliveries: Iterable[Delivery]) -> tuple[bytes, int]:
    """One PDF: for each delivery, the campaign's print version merged with its recipient, the
    address block on top of its first page. The variant is merged once (recipient fields left as
    markers); per recipient, only the markers are replaced. Rendered by WeasyPrint with the
    library-only URL fetcher; the task's time limit bounds it. Rendered from the approved proof's
    snapshot: each recipient's page with their variant (their owner branch's, in a co-signed send)."""
    send = FrozenSend(campaign)
    recipient_markers = {name: _marker(name) for name in merge.RECIPIENT_FIELDS}
    system_markers = {name: _marker(f"system-{name}") for name in merge.SYSTEM_FIELDS}
    variants: dict[str, str] = {}
    head, assets = "", {}
    pages = []
    for delivery in deliveries:
        key = send.key_for(delivery.customer)
        if key not in variants:
            document, loaded = rendering_print.print_html(send.version, send.context(key), recipient_markers, system_markers)
            head = head or document.partition("<body>")[0]
            assets |= loaded
            variants[key] = document.partition("<body>")[2].rpartition("</body>")[0]
        body = variants[key]
        values = {**{_marker(k): v for k, v in recipient_values(delivery.customer).items()},
                  **{_marker(f"system-{k}"): v for k, v in system_values(delivery.token).items()}}
        page = body
        for marker, value in values.items():
            page = page.replace(marker, escape_html(value))
        # the anchor marks each piece's first page: central/delivery/printing/services.py reads the page ranges from it
        pages.append(f'<section class="relais-merge-page" id="relais-piece-{len(pages) + 1}"><div class="relais-address">'
                     f"{_address_block(delivery.customer)}</div>{page}</section>")
    merged = head.replace("</style>", f"\n{MERGE_CSS}</style>", 1) + "<body>" + "".join(pages) + "</body></html>"
    rendered = weasyprint.HTML(string=merged, url_fetcher=rendering_print.AssetOnlyFetcher(assets),
                               base_url=rendering.ASSET_SCHEME).render()
    return rendered.write_pdf(), len(rendered.pages)


def pdf_page_count(pdf: bytes) -> int:
    """The PDF's page count, read by pypdf (a pattern over the bytes found none in compressed
    object streams: the sandboxed renderer's flyers showed 0 pages)."""
    from io import BytesIO

    from pypdf import PdfReader

    return len(PdfReader(BytesIO(pdf)).pages)


def campaign_flyer_produce(*, campaign: Campaign) -> PrintFile:
    """The flyer for the store: one copy of the print version with the branch's details (no
    recipient), rendered in the sandboxed child process. Made once per campaign."""
    existing = campaign.print_files.filter(kind=PrintFile.Kind.FLYER).first()
    if existing:
        return existing
    send = FrozenSend(campaign)
    with translation.override(settings.LANGUAGE_CODE):
        pdf = rendering_print.render_print(send.version, send.context(frozen.variant_key(send.snapshot, None)), {},
                                     {"unsubscribe_url": "", "view_online_url": "", "stop_mention": ""})
    record = PrintFile(campaign=campaign, kind=PrintFile.Kind.FLYER, pages=pdf_page_count(pdf))
    record.file.save(f"{campaign.public_id}-flyer.pdf", ContentFile(pdf), save=False)
    record.save()
    return record


def campaign_print_produce(*, campaign_id: int, now: datetime | None = None) -> list[PrintFile]:
    """A post campaign's print run: the store's flyer, and the mail merge of its queued deliveries
    (checked again for consent, objection and address; sorted by postal code), stored under
    MEDIA_ROOT/print/; the printed deliveries are then *sent* (a Contact each). Safe to run twice:
    the deliveries are claimed as for e-mail, and a second run finds nothing queued."""
    now = now or timezone.now()
    campaign = campaign_for_send(campaign_id)
    if campaign is None or campaign.status != CampaignStatus.SENDING:
        return []
    files = []
    try:
        files.append(campaign_flyer_produce(campaign=campaign))
    except Exception:  # the store's copy is not a delivery: its failure holds no letter back
        logger.exception("flyer of campaign %s failed", campaign.public_id)
    claimed = Delivery.objects.filter(
        campaign_id=campaign_id, status=DeliveryStatus.QUEUED, campaign_id__in=sending_campaign(campaign_id),
    ).update(status=DeliveryStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    if claimed:
        printable = []
        for delivery in (Delivery.objects.filter(campaign_id=campaign_id, status=DeliveryStatus.SENDING, claimed_at=now)
                         .select_related("customer").order_by("customer__postal_code", "customer__last_name", "pk")):
            problem = consent_problem(delivery.customer, Channel.POST)
            if problem:
                delivery_end(delivery.pk, CANCELLED, reason=problem, now=now)
            else:
                printable.append(delivery)
        if printable:
            try:
                with translation.override(settings.LANGUAGE_CODE):
                    pdf, pages = mail_merge_pdf(campaign, printable)
            except Exception as error:
                logger.exception("mail merge of campaign %s failed", campaign.public_id)
                for delivery in printable:
                    delivery_end(delivery.pk, FAILED, reason=DeliveryReason.ERROR, error=f"{type(error).__name__}: {error}",
                         now=now)
            else:
                with transaction.atomic():
                    part = campaign.print_files.filter(kind=PrintFile.Kind.MAIL_MERGE).count() + 1
                    record = PrintFile(campaign=campaign, kind=PrintFile.Kind.MAIL_MERGE, pages=pages,
                                       recipients=len(printable))
                    record.file.save(f"{campaign.public_id}-mail-merge-{part}.pdf", ContentFile(pdf), save=False)
                    record.save()
                    ids = [delivery.pk for delivery in printable]
                    Delivery.objects.filter(pk__in=ids).exclude(status=SENT).update(
                        status=SENT, sent_at=now, finished_at=now, provider_id=f"print:{record.pk}", reason="")
                    Contact.objects.bulk_create([contact_for(campaign, delivery.customer_id, now) for delivery in printable])
                files.append(record)
                print_handoff_start(print_file=record)
    campaign_finish_if_done(campaign_id=campaign_id)
    return files
