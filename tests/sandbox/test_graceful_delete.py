"""Graceful deletion of pods: deletionTimestamp and grace period, ``Terminating`` in lists and
watches, DELETED when the kubelet is done; grace period 0, shortening, finalizers; controllers
replace terminating pods.

A ``sleep`` as PID 1 ignores SIGTERM (as in a real container), so its pod waits out the whole
grace period; an image's own server exits promptly. ``time_scale`` makes 30 simulated seconds
short.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time

import pytest
from kubernetes import client, watch

from .conftest import KUBECTL, pod, raw, running_pod, wait_for

FAST = pytest.mark.cluster_options(time_scale=0.05)  # 30 s grace → 1.5 s


def _sleeper(name: str, **spec) -> dict:
    return pod(
        name,
        containers=[{"name": "main", "image": "busybox:1.37", "command": ["sleep", "3600"]}],
        **spec,
    )


def _gone(core: client.CoreV1Api, ns: str, name: str) -> bool:
    try:
        core.read_namespaced_pod(name, ns)
    except client.ApiException as exc:
        return exc.status == 404
    return False


@FAST
def test_delete_marks_terminating_then_deleted_after_grace_period(core, namespace):
    created = running_pod(core, namespace, _sleeper("slow"))
    events: list[tuple[str, client.V1Pod, float]] = []

    def follow() -> None:
        for event in watch.Watch().stream(
            core.list_namespaced_pod,
            namespace,
            resource_version=created.metadata.resource_version,
            timeout_seconds=8,
        ):
            events.append((event["type"], event["object"], time.monotonic()))
            if event["type"] == "DELETED":
                return

    watcher = threading.Thread(target=follow)
    watcher.start()
    time.sleep(0.2)
    started = time.monotonic()
    answer = core.delete_namespaced_pod("slow", namespace)
    assert answer.metadata.deletion_timestamp is not None
    assert answer.metadata.deletion_grace_period_seconds == 30
    held = core.read_namespaced_pod("slow", namespace)
    assert held.metadata.deletion_timestamp is not None
    assert held.status.phase == "Running"
    watcher.join(timeout=10)
    types = [t for t, _, _ in events]
    assert types[0] == "MODIFIED" and events[0][1].metadata.deletion_timestamp is not None
    assert types[-1] == "DELETED"
    deleted_at = events[-1][2]
    assert 1.3 <= deleted_at - started < 4  # the 30 s grace period, scaled by 0.05
    killed = events[-1][1].status.container_statuses[0].state.terminated
    assert killed.exit_code == 137  # SIGKILL when the grace period ended
    assert _gone(core, namespace, "slow")


def test_app_container_stops_promptly_on_sigterm(core, namespace):
    """The image's own server (no command) exits on SIGTERM: no 30 s wait."""
    running_pod(core, namespace, pod("web", image="nginx:1.27"))
    started = time.monotonic()
    core.delete_namespaced_pod("web", namespace)
    wait_for(lambda: _gone(core, namespace, "web"), "pod gone", timeout=5)
    assert time.monotonic() - started < 2


@FAST
def test_grace_period_zero_deletes_at_once(core, namespace):
    running_pod(core, namespace, _sleeper("now"))
    core.delete_namespaced_pod("now", namespace, grace_period_seconds=0)
    assert _gone(core, namespace, "now")


@FAST
def test_a_later_delete_may_only_shorten_the_grace_period(core, namespace):
    running_pod(core, namespace, _sleeper("shorter"))
    first = core.delete_namespaced_pod("shorter", namespace, grace_period_seconds=60)
    assert first.metadata.deletion_grace_period_seconds == 60
    longer = core.delete_namespaced_pod("shorter", namespace, grace_period_seconds=120)
    assert longer.metadata.deletion_grace_period_seconds == 60
    assert longer.metadata.deletion_timestamp == first.metadata.deletion_timestamp
    second = core.delete_namespaced_pod("shorter", namespace, grace_period_seconds=10)
    assert second.metadata.deletion_grace_period_seconds == 10
    assert second.metadata.deletion_timestamp < first.metadata.deletion_timestamp
    wait_for(lambda: _gone(core, namespace, "shorter"), "gone after 10 s scaled", timeout=3)


def test_unscheduled_pod_is_deleted_at_once(core, namespace):
    core.create_namespaced_pod(namespace, _sleeper("nowhere", nodeSelector={"zone": "mars"}))
    core.delete_namespaced_pod("nowhere", namespace)
    assert _gone(core, namespace, "nowhere")


def test_bad_grace_period_is_refused(api, namespace, core):
    core.create_namespaced_pod(namespace, _sleeper("odd"))
    path = f"/api/v1/namespaces/{namespace}/pods/odd"
    by_query = raw(api, "DELETE", path, query=[("gracePeriodSeconds", "soon")])
    by_body = raw(api, "DELETE", path, body={"gracePeriodSeconds": "soon"})
    for answer in (by_query, by_body):
        assert answer.status == 400
        assert answer.json["message"].startswith('gracePeriodSeconds: invalid value "soon"')
    assert core.read_namespaced_pod("odd", namespace).metadata.deletion_timestamp is None


@FAST
def test_finalizers_hold_a_terminated_pod(core, namespace):
    running_pod(core, namespace, _sleeper("held", **{}))
    core.patch_namespaced_pod("held", namespace, {"metadata": {"finalizers": ["example.com/x"]}})
    core.delete_namespaced_pod("held", namespace, grace_period_seconds=1)

    def kubelet_done():
        found = core.read_namespaced_pod("held", namespace)
        return found.metadata.deletion_grace_period_seconds == 0 and found

    found = wait_for(kubelet_done, "kubelet finished", timeout=5)
    assert found.status.container_statuses[0].state.terminated is not None
    assert found.metadata.finalizers == ["example.com/x"]
    core.patch_namespaced_pod("held", namespace, {"metadata": {"finalizers": None}})
    assert _gone(core, namespace, "held")


@FAST
def test_replicaset_replaces_terminating_pods(apps_api, core, namespace):
    apps_api.create_namespaced_replica_set(
        namespace,
        {
            "metadata": {"name": "sleepers"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "sleepers"}},
                "template": {
                    "metadata": {"labels": {"app": "sleepers"}},
                    "spec": {
                        "containers": [
                            {"name": "main", "image": "busybox", "command": ["sleep", "3600"]}
                        ]
                    },
                },
            },
        },
    )
    wait_for(
        lambda: (
            apps_api.read_namespaced_replica_set("sleepers", namespace).status.ready_replicas == 2
        ),
        "2 ready",
    )
    victim = core.list_namespaced_pod(namespace).items[0].metadata.name
    core.delete_namespaced_pod(victim, namespace)

    def replaced():
        pods = core.list_namespaced_pod(namespace).items
        terminating = [p for p in pods if p.metadata.deletion_timestamp]
        return len(pods) == 3 and [p.metadata.name for p in terminating] == [victim] and pods

    pods = wait_for(replaced, "replacement beside the terminating pod", timeout=3)
    assert victim in {p.metadata.name for p in pods}
    assert apps_api.read_namespaced_replica_set("sleepers", namespace).status.replicas == 2
    wait_for(lambda: len(core.list_namespaced_pod(namespace).items) == 2, "victim gone")


@pytest.mark.cluster_options(time_scale=0.2)  # 30 s grace → 6 s, time enough for kubectl
def test_kubectl_delete_wait_false_then_get_shows_terminating(kubectl, core):
    kubectl("run", "bye", "--image=busybox", "--", "sleep", "3600")
    wait_for(
        lambda: core.read_namespaced_pod("bye", "default").status.phase == "Running", "running"
    )
    out = kubectl("delete", "pod", "bye", "--wait=false").stdout
    assert out.strip() == 'pod "bye" deleted from default namespace'
    row = kubectl("get", "pod", "bye", "--no-headers").stdout.split()
    assert row[:3] == ["bye", "1/1", "Terminating"]
    wide = kubectl("get", "pod", "bye", "-o", "json").stdout
    assert json.loads(wide)["metadata"]["deletionGracePeriodSeconds"] == 30
    wait_for(lambda: _gone(core, "default", "bye"), "deleted", timeout=10)
    missing = kubectl("get", "pod", "bye", check=False)
    assert missing.returncode == 1
    assert 'pods "bye" not found' in missing.stderr


@pytest.mark.cluster_options(time_scale=0.05)
def test_kubectl_get_watch_sees_terminating_then_deletion(kubectl, core, namespace):
    running_pod(core, namespace, _sleeper("watched"))
    proc = subprocess.Popen(
        [KUBECTL, "get", "pods", "-n", namespace, "-w", "--output-watch-events", "--no-headers"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=kubectl.env,
    )
    try:
        first = proc.stdout.readline().split()
        assert first[:4] == ["ADDED", "watched", "1/1", "Running"]
        core.delete_namespaced_pod("watched", namespace)
        lines = []
        while True:
            line = proc.stdout.readline().split()
            assert line, f"watch ended early after {lines}"
            lines.append(line[:4])
            if line[0] == "DELETED":
                break
    finally:
        proc.kill()
        proc.wait()
    assert lines[0] == ["MODIFIED", "watched", "1/1", "Terminating"]
    assert lines[-1][:2] == ["DELETED", "watched"]
