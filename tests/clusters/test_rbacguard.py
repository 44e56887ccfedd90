"""How apps.clusters.rbacguard reads a Role's rules: each grant is judged as the kubectl proxy
would judge the request it allows (tests/security/test_rbac_escalation.py drives it through
the real kubectl)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from apps.authz.services import create_policy
from apps.clusters import rbacguard
from tests.factories import UserFactory, bind

pytestmark = pytest.mark.django_db


def _actions(group, resource, verb, names=()):
    targets = rbacguard._targets("c1", "web", group, resource, verb, list(names))
    return [(t.action, t.resource) if t else None for t in targets]


def test_grants_map_to_the_proxys_actions_in_the_namespace():
    web = "cluster:c1/namespace:web"
    assert _actions("", "resourcequotas", "delete") == [
        ("deleteResourceQuota", f"{web}/resourcequota:*")
    ]
    assert _actions("", "configmaps", "list", ["a"]) == [("listConfigMaps", f"{web}/configmap:a")]
    assert _actions("", "pods/exec", "create") == [("execPod", f"{web}/pod:*")]
    assert _actions("apps", "deployments/scale", "patch", ["api", "db"]) == [
        ("scaleDeployment", f"{web}/deployment:api"),
        ("scaleDeployment", f"{web}/deployment:db"),
    ]
    # the namespace object a Role in it reaches, whatever names the rule lists
    assert _actions("", "namespaces", "delete", ["other"]) == [("deleteNamespace", web)]
    assert _actions("", "bindings", "get") == [("bindPod", f"{web}/pod:*")]
    # extensions (no longer served) is judged as its successor group
    assert _actions("extensions", "ingresses", "get") == [("getIngress", f"{web}/ingress:*")]
    assert _actions("example.com", "widgets", "create") == [
        ("createCustomResource", f"{web}/customresource:widgets.example.com/name:*")
    ]


def test_what_the_mapping_does_not_know_needs_the_whole_namespace():
    for grant in (
        ("*", "pods", "get"),
        ("", "*", "get"),
        ("", "pods/*", "get"),
        ("", "pods", "*"),
        ("", "pods/proxy", "get"),
        ("rbac.authorization.k8s.io", "roles", "escalate"),
        ("", "users", "impersonate"),
        ("", "nosuchthings", "get"),
    ):
        assert _actions(*grant) == [None], grant
    # a namespaced binding never reaches cluster-scoped kinds: nothing to hold
    assert _actions("", "nodes", "delete") == []
    assert _actions("rbac.authorization.k8s.io", "clusterroles", "bind") == [None]  # a verb


def test_resource_names_narrow_what_must_be_held(tenant):
    user = UserFactory(tenant=tenant, username="nina")
    policy = create_policy(
        actor=None,
        tenant=tenant,
        name="one-configmap",
        statements=[
            {
                "actions": ["getConfigMap"],
                "resources": ["cluster:c1/namespace:web/configmap:a"],
                "effect": "allow",
            }
        ],
    )
    bind(user, policy.name)
    cluster = SimpleNamespace(name="c1", tenant=tenant)
    named = {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}
    assert (
        rbacguard.first_missing(user, cluster, "web", [{**named, "resourceNames": ["a"]}]) is None
    )
    assert rbacguard.first_missing(user, cluster, "web", [named]) == named
    assert (
        rbacguard.first_missing(user, cluster, "web", [{"nonResourceURLs": ["*"], "verbs": ["*"]}])
        is None
    )
    with pytest.raises(rbacguard.Unreadable):
        rbacguard.first_missing(user, cluster, "web", [{**named, "verbs": "get"}])
    assert not rbacguard.holds_namespace(user, "c1", "web")
