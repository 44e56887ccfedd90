"""Which tenant a console page shows.

Everyone but the platform administrator sees their own tenant (the same rule as the API,
``apps.tenants.scope``). The platform administrator chooses one in the console (the tenant
switcher, kept in their session) or sees every tenant's clusters and projects at once; the
API keeps its own choice (the ``X-Portal-Tenant`` header), so a console choice never changes
what an API client of the same session sees.
"""

from __future__ import annotations

from apps.tenants.models import Tenant
from apps.tenants.scope import NOBODY, Scope

SESSION_KEY = "console_tenant"


def console_scope(request) -> Scope:
    cached = getattr(request, "_console_scope", None)
    if cached is not None:
        return cached
    user = request.user
    if not user.is_authenticated:
        scope = NOBODY
    elif user.is_superuser:
        slug = request.session.get(SESSION_KEY) or ""
        tenant = Tenant.objects.filter(slug=slug).first() if slug else None
        scope = Scope(tenant=tenant) if tenant else Scope(tenant=user.tenant, all_tenants=True)
    elif user.tenant_id is None or not user.tenant.is_active:
        scope = NOBODY
    else:
        scope = Scope(tenant=user.tenant)
    request._console_scope = scope
    # The same scope for the rest of the request: services that resolve the API's scope and
    # the audit middleware (whose row takes the scope's tenant) see the tenant the console shows.
    request._portal_scope = (user, scope)
    return scope


def switchable_tenants(user) -> list[Tenant]:
    """The tenants the switcher offers (the platform administrator only)."""
    if not user.is_superuser:
        return []
    return list(Tenant.objects.order_by("slug").only("slug", "display_name"))
