"""StatefulSets and DaemonSets get ``rollbackStatefulSet``/``rollbackDaemonSet`` (the resource
API's ``…/rollback/``, restoring a ControllerRevision's template). Until now the only way to
roll them back was a PATCH of the object, ``update<Kind>`` (what ``kubectl rollout undo``
sends through the proxy, which keeps judging it so). Stored policies keep their meaning:

1. Allow statements of the tenants' own policies: an action pattern that now reaches a new
   action (``rollback*``, ``*Set``…) although the statement does not hold the matching
   ``update<Kind>`` is replaced by the explicit list of the actions it matched before, so no
   wildcard turns into a power to rewrite the template it did not have.
2. Deny statements: a deny that covers ``update<Kind>`` also denies ``rollback<Kind>`` (on the
   same resources), so a refused template change is not reachable through the new door.

Then every tenant's predefined policies are brought up to date (the ``cluster`` area grants
hold the new actions, as they hold ``update<Kind>``) and its policy version bumped so each
process recompiles. One-way: the reverse step does nothing (unknown actions match nothing).
"""

from __future__ import annotations

from django.db import migrations

from ._predefined import keep_meaning, refresh_predefined
from ._predefined import rewrite as _rewrite

# new action → the action that used to cover the same requests
NEW = {
    "rollbackStatefulSet": "updateStatefulSet",
    "rollbackDaemonSet": "updateDaemonSet",
}


def rewrite(statements: list[dict], old_actions: list[str]) -> list[dict]:
    return _rewrite(statements, old_actions, NEW)


def forward(apps, schema_editor):
    keep_meaning(apps, NEW)
    refresh_predefined(apps)


class Migration(migrations.Migration):
    dependencies = [("authz", "0003_predefined_audit_export")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
