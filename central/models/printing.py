"""Print: the print-ready PDFs of a post campaign, the network's printer settings, and each print
run handed to the printer (central/delivery/printing/services.py)."""

from functools import partial

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from central.models.campaigns import Campaign
from local_stores.identifiers import new_public_id
from local_stores.models import Network


class PrintFile(models.Model):
    """A print-ready PDF of a post campaign: the mail merge (one page per recipient with the address
    block; a campaign resumed after an interruption may have several parts) or the store's flyer."""

    class Kind(models.TextChoices):
        MAIL_MERGE = "mail_merge", _("Mail merge")
        FLYER = "flyer", _("Flyer for the store")

    #: Its name in the download links (random: the files hold names and addresses).
    public_id = models.CharField(max_length=24, unique=True, default=partial(new_public_id, "prt"), editable=False)
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="print_files")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    file = models.FileField(upload_to="print/")
    pages = models.PositiveIntegerField(default=0)
    recipients = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["campaign", "kind", "created_at", "id"]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.kind}"


class PrinterSettings(models.Model):
    """How a network's print runs reach its printer: not at all (downloaded from the campaign page),
    by SFTP, or by e-mail with links. The password and the private key are kept encrypted (Fernet,
    keyed from SECRET_KEY) and never shown back."""

    class Method(models.TextChoices):
        NONE = "none", _("None: head office and the branch download the files")
        SFTP = "sftp", _("SFTP upload")
        EMAIL = "email", _("E-mail with download links")

    network = models.OneToOneField(Network, on_delete=models.CASCADE, related_name="printer_settings")
    method = models.CharField(_("hand-off"), max_length=8, choices=Method.choices, default=Method.NONE)
    host = models.CharField(_("SFTP host"), max_length=255, blank=True)
    port = models.PositiveIntegerField(_("SFTP port"), default=22)
    username = models.CharField(_("SFTP user name"), max_length=150, blank=True)
    password_encrypted = models.TextField(blank=True, editable=False)
    private_key_encrypted = models.TextField(blank=True, editable=False)
    remote_directory = models.CharField(_("remote directory"), max_length=255, blank=True)
    host_key_fingerprint = models.CharField(_("host key fingerprint"), max_length=100, blank=True)
    email = models.EmailField(_("printer's e-mail address"), blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")

    class Meta:
        verbose_name = _("printer settings")
        verbose_name_plural = _("printer settings")

    def __str__(self) -> str:
        return f"{self.network_id} {self.method}"


class PrintHandoffStatus(models.TextChoices):
    PREPARED = "prepared", _("Prepared")
    DELIVERED = "delivered", _("Delivered to the printer")
    FAILED = "failed", _("Failed")


class PrintHandoff(models.Model):
    """One print run (a mail-merge PDF) handed to the printer: the PDF, the approved BAT exactly as
    frozen in its proof, and a CSV manifest (one line per piece). Prepared, then delivered or
    failed with its reason; each attempt counted."""

    public_id = models.CharField(max_length=24, unique=True, default=partial(new_public_id, "prh"), editable=False)
    print_file = models.OneToOneField(PrintFile, on_delete=models.CASCADE, related_name="handoff")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="print_handoffs")
    status = models.CharField(_("status"), max_length=10, choices=PrintHandoffStatus.choices,
                              default=PrintHandoffStatus.PREPARED)
    manifest = models.FileField(upload_to="print/")
    bat = models.FileField(upload_to="print/", blank=True)
    bat_number = models.PositiveIntegerField(null=True, blank=True)
    pdf_sha256 = models.CharField(max_length=64)
    bat_sha256 = models.CharField(max_length=64, blank=True)
    manifest_sha256 = models.CharField(max_length=64)
    pieces = models.PositiveIntegerField(default=0)
    pages = models.PositiveIntegerField(default=0)
    method = models.CharField(max_length=8, choices=PrinterSettings.Method.choices, blank=True)
    destination = models.CharField(max_length=400, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    reason = models.TextField(blank=True)
    prepared_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["campaign", "prepared_at", "id"]

    def __str__(self) -> str:
        return self.public_id
