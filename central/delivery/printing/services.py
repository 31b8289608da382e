"""The print hand-off: a post campaign's print runs reach the network's printer, and the people of
the campaign download them (docs/dispatch.md, "Print hand-off").

**What the printer receives**, for each mail-merge PDF a print run makes (``PrintFile``): the PDF
itself (print-ready, one piece per recipient, sorted by postal code); the campaign's approved BAT
(bon à tirer) byte for byte as frozen in its proof — the artwork the approvers signed, whose SHA-256
the printer can check against the manifest; and a CSV manifest, one line per piece: its number,
its page range in the PDF (read back from the PDF's named destinations), the recipient's address,
the counts, and the SHA-256 of both PDFs. Together they are a ``PrintHandoff``: *prepared*, then
*delivered* or *failed* (with the reason, each attempt counted), by SFTP or by e-mail with signed
links, per the network's ``PrinterSettings``. A failed hand-off is tried again by Celery with a
bounded back-off, or at once by head office's *Retry*.

**SFTP**: asyncssh, the server's host key checked against the fingerprint head office gave (no
key is ever trusted on first use), each file written as ``<name>.part`` then renamed, the manifest
last: a printer that picks up the manifest finds both PDFs whole.

**Secrets** (the SFTP password, the private key) are stored encrypted by ``local_stores.secrets``
(Fernet, RELAIS_SECRET_KEYS and the key derived from SECRET_KEY); no page or API answer shows them back.

**Downloads**: the files stay under MEDIA_ROOT/print/, which no URL serves; the download views read
them after the scoped lookups of ``selectors.py`` (a campaign the user sees, and whose customers they see: the
files hold names and addresses): foreign and missing both answer 404.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import logging
import posixpath
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from central.delivery.printing.selectors import (
    networks_printing_managed_by,
    print_can_retry,
    printer_settings_of,
)
from central.models import (
    Campaign,
    Delivery,
    DeliveryStatus,
    PrinterSettings,
    PrintFile,
    PrintHandoff,
    PrintHandoffStatus,
)
from central.spreadsheets import spreadsheet_safe
from central.task_queue import task_send_on_commit
from local_stores import secrets as stored_secrets
from local_stores.models import Network

logger = logging.getLogger(__name__)

#: Retries Celery makes on its own after a failed attempt; head office's Retry starts a new round.
MAX_AUTOMATIC_RETRIES = 4
#: A claim older than this is taken for a dead worker's.
CLAIM_STALE_SECONDS = 600
#: How long the links of a hand-off by e-mail work.
LINK_MAX_AGE = timedelta(days=30)
SFTP_TIMEOUT_SECONDS = 30
#: The named destination each piece of a mail merge carries (central/delivery/mail_merge.py, mail_merge_pdf).
PIECE_ANCHOR = re.compile(r"^relais-piece-(\d+)$")
FINGERPRINT = re.compile(r"^SHA256:[A-Za-z0-9+/]{43}=?$")
DEFAULT_ARTWORK = "config.print_artwork.approved_print_artwork"
MANIFEST_HEADER = ["piece", "pieces", "first_page", "last_page", "pages", "name", "address", "postal_code",
                   "city", "country", "pdf_file", "pdf_pages", "pdf_sha256", "bat_file", "bat_sha256"]


class DeliveryFailed(Exception):
    """The printer's side refused or could not be reached: the reason, in words. ``permanent``:
    trying again cannot help until someone changes something (no BAT, no printer set)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


# --- Secrets at rest ---------------------------------------------------------------------------------


def secret_encrypt(value: str) -> str:
    return stored_secrets.encrypt(value)


def secret_decrypt(token: str) -> str:
    """The secret, or "" when there is none or it cannot be read (the keys changed: enter it again)."""
    return stored_secrets.decrypt(token)


# --- The manifest ------------------------------------------------------------------------------------


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def piece_page_ranges(pdf: bytes, pieces: int) -> list[tuple[int, int]]:
    """(first, last) page of each piece, 1-based, read from the PDF's named destinations
    ``relais-piece-N`` (one per piece, on its first page). Without them, pieces of equal length."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf))
    total = len(reader.pages)
    if pieces == 0:
        return []
    firsts: dict[int, int] = {}
    for name, destination in reader.named_destinations.items():
        match = PIECE_ANCHOR.match(str(name))
        if match:
            firsts[int(match.group(1))] = reader.get_destination_page_number(destination) + 1
    if sorted(firsts) == list(range(1, pieces + 1)):
        starts = [firsts[number] for number in range(1, pieces + 1)]
    elif pieces and total % pieces == 0:
        size = total // pieces
        starts = [1 + index * size for index in range(pieces)]
    else:
        raise ValueError(f"{pieces} pieces cannot be found in {total} pages")
    ends = [start - 1 for start in starts[1:]] + [total]
    if any(end < start for start, end in zip(starts, ends, strict=True)):
        raise ValueError("the pieces' pages are not in order")
    return list(zip(starts, ends, strict=True))


def _remote_names(handoff: PrintHandoff) -> dict[str, str]:
    base = f"relais-{handoff.campaign.public_id}-{handoff.public_id}"
    return {"pdf": f"{base}.pdf", "bat": f"{base}-bat.pdf", "manifest": f"{base}.csv"}


def _printed_deliveries(print_file: PrintFile) -> QuerySet[Delivery]:
    """The deliveries printed in ``print_file``, in the order of its pieces (dispatch's order)."""
    return (Delivery.objects.filter(campaign_id=print_file.campaign_id, status=DeliveryStatus.SENT,
                                    provider_id=f"print:{print_file.pk}")
            .select_related("customer").order_by("customer__postal_code", "customer__last_name", "pk"))


def manifest_csv(handoff: PrintHandoff, ranges: list[tuple[int, int]], deliveries: list[Delivery]) -> bytes:
    names = _remote_names(handoff)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(MANIFEST_HEADER)
    for number, (delivery, (first, last)) in enumerate(zip(deliveries, ranges, strict=True), start=1):
        customer = delivery.customer
        name = " ".join(filter(None, [customer.get_civility_display() if customer.civility else "",
                                      customer.first_name, customer.last_name]))
        writer.writerow([spreadsheet_safe(value) for value in (
            number, len(deliveries), first, last, last - first + 1, name, customer.address_line1,
            customer.postal_code, customer.city, customer.country, names["pdf"], ranges[-1][1] if ranges else 0,
            handoff.pdf_sha256, names["bat"] if handoff.bat_sha256 else "", handoff.bat_sha256)])
    return buffer.getvalue().encode("utf-8")


# --- Services -----------------------------------------------------------------------------------------


def _artwork(campaign: Campaign) -> tuple[int, bytes] | None:
    return import_string(getattr(settings, "RELAIS_PRINT_ARTWORK", DEFAULT_ARTWORK))(campaign)


def print_handoff_prepare(*, print_file: PrintFile) -> PrintHandoff:
    """The hand-off of a mail-merge PDF: its manifest, the approved BAT as frozen, their hashes.
    Made once per print file (a second call returns the first)."""
    existing = PrintHandoff.objects.filter(print_file=print_file).first()
    if existing is not None:
        return existing
    campaign = Campaign.objects.select_related("network").get(pk=print_file.campaign_id)
    with print_file.file.open("rb") as stream:
        pdf = stream.read()
    deliveries = list(_printed_deliveries(print_file))
    ranges = piece_page_ranges(pdf, len(deliveries))
    handoff = PrintHandoff(print_file=print_file, campaign=campaign, pdf_sha256=_sha256(pdf),
                           pieces=len(deliveries), pages=ranges[-1][1] if ranges else 0)
    artwork = _artwork(campaign)
    if artwork is not None:
        handoff.bat_number, bat = artwork
        handoff.bat_sha256 = _sha256(bat)
    manifest = manifest_csv(handoff, ranges, deliveries)
    handoff.manifest_sha256 = _sha256(manifest)
    names = _remote_names(handoff)
    if artwork is None:
        handoff.status, handoff.reason = PrintHandoffStatus.FAILED, _("No approved proof: nothing goes to the printer.")
    with transaction.atomic():
        handoff.manifest.save(names["manifest"], ContentFile(manifest), save=False)
        if artwork is not None:
            handoff.bat.save(names["bat"], ContentFile(artwork[1]), save=False)
        handoff.save()
    return handoff


def print_handoff_start(*, print_file: PrintFile) -> PrintHandoff | None:
    """Called by the print run for each mail merge it made: prepare the hand-off and, when the network
    has a printer, queue its delivery after the commit. Never fails the print run."""
    try:
        handoff = print_handoff_prepare(print_file=print_file)
    except Exception:
        logger.exception("print hand-off of %s could not be prepared", print_file.public_id)
        return None
    if handoff.status == PrintHandoffStatus.PREPARED and printer_settings_of(handoff.campaign.network).method \
            != PrinterSettings.Method.NONE:
        _queue_delivery(handoff.pk)
    return handoff


def _queue_delivery(handoff_id: int, *, countdown: int | None = None) -> None:
    task_send_on_commit("central.print_handoff_deliver", args=[handoff_id], countdown=countdown)


def retry_delay(retry: int) -> float | None:
    """Seconds before Celery's ``retry``-th automatic retry of a failed hand-off (1, 2, …):
    ``RELAIS_PRINT_RETRY_SECONDS`` (60) × 1, 2, 4, 8; None past the last one (head office may
    still retry)."""
    if not 1 <= retry <= MAX_AUTOMATIC_RETRIES:
        return None
    return settings.RELAIS_PRINT_RETRY_SECONDS * 2 ** (retry - 1)


def _claim(handoff_id: int, now: datetime) -> bool:
    """Take the hand-off for this attempt (one conditional UPDATE): not delivered, not being tried
    by another worker. A second task on the same hand-off finds it taken and does nothing."""
    stale = now - timedelta(seconds=CLAIM_STALE_SECONDS)
    return bool(PrintHandoff.objects.filter(pk=handoff_id).exclude(status=PrintHandoffStatus.DELIVERED)
                .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=stale)).update(claimed_at=now))


def print_handoff_deliver(*, handoff_id: int, now: datetime | None = None) -> PrintHandoff | None:
    """One attempt at handing ``handoff_id`` to the network's printer: *delivered*, or *failed*
    with the reason (``handoff.worth_retrying`` then says whether trying again may help). Nothing
    if it is delivered already or being tried by another worker."""
    now = now or timezone.now()
    if not _claim(handoff_id, now):
        return PrintHandoff.objects.filter(pk=handoff_id).first()
    handoff = PrintHandoff.objects.select_related("campaign__network", "print_file").get(pk=handoff_id)
    printer = printer_settings_of(handoff.campaign.network)
    handoff.method = printer.method
    handoff.worth_retrying = False
    try:
        if not handoff.bat_sha256:
            raise DeliveryFailed(_("No approved proof: nothing goes to the printer."), permanent=True)
        files = _files_checked(handoff)
        if printer.method == PrinterSettings.Method.SFTP:
            handoff.destination = f"sftp://{printer.host}:{printer.port}/{printer.remote_directory}"
            sftp_upload(printer, files)
        elif printer.method == PrinterSettings.Method.EMAIL:
            handoff.destination = printer.email
            email_links(printer, handoff)
        else:
            raise DeliveryFailed(_("The network has no printer set: download the files from the campaign page."),
                                 permanent=True)
    except DeliveryFailed as error:
        handoff.status, handoff.reason = PrintHandoffStatus.FAILED, str(error)
        handoff.worth_retrying = not error.permanent
    except Exception as error:  # anything else is this attempt's failure too, in words
        logger.exception("print hand-off %s failed", handoff.public_id)
        handoff.status, handoff.reason = PrintHandoffStatus.FAILED, f"{type(error).__name__}: {error}"[:1000]
        handoff.worth_retrying = True
    else:
        handoff.status, handoff.reason, handoff.delivered_at = PrintHandoffStatus.DELIVERED, "", timezone.now()
    handoff.attempts += 1
    handoff.last_attempt_at, handoff.claimed_at = now, None
    handoff.save(update_fields=["status", "reason", "delivered_at", "attempts", "last_attempt_at", "claimed_at",
                                "method", "destination"])
    return handoff


def _files_checked(handoff: PrintHandoff) -> list[tuple[str, bytes]]:
    """The three files, in upload order (the manifest last), each checked against its hash."""
    names = _remote_names(handoff)
    files = []
    for key, field, digest in (("pdf", handoff.print_file.file, handoff.pdf_sha256),
                               ("bat", handoff.bat, handoff.bat_sha256),
                               ("manifest", handoff.manifest, handoff.manifest_sha256)):
        with field.open("rb") as stream:
            data = stream.read()
        if _sha256(data) != digest:
            raise DeliveryFailed(_("%(file)s changed since it was prepared: it was not sent.") % {"file": names[key]},
                                 permanent=True)
        files.append((names[key], data))
    return files


@transaction.atomic
def print_handoff_retry(*, handoff: PrintHandoff, retried_by) -> PrintHandoff:
    """Head office tries a hand-off again now (after fixing the printer's settings, say)."""
    handoff = PrintHandoff.objects.select_for_update().select_related("campaign").get(pk=handoff.pk)
    if not print_can_retry(retried_by, handoff.campaign):
        raise PermissionDenied(_("Only head office hands print runs to the printer again."))
    if handoff.status == PrintHandoffStatus.DELIVERED:
        raise ValidationError(_("This print run was already delivered to the printer."))
    _queue_delivery(handoff.pk)
    return handoff


# --- SFTP ---------------------------------------------------------------------------------------------


def _remote_path(directory: str, name: str) -> str:
    return posixpath.join(directory, name) if directory else name


def sftp_upload(printer: PrinterSettings, files: list[tuple[str, bytes]]) -> None:
    """Upload ``files`` to the printer's SFTP server, in order, each as ``.part`` then renamed."""
    try:
        _run_async(lambda: asyncio.wait_for(_sftp_upload(printer, files),
                                            timeout=SFTP_TIMEOUT_SECONDS * (1 + len(files))))
    except DeliveryFailed:
        raise
    except TimeoutError as error:
        raise DeliveryFailed(_("The printer's SFTP server did not answer in time.")) from error
    except Exception as error:
        raise DeliveryFailed(_("SFTP: %(error)s") % {"error": _sftp_error(error)}) from error


def _run_async(make_coroutine) -> None:
    """Run the coroutine to its end from synchronous code: here, or — when this thread already runs
    an event loop (an ASGI server, a browser driver in tests), where asyncio.run() is refused — in a
    thread of its own, waited for."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(make_coroutine())
        return
    outcome: dict[str, BaseException] = {}

    def run() -> None:
        try:
            asyncio.run(make_coroutine())
        except BaseException as error:  # handed back to the caller's thread, whatever it is
            outcome["error"] = error

    thread = threading.Thread(target=run, name="relais-sftp")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]


def _sftp_error(error: Exception) -> str:
    import asyncssh

    if isinstance(error, asyncssh.HostKeyNotVerifiable):
        return _("the server's host key is not the fingerprint set for the printer")
    if isinstance(error, asyncssh.PermissionDenied):
        return _("the server refused the user name or its password or key")
    if isinstance(error, ConnectionRefusedError | OSError) and not isinstance(error, asyncssh.Error):
        return _("the server cannot be reached (%(error)s)") % {"error": error.strerror or error}
    return f"{type(error).__name__}: {error}"


async def _sftp_upload(printer: PrinterSettings, files: list[tuple[str, bytes]]) -> None:
    import asyncssh

    expected = printer.host_key_fingerprint.strip()

    class _Client(asyncssh.SSHClient):
        def validate_host_public_key(self, host, addr, port, key) -> bool:
            return bool(expected) and key.get_fingerprint("sha256") == expected

    password = secret_decrypt(printer.password_encrypted) or None
    private_key = secret_decrypt(printer.private_key_encrypted)
    keys = [asyncssh.import_private_key(private_key)] if private_key else None
    async with asyncssh.connect(
        printer.host, printer.port, username=printer.username, password=password, client_keys=keys,
        known_hosts=([], [], []), client_factory=_Client, agent_path=None, config=[],
        connect_timeout=SFTP_TIMEOUT_SECONDS, login_timeout=SFTP_TIMEOUT_SECONDS,
    ) as connection, connection.start_sftp_client() as sftp:
        directory = printer.remote_directory.strip()
        for name, data in files:
            final = _remote_path(directory, name)
            partial = final + ".part"
            async with sftp.open(partial, "wb") as remote:
                await remote.write(data)
            try:
                await sftp.posix_rename(partial, final)
            except asyncssh.SFTPOpUnsupported:
                if await sftp.exists(final):
                    await sftp.remove(final)
                await sftp.rename(partial, final)


# --- E-mail with links ----------------------------------------------------------------------------------

LINK_SALT = "relais.print-handoff"


def print_link_token(handoff: PrintHandoff, what: str) -> str:
    return signing.dumps({"h": handoff.public_id, "f": what}, salt=LINK_SALT, compress=True)


def print_link_read(token: str) -> tuple[PrintHandoff, str] | None:
    """The hand-off and file a printer's link names, or None (forged, expired, unknown)."""
    try:
        data = signing.loads(token, salt=LINK_SALT, max_age=LINK_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("f") not in ("pdf", "bat", "manifest"):
        return None
    handoff = PrintHandoff.objects.select_related("campaign", "print_file").filter(public_id=data.get("h")).first()
    return (handoff, data["f"]) if handoff is not None else None


def print_file_field(handoff: PrintHandoff, what: str):
    return {"pdf": handoff.print_file.file, "bat": handoff.bat, "manifest": handoff.manifest}[what]


def email_links(printer: PrinterSettings, handoff: PrintHandoff) -> None:
    names = _remote_names(handoff)
    base = settings.RELAIS_BASE_URL.rstrip("/")
    links = [f"{names[what]}: {base}{reverse('print:printer-download', args=[print_link_token(handoff, what)])}"
             for what in ("pdf", "bat", "manifest")]
    body = "\n".join([
        _("A print run is ready for you: %(pieces)s pieces, %(pages)s pages.")
        % {"pieces": handoff.pieces, "pages": handoff.pages},
        _("SHA-256 of the PDF: %(hash)s") % {"hash": handoff.pdf_sha256},
        _("SHA-256 of the approved proof: %(hash)s") % {"hash": handoff.bat_sha256},
        "", *links, "",
        _("These links work for %(days)s days.") % {"days": LINK_MAX_AGE.days},
    ])
    message = EmailMessage(subject=_("Print run %(name)s") % {"name": names["pdf"]}, body=body,
                           to=[printer.email])
    try:
        message.send()
    except Exception as error:
        raise DeliveryFailed(_("E-mail: %(error)s") % {"error": f"{type(error).__name__}: {error}"}) from error


# --- The network's printer settings ---------------------------------------------------------------------


@dataclass
class PrinterSecrets:
    """What head office typed for the secrets: a new value, or nothing (keep), or clear."""

    password: str = ""
    private_key: str = ""
    clear_password: bool = False
    clear_private_key: bool = False


def printer_settings_save(*, network: Network, saved_by, method: str, host: str = "", port: int = 22,
                          username: str = "", remote_directory: str = "", host_key_fingerprint: str = "",
                          email: str = "", secrets: PrinterSecrets | None = None) -> PrinterSettings:
    """Head office sets how print runs reach the network's printer. Checked as a whole; the errors
    by field (ValidationError with a dict)."""
    import asyncssh

    if not networks_printing_managed_by(saved_by).filter(pk=network.pk).exists():
        raise PermissionDenied(_("Only head office sets the network's printer."))
    secrets = secrets or PrinterSecrets()
    with transaction.atomic():
        printer = PrinterSettings.objects.select_for_update().filter(network=network).first() \
            or PrinterSettings(network=network)
        errors: dict[str, list[str]] = {}
        if method not in PrinterSettings.Method.values:
            errors["method"] = [_("Choose how print runs reach the printer.")]
        host, username = host.strip(), username.strip()
        remote_directory, host_key_fingerprint = remote_directory.strip(), host_key_fingerprint.strip()
        if remote_directory and (".." in remote_directory.split("/") or "\\" in remote_directory
                                 or any(ord(c) < 32 for c in remote_directory)):
            errors["remote_directory"] = [_("Give a plain directory path, without “..”.")]
        if any(ord(c) < 32 for c in host) or " " in host:
            errors["host"] = [_("Give a host name or an IP address.")]
        if not 1 <= int(port or 0) <= 65535:
            errors["port"] = [_("The port is a number from 1 to 65535.")]
        if secrets.private_key:
            try:
                asyncssh.import_private_key(secrets.private_key)
            except (asyncssh.KeyImportError, ValueError):
                errors["private_key"] = [_("This is not a private key Relais can read (OpenSSH or PEM, "
                                           "without a passphrase).")]
        password_token = "" if secrets.clear_password else (
            secret_encrypt(secrets.password) if secrets.password else printer.password_encrypted)
        key_token = "" if secrets.clear_private_key else (
            secret_encrypt(secrets.private_key) if secrets.private_key and "private_key" not in errors
            else printer.private_key_encrypted)
        if method == PrinterSettings.Method.SFTP:
            for field, value in (("host", host), ("username", username)):
                if not value:
                    errors.setdefault(field, []).append(_("Required for SFTP."))
            if not FINGERPRINT.match(host_key_fingerprint):
                errors.setdefault("host_key_fingerprint", []).append(
                    _("Give the server's SHA-256 host key fingerprint, as ssh-keygen -lf shows it (SHA256:…)."))
            if not password_token and not key_token and "private_key" not in errors:
                errors.setdefault("password", []).append(_("Give a password or a private key."))
        if method == PrinterSettings.Method.EMAIL and not email.strip():
            errors["email"] = [_("Required to send the links by e-mail.")]
        elif email.strip():
            from django.core.validators import validate_email

            try:
                validate_email(email.strip())
            except ValidationError:
                errors["email"] = [_("Enter a valid e-mail address.")]
        if errors:
            raise ValidationError(errors)
        printer.method, printer.host, printer.port, printer.username = method, host, int(port), username
        printer.remote_directory, printer.host_key_fingerprint = remote_directory, host_key_fingerprint
        printer.email, printer.updated_by = email.strip(), saved_by
        printer.password_encrypted, printer.private_key_encrypted = password_token, key_token
        printer.save()
    return printer
