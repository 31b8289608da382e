"""Settings for the test suite: the same environment-driven settings, plus what makes tests fast
and hermetic. DATABASE_URL and CELERY_BROKER_URL still come from the environment, so the same
suite runs on SQLite with in-process tasks, and on PostgreSQL with a real broker and worker."""

from config.settings.base import *  # noqa: F403
from config.settings.base import BASE_DIR

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
MEDIA_ROOT = BASE_DIR / "var" / "test-media"
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
LANGUAGE_CODE = "en"

# Tests run tasks in-process, except those marked ``celery_worker`` when RELAIS_TEST_WORKER=1:
# those go through the real broker to a real worker (see tests/conftest.py).
CELERY_TASK_ALWAYS_EAGER = True
