"""Collection from the Kubernetes API and metrics.k8s.io of a live kubesim cluster: every
level, moving values, restarts and phases, workloads through ReplicaSets, GPUs, a dead cluster,
idempotent retries."""

from __future__ import annotations

import gc
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from apps.clusters import k8s, services
from apps.monitoring import collect, partitions, store, tasks
from apps.monitoring.catalog import CATALOG, POSITION
from apps.monitoring.models import ClusterMonitor, Series

pytestmark = pytest.mark.django_db

T0 = datetime.now(UTC).replace(second=0, microsecond=0)


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


@pytest.fixture
def live(kube_sim):
    """A seeded kubesim cluster (a GPU node, deployments, a statefulset, a job) with its
    controller running, once its workloads' pods run."""
    handle = kube_sim.add_cluster(f"m{uuid.uuid4().hex[:8]}", nodes=3, controller=True)
    handle.ca_data = open(handle.ca_file).read()  # noqa: SIM115

    def running():
        pods = handle.call(lambda c: c.objects("", "pods"))
        phases = [p["status"].get("phase") for p in pods]
        return len(pods) >= 10 and phases.count("Running") >= 9 and "Pending" not in phases

    wait_for(running)
    yield handle
    kube_sim.remove_cluster(handle.name)


@pytest.fixture
def cluster(tenant, live):
    spec = k8s.Connection(server=live.url, token=live.token, ca_data=live.ca_data)
    cluster = services.import_cluster(actor=None, tenant=tenant, display_name="live", spec=spec)
    partitions.ensure_partitions(T0 - timedelta(days=1))
    return cluster


def monitor_of(cluster) -> ClusterMonitor:
    tasks.ensure_monitors()
    return ClusterMonitor.objects.select_related("cluster__credential").get(cluster=cluster)


def latest(cluster, level, key, metric, start=T0 - timedelta(minutes=5)):
    found = store.window(cluster.pk, level, metric, start, T0 + timedelta(minutes=10), keys=[key])
    return found.get(key, [])


def rows_by(rows):
    return {(r.level, r.key): r for r in rows}


def value(row, name):
    return row.values[POSITION[(row.level, name)]]


def test_collection_covers_every_level_with_keys_and_labels(cluster, live):
    monitor = monitor_of(cluster)
    assert monitor.source == "api" and monitor.enabled
    result = collect.collect(monitor, now=T0)
    assert result["ok"], result
    series = {(s.level, s.key): s.labels for s in Series.objects.filter(cluster=cluster)}
    assert {level for level, _ in series} == set(CATALOG)
    name = cluster.name
    assert series[("cluster", "")] == {"cluster": name}
    assert series[("node", "node-1")] == {"cluster": name, "node": "node-1"}
    assert series[("namespace", "web")] == {"cluster": name, "namespace": "web"}
    pods = live.call(lambda c: c.objects("", "pods", "web"))
    api_pod = next(p for p in pods if p["metadata"]["name"].startswith("api-"))
    pod_name, node = api_pod["metadata"]["name"], api_pod["spec"]["nodeName"]
    assert series[("pod", f"web/{pod_name}")] == {
        "cluster": name,
        "namespace": "web",
        "pod": pod_name,
        "node": node,
        "workload_kind": "Deployment",
        "workload_name": "api",
    }
    assert series[("container", f"web/{pod_name}/api")]["container"] == "api"
    # Workloads: ReplicaSet → Deployment; StatefulSet and DaemonSet as themselves.
    workloads = {key for level, key in series if level == "workload"}
    assert {"web/Deployment/api", "web/Deployment/frontend", "data/StatefulSet/redis"} <= workloads
    assert "kube-system/DaemonSet/kube-proxy" in workloads
    assert not any("/ReplicaSet/" in key for key in workloads)
    # Values: the api deployment's two pods request 250m and 256Mi each.
    assert latest(cluster, "workload", "web/Deployment/api", "cpu_core_request")[-1] == 0.5
    assert latest(cluster, "workload", "web/Deployment/api", "mem_request_bytes")[-1] == 512 * 2**20
    assert latest(cluster, "workload", "web/Deployment/api", "pod_running")[-1] == 2
    used = latest(cluster, "pod", f"web/{pod_name}", "cpu_core_used")[-1]
    assert 0.25 * 0.2 - 1e-6 <= used <= 0.25 * 0.8 + 1e-6  # metrics.k8s.io's wave
    rate = latest(cluster, "pod", f"web/{pod_name}", "rate_cpu_core_used_request")[-1]
    assert rate == pytest.approx(used / 0.25 * 100, rel=1e-3)
    # Network is not in this source: absent, not zero.
    assert latest(cluster, "pod", f"web/{pod_name}", "network_receive_bytes_bw") == []
    assert latest(cluster, "cluster", "", "node_total")[-1] == 3
    assert latest(cluster, "node", "node-1", "status_ready")[-1] == 1
    monitor.refresh_from_db()
    assert monitor.last_error == "" and monitor.consecutive_failures == 0
    assert monitor.last_series == len(series) and monitor.last_collected_at is not None


def test_gpu_node_and_gpu_workload(cluster):
    rows = rows_by(collect.compute(collect.fetch(monitor_of(cluster)), cluster.name))
    gpu_node = rows[("node", "node-3")]
    assert value(gpu_node, "gpu_capacity") == 4
    assert value(gpu_node, "gpu_request") == 1  # the trainer holds one
    assert value(gpu_node, "gpu_used") == 1
    assert value(rows[("node", "node-1")], "gpu_capacity") == 0
    assert value(rows[("workload", "ml/Deployment/trainer")], "gpu_request") == 1
    assert value(rows[("cluster", "")], "gpu_capacity") == 4
    assert value(rows[("cluster", "")], "gpu_used") == 1


def test_two_collections_see_moving_values_and_restart_and_phase_changes(cluster, live):
    monitor = monitor_of(cluster)
    assert collect.collect(monitor, now=T0)["ok"]
    pods = live.call(lambda c: c.objects("", "pods", "web"))
    pod = next(p for p in pods if p["metadata"]["name"].startswith("frontend-"))["metadata"]["name"]
    live.restart_container("web", pod, "frontend", times=3)
    live.set_pod_phase("web", pod, "Failed")
    time.sleep(1.5)  # metrics.k8s.io's wave moves
    assert collect.collect(monitor, now=T0 + timedelta(minutes=1))["ok"]
    restarts = latest(cluster, "pod", f"web/{pod}", "restart_total")
    assert restarts == [0.0, 3.0]
    assert latest(cluster, "container", f"web/{pod}/frontend", "restart_total") == [0.0, 3.0]
    assert latest(cluster, "namespace", "web", "pod_failed") == [0.0, 1.0]
    assert latest(cluster, "pod", f"web/{pod}", "status_ready") == [1.0, 0.0]
    node_cpu = latest(cluster, "node", "node-1", "cpu_core_used")
    assert len(node_cpu) == 2 and node_cpu[0] != node_cpu[1]


def test_a_retried_collection_does_not_duplicate(cluster):
    monitor = monitor_of(cluster)
    first = collect.collect(monitor, now=T0)
    again = collect.collect(monitor, now=T0 + timedelta(seconds=20))
    assert first["written"] == first["series"] > 0
    assert again["ok"] and again["written"] == 0
    assert len(latest(cluster, "cluster", "", "pod_total")) == 1


def test_a_collection_times_its_stages_and_leaves_the_garbage_collector_as_it_was(cluster, live):
    monitor = monitor_of(cluster)
    assert gc.isenabled()
    result = collect.collect(monitor, now=T0)
    assert gc.isenabled()
    assert set(result["seconds"]) == set(result["cpu_seconds"]) == {"fetch", "compute", "write"}
    assert all(v >= 0 for v in [*result["seconds"].values(), *result["cpu_seconds"].values()])
    assert result["ms"] >= int(sum(result["seconds"].values()) * 1000) - 3
    live.faults.down()
    try:
        assert collect.collect(monitor, now=T0 + timedelta(minutes=1))["ok"] is False
        assert gc.isenabled()
        gc.disable()  # a caller that keeps the collector off keeps it off
        try:
            collect.collect(monitor, now=T0 + timedelta(minutes=2))
            assert not gc.isenabled()
        finally:
            gc.enable()
    finally:
        live.faults.up()


def test_a_dead_cluster_is_recorded_and_retried(cluster, live):
    monitor = monitor_of(cluster)
    live.faults.down()
    try:
        result = tasks.collect_cluster_metrics.apply(args=(cluster.pk,)).get()
        assert result["ok"] is False
        monitor.refresh_from_db()
        assert monitor.last_error.startswith(f"cluster {cluster.name} unreachable: ")
        assert monitor.consecutive_failures == 1
        tasks.collect_cluster_metrics.apply(args=(cluster.pk,)).get()
        monitor.refresh_from_db()
        assert monitor.consecutive_failures == 2
    finally:
        live.faults.up()
    result = tasks.collect_cluster_metrics.apply(args=(cluster.pk,)).get()
    assert result["ok"] is True
    monitor.refresh_from_db()
    assert monitor.consecutive_failures == 0 and monitor.last_error == ""


def test_a_cronjobs_pods_roll_up_to_the_cronjob(cluster, live):
    """Job → CronJob: a pod of a Job that a CronJob owns is summed under the CronJob."""

    def make(c):
        cronjob = c.create(
            c.rt("batch", "cronjobs"),
            "ml",
            {
                "metadata": {"name": "nightly"},
                "spec": {
                    "schedule": "0 3 * * *",
                    "suspend": True,
                    "jobTemplate": {
                        "spec": {
                            "template": {
                                "spec": {
                                    "restartPolicy": "Never",
                                    "containers": [{"name": "etl", "image": "python:3.12"}],
                                }
                            }
                        }
                    },
                },
            },
        )
        c.create(
            c.rt("batch", "jobs"),
            "ml",
            {
                "metadata": {
                    "name": "nightly-29000000",
                    "ownerReferences": [
                        {
                            "apiVersion": "batch/v1",
                            "kind": "CronJob",
                            "name": "nightly",
                            "uid": cronjob["metadata"]["uid"],
                            "controller": True,
                        }
                    ],
                },
                "spec": {
                    "template": {
                        "metadata": {"annotations": {"kubesim.io/run-seconds": "600"}},
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [
                                {
                                    "name": "etl",
                                    "image": "python:3.12",
                                    "resources": {"requests": {"cpu": "300m"}},
                                }
                            ],
                        },
                    }
                },
            },
        )

    live.call(make)

    def job_pod_running():
        pods = live.call(lambda c: c.objects("", "pods", "ml"))
        return any(
            p["metadata"]["name"].startswith("nightly-29000000")
            and p["status"].get("phase") == "Running"
            for p in pods
        )

    wait_for(job_pod_running)
    rows = rows_by(collect.compute(collect.fetch(monitor_of(cluster)), cluster.name))
    workload = rows[("workload", "ml/CronJob/nightly")]
    assert value(workload, "cpu_core_request") == pytest.approx(0.3)
    assert value(workload, "pod_running") == 1
    assert ("workload", "ml/Job/nightly-29000000") not in rows
    assert ("workload", "ml/Job/preprocess") in rows  # a Job of its own stays a Job


def test_without_metrics_server_usage_is_absent_and_the_rest_is_collected(cluster, live):
    """metrics.k8s.io is read alongside the lists: its 404 leaves usage absent only."""
    monitor = monitor_of(cluster)
    live.faults.fail(404, path="/apis/metrics.k8s.io/")
    snapshot = collect.fetch(monitor)
    assert snapshot.pods and snapshot.nodes
    assert {c.cpu_used for p in snapshot.pods for c in p.containers} == {None}
    assert {n.cpu_used for n in snapshot.nodes} == {None}
    assert {n.cpu_capacity for n in snapshot.nodes} != {None}
    assert sum(c.cpu_request or 0 for p in snapshot.pods for c in p.containers) > 0


def test_pod_metrics_failing_after_node_metrics_keeps_the_node_usage(cluster, live):
    monitor = monitor_of(cluster)
    live.faults.fail(503, path="/apis/metrics.k8s.io/v1beta1/pods")
    snapshot = collect.fetch(monitor)
    assert None not in {n.cpu_used for n in snapshot.nodes}
    assert {c.cpu_used for p in snapshot.pods for c in p.containers} == {None}


def test_a_failing_pod_list_fails_the_collection_whatever_the_usage_side_read(cluster, live):
    monitor = monitor_of(cluster)
    live.faults.fail(500, path="^/api/v1/pods", times=1)
    result = collect.collect(monitor, now=T0)
    assert result["ok"] is False
    assert result["error"].startswith(f"cluster {cluster.name} unreachable: ")
    monitor.refresh_from_db()
    assert monitor.consecutive_failures == 1
    assert not Series.objects.filter(cluster=cluster).exists()
    # The next collection (the fault was for one request) counts both sides' requests: the
    # lists' and metrics.k8s.io's two.
    listed = len(live.call(lambda c: c.objects("", "pods"))) // 500 + 1
    snapshot = collect.fetch(monitor)
    assert snapshot.requests >= 1 + listed + 2
