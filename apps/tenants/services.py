"""Every write to tenants. Each function is atomic and takes the acting user."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from .models import Tenant


@transaction.atomic
def create_tenant(
    *,
    actor,
    slug: str,
    display_name: str = "",
    admin_username: str | None = None,
    admin_password: str | None = None,
    admin_email: str = "",
) -> Tenant:
    """Create a tenant and, optionally, its first administrator."""
    if Tenant.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": f"A tenant with slug '{slug}' already exists."})
    tenant = Tenant(slug=slug, display_name=display_name or slug)
    tenant.full_clean()
    tenant.save()
    from apps.authz.services import ensure_predefined_policies

    ensure_predefined_policies(tenant)
    if admin_username:
        from apps.accounts.services import create_user

        if not admin_password:
            raise ValidationError({"admin_password": "A password is needed for the admin."})
        create_user(
            actor=actor,
            tenant=tenant,
            username=admin_username,
            password=admin_password,
            email=admin_email,
            is_tenant_admin=True,
            field_prefix="admin_",
        )
    return tenant


@transaction.atomic
def update_tenant(*, actor, tenant: Tenant, **changes) -> Tenant:
    allowed = {"display_name", "is_active"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError({name: "This field cannot be changed." for name in unknown})
    for name, value in changes.items():
        setattr(tenant, name, value)
    tenant.full_clean()
    tenant.save()
    return tenant


@transaction.atomic
def delete_tenant(*, actor, tenant: Tenant) -> None:
    """Delete a tenant and everything it owns. Refuses the actor's own tenant."""
    if actor is not None and actor.tenant_id == tenant.pk:
        raise ValidationError({"slug": "You cannot delete the tenant you belong to."})
    tenant.delete()
