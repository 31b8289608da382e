"""Celery settings: a real broker in production, tasks run in-process in demo mode."""

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
