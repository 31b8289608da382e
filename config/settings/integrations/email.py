"""Outgoing e-mail: captured on disk in demo mode, an SMTP relay (EMAIL_URL) in production."""

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
