"""The predefined ``audit-read`` policy also allows ``exportAuditEvents`` (the console's CSV
export of the trail it already lets its holders read) and ``replayTerminalSession`` (web
terminal recordings): every tenant's predefined policies are brought up to date and its policy
version bumped so each process recompiles. One-way."""

from __future__ import annotations

import secrets

from django.db import migrations


def forward(apps, schema_editor):
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


class Migration(migrations.Migration):
    dependencies = [("authz", "0002_kubernetes_kinds")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
