"""A network's brand kit (issue 20): colours, font, logo, button style and the footer with the
legal mentions. New e-mail templates start from it (``brand_kit_documents.starter_document``);
changing it makes new drafts of the templates built on it, never touching a published version.

An uploaded font (``FontFile``) is stored under the public ``assets/`` media directory with a small
stylesheet of its own (``@font-face`` pointing at the font file beside it, by a relative URL). The
e-mail references that stylesheet with ``<mj-font href>`` on Relais's own domain: the recipient's
mail client may fetch it; Relais never fetches a font when it renders.
"""

from __future__ import annotations

from functools import partial

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from local_stores.identifiers import new_public_id
from local_stores.models import Network


class FontFormat(models.TextChoices):
    WOFF2 = "woff2", "WOFF2"
    WOFF = "woff", "WOFF"
    TTF = "truetype", "TrueType"


class FontFile(models.Model):
    """A font head office uploaded for its e-mails (WOFF2, WOFF or TrueType, checked by reading it)."""

    public_id = models.CharField(
        max_length=24, unique=True, default=partial(new_public_id, "fnt"), editable=False
    )
    network = models.ForeignKey(
        Network, on_delete=models.PROTECT, related_name="font_files", verbose_name=_("network")
    )
    name = models.CharField(_("font name"), max_length=60)
    file = models.FileField(_("font file"), upload_to="assets/fonts/%Y/%m/")
    stylesheet = models.FileField(upload_to="assets/fonts/%Y/%m/", editable=False)
    format = models.CharField(max_length=8, choices=FontFormat.choices, editable=False)
    size = models.PositiveIntegerField(default=0, editable=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("font")
        verbose_name_plural = _("fonts")

    def __str__(self) -> str:
        return self.name

    @property
    def stylesheet_url(self) -> str:
        """The absolute URL of its ``@font-face`` stylesheet, on Relais's own domain (or its media
        URL when that is absolute)."""
        url = self.stylesheet.url
        if url.lower().startswith(("http://", "https://")):
            return url
        return settings.RELAIS_BASE_URL.rstrip("/") + url


class BrandKit(models.Model):
    """The network's look for e-mails: one per network."""

    network = models.OneToOneField(Network, on_delete=models.CASCADE, related_name="brand_kit")
    primary_color = models.CharField(_("primary colour"), max_length=7, default="#1f3a5f")
    accent_color = models.CharField(_("accent colour"), max_length=7, default="#c8553d")
    background_color = models.CharField(_("background colour"), max_length=7, default="#f4f4f4")
    text_color = models.CharField(_("text colour"), max_length=7, default="#222222")
    font_stack = models.CharField(_("font"), max_length=200, default="Helvetica, Arial, sans-serif")
    font_file = models.ForeignKey(
        FontFile, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("uploaded font"),
    )
    logo = models.ForeignKey(
        "templates_lib.Asset", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("logo"),
    )
    button_background = models.CharField(_("button colour"), max_length=7, default="#1f3a5f")
    button_color = models.CharField(_("button text colour"), max_length=7, default="#ffffff")
    button_radius = models.CharField(_("button corner radius"), max_length=5, default="4px")
    footer_html = models.TextField(_("footer"))
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        verbose_name = _("brand kit")
        verbose_name_plural = _("brand kits")

    def __str__(self) -> str:
        return f"{self.network}"

    @property
    def font_family(self) -> str:
        """The CSS font-family the e-mails use: the uploaded font first, the web-safe stack after."""
        if self.font_file_id:
            return f"{self.font_file.name}, {self.font_stack}"
        return self.font_stack


def network_font_stylesheets(network: Network) -> dict[str, str]:
    """The stylesheets of the fonts uploaded for ``network``: URL (absolute and relative) → font name."""
    found: dict[str, str] = {}
    for font in FontFile.objects.filter(network=network).only("name", "stylesheet"):
        found[font.stylesheet.url] = font.name
        found[font.stylesheet_url] = font.name
    return found


def kit_font_families(network: Network) -> list[str]:
    """The font families the network's brand kit offers beyond the web-safe stacks: its uploaded
    font before each web-safe stack (empty without a kit or without an uploaded font)."""
    from templates_lib.blocks.document import FONT_STACKS

    kit = BrandKit.objects.filter(network=network).select_related("font_file").first()
    if kit is None or kit.font_file is None:
        return []
    return [kit.font_family, *(f"{kit.font_file.name}, {stack}" for stack in FONT_STACKS)]
