"""Red-team: project isolation on a cluster shared by project A, project B and namespaces
nobody owns, through the kubectl proxy (the real kubectl and raw HTTP against the portal under
uvicorn) and the REST doors. pete is a project-member of A (a1, a2, a3), b1 is B's, ``free``
nobody's (as kube-system is). Each test names the attack; those that held stay as lean
regression tests, those that did not were fixed at the root (see each test's docstring).
"""

from __future__ import annotations

import json

import pytest

from apps.clusters.choices import OperationKind, OperationPhase
from apps.clusters.models import ClusterOperation
from tests.conftest import PROJECT
from tests.live import *  # noqa: F403
from tests.live import send_raw
from tests.projects import test_proxy_projects as project_layout

# The layout of tests/projects/test_proxy_projects.py (fixtures, reused as they are).
layout, pete, sim = project_layout.layout, project_layout.pete, project_layout.sim

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live_state")]


def _raw(portal, pete, method, path, body=None, content_type="application/json", accept=None):
    headers = [("Content-Type", content_type)] if body is not None else []
    if accept:
        headers.append(("Accept", accept))
    data = json.dumps(body).encode() if isinstance(body, dict | list) else (body or b"")
    status, ctype, raw = send_raw(portal, method, path, pete.token, data, headers)
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return status, parsed, raw


def _k8s(cluster, tail: str) -> str:
    return f"/k8s/clusters/{cluster.name}{tail}"


# -- reads across namespaces ---------------------------------------------------------------------
def test_selectors_and_single_object_watches_never_reach_other_namespaces(
    portal, cluster, pete, layout
):
    ns = layout["ns"]
    for other in (ns["b1"], ns["free"], "kube-system"):
        # a field selector on the namespace is passed to A's own lists: nothing of `other`
        status, doc, _ = _raw(
            portal,
            pete,
            "GET",
            _k8s(cluster, f"/api/v1/pods?fieldSelector=metadata.namespace={other}"),
        )
        assert status == 200 and doc["items"] == [], doc
        # the namespace object itself, listed by name, watched by name
        status, doc, _ = _raw(
            portal,
            pete,
            "GET",
            _k8s(cluster, f"/api/v1/namespaces?fieldSelector=metadata.name={other}"),
        )
        assert status == 200 and doc["items"] == [], doc
        status, _, raw = _raw(
            portal,
            pete,
            "GET",
            _k8s(cluster, f"/api/v1/namespaces/{other}?watch=1&timeoutSeconds=1"),
        )
        assert other.encode() not in raw or status == 403, raw
        # a namespaced list or watch in another project's namespace
        for tail in (f"/api/v1/namespaces/{other}/pods", f"/api/v1/watch/namespaces/{other}/pods"):
            status, doc, _ = _raw(portal, pete, "GET", _k8s(cluster, tail))
            assert status == 403 and "may not" in doc["message"], (tail, doc)


def test_continue_token_of_one_list_does_not_open_another(portal, cluster, pete, layout):
    status, page, _ = _raw(portal, pete, "GET", _k8s(cluster, "/api/v1/pods?limit=2"))
    assert status == 200 and page["metadata"].get("continue")
    token = page["metadata"]["continue"]
    for other in ("/api/v1/secrets", "/api/v1/configmaps", "/apis/apps/v1/deployments"):
        status, doc, _ = _raw(
            portal, pete, "GET", _k8s(cluster, f"{other}?limit=2&continue={token}")
        )
        assert status == 400 and doc["message"].startswith("continue key is not valid"), doc


def test_cluster_scoped_reads_stay_the_platforms(pete, layout):
    for args in (
        ("get", "nodes"),
        ("get", "pv"),
        ("get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes"),
        ("get", "clusterrolebindings"),
        ("get", "crd"),
        ("get", "--raw", "/api/v1/componentstatuses"),
    ):
        denied = pete(*args, check=False)
        assert denied.returncode != 0 and "Forbidden" in denied.stderr, (args, denied.stderr)
    assert "pods" in pete("api-resources", "--namespaced=true", "-o", "name").stdout


def test_events_and_raw_pod_lists_across_namespaces_are_the_projects(pete, layout):
    ns = layout["ns"]
    mine = {ns[k] for k in ("a1", "a2", "a3")}
    raw = json.loads(pete("get", "--raw", "/api/v1/pods").stdout)
    assert {p["metadata"]["namespace"] for p in raw["items"]} == mine
    events = json.loads(pete("get", "events", "-A", "-o", "json").stdout)
    assert {e["metadata"]["namespace"] for e in events["items"]} <= mine
    slices = pete("get", "endpointslices", "-A", "-o", "json", check=False)
    if slices.returncode == 0:
        assert {s["metadata"]["namespace"] for s in json.loads(slices.stdout)["items"]} <= mine


# -- writes --------------------------------------------------------------------------------------
def test_body_namespace_cannot_redirect_a_create(portal, cluster, pete, layout, sim):
    ns = layout["ns"]
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "x", "namespace": ns["b1"]},
    }
    status, doc, _ = _raw(
        portal, pete, "POST", _k8s(cluster, f"/api/v1/namespaces/{ns['a1']}/configmaps"), body
    )
    assert status == 400 and "does not match" in doc["message"], doc
    status, doc, _ = _raw(portal, pete, "POST", _k8s(cluster, "/api/v1/configmaps"), body)
    assert status in (403, 405), doc
    names = {c.metadata.name for c in sim.list_namespaced_config_map(ns["b1"]).items}
    assert "x" not in names


def test_namespace_quota_and_limits_are_the_platforms(portal, cluster, pete, layout):
    ns = layout["ns"]["a1"]
    merge = "application/merge-patch+json"
    for path, body in (
        (
            f"/api/v1/namespaces/{ns}",
            {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "privileged"}}},
        ),
        (f"/api/v1/namespaces/{ns}/status", {"status": {}}),
        (f"/api/v1/namespaces/{ns}/resourcequotas/default", {"spec": {"hard": {"pods": "9999"}}}),
        (f"/api/v1/namespaces/{ns}/limitranges/default", {"spec": {"limits": []}}),
    ):
        status, doc, _ = _raw(portal, pete, "PATCH", _k8s(cluster, path), body, merge)
        assert status == 403, (path, doc)
    for path in (
        f"/api/v1/namespaces/{ns}/resourcequotas",
        f"/api/v1/namespaces/{ns}/limitranges/default",
    ):
        status, doc, _ = _raw(portal, pete, "DELETE", _k8s(cluster, path))
        assert status == 403, (path, doc)
    denied = pete("label", "ns", ns, "pod-security.kubernetes.io/enforce=privileged", check=False)
    assert denied.returncode != 0 and "Forbidden" in denied.stderr


def test_privilege_bearing_pod_verbs_and_other_projects_pods(pete, layout):
    ns = layout["ns"]
    b_pod = (ns["b1"], "b1pod-0")
    for args in (
        ("exec", "-n", b_pod[0], b_pod[1], "--", "id"),
        ("logs", "-n", b_pod[0], b_pod[1]),
        ("port-forward", "-n", b_pod[0], f"pod/{b_pod[1]}", "18089:80"),
        ("create", "token", "default", "-n", ns["a1"]),
        ("debug", "-n", b_pod[0], b_pod[1], "--image=busybox:1.37", "--", "true"),
        (
            "create",
            "rolebinding",
            "x",
            "--clusterrole=admin",
            "--serviceaccount=x:default",
            "-n",
            ns["a1"],
        ),
    ):
        denied = pete(*args, check=False, timeout=20)
        assert denied.returncode != 0 and "orbidden" in denied.stderr, (args, denied.stderr)


def test_eviction_and_binding(portal, cluster, pete, layout):
    ns = layout["ns"]
    eviction = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": "b1pod-0", "namespace": ns["b1"]},
    }
    status, doc, _ = _raw(
        portal,
        pete,
        "POST",
        _k8s(cluster, f"/api/v1/namespaces/{ns['b1']}/pods/b1pod-0/eviction"),
        eviction,
    )
    assert status == 403, doc
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "a1pod-1"},
        "target": {"kind": "Node", "name": "x"},
    }
    status, doc, _ = _raw(
        portal,
        pete,
        "POST",
        _k8s(cluster, f"/api/v1/namespaces/{ns['a1']}/pods/a1pod-1/binding"),
        binding,
    )
    assert status == 403 and "bindPod" in doc["message"], doc


def test_service_account_token_secret_is_not_a_generic_secret_write(
    portal, cluster, pete, layout, sim
):
    ns = layout["ns"]["a1"]
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "minted",
            "annotations": {"kubernetes.io/service-account.name": "default"},
        },
        "type": "kubernetes.io/service-account-token",
    }
    status, doc, _ = _raw(
        portal, pete, "POST", _k8s(cluster, f"/api/v1/namespaces/{ns}/secrets"), body
    )
    assert status == 403, doc
    assert "createServiceAccountToken" in doc["message"]
    assert "minted" not in {s.metadata.name for s in sim.list_namespaced_secret(ns).items}


def test_service_account_token_secret_through_patch_and_for_the_owner(
    portal, cluster, pete, kubectl_as, project_owner, layout, sim
):
    """Retargeting an existing Secret at a service account is refused too; the project owner,
    who may mint tokens in the project's namespaces, still writes such a Secret."""
    ns = layout["ns"]["a1"]
    sim.create_namespaced_secret(ns, {"metadata": {"name": "plain"}, "stringData": {"k": "v"}})
    patch = {"metadata": {"annotations": {"kubernetes.io/service-account.name": "default"}}}
    path = _k8s(cluster, f"/api/v1/namespaces/{ns}/secrets/plain")
    status, doc, _ = _raw(portal, pete, "PATCH", path, patch, "application/merge-patch+json")
    assert status == 403 and "createServiceAccountToken" in doc["message"], doc
    json_patch = [
        {
            "op": "add",
            "path": "/metadata/annotations",
            "value": {"kubernetes.io/service-account.name": "default"},
        }
    ]
    status, doc, _ = _raw(portal, pete, "PATCH", path, json_patch, "application/json-patch+json")
    assert status == 403 and "createServiceAccountToken" in doc["message"], doc
    assert not sim.read_namespaced_secret("plain", ns).metadata.annotations
    # an ordinary Secret write still goes through
    status, doc, _ = _raw(
        portal, pete, "PATCH", path, {"stringData": {"k": "w"}}, "application/merge-patch+json"
    )
    assert status == 200, doc
    olga = kubectl_as(project_owner)
    manifest = json.dumps(
        {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
         "metadata": {"name": "owned", "namespace": ns,
                      "annotations": {"kubernetes.io/service-account.name": "default"}}}
    )  # fmt: skip
    olga("apply", "-f", "-", stdin=manifest)
    assert sim.read_namespaced_secret("owned", ns).type == "kubernetes.io/service-account-token"


def test_service_account_token_secret_through_the_rest_doors(
    api, project_member, cluster, layout, sim
):
    ns = layout["ns"]["a1"]
    client = api(project_member)
    secret = {
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
        "metadata": {
            "name": "rest-minted",
            "annotations": {"kubernetes.io/service-account.name": "default"},
        },
    }  # fmt: skip
    url = f"/api/v1/clusters/{cluster.name}/namespaces/{ns}/secrets/"
    created = client.post(url, secret, format="json")
    assert created.status_code == 403 and "createServiceAccountToken" in created.json()["detail"]
    applied = client.post(
        f"/api/v1/clusters/{cluster.name}/apply/",
        {
            "manifest": json.dumps(
                {**secret, "metadata": {**secret["metadata"], "name": "applied"}}
            ),
            "namespace": ns,
        },
        format="json",
    )
    assert applied.status_code == 403 and "createServiceAccountToken" in applied.json()["detail"]
    names = {s.metadata.name for s in sim.list_namespaced_secret(ns).items}
    assert not names & {"rest-minted", "applied"}
    plain = client.post(
        url, {"metadata": {"name": "plain-rest"}, "stringData": {"a": "b"}}, format="json"
    )
    assert plain.status_code == 201, plain.content


def test_viewer_gets_no_secret_values_from_merged_tables_with_objects(
    portal, cluster, kubectl_as, project_viewer, layout, sim
):
    ns = layout["ns"]
    sim.create_namespaced_secret(
        ns["a2"], {"metadata": {"name": "t"}, "stringData": {"pw": "s3cr3t-a2"}}
    )
    quinn = kubectl_as(project_viewer)
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io"
    for tail in (
        "/api/v1/secrets?includeObject=Object",
        "/api/v1/secrets?includeObject=Object&watch=1&timeoutSeconds=1",
        f"/api/v1/namespaces/{ns['a2']}/secrets?includeObject=Object",
    ):
        status, _, raw = _raw(portal, quinn, "GET", _k8s(cluster, tail), accept=accept)
        assert status == 200 and (b'"rows"' in raw or b'"ADDED"' in raw), raw[:300]
        assert b"s3cr3t" not in raw and b"czNjcjN0" not in raw, tail


def test_pod_security_of_a_project_namespace_holds_through_the_proxy(pete, cluster, layout):
    """A project namespace enforces baseline (labelled by the portal; the member cannot relabel
    it): privileged, hostPID and hostPath pods are refused, so is a sysadmin debug container."""
    from apps.clusters.services import client_for
    from apps.projects.models import ProjectNamespace
    from apps.projects.namespaces import ensure_namespace

    ns = layout["ns"]["a3"]
    row = ProjectNamespace.objects.select_related("project", "cluster").get(namespace=ns)
    with client_for(cluster) as client:
        ensure_namespace(client, row, adopt=True)
    for name, spec in (
        ("priv", {"containers": [
            {"name": "c", "image": "busybox", "securityContext": {"privileged": True}}
        ]}),
        ("hostpid", {"hostPID": True, "containers": [{"name": "c", "image": "busybox"}]}),
        ("hostpath", {"containers": [{"name": "c", "image": "busybox"}],
                      "volumes": [{"name": "root", "hostPath": {"path": "/"}}]}),
    ):  # fmt: skip
        manifest = json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "namespace": ns},
                "spec": spec,
            }
        )
        denied = pete("apply", "-f", "-", stdin=manifest, check=False)
        assert denied.returncode != 0 and "violates PodSecurity" in denied.stderr, denied.stderr
    denied = pete(
        "label",
        "ns",
        ns,
        "pod-security.kubernetes.io/enforce=privileged",
        "--overwrite",
        check=False,
    )
    assert denied.returncode != 0 and "Forbidden" in denied.stderr
    denied = pete(
        "debug", "-n", ns, "a3pod-0", "--image=busybox:1.37", "--profile=sysadmin", "--", "true",
        check=False,
    )  # fmt: skip
    assert denied.returncode != 0 and "PodSecurity" in denied.stderr, denied.stderr


def test_service_external_ips_and_balancer_status_are_traffic_redirection(
    portal, cluster, pete, kubectl_as, project_owner, layout, sim
):
    """CVE-2020-8554: a Service with externalIPs (or a status claiming load balancer
    addresses) has kube-proxy on every node capture every project's traffic to them. A member
    is refused (it needs createEndpoints, as an Endpoints write); the project owner may."""
    ns = layout["ns"]["a1"]
    service = {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "mitm"},
        "spec": {"ports": [{"port": 53, "protocol": "UDP"}], "externalIPs": ["10.96.0.10"]},
    }  # fmt: skip
    path = _k8s(cluster, f"/api/v1/namespaces/{ns}/services")
    status, doc, _ = _raw(portal, pete, "POST", path, service)
    assert status == 403 and "createEndpoints" in doc["message"], doc
    plain = {**service, "metadata": {"name": "plain"}, "spec": {"ports": [{"port": 80}]}}
    status, doc, _ = _raw(portal, pete, "POST", path, plain)
    assert status == 201, doc
    merge = "application/merge-patch+json"
    for tail, body, ctype in (
        ("/plain", {"spec": {"externalIPs": ["1.2.3.4"]}}, merge),
        ("/plain", [{"op": "add", "path": "/spec/externalIPs", "value": ["1.2.3.4"]}],
         "application/json-patch+json"),
        ("/plain/status", {"status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}}, merge),
    ):  # fmt: skip
        status, doc, _ = _raw(portal, pete, "PATCH", path + tail, body, ctype)
        assert status == 403 and "createEndpoints" in doc["message"], (tail, doc)
    got = sim.read_namespaced_service("plain", ns)
    assert not got.spec.external_ips and not (got.status.load_balancer.ingress or [])
    assert "mitm" not in {s.metadata.name for s in sim.list_namespaced_service(ns).items}
    olga = kubectl_as(project_owner)
    olga(
        "apply",
        "-f",
        "-",
        stdin=json.dumps({**service, "metadata": {"name": "mitm", "namespace": ns}}),
    )
    assert sim.read_namespaced_service("mitm", ns).spec.external_ips == ["10.96.0.10"]


def test_service_external_ips_through_the_rest_doors(api, project_member, cluster, layout):
    ns = layout["ns"]["a2"]
    body = {
        "metadata": {"name": "mitm"},
        "spec": {"ports": [{"port": 80}], "externalIPs": ["8.8.8.8"]},
    }
    client = api(project_member)
    created = client.post(
        f"/api/v1/clusters/{cluster.name}/namespaces/{ns}/services/", body, format="json"
    )
    assert created.status_code == 403 and "createEndpoints" in created.json()["detail"]
    manifest = json.dumps({"apiVersion": "v1", "kind": "Service", **body})
    applied = client.post(
        f"/api/v1/clusters/{cluster.name}/apply/",
        {"manifest": manifest, "namespace": ns},
        format="json",
    )
    assert applied.status_code == 403 and "createEndpoints" in applied.json()["detail"]


# -- REST ---------------------------------------------------------------------------------------
def test_cluster_operations_show_a_member_only_its_namespaces(
    api, project_member, tenant_admin, cluster, layout
):
    ns = layout["ns"]
    for key in ("a1", "b1"):
        op = ClusterOperation.objects.create(
            tenant=cluster.tenant,
            cluster=cluster,
            kind=OperationKind.NAMESPACE_CREATE,
            target=f"namespace:{ns[key]}",
            phase=OperationPhase.SUCCEEDED,
        )
        op.record_step(
            "EnsureNamespace",
            True,
            f"{ns[key]} is in project {PROJECT if key == 'a1' else 'prj-other'}",
        )
    url = f"/api/v1/clusters/{cluster.name}/operations/"
    shown = api(project_member).get(url)
    assert shown.status_code == 200, shown.content
    text = json.dumps(shown.json())
    assert ns["a1"] in text and ns["b1"] not in text and "prj-other" not in text
    everything = json.dumps(api(tenant_admin).get(url).json())
    assert ns["b1"] in everything and ns["a1"] in everything


def test_other_tenants_cluster_is_404(api, other_user, cluster, layout):
    response = api(other_user).get(
        f"/api/v1/clusters/{cluster.name}/namespaces/{layout['ns']['a1']}/pods/"
    )
    assert response.status_code == 404
    response = api(other_user).get(f"/api/v1/clusters/{cluster.name}/operations/")
    assert response.status_code == 404
