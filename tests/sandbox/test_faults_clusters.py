"""Fault injection, several clusters per process, seeding, metrics, CRDs."""

from __future__ import annotations

import json
import threading
import time

import pytest
import urllib3
from kubernetes import client, watch
from kubernetes.stream import stream
from websocket import WebSocketConnectionClosedException

from .conftest import make_api, new_cluster, pod, raw, running_pod, wait_for

pytestmark = pytest.mark.simulator_only


def test_fail_rule_answers_status_then_clears(cluster, core, namespace):
    rule = cluster.sim.faults.fail(503, method="GET", path=r"/configmaps", times=1)
    with pytest.raises(client.ApiException) as err:
        core.list_namespaced_config_map(namespace)
    assert err.value.status == 503
    assert json.loads(err.value.body)["reason"] == "ServiceUnavailable"
    core.list_namespaced_config_map(namespace)
    assert rule.hits == 1


def test_delay_rule_adds_latency(cluster, core, namespace):
    # A wide gap between the delay and an ordinary request (a few ms) so a busy machine
    # cannot make the undelayed request look delayed.
    cluster.sim.faults.delay(1.0, path=r"/configmaps$")
    started = time.monotonic()
    core.list_namespaced_config_map(namespace)
    assert time.monotonic() - started >= 1.0
    started = time.monotonic()
    core.list_namespaced_secret(namespace)
    assert time.monotonic() - started < 1.0


def test_shared_port_cluster_down_drops_connections(cluster, core):
    cluster.sim.faults.down()
    with pytest.raises(urllib3.exceptions.MaxRetryError):
        core.list_namespace(_request_timeout=5)
    cluster.sim.faults.up()
    assert core.list_namespace().items


def test_own_port_cluster_down_refuses_connections(kubesim, tmp_path):
    target = new_cluster(kubesim, tmp_path, own_port=True)
    try:
        assert f":{target.handle.port}" in target.handle.url
        with make_api(target.kubeconfig) as api:
            core = client.CoreV1Api(api)
            assert core.list_namespace().items
            target.handle.faults.down()
            with pytest.raises(urllib3.exceptions.MaxRetryError):
                core.list_namespace(_request_timeout=5)  # the kept-alive connection drops
        with make_api(target.kubeconfig) as api:
            with pytest.raises(urllib3.exceptions.MaxRetryError) as err:
                client.CoreV1Api(api).list_namespace(_request_timeout=5)
            assert "refused" in str(err.value).lower()
            target.handle.faults.up()
            assert client.CoreV1Api(api).list_namespace().items
    finally:
        kubesim.remove_cluster(target.handle.name)


def test_drop_watch_mid_stream(cluster, core, namespace):
    cluster.sim.faults.drop_watch(after_events=1, path=r"/configmaps")
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "a"}})
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "b"}})
    seen = []
    with pytest.raises(urllib3.exceptions.ProtocolError):
        for event in watch.Watch().stream(
            core.list_namespaced_config_map, namespace, timeout_seconds=5
        ):
            seen.append(event["object"].metadata.name)
    assert len(seen) == 1


def test_drop_exec_mid_stream(cluster, core, namespace):
    running_pod(core, namespace, pod("ex"))
    cluster.sim.faults.drop_exec(after_frames=1)
    resp = stream(
        core.connect_get_namespaced_pod_exec,
        "ex",
        namespace,
        command=["sh", "-c", "echo one; echo two"],
        stderr=True,
        stdin=False,
        stdout=True,
        tty=False,
        _preload_content=False,
    )
    with pytest.raises(WebSocketConnectionClosedException):
        resp.run_forever(timeout=5)
    assert resp.read_stdout() == "one\n"


def test_clusters_are_isolated_with_their_own_tokens(kubesim, tmp_path, cluster, core):
    other = new_cluster(kubesim, tmp_path)
    try:
        core.create_namespace({"metadata": {"name": "only-here"}})
        with make_api(other.kubeconfig) as api:
            assert "only-here" not in {
                n.metadata.name for n in client.CoreV1Api(api).list_namespace().items
            }
        mixed = other.kubeconfig.read_text().replace(other.handle.token, cluster.handle.token)
        wrong = tmp_path / "mixed"
        wrong.write_text(mixed)
        with make_api(wrong) as api, pytest.raises(client.ApiException) as err:
            client.CoreV1Api(api).list_namespace()
        assert err.value.status == 401
    finally:
        kubesim.remove_cluster(other.handle.name)


@pytest.mark.cluster_options(nodes=3, seed=True, controller=True)
def test_seeded_cluster_has_mixed_nodes_gpus_workloads_and_quotas(cluster, api, core):
    nodes = core.list_node().items
    arches = {n.metadata.labels["kubernetes.io/arch"] for n in nodes}
    assert arches == {"amd64", "arm64"}
    gpu = [n for n in nodes if "nvidia.com/gpu" in (n.status.capacity or {})]
    assert gpu and gpu[0].metadata.labels["nvidia.com/gpu.present"] == "true"
    assert gpu[0].status.allocatable["nvidia.com/gpu"] == "4"
    assert {"web", "data", "ml"} <= {n.metadata.name for n in core.list_namespace().items}
    assert core.list_namespaced_resource_quota("web").items
    apps_api = client.AppsV1Api(api)
    wait_for(
        lambda: (
            (apps_api.read_namespaced_deployment("trainer", "ml").status.ready_replicas or 0) == 1
        ),
        "GPU workload scheduled",
    )
    trainer = core.list_namespaced_pod("ml", label_selector="app=trainer").items[0]
    assert trainer.spec.node_name == gpu[0].metadata.name


@pytest.mark.cluster_options(nodes=2)
def test_metrics_api_serves_nodes_and_pods(api, core, namespace):
    running_pod(core, namespace, pod("m"))
    custom = client.CustomObjectsApi(api)
    nodes = custom.list_cluster_custom_object("metrics.k8s.io", "v1beta1", "nodes")
    assert {i["metadata"]["name"] for i in nodes["items"]} == {"node-1", "node-2"}
    assert nodes["items"][0]["usage"]["cpu"].endswith("n")
    pods = custom.list_namespaced_custom_object("metrics.k8s.io", "v1beta1", namespace, "pods")
    assert pods["items"][0]["containers"][0]["usage"]["memory"].endswith("Ki")


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {
            "plural": "widgets",
            "singular": "widget",
            "kind": "Widget",
            "shortNames": ["wd"],
        },
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {
                    "status": {},
                    "scale": {
                        "specReplicasPath": ".spec.size",
                        "statusReplicasPath": ".status.size",
                    },
                },
                "additionalPrinterColumns": [
                    {"name": "Size", "type": "integer", "jsonPath": ".spec.size"}
                ],
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "size": {"type": "integer"},
                                    "color": {"type": "string"},
                                },
                            },
                            "status": {
                                "type": "object",
                                "properties": {"size": {"type": "integer"}},
                            },
                        },
                    }
                },
            }
        ],
    },
}


def test_crd_and_custom_resources(api, kubectl, namespace):
    ext = client.ApiextensionsV1Api(api)
    ext.create_custom_resource_definition(CRD)
    wait_for(
        lambda: any(
            c.type == "Established" and c.status == "True"
            for c in ext.read_custom_resource_definition("widgets.example.com").status.conditions
            or []
        ),
        "Established",
    )
    custom = client.CustomObjectsApi(api)
    created = custom.create_namespaced_custom_object(
        "example.com",
        "v1",
        namespace,
        "widgets",
        {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w1"},
            "spec": {"size": 2, "color": "red", "junk": True},
        },
    )
    assert created["metadata"]["uid"] and "junk" not in created["spec"]
    with pytest.raises(client.ApiException) as err:
        custom.create_namespaced_custom_object(
            "example.com",
            "v1",
            namespace,
            "widgets",
            {
                "apiVersion": "example.com/v1",
                "kind": "Widget",
                "metadata": {"name": "w2"},
                "spec": {"size": "big"},
            },
        )
    assert err.value.status == 422
    resp = raw(
        api,
        "PATCH",
        f"/apis/example.com/v1/namespaces/{namespace}/widgets/w1",
        headers={"Content-Type": "application/strategic-merge-patch+json"},
        body={"spec": {"size": 3}},
    )
    assert resp.status == 415
    custom.patch_namespaced_custom_object_scale(
        "example.com", "v1", namespace, "widgets", "w1", {"spec": {"replicas": 5}}
    )
    assert (
        custom.get_namespaced_custom_object("example.com", "v1", namespace, "widgets", "w1")[
            "spec"
        ]["size"]
        == 5
    )
    table = kubectl("get", "widgets", "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "SIZE"] and table[1].split() == ["w1", "5"]
    assert "w1" in kubectl("get", "wd", "-n", namespace).stdout
    ext.delete_custom_resource_definition("widgets.example.com")
    resp = raw(api, "GET", f"/apis/example.com/v1/namespaces/{namespace}/widgets")
    assert resp.status == 404


def test_watch_event_delivery_in_other_thread_is_fast(core, namespace):
    rv = core.list_namespaced_config_map(namespace).metadata.resource_version
    got = threading.Event()

    def run():
        for _ in watch.Watch().stream(
            core.list_namespaced_config_map, namespace, resource_version=rv, timeout_seconds=5
        ):
            got.set()
            return

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.1)
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "ping"}})
    assert got.wait(2)
    thread.join(5)
