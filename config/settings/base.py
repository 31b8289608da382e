"""Relais settings. Values come from the environment through ``config.settings.env``."""

from django.utils.translation import gettext_lazy as _

from config.settings.env import BASE_DIR, IS_PRODUCTION, MODE, env
from config.settings.integrations.auth import *  # noqa: F403
from config.settings.integrations.auth import AUTH_APPS, AUTH_MIDDLEWARE
from config.settings.integrations.celery import *  # noqa: F403
from config.settings.integrations.celery import CELERY_BROKER_URL
from config.settings.integrations.email import *  # noqa: F403

RELAIS_MODE = MODE

if IS_PRODUCTION:
    # Production refuses to start without its secrets: env.str raises ImproperlyConfigured.
    SECRET_KEY = env.str("SECRET_KEY")
    DEBUG = env.bool("DEBUG", default=False)
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
    DATABASES = {"default": env.db("DATABASE_URL")}
else:
    SECRET_KEY = env.str("SECRET_KEY", default="demo-only-insecure-key-never-use-in-production")
    DEBUG = env.bool("DEBUG", default=True)
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
    DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}

CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
DATABASES["default"]["ATOMIC_REQUESTS"] = False  # services open their own transactions
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The audience indexes carry INCLUDE columns for PostgreSQL's index-only counts; SQLite keeps the
    # key and the condition and ignores the rest, which is all the embedded demo needs.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
    # The embedded demo serves several requests at once. SQLite has one writer at a time: a write
    # transaction begun DEFERRED (Python's default) that meets another writer fails at once with
    # "database is locked" (it cannot wait without deadlocking). Begun IMMEDIATE, it takes the write
    # lock first and waits up to ``timeout`` seconds for it; WAL lets reads go on beside the writer.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": env.int("SQLITE_TIMEOUT", default=20),
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        **DATABASES["default"].get("OPTIONS", {}),
    }

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "django_htmx",
    "django_celery_beat",
    "anymail",
    "bootstrap",
    *AUTH_APPS,  # login: allauth, its second factor (config/settings/integrations/auth.py)
    # Relais, from the bottom layer up
    "local_stores",
    "templates_lib",
    "central",
    "approvals",
    "reporting",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.RejectNulPathMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    *AUTH_MIDDLEWARE,  # allauth's login stages; a second factor where the network requires one
    "local_stores.middleware.NetworkLocaleMiddleware",  # the person's network's time zone and currency
]

if IS_PRODUCTION:
    # Static files served by WhiteNoise from STATIC_ROOT (filled by collectstatic); in demo mode
    # runserver serves them straight from the installed packages.
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "config" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "config.context_processors.menu",
            ],
        },
    },
]

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",  # log in by username or e-mail
    "guardian.backends.ObjectPermissionBackend",
]
GUARDIAN_ANONYMOUS_USER_NAME = None  # no anonymous object permissions: nothing is public by default
GUARDIAN_AUTO_PREFETCH = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
#: Argon2id (argon2-cffi), Django's recommended hasher, with parameters sized in config/hashers.py:
#: ≈ 0.13 s of CPU per login on the demo machine, against ≈ 0.3 s for PBKDF2's 1,000,000 iterations
#: (docs/benchmarks.md, "Pages and actions"). The others stay listed so that a password hashed before
#: is still checked, and re-hashed with Argon2 at its next login. (Tests use MD5: config/settings/test.py.)
PASSWORD_HASHERS = [
    "config.hashers.RelaisArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("French")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Paris")
#: The currency of every amount (unit costs, budgets, revenue): ISO 4217, shown by Babel in the
#: reader's language (local_stores/money.py).
RELAIS_CURRENCY = env.str("RELAIS_CURRENCY", default="EUR")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "config" / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "var" / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if IS_PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
#: The largest customer file accepted by the upload form and the API.
#: The address people reach Relais at: links in e-mails (images, unsubscribe) start with it.
RELAIS_BASE_URL = env.str("RELAIS_BASE_URL", default="http://127.0.0.1:8000")
#: Branches that have not answered an opt-in operation are reminded this many days before its
#: subscription deadline (each step once).
RELAIS_REMINDER_DAYS = tuple(env.list("RELAIS_REMINDER_DAYS", cast=int, default=[7, 2]))
#: What central asks before scheduling or sending a campaign (an approved proof of its exact content).
RELAIS_SEND_GATE = "approvals.services.send_gate"
#: Where dispatch reads the frozen rendering inputs of a campaign it sends (its approved proof's snapshot).
RELAIS_SEND_SNAPSHOT = "approvals.services.send_snapshot"
RELAIS_IMPORT_MAX_BYTES = env.int("RELAIS_IMPORT_MAX_BYTES", default=200 * 1024 * 1024)

# Arbitration (central/arbitration/, docs/arbitration.md): a network of at least PARALLEL_FROM
# customers is decided in WORKERS slices at once, each on a database connection of its own (PostgreSQL,
# outside a transaction); 1 decides on one connection.
RELAIS_ARBITRATION_WORKERS = env.int("RELAIS_ARBITRATION_WORKERS", default=2)
RELAIS_ARBITRATION_PARALLEL_FROM = env.int("RELAIS_ARBITRATION_PARALLEL_FROM", default=200_000)

# Dispatch (central/delivery/, docs/dispatch.md): chunks of deliveries sent by Celery tasks.
RELAIS_DISPATCH_CHUNK_SIZE = env.int("RELAIS_DISPATCH_CHUNK_SIZE", default=200)
#: Messages claimed at once by a chunk (one UPDATE): also what a killed worker may send twice.
RELAIS_DISPATCH_BATCH_SIZE = env.int("RELAIS_DISPATCH_BATCH_SIZE", default=50)
#: The Celery queue of the sending tasks ("" = the default queue): lets sends have workers of their own.
RELAIS_DISPATCH_QUEUE = env.str("RELAIS_DISPATCH_QUEUE", default="")
#: A message that meets temporary errors (SMTP 4xx, a lost connection, an SMS provider's 429/5xx) is
#: tried this many times, waiting RETRY_SECONDS × 2^(attempt − 1) between tries (at most RETRY_MAX_SECONDS).
RELAIS_DISPATCH_MAX_ATTEMPTS = env.int("RELAIS_DISPATCH_MAX_ATTEMPTS", default=5)
RELAIS_DISPATCH_RETRY_SECONDS = env.float("RELAIS_DISPATCH_RETRY_SECONDS", default=60.0)
RELAIS_DISPATCH_RETRY_MAX_SECONDS = env.float("RELAIS_DISPATCH_RETRY_MAX_SECONDS", default=3600.0)
#: A print run's hand-off to the printer that failed is retried 4 times by Celery, after
#: PRINT_RETRY_SECONDS × 1, 2, 4, 8 (central/delivery/printing/services.py); head office's Retry starts again.
RELAIS_PRINT_RETRY_SECONDS = env.float("RELAIS_PRINT_RETRY_SECONDS", default=60.0)
#: A message still "sending" this long after a worker took it was interrupted (a killed worker): the
#: recovery task puts it back in the queue. Longer than any single send can last.
RELAIS_DISPATCH_STALE_SECONDS = env.int("RELAIS_DISPATCH_STALE_SECONDS", default=900)
#: Messages per second per channel, for the whole platform (0: no limit). A token bucket in Redis when
#: RELAIS_RATE_LIMIT_REDIS_URL is set (by default the broker's, if it is Redis), else per worker process.
RELAIS_RATE_LIMITS = {
    "email": env.float("RELAIS_RATE_LIMIT_EMAIL", default=20.0),
    "sms": env.float("RELAIS_RATE_LIMIT_SMS", default=5.0),
}
RELAIS_RATE_LIMIT_REDIS_URL = env.str(
    "RELAIS_RATE_LIMIT_REDIS_URL", default=CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else ""
)
#: An optional mailbox for List-Unsubscribe's mailto: form (the one-click URL is always there).
RELAIS_UNSUBSCRIBE_MAILTO = env.str("RELAIS_UNSUBSCRIBE_MAILTO", default="")
#: SMS: "central.delivery.sms_backends.FileSmsBackend" writes JSON lines under RELAIS_SMS_FILE_PATH (nothing leaves the
#: machine); "central.delivery.sms_backends.TwilioSmsBackend" sends through Twilio's REST API. In production there is no
#: default: without a backend, SMS deliveries fail with the reason "no SMS provider configured".
RELAIS_SMS_BACKEND = env.str("RELAIS_SMS_BACKEND", default="" if IS_PRODUCTION else "central.delivery.sms_backends.FileSmsBackend")
RELAIS_SMS_FILE_PATH = env.path("RELAIS_SMS_FILE_PATH", default=BASE_DIR / "var" / "sms")
#: What the provider bills per SMS segment (160 GSM-7 / 70 UCS-2 characters, 153 / 67 per part of a long one).
RELAIS_SMS_COST_PER_SEGMENT = env.str("RELAIS_SMS_COST_PER_SEGMENT", default="0.0450")
RELAIS_SMS_TWILIO_ACCOUNT_SID = env.str("RELAIS_SMS_TWILIO_ACCOUNT_SID", default="")
RELAIS_SMS_TWILIO_AUTH_TOKEN = env.str("RELAIS_SMS_TWILIO_AUTH_TOKEN", default="")
#: A sender id or number (From), or a Messaging Service SID (MG…).
RELAIS_SMS_TWILIO_FROM = env.str("RELAIS_SMS_TWILIO_FROM", default="")
RELAIS_SMS_TWILIO_API_URL = env.str("RELAIS_SMS_TWILIO_API_URL", default="https://api.twilio.com")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "local_stores.api_auth.SecondFactorTokenAuthentication",  # DRF's, refusing a token that skips a required second factor
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # DRF's parsers, with line breaks turned into LF (docs/architecture.md, "Line breaks")
    "DEFAULT_PARSER_CLASSES": ["config.parsers.JSONParser", "config.parsers.FormParser", "config.parsers.MultiPartParser"],
    "DEFAULT_PAGINATION_CLASS": "config.pagination.DefaultPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {"user": "2000/hour", "anon": "60/hour"},
    # the services' errors as the API answers them: 400 by field, 403, 409 (docs/architecture.md)
    "EXCEPTION_HANDLER": "local_stores.api_base.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Relais API",
    "DESCRIPTION": "Distributed marketing for networks of stores, agencies and hotels. Every answer is scoped "
    "to what the authenticated user may see; an object outside that scope answers 404, like a missing one.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ConsentStatusEnum": "central.models.ConsentStatus",
        "ChannelEnum": "central.models.Channel",
        "ChangeLevelEnum": "approvals.models.ChangeLevel",
        "TemplateKindEnum": "templates_lib.models.TemplateKind",
        "NodeKindEnum": "local_stores.models.NodeKind",
        "RoleEnum": "local_stores.models.Role",  # issue 22 — people: every role (the approvals API offers two)
    },
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if IS_PRODUCTION:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # HTTPS only: plain HTTP is redirected (but the load balancer's health check), and browsers are
    # told to come back over HTTPS for a year (HSTS; SECURE_HSTS_SECONDS=0 turns it off while trying
    # a new domain). Submitting the domain to the browsers' preload list is the owner's decision
    # (SECURE_HSTS_PRELOAD=true), hence the one check silenced below.
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

#: Secrets kept in the database (a network's SMTP password or provider API key, SMS token, webhook
#: secret, the printer's SFTP password): encrypted with Fernet by local_stores.secrets. The first key
#: encrypts, every key decrypts (rotation: put a new key first, then ``manage.py`` re-saves). Each key
#: is 32 url-safe base64 bytes (``Fernet.generate_key()``); a key derived from SECRET_KEY is always
#: tried last, so secrets saved before this setting existed still read.
#: Required in production (the second factor's secrets and the network's provider accounts depend on it).
RELAIS_SECRET_KEYS = env.list("RELAIS_SECRET_KEYS") if IS_PRODUCTION else env.list("RELAIS_SECRET_KEYS", default=[])
#: A network sends only through its own sending identity (From domain, provider account, SMS sender):
#: without one, scheduling is refused and due sends are blocked. Off in the demo and the tests, where a
#: network without an identity sends with the platform's settings (DEFAULT_FROM_EMAIL, EMAIL_*).
RELAIS_IDENTITY_REQUIRED = env.bool("RELAIS_IDENTITY_REQUIRED", default=IS_PRODUCTION)

# Servers Relais calls for a network (an e-mail service's API address, an identity provider): private,
# loopback and link-local ones are refused in production (local_stores/outbound.py).
RELAIS_OUTBOUND_PRIVATE_ALLOWED = env.bool("RELAIS_OUTBOUND_PRIVATE_ALLOWED", default=not IS_PRODUCTION)
