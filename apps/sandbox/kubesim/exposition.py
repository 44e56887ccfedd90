"""Prometheus text exposition of a simulated cluster, as a real Prometheus scrapes it:

- ``/metrics/cadvisor``: the kubelets' cAdvisor series for every running container
  (``container_cpu_usage_seconds_total``, ``container_memory_working_set_bytes``), the pods'
  network counters (``container_network_{receive,transmit}_bytes_total``, interface eth0) and
  each node's root cgroup (``id="/"``). Counters are the integrals of the same slow waves
  that metrics.k8s.io reports (:mod:`.metrics`), so ``rate()`` over them matches ``kubectl
  top`` and they only ever grow while a container runs.
- ``/metrics/kube-state``: kube-state-metrics v2 series for nodes, pods, containers,
  ReplicaSets and Jobs (capacity, conditions, phases, owners, requests, limits, restarts).

Both need the cluster's bearer token, as a kubelet's ``/metrics/cadvisor`` does.
"""

from __future__ import annotations

import math
import re
import time
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from apps.core import quantity

from .errors import path_not_found
from .metrics import _phase, _running, container_usage

if TYPE_CHECKING:
    from .cluster import Cluster

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Counters count from here (as if every kubelet started with this process).
START = time.time()
CONTAINER_PERIOD = 90.0  # the wave periods of metrics.py
NODE_PERIOD = 120.0
NETWORK_PERIOD = 150.0
PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
# Per cluster and node: (time, value) of the root cgroup's CPU counter last served.
_ROOT_COUNTERS: weakref.WeakKeyDictionary[Cluster, dict[str, tuple[float, float]]] = (
    weakref.WeakKeyDictionary()
)


def _wave_integral(name: str, period: float, t: float) -> float:
    """∫ from START to t of the wave (sin(ωt + φ) + 1) / 2 that metrics.py samples."""
    omega = 2 * math.pi / period
    phase = _phase(name)

    def primitive(x: float) -> float:
        return x / 2 - math.cos(omega * x + phase) / (2 * omega)

    return primitive(t) - primitive(START)


def container_cpu_seconds(pod: str, container: dict[str, Any], t: float) -> float:
    requests = (container.get("resources") or {}).get("requests") or {}
    cpu = float(quantity.parse(requests.get("cpu", "50m")))
    name = f"{pod}/{container.get('name')}"
    return cpu * (0.2 * (t - START) + 0.6 * _wave_integral(name, CONTAINER_PERIOD, t))


def _network_base(namespace: str, pod: str) -> float:
    """Bytes per second a pod receives on average (10–90 kB/s, fixed per pod)."""
    return 10_000 + 80_000 * (_phase(f"net/{namespace}/{pod}") / (2 * math.pi))


def network_bytes(namespace: str, pod: str, direction: str, t: float) -> float:
    """The pod's eth0 counter: rate base × (0.5 + wave); transmit is 0.6 of receive's base."""
    base = _network_base(namespace, pod) * (1.0 if direction == "receive" else 0.6)
    name = f"net/{direction}/{namespace}/{pod}"
    return base * (0.5 * (t - START) + _wave_integral(name, NETWORK_PERIOD, t))


def network_rate(namespace: str, pod: str, direction: str, t: float) -> float:
    base = _network_base(namespace, pod) * (1.0 if direction == "receive" else 0.6)
    name = f"net/{direction}/{namespace}/{pod}"
    wave = (math.sin(t / NETWORK_PERIOD * 2 * math.pi + _phase(name)) + 1) / 2
    return base * (0.5 + wave)


# -- text format ------------------------------------------------------------------------------
def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _line(name: str, labels: dict[str, str], value: float) -> str:
    inner = ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items())
    return f"{name}{{{inner}}} {value!r}" if inner else f"{name} {value!r}"


class Family:
    def __init__(self, name: str, kind: str, help_: str):
        self.name, self.kind, self.help = name, kind, help_
        self.lines: list[str] = []

    def add(self, labels: dict[str, str], value: float) -> None:
        self.lines.append(_line(self.name, labels, float(value)))

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} {self.kind}"
        yield from self.lines


def _render(families: list[Family]) -> str:
    return "\n".join(line for f in families for line in f.render()) + "\n"


# -- cAdvisor -------------------------------------------------------------------------------------
def cadvisor(cluster: Cluster, t: float | None = None) -> str:
    t = time.time() if t is None else t
    cpu = Family(
        "container_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed in seconds."
    )
    mem = Family("container_memory_working_set_bytes", "gauge", "Current working set in bytes.")
    rx = Family(
        "container_network_receive_bytes_total", "counter", "Cumulative count of bytes received"
    )
    tx = Family(
        "container_network_transmit_bytes_total",
        "counter",
        "Cumulative count of bytes transmitted",
    )
    node_cpu: dict[str, float] = {}  # the root cgroup's counter as integrals would give it
    node_rate: dict[str, float] = {}  # cores in use right now
    node_mem: dict[str, float] = {}
    for node in cluster.objects("", "nodes"):
        name = node["metadata"]["name"]
        w = (math.sin(t / NODE_PERIOD * 2 * math.pi + _phase(name)) + 1) / 2
        node_cpu[name] = 0.12 * (t - START) + 0.08 * _wave_integral(name, NODE_PERIOD, t)
        node_rate[name] = 0.12 + 0.08 * w
        node_mem[name] = 700 * 2**20 + 200 * 2**20 * w
    for pod in cluster.objects("", "pods"):
        if not _running(pod):
            continue
        meta, spec = pod["metadata"], pod.get("spec") or {}
        ns, pod_name, node = meta.get("namespace", ""), meta["name"], spec.get("nodeName") or ""
        base = {"namespace": ns, "pod": pod_name, "node": node}
        for c in spec.get("containers") or []:
            seconds = container_cpu_seconds(pod_name, c, t)
            cores, used = container_usage(pod_name, c)
            labels = {
                **base,
                "container": c["name"],
                "id": f"/kubepods/pod{meta.get('uid', '')}/{c['name']}",
                "image": c.get("image", ""),
            }
            cpu.add(labels, seconds)
            mem.add(labels, float(used))
            if node in node_cpu:
                node_cpu[node] += seconds
                node_rate[node] += float(cores)
                node_mem[node] += float(used)
        pod_labels = {**base, "interface": "eth0", "id": f"/kubepods/pod{meta.get('uid', '')}"}
        rx.add(pod_labels, network_bytes(ns, pod_name, "receive", t))
        tx.add(pod_labels, network_bytes(ns, pod_name, "transmit", t))
    # A node's root counter must never go back when a pod stops (its container's counter
    # goes with it): after the first scrape it grows by what the node uses now.
    seen = _ROOT_COUNTERS.setdefault(cluster, {})
    for name in node_cpu:
        before = seen.get(name)
        if before is not None:
            last_t, last_value = before
            node_cpu[name] = last_value + node_rate[name] * max(0.0, t - last_t)
        seen[name] = (t, node_cpu[name])
        cpu.add({"id": "/", "node": name}, node_cpu[name])
        mem.add({"id": "/", "node": name}, node_mem[name])
    return _render([cpu, mem, rx, tx])


# -- kube-state-metrics --------------------------------------------------------------------------
def _resource(name: str) -> tuple[str, str]:
    """kube-state-metrics' (resource, unit) labels of a resource name."""
    if name == "cpu":
        return "cpu", "core"
    if name in ("memory", "ephemeral-storage") or name.startswith("hugepages-"):
        return re.sub(r"[^a-zA-Z0-9_]", "_", name), "byte"
    return re.sub(r"[^a-zA-Z0-9_]", "_", name), "integer"


def _owner(meta: dict[str, Any]) -> tuple[str, str]:
    for ref in meta.get("ownerReferences") or []:
        if ref.get("controller"):
            return ref.get("kind", ""), ref.get("name", "")
    return "<none>", "<none>"


def _condition(status: dict[str, Any], type_: str) -> str:
    for cond in status.get("conditions") or []:
        if cond.get("type") == type_:
            return str(cond.get("status", "Unknown")).lower()
    return "unknown"


def kube_state(cluster: Cluster) -> str:
    capacity = Family(
        "kube_node_status_capacity", "gauge", "The capacity for different resources of a node."
    )
    allocatable = Family(
        "kube_node_status_allocatable",
        "gauge",
        "The allocatable for different resources of a node that are available for scheduling.",
    )
    condition = Family("kube_node_status_condition", "gauge", "The condition of a cluster node.")
    info = Family("kube_pod_info", "gauge", "Information about pod.")
    owner = Family("kube_pod_owner", "gauge", "Information about the Pod's owner.")
    phase = Family("kube_pod_status_phase", "gauge", "The pods current phase.")
    ready = Family(
        "kube_pod_status_ready", "gauge", "Describes whether the pod is ready to serve requests."
    )
    requests = Family(
        "kube_pod_container_resource_requests",
        "gauge",
        "The number of requested request resource by a container.",
    )
    limits = Family(
        "kube_pod_container_resource_limits",
        "gauge",
        "The number of requested limit resource by a container.",
    )
    restarts = Family(
        "kube_pod_container_status_restarts_total",
        "counter",
        "The number of container restarts per container.",
    )
    c_ready = Family(
        "kube_pod_container_status_ready",
        "gauge",
        "Describes whether the containers readiness check succeeded.",
    )
    rs_owner = Family("kube_replicaset_owner", "gauge", "Information about the ReplicaSet's owner.")
    job_owner = Family("kube_job_owner", "gauge", "Information about the Job's owner.")

    for node in cluster.objects("", "nodes"):
        name, status = node["metadata"]["name"], node.get("status") or {}
        for family, amounts in (
            (capacity, status.get("capacity")),
            (allocatable, status.get("allocatable")),
        ):
            for res, amount in (amounts or {}).items():
                resource, unit = _resource(res)
                family.add(
                    {"node": name, "resource": resource, "unit": unit},
                    float(quantity.parse(amount)),
                )
        for cond in status.get("conditions") or []:
            value = str(cond.get("status", "Unknown")).lower()
            for s in ("true", "false", "unknown"):
                condition.add(
                    {"node": name, "condition": cond["type"], "status": s},
                    1.0 if s == value else 0.0,
                )

    for pod in cluster.objects("", "pods"):
        meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
        ns, name, node = meta.get("namespace", ""), meta["name"], spec.get("nodeName") or ""
        base = {"namespace": ns, "pod": name}
        kind, owner_name = _owner(meta)
        info.add(
            {
                **base,
                "node": node,
                "created_by_kind": kind,
                "created_by_name": owner_name,
                "uid": meta.get("uid", ""),
            },
            1,
        )
        owner.add(
            {
                **base,
                "owner_kind": kind,
                "owner_name": owner_name,
                "owner_is_controller": "true" if kind != "<none>" else "<none>",
            },
            1,
        )
        current = status.get("phase") or "Unknown"
        for p in PHASES:
            phase.add({**base, "phase": p}, 1.0 if p == current else 0.0)
        is_ready = _condition(status, "Ready")
        for s in ("true", "false", "unknown"):
            ready.add({**base, "condition": s}, 1.0 if s == is_ready else 0.0)
        statuses = {cs.get("name"): cs for cs in status.get("containerStatuses") or []}
        for c in spec.get("containers") or []:
            labels = {**base, "container": c["name"]}
            res = c.get("resources") or {}
            for family, amounts in ((requests, res.get("requests")), (limits, res.get("limits"))):
                for r, amount in (amounts or {}).items():
                    resource, unit = _resource(r)
                    family.add(
                        {**labels, "node": node, "resource": resource, "unit": unit},
                        float(quantity.parse(amount)),
                    )
            cs = statuses.get(c["name"])
            if cs is not None:
                restarts.add(labels, float(cs.get("restartCount") or 0))
                c_ready.add(labels, 1.0 if cs.get("ready") else 0.0)

    for family, group, plural, label in (
        (rs_owner, "apps", "replicasets", "replicaset"),
        (job_owner, "batch", "jobs", "job_name"),
    ):
        for obj in cluster.objects(group, plural):
            meta = obj["metadata"]
            kind, owner_name = _owner(meta)
            family.add(
                {
                    "namespace": meta.get("namespace", ""),
                    label: meta["name"],
                    "owner_kind": kind,
                    "owner_name": owner_name,
                    "owner_is_controller": "true" if kind != "<none>" else "<none>",
                },
                1,
            )

    return _render(
        [
            capacity,
            allocatable,
            condition,
            info,
            owner,
            phase,
            ready,
            requests,
            limits,
            restarts,
            c_ready,
            rs_owner,
            job_owner,
        ]
    )


def handle(cluster: Cluster, parts: list[str]) -> web.Response:
    """``/metrics/cadvisor`` and ``/metrics/kube-state``."""
    if parts == ["metrics", "cadvisor"]:
        body = cadvisor(cluster)
    elif parts == ["metrics", "kube-state"]:
        body = kube_state(cluster)
    else:
        raise path_not_found()
    return web.Response(body=body.encode(), headers={"Content-Type": CONTENT_TYPE})
