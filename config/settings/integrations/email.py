"""Outgoing e-mail: captured on disk in demo mode, an SMTP relay (EMAIL_URL) in production, or any
provider django-anymail supports (EMAIL_BACKEND=anymail.backends.<provider>.EmailBackend and its
ANYMAIL_* settings); the providers' tracking webhooks (docs/reporting.md)."""

import os

from config.settings.env import BASE_DIR, IS_PRODUCTION, env

DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Relais <no-reply@relais.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

if IS_PRODUCTION or env.str("EMAIL_URL", default=""):
    _email = env.email_url("EMAIL_URL")
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _email["EMAIL_HOST"]
    EMAIL_PORT = _email["EMAIL_PORT"]
    EMAIL_HOST_USER = _email["EMAIL_HOST_USER"]
    EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"]
    EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
    EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
    EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
else:
    # Demo: every outgoing message is written as a file under var/mail/ (nothing leaves the machine).
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(BASE_DIR / "var" / "mail")

# A provider through django-anymail: EMAIL_BACKEND=anymail.backends.mailgun.EmailBackend, say, with
# ANYMAIL_MAILGUN_API_KEY=…; every ANYMAIL_<NAME> variable becomes ANYMAIL["<NAME>"].
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default=EMAIL_BACKEND)
ANYMAIL = {name.removeprefix("ANYMAIL_"): value for name, value in os.environ.items() if name.startswith("ANYMAIL_")}
#: The providers' tracking webhooks (/webhooks/email/<provider>/tracking/) answer only when this
#: "user:password" is set — the provider calls them with it (HTTP basic auth), and with its own
#: signature where it has one (Mailgun: ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY).
#: The providers whose tracking webhook is served: the one EMAIL_BACKEND sends through (only its
#: route exists: another provider's would fail for want of its settings or packages).
_ESP = EMAIL_BACKEND.split(".")[2] if EMAIL_BACKEND.startswith("anymail.backends.") else ""
ANYMAIL_WEBHOOKS = [_ESP] if _ESP and ANYMAIL.get("WEBHOOK_SECRET") else []
