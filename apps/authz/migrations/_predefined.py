"""Shared by the authz data migrations (a module whose name starts with ``_`` is not itself a
migration): bring every tenant's predefined policies up to date with ``PREDEFINED`` and bump
its policy version so each process recompiles; keep stored policies' meaning when new actions
arrive (:func:`keep_meaning`)."""

from __future__ import annotations

import secrets

from apps.authz.engine import key_match


def _matches(patterns: list[str], action: str) -> bool:
    return any(key_match(action, p) for p in patterns)


def rewrite(statements: list[dict], old_actions: list[str], new: dict[str, str]) -> list[dict]:
    """``statements`` with the same meaning once the actions ``new`` (new action → the action
    that used to cover the same requests) exist:

    1. allow: an action pattern that now reaches a new action although the statement does not
       hold the matching old action is replaced by the explicit list of the actions it matched
       before, so no wildcard turns into a power it did not have;
    2. deny: a deny that covers the old action also denies the new one.
    Idempotent."""
    out = []
    for st in statements:
        st = dict(st)
        actions = list(st.get("actions") or [])
        if st.get("effect", "allow") == "deny":
            extra = [
                n for n, old in new.items() if _matches(actions, old) and not _matches(actions, n)
            ]
            st["actions"] = actions + extra
        else:
            kept: list[str] = []
            for pattern in actions:
                widened = [
                    n for n, old in new.items() if key_match(n, pattern) and not _matches(actions, old)
                ]
                if widened:
                    kept.extend(a for a in old_actions if key_match(a, pattern) and a not in kept)
                elif pattern not in kept:
                    kept.append(pattern)
            st["actions"] = kept
        out.append(st)
    return out


def keep_meaning(apps, new: dict[str, str]) -> None:
    """Rewrite every tenant's own (not predefined) policies with :func:`rewrite`."""
    from apps.authz.catalog import all_actions

    Policy = apps.get_model("authz", "Policy")
    old_actions = [a for a in all_actions() if a not in new]
    for policy in Policy.objects.filter(predefined=False):
        statements = rewrite(policy.statements or [], old_actions, new)
        if statements != policy.statements:
            policy.statements = statements
            policy.save(update_fields=["statements"])


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
