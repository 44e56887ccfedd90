"""Production settings: refuse to start without the values a real deployment must set."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env
from .hardening import *  # noqa: F403

# REDIS_URL too: without it every process would keep its own cache and channel layer and run
# tasks in the web process, which is wrong as soon as there are two replicas.
_REQUIRED = ("SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS", "PORTAL_ENCRYPTION_KEYS", "REDIS_URL")
_missing = [name for name in _REQUIRED if not env.str(name, default="").strip()]
if _missing:
    raise ImproperlyConfigured(
        "production settings need these environment variables: " + ", ".join(_missing)
    )

SECRET_KEY = env.str("SECRET_KEY")
if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters of random data")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
PORTAL_ENCRYPTION_KEYS = env.list("PORTAL_ENCRYPTION_KEYS")
