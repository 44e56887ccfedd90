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

import secrets

from django.db import migrations

from ._predefined import refresh_predefined

from apps.authz.engine import key_match

# new action → the action that used to cover the same requests
NEW = {
    "rollbackStatefulSet": "updateStatefulSet",
    "rollbackDaemonSet": "updateDaemonSet",
}


def _old_actions() -> list[str]:
    from apps.authz.catalog import all_actions

    return [a for a in all_actions() if a not in NEW]


def _matches(patterns: list[str], action: str) -> bool:
    return any(key_match(action, p) for p in patterns)


def rewrite(statements: list[dict], old_actions: list[str]) -> list[dict]:
    out = []
    for st in statements:
        st = dict(st)
        actions = list(st.get("actions") or [])
        if st.get("effect", "allow") == "deny":
            extra = [
                new
                for new, old in NEW.items()
                if _matches(actions, old) and not _matches(actions, new)
            ]
            st["actions"] = actions + extra
        else:
            kept: list[str] = []
            for pattern in actions:
                widened = [
                    new
                    for new, old in NEW.items()
                    if key_match(new, pattern) and not _matches(actions, old)
                ]
                if widened:
                    kept.extend(a for a in old_actions if key_match(a, pattern) and a not in kept)
                elif pattern not in kept:
                    kept.append(pattern)
            st["actions"] = kept
        out.append(st)
    return out


def forward(apps, schema_editor):
    Policy = apps.get_model("authz", "Policy")
    old_actions = _old_actions()
    for policy in Policy.objects.filter(predefined=False):
        statements = rewrite(policy.statements or [], old_actions)
        if statements != policy.statements:
            policy.statements = statements
            policy.save(update_fields=["statements"])
    refresh_predefined(apps)


class Migration(migrations.Migration):
    dependencies = [("authz", "0003_predefined_audit_export")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
