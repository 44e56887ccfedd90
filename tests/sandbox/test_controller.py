"""The controller loop: workloads become pods on nodes, scale, heal, roll, complete."""

from __future__ import annotations

import pytest
from kubernetes import client

from .conftest import deployment, pod, wait_for


def ready(apps_api, namespace, name, want):
    return (apps_api.read_namespaced_deployment(name, namespace).status.ready_replicas or 0) == want


def test_deployment_creates_replicaset_and_scheduled_pods(apps_api, core, namespace):
    apps_api.create_namespaced_deployment(namespace, deployment("web", replicas=3))
    wait_for(lambda: ready(apps_api, namespace, "web", 3), "3 ready replicas")
    rs = apps_api.list_namespaced_replica_set(namespace).items
    assert len(rs) == 1 and rs[0].metadata.owner_references[0].kind == "Deployment"
    pods = core.list_namespaced_pod(namespace, label_selector="app=web").items
    assert len(pods) == 3
    assert all(p.spec.node_name and p.status.pod_ip and p.status.phase == "Running" for p in pods)
    assert all(p.metadata.owner_references[0].name == rs[0].metadata.name for p in pods)
    events = core.list_namespaced_event(namespace).items
    assert {"ScalingReplicaSet", "SuccessfulCreate", "Scheduled", "Started"} <= {
        e.reason for e in events
    }
    status = apps_api.read_namespaced_deployment("web", namespace).status
    assert {c.type: c.status for c in status.conditions} == {
        "Available": "True",
        "Progressing": "True",
    }


def test_scaling_and_self_healing(apps_api, core, namespace):
    apps_api.create_namespaced_deployment(namespace, deployment("heal", replicas=2))
    wait_for(lambda: ready(apps_api, namespace, "heal", 2), "2 ready")
    victim = core.list_namespaced_pod(namespace).items[0].metadata.name
    core.delete_namespaced_pod(victim, namespace)
    wait_for(
        lambda: (
            victim not in {p.metadata.name for p in core.list_namespaced_pod(namespace).items}
            and ready(apps_api, namespace, "heal", 2)
        ),
        "replacement pod",
    )
    apps_api.patch_namespaced_deployment_scale("heal", namespace, {"spec": {"replicas": 0}})
    wait_for(lambda: not core.list_namespaced_pod(namespace).items, "scaled to zero")


def test_rolling_update_keeps_revisions(apps_api, namespace):
    apps_api.create_namespaced_deployment(namespace, deployment("roll", replicas=4))
    wait_for(lambda: ready(apps_api, namespace, "roll", 4), "ready")
    apps_api.patch_namespaced_deployment(
        "roll",
        namespace,
        {"spec": {"template": {"spec": {"containers": [{"name": "roll", "image": "nginx:1.28"}]}}}},
    )

    def rolled():
        d = apps_api.read_namespaced_deployment("roll", namespace)
        s = d.status
        return (
            s.observed_generation == d.metadata.generation
            and s.updated_replicas == 4
            and s.available_replicas == 4
            and (s.replicas or 0) == 4
        )

    wait_for(rolled, "rollout")
    rs = {
        r.metadata.annotations["deployment.kubernetes.io/revision"]: r
        for r in apps_api.list_namespaced_replica_set(namespace).items
    }
    assert rs["1"].spec.replicas == 0 and rs["2"].spec.replicas == 4


def test_deleting_a_deployment_collects_its_pods(apps_api, core, namespace):
    apps_api.create_namespaced_deployment(namespace, deployment("gc", replicas=2))
    wait_for(lambda: ready(apps_api, namespace, "gc", 2), "ready")
    apps_api.delete_namespaced_deployment("gc", namespace)
    wait_for(
        lambda: (
            not core.list_namespaced_pod(namespace).items
            and not apps_api.list_namespaced_replica_set(namespace).items
        ),
        "garbage collected",
    )


def test_statefulset_pods_have_ordinals(apps_api, core, namespace):
    body = deployment("db", replicas=3)
    body["kind"] = "StatefulSet"
    body["spec"]["serviceName"] = "db"
    apps_api.create_namespaced_stateful_set(namespace, body)
    wait_for(
        lambda: (
            (apps_api.read_namespaced_stateful_set("db", namespace).status.ready_replicas or 0) == 3
        ),
        "3 ready",
    )
    assert sorted(p.metadata.name for p in core.list_namespaced_pod(namespace).items) == [
        "db-0",
        "db-1",
        "db-2",
    ]


def test_daemonset_runs_one_pod_per_node(apps_api, core, namespace):
    body = deployment("agent")
    body["kind"] = "DaemonSet"
    del body["spec"]["replicas"]
    apps_api.create_namespaced_daemon_set(namespace, body)
    nodes = len(core.list_node().items)
    wait_for(
        lambda: (
            (apps_api.read_namespaced_daemon_set("agent", namespace).status.number_ready or 0)
            == nodes
        ),
        "one ready pod per node",
    )
    assert len({p.spec.node_name for p in core.list_namespaced_pod(namespace).items}) == nodes


def test_job_runs_to_completion(api, namespace):
    batch = client.BatchV1Api(api)
    batch.create_namespaced_job(
        namespace,
        {
            "metadata": {"name": "once"},
            "spec": {
                "completions": 2,
                "parallelism": 1,
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "c", "image": "busybox", "command": ["true"]}],
                    }
                },
            },
        },
    )

    def done():
        status = batch.read_namespaced_job("once", namespace).status
        return status.succeeded == 2 and any(
            c.type == "Complete" and c.status == "True" for c in status.conditions or []
        )

    wait_for(done, "job completion", timeout=15)


def test_unschedulable_pod_reports_why(core, namespace):
    core.create_namespaced_pod(
        namespace,
        pod(
            "huge",
            containers=[{"name": "c", "image": "nginx", "resources": {"requests": {"cpu": "500"}}}],
        ),
    )

    def reason():
        conds = core.read_namespaced_pod("huge", namespace).status.conditions or []
        return next((c for c in conds if c.type == "PodScheduled" and c.status == "False"), None)

    cond = wait_for(reason, "Unschedulable condition")
    assert cond.reason == "Unschedulable"
    nodes = len(core.list_node().items)
    assert cond.message.startswith(f"0/{nodes} nodes are available:")
    assert "Insufficient cpu" in cond.message


@pytest.mark.simulator_only
@pytest.mark.cluster_options(controller=False)
def test_controller_can_be_switched_off_and_on(cluster, apps_api, core, namespace):
    apps_api.create_namespaced_deployment(namespace, deployment("idle", replicas=1))
    assert not apps_api.list_namespaced_replica_set(namespace).items
    assert not core.list_namespaced_pod(namespace).items
    cluster.sim.set_controller(True)
    wait_for(lambda: ready(apps_api, namespace, "idle", 1), "controller catches up")


@pytest.mark.simulator_only
def test_node_not_ready_marks_pods_unready(cluster, core, namespace):
    core.create_namespaced_pod(namespace, pod("onnode"))
    node = wait_for(
        lambda: (
            core.read_namespaced_pod("onnode", namespace).status.phase == "Running"
            and core.read_namespaced_pod("onnode", namespace).spec.node_name
        ),
        "running",
    )
    cluster.sim.set_node_ready(node, False)
    wait_for(
        lambda: any(
            c.type == "Ready" and c.status == "False"
            for c in core.read_namespaced_pod("onnode", namespace).status.conditions
        ),
        "pod not ready",
    )
    ready_cond = next(c for c in core.read_node(node).status.conditions if c.type == "Ready")
    assert ready_cond.status == "Unknown"
