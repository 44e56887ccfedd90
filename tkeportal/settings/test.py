"""Test settings: real PostgreSQL and Redis (``make test`` makes sure both are reachable)."""

import os
import re


def _worker_redis(url: str, worker: str) -> str:
    """Under pytest-xdist each worker (gw0, gw1, …) gets its own Redis database, next to the
    one named: tests clear the cache (FLUSHDB), which must not wipe another worker's cache,
    channel layer or broker. The test database is per worker already (pytest-django)."""
    match = re.fullmatch(r"(rediss?://[^/?#]+)(?:/(\d+))?([?#].*)?", url)
    if not match or not worker.startswith("gw") or not worker[2:].isdigit():
        return url
    base = int(match.group(2) or 0)
    return f"{match.group(1)}/{(base + 1 + int(worker[2:])) % 16}{match.group(3) or ''}"


TEST_REDIS_BASE_URL = os.environ.get("REDIS_URL", "")
if TEST_REDIS_BASE_URL and os.environ.get("PYTEST_XDIST_WORKER"):
    # Before the base settings read it, and inherited by servers the tests start.
    os.environ["REDIS_URL"] = _worker_redis(TEST_REDIS_BASE_URL, os.environ["PYTEST_XDIST_WORKER"])

from .dev import *  # noqa: E402, F403
from .dev import CELERY_BROKER_URL, DATABASES, REDIS_URL, env  # noqa: E402

DEBUG = False
if not REDIS_URL:
    raise RuntimeError(
        "tests need Redis: set REDIS_URL (make test starts or finds one and sets it for you)"
    )
if "postgres" not in env.str("DATABASE_URL", default=""):
    raise RuntimeError(
        "tests need PostgreSQL: set DATABASE_URL (make test starts or finds one and sets it)"
    )
# Django's PostgreSQL backend with a cheaper flush after transactional tests (see its docstring).
DATABASES["default"]["ENGINE"] = "tests.postgresql"
# A throwaway database: a commit need not wait for its WAL to reach the disk.
DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c synchronous_commit=off"
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
