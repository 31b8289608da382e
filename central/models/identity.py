"""A network's own sending identity: the address its messages leave from, the reply-to rule, its
e-mail provider account (SMTP or an e-mail service through django-anymail) and its SMS account.
Secrets are kept encrypted (``local_stores.secrets``) in ``*_encrypted`` columns that no form,
serializer or admin page reads (docs/sending-identity.md)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from local_stores.models import Network

#: django-anymail's e-mail service backends a network may choose (``anymail.backends.<name>``).
ESP_BACKENDS = (
    ("amazon_ses", "Amazon SES"), ("brevo", "Brevo"), ("mailersend", "MailerSend"), ("mailgun", "Mailgun"),
    ("mailjet", "Mailjet"), ("mailtrap", "Mailtrap"), ("mandrill", "Mandrill"), ("postal", "Postal"),
    ("postmark", "Postmark"), ("resend", "Resend"), ("scaleway", "Scaleway"), ("sendgrid", "SendGrid"),
    ("sparkpost", "SparkPost"), ("unisender_go", "Unisender Go"),
)

#: The shape of an AWS region's name (eu-west-3, us-gov-west-1, ap-southeast-2): Amazon SES's region.
AWS_REGION_PATTERN = r"^[a-z]{2}(-[a-z]+){1,2}-[0-9]{1,2}$"

#: The secrets of an identity: the field a form or the API takes, and the column it is stored in.
SECRET_FIELDS = {
    "email_secret": "email_secret_encrypted",
    "webhook_secret": "webhook_secret_encrypted",
    "sms_secret": "sms_secret_encrypted",
    "esp_secret_key": "esp_secret_key_encrypted",
    "webhook_signing_key": "webhook_signing_key_encrypted",
}


class SendingIdentity(models.Model):
    class FromName(models.TextChoices):
        BRANCH = "branch", _("The branch's name (the network's for head office's sends)")
        NETWORK = "network", _("The network's name")

    class ReplyTo(models.TextChoices):
        BRANCH = "branch", _("The branch's e-mail address")
        FIXED = "fixed", _("One fixed address")
        NONE = "none", _("No Reply-To")

    class EmailMethod(models.TextChoices):
        SMTP = "smtp", _("SMTP server")
        ANYMAIL = "anymail", _("E-mail service (API)")

    class Security(models.TextChoices):
        NONE = "none", _("None")
        STARTTLS = "starttls", _("STARTTLS")
        SSL = "ssl", _("SSL/TLS")

    class SmsProvider(models.TextChoices):
        NONE = "none", _("No SMS")
        TWILIO = "twilio", _("Twilio")

    network = models.OneToOneField(Network, on_delete=models.CASCADE, related_name="sending_identity")
    from_domain = models.CharField(_("From domain"), max_length=253, blank=True)
    from_local_part = models.CharField(_("From address (before the @)"), max_length=64, blank=True)
    from_name = models.CharField(_("sender name"), max_length=8, choices=FromName.choices, default=FromName.BRANCH)
    reply_to = models.CharField(_("Reply-To"), max_length=8, choices=ReplyTo.choices, default=ReplyTo.BRANCH)
    reply_to_address = models.EmailField(_("fixed Reply-To address"), blank=True)
    email_method = models.CharField(_("e-mail sent through"), max_length=8, choices=EmailMethod.choices,
                                    default=EmailMethod.SMTP)
    esp = models.CharField(_("e-mail service"), max_length=20, choices=ESP_BACKENDS, blank=True)
    smtp_host = models.CharField(_("SMTP host"), max_length=255, blank=True)
    smtp_port = models.PositiveIntegerField(_("SMTP port"), default=587)
    smtp_username = models.CharField(_("SMTP user name"), max_length=255, blank=True)
    smtp_security = models.CharField(_("SMTP security"), max_length=8, choices=Security.choices,
                                     default=Security.STARTTLS)
    email_secret_encrypted = models.TextField(blank=True, editable=False)
    email_secret_set_at = models.DateTimeField(null=True, blank=True, editable=False)
    email_secret_set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                            blank=True, related_name="+", editable=False)
    esp_secret_key_encrypted = models.TextField(blank=True, editable=False)
    esp_secret_key_set_at = models.DateTimeField(null=True, blank=True, editable=False)
    esp_secret_key_set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                              blank=True, related_name="+", editable=False)
    esp_api_url = models.URLField(_("e-mail service's API address"), max_length=255, blank=True)
    esp_region = models.CharField(_("e-mail service's region"), max_length=32, blank=True, validators=[
        RegexValidator(AWS_REGION_PATTERN, _("An AWS region name such as eu-west-3."))])
    webhook_signing_key_encrypted = models.TextField(blank=True, editable=False)
    webhook_signing_key_set_at = models.DateTimeField(null=True, blank=True, editable=False)
    webhook_signing_key_set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                                   blank=True, related_name="+", editable=False)
    webhook_secret_encrypted = models.TextField(blank=True, editable=False)
    webhook_secret_set_at = models.DateTimeField(null=True, blank=True, editable=False)
    webhook_secret_set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                              blank=True, related_name="+", editable=False)
    sms_provider = models.CharField(_("SMS provider"), max_length=8, choices=SmsProvider.choices,
                                    default=SmsProvider.NONE)
    sms_account = models.CharField(_("SMS account"), max_length=64, blank=True)
    sms_secret_encrypted = models.TextField(blank=True, editable=False)
    sms_secret_set_at = models.DateTimeField(null=True, blank=True, editable=False)
    sms_secret_set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                          blank=True, related_name="+", editable=False)
    sms_sender = models.CharField(_("SMS sender"), max_length=11, blank=True, validators=[RegexValidator(
        r"^[A-Za-z0-9]*$", _("Letters and digits only (at most 11)."))])
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    last_test_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_test_result = models.CharField(max_length=500, blank=True, editable=False)
    last_test_to = models.EmailField(blank=True, editable=False)
    #: None while the last test send is queued (or none was asked), then whether it left.
    last_test_ok = models.BooleanField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("sending identity")
        verbose_name_plural = _("sending identities")

    def __str__(self) -> str:
        return f"{self.network_id} {self.address or '-'}"

    @property
    def address(self) -> str:
        """The From address, or "" while its two parts are not both set."""
        if not (self.from_local_part and self.from_domain):
            return ""
        return f"{self.from_local_part}@{self.from_domain}"
