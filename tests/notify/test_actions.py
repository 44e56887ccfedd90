"""Notify's authorization actions: the catalogue holds ``testNotifyChannel`` and the read-only
MessageRequest kind, the predefined policies grant them with the notify area, and the data
migration keeps stored policies' meaning."""

from __future__ import annotations

import importlib

import pytest

from apps.authz.catalog import all_actions
from apps.authz.enforcer import check
from apps.authz.models import Binding, Policy
from apps.authz.predefined import PREDEFINED
from tests.factories import UserFactory

CHANNEL = "notifychannel:mail"


def _migration():
    return importlib.import_module("apps.authz.migrations.0008_notify_actions")


def test_the_catalogue_has_the_notify_actions():
    actions = set(all_actions())
    assert {"testNotifyChannel", "listMessageRequests", "getMessageRequest"} <= actions
    assert "createMessageRequest" not in actions  # notify() makes them


@pytest.mark.django_db
@pytest.mark.parametrize("spec", PREDEFINED, ids=lambda s: s["name"])
def test_predefined_policies_grant_new_actions_with_the_old(tenant, spec):
    user = UserFactory(tenant=tenant, username=f"u-{spec['name']}")
    Binding.objects.create(
        tenant=tenant, user=user, policy=Policy.objects.get(tenant=tenant, name=spec["name"])
    )
    user.tenant.refresh_from_db()
    assert bool(check(user, "testNotifyChannel", CHANNEL, tenant=tenant)) == bool(
        check(user, "updateNotifyChannel", CHANNEL, tenant=tenant)
    )
    assert bool(check(user, "getMessageRequest", "messagerequest:1", tenant=tenant)) == bool(
        check(user, "getMessage", "message:1", tenant=tenant)
    )


def test_migration_rewrite_keeps_the_meaning():
    from apps.authz.migrations._predefined import rewrite

    new = _migration().NEW
    old = [a for a in all_actions() if a not in new]
    statements = [
        {"actions": ["*NotifyChannel"], "resources": ["*"], "effect": "allow"},
        {"actions": ["t*"], "resources": ["*"], "effect": "allow"},
        {"actions": ["updateNotifyChannel"], "resources": [CHANNEL], "effect": "deny"},
    ]
    spelled, narrowed, deny = rewrite(statements, old, new)
    # held updateNotifyChannel: the wildcard may now reach testNotifyChannel too
    assert spelled["actions"] == ["*NotifyChannel"]
    # "t*" reached no action that tests a channel before: spelled out without it
    assert "testNotifyChannel" not in narrowed["actions"] and narrowed["actions"]
    assert "testNotifyChannel" in deny["actions"]
    assert rewrite([spelled, narrowed, deny], old, new) == [spelled, narrowed, deny]
