"""Production hardening: what ``prod`` (a running deployment) and ``build`` (the image build's
own steps) share, so ``check --deploy`` at build time judges exactly what will run.

Only the deployment's own knobs are read here, each with a default; the values a deployment
must provide (secrets, database, Redis, hosts) are required by ``prod`` alone.
"""

from .base import env

DEBUG = False
PORTAL_ALLOW_LOOPBACK_CLUSTERS = env.bool("PORTAL_ALLOW_LOOPBACK_CLUSTERS", default=False)

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# Load balancers probe over plain HTTP inside the cluster.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
# Cookies: HTTPS only, out of reach of scripts (the session), not sent on cross-site
# subrequests or posts (SameSite=Lax), and named with the __Host- prefix, which browsers accept
# only when Secure, for Path=/ and without Domain — so no sibling subdomain (another tenant's
# host name under PORTAL_TENANT_HOST_SUFFIX) and no plain-HTTP page can set or shadow them.
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_NAME = "__Host-sessionid"
SESSION_COOKIE_DOMAIN = None
SESSION_COOKIE_PATH = "/"
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_NAME = "__Host-csrftoken"
CSRF_COOKIE_DOMAIN = None
CSRF_COOKIE_PATH = "/"
X_FRAME_OPTIONS = "DENY"
