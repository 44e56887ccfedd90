"""The overview's inventory against kubesim: pod requests per cluster and per node, abnormal
pods (crash loop, unschedulable) and troubled nodes (not ready, cordoned), from one pass over
the pods; and who sees which of them."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

import pytest

from apps.clusters import k8s, overview, services, visibility

pytestmark = pytest.mark.django_db


def _pod(name, cpu, memory, **spec):
    container = {"name": "main", "image": spec.pop("image", "nginx")}
    container["resources"] = {"requests": {"cpu": cpu, "memory": memory}}
    return {"metadata": {"name": name}, "spec": {"containers": [container], **spec}}


@pytest.fixture
def busy(kube_sim, tenant):
    """A cluster with no seeded workloads and pods whose requests are known."""
    handle = kube_sim.add_cluster(f"inv{uuid.uuid4().hex[:8]}", nodes=3, seed=False, own_port=True)
    cluster = services.import_cluster(
        actor=None,
        tenant=tenant,
        display_name="busy",
        spec=k8s.Connection(
            server=handle.url,
            token=handle.token,
            ca_data=open(handle.ca_file).read(),  # noqa: SIM115
        ),
    )
    with services.client_for(cluster) as client:
        for ns in ("web", "data"):
            client.request("POST", "/api/v1/namespaces", body={"metadata": {"name": ns}})
        post = "/api/v1/namespaces/{}/pods"
        one = _pod("a", "250m", "128Mi", nodeName="node-1")
        client.request("POST", post.format("web"), body=one)
        two = _pod("b", "500m", "1Gi", nodeName="node-2")
        two["spec"]["initContainers"] = [{"name": "init", "image": "busybox", "command": ["true"]}]
        two["spec"]["initContainers"][0]["resources"] = {"requests": {"cpu": "2"}}
        client.request("POST", post.format("data"), body=two)
        client.request(
            "POST",
            post.format("web"),
            body=_pod("crash", "100m", "64Mi", nodeName="node-1", image="demo/crashloop:1"),
        )
        # asks for more CPU than any node has: Pending, never scheduled
        client.request("POST", post.format("data"), body=_pod("huge", "500", "1Gi"))
        # finished: its requests no longer hold anything
        done = _pod("done", "4", "4Gi", nodeName="node-3", image="busybox")
        done["spec"]["restartPolicy"] = "Never"
        done["metadata"]["annotations"] = {"kubesim.io/run-seconds": "0.2"}
        client.request("POST", post.format("web"), body=done)
        client.request(
            "PATCH",
            "/api/v1/nodes/node-3",
            body={"spec": {"unschedulable": True}},
            content_type="application/strategic-merge-patch+json",
        )
    # node-2 goes NotReady once its pod runs (a pod bound to a NotReady node never starts:
    # its kubelet is not there to start it)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with services.client_for(cluster) as client:
            b = client.get("/api/v1/namespaces/data/pods/b")
        if b.get("status", {}).get("phase") == "Running":
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"pod b never ran: {b.get('status')}")
    handle.set_node_ready("node-2", False)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with services.client_for(cluster) as client:
            pods = {p["metadata"]["name"]: p for p in client.get("/api/v1/pods").get("items", [])}
        waiting = [
            (cs.get("state") or {}).get("waiting", {}).get("reason")
            for cs in pods["crash"].get("status", {}).get("containerStatuses", [])
        ]
        if "CrashLoopBackOff" in waiting and pods["done"]["status"].get("phase") == "Succeeded":
            break
        time.sleep(0.1)
    else:
        phases = {name: p.get("status", {}).get("phase") for name, p in pods.items()}
        raise AssertionError(f"kubesim did not reach the expected states: {phases}")
    yield handle, cluster
    kube_sim.remove_cluster(handle.name)


def test_inventory_sums_requests_per_cluster_and_node_and_finds_abnormal(busy):
    handle, cluster = busy
    # when
    (row,) = overview.overview([cluster])
    # then: requests of the pods holding a node's resources (not the finished one, nor the
    # one no node could take): the larger of the containers' sum and the largest init
    # container, per pod
    assert (row["reachable"], row["stale"]) == (True, False)
    assert row["pods"] == 5
    assert Decimal(row["requests"]["cpu"]) == Decimal("0.25") + 2 + Decimal("0.1")
    mib = 2**20
    assert int(row["requests"]["memory"]) == (128 + 1024 + 64) * mib
    nodes = row["node_requests"]
    assert Decimal(nodes["node-1"]["cpu"]) == Decimal("0.35")
    assert Decimal(nodes["node-2"]["cpu"]) == 2
    assert "node-3" not in nodes  # only the finished pod ran there
    abnormal = {p["name"]: p for p in row["abnormal_pods"]}
    assert set(abnormal) == {"crash", "huge"}
    assert abnormal["crash"]["reason"] == "CrashLoopBackOff" and abnormal["crash"]["node"]
    assert abnormal["huge"]["phase"] == "Pending" and abnormal["huge"]["namespace"] == "data"
    assert row["abnormal_pod_count"] == 2
    troubled = {n["name"]: n for n in row["abnormal_nodes"]}
    assert troubled == {
        "node-2": {"name": "node-2", "ready": False, "unschedulable": False},
        "node-3": {"name": "node-3", "ready": True, "unschedulable": True},
    }
    # and it is stored as the last known inventory
    cluster.refresh_from_db()
    assert cluster.inventory["requests"] == row["requests"]
    assert cluster.inventory["abnormal_node_count"] == 2


def test_pages_of_pods_are_all_read(busy, monkeypatch):
    """Pods come in pages (``limit``/``continue``): a page size of two still counts all."""
    handle, cluster = busy
    monkeypatch.setattr(overview, "POD_PAGE", 2)
    (row,) = overview.overview([cluster])
    assert row["pods"] == 5 and row["abnormal_pod_count"] == 2


def test_a_fresh_stored_inventory_is_shown_without_asking(busy):
    handle, cluster = busy
    overview.overview([cluster])
    cluster.refresh_from_db()
    stored_at = cluster.inventory_at
    handle.faults.down()
    try:
        (row,) = overview.overview([cluster], fresh_s=60)
        cluster.refresh_from_db()
    finally:
        handle.faults.up()
    assert (row["reachable"], row["stale"], row["pods"]) == (True, False, 5)
    assert cluster.inventory_at == stored_at  # nobody asked the cluster
    # without fresh_s the same (down) cluster is asked and found unreachable
    handle.faults.down()
    try:
        (row,) = overview.overview([cluster])
    finally:
        handle.faults.up()
    assert row["reachable"] is False and "unreachable" in row["error"]


def test_a_project_member_sees_only_its_namespaces_abnormal_pods(busy, member, project_member):
    handle, cluster = busy
    (row,) = overview.overview([cluster])
    platform = visibility.redact_overview_row(member, cluster, row)
    assert platform["requests"] == row["requests"]
    mine = visibility.redact_overview_row(project_member, cluster, row)
    assert mine["requests"] is None and mine["node_requests"] is None
    assert mine["abnormal_nodes"] is None
    assert {p["namespace"] for p in mine["abnormal_pods"]} <= set(mine["namespaces"])
