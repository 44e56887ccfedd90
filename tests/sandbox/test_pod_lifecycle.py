"""Pods run as long as their command says: exit codes, restartPolicy, the kubelet's crash-loop
back-off, terminal phases, and Jobs that complete or fail from real exit codes.

Clusters here run the simulated kubelet's clock fast (``time_scale``) where the test waits out
simulated minutes; the assertions are on what the API shows, as a real cluster would.
"""

from __future__ import annotations

import json
import time

import pytest
from kubernetes import client, watch

from .conftest import pod, running_pod, wait_for


def _phase(core: client.CoreV1Api, ns: str, name: str, phase: str) -> client.V1Pod | None:
    found = core.read_namespaced_pod(name, ns)
    return found if found.status.phase == phase else None


def _scripted(name: str, script: str, policy: str = "Always") -> dict:
    return pod(
        name,
        restartPolicy=policy,
        containers=[{"name": "main", "image": "busybox:1.37", "command": ["sh", "-c", script]}],
    )


def test_kubectl_run_sleep_stays_running(kubectl, core):
    """``kubectl run x --image=busybox -- sleep 3600`` runs (args alone are the command) and
    is still Running, not restarted, after the old fixed run-to-completion delay."""
    kubectl("run", "napper", "--image=busybox", "--", "sleep", "3600")
    wait_for(lambda: _phase(core, "default", "napper", "Running"), "napper running")
    time.sleep(1.0)
    found = core.read_namespaced_pod("napper", "default")
    assert found.spec.containers[0].args == ["sleep", "3600"]
    assert found.status.phase == "Running"
    status = found.status.container_statuses[0]
    assert status.state.running is not None and status.restart_count == 0
    out = kubectl("get", "pod", "napper", "--no-headers").stdout.split()
    assert out[:4] == ["napper", "1/1", "Running", "0"]
    # the API server's JSON: lastState is a struct, present and empty before any termination
    wire = json.loads(kubectl("get", "pod", "napper", "-o", "json").stdout)
    assert wire["status"]["containerStatuses"][0]["lastState"] == {}


def test_exit_code_is_recorded_and_fails_the_pod(core, namespace, kubectl):
    core.create_namespaced_pod(
        namespace, _scripted("three", "echo starting; exit 3", policy="Never")
    )
    found = wait_for(lambda: _phase(core, namespace, "three", "Failed"), "pod failed")
    term = found.status.container_statuses[0].state.terminated
    assert (term.exit_code, term.reason) == (3, "Error")
    assert found.status.container_statuses[0].restart_count == 0
    ready = next(c for c in found.status.conditions if c.type == "Ready")
    assert ready.status == "False" and ready.reason == "PodCompleted"
    assert core.read_namespaced_pod_log("three", namespace) == "starting\n"
    row = kubectl("get", "pod", "three", "-n", namespace, "--no-headers").stdout.split()
    assert row[1:3] == ["0/1", "Error"]


def test_true_succeeds(core, namespace, kubectl):
    body = pod(
        "ok",
        restartPolicy="Never",
        containers=[{"name": "main", "image": "busybox", "command": ["true"]}],
    )
    core.create_namespaced_pod(namespace, body)
    found = wait_for(lambda: _phase(core, namespace, "ok", "Succeeded"), "pod succeeded")
    term = found.status.container_statuses[0].state.terminated
    assert (term.exit_code, term.reason) == (0, "Completed")
    row = kubectl("get", "pod", "ok", "-n", namespace, "--no-headers").stdout.split()
    assert row[1:3] == ["0/1", "Completed"]


@pytest.mark.cluster_options(time_scale=0.25)
def test_sleep_then_exit_runs_for_its_time(core, namespace):
    """``sleep 4; exit 0`` runs 4 simulated seconds (1 s at this scale), then succeeds."""
    core.create_namespaced_pod(namespace, _scripted("timed", "sleep 4; exit 0", "Never"))
    wait_for(lambda: _phase(core, namespace, "timed", "Running"), "running")
    started = time.monotonic()
    time.sleep(0.5)
    assert core.read_namespaced_pod("timed", namespace).status.phase == "Running"
    wait_for(lambda: _phase(core, namespace, "timed", "Succeeded"), "succeeded", timeout=5)
    assert 0.7 <= time.monotonic() - started < 3


@pytest.mark.cluster_options(time_scale=0.002)
def test_crash_loop_backs_off_doubling_to_five_minutes(core, namespace):
    """``exit 3`` with restartPolicy Always: the first failure restarts at once, then the
    kubelet waits 10s, 20s, 40s, 1m20s, 2m40s and 5m0s (the cap) between restarts, showing
    CrashLoopBackOff with the last exit code in lastState."""
    core.create_namespaced_pod(namespace, _scripted("crashy", "exit 3"))
    messages: list[str] = []
    last = None
    for event in watch.Watch().stream(
        core.list_namespaced_pod,
        namespace,
        field_selector="metadata.name=crashy",
        timeout_seconds=15,
    ):
        statuses = event["object"].status.container_statuses or []
        if not statuses:
            continue
        last = statuses[0]
        waiting = last.state.waiting
        if waiting is not None and waiting.reason == "CrashLoopBackOff":
            text = waiting.message.split(" restarting")[0]
            if not messages or messages[-1] != text:
                messages.append(text)
        if messages and messages[-1] == "back-off 5m0s" and last.restart_count >= 7:
            break
    assert len(messages) >= 6
    assert (
        messages[:7]
        == [
            "back-off 10s",
            "back-off 20s",
            "back-off 40s",
            "back-off 1m20s",
            "back-off 2m40s",
            "back-off 5m0s",
            "back-off 5m0s",
        ][: len(messages[:7])]
    )
    assert messages[-1] == "back-off 5m0s"
    assert last is not None and last.last_state.terminated.exit_code == 3
    assert last.last_state.terminated.reason == "Error"
    found = core.read_namespaced_pod("crashy", namespace)
    assert found.status.phase == "Running"
    events = core.list_namespaced_event(
        namespace, field_selector="involvedObject.name=crashy,reason=BackOff"
    ).items
    assert events and events[0].message.startswith("Back-off restarting failed container main")


@pytest.mark.cluster_options(time_scale=0.01)
def test_on_failure_restarts_only_failed_containers(core, namespace):
    core.create_namespaced_pod(namespace, _scripted("fine", "exit 0", "OnFailure"))
    core.create_namespaced_pod(namespace, _scripted("flaky", "exit 1", "OnFailure"))
    found = wait_for(lambda: _phase(core, namespace, "fine", "Succeeded"), "fine succeeded")
    assert found.status.container_statuses[0].restart_count == 0
    flaky = wait_for(
        lambda: (
            (p := core.read_namespaced_pod("flaky", namespace)).status.container_statuses
            and p.status.container_statuses[0].restart_count >= 2
            and p
        ),
        "flaky restarted",
    )
    assert flaky.status.phase == "Running"
    assert flaky.status.container_statuses[0].last_state.terminated.exit_code == 1


@pytest.mark.cluster_options(time_scale=0.01)
def test_job_fails_from_real_exit_codes_after_backoff_limit(api, core, namespace):
    batch = client.BatchV1Api(api)
    batch.create_namespaced_job(
        namespace,
        {
            "metadata": {"name": "doomed"},
            "spec": {
                "backoffLimit": 1,
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [
                            {"name": "c", "image": "busybox", "command": ["sh", "-c", "exit 2"]}
                        ],
                    }
                },
            },
        },
    )

    def failed():
        status = batch.read_namespaced_job("doomed", namespace).status
        return any(c.type == "Failed" and c.status == "True" for c in status.conditions or [])

    wait_for(failed, "job failed", timeout=15)
    status = batch.read_namespaced_job("doomed", namespace).status
    assert status.failed == 2 and not status.succeeded
    reason = next(c.reason for c in status.conditions if c.type == "Failed")
    assert reason == "BackoffLimitExceeded"
    pods = core.list_namespaced_pod(namespace, label_selector="job-name=doomed").items
    assert len(pods) == 2
    assert {p.status.container_statuses[0].state.terminated.exit_code for p in pods} == {2}


def test_job_completes_from_exit_zero_with_its_output(api, core, namespace):
    batch = client.BatchV1Api(api)
    batch.create_namespaced_job(
        namespace,
        {
            "metadata": {"name": "hello"},
            "spec": {
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [
                            {
                                "name": "c",
                                "image": "busybox",
                                "command": ["sh", "-c"],
                                "args": ["echo hello from $HOSTNAME"],
                            }
                        ],
                    }
                },
            },
        },
    )
    wait_for(
        lambda: batch.read_namespaced_job("hello", namespace).status.succeeded == 1, "job done"
    )
    (job_pod,) = core.list_namespaced_pod(namespace, label_selector="job-name=hello").items
    assert job_pod.status.phase == "Succeeded"
    log = core.read_namespaced_pod_log(job_pod.metadata.name, namespace)
    assert log == f"hello from {job_pod.metadata.name}\n"


def test_unknown_program_is_the_images_application(core, namespace):
    """A program the simulated image has no built-in for is its application: it serves until
    stopped in a restartPolicy Always pod and finishes as a task (exit 0) in a Never pod."""
    app = [{"name": "main", "image": "python:3.12", "command": ["python", "app.py"]}]
    running_pod(core, namespace, pod("server", containers=app))
    core.create_namespaced_pod(namespace, pod("task", restartPolicy="Never", containers=app))
    done = wait_for(lambda: _phase(core, namespace, "task", "Succeeded"), "task finished")
    assert done.status.container_statuses[0].state.terminated.exit_code == 0
    server = core.read_namespaced_pod("server", namespace)
    assert server.status.phase == "Running"
    assert server.status.container_statuses[0].state.running is not None
