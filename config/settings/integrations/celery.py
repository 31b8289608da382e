"""Celery settings: a real broker in production, tasks run in-process in demo mode."""

from celery.schedules import crontab

from config.settings.env import IS_PRODUCTION, env

if IS_PRODUCTION:
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL")
else:
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="memory://")

# Without a broker configured, tasks run in the calling process (the demo and the default test run).
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=CELERY_BROKER_URL == "memory://")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True  # a task killed mid-way is delivered again: every task is safe to run twice
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# Longer than the longest task, so that a slow task is not delivered twice (Celery #5306).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=4 * 3600)
}
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="relais")

# Periodic work: run `celery -A config beat` beside the workers. The schedule below is written into
# django-celery-beat's tables when beat starts, where head office may change times in the admin;
# every task is idempotent, so a run twice (or a missed run caught up) does no harm.
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = env.str("TIME_ZONE", default="Europe/Paris")
CELERY_BEAT_SCHEDULE = {
    "enrol-mandatory-operations": {"task": "central.operations_enrol_mandatory", "schedule": 3600.0},
    "subscription-deadline-reminders": {
        "task": "central.deadline_reminders_send", "schedule": crontab(hour=7, minute=0),
    },
    "proof-deadlines": {"task": "approvals.proof_deadlines_run", "schedule": 3600.0},
    # sends interrupted by a killed worker, retries and quiet hours nobody is waiting for any more
    "dispatch-recover": {"task": "central.dispatch_recover", "schedule": 300.0},
    "send-due-campaigns": {"task": "central.campaigns_send_due", "schedule": crontab(minute="*/15")},
    # the daily statistics the dashboards read (docs/reporting.md)
    "rollups-refresh": {"task": "reporting.rollups_refresh", "schedule": 600.0},
}
