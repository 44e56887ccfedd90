"""HTTP Basic ``<tenant>/<username>:<API key>`` for clients that speak nothing else: Helm
(chart repositories, apps.charts.views) and Docker's token service (apps.registry.views).

A platform administrator, who has no tenant, gives the bare username. The key must belong to
the user named (a mismatch is answered like a wrong key: whose key it is is not disclosed), be
usable (not expired or disabled, the user active) and be a general key: a kubeconfig key is
for one cluster.
"""

from __future__ import annotations

import base64
import binascii

from rest_framework.exceptions import AuthenticationFailed

from .authentication import authenticate_api_key


class BasicRefused(Exception):
    """Credentials were given and are refused; ``message`` says why, ``login`` is what was
    claimed (for the audit row)."""

    def __init__(self, message: str, login: str = ""):
        super().__init__(message)
        self.message, self.login = message, login


def basic_credentials(request) -> tuple[str, str] | None:
    """(login, secret) of the request's Basic header; None when it has no Authorization."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        raise BasicRefused(
            "Only HTTP Basic credentials are accepted: <tenant>/<username>:<API key>."
        )
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise BasicRefused("Malformed Basic credentials.") from exc
    login, sep, secret = decoded.partition(":")
    if not sep:
        raise BasicRefused("Malformed Basic credentials.")
    return login, secret


def login_name(user) -> str:
    """How ``user`` logs in with Basic credentials: ``tenant/username`` or ``username``."""
    return f"{user.tenant.slug}/{user.username}" if user.tenant_id else user.username


def authenticate_basic(request, purpose: str = "this service"):
    """The user the request's Basic credentials name (None: no credentials, anonymous), or
    :class:`BasicRefused`. Sets ``request.auth`` to the API key used."""
    credentials = basic_credentials(request)
    if credentials is None:
        return None
    login, secret = credentials
    tenant_slug, sep, username = login.rpartition("/")
    if not sep:
        tenant_slug, username = "", login
    try:
        key = authenticate_api_key(secret, getattr(request, "client_ip", None))
    except AuthenticationFailed as exc:
        raise BasicRefused(str(exc.detail), login) from exc
    user = key.user
    own_tenant = user.tenant.slug if user.tenant_id else ""
    if user.username != username or own_tenant != tenant_slug:
        raise BasicRefused("Invalid API key.", login)
    if key.cluster_id is not None:
        raise BasicRefused(
            f"API key {key.prefix}… was issued in a kubeconfig for one cluster; use a general "
            f"API key for {purpose}.",
            login,
        )
    request.auth = key
    return user
