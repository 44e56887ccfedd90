"""Project members through the REST doors of a cluster (resource API, apply, workload and node
operations, events, the cluster list/detail/overview and the kubeconfig download).

The cluster is a seeded kubesim cluster (namespaces web, data, ml, default, kube-system).
Project A (``prj-test``, where ``project_member`` pete and ``project_viewer`` quinn are bound)
owns web and ml; project B (``prj-other``, where bea is bound) owns data; default and
kube-system belong to nobody. Every namespace-scoped request is judged in the domain of the
project owning the namespace (apps.authz.engine.Ownership); requests across namespaces give
exactly the namespaces :func:`apps.projects.access.reach` allows.
"""

from __future__ import annotations

import uuid

import pytest
import yaml

from apps.authz.services import create_policy
from apps.clusters import k8s, services
from apps.clusters.models import Cluster
from apps.projects.models import Project, ProjectCluster, ProjectNamespace
from tests.conftest import PROJECT
from tests.factories import UserFactory, bind

pytestmark = pytest.mark.django_db

A_NAMESPACES = ("ml", "web")
OTHER = "prj-other"


@pytest.fixture
def live(kube_sim):
    handle = kube_sim.add_cluster(f"d{uuid.uuid4().hex[:8]}", nodes=3, controller=True)
    handle.ca_data = open(handle.ca_file).read()  # noqa: SIM115
    yield handle
    kube_sim.remove_cluster(handle.name)


@pytest.fixture
def cluster(tenant, live):
    spec = k8s.Connection(server=live.url, token=live.token, ca_data=live.ca_data)
    return services.import_cluster(actor=None, tenant=tenant, display_name="live", spec=spec)


@pytest.fixture
def projects(tenant, cluster):
    """A owns web and ml, B owns data; both span the cluster."""
    a = Project.objects.create(tenant=tenant, name=PROJECT, display_name="A")
    b = Project.objects.create(tenant=tenant, name=OTHER, display_name="B")
    for project, namespaces in ((a, A_NAMESPACES), (b, ("data",))):
        ProjectCluster.objects.create(project=project, cluster=cluster, hard={"pods": "100"})
        for namespace in namespaces:
            ProjectNamespace.objects.create(
                tenant=tenant, project=project, cluster=cluster, namespace=namespace
            )
    return a, b


@pytest.fixture
def b_member(tenant):
    user = UserFactory(tenant=tenant, username="bea")
    bind(user, "project-member", OTHER)
    return user


def base(cluster, namespace=None):
    root = f"/api/v1/clusters/{cluster.name}"
    return f"{root}/namespaces/{namespace}" if namespace else root


def names(response):
    assert response.status_code == 200, response.content
    return {(i["metadata"].get("namespace"), i["metadata"]["name"]) for i in items(response)}


def items(response):
    assert response.status_code == 200, response.content
    return response.json()["items"]


def refused(response, action):
    assert response.status_code == 403, response.content
    body = response.json()
    assert body["code"] == "permission_denied"
    assert action in body["detail"], body
    return body


def configmap(name, **data):
    return {"metadata": {"name": name}, "data": data or {"k": "v"}}


# -- objects in namespaces ------------------------------------------------------------------------
def test_member_reads_and_writes_in_its_projects_namespaces(api, project_member, cluster, projects):
    """List, get, create, replace and delete ConfigMaps in web (project A's)."""
    client = api(project_member)
    url = f"{base(cluster, 'web')}/configmaps/"
    assert ("web", "frontend-config") in names(client.get(url))
    got = client.get(f"{url}frontend-config/")
    assert got.status_code == 200 and got.json()["data"]["APP_MODE"] == "production"

    created = client.post(url, configmap("pete-settings", mode="a"))
    assert created.status_code == 201, created.content
    assert created.json()["metadata"]["namespace"] == "web"
    obj = created.json()
    obj["data"] = {"mode": "b"}
    replaced = client.put(f"{url}pete-settings/", obj)
    assert replaced.status_code == 200, replaced.content
    assert client.get(f"{url}pete-settings/").json()["data"] == {"mode": "b"}
    assert client.delete(f"{url}pete-settings/").status_code == 204
    assert client.get(f"{url}pete-settings/").status_code == 404
    # ml is A's too: the same member creates there.
    ml = client.post(f"{base(cluster, 'ml')}/configmaps/", configmap("pete-ml"))
    assert ml.status_code == 201, ml.content


@pytest.mark.parametrize("namespace", ["data", "default"])
def test_member_is_refused_in_other_projects_and_unowned_namespaces(
    api, project_member, tenant_admin, cluster, projects, namespace
):
    """data is project B's, default nobody's: every verb is 403 and nothing changes there."""
    client, admin = api(project_member), api(tenant_admin)
    url = f"{base(cluster, namespace)}/configmaps/"
    refused(client.get(url), "listConfigMaps")
    refused(client.get(f"{url}kube-root-ca.crt/"), "getConfigMap")
    refused(client.post(url, configmap("intruder")), "createConfigMap")
    assert admin.get(f"{url}intruder/").status_code == 404
    seeded = admin.get(f"{url}kube-root-ca.crt/").json()
    refused(client.put(f"{url}kube-root-ca.crt/", {**seeded, "data": {}}), "updateConfigMap")
    refused(client.delete(f"{url}kube-root-ca.crt/"), "deleteConfigMap")
    after = admin.get(f"{url}kube-root-ca.crt/").json()
    assert after["data"] == seeded["data"]


def test_project_b_member_is_refused_in_project_a(api, b_member, cluster, projects):
    client = api(b_member)
    refused(client.get(f"{base(cluster, 'web')}/deployments/"), "listDeployments")
    assert ("data", "redis") in names(client.get(f"{base(cluster, 'data')}/statefulsets/"))


def test_project_viewer_reads_but_does_not_write(api, project_viewer, cluster, projects):
    client = api(project_viewer)
    url = f"{base(cluster, 'web')}/configmaps/"
    assert ("web", "frontend-config") in names(client.get(url))
    refused(client.post(url, configmap("quinn")), "createConfigMap")
    refused(client.delete(f"{url}frontend-config/"), "deleteConfigMap")


def test_cluster_scoped_kinds_need_a_platform_grant(
    api, tenant, project_member, tenant_admin, cluster, projects
):
    """Nodes, persistent volumes and namespaces themselves are the platform's: a project
    member is refused; bound to a platform policy granting nodes, the same member reads and
    cordons them."""
    client = api(project_member)
    refused(client.get(f"{base(cluster)}/nodes/"), "listNodes")
    refused(client.get(f"{base(cluster)}/nodes/node-1/"), "getNode")
    refused(client.get(f"{base(cluster)}/persistentvolumes/"), "listPersistentVolumes")
    refused(client.post(f"{base(cluster)}/namespaces/", {"metadata": {"name": "mine"}}), "create")
    assert api(tenant_admin).get(f"{base(cluster)}/namespaces/mine/").status_code == 404
    # The Namespace object of a project namespace is readable, not deletable here.
    assert client.get(f"{base(cluster)}/namespaces/web/").json()["metadata"]["name"] == "web"
    refused(client.delete(f"{base(cluster)}/namespaces/web/"), "deleteNamespace")
    refused(client.post(f"{base(cluster)}/nodes/node-1/cordon/"), "cordonNode")
    refused(client.post(f"{base(cluster)}/nodes/node-1/drain/"), "drainNode")
    node = api(tenant_admin).get(f"{base(cluster)}/nodes/node-1/").json()
    assert not node["spec"].get("unschedulable")

    policy = create_policy(
        actor=None,
        tenant=tenant,
        name="node-keeper",
        statements=[
            {
                "actions": ["listNodes", "getNode", "cordonNode", "uncordonNode"],
                "resources": ["cluster:*/node:*"],
                "effect": "allow",
            }
        ],
    )
    bind(project_member, policy.name)
    assert {n for _, n in names(client.get(f"{base(cluster)}/nodes/"))} == {
        "node-1",
        "node-2",
        "node-3",
    }
    cordoned = client.post(f"{base(cluster)}/nodes/node-1/cordon/")
    assert cordoned.status_code == 200 and cordoned.json()["spec"]["unschedulable"] is True
    # Draining evicts pods in every namespace: still not theirs.
    refused(client.post(f"{base(cluster)}/nodes/node-1/drain/"), "drainNode")


# -- workload operations ----------------------------------------------------------------------
def test_member_scales_restarts_and_rolls_back_in_its_namespace(
    api, project_member, cluster, projects
):
    from tests.clusters.test_resources import update_with_retry, wait_for

    client = api(project_member)
    dep = f"{base(cluster, 'web')}/deployments/frontend"
    scaled = client.post(f"{dep}/scale/", {"replicas": 4})
    assert scaled.status_code == 200, scaled.content
    assert client.get(f"{dep}/").json()["spec"]["replicas"] == 4

    def new_image(obj):
        obj["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"

    assert update_with_retry(client, f"{dep}/", new_image).status_code == 200
    wait_for(lambda: len(client.get(f"{dep}/revisions/").json()["revisions"]) >= 2)
    rolled = client.post(f"{dep}/rollback/", {})
    assert rolled.status_code == 200, rolled.content
    assert rolled.json()["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    restarted = client.post(f"{dep}/restart/")
    assert restarted.status_code == 200, restarted.content
    annotations = restarted.json()["spec"]["template"]["metadata"]["annotations"]
    assert "kubectl.kubernetes.io/restartedAt" in annotations


def test_member_cannot_operate_workloads_of_project_b(
    api, project_member, tenant_admin, cluster, projects
):
    client = api(project_member)
    sts = f"{base(cluster, 'data')}/statefulsets/redis"
    refused(client.post(f"{sts}/scale/", {"replicas": 0}), "scaleStatefulSet")
    refused(client.post(f"{sts}/restart/"), "restartStatefulSet")
    coredns = f"{base(cluster, 'kube-system')}/deployments/coredns"
    refused(client.post(f"{coredns}/rollback/", {}), "rollbackDeployment")
    assert api(tenant_admin).get(f"{sts}/").json()["spec"]["replicas"] == 2
    restarted = api(tenant_admin).get(f"{sts}/").json()["spec"]["template"]["metadata"]
    assert "kubectl.kubernetes.io/restartedAt" not in (restarted.get("annotations") or {})


# -- apply --------------------------------------------------------------------------------------
def _manifest(*documents):
    return "\n---\n".join(yaml.safe_dump(d) for d in documents)


def _cm_doc(name, namespace=None, value="1"):
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"a": value}}


def test_member_applies_with_diff_in_its_namespaces(api, project_member, cluster, projects):
    client = api(project_member)
    url = f"{base(cluster)}/apply/"
    manifest = _manifest(_cm_doc("applied", "web"), _cm_doc("applied", "ml"))
    preview = client.post(f"{url}?dryRun=true", {"manifest": manifest})
    assert preview.status_code == 200, preview.content
    assert [r["object"] for r in preview.json()["results"]] == [
        "ConfigMap/web/applied",
        "ConfigMap/ml/applied",
    ]
    assert "+  a: '1'" in preview.json()["results"][0]["diff"]
    assert client.get(f"{base(cluster, 'web')}/configmaps/applied/").status_code == 404
    done = client.post(url, {"manifest": manifest})
    assert [r["action"] for r in done.json()["results"]] == ["created", "created"]
    changed = _manifest(_cm_doc("applied", "web", "2"))
    diff = client.post(f"{url}?dryRun=true", {"manifest": changed}).json()["results"][0]["diff"]
    assert "-  a: '1'" in diff and "+  a: '2'" in diff
    # A document without a namespace goes to the one named in the request.
    plain = client.post(url, {"manifest": _manifest(_cm_doc("plain")), "namespace": "ml"})
    assert plain.json()["results"][0]["object"] == "ConfigMap/ml/plain"


def test_apply_spanning_projects_is_refused_whole(
    api, project_member, tenant_admin, cluster, projects
):
    """Every document is judged before anything is applied: one document in B's namespace
    (or an unowned one) refuses the manifest, and A's documents are not applied either."""
    client, admin = api(project_member), api(tenant_admin)
    for foreign in ("data", "default"):
        manifest = _manifest(_cm_doc("mixed", "web"), _cm_doc("mixed", foreign))
        body = refused(client.post(f"{base(cluster)}/apply/", {"manifest": manifest}), "Config")
        assert f"namespace:{foreign}/configmap:mixed" in body["detail"]
        for namespace in ("web", foreign):
            assert admin.get(f"{base(cluster, namespace)}/configmaps/mixed/").status_code == 404
    # Without a namespace, documents go to "default" (nobody's): refused.
    refused(client.post(f"{base(cluster)}/apply/", {"manifest": _manifest(_cm_doc("x"))}), "")


# -- lists across namespaces ------------------------------------------------------------------
@pytest.fixture
def upstream_calls(monkeypatch):
    """The paths the portal asks the cluster for (GETs), in order."""
    calls = []
    original = k8s.KubeClient.get

    def recording(self, path, **kwargs):
        calls.append(path)
        return original(self, path, **kwargs)

    monkeypatch.setattr(k8s.KubeClient, "get", recording)
    return calls


def _in(rows, namespaces):
    return {(ns, name) for ns, name in rows if ns in namespaces}


@pytest.mark.parametrize("kind", ["configmaps", "deployments", "services"])
def test_list_across_namespaces_is_exactly_the_reachable_namespaces(
    api, project_member, tenant_admin, cluster, projects, kind
):
    """A member's list without a namespace holds every object of web and ml and nothing of
    data, default or kube-system (compared with the administrator's full list)."""
    everything = names(api(tenant_admin).get(f"{base(cluster)}/{kind}/"))
    assert {ns for ns, _ in everything} - set(A_NAMESPACES)  # there is something to hide
    mine = names(api(project_member).get(f"{base(cluster)}/{kind}/"))
    assert mine and mine == _in(everything, A_NAMESPACES)


def test_list_across_namespaces_pages_like_one_list(api, project_member, cluster, projects, live):
    """limit/continue over the merged list: pages of at most ``limit`` objects, in
    (namespace, name) order, together exactly the unpaged list; a token is only good for
    the namespaces the user reaches."""
    client = api(project_member)
    for n in range(3):
        for namespace in A_NAMESPACES:
            assert (
                client.post(
                    f"{base(cluster, namespace)}/configmaps/", configmap(f"page-{n}")
                ).status_code
                == 201
            )
    url = f"{base(cluster)}/configmaps/"
    whole = [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in items(client.get(url))]
    # 3 + kube-root-ca.crt in each, and web's frontend-config
    assert whole == sorted(whole) and len(whole) == 9
    for limit in (1, 3, 4, 9, 50):
        seen, token, pages = [], None, 0
        while True:
            query = {"limit": limit, **({"continue": token} if token else {})}
            page = client.get(url, query).json()
            assert len(page["items"]) <= limit
            seen += [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in page["items"]]
            token, pages = page["continue"], pages + 1
            if not token:
                break
            assert pages < 20, "pagination does not end"
        assert seen == whole, limit
        assert pages >= len(whole) // limit
    first = client.get(url, {"limit": 2}).json()
    assert first["continue"] and len(first["items"]) == 2
    # A token forged to name project B's namespace is refused, not followed.
    import base64
    import json

    forged = base64.urlsafe_b64encode(json.dumps({"ns": "data", "c": None}).encode()).decode()
    bad = client.get(url, {"continue": forged})
    assert bad.status_code == 400 and "continue" in bad.json()["fields"], bad.content
    assert client.get(url, {"continue": "not-a-token"}).status_code == 400


def test_list_across_namespaces_keeps_selectors_and_masks_secrets(
    api, project_member, tenant_admin, cluster, projects
):
    client = api(project_member)
    for namespace in ("web", "ml", "data"):
        api(tenant_admin).post(
            f"{base(cluster, namespace)}/secrets/",
            {"metadata": {"name": "tok", "labels": {"x": "1"}}, "data": {"t": "c2VjcmV0"}},
        )
    rows = items(client.get(f"{base(cluster)}/secrets/", {"labelSelector": "x=1"}))
    assert {(r["metadata"]["namespace"], r["metadata"]["name"]) for r in rows} == {
        ("ml", "tok"),
        ("web", "tok"),
    }
    assert all(r["data"]["t"] != "c2VjcmV0" for r in rows)
    searched = names(client.get(f"{base(cluster)}/configmaps/", {"search": "frontend"}))
    assert searched == {("web", "frontend-config")}


def test_namespaces_list_is_the_reachable_namespaces(
    api, project_member, b_member, member, cluster, projects, upstream_calls
):
    url = f"{base(cluster)}/namespaces/"
    assert {n for _, n in names(api(project_member).get(url))} == set(A_NAMESPACES)
    assert {n for _, n in names(api(b_member).get(url))} == {"data"}
    paged = api(project_member).get(url, {"limit": 1}).json()
    assert [i["metadata"]["name"] for i in paged["items"]] == ["ml"]
    assert paged["remaining"] == 1
    rest = api(project_member).get(url, {"limit": 1, "continue": paged["continue"]}).json()
    assert [i["metadata"]["name"] for i in rest["items"]] == ["web"] and not rest["continue"]
    upstream_calls.clear()
    everything = {n for _, n in names(api(member).get(url))}
    assert {"web", "ml", "data", "default", "kube-system"} <= everything
    assert upstream_calls == ["/api/v1/namespaces"]


def test_platform_user_keeps_one_upstream_list(
    api, member, project_member, cluster, projects, upstream_calls
):
    api(member).get(f"{base(cluster)}/pods/")
    assert upstream_calls == ["/api/v1/pods"]
    upstream_calls.clear()
    api(project_member).get(f"{base(cluster)}/pods/")
    assert upstream_calls == ["/api/v1/namespaces/ml/pods", "/api/v1/namespaces/web/pods"]


def test_user_reaching_nothing_is_refused_with_the_reason(api, b_member, tenant, cluster, projects):
    """A member of a project without a namespace on the cluster reaches nothing: 403."""
    lonely = Project.objects.create(tenant=tenant, name="prj-lonely", display_name="L")
    ProjectCluster.objects.create(project=lonely, cluster=cluster, hard={})
    user = UserFactory(tenant=tenant, username="lou")
    bind(user, "project-member", "prj-lonely")
    refused(api(user).get(f"{base(cluster)}/pods/"), "listPods")
    refused(api(user).get(f"{base(cluster)}/namespaces/"), "listNamespaces")


def test_list_across_namespaces_query_count_is_constant(
    api, project_member, tenant, cluster, projects
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api(project_member)
    url = f"{base(cluster)}/configmaps/"
    client.get(url)  # warm the compiled rules
    with CaptureQueriesContext(connection) as two:
        assert {ns for ns, _ in names(client.get(url))} == {"ml", "web"}
    a = Project.objects.get(name=PROJECT)
    for namespace in ("default", "kube-system"):
        ProjectNamespace.objects.create(
            tenant=tenant, project=a, cluster=cluster, namespace=namespace
        )
    client.get(url)
    with CaptureQueriesContext(connection) as four:
        assert {ns for ns, _ in names(client.get(url))} == {"default", "kube-system", "ml", "web"}
    assert len(four.captured_queries) == len(two.captured_queries)


# -- events -----------------------------------------------------------------------------------
def _event(name, namespace, about):
    return {
        "metadata": {"name": name},
        "involvedObject": {"kind": "Node", "name": about, "apiVersion": "v1"},
        "reason": "Test",
        "message": f"about {about} in {namespace}",
        "type": "Normal",
    }


def test_events_lists_and_cluster_scoped_objects_events_follow_reach(
    api, tenant, project_member, tenant_admin, cluster, projects
):
    """Events across namespaces: only web's and ml's. A node's events (any namespace) for a
    member granted the node: only those in namespaces the member reaches."""
    admin = api(tenant_admin)
    for namespace in ("web", "data", "default"):
        event = _event(f"node-1.{namespace}", namespace, "node-1")
        created = admin.post(f"{base(cluster, namespace)}/events/", event)
        assert created.status_code == 201, created.content
    everything = names(admin.get(f"{base(cluster)}/events/"))
    mine = names(api(project_member).get(f"{base(cluster)}/events/"))
    assert ("web", "node-1.web") in mine
    assert {ns for ns, _ in mine} <= set(A_NAMESPACES)
    assert _in(everything, A_NAMESPACES) <= mine  # events only come, never go, meanwhile

    node_events = f"{base(cluster)}/nodes/node-1/events/"
    refused(api(project_member).get(node_events), "listEvents")
    policy = create_policy(
        actor=None,
        tenant=tenant,
        name="node-events",
        statements=[
            {"actions": ["listEvents"], "resources": ["cluster:*/node:*"], "effect": "allow"}
        ],
    )
    bind(project_member, policy.name)
    theirs = {e["metadata"]["name"] for e in items(api(project_member).get(node_events))}
    assert theirs == {"node-1.web"}
    assert {e["metadata"]["name"] for e in items(admin.get(node_events))} >= {
        "node-1.web",
        "node-1.data",
        "node-1.default",
    }


# -- clusters -----------------------------------------------------------------------------------
@pytest.fixture
def lonely(tenant):
    """A cluster of the tenant that no project spans."""
    from apps.clusters.models import ClusterCredential

    cluster = Cluster.objects.create(
        tenant=tenant, display_name="lonely", server="https://127.0.0.1:9"
    )
    ClusterCredential.objects.create(cluster=cluster, token="unused")
    return cluster


def test_member_lists_and_opens_exactly_the_clusters_its_projects_span(
    api, project_member, member, cluster, projects, lonely
):
    services.sync_nodes(cluster)
    client = api(project_member)
    listed = client.get("/api/v1/clusters/")
    assert listed.status_code == 200, listed.content
    assert [c["name"] for c in listed.json()["results"]] == [cluster.name]
    assert {c["name"] for c in api(member).get("/api/v1/clusters/").json()["results"]} == {
        cluster.name,
        lonely.name,
    }
    detail = client.get(f"/api/v1/clusters/{cluster.name}/")
    assert detail.status_code == 200 and detail.json()["display_name"] == "live"
    assert client.get(f"/api/v1/clusters/{lonely.name}/").status_code == 404
    # Nodes are the platform's: the member sees the cluster, not its node inventory.
    assert detail.json()["node_count"] is None and detail.json()["capacity"] is None
    refused(client.get(f"/api/v1/clusters/{cluster.name}/inventory/"), "listNodes")
    platform = api(member).get(f"/api/v1/clusters/{cluster.name}/").json()
    assert platform["node_count"] == 3 and platform["capacity"]["cpu"]
    inventory = api(member).get(f"/api/v1/clusters/{cluster.name}/inventory/")
    assert len(inventory.json()) == 3
    # The resource API follows the same visibility: an unspanned cluster is 404.
    assert client.get(f"{base(lonely, 'web')}/pods/").status_code == 404


def test_member_cannot_change_or_delete_a_cluster(api, project_member, cluster, projects):
    client = api(project_member)
    url = f"/api/v1/clusters/{cluster.name}/"
    refused(client.patch(url, {"display_name": "mine"}), "updateCluster")
    refused(client.delete(url), "deleteCluster")
    refused(client.post(f"{url}sync/"), "updateCluster")
    cluster.refresh_from_db()
    assert cluster.display_name == "live"
    assert Cluster.objects.filter(pk=cluster.pk).exists()


def test_overview_shows_a_member_its_namespaces_not_the_clusters_totals(
    api, project_member, member, cluster, projects, lonely
):
    """The member's row: phase, version and reachability, the namespaces it reaches; no node
    inventory, no pod total (those count other projects' namespaces too)."""
    platform = api(member).get("/api/v1/clusters/overview/").json()["results"]
    row = next(r for r in platform if r["name"] == cluster.name)
    assert row["nodes"] == 3 and row["pods"] is not None and row["namespaces"] is None
    mine = api(project_member).get("/api/v1/clusters/overview/")
    assert mine.status_code == 200, mine.content
    rows = mine.json()["results"]
    assert [r["name"] for r in rows] == [cluster.name]
    assert rows[0]["namespaces"] == ["ml", "web"]
    assert rows[0]["reachable"] is True and rows[0]["version"] == row["version"]
    for hidden in ("nodes", "ready_nodes", "pods", "capacity", "allocatable"):
        assert rows[0][hidden] is None, hidden


# -- kubeconfig ----------------------------------------------------------------------------------
def _kubeconfig(response):
    assert response.status_code == 200, response.content
    config = yaml.safe_load(response.json()["kubeconfig"])
    (context,) = config["contexts"]
    return context["context"]


def test_member_gets_a_kubeconfig_starting_in_its_own_namespace(
    api, project_member, b_member, member, cluster, projects, lonely
):
    url = f"/api/v1/clusters/{cluster.name}/kubeconfig"
    assert _kubeconfig(api(project_member).post(url))["namespace"] == "ml"
    assert _kubeconfig(api(b_member).post(url))["namespace"] == "data"
    assert _kubeconfig(api(member).post(url))["namespace"] == "default"
    assert api(project_member).post(f"/api/v1/clusters/{lonely.name}/kubeconfig").status_code == 404


def test_cluster_list_and_overview_queries_do_not_grow_with_spanned_clusters(
    api, project_member, cluster, projects, lonely
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api(project_member)

    def measure():
        client.get("/api/v1/clusters/")  # warm the compiled rules
        with CaptureQueriesContext(connection) as listing:
            listed = client.get("/api/v1/clusters/").json()["results"]
        with CaptureQueriesContext(connection) as overview:
            rows = client.get("/api/v1/clusters/overview/").json()["results"]
        return len(listing), len(overview), listed, rows

    one_list, one_overview, listed, rows = measure()
    assert len(listed) == 1 and len(rows) == 1
    ProjectCluster.objects.create(project=projects[0], cluster=lonely, hard={})
    two_list, two_overview, listed, rows = measure()
    assert {c["name"] for c in listed} == {cluster.name, lonely.name}
    assert {r["name"]: r["namespaces"] for r in rows} == {
        cluster.name: ["ml", "web"],
        lonely.name: [],
    }
    assert (two_list, two_overview) == (one_list, one_overview)
