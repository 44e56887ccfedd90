"""``execNode`` (the node shell) is reached by no wildcard: the platform administrator has it,
a tenant administrator (``*``) does not, and only a statement naming it — bound by someone who
holds it by name — grants it. Denies still reach it through wildcards."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from apps.authz import services
from apps.authz.catalog import EXPLICIT_ACTIONS, all_actions, validate_action
from apps.authz.enforcer import can_any, check
from apps.authz.predefined import PREDEFINED
from tests.factories import UserFactory

NODE = "cluster:cls-a/node:node-1"

pytestmark = pytest.mark.django_db


def _bound(tenant, username, statements, actor=None):
    user = UserFactory(tenant=tenant, username=username)
    policy = services.create_policy(
        actor=actor, tenant=tenant, name=f"{username}-p", statements=statements
    )
    services.create_binding(actor=actor, tenant=tenant, user=user, policy=policy)
    return user


def test_exec_node_is_a_known_named_only_action():
    assert "execNode" in all_actions()
    assert "execNode" in EXPLICIT_ACTIONS
    assert validate_action("execNode") is None


def test_no_predefined_policy_names_exec_node():
    named = [
        spec["name"]
        for spec in PREDEFINED
        for st in spec["statements"]
        if any(a.lower() == "execnode" for a in st["actions"])
    ]
    assert named == []


def test_platform_admin_may_open_a_node_shell(platform_admin, tenant):
    assert check(platform_admin, "execNode", NODE, tenant=tenant)


@pytest.mark.parametrize(
    "who", ["tenant_admin", "member", "read_only_user", "viewer", "project_owner"]
)
def test_no_tenant_persona_may_open_a_node_shell(who, request, tenant):
    user = request.getfixturevalue(who)
    decision = check(user, "execNode", NODE, tenant=tenant)
    assert not decision
    assert not can_any(user, "execNode")


def test_the_tenant_administrators_wildcard_does_not_reach_it(tenant_admin, tenant):
    decision = check(tenant_admin, "execNode", NODE, tenant=tenant)
    assert "granted only by a policy that names it" in decision.reason
    assert "'*'" in decision.reason
    # (the same administrator may do everything else on the node)
    assert check(tenant_admin, "drainNode", NODE, tenant=tenant)


@pytest.mark.parametrize("pattern", ["*", "exec*", "*Node", "execnode*"])
def test_wildcards_never_grant_it(pattern, tenant):
    user = _bound(tenant, "wild", [{"actions": [pattern], "resources": ["*"]}])
    assert not check(user, "execNode", NODE, tenant=tenant)


def test_a_policy_naming_it_bound_by_the_platform_admin_grants_it(platform_admin, tenant):
    user = _bound(
        tenant,
        "ops",
        [{"actions": ["execNode"], "resources": ["cluster:cls-a/node:*"]}],
        actor=platform_admin,
    )
    assert check(user, "execNode", NODE, tenant=tenant)
    assert can_any(user, "execNode")
    assert not check(user, "execNode", "cluster:cls-b/node:node-1", tenant=tenant)


def test_a_wildcard_deny_still_refuses_it(platform_admin, tenant):
    user = _bound(
        tenant,
        "ops",
        [
            {"actions": ["execNode"], "resources": ["cluster:*"]},
            {"actions": ["exec*"], "resources": ["cluster:cls-a/*"], "effect": "deny"},
        ],
        actor=platform_admin,
    )
    assert not check(user, "execNode", NODE, tenant=tenant)
    assert check(user, "execNode", "cluster:cls-b/node:n", tenant=tenant)


def test_a_tenant_administrator_cannot_grant_it(tenant_admin, tenant):
    """Holding ``*`` is not holding execNode: binding a policy naming it is refused."""
    policy = services.create_policy(
        actor=tenant_admin,
        tenant=tenant,
        name="node-shell",
        statements=[{"actions": ["execNode"], "resources": ["cluster:*"]}],
    )
    target = UserFactory(tenant=tenant, username="eve")
    with pytest.raises(PermissionDenied):
        services.create_binding(actor=tenant_admin, tenant=tenant, user=target, policy=policy)
    with pytest.raises(PermissionDenied):
        services.create_binding(actor=tenant_admin, tenant=tenant, user=tenant_admin, policy=policy)
    assert not check(tenant_admin, "execNode", NODE, tenant=tenant)
