"""Objects of the autoscaling, scheduling, discovery, events and coordination groups: storage,
conversion, validation and the controllers that keep them — read through the official client's
models (strict in 37.x) and kubectl."""

from __future__ import annotations

import json
import threading

import pytest
from kubernetes import client, watch

from .conftest import deployment, raw, to_yaml, wait_for

HPA_V1 = {
    "metadata": {"name": "web"},
    "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": 2,
        "maxReplicas": 5,
        "targetCPUUtilizationPercentage": 60,
    },
}
MEMORY_METRIC = {
    "type": "Resource",
    "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}},
}


# ---------------------------------------------------------------- autoscaling


def test_hpa_v1_and_v2_are_one_object_converted_faithfully(api, namespace):
    v1 = client.AutoscalingV1Api(api)
    v2 = client.AutoscalingV2Api(api)
    created = v1.create_namespaced_horizontal_pod_autoscaler(namespace, HPA_V1)
    assert isinstance(created, client.V1HorizontalPodAutoscaler)
    assert created.spec.target_cpu_utilization_percentage == 60
    as_v2 = v2.read_namespaced_horizontal_pod_autoscaler("web", namespace)
    assert [m.to_dict() for m in as_v2.spec.metrics] == [
        {
            "container_resource": None,
            "external": None,
            "object": None,
            "pods": None,
            "resource": {
                "name": "cpu",
                "target": {
                    "average_utilization": 60,
                    "average_value": None,
                    "type": "Utilization",
                    "value": None,
                },
            },
            "type": "Resource",
        }
    ]
    assert as_v2.metadata.annotations is None
    # what v1 cannot say travels in the annotation, and comes back unchanged
    body = v2.read_namespaced_horizontal_pod_autoscaler("web", namespace).to_dict()
    body["spec"]["metrics"].append(MEMORY_METRIC)
    raw(
        api,
        "PUT",
        f"/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers/web",
        body=api.sanitize_for_serialization(client.V2HorizontalPodAutoscaler(**body)),
    )
    as_v1 = raw(
        api, "GET", f"/apis/autoscaling/v1/namespaces/{namespace}/horizontalpodautoscalers/web"
    ).json
    assert as_v1["apiVersion"] == "autoscaling/v1"
    assert as_v1["spec"]["targetCPUUtilizationPercentage"] == 60
    assert "metrics" not in as_v1["spec"]
    assert json.loads(
        as_v1["metadata"]["annotations"]["autoscaling.alpha.kubernetes.io/metrics"]
    ) == [MEMORY_METRIC]
    assert as_v1["status"] == {"currentReplicas": 0, "desiredReplicas": 0}
    # a v1 update of the v1 view keeps the v2-only metric
    as_v1["spec"]["maxReplicas"] = 7
    raw(
        api,
        "PUT",
        f"/apis/autoscaling/v1/namespaces/{namespace}/horizontalpodautoscalers/web",
        body=as_v1,
    )
    patched = v1.patch_namespaced_horizontal_pod_autoscaler(
        "web", namespace, {"spec": {"targetCPUUtilizationPercentage": 75}}
    )
    assert patched.spec.target_cpu_utilization_percentage == 75
    stored = v2.read_namespaced_horizontal_pod_autoscaler("web", namespace)
    assert stored.spec.max_replicas == 7
    assert [
        (m.resource.name, m.resource.target.type, m.resource.target.average_utilization)
        for m in stored.spec.metrics
    ] == [("cpu", "Utilization", 75), ("memory", "AverageValue", None)]
    assert stored.metadata.annotations is None


def test_hpa_without_metrics_defaults_to_80_percent_cpu(api, namespace):
    body = {**HPA_V1, "spec": {k: v for k, v in HPA_V1["spec"].items() if k != "minReplicas"}}
    del body["spec"]["targetCPUUtilizationPercentage"]
    v2 = client.AutoscalingV2Api(api)
    created = v2.create_namespaced_horizontal_pod_autoscaler(namespace, body)
    assert created.spec.min_replicas == 1
    assert created.spec.metrics[0].resource.target.average_utilization == 80
    listed = client.AutoscalingV1Api(api).list_namespaced_horizontal_pod_autoscaler(namespace)
    assert [h.spec.target_cpu_utilization_percentage for h in listed.items] == [80]


def test_hpa_v1_watch_streams_v1_objects(api, namespace):
    v1 = client.AutoscalingV1Api(api)
    seen: list = []
    w = watch.Watch()

    def run() -> None:
        for event in w.stream(
            v1.list_namespaced_horizontal_pod_autoscaler, namespace, timeout_seconds=5
        ):
            seen.append(event)
            w.stop()

    thread = threading.Thread(target=run)
    thread.start()
    wait_for(lambda: thread.is_alive(), "watch started")
    client.AutoscalingV2Api(api).create_namespaced_horizontal_pod_autoscaler(
        namespace,
        {
            "metadata": {"name": "w"},
            "spec": {
                **{
                    k: v for k, v in HPA_V1["spec"].items() if k != "targetCPUUtilizationPercentage"
                },
                "metrics": [MEMORY_METRIC],
            },
        },
    )
    thread.join(10)
    assert [e["type"] for e in seen] == ["ADDED"]
    obj = seen[0]["object"]
    assert isinstance(obj, client.V1HorizontalPodAutoscaler)
    assert obj.api_version == "autoscaling/v1"
    assert "memory" in obj.metadata.annotations["autoscaling.alpha.kubernetes.io/metrics"]


def test_kubectl_autoscale_creates_an_hpa_and_get_prints_it(kubectl, apps_api, namespace):
    apps_api.create_namespaced_deployment(namespace, deployment("web"))
    out = kubectl(
        "autoscale", "-n", namespace, "deployment/web", "--min=2", "--max=6", "--cpu=70%"
    ).stdout
    assert out.strip() == "horizontalpodautoscaler.autoscaling/web autoscaled"
    table = kubectl("get", "hpa", "-n", namespace).stdout.splitlines()
    assert table[0].split() == [
        "NAME",
        "REFERENCE",
        "TARGETS",
        "MINPODS",
        "MAXPODS",
        "REPLICAS",
        "AGE",
    ]
    assert table[1].split()[:7] == ["web", "Deployment/web", "cpu:", "<unknown>/70%", "2", "6", "0"]


# ---------------------------------------------------------------- scheduling


def test_system_priority_classes_exist(api):
    classes = {
        pc.metadata.name: pc for pc in client.SchedulingV1Api(api).list_priority_class().items
    }
    assert classes["system-cluster-critical"].value == 2000000000
    assert classes["system-node-critical"].value == 2000001000
    assert classes["system-node-critical"].preemption_policy == "PreemptLowerPriority"
    assert not classes["system-node-critical"].global_default


def _refused(fn, *args) -> tuple[int, str]:
    with pytest.raises(client.ApiException) as info:
        fn(*args)
    return info.value.status, json.loads(info.value.body)["message"]


def test_priority_class_validation_as_the_real_server(api):
    sched = client.SchedulingV1Api(api)
    assert _refused(
        sched.create_priority_class, {"metadata": {"name": "huge"}, "value": 1000000001}
    ) == (
        422,
        'PriorityClass.scheduling.k8s.io "huge" is invalid: value: Forbidden: maximum allowed '
        "value of a user defined priority is 1000000000",
    )
    assert _refused(
        sched.create_priority_class, {"metadata": {"name": "system-mine"}, "value": 5}
    ) == (
        422,
        'PriorityClass.scheduling.k8s.io "system-mine" is invalid: metadata.name: Forbidden: '
        "priority class names with 'system-' prefix are reserved for system use only. "
        "error: system-mine is not a known system priority class",
    )
    sched.create_priority_class({"metadata": {"name": "first"}, "value": 10, "globalDefault": True})
    assert _refused(
        sched.create_priority_class,
        {"metadata": {"name": "second"}, "value": 20, "globalDefault": True},
    ) == (
        403,
        'priorityclasses.scheduling.k8s.io "second" is forbidden: PriorityClass first is '
        "already marked as default. Only one default can exist",
    )
    status, message = _refused(sched.patch_priority_class, "first", {"value": 11})
    assert (status, message) == (
        422,
        'PriorityClass.scheduling.k8s.io "first" is invalid: value: Forbidden: may not be '
        "changed in an update.",
    )
    assert _refused(sched.patch_priority_class, "first", {"preemptionPolicy": "Never"}) == (
        422,
        'PriorityClass.scheduling.k8s.io "first" is invalid: preemptionPolicy: Invalid value: '
        '"Never": field is immutable',
    )
    assert _refused(
        sched.create_priority_class,
        {"metadata": {"name": "system-node-critical"}, "value": 2000001000, "globalDefault": True},
    ) == (
        422,
        'PriorityClass.scheduling.k8s.io "system-node-critical" is invalid: metadata.name: '
        "Forbidden: priority class names with 'system-' prefix are reserved for system use "
        "only. error: globalDefault of system-node-critical PriorityClass must be false",
    )
    sched.patch_priority_class("first", {"description": "the default"})
    assert sched.read_priority_class("first").description == "the default"


def test_kubectl_create_and_get_priorityclass(kubectl):
    out = kubectl("create", "priorityclass", "batch-low", "--value=100", "--description=low")
    assert out.stdout.strip() == "priorityclass.scheduling.k8s.io/batch-low created"
    table = kubectl("get", "priorityclass", "batch-low", "-o", "wide").stdout.splitlines()
    assert table[0].split() == ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]
    assert table[1].split()[:3] == ["batch-low", "100", "false"]
    assert table[1].split()[-1] == "PreemptLowerPriority"


# ---------------------------------------------------------------- discovery.k8s.io


def _slices(api, namespace: str, service: str) -> list:
    return (
        client.DiscoveryV1Api(api)
        .list_namespaced_endpoint_slice(
            namespace, label_selector=f"kubernetes.io/service-name={service}"
        )
        .items
    )


def _ready_ips(core, namespace: str) -> list[str]:
    return sorted(
        p.status.pod_ip
        for p in core.list_namespaced_pod(namespace, label_selector="app=web").items
        if p.status.pod_ip
        and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
    )


def test_endpoint_slices_follow_the_service_and_its_ready_pods(api, core, apps_api, namespace):
    apps_api.create_namespaced_deployment(namespace, deployment("web", replicas=2))
    svc = core.create_namespaced_service(
        namespace,
        {
            "metadata": {"name": "web", "labels": {"tier": "front"}},
            "spec": {
                "selector": {"app": "web"},
                "ports": [{"name": "http", "port": 80, "targetPort": 8080}],
            },
        },
    )
    wait_for(lambda: len(_ready_ips(core, namespace)) == 2, "two ready pods")
    wait_for(
        lambda: (
            (s := _slices(api, namespace, "web"))
            and sorted(a for e in s[0].endpoints or [] for a in e.addresses)
            == _ready_ips(core, namespace)
        ),
        "slice with both pods",
    )
    (eps,) = _slices(api, namespace, "web")
    assert isinstance(eps, client.V1EndpointSlice)
    assert eps.metadata.name.startswith("web-") and len(eps.metadata.name) == len("web-") + 5
    assert eps.metadata.labels == {
        "tier": "front",
        "kubernetes.io/service-name": "web",
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
    }
    owner = eps.metadata.owner_references[0]
    assert (owner.kind, owner.name, owner.uid, owner.controller) == (
        "Service",
        "web",
        svc.metadata.uid,
        True,
    )
    assert eps.address_type == "IPv4"
    assert [(p.name, p.port, p.protocol) for p in eps.ports] == [("http", 8080, "TCP")]
    assert {
        (e.conditions.ready, e.conditions.serving, e.conditions.terminating, e.target_ref.kind)
        for e in eps.endpoints
    } == {(True, True, False, "Pod")}
    apps_api.patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": 3}})
    wait_for(
        lambda: (
            len(_ready_ips(core, namespace)) == 3
            and sorted(a for e in _slices(api, namespace, "web")[0].endpoints for a in e.addresses)
            == _ready_ips(core, namespace)
        ),
        "slice with three pods",
    )
    gone = core.delete_namespaced_service("web", namespace)
    assert isinstance(gone, client.V1Service) and gone.metadata.uid == svc.metadata.uid
    wait_for(lambda: not _slices(api, namespace, "web"), "slice collected with its service")


def test_kubectl_get_endpointslices_and_endpoints(kubectl, core, apps_api, namespace):
    apps_api.create_namespaced_deployment(namespace, deployment("web", replicas=1))
    core.create_namespaced_service(
        namespace,
        {
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
        },
    )
    wait_for(lambda: _ready_ips(core, namespace), "a ready pod")
    ip = _ready_ips(core, namespace)[0]

    def table(kind: str) -> list[list[str]]:
        return [line.split() for line in kubectl("get", kind, "-n", namespace).stdout.splitlines()]

    wait_for(
        lambda: len(table("endpointslices")[1]) == 5 and ip in table("endpointslices")[1][3],
        "slice row",
    )
    rows = table("endpointslices")
    assert rows[0] == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
    assert rows[1][1:4] == ["IPv4", "80", ip]
    proc = kubectl("get", "endpoints", "-n", namespace)
    assert proc.stdout.splitlines()[0].split() == ["NAME", "ENDPOINTS", "AGE"]
    assert proc.stdout.splitlines()[1].split()[:2] == ["web", f"{ip}:80"]
    assert (
        "Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"
        in proc.stderr
    )


# ---------------------------------------------------------------- events.k8s.io


def test_core_events_are_served_as_events_k8s_io(api, core, namespace):
    cm = core.create_namespaced_config_map(namespace, {"metadata": {"name": "subject"}})
    raw(
        api,
        "POST",
        f"/api/v1/namespaces/{namespace}/events",
        body={
            "metadata": {"name": "subject.1"},
            "involvedObject": {
                "kind": "ConfigMap",
                "name": "subject",
                "namespace": namespace,
                "uid": cm.metadata.uid,
            },
            "reason": "Checked",
            "message": "looked at it",
            "type": "Normal",
            "count": 3,
            "source": {"component": "tester", "host": "node-1"},
            "firstTimestamp": "2026-01-01T00:00:00Z",
            "lastTimestamp": "2026-01-01T00:05:00Z",
        },
    )
    got = raw(api, "GET", f"/apis/events.k8s.io/v1/namespaces/{namespace}/events/subject.1").json
    # a legacy event has no eventTime: events.k8s.io/v1 shows it as null, as the real server
    # does (the 37.x client's EventsV1Event model cannot hold that, so read it as JSON)
    assert got == {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": got["metadata"],
        "eventTime": None,
        "reason": "Checked",
        "type": "Normal",
        "regarding": {
            "kind": "ConfigMap",
            "name": "subject",
            "namespace": namespace,
            "uid": cm.metadata.uid,
        },
        "note": "looked at it",
        "deprecatedSource": {"component": "tester", "host": "node-1"},
        "deprecatedFirstTimestamp": "2026-01-01T00:00:00Z",
        "deprecatedLastTimestamp": "2026-01-01T00:05:00Z",
        "deprecatedCount": 3,
    }
    listed = raw(api, "GET", f"/apis/events.k8s.io/v1/namespaces/{namespace}/events").json
    assert (listed["kind"], listed["apiVersion"]) == ("EventList", "events.k8s.io/v1")
    assert [e["note"] for e in listed["items"]] == ["looked at it"]
    base = f"/apis/events.k8s.io/v1/namespaces/{namespace}/events"
    for selector, names in (
        ("regarding.name=subject", ["subject.1"]),
        ("regarding.name=other", []),
        ("reportingController=tester,type=Normal", []),
        ("reason=Checked,regarding.kind=ConfigMap", ["subject.1"]),
    ):
        found = raw(api, "GET", base, query=[("fieldSelector", selector)]).json["items"]
        assert [e["metadata"]["name"] for e in found] == names, selector
    wrong = raw(api, "GET", base, query=[("fieldSelector", "involvedObject.name=subject")])
    assert (wrong.status, wrong.json["message"]) == (
        400,
        "field label not supported: involvedObject.name",
    )


def test_events_k8s_io_create_is_stored_as_a_core_event(api, core, namespace):
    events = client.EventsV1Api(api)
    body = {
        "metadata": {"name": "new.1"},
        "eventTime": "2026-01-01T00:00:00.000000Z",
        "reportingController": "example.com/tester",
        "reportingInstance": "tester-1",
        "action": "Check",
        "reason": "Checked",
        "note": "from events.k8s.io",
        "type": "Warning",
        "regarding": {"kind": "Pod", "name": "p", "namespace": namespace},
    }
    events.create_namespaced_event(namespace, body)
    core_view = core.read_namespaced_event("new.1", namespace)
    assert core_view.message == "from events.k8s.io"
    assert core_view.reporting_component == "example.com/tester"
    assert (core_view.involved_object.kind, core_view.involved_object.name) == ("Pod", "p")
    assert core_view.action == "Check"
    created = events.read_namespaced_event("new.1", namespace)
    assert isinstance(created, client.EventsV1Event) and created.action == "Check"
    bad = {k: v for k, v in body.items() if k not in ("eventTime", "action")}
    bad["metadata"] = {"name": "new.2"}
    resp = raw(api, "POST", f"/apis/events.k8s.io/v1/namespaces/{namespace}/events", body=bad)
    status, message = resp.status, resp.json["message"]
    assert status == 422
    assert message == 'Event.events.k8s.io "new.2" is invalid: eventTime: Required value'


# ---------------------------------------------------------------- coordination.k8s.io


def test_nodes_heartbeat_leases_in_kube_node_lease(api, core, kubectl):
    nodes = {n.metadata.name: n for n in core.list_node().items}
    coord = client.CoordinationV1Api(api)
    leases = wait_for(
        lambda: (
            (items := coord.list_namespaced_lease("kube-node-lease").items)
            and len(items) == len(nodes)
            and items
        ),
        "a lease per node",
    )
    for lease in leases:
        assert isinstance(lease, client.V1Lease)
        node = nodes[lease.metadata.name]
        assert lease.spec.holder_identity == node.metadata.name
        assert lease.spec.lease_duration_seconds == 40
        assert lease.spec.renew_time is not None
        ref = lease.metadata.owner_references[0]
        assert (ref.kind, ref.name, ref.uid) == ("Node", node.metadata.name, node.metadata.uid)
    table = kubectl("get", "leases", "-n", "kube-node-lease").stdout.splitlines()
    assert table[0].split() == ["NAME", "HOLDER", "AGE"]
    assert sorted(line.split()[0] for line in table[1:]) == sorted(nodes)
    assert all(line.split()[0] == line.split()[1] for line in table[1:])


def test_kubectl_apply_an_hpa_v1_manifest(kubectl, api, namespace):
    manifest = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", **HPA_V1}
    kubectl("apply", "-n", namespace, "-f", "-", stdin=to_yaml(manifest))
    stored = client.AutoscalingV2Api(api).read_namespaced_horizontal_pod_autoscaler(
        "web", namespace
    )
    assert stored.spec.metrics[0].resource.target.average_utilization == 60
    manifest["spec"] = {**manifest["spec"], "targetCPUUtilizationPercentage": 65}
    out = kubectl("apply", "-n", namespace, "-f", "-", stdin=to_yaml(manifest)).stdout
    assert "configured" in out
    stored = client.AutoscalingV2Api(api).read_namespaced_horizontal_pod_autoscaler(
        "web", namespace
    )
    assert stored.spec.metrics[0].resource.target.average_utilization == 65


def test_tables_of_a_converted_version_carry_that_versions_objects(api, namespace):
    client.AutoscalingV1Api(api).create_namespaced_horizontal_pod_autoscaler(namespace, HPA_V1)
    table = raw(
        api,
        "GET",
        f"/apis/autoscaling/v1/namespaces/{namespace}/horizontalpodautoscalers",
        query=[("includeObject", "Object")],
        headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"},
    ).json
    (row,) = table["rows"]
    assert row["cells"][:3] == ["web", "Deployment/web", "cpu: <unknown>/60%"]
    assert row["object"]["apiVersion"] == "autoscaling/v1"
    assert row["object"]["spec"]["targetCPUUtilizationPercentage"] == 60


def test_kubectl_server_side_apply_of_an_hpa_v1_manifest(kubectl, api, namespace):
    manifest = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", **HPA_V1}
    for target in (60, 70):
        manifest["spec"] = {**manifest["spec"], "targetCPUUtilizationPercentage": target}
        out = kubectl(
            "apply", "--server-side", "-n", namespace, "-f", "-", stdin=to_yaml(manifest)
        ).stdout
        assert out.strip() == "horizontalpodautoscaler.autoscaling/web serverside-applied"
        stored = client.AutoscalingV1Api(api).read_namespaced_horizontal_pod_autoscaler(
            "web", namespace
        )
        assert stored.spec.target_cpu_utilization_percentage == target
        assert stored.spec.min_replicas == 2
