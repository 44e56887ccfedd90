"""Shared model bases. Every tenant-owned row derives from :class:`TenantScopedModel`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models

if TYPE_CHECKING:
    from apps.tenants.scope import Scope


class TenantScopedQuerySet(models.QuerySet):
    """Querysets that know how to limit themselves to what a request's scope may see."""

    tenant_field = "tenant"

    def in_scope(self, scope: Scope) -> TenantScopedQuerySet:
        """Rows of the scope's tenant; every tenant for an unscoped platform admin; else none."""
        if scope.tenant is not None:
            return self.filter(**{self.tenant_field: scope.tenant})
        if scope.all_tenants:
            return self
        return self.none()

    def for_tenant(self, tenant) -> TenantScopedQuerySet:
        return self.filter(**{self.tenant_field: tenant})


TenantScopedManager = models.Manager.from_queryset(TenantScopedQuerySet)


class TenantScopedModel(models.Model):
    """A row owned by exactly one tenant; invisible (404) to every other tenant."""

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="+", db_index=True
    )

    objects = TenantScopedManager()

    class Meta:
        abstract = True
