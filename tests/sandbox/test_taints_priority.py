"""Taints (NoSchedule keeps running pods, NoExecute evicts the untolerated, tolerationSeconds,
the DaemonSet controller's tolerations) and pod priority (PriorityClass validation, admission).
"""

from __future__ import annotations

import json
import time

import pytest
from kubernetes import client

from .conftest import deployment, pod, raw, running_pod, wait_for

DAEMON_TOLERATIONS = {
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
}


def _daemonset(apps_api: client.AppsV1Api, namespace: str, name: str = "agent") -> None:
    body = deployment(name)
    body["kind"] = "DaemonSet"
    del body["spec"]["replicas"]
    apps_api.create_namespaced_daemon_set(namespace, body)


def _ds_pods(core: client.CoreV1Api, namespace: str) -> dict[str, client.V1Pod]:
    pods = core.list_namespaced_pod(namespace, label_selector="app=agent").items
    return {p.spec.node_name: p for p in pods if not p.metadata.deletion_timestamp}


def _ready_everywhere(apps_api, core, namespace) -> int:
    nodes = len(core.list_node().items)
    wait_for(
        lambda: (
            (apps_api.read_namespaced_daemon_set("agent", namespace).status.number_ready or 0)
            == nodes
        ),
        "a ready daemon pod per node",
    )
    return nodes


def _taint(core: client.CoreV1Api, node: str, key: str, effect: str) -> None:
    found = core.read_node(node)
    taints = [t.to_dict() for t in found.spec.taints or []]
    taints.append({"key": key, "value": "x", "effect": effect})
    core.patch_node(node, {"spec": {"taints": taints}})


def test_daemonset_pods_get_the_controllers_tolerations(apps_api, core, namespace):
    _daemonset(apps_api, namespace)
    _ready_everywhere(apps_api, core, namespace)
    for ds_pod in _ds_pods(core, namespace).values():
        got = {(t.key, t.effect) for t in ds_pod.spec.tolerations}
        assert got == DAEMON_TOLERATIONS
        assert all(
            t.operator == "Exists" and t.toleration_seconds is None for t in ds_pod.spec.tolerations
        )


def test_noschedule_taint_does_not_evict_running_daemonset_pods(apps_api, core, namespace, kubectl):
    _daemonset(apps_api, namespace)
    nodes = _ready_everywhere(apps_api, core, namespace)
    node = sorted(_ds_pods(core, namespace))[0]
    before = _ds_pods(core, namespace)[node].metadata.uid
    plain = running_pod(core, namespace, pod("plain", nodeName=node))
    kubectl("taint", "nodes", node, "dedicated=infra:NoSchedule")
    wait_for(
        lambda: (
            apps_api.read_namespaced_daemon_set("agent", namespace).status.desired_number_scheduled
            == nodes - 1
        ),
        "the controller saw the taint",
    )
    time.sleep(0.5)
    assert _ds_pods(core, namespace)[node].metadata.uid == before
    status = apps_api.read_namespaced_daemon_set("agent", namespace).status
    assert (status.current_number_scheduled, status.number_misscheduled) == (nodes - 1, 1)
    still = core.read_namespaced_pod("plain", namespace)
    assert still.metadata.uid == plain.metadata.uid and still.metadata.deletion_timestamp is None


@pytest.mark.cluster_options(time_scale=0.05)
def test_noexecute_evicts_pods_that_do_not_tolerate_it(core, namespace):
    node = core.list_node().items[0].metadata.name
    exact = {"key": "maintenance", "operator": "Equal", "value": "x", "effect": "NoExecute"}
    running_pod(core, namespace, pod("bare", nodeName=node))
    running_pod(core, namespace, pod("tolerant", nodeName=node, tolerations=[exact]))
    running_pod(
        core,
        namespace,
        pod("patient", nodeName=node, tolerations=[{**exact, "tolerationSeconds": 20}]),
    )
    _taint(core, node, "maintenance", "NoExecute")

    def gone(name: str) -> bool:
        try:
            found = core.read_namespaced_pod(name, namespace)
        except client.ApiException as exc:
            return exc.status == 404
        return found.metadata.deletion_timestamp is not None

    wait_for(lambda: gone("bare"), "untolerated pod evicted", timeout=3)
    assert not gone("patient")  # 20 s scaled to 1 s: not yet
    wait_for(lambda: gone("patient"), "tolerationSeconds ran out", timeout=5)
    time.sleep(0.3)
    assert not gone("tolerant")
    events = core.list_namespaced_event(
        namespace, field_selector="involvedObject.name=bare,reason=TaintManagerEviction"
    ).items
    assert [e.message for e in events] == [f"Marking for deletion Pod {namespace}/bare"]


@pytest.mark.simulator_only
@pytest.mark.cluster_options(time_scale=0.01)
def test_unreachable_node_evicts_ordinary_pods_not_daemonset_pods(
    cluster, apps_api, core, namespace
):
    """The node lifecycle controller taints an unreachable node NoExecute; ordinary pods
    tolerate that for 300 s (DefaultTolerationSeconds) and are then evicted — they stay
    Terminating, as no kubelet reports from the node — while DaemonSet pods tolerate it."""
    _daemonset(apps_api, namespace)
    _ready_everywhere(apps_api, core, namespace)
    node = sorted(_ds_pods(core, namespace))[0]
    running_pod(core, namespace, pod("ordinary", nodeName=node))
    cluster.sim.set_node_ready(node, False)
    wait_for(
        lambda: core.read_namespaced_pod("ordinary", namespace).metadata.deletion_timestamp,
        "ordinary pod evicted after 300 s (scaled)",
        timeout=8,
    )
    time.sleep(0.3)
    assert core.read_namespaced_pod("ordinary", namespace).metadata.deletion_timestamp
    assert _ds_pods(core, namespace)[node].metadata.deletion_timestamp is None
    cluster.sim.set_node_ready(node, True)
    wait_for(
        lambda: (
            not [
                p
                for p in core.list_namespaced_pod(namespace).items
                if p.metadata.name == "ordinary"
            ]
        ),
        "kubelet back: the evicted pod finishes terminating",
    )


# ---------------------------------------------------------------- priority


def _scheduling(api: client.ApiClient) -> client.SchedulingV1Api:
    return client.SchedulingV1Api(api)


def test_system_priority_classes_exist(api):
    classes = {pc.metadata.name: pc.value for pc in _scheduling(api).list_priority_class().items}
    assert classes == {"system-cluster-critical": 2000000000, "system-node-critical": 2000001000}


def test_pod_priority_is_resolved_from_its_class(api, core, namespace):
    _scheduling(api).create_priority_class(
        {"metadata": {"name": "batch-low"}, "value": 1000, "preemptionPolicy": "Never"}
    )
    created = core.create_namespaced_pod(namespace, pod("low", priorityClassName="batch-low"))
    assert (created.spec.priority, created.spec.preemption_policy) == (1000, "Never")
    plain = core.create_namespaced_pod(namespace, pod("plain"))
    assert (plain.spec.priority, plain.spec.preemption_policy) == (0, "PreemptLowerPriority")
    critical = core.create_namespaced_pod(
        namespace, pod("crit", priorityClassName="system-cluster-critical")
    )
    assert critical.spec.priority == 2000000000


def test_unknown_priority_class_is_forbidden(core, namespace):
    with pytest.raises(client.ApiException) as err:
        core.create_namespaced_pod(namespace, pod("lost", priorityClassName="nope"))
    assert err.value.status == 403
    status = json.loads(err.value.body)
    assert status["reason"] == "Forbidden"
    assert (
        status["message"] == 'pods "lost" is forbidden: no PriorityClass with name nope was found'
    )


def test_pod_may_not_state_a_different_priority(api, core, namespace):
    _scheduling(api).create_priority_class({"metadata": {"name": "mid"}, "value": 50})
    with pytest.raises(client.ApiException) as err:
        core.create_namespaced_pod(namespace, pod("liar", priorityClassName="mid", priority=7))
    assert err.value.status == 403
    assert "the integer value of priority (7) must not be provided in pod spec" in err.value.body


def test_global_default_class_applies_and_is_unique(api, core, namespace):
    sched = _scheduling(api)
    sched.create_priority_class(
        {"metadata": {"name": "normal"}, "value": 10, "globalDefault": True}
    )
    defaulted = core.create_namespaced_pod(namespace, pod("d"))
    assert (defaulted.spec.priority_class_name, defaulted.spec.priority) == ("normal", 10)
    with pytest.raises(client.ApiException) as err:
        sched.create_priority_class(
            {"metadata": {"name": "other"}, "value": 11, "globalDefault": True}
        )
    assert err.value.status == 403
    assert "Only one default can exist" in json.loads(err.value.body)["message"]


@pytest.mark.parametrize(
    ("body", "field", "text"),
    [
        ({"metadata": {"name": "huge"}, "value": 1000000001}, "value", "maximum allowed value"),
        ({"metadata": {"name": "system-mine"}, "value": 5}, "metadata.name", "reserved for system"),
        ({"metadata": {"name": "nov"}}, "value", "Required value"),
        (
            {"metadata": {"name": "pol"}, "value": 1, "preemptionPolicy": "Sometimes"},
            "preemptionPolicy",
            'Unsupported value: "Sometimes"',
        ),
    ],
)
def test_invalid_priority_classes_are_refused(api, body, field, text):
    answer = raw(api, "POST", "/apis/scheduling.k8s.io/v1/priorityclasses", body=body)
    assert answer.status == 422
    causes = answer.json["details"]["causes"]
    assert [c["field"] for c in causes] == [field]
    assert text in causes[0]["message"]
    assert answer.json["message"].startswith(
        f'PriorityClass.scheduling.k8s.io "{body["metadata"]["name"]}" is invalid: {field}: '
    )


def test_priority_class_value_is_immutable(api):
    sched = _scheduling(api)
    sched.create_priority_class({"metadata": {"name": "fixed"}, "value": 3})
    with pytest.raises(client.ApiException) as err:
        sched.patch_priority_class("fixed", {"value": 4})
    assert err.value.status == 422
    causes = json.loads(err.value.body)["details"]["causes"]
    assert {
        "field": "value",
        "reason": "FieldValueForbidden",
        "message": "Forbidden: may not be changed in an update.",
    } in causes


def _cpu_pod(name: str, millis: int, **spec) -> dict:
    return pod(
        name,
        containers=[
            {"name": "main", "image": "nginx", "resources": {"requests": {"cpu": f"{millis}m"}}}
        ],
        **spec,
    )


@pytest.mark.cluster_options(nodes=1)
def test_higher_priority_pod_preempts_lower_ones_on_a_full_node(api, core, namespace):
    sched = _scheduling(api)
    sched.create_priority_class({"metadata": {"name": "low"}, "value": 1})
    sched.create_priority_class({"metadata": {"name": "high"}, "value": 100})
    sched.create_priority_class(
        {"metadata": {"name": "polite"}, "value": 100, "preemptionPolicy": "Never"}
    )
    node = core.list_node().items[0]
    cpu = int(node.status.allocatable["cpu"].rstrip("m"))
    half = cpu // 2 - 10
    running_pod(core, namespace, _cpu_pod("low-a", half, priorityClassName="low"))
    running_pod(core, namespace, _cpu_pod("low-b", half, priorityClassName="low"))
    core.create_namespaced_pod(namespace, _cpu_pod("polite", half, priorityClassName="polite"))
    cond = wait_for(
        lambda: next(
            (
                c
                for c in core.read_namespaced_pod("polite", namespace).status.conditions or []
                if c.type == "PodScheduled" and c.status == "False"
            ),
            None,
        ),
        "polite pod unschedulable",
    )
    assert "Insufficient cpu" in cond.message
    assert core.read_namespaced_pod("polite", namespace).status.nominated_node_name is None
    core.create_namespaced_pod(namespace, _cpu_pod("urgent", half, priorityClassName="high"))
    urgent = wait_for(
        lambda: (
            (p := core.read_namespaced_pod("urgent", namespace)).status.phase == "Running" and p
        ),
        "urgent pod running after preemption",
    )
    assert urgent.spec.node_name == node.metadata.name
    left = {p.metadata.name for p in core.list_namespaced_pod(namespace).items}
    assert left == {"urgent", "polite", "low-b"}  # one victim (the first by name) sufficed
    events = core.list_namespaced_event(
        namespace, field_selector="involvedObject.name=low-a,reason=Preempted"
    ).items
    assert [e.message for e in events] == [
        f"Preempted by pod {urgent.metadata.uid} on node {node.metadata.name}"
    ]
    assert core.read_namespaced_pod("polite", namespace).status.phase == "Pending"
