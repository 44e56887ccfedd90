"""The objects an alarm policy may name, read from a kubesim cluster for the policy form: the
cluster's nodes, the pods of a namespace, the workloads of one kind in a namespace — each the
names the cluster itself lists. Authorized like the pages listing them: the matrix (another
tenant's cluster 404, a user who may read the cluster but not its pods the console's 403), a
project member in its project's namespaces only, and the refusals in JSON when JSON is asked;
a dead cluster is a readable error, never a 500."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.clusters import resources, services
from apps.console.views import alert_objects
from apps.projects.models import Project, ProjectCluster, ProjectNamespace
from tests.conftest import PROJECT
from tests.console.matrix import LiveClusterMatrix
from tests.console.test_forms import import_cluster
from tests.factories import make_cluster

pytestmark = pytest.mark.django_db


def pod(name: str) -> dict:
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "app", "image": "nginx"}]}}


def workload(name: str, **spec) -> dict:
    labels = {"app": name}
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {
            **spec,
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "nginx"}]},
            },
        },
    }


def create(cluster, kind: str, obj: dict, namespace: str | None = "default") -> None:
    with services.client_for(cluster) as client:
        resources.create_object(client, resources.KINDS[kind], namespace, obj)


def listed(cluster, kind: str, namespace: str | None = None) -> list[str]:
    """The names the cluster itself lists (what the endpoint must answer)."""
    with services.client_for(cluster) as client:
        page = resources.list_objects(client, resources.KINDS[kind], namespace)
    return sorted(item["metadata"]["name"] for item in page["items"])


def url(cluster, **query) -> str:
    base = reverse("console:alarm-policy-objects", kwargs={"cluster": cluster.name})
    return base + "?" + "&".join(f"{k}={v}" for k, v in query.items())


def ask(client, cluster, **query):
    return client.get(url(cluster, **query), HTTP_ACCEPT="application/json")


@pytest.fixture
def cluster(tenant, sim_cluster):
    cluster = import_cluster(tenant, sim_cluster)
    create(cluster, "pods", pod("web-1"))
    create(cluster, "pods", pod("web-2"))
    create(cluster, "pods", pod("dns-1"), namespace="kube-system")
    create(cluster, "deployments", workload("api"))
    create(cluster, "statefulsets", workload("db", serviceName="db"))
    return cluster


# -- matrix ------------------------------------------------------------------------------------
class TestPolicyObjectsMatrix(LiveClusterMatrix):
    url_name = "console:alarm-policy-objects"
    expect = '"web-1"'
    reader = "tenant_admin"
    no_permission = "cluster_only"  # reads the cluster, may not list its pods

    def make_object(self, tenant):
        super().make_object(tenant)
        create(self.cluster, "pods", pod("web-1"))

    def url_for(self, tenant):
        return url(self.cluster, type="pod", namespace="default")


# -- what is listed ------------------------------------------------------------------------------
def test_nodes_are_the_clusters_nodes(client, tenant_admin, cluster):
    client.force_login(tenant_admin)
    response = ask(client, cluster, type="node")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body == {"names": listed(cluster, "nodes"), "truncated": False}
    assert {"node-1", "node-2", "node-3"} <= set(body["names"])


def test_pods_are_those_of_the_namespace(client, tenant_admin, cluster):
    client.force_login(tenant_admin)
    names = ask(client, cluster, type="pod", namespace="default").json()["names"]
    assert names == listed(cluster, "pods", "default")
    assert {"web-1", "web-2"} <= set(names) and "dns-1" not in names
    system = ask(client, cluster, type="pod", namespace="kube-system").json()["names"]
    assert "dns-1" in system and "web-1" not in system


def test_workloads_are_those_of_the_kind(client, tenant_admin, cluster):
    client.force_login(tenant_admin)
    deployments = ask(
        client, cluster, type="workload", namespace="default", workload_kind="Deployment"
    ).json()["names"]
    assert deployments == listed(cluster, "deployments", "default")
    assert "api" in deployments and "db" not in deployments
    statefulsets = ask(
        client, cluster, type="workload", namespace="default", workload_kind="StatefulSet"
    ).json()["names"]
    assert "db" in statefulsets and "api" not in statefulsets


def test_pods_of_a_workload_kind_are_those_the_evaluator_would_watch(client, tenant_admin, cluster):
    """A pod policy naming a workload kind watches the pods the collector filed under that
    kind (their series' label); pods not collected yet go by their controller."""
    from django.utils import timezone

    from apps.monitoring.models import Series

    client.force_login(tenant_admin)

    def pods(kind: str) -> list[str]:
        return ask(client, cluster, type="pod", namespace="default", workload_kind=kind).json()[
            "names"
        ]

    for name, owner in (("api-7d9f-x2", "ReplicaSet"), ("db-0", "StatefulSet")):
        owned = pod(name)
        owned["metadata"]["ownerReferences"] = [
            {"apiVersion": "apps/v1", "kind": owner, "name": name.rsplit("-", 1)[0],
             "uid": f"uid-{name}", "controller": True},
        ]  # fmt: skip
        create(cluster, "pods", owned)
    assert pods("Deployment") == ["api-7d9f-x2"]  # a ReplicaSet's pod
    assert pods("StatefulSet") == ["db-0"]
    assert pods("DaemonSet") == []  # web-1 and web-2 have no controller
    # collected: the label the evaluator reads wins over the controller
    Series.objects.create(
        cluster=cluster,
        level="pod",
        key="default/web-1",
        labels={"namespace": "default", "pod": "web-1", "workload_kind": "DaemonSet"},
        first_seen=timezone.now(),
        last_seen=timezone.now(),
    )
    assert pods("DaemonSet") == ["web-1"]
    assert pods("") == listed(cluster, "pods", "default")  # no kind: every pod


def test_a_long_list_says_it_is_cut(client, tenant_admin, cluster, monkeypatch):
    monkeypatch.setattr(alert_objects, "LIMIT", 2)
    client.force_login(tenant_admin)
    body = ask(client, cluster, type="node").json()
    assert body["truncated"] is True
    assert body["names"] == listed(cluster, "nodes")[:2]


def test_what_is_missing_is_said(client, tenant_admin, cluster):
    client.force_login(tenant_admin)
    for query, code in (
        ({"type": "pod"}, "namespace_required"),
        ({"type": "pod", "namespace": "Not_A/Name"}, "invalid_namespace"),
        ({"type": "workload", "namespace": "default"}, "workload_kind_required"),
        (
            {"type": "workload", "namespace": "default", "workload_kind": "Pod"},
            "workload_kind_required",
        ),
        ({"type": "cluster"}, "no_objects"),
    ):
        response = ask(client, cluster, **query)
        assert response.status_code == 400, query
        assert response.json()["code"] == code


# -- who may -----------------------------------------------------------------------------------
def test_a_user_who_may_not_list_pods_is_refused_in_json(client, cluster_only, cluster):
    client.force_login(cluster_only)
    response = ask(client, cluster, type="pod", namespace="default")
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "permission_denied" and "listPods" in body["detail"]
    assert "web-1" not in response.content.decode()
    nodes = ask(client, cluster, type="node")
    assert nodes.status_code == 403 and "listNodes" in nodes.json()["detail"]


def test_a_project_member_lists_its_projects_namespace_only(
    client, tenant, project_member, cluster
):
    project = Project.objects.create(tenant=tenant, name=PROJECT, display_name="Shop")
    ProjectCluster.objects.create(project=project, cluster=cluster, hard={"pods": "10"})
    ProjectNamespace.objects.create(
        tenant=tenant, project=project, cluster=cluster, namespace="default"
    )
    client.force_login(project_member)
    mine = ask(client, cluster, type="pod", namespace="default")
    assert mine.status_code == 200 and {"web-1", "web-2"} <= set(mine.json()["names"])
    theirs = ask(client, cluster, type="pod", namespace="kube-system")
    assert theirs.status_code == 403 and "dns-1" not in theirs.content.decode()
    assert ask(client, cluster, type="node").status_code == 403


def test_path_tricks_and_repeated_namespaces_do_not_reach_another_namespace(
    client, tenant, project_member, cluster
):
    """The namespace judged is the one read: a repeated parameter is judged on the value
    used (the last), and a name that is not a namespace name is refused before any read."""
    project = Project.objects.create(tenant=tenant, name=PROJECT, display_name="Shop")
    ProjectCluster.objects.create(project=project, cluster=cluster, hard={})
    ProjectNamespace.objects.create(
        tenant=tenant, project=project, cluster=cluster, namespace="default"
    )
    client.force_login(project_member)
    base = url(cluster, type="pod")
    answers = {
        tail: client.get(base + tail, HTTP_ACCEPT="application/json")
        for tail in (
            "&namespace=../kube-system",
            "&namespace=default/../kube-system",
            "&namespace=%2e%2e",
            "&namespace=kube-system%00",
            "&namespace=default&namespace=kube-system",
            "&namespace=" + "a" * 20000,
        )
    }
    assert {tail: r.status_code for tail, r in answers.items()} == {
        "&namespace=../kube-system": 400,
        "&namespace=default/../kube-system": 400,
        "&namespace=%2e%2e": 400,
        "&namespace=kube-system%00": 400,
        "&namespace=default&namespace=kube-system": 403,
        "&namespace=" + "a" * 20000: 400,
    }
    assert not any(b"dns-1" in r.content for r in answers.values())
    used = client.get(base + "&namespace=kube-system&namespace=default")
    assert used.status_code == 200 and "web-1" in used.json()["names"]


def test_another_tenants_cluster_is_404(client, other_user, cluster):
    client.force_login(other_user)
    response = ask(client, cluster, type="node")
    assert response.status_code == 404
    assert "node-1" not in response.content.decode()


# -- a dead cluster ------------------------------------------------------------------------------
def test_an_unreachable_cluster_is_a_readable_error(client, tenant, tenant_admin):
    dead = make_cluster(tenant, display_name="dead")
    client.force_login(tenant_admin)
    response = ask(client, dead, type="pod", namespace="default")
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "cluster_unreachable"
    assert f"Cluster {dead.name} is unreachable" in body["detail"]
    # the form itself still opens, its text box there for the names
    form = client.get("/alarms/policies/new/").content.decode()
    assert 'name="object_names"' in form and 'id="object-picker"' in form
