"""Every write to registry namespaces (atomic, taking the acting user).

Writes reaching the portal over HTTP (API, admin) are audited by the audit middleware, one row
per request, named by the view (``request.audit_action`` / ``audit_resource``).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from .models import RegistryNamespace

EDITABLE = ("display_name", "description", "visibility", "project", "storage_quota_bytes")


def _validate_project(tenant, project) -> None:
    if project is not None and project.tenant_id != tenant.pk:
        raise ValidationError({"project": ["Unknown project."]})


@transaction.atomic
def create_namespace(*, actor, tenant, name: str, **fields) -> RegistryNamespace:
    _validate_project(tenant, fields.get("project"))
    if RegistryNamespace.objects.filter(tenant=tenant, name=name).exists():
        raise ValidationError({"name": [f"A registry namespace named {name} already exists."]})
    namespace = RegistryNamespace(
        tenant=tenant,
        name=name,
        created_by=actor if getattr(actor, "pk", None) else None,
        **{k: v for k, v in fields.items() if k in EDITABLE},
    )
    namespace.full_clean()
    namespace.save()
    return namespace


@transaction.atomic
def update_namespace(*, actor, namespace: RegistryNamespace, **changes) -> RegistryNamespace:
    _validate_project(namespace.tenant, changes.get("project"))
    for name, value in changes.items():
        if name in EDITABLE:
            setattr(namespace, name, value)
    namespace.full_clean()
    namespace.save()
    return namespace


@transaction.atomic
def delete_namespace(*, actor, namespace: RegistryNamespace) -> None:
    """Delete the namespace's rows (its images stay in the registry's storage until garbage
    collection, which is not built yet)."""
    namespace.delete()
