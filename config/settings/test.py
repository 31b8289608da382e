"""Settings for the test suite: the same environment-driven settings, plus what makes tests fast
and hermetic. DATABASE_URL and CELERY_BROKER_URL still come from the environment, so the same
suite runs on SQLite with in-process tasks, and on PostgreSQL with a real broker and worker."""

import os
import tempfile
from pathlib import Path

from config.settings.base import *  # noqa: F403
from config.settings.base import BASE_DIR
from config.settings.env import env

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
MEDIA_ROOT = BASE_DIR / "var" / "test-media"
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
LANGUAGE_CODE = "en"

# On SQLite the test database is a file, not Django's shared in-memory one: requests served by
# other threads (a live server, tests/approvals/test_concurrency_decide_edit.py) then get connections of
# their own and take SQLite's locks as the embedded demo does. One file per test process, so
# parallel runs (and pytest-xdist workers, which add their suffix) never share it.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": str(Path(tempfile.gettempdir()) / f"relais-test-{os.getpid()}.sqlite3"),
        **DATABASES["default"].get("TEST", {}),  # noqa: F405
    }

# Tests run tasks in-process, except those marked ``celery_worker`` when RELAIS_TEST_WORKER=1:
# those go through the real broker to a real worker (see tests/conftest.py).
CELERY_TASK_ALWAYS_EAGER = True

# A Celery worker that a test starts itself (tests/central/delivery/test_dispatch_worker.py) sends what it enqueues
# through the broker, and its e-mails to the test's SMTP server on loopback.
if env.bool("RELAIS_TEST_WORKER_PROCESS", default=False):
    CELERY_TASK_ALWAYS_EAGER = False
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = "127.0.0.1"
    EMAIL_PORT = env.int("RELAIS_TEST_SMTP_PORT")
    EMAIL_USE_TLS = EMAIL_USE_SSL = False
    EMAIL_TIMEOUT = 10
RELAIS_SMS_BACKEND = "central.delivery.sms_backends.FileSmsBackend"
RELAIS_SMS_FILE_PATH = BASE_DIR / "var" / "test-sms"

# The e-mail providers' tracking webhooks, with a shared secret and Mailgun's signing key of the
# tests' own (tests/central/delivery/test_provider_events.py signs its posts with it).
ANYMAIL = {"WEBHOOK_SECRET": "relais:webhook-secret-for-tests", "MAILGUN_WEBHOOK_SIGNING_KEY": "key-signing-for-tests"}
ANYMAIL_WEBHOOKS = ["mailgun"]
