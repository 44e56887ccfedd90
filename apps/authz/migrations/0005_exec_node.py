"""Nodes get ``execNode`` (the console's node shell: a privileged pod in the node's
namespaces). It is in area ``nodeshell``, which no predefined policy grants, and in
``catalog.EXPLICIT_ACTIONS``: no wildcard reaches it, so no stored allow statement — the
tenant administrator's ``*`` included — gains it; only the platform administrator has it until
a policy naming it is bound. Stored policies need no rewrite for that (a deny's wildcard still
covers it, as it should). Every tenant's predefined policies are brought up to date and its
policy version bumped so each process recompiles. One-way: the reverse step does nothing
(unknown actions match nothing)."""

from __future__ import annotations

from django.db import migrations

from ._predefined import refresh_predefined


def forward(apps, schema_editor):
    refresh_predefined(apps)


class Migration(migrations.Migration):
    dependencies = [("authz", "0004_rollback_statefulset_daemonset")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
