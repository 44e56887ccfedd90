"""The metric catalogue: what the portal collects at each level, in TKEStack's names.

Six levels, each object named by a key inside its cluster:

- cluster: key ``""``; labels ``cluster``
- node: key ``<node>``; labels ``cluster, node``
- namespace: key ``<ns>``; labels ``cluster, namespace``
- workload: key ``<ns>/<Kind>/<name>``; labels ``cluster, namespace, workload_kind,
  workload_name``
- pod: key ``<ns>/<pod>``; labels ``cluster, namespace, pod, node, workload_kind,
  workload_name``
- container: key ``<ns>/<pod>/<container>``; the pod's labels and ``container``

A metric's full name is ``k8s_<level>_<name>`` (``k8s_pod_cpu_core_used``), as TKEStack's
monitor and its alarm policies spell them. Every value is a gauge sampled once a collection
(counters such as restarts are stored as their current total).

**The order of each level's list is storage layout**: a stored point is one array per object
per minute, the values in this order (apps.monitoring.store). Append new metrics at the end of
a level; never reorder or remove one (an old point would be read as the wrong metric). A metric
a source cannot give is stored as NULL, and a query returns no point for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_noop

LEVELS = ("cluster", "node", "namespace", "workload", "pod", "container")

# Workload kinds whose pods are summed at the workload level (a pod's owner, followed through
# its ReplicaSet to the Deployment; a CronJob's Job to the CronJob).
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet")

UNITS = {
    "core": gettext_noop("CPU cores"),
    "bytes": gettext_noop("bytes"),
    "bytes/s": gettext_noop("bytes per second"),
    "percent": gettext_noop("percent"),
    "count": gettext_noop("count"),
    "bool": gettext_noop("1 (yes) or 0 (no)"),
}


@dataclass(frozen=True)
class Metric:
    name: str  # without the ``k8s_<level>_`` prefix
    unit: str  # a key of UNITS
    display: str

    def full_name(self, level: str) -> str:
        return f"k8s_{level}_{self.name}"


def _m(name: str, unit: str, display: str) -> Metric:
    return Metric(name, unit, display)


# Resource use and reservations: shared by pod, container, workload, namespace.
_USAGE = [
    _m("cpu_core_used", "core", gettext_noop("CPU used")),
    _m("mem_usage_bytes", "bytes", gettext_noop("Memory used")),
    _m("cpu_core_request", "core", gettext_noop("CPU requested")),
    _m("cpu_core_limit", "core", gettext_noop("CPU limit")),
    _m("mem_request_bytes", "bytes", gettext_noop("Memory requested")),
    _m("mem_limit_bytes", "bytes", gettext_noop("Memory limit")),
    _m("restart_total", "count", gettext_noop("Container restarts")),
    _m("rate_cpu_core_used_request", "percent", gettext_noop("CPU used / requested")),
    _m("rate_cpu_core_used_limit", "percent", gettext_noop("CPU used / limit")),
    _m("rate_mem_usage_request", "percent", gettext_noop("Memory used / requested")),
    _m("rate_mem_usage_limit", "percent", gettext_noop("Memory used / limit")),
    _m("gpu_used", "count", gettext_noop("GPUs used")),
    _m("gpu_request", "count", gettext_noop("GPUs requested")),
]
_NETWORK = [
    _m("network_receive_bytes_bw", "bytes/s", gettext_noop("Network received")),
    _m("network_transmit_bytes_bw", "bytes/s", gettext_noop("Network transmitted")),
]
_PHASES = [
    _m("pod_total", "count", gettext_noop("Pods")),
    _m("pod_running", "count", gettext_noop("Pods running")),
    _m("pod_pending", "count", gettext_noop("Pods pending")),
    _m("pod_succeeded", "count", gettext_noop("Pods succeeded")),
    _m("pod_failed", "count", gettext_noop("Pods failed")),
    _m("pod_unknown", "count", gettext_noop("Pods unknown")),
]
_CAPACITY = [
    _m("cpu_capacity", "core", gettext_noop("CPU capacity")),
    _m("cpu_allocatable", "core", gettext_noop("CPU allocatable")),
    _m("mem_capacity_bytes", "bytes", gettext_noop("Memory capacity")),
    _m("mem_allocatable_bytes", "bytes", gettext_noop("Memory allocatable")),
    _m("gpu_capacity", "count", gettext_noop("GPU capacity")),
]

CATALOG: dict[str, tuple[Metric, ...]] = {
    "cluster": tuple(
        [
            _m("cpu_core_used", "core", gettext_noop("CPU used")),
            _m("mem_usage_bytes", "bytes", gettext_noop("Memory used")),
            _m("cpu_core_request", "core", gettext_noop("CPU requested")),
            _m("mem_request_bytes", "bytes", gettext_noop("Memory requested")),
            *_CAPACITY,
            _m("rate_cpu_core_used_cluster", "percent", gettext_noop("CPU used / allocatable")),
            _m(
                "rate_mem_usage_bytes_cluster", "percent", gettext_noop("Memory used / allocatable")
            ),
            _m(
                "rate_cpu_core_request_cluster",
                "percent",
                gettext_noop("CPU requested / allocatable"),
            ),
            _m(
                "rate_mem_request_bytes_cluster",
                "percent",
                gettext_noop("Memory requested / allocatable"),
            ),
            _m("node_total", "count", gettext_noop("Nodes")),
            _m("node_not_ready", "count", gettext_noop("Nodes not ready")),
            *_PHASES,
            _m("restart_total", "count", gettext_noop("Container restarts")),
            _m("gpu_used", "count", gettext_noop("GPUs used")),
            _m("gpu_request", "count", gettext_noop("GPUs requested")),
            *_NETWORK,
        ]
    ),
    "node": tuple(
        [
            _m("cpu_core_used", "core", gettext_noop("CPU used")),
            _m("mem_usage_bytes", "bytes", gettext_noop("Memory used")),
            _m("cpu_core_request", "core", gettext_noop("CPU requested")),
            _m("mem_request_bytes", "bytes", gettext_noop("Memory requested")),
            *_CAPACITY,
            _m("cpu_usage", "percent", gettext_noop("CPU used / capacity")),
            _m("mem_usage", "percent", gettext_noop("Memory used / capacity")),
            _m("rate_cpu_core_request", "percent", gettext_noop("CPU requested / allocatable")),
            _m("rate_mem_request", "percent", gettext_noop("Memory requested / allocatable")),
            _m("pod_num", "count", gettext_noop("Pods")),
            _m("pod_restart_total", "count", gettext_noop("Container restarts")),
            _m("status_ready", "bool", gettext_noop("Ready")),
            _m("gpu_request", "count", gettext_noop("GPUs requested")),
            _m("gpu_used", "count", gettext_noop("GPUs used")),
            *_NETWORK,
        ]
    ),
    "namespace": tuple([*_USAGE, *_PHASES, *_NETWORK]),
    "workload": tuple([*_USAGE, *_PHASES, *_NETWORK]),
    "pod": tuple(
        [
            *_USAGE,
            _m("status_ready", "bool", gettext_noop("Ready")),
            _m("rate_cpu_core_used_node", "percent", gettext_noop("CPU used / node capacity")),
            _m("rate_mem_usage_node", "percent", gettext_noop("Memory used / node capacity")),
            *_NETWORK,
        ]
    ),
    "container": tuple(
        [
            *_USAGE,
            _m("status_ready", "bool", gettext_noop("Ready")),
        ]
    ),
}

# (level, short name) → position in the level's stored array.
POSITION: dict[tuple[str, str], int] = {
    (level, metric.name): i
    for level, metrics in CATALOG.items()
    for i, metric in enumerate(metrics)
}
# ``k8s_pod_cpu_core_used`` → ("pod", "cpu_core_used")
BY_FULL_NAME: dict[str, tuple[str, str]] = {
    metric.full_name(level): (level, metric.name)
    for level, metrics in CATALOG.items()
    for metric in metrics
}


def metric(level: str, name: str) -> Metric:
    """The catalogue entry; KeyError (with the level's names) when there is none."""
    try:
        return CATALOG[level][POSITION[(level, name)]]
    except KeyError:
        known = ", ".join(m.name for m in CATALOG.get(level, ()))
        raise KeyError(f"no metric {name!r} at level {level!r} (known: {known})") from None


def resolve(name: str, level: str | None = None) -> tuple[str, str]:
    """(level, short name) of a full (``k8s_pod_cpu_core_used``) or, with ``level``, a short
    name; KeyError when the catalogue has no such metric."""
    if name in BY_FULL_NAME:
        found = BY_FULL_NAME[name]
        if level is not None and found[0] != level:
            raise KeyError(f"{name} is a {found[0]} metric, not a {level} metric")
        return found
    if level is None:
        raise KeyError(f"no metric {name!r}")
    metric(level, name)
    return level, name


def object_labels(level: str, key: str) -> dict[str, str]:
    """The labels an object key stands for (without ``cluster`` and the pod's ``node`` /
    workload labels, which the series row keeps)."""
    if level == "cluster":
        return {}
    if level == "node":
        return {"node": key}
    if level == "namespace":
        return {"namespace": key}
    parts = key.split("/")
    if level == "workload":
        ns, kind, name = parts
        return {"namespace": ns, "workload_kind": kind, "workload_name": name}
    if level == "pod":
        ns, pod = parts
        return {"namespace": ns, "pod": pod}
    ns, pod, container = parts
    return {"namespace": ns, "pod": pod, "container": container}
