"""Shared by the authz data migrations (a module whose name starts with ``_`` is not itself a
migration): bring every tenant's predefined policies up to date with ``PREDEFINED`` and bump
its policy version so each process recompiles."""

from __future__ import annotations

import secrets


def refresh_predefined(apps) -> None:
    from apps.authz.predefined import PREDEFINED

    Policy = apps.get_model("authz", "Policy")
    Tenant = apps.get_model("tenants", "Tenant")
    for tenant in Tenant.objects.all():
        for spec in PREDEFINED:
            Policy.objects.update_or_create(
                tenant=tenant,
                name=spec["name"],
                defaults={
                    "display_name": spec["display_name"],
                    "description": spec["description"],
                    "category": spec["category"],
                    "scope": spec.get("scope", "platform"),
                    "statements": spec["statements"],
                    "predefined": True,
                },
            )
        Tenant.objects.filter(pk=tenant.pk).update(authz_version=secrets.randbits(62))
