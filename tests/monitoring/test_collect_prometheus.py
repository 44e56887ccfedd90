"""A real Prometheus (Debian's 2.42) scraping kubesim's cAdvisor and kube-state-metrics
expositions, used as a cluster's metric source: the same levels as the API source, plus
network; a Prometheus that cannot be reached is recorded, not raised."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from apps.clusters import k8s, services
from apps.monitoring import collect, partitions, store, tasks
from apps.monitoring.models import ClusterMonitor, Series

pytestmark = pytest.mark.django_db
PROMETHEUS = "/usr/bin/prometheus"
T0 = datetime.now(UTC).replace(second=0, microsecond=0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} not reached in {timeout} s")


@pytest.fixture
def live(kube_sim):
    handle = kube_sim.add_cluster(f"p{uuid.uuid4().hex[:8]}", nodes=3, controller=True)
    handle.ca_data = open(handle.ca_file).read()  # noqa: SIM115

    def running():
        pods = handle.call(lambda c: c.objects("", "pods"))
        return len(pods) >= 10 and all(
            p["status"].get("phase") in ("Running", "Succeeded") for p in pods
        )

    wait_for(running, what="seeded pods running")
    yield handle
    kube_sim.remove_cluster(handle.name)


def prometheus_query(url: str, promql: str) -> list:
    with urllib.request.urlopen(  # noqa: S310 - our own loopback Prometheus
        f"{url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}", timeout=5
    ) as response:
        return json.load(response)["data"]["result"]


RATE_WINDOW = "5s"


@pytest.fixture
def prometheus(live, tmp_path, settings):
    """Prometheus scraping the cluster's two expositions every second, once rate() over
    RATE_WINDOW has a full window of samples (rate() divides by the whole range)."""
    settings.METRICS_PROMETHEUS_RATE_WINDOW = RATE_WINDOW
    port = free_port()
    host_port = live.url.split("://", 1)[1].split("/", 1)[0]
    jobs = [
        {
            "job_name": which,
            "scheme": "https",
            "metrics_path": f"/clusters/{live.name}/metrics/{which}",
            "authorization": {"credentials": live.token},
            "tls_config": {"ca_file": live.ca_file},
            "static_configs": [{"targets": [host_port]}],
        }
        for which in ("cadvisor", "kube-state")
    ]
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump({"global": {"scrape_interval": "1s"}, "scrape_configs": jobs}))
    process = subprocess.Popen(  # noqa: S603
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "prometheus.log").open("w"),
    )
    url = f"http://127.0.0.1:{port}"

    def ready():
        try:
            full = prometheus_query(
                url,
                f"min(count_over_time(container_network_receive_bytes_total[{RATE_WINDOW}])) >= 5",
            )
            return full and prometheus_query(url, "count(kube_pod_info)")
        except OSError:
            return False

    try:
        wait_for(ready, timeout=40, what="Prometheus scraping kubesim")
        yield url
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def monitor(tenant, live):
    spec = k8s.Connection(server=live.url, token=live.token, ca_data=live.ca_data)
    cluster = services.import_cluster(actor=None, tenant=tenant, display_name="prom", spec=spec)
    partitions.ensure_partitions(T0 - timedelta(days=1))
    tasks.ensure_monitors()
    return ClusterMonitor.objects.select_related("cluster").get(cluster=cluster)


def latest(cluster, level, key, metric):
    found = store.window(
        cluster.pk, level, metric, T0 - timedelta(minutes=5), T0 + timedelta(minutes=5), keys=[key]
    )
    return found.get(key, [None])[-1]


def test_prometheus_as_the_source_gives_every_level_and_network(monitor, live, prometheus):
    monitor.source = "prometheus"
    monitor.prometheus_url = prometheus
    monitor.save()
    result = collect.collect(monitor, now=T0)
    assert result["ok"], result
    assert result["requests"] >= 15  # instant queries, one per series family
    cluster = monitor.cluster
    keys = {(s.level, s.key) for s in Series.objects.filter(cluster=cluster)}
    assert {level for level, _ in keys} == {
        "cluster",
        "node",
        "namespace",
        "workload",
        "pod",
        "container",
    }
    pods = live.call(lambda c: c.objects("", "pods", "web"))
    api = next(p for p in pods if p["metadata"]["name"].startswith("api-"))["metadata"]["name"]
    assert ("workload", "web/Deployment/api") in keys  # kube_replicaset_owner followed
    assert ("container", f"web/{api}/api") in keys
    # Network: per pod, and summed per workload, namespace, node and cluster.
    rx = latest(cluster, "pod", f"web/{api}", "network_receive_bytes_bw")
    tx = latest(cluster, "pod", f"web/{api}", "network_transmit_bytes_bw")
    # kubesim: receive is base × (0.5 … 1.5) with base 10–90 kB/s; transmit 0.6 × base × its
    # own wave (another phase), so it is at most 0.6 × 1.5 / 0.5 = 1.8 × receive.
    assert 5_000 < rx < 140_000 and 0 < tx < rx * 1.85
    assert latest(cluster, "workload", "web/Deployment/api", "network_receive_bytes_bw") > rx
    assert latest(cluster, "namespace", "web", "network_receive_bytes_bw") > rx
    assert latest(cluster, "cluster", "", "network_transmit_bytes_bw") > tx
    # Usage from rate(container_cpu_usage_seconds_total): the same band as metrics.k8s.io.
    cpu = latest(cluster, "pod", f"web/{api}", "cpu_core_used")
    assert 0.25 * 0.15 < cpu < 0.25 * 0.85
    assert latest(cluster, "node", "node-1", "cpu_core_used") > 0.1
    # kube-state-metrics: requests, capacity, GPUs, phases, readiness.
    assert latest(cluster, "workload", "web/Deployment/api", "cpu_core_request") == 0.5
    assert latest(cluster, "node", "node-3", "gpu_capacity") == 4
    assert latest(cluster, "workload", "ml/Deployment/trainer", "gpu_request") == 1
    assert latest(cluster, "cluster", "", "node_total") == 3
    assert latest(cluster, "namespace", "web", "pod_running") == 5
    assert latest(cluster, "node", "node-1", "status_ready") == 1
    assert latest(cluster, "pod", f"web/{api}", "status_ready") == 1

    # A restart shows at the next collection once Prometheus scraped it.
    live.restart_container("web", api, "api", times=4)
    wait_for(
        lambda: prometheus_query(
            prometheus, f'kube_pod_container_status_restarts_total{{pod="{api}"}} == 4'
        ),
        what="the restart scraped",
    )
    assert collect.collect(monitor, now=T0 + timedelta(minutes=1))["ok"]
    assert latest(cluster, "pod", f"web/{api}", "restart_total") == 4
    assert latest(cluster, "workload", "web/Deployment/api", "restart_total") == 4


def test_an_unreachable_prometheus_is_recorded(monitor):
    monitor.source = "prometheus"
    monitor.prometheus_url = f"http://127.0.0.1:{free_port()}"
    monitor.prometheus_token = "secret-token-value"
    monitor.save()
    result = tasks.collect_cluster_metrics.apply(args=(monitor.cluster_id,)).get()
    assert result["ok"] is False
    monitor.refresh_from_db()
    assert monitor.last_error.startswith(
        f"cluster {monitor.cluster.name} unreachable: Prometheus at {monitor.prometheus_url}"
    )
    assert "secret-token-value" not in monitor.last_error
    assert monitor.consecutive_failures == 1
