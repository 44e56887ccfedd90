"""The predefined ``audit-read`` policy also allows ``exportAuditEvents`` (the console's CSV
export of the trail it already lets its holders read) and ``replayTerminalSession`` (web
terminal recordings): every tenant's predefined policies are brought up to date and its policy
version bumped so each process recompiles. One-way."""

from __future__ import annotations

import secrets

from django.db import migrations

from ._predefined import refresh_predefined


def forward(apps, schema_editor):
    refresh_predefined(apps)


class Migration(migrations.Migration):
    dependencies = [("authz", "0002_kubernetes_kinds")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
