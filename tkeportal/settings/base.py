"""Settings shared by every environment. Values come from the environment only."""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# A local .env is a convenience for developers; real deployments use the process environment.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("PORTAL_DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Comma-separated Fernet keys: the first encrypts, all decrypt (rotation). See apps/core/crypto.py.
PORTAL_ENCRYPTION_KEYS = env.list("PORTAL_ENCRYPTION_KEYS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "channels",
    "django_celery_beat",
    "django_celery_results",
    "csp",
    "axes",
    "django_htmx",
    "apps.core",
    "apps.tenants",
    "apps.accounts",
    "apps.authz",
    "apps.audit",
    "apps.clusters",
    "apps.projects",
    "apps.registry",
    "apps.charts",
    "apps.monitoring",
    "apps.notify",
    "apps.sandbox",
    "apps.console",
    "apps.terminal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The console's language (the user's choice, else the browser's), after the session.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # CSP form-action for the OIDC end-session redirect at sign-out (after CSP and sessions).
    "apps.accounts.identity.oidc.middleware.EndSessionFormActionMiddleware",
    "apps.core.middleware.RequestContextMiddleware",
    "apps.audit.middleware.AuditMiddleware",
    "apps.accounts.sessions.SessionPolicyMiddleware",
    "apps.core.middleware.RequestLimitsMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "apps.console.middleware.ConsoleTimezoneMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "tkeportal.urls"
ASGI_APPLICATION = "tkeportal.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "django.template.context_processors.static",
                "apps.console.context.console",
            ],
        },
    },
]

# An empty value means "unset" everywhere (a blank line in .env must not select Django's dummy
# database backend).
DATABASES = {
    "default": environ.Env.db_url_config(
        env.str("DATABASE_URL", default="") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
    )
}
# Persistent connections are not safe under ASGI (Django docs): default 0, opt in explicitly.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses every password sign-in while the account or address is locked.
    "apps.accounts.lockout.LockoutBackend",
    "apps.accounts.backends.TenantAwareModelBackend",
    # Password sign-in against the tenant's LDAP directories (after local accounts).
    "apps.accounts.identity.ldap.PortalLDAPBackend",
    "guardian.backends.ObjectPermissionBackend",
    # Re-checks sessions opened by OpenID Connect sign-in (its callback calls it directly).
    "apps.accounts.identity.oidc.PortalOIDCBackend",
]
# Local passwords (apps/accounts/passwords.py). Directory users have none.
PORTAL_PASSWORD_MIN_LENGTH = env.int("PORTAL_PASSWORD_MIN_LENGTH", default=10)
PORTAL_PASSWORD_MAX_LENGTH = env.int("PORTAL_PASSWORD_MAX_LENGTH", default=128)
PORTAL_PASSWORD_CHARACTER_CLASSES = env.list(
    "PORTAL_PASSWORD_CHARACTER_CLASSES", default=["upper", "lower", "digit"]
)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": PORTAL_PASSWORD_MIN_LENGTH},
    },
    {
        "NAME": "apps.accounts.passwords.CharacterClassValidator",
        "OPTIONS": {"required": [c for c in PORTAL_PASSWORD_CHARACTER_CLASSES if c]},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {
        "NAME": "apps.accounts.passwords.MaximumLengthValidator",
        "OPTIONS": {"max_length": PORTAL_PASSWORD_MAX_LENGTH},
    },
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "console:overview"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
# The console speaks English and Simplified Chinese (locale/, compiled at setup).
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_NAME = "portal_language"
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# The console's third-party front-end libraries come from npm at setup (package.json,
# scripts/assets.sh) and are served from where npm put them; nothing of theirs is committed.
NODE_MODULES = BASE_DIR / "node_modules"
VENDOR_ASSETS = {
    "vendor/bootstrap": NODE_MODULES / "bootstrap" / "dist",
    "vendor/htmx": NODE_MODULES / "htmx.org" / "dist",
    "vendor/axe-core": NODE_MODULES / "axe-core",
    "vendor/xterm": NODE_MODULES / "@xterm" / "xterm",
    "vendor/xterm-addon-fit": NODE_MODULES / "@xterm" / "addon-fit" / "lib",
    "vendor/asciinema-player": NODE_MODULES / "asciinema-player" / "dist" / "bundle",
    "vendor/uplot": NODE_MODULES / "uplot" / "dist",
}
STATICFILES_DIRS = [(prefix, path) for prefix, path in VENDOR_ASSETS.items() if path.is_dir()]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Redis carries the cache, the channel layer and the Celery broker. Unset → embedded defaults
# (local-memory cache, in-memory channel layer, Celery tasks run in-process).
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "tkeportal",
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": "tkeportal"},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# No broker configured → an in-memory one and tasks run in-process (embedded default).
EMBEDDED_BROKER = "memory://"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL or EMBEDDED_BROKER
CELERY_TASK_ALWAYS_EAGER = env.bool(
    "CELERY_TASK_ALWAYS_EAGER", default=CELERY_BROKER_URL == EMBEDDED_BROKER
)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 300
CELERY_TASK_TIME_LIMIT = 360
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ROUTES = {
    "apps.clusters.tasks.*": {"queue": "cluster-ops"},
    "apps.projects.tasks.*": {"queue": "cluster-ops"},
    "apps.monitoring.tasks.*": {"queue": "metrics"},
    "apps.monitoring.alerts.tasks.*": {"queue": "metrics"},
    "apps.notify.tasks.*": {"queue": "notify"},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # The API-key class comes first so an anonymous API request gets 401 with
        # WWW-Authenticate: Bearer rather than DRF's 403 for session-only setups.
        "apps.accounts.authentication.APIKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["apps.authz.permissions.PortalPermission"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.api.pagination.PortalPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
        "rest_framework.filters.SearchFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "apps.core.api.tags.PortalAutoSchema",
    "EXCEPTION_HANDLER": "apps.core.api.errors.portal_exception_handler",
    # JSON nested deeper than 200 levels is a 400 before json.loads recurses into it.
    "DEFAULT_PARSER_CLASSES": [
        "apps.core.api.parsers.PortalJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_VERSIONING_CLASS": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "TKE Portal API",
    "DESCRIPTION": (
        "Multi-tenant, multi-cluster Kubernetes management. Authenticate with a session "
        "(and CSRF token) or `Authorization: Bearer <api key>`. Errors are always "
        '`{"code", "detail", "fields"}`. Lists are paginated with `limit`/`offset`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a "status" of their own choices: each enum named after its choices.
    "ENUM_NAME_OVERRIDES": {
        "ReleaseStatusEnum": "apps.charts.choices.ReleaseStatus",
        "RevisionStatusEnum": "apps.charts.choices.RevisionStatus",
        "GarbageCollectionStatusEnum": "apps.registry.choices.GarbageCollectionStatus",
        "MessageStatusEnum": "apps.notify.choices.MessageStatus",
        "ChannelKindEnum": "apps.notify.choices.ChannelKind",
        "MessageRequestStatusEnum": "apps.notify.choices.RequestStatus",
        "UserSourceEnum": "apps.accounts.choices.UserSource",
        "MetricSourceEnum": "apps.monitoring.models.Source",
        "AlarmRecordSourceEnum": "apps.monitoring.alerts.choices.RecordSource",
    },
    # Operations grouped by area, in this order (apps/core/api/tags.py).
    "TAGS": [
        {"name": "accounts", "description": "You, users, groups and API keys."},
        {"name": "identity", "description": "Identity providers (local, LDAP, OpenID Connect)."},
        {"name": "authz", "description": "Policies, roles, bindings; check and explain."},
        {"name": "tenants", "description": "Tenants."},
        {"name": "clusters", "description": "Clusters: import, health, sync, credentials."},
        {
            "name": "cluster-resources",
            "description": "Kubernetes objects of a cluster: list, get, apply, operations.",
        },
        {"name": "kubectl", "description": "Kubeconfigs for kubectl through the portal."},
        {"name": "projects", "description": "Projects, quotas, members, namespaces, portal."},
        {"name": "registry", "description": "Image namespaces (the Docker registry)."},
        {
            "name": "charts",
            "description": "Helm chart groups, their charts and versions, and releases (charts "
            "installed into namespaces).",
        },
        {
            "name": "notify",
            "description": "Notification channels (email, SMS, WeChat Work, webhook), their "
            "templates, receivers and groups, messages and what was asked.",
        },
        {"name": "audit", "description": "The audit trail."},
        {
            "name": "monitoring",
            "description": "Metrics, a Prometheus-compatible query API (for Grafana), alarm "
            "policies, alarm records, silences and the Alertmanager webhook.",
        },
    ],
    # Every operation's error answers and the one error body (apps/core/api/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.core.api.schema.describe_errors",
    ],
}

GUARDIAN_RAISE_403 = False
ANONYMOUS_USER_NAME = None

# Browser hardening on every page (django-csp). Scripts only from the portal itself: no inline
# or injected script runs, which is what makes an HTML-injection bug not an account takeover.
# Inline styles stay allowed (the base layout, the admin and Swagger UI use them; CSS cannot
# run code). Images may be data: URIs (the admin's and Swagger UI's icons). Nobody frames the
# portal (clickjacking), forms post only to the portal, and no plugin or <base> rewrites URLs.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
X_FRAME_OPTIONS = "DENY"  # for browsers without frame-ancestors
SECURE_REFERRER_POLICY = "same-origin"  # no portal URL (cluster, namespace names) leaks out
SECURE_CONTENT_TYPE_NOSNIFF = True

# How long an audit event keeps the (already redacted) request body, in characters.
AUDIT_MAX_BODY_CHARS = env.int("AUDIT_MAX_BODY_CHARS", default=16384)
# Where the kubectl proxy's audit writer keeps its write-ahead file (apps.audit.writer): set it
# to a writable local directory (an emptyDir in Kubernetes) so a crashed process loses no row.
PORTAL_AUDIT_SPOOL_DIR = env.str("PORTAL_AUDIT_SPOOL_DIR", default="") or None
# Request bodies over this are a 413 before anything reads them (the API server's own limit is
# 3 MiB, so no manifest Kubernetes accepts is refused here). Multipart bodies count whole: the
# portal takes no file uploads.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("PORTAL_MAX_REQUEST_BYTES", default=3 * 1024 * 1024)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Usernames are unique per tenant, not globally (see apps/accounts/models.py); sign-in goes
# through TenantAwareModelBackend, so Django's "USERNAME_FIELD should be unique" warning is moot.
# axes.W002 (no AxesMiddleware): the sign-in forms report a lockout themselves
# (apps/accounts/lockout.py says why the middleware is not used).
SILENCED_SYSTEM_CHECKS = ["auth.W004", "axes.W002"]

# Number of reverse proxies in front of the portal whose X-Forwarded-For we trust.
PORTAL_TRUSTED_PROXIES = env.int("PORTAL_TRUSTED_PROXIES", default=0)

# Cluster import refuses link-local/metadata addresses always; loopback only when allowed
# (the demo and tests run kubesim on 127.0.0.1; production should not reach its own host).
PORTAL_ALLOW_LOOPBACK_CLUSTERS = env.bool("PORTAL_ALLOW_LOOPBACK_CLUSTERS", default=True)

# Helm chart archives (apps.charts.archive): the most an upload or an imported archive may
# weigh (under PORTAL_MAX_REQUEST_BYTES, which caps the whole upload request), unpack to, and
# hold; an imported repository's index.yaml is read up to CHART_IMPORT_MAX_INDEX_BYTES, each
# download within CHART_IMPORT_TIMEOUT seconds.
CHART_MAX_ARCHIVE_BYTES = env.int("CHART_MAX_ARCHIVE_BYTES", default=2 * 1024 * 1024)
CHART_MAX_UNPACKED_BYTES = env.int("CHART_MAX_UNPACKED_BYTES", default=20 * 1024 * 1024)
CHART_MAX_ARCHIVE_MEMBERS = env.int("CHART_MAX_ARCHIVE_MEMBERS", default=1000)
CHART_IMPORT_MAX_INDEX_BYTES = env.int("CHART_IMPORT_MAX_INDEX_BYTES", default=4 * 1024 * 1024)
CHART_IMPORT_TIMEOUT = env.float("CHART_IMPORT_TIMEOUT", default=30.0)

CELERY_BEAT_SCHEDULE = {
    "cluster-health": {
        "task": "apps.clusters.tasks.dispatch_health_checks",
        "schedule": 60.0,
        "options": {"queue": "cluster-ops"},
    },
    "directory-revalidate": {
        "task": "apps.accounts.tasks.revalidate_directory_users",
        "schedule": 60.0,
    },
    "project-namespace-reconcile": {
        "task": "apps.projects.tasks.dispatch_namespace_reconciles",
        "schedule": 60.0,
        "options": {"queue": "cluster-ops"},
    },
    "session-purge": {
        "task": "apps.accounts.tasks.purge_expired_sessions",
        "schedule": 3600.0,
    },
    "node-shell-cleanup": {
        "task": "apps.terminal.tasks.clean_node_shells",
        "schedule": 300.0,
        "options": {"queue": "cluster-ops"},
    },
    "terminal-recording-purge": {
        "task": "apps.terminal.tasks.purge_recordings",
        "schedule": 3600.0,
    },
    "chart-group-resync": {
        "task": "apps.charts.tasks.dispatch_chart_group_resyncs",
        "schedule": 3600.0,
    },
    # Alarm policies: one evaluation task per cluster; each policy runs per its period.
    "alarm-evaluate": {
        "task": "apps.monitoring.alerts.tasks.dispatch_alarm_evaluations",
        "schedule": 60.0,
        "options": {"queue": "metrics"},
    },
    "notify-redeliver": {
        "task": "apps.notify.tasks.redeliver_messages",
        "schedule": 30.0,
        "options": {"queue": "notify"},
    },
    # Metrics (apps.monitoring.tasks): one collection per cluster a minute, spread over it;
    # retention hourly.
    "metrics-collect": {
        "task": "apps.monitoring.tasks.dispatch_collections",
        "schedule": 60.0,
        "options": {"queue": "metrics"},
    },
    "metrics-prune": {
        "task": "apps.monitoring.tasks.prune_metrics",
        "schedule": 3600.0,
        "options": {"queue": "metrics"},
    },
}
# Redis broker: a task taken by a worker and not acknowledged (acks_late) goes back to the
# queue only after the visibility timeout. It is one value for every queue, and it must
# exceed the longest task run plus the longest countdown, or a running (or waiting) task is
# handed to a second worker: cluster operations run for minutes, notify retries wait up to
# NOTIFY_RETRY_MAX_SECONDS. So it stays long (an hour, Celery's default, said explicitly),
# and notify does not rely on it to survive a dead worker: the message row's claim expires
# after NOTIFY_CLAIM_TIMEOUT and the notify-redeliver sweep queues it again (apps.notify.
# delivery); a redelivered duplicate task finds the message sent and does nothing.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
# Notifications (apps.notify.delivery): attempts per message; the back-off before attempt n+1
# (base × 2^(n-1) seconds, at most the maximum, which stays under the visibility timeout
# above); how long a worker's claim on a message lasts (more than the delivery task's hard
# time limit, 90 s); how overdue a pending message is before the sweep queues it again; the
# timeouts of one HTTP request (SMS, WeChat, webhook) and of one SMTP session.
NOTIFY_MAX_ATTEMPTS = env.int("NOTIFY_MAX_ATTEMPTS", default=5)
NOTIFY_RETRY_BASE_SECONDS = env.float("NOTIFY_RETRY_BASE_SECONDS", default=30.0)
NOTIFY_RETRY_MAX_SECONDS = env.float("NOTIFY_RETRY_MAX_SECONDS", default=1800.0)
NOTIFY_CLAIM_TIMEOUT = env.float("NOTIFY_CLAIM_TIMEOUT", default=120.0)
NOTIFY_REDELIVER_GRACE = env.float("NOTIFY_REDELIVER_GRACE", default=30.0)
NOTIFY_HTTP_TIMEOUT = env.float("NOTIFY_HTTP_TIMEOUT", default=10.0)
NOTIFY_SMTP_TIMEOUT = env.float("NOTIFY_SMTP_TIMEOUT", default=15.0)
# Metric storage (apps.monitoring.store): how long raw 1-minute points, 5-minute and 1-hour
# rollups are kept. On PostgreSQL retention drops whole daily partitions, so data is kept for
# at least this long and at most a day more.
METRICS_RAW_RETENTION_HOURS = env.int("METRICS_RAW_RETENTION_HOURS", default=48)
METRICS_5M_RETENTION_DAYS = env.int("METRICS_5M_RETENTION_DAYS", default=8)
METRICS_1H_RETENTION_DAYS = env.int("METRICS_1H_RETENTION_DAYS", default=35)
# The range of rate() in queries to a cluster's own Prometheus (a few of its scrape intervals).
METRICS_PROMETHEUS_RATE_WINDOW = env.str("METRICS_PROMETHEUS_RATE_WINDOW", default="2m")
# The project namespace reconcile (apps/projects/namespaces.py): seconds between runs on a
# healthy cluster; a cluster that cannot be reached is retried after this, doubling per failure
# up to the maximum.
PORTAL_NAMESPACE_RECONCILE_INTERVAL = env.int("PORTAL_NAMESPACE_RECONCILE_INTERVAL", default=60)
# Pod Security Standard levels put on every project namespace (pod-security.kubernetes.io
# enforce / warn labels): a project member must not get root on a node through a pod with host
# namespaces, hostPath or privileged containers. "privileged" turns a mode off.
PORTAL_PROJECT_POD_SECURITY_ENFORCE = env.str(
    "PORTAL_PROJECT_POD_SECURITY_ENFORCE", default="baseline"
)
PORTAL_PROJECT_POD_SECURITY_WARN = env.str("PORTAL_PROJECT_POD_SECURITY_WARN", default="restricted")
PORTAL_NAMESPACE_RECONCILE_MAX_BACKOFF = env.int(
    "PORTAL_NAMESPACE_RECONCILE_MAX_BACKOFF", default=3600
)

# kubectl through the portal (apps/clusters/proxy): upstream timeouts in seconds, the longest
# lifetime of a kubeconfig's API key, and the portal's own CA (base64 PEM) to embed in
# kubeconfigs when the portal's certificate is signed by a private CA.
PORTAL_PROXY_CONNECT_TIMEOUT = env.float("PORTAL_PROXY_CONNECT_TIMEOUT", default=3.0)
PORTAL_PROXY_READ_TIMEOUT = env.float("PORTAL_PROXY_READ_TIMEOUT", default=15.0)
# The Docker registry's token service (/registry/token, apps.registry): the service name the
# registry sends (its auth.token.service, the tokens' audience), the issuer it expects, and
# how long a token lives (each request of a key past that asks again, so a disabled or expired
# key stops working within this many seconds).
REGISTRY_TOKEN_SERVICE = env.str("REGISTRY_TOKEN_SERVICE", default="tke-registry")
REGISTRY_TOKEN_ISSUER = env.str("REGISTRY_TOKEN_ISSUER", default="tke-portal")
REGISTRY_TOKEN_TTL = env.int("REGISTRY_TOKEN_TTL", default=300)
# Where users push and pull (host[:port] of the registry), shown in the API and the README.
REGISTRY_HOST = env.str("REGISTRY_HOST", default="")
# How the portal itself reaches the registry's API (fetching manifests for notifications,
# deleting manifests): scheme://host:port. Empty: the URL in each notification event.
REGISTRY_URL = env.str("REGISTRY_URL", default="")
# The registry's notifications (POST /registry/events) carry "Authorization: Bearer <secret>";
# empty refuses every notification. Seen event ids are kept this many seconds (redeliveries).
REGISTRY_EVENTS_SECRET = env.str("REGISTRY_EVENTS_SECRET", default="")
REGISTRY_EVENTS_RETENTION = env.int("REGISTRY_EVENTS_RETENTION", default=7 * 24 * 3600)
# Bounds of the portal's own requests to the registry: seconds, and the largest manifest read.
REGISTRY_REQUEST_TIMEOUT = env.float("REGISTRY_REQUEST_TIMEOUT", default=5.0)
REGISTRY_MANIFEST_MAX_BYTES = env.int("REGISTRY_MANIFEST_MAX_BYTES", default=4 * 1024 * 1024)
# Garbage collection (apps.registry.tasks.garbage_collect): the registry binary, the
# configuration file it serves with, its storage directory (to measure the bytes freed;
# optional) and the longest run in seconds.
REGISTRY_BINARY = env.str("REGISTRY_BINARY", default="/usr/bin/docker-registry")
REGISTRY_CONFIG_PATH = env.str("REGISTRY_CONFIG_PATH", default="")
REGISTRY_STORAGE_DIR = env.str("REGISTRY_STORAGE_DIR", default="")
REGISTRY_GC_TIMEOUT = env.int("REGISTRY_GC_TIMEOUT", default=1800)
PORTAL_KUBECONFIG_MAX_LIFETIME = env.str("PORTAL_KUBECONFIG_MAX_LIFETIME", default="7d")
PORTAL_KUBECONFIG_CA_DATA = env.str("PORTAL_KUBECONFIG_CA_DATA", default="")
# The portal's TLS address (https://portal.example.com) put in downloaded kubeconfigs whatever
# address they were fetched from; empty: the address of the request.
PORTAL_KUBECONFIG_SERVER = env.str("PORTAL_KUBECONFIG_SERVER", default="")

# Sign-in lockout (django-axes; apps/accounts/lockout.py has the rules): failed password
# sign-ins of one account, and from one client address, before a lock; how long a lock lasts
# after the last attempt.
PORTAL_LOGIN_MAX_FAILURES = env.int("PORTAL_LOGIN_MAX_FAILURES", default=5)
PORTAL_LOGIN_MAX_FAILURES_PER_IP = env.int("PORTAL_LOGIN_MAX_FAILURES_PER_IP", default=30)
PORTAL_LOGIN_LOCKOUT_SECONDS = env.int("PORTAL_LOGIN_LOCKOUT_SECONDS", default=900)
AXES_HANDLER = "apps.accounts.lockout.PortalAxesHandler"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_FAILURE_LIMIT = "apps.accounts.lockout.failure_limit"
AXES_COOLOFF_TIME = "apps.accounts.lockout.cool_off"
AXES_USERNAME_CALLABLE = "apps.accounts.lockout.username_for_axes"
AXES_CLIENT_IP_CALLABLE = "apps.accounts.lockout.client_address"
AXES_RESET_ON_SUCCESS = False  # the handler clears the account only, never the address
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = True  # attempts while locked extend the lock
AXES_DISABLE_ACCESS_LOG = True  # sign-ins and sign-outs are in the audit trail
AXES_ENABLE_ADMIN = False  # apps/accounts/admin.py registers a platform-only one
AXES_VERBOSE = False
# Never stored in an attempt's GET/POST copy (passwords of every form that authenticates).
AXES_SENSITIVE_PARAMETERS = [
    "username",
    "ip_address",
    "password",
    "old_password",
    "new_password",
    "new_password1",
    "new_password2",
    "csrfmiddlewaretoken",
]

# Sessions (apps/accounts/sessions.py): ended after this long without a request (idle) and
# this long after sign-in (absolute); sensitive actions (API keys, kubeconfigs, terminals)
# need a sign-in or re-authentication at most PORTAL_REAUTH_MAX_AGE seconds old.
PORTAL_SESSION_IDLE_TIMEOUT = env.int("PORTAL_SESSION_IDLE_TIMEOUT", default=3600)
PORTAL_SESSION_ABSOLUTE_TIMEOUT = env.int("PORTAL_SESSION_ABSOLUTE_TIMEOUT", default=12 * 3600)
PORTAL_REAUTH_MAX_AGE = env.int("PORTAL_REAUTH_MAX_AGE", default=15 * 60)
SESSION_COOKIE_AGE = PORTAL_SESSION_ABSOLUTE_TIMEOUT
# Database sessions that also record their user (apps.accounts.models.PortalSession), so a
# user's sessions are ended through an index.
SESSION_ENGINE = "apps.accounts.session_store"

# Web terminal (apps/terminal): a session without input or output for TERMINAL_IDLE_TIMEOUT
# seconds is closed; a keepalive message every TERMINAL_KEEPALIVE_INTERVAL seconds keeps
# proxies from dropping idle terminals; the session or API key behind a terminal is re-checked
# (signed out, absolute timeout, user dropped, key disabled) every TERMINAL_SESSION_RECHECK s;
# recordings (asciicast v2, stored gzip-compressed) stop growing at
# TERMINAL_RECORDING_MAX_BYTES uncompressed.
TERMINAL_IDLE_TIMEOUT = env.int("TERMINAL_IDLE_TIMEOUT", default=30 * 60)
TERMINAL_KEEPALIVE_INTERVAL = env.int("TERMINAL_KEEPALIVE_INTERVAL", default=25)
TERMINAL_SESSION_RECHECK = env.int("TERMINAL_SESSION_RECHECK", default=30)
TERMINAL_CONNECT_TIMEOUT = env.int("TERMINAL_CONNECT_TIMEOUT", default=15)
TERMINAL_RECORDING_MAX_BYTES = env.int("TERMINAL_RECORDING_MAX_BYTES", default=8 * 1024 * 1024)
# Where recordings are kept: empty = in the database (the session row); a directory = one
# gzip file per session under <dir>/tenant-<id>/ (mode 0600, directories 0700), the row keeping
# only the file's relative path.
TERMINAL_RECORDING_DIR = env.str("TERMINAL_RECORDING_DIR", default="")
# Recordings of sessions that ended more than this many days ago are removed (file or row data)
# by the beat entry terminal-recording-purge; the session rows and their audit events stay.
# 0 keeps recordings forever.
TERMINAL_RECORDING_RETENTION_DAYS = env.int("TERMINAL_RECORDING_RETENTION_DAYS", default=180)

# Node shell (apps/terminal/nodeshell.py, action execNode): a privileged debug pod of image
# TERMINAL_NODE_SHELL_IMAGE (it needs nsenter: busybox has it) in namespace
# TERMINAL_NODE_SHELL_NAMESPACE, pinned to the node; it must be Running within
# TERMINAL_NODE_SHELL_START_TIMEOUT seconds and is deleted when the session ends. Pods left
# behind (a portal process that died mid-session) older than TERMINAL_NODE_SHELL_ORPHAN_AGE
# seconds and held by no open session are deleted by the beat entry node-shell-cleanup.
TERMINAL_NODE_SHELL_IMAGE = env.str("TERMINAL_NODE_SHELL_IMAGE", default="busybox:1.37")
TERMINAL_NODE_SHELL_NAMESPACE = env.str("TERMINAL_NODE_SHELL_NAMESPACE", default="kube-system")
TERMINAL_NODE_SHELL_START_TIMEOUT = env.int("TERMINAL_NODE_SHELL_START_TIMEOUT", default=60)
TERMINAL_NODE_SHELL_ORPHAN_AGE = env.int("TERMINAL_NODE_SHELL_ORPHAN_AGE", default=15 * 60)
# Live logs: lines queued per stream for a slow browser before newer ones are dropped (with a
# marker saying how many).
TERMINAL_LOG_QUEUE = env.int("TERMINAL_LOG_QUEUE", default=5000)
# Live logs of a workload (every pod) or of every container of a pod: the most container log
# streams one socket follows at once (past it: a notice, and the rest wait for a free slot).
TERMINAL_LOG_MAX_STREAMS = env.int("TERMINAL_LOG_MAX_STREAMS", default=20)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# Identity providers (apps/accounts/identity): how often each directory user is re-checked
# (removed or disabled in LDAP, OIDC grant revoked → sessions and API keys stop working), and
# how many users of one provider one run checks.
PORTAL_DIRECTORY_RECHECK_SECONDS = env.int("PORTAL_DIRECTORY_RECHECK_SECONDS", default=300)
PORTAL_DIRECTORY_RECHECK_BATCH = env.int("PORTAL_DIRECTORY_RECHECK_BATCH", default=500)
# OIDC users whose provider issued no refresh token cannot be re-checked: their sessions and
# API keys work for this long after their last sign-in through the provider, then stop until
# they sign in there again (a disabled user is locked out within this bound at most).
PORTAL_OIDC_UNVERIFIED_MAX_AGE = env.int("PORTAL_OIDC_UNVERIFIED_MAX_AGE", default=12 * 3600)
# Sign-in page: a host name ``<tenant><suffix>`` (e.g. ``acme.portal.example.com`` with
# suffix ``.portal.example.com``) selects the tenant; empty = no inference from the host.
PORTAL_TENANT_HOST_SUFFIX = env.str("PORTAL_TENANT_HOST_SUFFIX", default="")
