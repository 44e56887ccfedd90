"""Base viewsets: tenant scoping, SQL-level restriction and authorization names in one place.

An app viewset declares ``authz_kind = "User"`` (TKEStack kind name) and gets:

- actions ``listUsers``, ``getUser``, ``createUser``, ``updateUser``, ``deleteUser`` and, for
  extra ``@action`` routes, ``<action><Kind>`` unless ``authz_extra_actions`` names it;
- querysets limited to the request's tenant and then ``authz.restrict``-ed (so other tenants'
  rows are 404 and never listed);
- the action and resource recorded on the request for the audit event.
"""

from __future__ import annotations

from rest_framework import exceptions, mixins, viewsets

from apps.authz import restrict
from apps.core.errors import TenantRequired
from apps.tenants.scope import Scope, resolve_scope

_VERBS = {
    "list": "list",
    "retrieve": "get",
    "create": "create",
    "update": "update",
    "partial_update": "update",
    "destroy": "delete",
}


def plural(kind: str) -> str:
    if kind.endswith("y") and not kind.endswith(("ey", "ay", "oy")):
        return kind[:-1] + "ies"
    if kind.endswith(("s", "x")):
        return kind + "es"
    return kind + "s"


class PortalViewSetMixin:
    """Shared behaviour of every portal viewset (see the module docstring)."""

    authz_kind: str = ""
    authz_extra_actions: dict[str, str] = {}
    # Actions checked at platform level (no tenant), e.g. creating a tenant.
    authz_platform_actions: frozenset[str] = frozenset()
    tenant_field = "tenant"

    # -- scope -------------------------------------------------------------------------
    @property
    def scope(self) -> Scope:
        return resolve_scope(self.request)

    def tenant_for_write(self):
        """The tenant new objects go into; a platform admin must choose one explicitly."""
        tenant = self.scope.tenant
        if tenant is None:
            raise TenantRequired()
        return tenant

    def initial(self, request, *args, **kwargs):
        # Name the action first so even a request refused below is audited by name.
        raw = request._request
        raw.audit_action = self.authz_action()
        raw.audit_resource = self.authz_resource_path()
        super().initial(request, *args, **kwargs)
        resolve_scope(request)

    # -- authorization names -----------------------------------------------------------
    def authz_action(self) -> str:
        name = getattr(self, "action", None) or "unknown"
        if name in self.authz_extra_actions:
            return self.authz_extra_actions[name]
        verb = _VERBS.get(name)
        if verb == "list":
            return f"list{plural(self.authz_kind)}"
        if verb:
            return f"{verb}{self.authz_kind}"
        return f"{name}{self.authz_kind}"

    def authz_resource_path(self) -> str:
        lookup = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field)
        return f"{self.authz_kind.lower()}:{lookup or '*'}"

    def authz_collection(self):
        """(resource path, owning tenant) of the collection this request addresses."""
        resource = self.authz_resource_path()
        if getattr(self, "action", None) in self.authz_platform_actions:
            return resource, None
        # A platform admin with no tenant chosen is checked at platform level (tenant None).
        return resource, self.scope.tenant

    def authz_object(self, obj):
        """(resource path, owning tenant) of one object."""
        resource = getattr(obj, "authz_resource", None) or f"{self.authz_kind.lower()}:{obj.pk}"
        raw = self.request._request
        raw.audit_resource = resource
        if getattr(self, "action", None) in self.authz_platform_actions:
            return resource, None
        tenant = self.object_tenant(obj)
        if tenant is not None:
            raw.audit_tenant = tenant  # audited in the object's tenant (apps.audit.middleware)
        return resource, tenant

    def object_tenant(self, obj):
        return getattr(obj, self.tenant_field, None)

    # Self-service (own API keys, own profile): who owns the object or the thing created.
    owner_field: str = ""
    self_create: bool = False

    def object_owner(self, obj):
        if self.owner_field == "self":
            return obj
        return getattr(obj, self.owner_field, None) if self.owner_field else None

    def authz_collection_owner(self):
        return self.request.user if self.self_create else None

    # -- querysets ---------------------------------------------------------------------
    def get_object(self):
        lookup = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field)
        # PostgreSQL raises on text containing NUL instead of matching nothing, and no stored
        # name contains one: answer what the lookup means, "not found", without asking.
        if isinstance(lookup, str) and "\x00" in lookup:
            raise exceptions.NotFound(f"No {self.authz_kind} matches the given query.")
        return super().get_object()

    def scoped_queryset(self, queryset):
        return queryset.in_scope(self.scope)

    def get_queryset(self):
        queryset = self.scoped_queryset(super().get_queryset())
        if (self.lookup_url_kwarg or self.lookup_field) in self.kwargs:
            # Detail routes: what the user may get is visible (others are 404); the object
            # check then decides the action itself (403).
            return restrict(queryset, self.request.user, f"get{self.authz_kind}")
        return restrict(queryset, self.request.user, self.authz_action())


class PortalModelViewSet(PortalViewSetMixin, viewsets.ModelViewSet):
    """CRUD viewset. Writes go through the app's service functions (override perform_*)."""


class PortalReadOnlyViewSet(PortalViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """List and retrieve only."""


class PortalCreateReadDeleteViewSet(
    PortalViewSetMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    """For objects that are created and deleted but never edited in place."""
