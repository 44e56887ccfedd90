"""Developer / demo settings: embedded defaults so ``make run`` works with nothing configured."""

import base64
import hashlib

from .base import *  # noqa: F403
from .base import PORTAL_ENCRYPTION_KEYS, SECRET_KEY, SILENCED_SYSTEM_CHECKS, env

DEBUG = env.bool("PORTAL_DEBUG", default=True)
SECRET_KEY = SECRET_KEY or "dev-insecure-secret-key-change-me-0123456789abcdef"  # noqa: S105
if not PORTAL_ENCRYPTION_KEYS:
    # Derived from the dev secret so a restarted dev portal can still read what it stored.
    PORTAL_ENCRYPTION_KEYS = [
        base64.urlsafe_b64encode(hashlib.sha256(SECRET_KEY.encode()).digest()).decode()
    ]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
# SQLite cannot enforce the binding uniqueness constraint (NULLS NOT DISTINCT); the service
# checks duplicates itself, and PostgreSQL (tests, production) enforces it as well.
SILENCED_SYSTEM_CHECKS = [*SILENCED_SYSTEM_CHECKS, "models.W047"]
WHITENOISE_AUTOREFRESH = True
