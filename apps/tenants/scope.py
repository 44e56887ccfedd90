"""Tenant resolution: once per request, from the authenticated user (or, for a platform
administrator, from the ``X-Portal-Tenant`` header)."""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework.exceptions import AuthenticationFailed, NotFound

from .models import Tenant

TENANT_HEADER = "HTTP_X_PORTAL_TENANT"


@dataclass(frozen=True)
class Scope:
    """What one request may see: a single tenant, or (platform admin, no tenant chosen) all."""

    tenant: Tenant | None
    all_tenants: bool = False

    @property
    def is_platform(self) -> bool:
        return self.all_tenants


NOBODY = Scope(tenant=None, all_tenants=False)


def _django_request(request):
    return getattr(request, "_request", request)


def resolve_scope(request) -> Scope:
    """The request's scope, computed once and cached on the underlying HttpRequest.

    Another tenant named in the header is answered exactly like an unknown one (404), so
    the header cannot be used to discover which tenants exist.
    """
    raw = _django_request(request)
    cached = getattr(raw, "_portal_scope", None)
    user = getattr(request, "user", None)
    if cached is not None and cached[0] is user:
        return cached[1]
    scope = _compute_scope(raw, user)
    raw._portal_scope = (user, scope)
    return scope


def _compute_scope(raw, user) -> Scope:
    if user is None or not user.is_authenticated:
        return NOBODY
    wanted = (raw.META.get(TENANT_HEADER) or "").strip()
    if user.is_superuser:
        if not wanted:
            return Scope(tenant=user.tenant, all_tenants=user.tenant is None)
        tenant = Tenant.objects.filter(slug=wanted).first()
        if tenant is None:
            raise NotFound(f"Tenant '{wanted}' not found.")
        return Scope(tenant=tenant)
    tenant = user.tenant
    if tenant is None:
        return NOBODY
    if wanted and wanted != tenant.slug:
        raise NotFound(f"Tenant '{wanted}' not found.")
    if not tenant.is_active:
        raise AuthenticationFailed(f"Tenant '{tenant.slug}' is disabled.", code="tenant_disabled")
    return Scope(tenant=tenant)
