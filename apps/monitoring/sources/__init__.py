"""Where collection gets a cluster's state: one snapshot of nodes, pods and their usage.

A source (:mod:`.kubernetes` — the API and metrics.k8s.io; :mod:`.prometheus` — the
cluster's own Prometheus) turns what it reads into a :class:`Snapshot`;
:mod:`apps.monitoring.collect` computes every level of the catalogue from it, the same way for
both. A value a source does not have stays None (network from the API, say) and is stored as
absent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from apps.core import quantity

# Extended resources counted as GPUs: NVIDIA's device plugin and TKEStack's GPU manager
# (``tencent.com/vcuda-core`` counts hundredths of a GPU).
GPU_RESOURCES = {"nvidia.com/gpu": 1.0, "tencent.com/vcuda-core": 0.01}


class SourceError(Exception):
    """The source could not be read; the message names the cluster ("cluster X
    unreachable: …") and never carries a credential."""


@dataclass
class Node:
    name: str
    ready: bool | None = None
    cpu_capacity: float | None = None
    cpu_allocatable: float | None = None
    mem_capacity: float | None = None
    mem_allocatable: float | None = None
    gpu_capacity: float | None = None
    # Usage (metrics.k8s.io NodeMetrics, or the root cgroup in cAdvisor).
    cpu_used: float | None = None
    mem_used: float | None = None
    net_rx: float | None = None
    net_tx: float | None = None


@dataclass
class Container:
    name: str
    cpu_request: float | None = None
    cpu_limit: float | None = None
    mem_request: float | None = None
    mem_limit: float | None = None
    gpu_request: float | None = None
    restarts: float | None = None
    ready: bool | None = None
    cpu_used: float | None = None
    mem_used: float | None = None


@dataclass
class Pod:
    namespace: str
    name: str
    node: str = ""
    phase: str = "Unknown"
    ready: bool | None = None
    # The controller the pod belongs to, followed to the top (ReplicaSet → Deployment,
    # Job → CronJob); "" when the pod has none.
    workload_kind: str = ""
    workload_name: str = ""
    containers: list[Container] = field(default_factory=list)
    net_rx: float | None = None  # bytes per second
    net_tx: float | None = None


@dataclass
class Snapshot:
    nodes: list[Node] = field(default_factory=list)
    pods: list[Pod] = field(default_factory=list)
    requests: int = 0  # HTTP requests the source made (for the benchmark and the admin)


def gpus(resources: dict | None) -> float | None:
    """GPUs in a requests / limits / capacity map (None when it names none)."""
    if not resources:
        return None
    found = None
    for name, per_unit in GPU_RESOURCES.items():
        if name in resources:
            found = (found or 0.0) + float(quantity.parse(resources[name])) * per_unit
    return found
