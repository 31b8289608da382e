"""Templates (email, SMS, print), their immutable published versions, the asset library and the
network's content rules."""

import hashlib
import json
from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from local_stores.identifiers import new_public_id
from local_stores.models import Network


class TemplateKind(models.TextChoices):
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("SMS")
    PRINT = "print", _("Print")


class PrintFormat(models.TextChoices):
    A4_PORTRAIT = "A4", _("A4 portrait (letter, poster)")
    A4_LANDSCAPE = "A4 landscape", _("A4 landscape")
    A5_PORTRAIT = "A5", _("A5 portrait (flyer)")
    A5_LANDSCAPE = "A5 landscape", _("A5 landscape")


class Template(models.Model):
    public_id = models.CharField(
        max_length=24, unique=True, default=partial(new_public_id, "tpl"), editable=False
    )
    network = models.ForeignKey(
        Network, on_delete=models.PROTECT, related_name="templates", verbose_name=_("network")
    )
    kind = models.CharField(pgettext_lazy("template", "kind"), max_length=8, choices=TemplateKind.choices)
    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    is_archived = models.BooleanField(_("archived"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("template")
        verbose_name_plural = _("templates")

    def __str__(self) -> str:
        return self.name


class VersionStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")


class TemplateVersion(models.Model):
    """One version of a template. A draft may change; once published it never does (``save``
    refuses, and the content hash recorded at publication proves it)."""

    public_id = models.CharField(
        max_length=24, unique=True, default=partial(new_public_id, "tv"), editable=False
    )
    template = models.ForeignKey(Template, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    status = models.CharField(
        _("status"), max_length=10, choices=VersionStatus.choices, default=VersionStatus.DRAFT
    )
    subject = models.CharField(_("subject"), max_length=200, blank=True, help_text=_("E-mail only."))
    preheader = models.CharField(_("preheader"), max_length=200, blank=True, help_text=_("E-mail only."))
    body = models.TextField(_("source"), help_text=_("MJML for e-mail, text for SMS, HTML for print."))
    css = models.TextField(_("CSS"), blank=True, help_text=_("Print only."))
    print_format = models.CharField(_("format"), max_length=16, choices=PrintFormat.choices, blank=True)
    slots = models.JSONField(_("slots"), default=list, blank=True)
    content_hash = models.CharField(max_length=64, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["template", "-number"]
        verbose_name = _("template version")
        verbose_name_plural = _("template versions")
        constraints = [
            models.UniqueConstraint(fields=["template", "number"], name="version_number_unique"),
            models.UniqueConstraint(
                fields=["template"], condition=models.Q(status="draft"), name="one_draft_per_template"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template} v{self.number}"

    def save(self, *args, **kwargs) -> None:
        if self.pk and TemplateVersion.objects.filter(pk=self.pk, status=VersionStatus.PUBLISHED).exists():
            raise ValidationError(_("A published version never changes: create a new version instead."))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.is_published:
            raise ValidationError(_("A published version is kept for the campaigns built on it."))
        return super().delete(*args, **kwargs)

    @property
    def is_published(self) -> bool:
        return self.status == VersionStatus.PUBLISHED

    def compute_hash(self) -> str:
        content = {
            "kind": self.template.kind,
            "subject": self.subject,
            "preheader": self.preheader,
            "body": self.body,
            "css": self.css,
            "print_format": self.print_format,
            "slots": self.slots,
        }
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


class Asset(models.Model):
    """An image of the network's library: uploaded by head office, offered in image slots."""

    public_id = models.CharField(
        max_length=24, unique=True, default=partial(new_public_id, "ast"), editable=False
    )
    network = models.ForeignKey(
        Network, on_delete=models.PROTECT, related_name="assets", verbose_name=_("network")
    )
    name = models.CharField(_("name"), max_length=120)
    file = models.ImageField(
        _("image"), upload_to="assets/%Y/%m/", width_field="width", height_field="height"
    )
    width = models.PositiveIntegerField(default=0, editable=False)
    height = models.PositiveIntegerField(default=0, editable=False)
    content_type = models.CharField(max_length=32, editable=False)
    size = models.PositiveIntegerField(default=0, editable=False)
    #: Tags kept as ",noel,vins," like customer interests.
    tags = models.CharField(_("tags"), max_length=300, blank=True)
    is_archived = models.BooleanField(_("archived"), default=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("asset")
        verbose_name_plural = _("assets")

    def __str__(self) -> str:
        return self.name

    @property
    def tag_list(self) -> list[str]:
        return [tag for tag in self.tags.split(",") if tag]


class ContentRules(models.Model):
    """The network's guardrails, checked whenever a slot is filled."""

    network = models.OneToOneField(Network, on_delete=models.CASCADE, related_name="content_rules")
    forbidden_patterns = models.TextField(
        _("forbidden words"),
        blank=True,
        help_text=_("One regular expression per line, matched without regard to case, e.g. gratuit|free."),
    )
    allowed_link_domains = models.TextField(
        _("allowed link domains"),
        blank=True,
        help_text=_("One domain per line (its subdomains are allowed too). Empty: any public domain."),
    )
    sms_stop_mention = models.CharField(
        _("SMS opt-out mention"),
        max_length=60,
        default="STOP au 36173",
        help_text=_("Appended where an SMS template writes {{ system.stop_mention }}."),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("content rules")
        verbose_name_plural = _("content rules")

    def __str__(self) -> str:
        return f"{self.network}"


from templates_lib.brand_kit import BrandKit, FontFile  # noqa: E402, F401 - models Django must find here
