"""``Authorization: Bearer <api key>`` authentication for the REST API, the kubectl proxy
and websockets.

A kubeconfig key (``APIKey.cluster`` set) is refused by the REST API except at its own
cluster's kubeconfig endpoint: it lives in a file on a laptop, so it reaches kubectl on one
cluster and nothing else (the proxy checks the cluster in ``apps/clusters/proxy/access.py``).
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from . import keys
from .models import APIKey

# Writing last_used on every request would turn reads into writes; once a minute is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# The one REST endpoint a kubeconfig key may call (for its own cluster): a fresh kubeconfig.
KUBECONFIG_VIEW = "api:cluster-kubeconfig"


def authenticate_api_key(
    plaintext: str, client_ip: str | None = None, key: APIKey | None = None
) -> APIKey:
    """The usable key for ``plaintext``, or AuthenticationFailed with a specific code.

    ``key``: the row (user and tenant selected) already read by the caller — the kubectl
    proxy, which re-reads the columns deciding here on every request — instead of a lookup."""
    prefix = keys.split(plaintext)
    if key is None and prefix is not None:
        # order_by(): no ORDER BY on a unique lookup that every API request pays for.
        rows = (
            APIKey.objects.select_related("user__tenant", "user__identity_provider", "cluster")
            .filter(prefix=prefix)
            .order_by()
        )
        key = next(iter(rows[:1]), None)
    if key is None or not keys.matches(plaintext, key.digest):
        raise exceptions.AuthenticationFailed("Invalid API key.", code="invalid_api_key")
    if key.disabled:
        raise exceptions.AuthenticationFailed(
            f"API key {key.prefix}… has been disabled.", code="api_key_disabled"
        )
    if key.is_expired:
        raise exceptions.AuthenticationFailed(
            f"API key {key.prefix}… expired at {key.expires_at:%Y-%m-%d %H:%M:%S} UTC.",
            code="api_key_expired",
        )
    user = key.user
    if not user.is_active:
        raise exceptions.AuthenticationFailed("The key's user is disabled.", code="user_disabled")
    refusal = user.directory_refusal()
    if refusal:
        raise exceptions.AuthenticationFailed(
            f"The key's user is no longer vouched for: {refusal}.",
            code="user_not_in_directory",
        )
    if user.tenant_id is not None and not user.tenant.is_active:
        raise exceptions.AuthenticationFailed(
            f"Tenant '{user.tenant.slug}' is disabled.", code="tenant_disabled"
        )
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        APIKey.objects.filter(pk=key.pk).update(last_used_at=now, last_used_ip=client_ip)
        key.last_used_at, key.last_used_ip = now, client_ip
    return key


class APIKeyAuthentication(authentication.BaseAuthentication):
    """DRF authentication from a bearer API key; ``request.auth`` is the APIKey row."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        token = token.strip()
        if not token:
            raise exceptions.AuthenticationFailed("Empty bearer token.", code="invalid_api_key")
        key = authenticate_api_key(token, getattr(request._request, "client_ip", None))
        if key.cluster_id is not None:
            match = request._request.resolver_match
            here = (
                match.kwargs.get("name") if match and match.view_name == KUBECONFIG_VIEW else None
            )
            if here is None or not key.allows_cluster(here):
                raise exceptions.PermissionDenied(
                    f"API key {key.prefix}… was issued in a kubeconfig for cluster "
                    f"{key.cluster.name}: it works only for kubectl on that cluster "
                    "(/k8s/clusters/…) and its kubeconfig endpoint, not for the REST API. "
                    "Use a general API key or sign in.",
                    code="api_key_limited_to_cluster",
                )
        return key.user, key

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'
