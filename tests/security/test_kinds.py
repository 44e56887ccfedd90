"""Every Kubernetes kind has its own authorization kind; privilege-bearing kinds are never
reachable through a generic grant; custom resources are told apart by group and plural.

The review's finding: the kubectl proxy judged every plural it did not know — RBAC objects,
service accounts and their tokens, CSRs, webhook configurations — as ``<verb>CustomResource``,
so a grant meant for CRD objects let a user mint a cluster-admin binding or a token. This is
the class of Rancher's escalation-through-bindings advisories (CVE-2019-12303: project owners
could bind roles they did not hold; CVE-2022-21951 / CVE-2023-22647: users raising their own
privileges through objects they were allowed to write) and of Kubernetes' own
``nodes/proxy`` and ``pods/ephemeralcontainers`` privilege paths.

Written against the real doors: the live portal under uvicorn with kubesim and the real
kubectl 1.37 where kubesim serves the type, raw requests through the same proxy (recording
what the cluster receives) where it does not (CSRs, webhooks), and the REST API.
"""

from __future__ import annotations

import importlib
import json
import uuid

import pytest
import requests
import yaml
from django.apps import apps as django_apps

from apps.authz.catalog import CLUSTER_ACCESS, KINDS, actions_of, area_of, validate_resource
from apps.authz.enforcer import check
from apps.authz.models import Binding, Policy
from apps.authz.predefined import PREDEFINED
from apps.clusters.proxy.mapping import BUILTIN, CUSTOM, classify
from tests.factories import UserFactory, make_api_key
from tests.live import *  # noqa: F403
from tests.live import raw_request, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live_state")]

READ = ["get*", "list*", "watch*"]
CR_ACTIONS = actions_of(CUSTOM)


# -- (a) the table: each built-in (group, plural) is its own kind ------------------------------
def _probe(group: str, plural: str, api) -> tuple[str, str]:
    """A request the kind serves (a create where it has one, else a list)."""
    prefix = f"/apis/{group}/v1" if group else "/api/v1"
    ns = "namespaces/web/" if api.namespaced else ""
    kind_actions = actions_of(api.kind)
    method = "POST" if f"create{api.kind}" in kind_actions or api.post_only else "GET"
    return method, f"{prefix}/{ns}{plural}"


@pytest.mark.parametrize("key", sorted(BUILTIN), ids=lambda k: f"{k[1]}.{k[0] or 'core'}")
def test_every_builtin_resource_has_its_own_action(key):
    """No built-in resource the proxy knows is judged as a custom resource: its action is one
    of its own kind's (from the catalogue) and its path names that kind."""
    group, plural = key
    api = BUILTIN[key]
    method, path = _probe(group, plural, api)
    target = classify("c1", method, path, {})
    assert target is not None, path
    assert target.action not in CR_ACTIONS
    assert "/customresource:" not in target.resource
    assert target.kind == api.kind and target.kind in KINDS
    assert target.action in actions_of(api.kind)
    segment = "pod" if api.post_only else api.kind.lower()
    assert target.resource.split("/")[-1].startswith(f"{segment}:")
    assert validate_resource(target.resource) is None


@pytest.mark.parametrize("group", ["example.com", "rbac.example.io", "gateway.networking.k8s.io"])
@pytest.mark.parametrize("plural", ["roles", "clusterrolebindings", "secrets", "pods"])
def test_same_plural_in_another_group_is_a_custom_resource_named_by_group(group, plural):
    """Keyed by (group, plural): ``/apis/example.com/v1/roles`` is not RBAC's Role."""
    target = classify("c1", "POST", f"/apis/{group}/v1/namespaces/web/{plural}", {})
    assert target.action == "createCustomResource"
    assert target.resource == f"cluster:c1/namespace:web/customresource:{plural}.{group}/name:*"
    assert validate_resource(target.resource) is None


@pytest.mark.parametrize(
    "path",
    [
        "/apis/rbac.authorization.k8s.io/v1/rolebindingz",
        "/apis/apps/v1/namespaces/web/unknowns",
        "/api/v1/namespaces/web/newthings",
        "/apis/extensions/v1beta1/namespaces/web/ingresses",
        "/apis/storagemigration.k8s.io/v1alpha1/storageversionmigrations",
        "/apis/nodot/v1/things",
    ],
)
def test_unknown_plurals_of_builtin_groups_are_refused_not_custom(path):
    """A built-in kind the table does not know (a newer API server) is never reachable
    through a grant on custom resources."""
    assert classify("c1", "POST", path, {}) is None


@pytest.mark.parametrize(
    ("method", "path", "action"),
    [
        ("POST", "/api/v1/namespaces/web/serviceaccounts/sa/token", "createServiceAccountToken"),
        (
            "PUT",
            "/apis/certificates.k8s.io/v1/certificatesigningrequests/c/approval",
            "approveCertificateSigningRequest",
        ),
        (
            "PUT",
            "/apis/certificates.k8s.io/v1/certificatesigningrequests/c/status",
            "signCertificateSigningRequest",
        ),
        ("PATCH", "/api/v1/namespaces/web/pods/p/ephemeralcontainers", "debugPod"),
        ("POST", "/api/v1/namespaces/web/pods/p/binding", "bindPod"),
        ("POST", "/api/v1/namespaces/web/bindings", "bindPod"),
        ("POST", "/api/v1/namespaces/web/pods/p/eviction", "deletePod"),
        ("PATCH", "/apis/apps/v1/namespaces/web/replicasets/r/scale", "scaleReplicaSet"),
        ("PUT", "/apis/apps/v1/namespaces/web/deployments/d/status", "updateDeployment"),
        ("GET", "/apis/apps/v1/namespaces/web/deployments/d/scale", "getDeployment"),
        ("PATCH", "/apis/example.com/v1/namespaces/web/widgets/w/status", "updateCustomResource"),
    ],
)
def test_subresources_map_to_their_own_action(method, path, action):
    """Each forwarded subresource has the action of what it does: minting a token, approving
    or signing a CSR, adding an ephemeral container (stronger than exec: an image and
    security context of one's choosing in the pod's namespaces) are not plain reads/updates."""
    assert classify("c1", method, path, {}).action == action


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/namespaces/web/pods/p/proxy",
        "/api/v1/namespaces/web/pods/p/proxy/admin/reset",
        "/api/v1/namespaces/web/pods/http:p:8080/proxy/",
        "/api/v1/namespaces/web/services/s/proxy",
        "/api/v1/namespaces/web/services/https:s:443/proxy/metrics",
        "/api/v1/nodes/n/proxy",
        "/api/v1/nodes/n/proxy/exec/kube-system/etcd/etcd",
        "/api/v1/nodes/n/proxy/pods",
        "/api/v1/namespaces/web/pods/p/unknownsub",
        "/api/v1/namespaces/web/serviceaccounts/sa/unknownsub",
        "/apis/example.com/v1/namespaces/web/widgets/w/proxy",
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
def test_proxy_and_unknown_subresources_are_refused(method, path):
    """pods/services/nodes ``proxy`` reach workloads and the kubelet past everything the
    portal judges (the ``nodes/proxy`` escalation path): never mapped to getPod/getService/
    getNode, refused like any subresource the table does not forward."""
    assert classify("c1", method, path, {}) is None


def test_privilege_bearing_kinds_are_in_no_area_the_predefined_policies_grant():
    """RBAC, tokens, CSRs, webhooks, admission policies, CRDs: area clusteraccess, and the
    area grants of platform-user, clusters-full and project-member contain none of them."""
    privileged = {
        a for kind in KINDS for a in actions_of(kind) if area_of(kind, a) == CLUSTER_ACCESS
    }
    expected = {
        "createClusterRoleBinding",
        "createRoleBinding",
        "createRBACRole",
        "createClusterRole",
        "createServiceAccountToken",
        "approveCertificateSigningRequest",
        "createValidatingWebhookConfiguration",
        "createMutatingWebhookConfiguration",
        "createValidatingAdmissionPolicy",
        "createCustomResourceDefinition",
        "createAPIService",
        "bindPod",
    }
    assert expected <= privileged
    granted = {
        action
        for spec in PREDEFINED
        if spec["name"] in ("platform-user", "clusters-full", "project-member")
        for statement in spec["statements"]
        for action in statement["actions"]
    }
    assert "createDeployment" in granted  # (the area grants are what is looked at)
    assert not privileged & granted


# -- live fixtures -------------------------------------------------------------------------------
def _custom_policy_user(tenant, username: str, statements: list[dict]):
    user = UserFactory(tenant=tenant, username=username)
    policy = Policy.objects.create(tenant=tenant, name=f"{username}-policy", statements=statements)
    Binding.objects.create(tenant=tenant, user=user, policy=policy)
    return user


def _base_statements() -> list[dict]:
    return [
        {"actions": READ, "resources": ["*"], "effect": "allow"},
        {"actions": ["getClusterKubeconfig"], "resources": ["cluster:*"], "effect": "allow"},
    ]


@pytest.fixture
def cr_holder(tenant):
    """Holds every CustomResource action on everything (and may read everything)."""
    return _custom_policy_user(
        tenant,
        "crholder",
        [*_base_statements(), {"actions": CR_ACTIONS, "resources": ["*"], "effect": "allow"}],
    )


@pytest.fixture
def alice(kubectl_as, tenant_admin):
    return kubectl_as(tenant_admin)


def _binding_manifest(kind: str, name: str, namespace: str | None = None) -> str:
    role_kind = "ClusterRole"
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return yaml.safe_dump(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": kind,
            "metadata": meta,
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": role_kind,
                "name": "cluster-admin",
            },
            "subjects": [
                {"kind": "User", "name": "mallory", "apiGroup": "rbac.authorization.k8s.io"}
            ],
        }
    )


def _crd(plural: str, kind: str, group: str = "example.com") -> dict:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": kind.lower(), "kind": kind},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }


def _cluster_get(live_cluster, path: str) -> requests.Response:
    """What the cluster itself stores (kubesim on loopback, with the cluster's own token)."""
    return requests.get(
        f"{live_cluster.url}{path}",
        headers={"Authorization": f"Bearer {live_cluster.token}"},
        verify=live_cluster.ca_file,
        timeout=10,
    )


def _install_crd(live_cluster, crd: dict) -> None:
    plural, group = crd["spec"]["names"]["plural"], crd["spec"]["group"]
    response = requests.post(
        f"{live_cluster.url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        json=crd,
        headers={"Authorization": f"Bearer {live_cluster.token}"},
        verify=live_cluster.ca_file,
        timeout=10,
    )
    assert response.status_code in (201, 409), response.text
    wait_for(
        lambda: _cluster_get(live_cluster, f"/apis/{group}/v1/{plural}").status_code == 200,
        f"{plural}.{group} to be served",
    )


def _denied(proc, action: str) -> None:
    assert proc.returncode != 0
    assert "forbidden" in proc.stderr.lower() and action in proc.stderr, proc.stderr


# -- (b) a grant on custom resources reaches no privilege-bearing kind ---------------------------
def test_custom_resource_grant_cannot_bind_mint_or_define_through_kubectl(
    kubectl_as, cr_holder, namespace, live_cluster, alice
):
    """With every *CustomResource action on ``*``, real kubectl is refused a cluster-admin
    ClusterRoleBinding, a RoleBinding, a service account token and a CRD — each named by its
    own action — and the cluster holds none of them afterwards (Rancher CVE-2019-12303 class)."""
    holder = kubectl_as(cr_holder)
    name = f"pwn-{uuid.uuid4().hex[:6]}"

    crb = holder(
        "apply", "-f", "-", stdin=_binding_manifest("ClusterRoleBinding", name), check=False
    )
    _denied(crb, "createClusterRoleBinding")
    created = holder(
        "create", "clusterrolebinding", name + "x", "--clusterrole=cluster-admin",
        "--user=mallory", check=False,
    )  # fmt: skip
    _denied(created, "createClusterRoleBinding")
    rb = holder(
        "apply", "-n", namespace, "-f", "-",
        stdin=_binding_manifest("RoleBinding", name, namespace), check=False,
    )  # fmt: skip
    _denied(rb, "createRoleBinding")
    alice("create", "serviceaccount", "robot", "-n", namespace, check=False)
    token = holder("create", "token", "robot", "-n", namespace, check=False)
    _denied(token, "createServiceAccountToken")
    crd = holder("apply", "-f", "-", stdin=yaml.safe_dump(_crd("pwns", "Pwn")), check=False)
    _denied(crd, "createCustomResourceDefinition")

    rbac = "/apis/rbac.authorization.k8s.io/v1"
    assert _cluster_get(live_cluster, f"{rbac}/clusterrolebindings/{name}").status_code == 404
    assert _cluster_get(live_cluster, f"{rbac}/clusterrolebindings/{name}x").status_code == 404
    assert (
        _cluster_get(live_cluster, f"{rbac}/namespaces/{namespace}/rolebindings/{name}").status_code
        == 404
    )
    crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    assert _cluster_get(live_cluster, f"{crds}/pwns.example.com").status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "action"),
    [
        (
            "PUT",
            "/apis/certificates.k8s.io/v1/certificatesigningrequests/node-csr/approval",
            "approveCertificateSigningRequest",
        ),
        (
            "POST",
            "/apis/certificates.k8s.io/v1/certificatesigningrequests",
            "createCertificateSigningRequest",
        ),
        (
            "POST",
            "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
            "createMutatingWebhookConfiguration",
        ),
        (
            "POST",
            "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
            "createValidatingWebhookConfiguration",
        ),
        (
            "POST",
            "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies",
            "createValidatingAdmissionPolicy",
        ),
        ("POST", "/apis/apiregistration.k8s.io/v1/apiservices", "createAPIService"),
        (
            "POST",
            "/api/v1/namespaces/default/serviceaccounts/default/token",
            "createServiceAccountToken",
        ),
    ],
)
def test_custom_resource_grant_cannot_approve_csrs_or_install_webhooks(
    portal, cluster, cr_holder, recorder, method, path, action
):
    """Kinds kubesim does not serve, through the same live proxy: refused with a 403 Status
    naming the kind's own action, and nothing reaches the cluster."""
    _, token = make_api_key(cr_holder)
    request_id = uuid.uuid4().hex
    status, body, _ = raw_request(
        portal, method, f"/k8s/clusters/{cluster.name}{path}", token, request_id
    )
    assert status == 403
    assert body["kind"] == "Status" and action in body["message"]
    assert [r for r in recorder.take() if r["request_id"] == request_id] == []


def test_custom_resource_grant_cannot_reach_privileged_kinds_through_the_rest_api(
    api, cluster, cr_holder, live_cluster
):
    """The REST API: a CRD is its own kind (403 naming createCustomResourceDefinition), a
    built-in group is never a "custom" resource (404), and apply knows no RBAC kind."""
    client = api(cr_holder)
    base = f"/api/v1/clusters/{cluster.name}"
    crd = client.post(f"{base}/customresourcedefinitions/", _crd("evils", "Evil"), format="json")
    assert crd.status_code == 403
    assert crd.json()["code"] and "createCustomResourceDefinition" in crd.json()["detail"]
    body = yaml.safe_load(_binding_manifest("ClusterRoleBinding", "rest-pwn"))
    as_custom = client.post(
        f"{base}/custom/rbac.authorization.k8s.io/v1/clusterrolebindings/", body, format="json"
    )
    assert as_custom.status_code == 404
    assert "built-in" in as_custom.json()["detail"]
    applied = client.post(
        f"{base}/apply/",
        {"manifest": _binding_manifest("ClusterRoleBinding", "rest-pwn")},
        format="json",
    )
    assert applied.status_code == 400
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    assert _cluster_get(live_cluster, f"{rbac}/clusterrolebindings/rest-pwn").status_code == 404
    crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    assert _cluster_get(live_cluster, f"{crds}/evils.example.com").status_code == 404


# -- (c) one CRD granted, another refused ------------------------------------------------------
def test_grant_on_one_crd_allows_it_and_refuses_another(
    api, kubectl_as, tenant, cluster, namespace, live_cluster
):
    """``…/customresource:widgets.example.com/*`` lets kubectl and the REST API write widgets
    and refuses gadgets, and a look-alike group (``example.com.evil.io``) is not covered."""
    for plural, kind, group in (
        ("widgets", "Widget", "example.com"),
        ("gadgets", "Gadget", "example.com"),
        ("widgets", "Widget", "example.com.evil.io"),
    ):
        _install_crd(live_cluster, _crd(plural, kind, group))
    user = _custom_policy_user(
        tenant,
        "widgeteer",
        [
            *_base_statements(),
            {
                "actions": CR_ACTIONS,
                "resources": ["cluster:*/namespace:*/customresource:widgets.example.com/*"],
                "effect": "allow",
            },
        ],
    )
    holder = kubectl_as(user)

    def manifest(kind, group, name):
        return yaml.safe_dump(
            {"apiVersion": f"{group}/v1", "kind": kind, "metadata": {"name": name}, "spec": {}}
        )

    ok = holder("apply", "-n", namespace, "-f", "-", stdin=manifest("Widget", "example.com", "w1"))
    assert "widget.example.com/w1 created" in ok.stdout
    gadget = holder(
        "apply", "-n", namespace, "-f", "-", stdin=manifest("Gadget", "example.com", "g1"),
        check=False,
    )  # fmt: skip
    _denied(gadget, "createCustomResource")
    assert "gadgets.example.com" in gadget.stderr
    evil = holder(
        "apply", "-n", namespace, "-f", "-",
        stdin=manifest("Widget", "example.com.evil.io", "e1"), check=False,
    )  # fmt: skip
    _denied(evil, "createCustomResource")

    client = api(user)
    rest = f"/api/v1/clusters/{cluster.name}/namespaces/{namespace}/custom"
    body = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w2"}}
    assert client.post(f"{rest}/example.com/v1/widgets/", body, format="json").status_code == 201
    refused = client.post(
        f"{rest}/example.com/v1/gadgets/",
        {**body, "kind": "Gadget", "metadata": {"name": "g2"}},
        format="json",
    )
    assert refused.status_code == 403
    assert "customresource:gadgets.example.com/name:g2" in refused.json()["detail"]

    stored = _cluster_get(live_cluster, f"/apis/example.com/v1/namespaces/{namespace}/widgets")
    assert sorted(i["metadata"]["name"] for i in stored.json()["items"]) == ["w1", "w2"]
    gadgets = _cluster_get(live_cluster, f"/apis/example.com/v1/namespaces/{namespace}/gadgets")
    assert gadgets.json()["items"] == []
    evils = _cluster_get(
        live_cluster, f"/apis/example.com.evil.io/v1/namespaces/{namespace}/widgets"
    )
    assert evils.json()["items"] == []


# -- (d) platform-user reads RBAC, may not write it; the administrator may ----------------------
def test_platform_user_reads_but_cannot_create_cluster_role_bindings(bob, alice, live_cluster):
    """The predefined platform-user (area grants) is refused createClusterRoleBinding and
    reads the binding the tenant administrator created."""
    name = f"ops-{uuid.uuid4().hex[:6]}"
    denied = bob(
        "apply", "-f", "-", stdin=_binding_manifest("ClusterRoleBinding", name), check=False
    )
    _denied(denied, "createClusterRoleBinding")
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    assert _cluster_get(live_cluster, f"{rbac}/clusterrolebindings/{name}").status_code == 404

    made = alice("apply", "-f", "-", stdin=_binding_manifest("ClusterRoleBinding", name))
    assert f"clusterrolebinding.rbac.authorization.k8s.io/{name} created" in made.stdout
    stored = _cluster_get(live_cluster, f"{rbac}/clusterrolebindings/{name}").json()
    assert stored["roleRef"]["name"] == "cluster-admin"
    read = json.loads(bob("get", "clusterrolebinding", name, "-o", "json").stdout)
    assert read["subjects"][0]["name"] == "mallory"


# -- (e) proxy subresources: getPod/getService/getNode do not reach them ---------------------------
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/namespaces/{ns}/pods/box/proxy/",
        "/api/v1/namespaces/{ns}/pods/box/proxy/metrics",
        "/api/v1/namespaces/{ns}/services/web/proxy/",
        "/api/v1/nodes/{node}/proxy/pods",
        "/api/v1/nodes/{node}/proxy/configz",
    ],
)
def test_pod_service_and_node_proxy_are_not_reachable(
    portal, cluster, member, namespace, live_cluster, recorder, path
):
    """The platform user holds getPod, getService and getNode on everything; the proxy
    subresources still answer 403 "not available" and never reach the cluster."""
    node = _cluster_get(live_cluster, "/api/v1/nodes").json()["items"][0]["metadata"]["name"]
    target = path.format(ns=namespace, node=node)
    assert check(member, "getNode", f"cluster:{cluster.name}/node:{node}", tenant=cluster.tenant)
    _, token = make_api_key(member)
    request_id = uuid.uuid4().hex
    status, body, _ = raw_request(
        portal, "GET", f"/k8s/clusters/{cluster.name}{target}", token, request_id
    )
    assert status == 403
    assert "not available" in body["message"]
    assert [r for r in recorder.take() if r["request_id"] == request_id] == []


# -- (f) the data migration --------------------------------------------------------------------
def _migration():
    return importlib.import_module("apps.authz.migrations.0002_kubernetes_kinds")


def test_migration_rewrites_custom_policies_without_granting_privileged_kinds(tenant):
    """Stored custom policies: ``customresource:<x>`` becomes ``customresource:*/name:<x>``;
    a wildcard that would newly reach RBAC is spelled out as what it matched before; a deny
    keeps covering what it covered (now under the kinds' own actions); predefined policies are
    brought up to date. Rows are read back after the migration's own forward step."""
    statements = [
        {
            "actions": ["*CustomResource", "*CustomResources"],
            "resources": [
                "cluster:*/namespace:web/customresource:*",
                "cluster:c1/customresource:w1",
            ],
            "effect": "allow",
        },
        {"actions": ["*Binding*"], "resources": ["*"], "effect": "allow"},
        {
            "actions": ["deleteCustomResource"],
            "resources": ["cluster:c1/namespace:web/customresource:keep"],
            "effect": "deny",
        },
    ]
    custom = Policy.objects.create(tenant=tenant, name="legacy", statements=statements)
    stale = Policy.objects.get(tenant=tenant, name="platform-user")
    Policy.objects.filter(pk=stale.pk).update(statements=[{"actions": ["*"], "resources": ["*"]}])
    Policy.objects.filter(tenant=tenant, name="cluster-access-full").delete()

    _migration().forward(django_apps, None)

    custom.refresh_from_db()
    allow, spelled, deny, *extended = custom.statements
    assert allow["resources"] == [
        "cluster:*/namespace:web/customresource:*",
        "cluster:c1/customresource:*/name:w1",
    ]
    assert spelled["actions"] == [
        "listBindings", "watchBindings", "getBinding", "createBinding", "updateBinding",
        "deleteBinding",
    ]  # fmt: skip
    assert deny["resources"] == ["cluster:c1/namespace:web/customresource:*/name:keep"]
    assert len(extended) == 1 and extended[0]["effect"] == "deny"
    assert "deleteRoleBinding" in extended[0]["actions"]
    assert extended[0]["resources"] == ["cluster:c1/namespace:web/*:keep"]
    assert all(validate_resource(r) is None for s in custom.statements for r in s["resources"])

    user = UserFactory(tenant=tenant, username="legacy-user")
    Binding.objects.create(tenant=tenant, user=user, policy=custom)
    user.tenant.refresh_from_db()
    crb = "cluster:c1/clusterrolebinding:x"
    assert not check(user, "createClusterRoleBinding", crb, tenant=tenant)
    assert not check(
        user, "createRoleBinding", "cluster:c1/namespace:web/rolebinding:x", tenant=tenant
    )
    widget = "cluster:c1/namespace:web/customresource:widgets.example.com/name:w1"
    assert check(user, "createCustomResource", widget, tenant=tenant)
    assert check(user, "createBinding", "binding:7", tenant=tenant)
    keep = "cluster:c1/namespace:web/rolebinding:keep"
    admin = UserFactory(tenant=tenant, username="legacy-admin")
    Binding.objects.create(tenant=tenant, user=admin, policy=custom)
    Binding.objects.create(
        tenant=tenant, user=admin, policy=Policy.objects.get(tenant=tenant, name="administrator")
    )
    admin.tenant.refresh_from_db()
    assert not check(admin, "deleteRoleBinding", keep, tenant=tenant)  # the deny still holds
    assert check(
        admin, "deleteRoleBinding", "cluster:c1/namespace:web/rolebinding:other", tenant=tenant
    )

    refreshed = Policy.objects.get(tenant=tenant, name="platform-user")
    expected = next(s for s in PREDEFINED if s["name"] == "platform-user")["statements"]
    assert refreshed.statements == expected
    assert Policy.objects.get(tenant=tenant, name="cluster-access-full").predefined


def test_migration_is_idempotent():
    """Running the rewrite on its own output changes nothing (a re-run adds no statements)."""
    rewrite = _migration().migrate_statements
    once = rewrite(
        [
            {"actions": ["update*"], "resources": ["cluster:c/customresource:x"], "effect": "deny"},
            {"actions": ["*Role*"], "resources": ["*"], "effect": "allow"},
        ]
    )
    assert rewrite(once) == once
    assert "updateRBACRole" not in once[-1]["actions"]
    assert any("updateRBACRole" in s["actions"] for s in once if s["effect"] == "deny")
