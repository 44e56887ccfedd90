"""``rollbackStatefulSet``/``rollbackDaemonSet``: the predefined policies grant them to exactly
those who may update those kinds, and the data migration keeps stored policies' meaning."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps

from apps.authz.catalog import all_actions
from apps.authz.enforcer import check
from apps.authz.models import Binding, Policy
from apps.authz.predefined import PREDEFINED
from tests.factories import UserFactory

STS = "cluster:cls-a/namespace:web/statefulset:db"
DS = "cluster:cls-a/namespace:web/daemonset:agent"


def _migration():
    return importlib.import_module("apps.authz.migrations.0004_rollback_statefulset_daemonset")


def test_the_catalogue_has_the_new_actions():
    actions = all_actions()
    assert {"rollbackDeployment", "rollbackStatefulSet", "rollbackDaemonSet"} <= set(actions)


@pytest.mark.django_db
@pytest.mark.parametrize("spec", PREDEFINED, ids=lambda s: s["name"])
def test_predefined_policies_grant_rollback_with_update(tenant, spec):
    user = UserFactory(tenant=tenant, username=f"u-{spec['name']}")
    Binding.objects.create(
        tenant=tenant, user=user, policy=Policy.objects.get(tenant=tenant, name=spec["name"])
    )
    user.tenant.refresh_from_db()
    for kind, resource in (("StatefulSet", STS), ("DaemonSet", DS)):
        may_update = bool(check(user, f"update{kind}", resource, tenant=tenant))
        may_roll_back = bool(check(user, f"rollback{kind}", resource, tenant=tenant))
        assert may_roll_back == may_update, kind
    # the administrator (all of it) at least proves the check can say yes
    if spec["name"] == "administrator":
        assert check(user, "rollbackStatefulSet", STS, tenant=tenant)


def test_migration_rewrite_keeps_the_meaning():
    old = [a for a in all_actions() if a not in ("rollbackStatefulSet", "rollbackDaemonSet")]
    statements = [
        {"actions": ["rollback*"], "resources": ["*"], "effect": "allow"},
        {"actions": ["*StatefulSet*", "get*"], "resources": ["*"], "effect": "allow"},
        {"actions": ["update*"], "resources": [STS], "effect": "deny"},
        {"actions": ["deletePod"], "resources": ["*"], "effect": "deny"},
    ]
    once = _migration().rewrite(statements, old)
    spelled, kept, deny, other = once
    # no new power over templates (rollbackRelease, of a later migration, counts as old here)
    assert spelled["actions"] == [
        a
        for a in all_actions()
        if a.startswith("rollback") and a not in ("rollbackStatefulSet", "rollbackDaemonSet")
    ]
    assert kept["actions"] == ["*StatefulSet*", "get*"]  # it could update them already
    assert deny["actions"] == ["update*", "rollbackStatefulSet", "rollbackDaemonSet"]
    assert other == statements[3]
    assert _migration().rewrite(once, old) == once  # idempotent


@pytest.mark.django_db
def test_migration_forward_on_stored_policies(tenant):
    custom = Policy.objects.create(
        tenant=tenant,
        name="roller",
        statements=[
            {"actions": ["*"], "resources": ["*"], "effect": "allow"},
            {"actions": ["updateStatefulSet"], "resources": [STS], "effect": "deny"},
        ],
    )
    narrow = Policy.objects.create(
        tenant=tenant,
        name="narrow",
        statements=[{"actions": ["rollback*"], "resources": ["*"], "effect": "allow"}],
    )
    stale = Policy.objects.get(tenant=tenant, name="clusters-full")
    Policy.objects.filter(pk=stale.pk).update(statements=[])

    _migration().forward(django_apps, None)

    custom.refresh_from_db()
    narrow.refresh_from_db()
    assert custom.statements[1]["actions"] == ["updateStatefulSet", "rollbackStatefulSet"]
    # spelled out as every rollback action but the two new ones (rollbackRelease came later)
    assert narrow.statements[0]["actions"] == [
        a
        for a in all_actions()
        if a.startswith("rollback") and a not in ("rollbackStatefulSet", "rollbackDaemonSet")
    ]
    assert "rollbackDeployment" in narrow.statements[0]["actions"]
    expected = next(s for s in PREDEFINED if s["name"] == "clusters-full")["statements"]
    assert Policy.objects.get(pk=stale.pk).statements == expected
    user = UserFactory(tenant=tenant, username="roller")
    Binding.objects.create(tenant=tenant, user=user, policy=custom)
    user.tenant.refresh_from_db()
    assert not check(user, "rollbackStatefulSet", STS, tenant=tenant)  # the deny holds
    assert check(user, "rollbackDaemonSet", DS, tenant=tenant)
