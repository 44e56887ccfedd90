"""Settings for the image build's own steps (deploy/Dockerfile): ``collectstatic`` and
``check --deploy``. A build has no secrets and no services, and needs none.

The production configuration (``base`` + ``hardening``: the same apps, static storage and
security settings) without any runtime value: no database (Django's dummy backend raises on any
query), no Redis (``REDIS_URL`` is ignored: the base settings' in-memory cache and channel
layer), no encryption keys, only the host ``build.invalid`` (a reserved name nothing resolves)
— ``check --deploy`` wants one — and a signing key made fresh for this process only
so nothing signed at build time outlives it. These settings cannot serve a request; the image
runs ``tkeportal.settings.prod``, which refuses to start without the real values.
"""

import secrets

from .base import *  # noqa: F403
from .hardening import *  # noqa: F403

SECRET_KEY = secrets.token_urlsafe(64)
ALLOWED_HOSTS = ["build.invalid"]
PORTAL_ENCRYPTION_KEYS: list[str] = []
DATABASES = {"default": {"ENGINE": "django.db.backends.dummy"}}
REDIS_URL = ""
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
CELERY_BROKER_URL = "memory://"
CELERY_TASK_ALWAYS_EAGER = True
