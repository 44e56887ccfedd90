"""kubesim's Prometheus text exposition: ``/metrics/cadvisor`` (moving counters, network,
node root cgroups) and ``/metrics/kube-state`` (kube-state-metrics v2 series), in a format
promtool accepts; and the controls that change restarts and phases."""

from __future__ import annotations

import re
import subprocess
import time

import pytest
import urllib3

from .conftest import wait_for

pytestmark = [pytest.mark.simulator_only, pytest.mark.cluster_options(seed=True)]
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape(handle, which: str, token: str | None = None) -> tuple[int, str]:
    pool = urllib3.PoolManager(ca_certs=handle.ca_file, retries=False)
    response = pool.request(
        "GET",
        f"{handle.url}/metrics/{which}",
        headers={"Authorization": f"Bearer {token or handle.token}"},
    )
    return response.status, response.data.decode()


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, line
        out.append((match[1], dict(LABEL.findall(match[2] or "")), float(match[3])))
    return out


def find(found, name: str, **labels) -> list[float]:
    return [v for n, ls, v in found if n == name and all(ls.get(k) == w for k, w in labels.items())]


@pytest.fixture
def seeded(cluster):
    handle = cluster.sim

    def running():
        pods = handle.call(lambda c: c.objects("", "pods"))
        return len(pods) >= 10 and all(
            p["status"].get("phase") in ("Running", "Succeeded") for p in pods
        )

    wait_for(running, "seeded pods running")
    return handle


def test_expositions_pass_promtool(seeded):
    for which in ("cadvisor", "kube-state"):
        status, text = scrape(seeded, which)
        assert status == 200
        check = subprocess.run(
            ["/usr/bin/promtool", "check", "metrics"],
            input=text,
            capture_output=True,
            text=True,
            check=False,
        )
        # A parse error or a lint problem (naming, units, help) makes it exit non-zero.
        assert check.returncode == 0, check.stdout + check.stderr


def test_exposition_needs_the_cluster_token(seeded):
    status, _ = scrape(seeded, "cadvisor", token="not-the-token")
    assert status == 401


def test_cadvisor_counters_grow_and_track_metrics_server(seeded):
    _, text = scrape(seeded, "cadvisor")
    first = samples(text)
    pods = seeded.call(lambda c: c.objects("", "pods", "web"))
    api = next(p for p in pods if p["metadata"]["name"].startswith("api-"))
    name, node = api["metadata"]["name"], api["spec"]["nodeName"]
    who = {"namespace": "web", "pod": name}
    (cpu0,) = find(first, "container_cpu_usage_seconds_total", container="api", **who)
    (rx0,) = find(first, "container_network_receive_bytes_total", interface="eth0", **who)
    (tx0,) = find(first, "container_network_transmit_bytes_total", **who)
    (root0,) = find(first, "container_cpu_usage_seconds_total", id="/", node=node)
    (mem,) = find(first, "container_memory_working_set_bytes", container="api", **who)
    assert 0.5 * 256 * 2**20 <= mem <= 0.9 * 256 * 2**20  # the metrics.k8s.io wave
    time.sleep(2.0)
    second = samples(scrape(seeded, "cadvisor")[1])
    (cpu1,) = find(second, "container_cpu_usage_seconds_total", container="api", **who)
    (rx1,) = find(second, "container_network_receive_bytes_total", **who)
    (tx1,) = find(second, "container_network_transmit_bytes_total", **who)
    (root1,) = find(second, "container_cpu_usage_seconds_total", id="/", node=node)
    # 250m requested: between 0.2 and 0.8 of it per second.
    assert 0.25 * 0.2 * 1.5 < cpu1 - cpu0 < 0.25 * 0.8 * 3
    assert rx1 - rx0 > 2 * 5_000 and tx1 - tx0 > 0
    assert root1 - root0 > cpu1 - cpu0  # the node's root cgroup holds its pods and more
    assert {ls["node"] for n, ls, _ in second if ls.get("id") == "/"} == {
        "node-1",
        "node-2",
        "node-3",
    }


def test_kube_state_series_of_nodes_pods_and_owners(seeded):
    found = samples(scrape(seeded, "kube-state")[1])
    assert find(found, "kube_node_status_capacity", node="node-3", resource="nvidia_com_gpu") == [
        4.0
    ]
    assert find(found, "kube_node_status_capacity", node="node-1", resource="cpu", unit="core") == [
        8.0
    ]
    assert find(
        found, "kube_node_status_condition", node="node-1", condition="Ready", status="true"
    ) == [1.0]
    pods = seeded.call(lambda c: c.objects("", "pods", "web"))
    api = next(p for p in pods if p["metadata"]["name"].startswith("api-"))
    name = api["metadata"]["name"]
    rs = api["metadata"]["ownerReferences"][0]["name"]
    who = {"namespace": "web", "pod": name}
    assert find(found, "kube_pod_status_phase", phase="Running", **who) == [1.0]
    assert find(found, "kube_pod_status_phase", phase="Failed", **who) == [0.0]
    assert find(found, "kube_pod_owner", owner_kind="ReplicaSet", owner_name=rs, **who) == [1.0]
    assert find(
        found, "kube_replicaset_owner", replicaset=rs, owner_kind="Deployment", owner_name="api"
    ) == [1.0]
    assert find(
        found, "kube_pod_container_resource_requests", container="api", resource="cpu", **who
    ) == [0.25]
    assert find(
        found, "kube_pod_container_resource_limits", resource="memory", unit="byte", **who
    ) == [256 * 2**20]
    trainer = next(
        p["metadata"]["name"]
        for p in seeded.call(lambda c: c.objects("", "pods", "ml"))
        if p["metadata"]["name"].startswith("trainer-")
    )
    assert find(
        found,
        "kube_pod_container_resource_requests",
        pod=trainer,
        resource="nvidia_com_gpu",
        unit="integer",
    ) == [1.0]
    assert find(found, "kube_job_owner", job_name="preprocess", owner_kind="<none>")


def test_restarts_and_phase_can_be_changed(seeded):
    pods = seeded.call(lambda c: c.objects("", "pods", "web"))
    name = next(p for p in pods if p["metadata"]["name"].startswith("frontend-"))["metadata"][
        "name"
    ]
    assert seeded.restart_container("web", name, "frontend", times=2) == 2
    seeded.set_pod_phase("web", name, "Failed")
    found = samples(scrape(seeded, "kube-state")[1])
    who = {"namespace": "web", "pod": name}
    assert find(found, "kube_pod_container_status_restarts_total", **who) == [2.0]
    assert find(found, "kube_pod_status_phase", phase="Failed", **who) == [1.0]
    assert find(found, "kube_pod_status_ready", condition="true", **who) == [0.0]
    assert find(found, "kube_pod_container_status_ready", **who) == [0.0]
    # A failed pod's containers no longer run: cAdvisor has no series for them.
    assert not find(
        samples(scrape(seeded, "cadvisor")[1]), "container_cpu_usage_seconds_total", **who
    )
