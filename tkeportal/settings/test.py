"""Test settings: real PostgreSQL and Redis (``make test`` makes sure both are reachable)."""

from .dev import *  # noqa: F403
from .dev import CELERY_BROKER_URL, REDIS_URL, env

DEBUG = False
if not REDIS_URL:
    raise RuntimeError(
        "tests need Redis: set REDIS_URL (make test starts or finds one and sets it for you)"
    )
if "postgres" not in env.str("DATABASE_URL", default=""):
    raise RuntimeError(
        "tests need PostgreSQL: set DATABASE_URL (make test starts or finds one and sets it)"
    )
# Tasks run in-process in tests so a test sees their effect; the broker is still real (healthz).
CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = CELERY_BROKER_URL
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = []
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
