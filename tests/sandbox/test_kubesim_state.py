"""kubesim's state survives a restart (``make run`` keeps it in ``var/kubesim-state.json``):
the snapshot/restore round trip in-process (a Deployment with its ReplicaSet and Pods, a
CRD and its custom resource, uids kept, no duplicate ReplicaSet), and ``manage.py kubesim
--state`` stopped and started again as ``make run`` does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kubernetes import client

from apps.sandbox.kubesim import snapshot
from tests.sandbox.conftest import make_api, new_cluster

pytestmark = pytest.mark.simulator_only

ROOT = Path(__file__).resolve().parents[2]

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.demo.example.com"},
    "spec": {
        "group": "demo.example.com",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
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


def deployment(name: str) -> dict:
    labels = {"app": name}
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]},
            },
        },
    }


def wait(predicate, what: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_snapshot_round_trip_keeps_objects_and_controllers_agree(kubesim, tmp_path):
    source = new_cluster(kubesim, tmp_path, nodes=2)
    with make_api(source.kubeconfig) as api:
        core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
        core.create_namespace({"metadata": {"name": "shop"}})
        core.create_namespaced_config_map(
            "shop", {"metadata": {"name": "settings"}, "data": {"color": "blue"}}
        )
        made = apps.create_namespaced_deployment("shop", deployment("web"))
        wait(lambda: len(core.list_namespaced_pod("shop").items) == 2, "two pods")
        client.ApiextensionsV1Api(api).create_custom_resource_definition(CRD)
        custom = client.CustomObjectsApi(api)
        wait(lambda: _served(custom), "the CRD to be served")
        custom.create_namespaced_custom_object(
            "demo.example.com", "v1", "shop", "widgets",
            {"apiVersion": "demo.example.com/v1", "kind": "Widget",
             "metadata": {"name": "gear"}, "spec": {"teeth": 12}},
        )  # fmt: skip
        pods_before = sorted(p.metadata.uid for p in core.list_namespaced_pod("shop").items)
    path = tmp_path / "state.json"
    snapshot.save([source.handle.cluster], path)
    saved = snapshot.load(path)[source.handle.name]

    # a fresh, unseeded cluster gets the saved objects
    target = new_cluster(kubesim, tmp_path, nodes=0)

    async def restore():
        return snapshot.restore_cluster(target.handle.cluster, saved)

    assert kubesim.run(restore()) > 10
    with make_api(target.kubeconfig) as api:
        core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
        assert core.read_namespaced_config_map("settings", "shop").data == {"color": "blue"}
        again = apps.read_namespaced_deployment("web", "shop")
        assert again.metadata.uid == made.metadata.uid
        assert int(again.metadata.resource_version) > int(saved["rv"]) - 1
        assert len(core.list_node().items) == 2
        time.sleep(1.0)  # let the controllers act on what they found
        assert len(apps.list_namespaced_replica_set("shop").items) == 1
        pods = sorted(p.metadata.uid for p in core.list_namespaced_pod("shop").items)
        assert pods == pods_before
        widget = client.CustomObjectsApi(api).get_namespaced_custom_object(
            "demo.example.com", "v1", "shop", "widgets", "gear"
        )
        assert widget["spec"] == {"teeth": 12}
    for handle in (source.handle, target.handle):
        kubesim.remove_cluster(handle.name)


def _served(custom) -> bool:
    try:
        custom.list_namespaced_custom_object("demo.example.com", "v1", "shop", "widgets")
    except client.ApiException:
        return False
    return True


def test_load_ignores_a_missing_or_foreign_file(tmp_path):
    assert snapshot.load(tmp_path / "none.json") == {}
    (tmp_path / "bad.json").write_text("{not json")
    assert snapshot.load(tmp_path / "bad.json") == {}
    (tmp_path / "old.json").write_text('{"format": 0, "clusters": {"x": {}}}')
    assert snapshot.load(tmp_path / "old.json") == {}


def _start(tmp_path: Path, port: int, state: Path) -> tuple[subprocess.Popen, Path]:
    kubeconfig = tmp_path / f"k{port}.yaml"
    kubeconfig.unlink(missing_ok=True)  # written once the server listens
    process = subprocess.Popen(
        [sys.executable, "manage.py", "kubesim", "--clusters", "demo:1", "--port", str(port),
         "--kubeconfig", str(kubeconfig), "--state", str(state), "--save-every", "60"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tkeportal.settings.dev"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    wait(lambda: kubeconfig.exists() and kubeconfig.stat().st_size, "kubesim to start", 30)
    return process, kubeconfig


def _stop(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=30)
    return out


def test_manage_kubesim_state_survives_a_restart(tmp_path):
    from tests.live import _free_port

    port, state = _free_port(), tmp_path / "kubesim-state.json"
    process, kubeconfig = _start(tmp_path, port, state)
    try:
        with make_api(kubeconfig) as api:
            made = client.CoreV1Api(api).create_namespaced_config_map(
                "default", {"metadata": {"name": "kept"}, "data": {"a": "1"}}
            )
    finally:
        out = _stop(process)
    assert f"kubesim state saved to {state}" in out
    process, kubeconfig = _start(tmp_path, port, state)
    try:
        with make_api(kubeconfig) as api:
            kept = client.CoreV1Api(api).read_namespaced_config_map("kept", "default")
            nodes = client.CoreV1Api(api).list_node().items
    finally:
        out = _stop(process)
    assert kept.metadata.uid == made.metadata.uid and kept.data == {"a": "1"}
    assert len(nodes) == 1  # the saved node, not a second seed
    assert "objects restored from" in out
    # the documented reset: delete the file, and the seeded demo comes back
    state.unlink()
    process, kubeconfig = _start(tmp_path, port, state)
    try:
        with make_api(kubeconfig) as api:
            names = [c.metadata.name for c in client.CoreV1Api(api).list_namespaced_config_map(
                "default").items]  # fmt: skip
    finally:
        _stop(process)
    assert "kept" not in names
