"""A kubectl session against the cluster: the real binary, as an operator uses it."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.pty_session import PtySession

from .conftest import KUBECTL, deployment, pod, running_pod, to_yaml, wait_for


def test_get_prints_server_side_tables(kubectl, core, namespace):
    running_pod(core, namespace, pod("tbl"))
    out = kubectl("get", "pods", "-n", namespace).stdout.splitlines()
    assert out[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert out[1].split()[:3] == ["tbl", "1/1", "Running"]
    wide = kubectl("get", "nodes", "-o", "wide").stdout.splitlines()
    assert wide[0].split()[:5] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert "INTERNAL-IP" in wide[0]


def test_apply_diff_scale_and_rollout_undo(kubectl, apps_api, namespace):
    manifest = deployment("web", replicas=2, image="nginx:1.27")
    assert "created" in kubectl("apply", "-n", namespace, "-f", "-", stdin=to_yaml(manifest)).stdout
    kubectl("rollout", "status", "-n", namespace, "deployment/web", "--timeout=20s")
    assert (
        "unchanged" in kubectl("apply", "-n", namespace, "-f", "-", stdin=to_yaml(manifest)).stdout
    )
    changed = deployment("web", replicas=2, image="nginx:1.28")
    diff = kubectl("diff", "-n", namespace, "-f", "-", stdin=to_yaml(changed), check=False)
    assert diff.returncode == 1
    assert (
        "-        image: nginx:1.27" in diff.stdout or "-      - image: nginx:1.27" in diff.stdout
    )
    assert "+      - image: nginx:1.28" in diff.stdout or "image: nginx:1.28" in diff.stdout
    kubectl("apply", "-n", namespace, "-f", "-", stdin=to_yaml(changed))
    kubectl("rollout", "status", "-n", namespace, "deployment/web", "--timeout=20s")
    kubectl("scale", "-n", namespace, "deployment/web", "--replicas=3")
    wait_for(
        lambda: (
            (apps_api.read_namespaced_deployment("web", namespace).status.ready_replicas or 0) == 3
        ),
        "3 ready replicas",
    )
    history = kubectl("rollout", "history", "-n", namespace, "deployment/web").stdout
    assert "1 " in history and "2 " in history
    kubectl("rollout", "undo", "-n", namespace, "deployment/web")
    kubectl("rollout", "status", "-n", namespace, "deployment/web", "--timeout=20s")
    live = apps_api.read_namespaced_deployment("web", namespace)
    assert live.spec.template.spec.containers[0].image == "nginx:1.27"
    assert live.metadata.annotations["deployment.kubernetes.io/revision"] == "3"
    table = kubectl("get", "deploy", "web", "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert table[1].split()[:4] == ["web", "3/3", "3", "3"]


def test_server_side_apply_with_kubectl(kubectl, namespace):
    manifest = to_yaml(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"a": "1"}}
    )
    kubectl("apply", "--server-side", "-n", namespace, "-f", "-", stdin=manifest)
    kubectl("patch", "-n", namespace, "configmap", "ssa", "-p", '{"data":{"a":"2"}}')
    conflict = kubectl(
        "apply", "--server-side", "-n", namespace, "-f", "-", stdin=manifest, check=False
    )
    assert conflict.returncode != 0 and "conflict" in conflict.stderr.lower()
    kubectl(
        "apply", "--server-side", "--force-conflicts", "-n", namespace, "-f", "-", stdin=manifest
    )
    data = json.loads(kubectl("get", "cm", "ssa", "-n", namespace, "-o", "json").stdout)["data"]
    assert data == {"a": "1"}


def test_apply_validation_rejects_unknown_fields(kubectl, namespace):
    bad = to_yaml(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bad"}, "dataa": {"a": "1"}}
    )
    proc = kubectl("apply", "-n", namespace, "-f", "-", stdin=bad, check=False)
    assert proc.returncode != 0 and 'unknown field "dataa"' in proc.stderr


def test_exec_interactive_through_a_pty(cluster, kubectl, core, namespace):
    running_pod(core, namespace, pod("tty"))
    session = PtySession([KUBECTL, "exec", "-it", "-n", namespace, "tty", "--", "sh"], kubectl.env)
    session.read_until(b"# ")
    session.type(b"echo hello-from-$HOSTNAME\r")
    session.read_until(b"hello-from-tty\r\n")
    session.type(b"exit 5\r")
    assert session.finish() == 5
    assert b"hello-from-tty" in session.output


@pytest.mark.simulator_only
def test_logs_follow(cluster, kubectl, core, namespace):
    running_pod(core, namespace, pod("lf"))
    proc = subprocess.Popen(
        [KUBECTL, "logs", "-f", "-n", namespace, "lf"],
        env=kubectl.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        first = proc.stdout.readline()
        assert first
        cluster.sim.append_log(namespace, "lf", "main", "streamed-line")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if b"streamed-line" in line:
                break
        else:
            raise AssertionError("kubectl logs -f did not stream the new line")
    finally:
        proc.kill()
        proc.wait()


def test_top_nodes_and_pods(kubectl, core, namespace):
    running_pod(core, namespace, pod("busy"))
    out = kubectl("top", "nodes").stdout.splitlines()
    assert out[0].split()[:3] == ["NAME", "CPU(cores)", "CPU(%)"]
    assert len(out) >= 2
    pods = kubectl("top", "pods", "-n", namespace).stdout
    assert "busy" in pods


def test_cordon_and_drain(kubectl, core, apps_api, namespace):
    apps_api.create_namespaced_deployment(namespace, deployment("d", replicas=3))
    wait_for(
        lambda: (
            (apps_api.read_namespaced_deployment("d", namespace).status.ready_replicas or 0) == 3
        ),
        "ready deployment",
    )
    node = core.list_namespaced_pod(namespace).items[0].spec.node_name
    kubectl("cordon", node)
    assert core.read_node(node).spec.unschedulable is True
    assert "SchedulingDisabled" in kubectl("get", "node", node).stdout
    kubectl(
        "drain", node, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=30s", timeout=60
    )
    wait_for(
        lambda: (
            all(p.spec.node_name != node for p in core.list_namespaced_pod(namespace).items)
            and (apps_api.read_namespaced_deployment("d", namespace).status.ready_replicas or 0)
            == 3
        ),
        "pods moved off the node",
        20,
    )
    kubectl("uncordon", node)
    assert not core.read_node(node).spec.unschedulable
