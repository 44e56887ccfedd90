"""Kubernetes RBAC escalation, judged by the portal for the portal's user (apps.clusters.rbacguard).

The portal reaches clusters with a credential that may do anything, so the API server's own
escalation check judges the portal, never the user. A project owner (``*`` in their project's
domain, but a project namespace's ResourceQuotas and LimitRanges are the platform's) must not
be able to write a Role granting quota writes, or bind one that does (cluster-admin), and so
get a ServiceAccount that deletes the project's quota from inside a pod. Through the real
kubectl 1.37 and the portal under uvicorn, against kubesim; and through the REST doors.
"""

from __future__ import annotations

import json
import uuid

import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from apps.projects.models import Project, ProjectCluster, ProjectNamespace
from tests.conftest import PROJECT
from tests.live import *  # noqa: F403
from tests.live import proxy_events, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live_state")]

RBAC = "rbac.authorization.k8s.io"
READ = ["get", "list", "watch"]
# Bootstrap ClusterRoles as Kubernetes ships them (abridged: the rules that decide here).
CLUSTER_ROLES = {
    "cluster-admin": [
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
        {"nonResourceURLs": ["*"], "verbs": ["*"]},
    ],
    "view": [
        {
            "apiGroups": [""],
            "resources": ["configmaps", "pods", "pods/log", "pods/status", "services"],
            "verbs": READ,
        },
        {
            "apiGroups": [""],
            "resources": ["bindings", "events", "limitranges", "namespaces/status", "pods/log"]
            + ["resourcequotas", "resourcequotas/status"],
            "verbs": READ,
        },
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": READ},
        {"apiGroups": ["apps"], "resources": ["deployments", "deployments/scale"], "verbs": READ},
        # not served since Kubernetes 1.22, still in the bootstrap roles
        {
            "apiGroups": ["extensions"],
            "resources": ["deployments", "ingresses", "networkpolicies"]
            + ["replicationcontrollers/scale"],
            "verbs": READ,
        },
    ],
    "admin": [
        {
            "apiGroups": [RBAC],
            "resources": ["rolebindings", "roles"],
            "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update"],
        },
        {"apiGroups": [""], "resources": ["resourcequotas"], "verbs": READ},
        {"apiGroups": [""], "resources": ["pods", "configmaps"], "verbs": ["create", "delete"]},
        {"apiGroups": [""], "resources": ["pods/proxy"], "verbs": ["get", "create"]},
    ],
}


@pytest.fixture
def rbac_api(live_cluster):
    """The cluster itself (not through the portal)."""
    configuration = client.Configuration()
    config.load_kube_config_from_dict(live_cluster.kubeconfig(), client_configuration=configuration)
    with client.ApiClient(configuration) as api:
        rbac = client.RbacAuthorizationV1Api(api)
        for name, rules in CLUSTER_ROLES.items():
            try:
                rbac.create_cluster_role({"metadata": {"name": name}, "rules": rules})
            except ApiException as exc:
                assert exc.status == 409
        yield rbac, client.CoreV1Api(api)


@pytest.fixture
def ns(tenant, cluster, rbac_api):
    """A namespace of project prj-test with the ResourceQuota the platform set on it."""
    _, core = rbac_api
    name = f"own-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": name}})
    core.create_namespaced_resource_quota(
        name, {"metadata": {"name": "quota"}, "spec": {"hard": {"pods": "5"}}}
    )
    project = Project.objects.create(tenant=tenant, name=PROJECT, display_name="A")
    ProjectCluster.objects.create(project=project, cluster=cluster, hard={"pods": "50"})
    ProjectNamespace.objects.create(tenant=tenant, project=project, cluster=cluster, namespace=name)
    return name


@pytest.fixture
def olga(kubectl_as, project_owner, ns):
    """The project owner, through a kubeconfig of her own."""
    return kubectl_as(project_owner)


def _roles(rbac, ns) -> set[str]:
    return {r.metadata.name for r in rbac.list_namespaced_role(ns).items}


def _bindings(rbac, ns) -> set[str]:
    return {b.metadata.name for b in rbac.list_namespaced_role_binding(ns).items}


def _refused(result, plural: str, name: str, rule: str) -> None:
    assert result.returncode != 0
    expected = (
        f'{plural}.{RBAC} "{name}" is forbidden: user "olga" (portal) is attempting to grant '
        f"RBAC permissions not currently held: {rule}"
    )
    assert expected in result.stderr, result.stderr


def test_owner_creates_and_binds_a_role_for_what_she_holds(olga, ns, rbac_api):
    rbac, _ = rbac_api
    olga("create", "serviceaccount", "app", "-n", ns)
    olga(
        "create",
        "role",
        "worker",
        "-n",
        ns,
        "--verb=get,list,create,delete",
        "--resource=configmaps,pods,pods/exec",
    )
    olga("create", "rolebinding", "worker", "-n", ns, "--role=worker", f"--serviceaccount={ns}:app")
    # Reading the quota is hers too (it is read in the project's domain).
    olga(
        "create",
        "role",
        "quota-reader",
        "-n",
        ns,
        "--verb=get,list,watch",
        "--resource=resourcequotas,limitranges",
    )
    assert _roles(rbac, ns) == {"worker", "quota-reader"}
    assert _bindings(rbac, ns) == {"worker"}
    assert rbac.read_namespaced_role("worker", ns).rules[0].resources == [
        "configmaps",
        "pods",
        "pods/exec",
    ]


@pytest.mark.parametrize(
    ("verb", "resource", "rule"),
    [
        (
            "delete",
            "resourcequotas",
            '{APIGroups:[""], Resources:["resourcequotas"], Verbs:["delete"]}',
        ),
        ("update", "limitranges", '{APIGroups:[""], Resources:["limitranges"], Verbs:["update"]}'),
        (
            "patch",
            "resourcequotas/status",
            '{APIGroups:[""], Resources:["resourcequotas/status"], Verbs:["patch"]}',
        ),
        # a wildcard verb includes deleting the quota; escalate/bind/impersonate are unknown verbs
        ("*", "configmaps", '{APIGroups:[""], Resources:["configmaps"], Verbs:["*"]}'),
        (
            "impersonate",
            "serviceaccounts",
            '{APIGroups:[""], Resources:["serviceaccounts"], Verbs:["impersonate"]}',
        ),
        # the namespace object itself is changed in the platform domain only
        ("delete", "namespaces", '{APIGroups:[""], Resources:["namespaces"], Verbs:["delete"]}'),
    ],
)
def test_owner_cannot_grant_what_the_platform_keeps(olga, ns, rbac_api, verb, resource, rule):
    rbac, _ = rbac_api
    refused = olga(
        "create",
        "role",
        "sneaky",
        "-n",
        ns,
        f"--verb={verb}",
        f"--resource={resource}",
        check=False,
    )
    _refused(refused, "roles", "sneaky", rule)
    assert "sneaky" not in _roles(rbac, ns)


def test_owner_cannot_apply_a_role_hiding_a_quota_rule(olga, ns, rbac_api):
    """kubectl apply (JSON body, several rules): the first rule not held is named."""
    rbac, _ = rbac_api
    role = {
        "apiVersion": f"{RBAC}/v1",
        "kind": "Role",
        "metadata": {"name": "mixed", "namespace": ns},
        "rules": [
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]},
            {
                "apiGroups": ["", "apps"],
                "resources": ["resourcequotas"],
                "resourceNames": ["quota"],
                "verbs": ["get", "delete"],
            },
        ],
    }
    refused = olga("apply", "-f", "-", stdin=json.dumps(role), check=False)
    _refused(
        refused,
        "roles",
        "mixed",
        '{APIGroups:[""], Resources:["resourcequotas"], ResourceNames:["quota"], Verbs:["delete"]}',
    )
    assert "mixed" not in _roles(rbac, ns)
    event = wait_for(
        lambda: proxy_events(action="createRBACRole", method="POST").first(), "the audit row"
    )
    assert (event.username, event.status_code) == ("acme/olga", 403)
    assert event.resource.endswith(f"namespace:{ns}/rbacrole:mixed")
    assert 'Resources:["resourcequotas"], ResourceNames:["quota"]' in event.message


def test_owner_binds_view_but_not_cluster_admin_or_admin(olga, ns, rbac_api):
    rbac, _ = rbac_api
    olga("create", "serviceaccount", "app", "-n", ns)
    sa = f"--serviceaccount={ns}:app"
    olga("create", "rolebinding", "readers", "-n", ns, "--clusterrole=view", sa)
    refused = olga(
        "create", "rolebinding", "boss", "-n", ns, "--clusterrole=cluster-admin", sa, check=False
    )
    _refused(refused, "rolebindings", "boss", '{APIGroups:["*"], Resources:["*"], Verbs:["*"]}')
    # admin: its RBAC writes and quota reads are hers, but pods/proxy is a subresource the
    # portal does not map (it reaches workloads past the portal): held only with the whole
    # namespace by a platform policy.
    refused = olga(
        "create", "rolebinding", "admins", "-n", ns, "--clusterrole=admin", sa, check=False
    )
    _refused(
        refused,
        "rolebindings",
        "admins",
        '{APIGroups:[""], Resources:["pods/proxy"], Verbs:["get"]}',
    )
    # A Role of her namespace that grants quota writes (made by the platform) is no better.
    rbac.create_namespaced_role(
        ns,
        {
            "metadata": {"name": "quota-admin"},
            "rules": [{"apiGroups": [""], "resources": ["resourcequotas"], "verbs": ["delete"]}],
        },
    )
    refused = olga("create", "rolebinding", "qa", "-n", ns, "--role=quota-admin", sa, check=False)
    _refused(
        refused,
        "rolebindings",
        "qa",
        '{APIGroups:[""], Resources:["resourcequotas"], Verbs:["delete"]}',
    )
    # A role that does not exist could be given anything later: refused, as the API server does.
    refused = olga(
        "create", "rolebinding", "later", "-n", ns, "--clusterrole=ghost", sa, check=False
    )
    assert refused.returncode != 0
    assert (
        f'rolebindings.{RBAC} "later" is forbidden: user "olga" (portal) may not bind a role '
        f'that does not exist: clusterroles.{RBAC} "ghost" not found'
    ) in refused.stderr
    assert _bindings(rbac, ns) == {"readers"}


def test_a_patch_adding_a_forbidden_rule_is_refused(olga, ns, rbac_api):
    """JSON, merge and strategic patches and server-side apply are judged on the object they
    would make (the cluster's dry run), a replace on its body; a patch within what she holds
    goes through."""
    rbac, _ = rbac_api
    olga("create", "role", "app", "-n", ns, "--verb=get", "--resource=configmaps")
    quota_rule = {"apiGroups": [""], "resources": ["resourcequotas"], "verbs": ["delete"]}
    wanted = '{APIGroups:[""], Resources:["resourcequotas"], Verbs:["delete"]}'
    for kind, patch in (
        ("json", [{"op": "add", "path": "/rules/-", "value": quota_rule}]),
        ("merge", {"rules": [quota_rule]}),
        (
            "strategic",
            {
                "rules": [
                    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]},
                    quota_rule,
                ]
            },
        ),
    ):
        refused = olga(
            "patch", "role", "app", "-n", ns, f"--type={kind}", "-p", json.dumps(patch), check=False
        )
        _refused(refused, "roles", "app", wanted)
    ssa = {
        "apiVersion": f"{RBAC}/v1",
        "kind": "Role",
        "metadata": {"name": "app", "namespace": ns},
        "rules": [quota_rule],
    }
    refused = olga(
        "apply",
        "--server-side",
        "--force-conflicts",
        "-f",
        "-",
        stdin=yaml.safe_dump(ssa),
        check=False,
    )
    _refused(refused, "roles", "app", wanted)
    replaced = olga("replace", "-f", "-", stdin=yaml.safe_dump(ssa), check=False)  # PUT
    _refused(replaced, "roles", "app", wanted)
    assert [r.resources for r in rbac.read_namespaced_role("app", ns).rules] == [["configmaps"]]
    olga(
        "patch",
        "role",
        "app",
        "-n",
        ns,
        "--type=json",
        "-p",
        json.dumps(
            [
                {
                    "op": "add",
                    "path": "/rules/-",
                    "value": {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]},
                }
            ]
        ),
    )
    assert [r.resources for r in rbac.read_namespaced_role("app", ns).rules] == [
        ["configmaps"],
        ["secrets"],
    ]


def test_platform_administrator_is_unaffected(kubectl_as, tenant_admin, ns, rbac_api):
    rbac, _ = rbac_api
    alice = kubectl_as(tenant_admin)
    alice("create", "role", "quota-admin", "-n", ns, "--verb=*", "--resource=resourcequotas")
    alice("create", "rolebinding", "boss", "-n", ns, "--clusterrole=cluster-admin", "--user=x")
    everything = {"rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}
    alice("patch", "role", "quota-admin", "-n", ns, "--type=merge", "-p", json.dumps(everything))
    assert "quota-admin" in _roles(rbac, ns) and "boss" in _bindings(rbac, ns)
    assert rbac.read_namespaced_role("quota-admin", ns).rules[0].verbs == ["*"]


def test_rest_doors_do_not_write_rbac_objects(api, project_owner, cluster, ns, rbac_api):
    """The resource API and apply serve no RBAC kind: they cannot be used around the check."""
    rbac, _ = rbac_api
    owner = api(project_owner)
    base = f"/api/v1/clusters/{cluster.name}/namespaces/{ns}"
    role = {
        "metadata": {"name": "rest"},
        "rules": [{"apiGroups": [""], "resources": ["resourcequotas"], "verbs": ["delete"]}],
    }
    response = owner.post(f"{base}/roles/", role, format="json")
    assert response.status_code == 404  # no route: the resource API's kinds exclude RBAC
    manifest = yaml.safe_dump({"apiVersion": f"{RBAC}/v1", "kind": "Role", **role})
    response = owner.post(
        f"/api/v1/clusters/{cluster.name}/apply/",
        {"manifest": manifest, "namespace": ns},
        format="json",
    )
    assert response.status_code == 400
    assert "is not a kind the portal applies" in str(response.json())
    response = owner.post(f"{base}/custom/{RBAC}/v1/roles/", role, format="json")
    assert response.status_code == 404
    assert "is a built-in Kubernetes resource" in str(response.json())
    assert "rest" not in _roles(rbac, ns)
