"""The registry's authorization actions: the catalogue holds them, the predefined policies
grant tag actions with repository actions, and the data migration keeps stored policies'
meaning."""

from __future__ import annotations

import importlib

import pytest

from apps.authz.catalog import all_actions
from apps.authz.enforcer import check
from apps.authz.models import Binding, Policy
from apps.authz.predefined import PREDEFINED
from tests.factories import UserFactory

REPO = "registrynamespace:team/repository:app"
TAGS = f"{REPO}/tag:*"


def _migration():
    return importlib.import_module("apps.authz.migrations.0006_registry_actions")


def test_the_catalogue_has_the_registry_actions():
    actions = set(all_actions())
    assert {"pullRepository", "pushRepository", "deleteRepository"} <= actions
    assert {"listTags", "watchTags", "getTag", "deleteTag", "listRegistryCatalog"} <= actions
    assert "createTag" not in actions and "updateTag" not in actions  # tags come from pushes


@pytest.mark.django_db
@pytest.mark.parametrize("spec", PREDEFINED, ids=lambda s: s["name"])
def test_predefined_policies_grant_tags_with_repositories(tenant, spec):
    user = UserFactory(tenant=tenant, username=f"u-{spec['name']}")
    Binding.objects.create(
        tenant=tenant, user=user, policy=Policy.objects.get(tenant=tenant, name=spec["name"])
    )
    user.tenant.refresh_from_db()
    for old, new in _migration().NEW.items():
        assert bool(check(user, old, TAGS, tenant=tenant)) == bool(
            check(user, new, REPO, tenant=tenant)
        ), old
    # the catalog is judged at platform level (as the token service asks): nobody in a
    # tenant reaches it, the tenant administrator included
    assert not check(user, "listRegistryCatalog", "*")


def test_migration_rewrite_keeps_the_meaning():
    from apps.authz.migrations._predefined import rewrite

    new = _migration().NEW
    old = [a for a in all_actions() if a not in new]
    statements = [
        {"actions": ["deleteT*"], "resources": ["*"], "effect": "allow"},
        {"actions": ["get*", "list*"], "resources": ["*"], "effect": "allow"},
        {"actions": ["deleteRepository"], "resources": [REPO], "effect": "deny"},
    ]
    once = rewrite(statements, old, new)
    spelled, kept, deny = once
    # deleteT* meant deleteTenant; it never reaches deleteTag without deleteRepository...
    assert spelled["actions"] == ["deleteTenant"]
    assert kept["actions"] == ["get*", "list*"]  # ...unless it held the old one already
    assert deny["actions"] == ["deleteRepository", "deleteTag"]
    assert rewrite(once, old, new) == once  # idempotent
