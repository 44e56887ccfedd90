"""One collection of one cluster: read a snapshot from its source, compute every level of
the catalogue from it, store the points, record how it went on the ClusterMonitor.

Computation is the same for every source (:mod:`apps.monitoring.sources`):

- container and pod: usage, requests, limits (a pod's limit is absent when a container has
  none), restarts, readiness; a pod's share of its node's capacity; network (pod) when the
  source has it.
- workload (a pod's controller followed to the top: ReplicaSet → Deployment, Job → CronJob)
  and namespace: sums over their pods, ratios from the sums, pods counted by phase.
- node: usage from the source, requests of the pods on it that are not terminated, capacity,
  ratios, readiness; cluster: the sum over nodes and pods.
- GPUs: requested (``nvidia.com/gpu``, ``tencent.com/vcuda-core``/100) and used = held by
  running pods (what the scheduler has handed out; neither source sees utilisation).
- Ratios are percentages, absent when the denominator is absent or zero.
"""

from __future__ import annotations

import gc
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from django.db.models import F
from django.utils import timezone

from . import store
from .catalog import CATALOG, POSITION
from .models import ClusterMonitor, Source
from .sources import Pod, Snapshot, SourceError

logger = logging.getLogger("tkeportal.monitoring")

PHASES = ("Running", "Pending", "Succeeded", "Failed", "Unknown")
TERMINATED = ("Succeeded", "Failed")


# -- arithmetic that keeps "absent" absent ------------------------------------------------------
def total(values: Iterable[float | None]) -> float | None:
    found = [v for v in values if v is not None]
    return sum(found) if found else None


def percent(part: float | None, whole: float | None) -> float | None:
    if part is None or not whole:
        return None
    return part / whole * 100.0


def flag(value: bool | None) -> float | None:
    return None if value is None else (1.0 if value else 0.0)


# Per level, short name → position (POSITION without a tuple built per value: compute places
# some 60,000 values per 1,000 pods).
_POSITIONS = {
    level: {name: POSITION[(level, name)] for name in (m.name for m in metrics)}
    for level, metrics in CATALOG.items()
}


def values(level: str, named: dict[str, float | None]) -> list[float | None]:
    positions = _POSITIONS[level]
    out: list[float | None] = [None] * len(positions)
    for name, value in named.items():
        out[positions[name]] = value
    return out


# -- levels ---------------------------------------------------------------------------------------
def _usage(cpu, mem, cpu_req, cpu_lim, mem_req, mem_lim, restarts, gpu_used, gpu_req) -> dict:
    return {
        "cpu_core_used": cpu,
        "mem_usage_bytes": mem,
        "cpu_core_request": cpu_req,
        "cpu_core_limit": cpu_lim,
        "mem_request_bytes": mem_req,
        "mem_limit_bytes": mem_lim,
        "restart_total": restarts,
        "rate_cpu_core_used_request": percent(cpu, cpu_req),
        "rate_cpu_core_used_limit": percent(cpu, cpu_lim),
        "rate_mem_usage_request": percent(mem, mem_req),
        "rate_mem_usage_limit": percent(mem, mem_lim),
        "gpu_used": gpu_used,
        "gpu_request": gpu_req,
    }


def _limit(values: list[float | None]) -> float | None:
    """A pod's limit: absent when one of its containers has none (it may use the node)."""
    if not values or any(v is None for v in values):
        return None
    return sum(values)  # type: ignore[arg-type]


class _PodFigures:
    """A pod's sums over its containers."""

    def __init__(self, pod: Pod):
        cs = pod.containers
        self.cpu = total(c.cpu_used for c in cs)
        self.mem = total(c.mem_used for c in cs)
        self.cpu_req = total(c.cpu_request for c in cs) or 0.0
        self.mem_req = total(c.mem_request for c in cs) or 0.0
        self.cpu_lim = _limit([c.cpu_limit for c in cs])
        self.mem_lim = _limit([c.mem_limit for c in cs])
        self.restarts = total(c.restarts for c in cs) or 0.0
        self.gpu_req = total(c.gpu_request for c in cs) or 0.0
        self.live = pod.phase not in TERMINATED
        self.gpu_used = self.gpu_req if pod.phase == "Running" else 0.0


def _group(pods: list[tuple[Pod, _PodFigures]]) -> dict:
    """Sums over pods (requests of pods that are not terminated), by-phase counts, network."""
    live = [f for _, f in pods if f.live]
    named = _usage(
        total(f.cpu for _, f in pods),
        total(f.mem for _, f in pods),
        sum(f.cpu_req for f in live),
        total(f.cpu_lim for f in live),
        sum(f.mem_req for f in live),
        total(f.mem_lim for f in live),
        sum(f.restarts for _, f in pods),
        sum(f.gpu_used for _, f in pods),
        sum(f.gpu_req for f in live),
    )
    named.update(_phases([p for p, _ in pods]))
    named["network_receive_bytes_bw"] = total(p.net_rx for p, _ in pods)
    named["network_transmit_bytes_bw"] = total(p.net_tx for p, _ in pods)
    return named


def _phases(pods: list[Pod]) -> dict:
    counts = dict.fromkeys(PHASES, 0)
    for pod in pods:
        counts[pod.phase if pod.phase in counts else "Unknown"] += 1
    named = {f"pod_{phase.lower()}": float(n) for phase, n in counts.items()}
    named["pod_total"] = float(len(pods))
    return named


def compute(snapshot: Snapshot, cluster_name: str) -> list[store.Row]:
    """Every level's rows of one snapshot."""
    rows: list[store.Row] = []
    nodes = {n.name: n for n in snapshot.nodes}
    figures = [(pod, _PodFigures(pod)) for pod in snapshot.pods]
    by_node: dict[str, list] = defaultdict(list)
    by_ns: dict[str, list] = defaultdict(list)
    by_workload: dict[tuple[str, str, str], list] = defaultdict(list)
    base = {"cluster": cluster_name}

    for pod, f in figures:
        by_node[pod.node].append((pod, f))
        by_ns[pod.namespace].append((pod, f))
        if pod.workload_kind:
            by_workload[(pod.namespace, pod.workload_kind, pod.workload_name)].append((pod, f))
        labels = {
            **base,
            "namespace": pod.namespace,
            "pod": pod.name,
            "node": pod.node,
            "workload_kind": pod.workload_kind,
            "workload_name": pod.workload_name,
        }
        node = nodes.get(pod.node)
        named = _usage(
            f.cpu,
            f.mem,
            f.cpu_req,
            f.cpu_lim,
            f.mem_req,
            f.mem_lim,
            f.restarts,
            f.gpu_used,
            f.gpu_req,
        )
        named.update(
            status_ready=flag(pod.ready),
            rate_cpu_core_used_node=percent(f.cpu, node.cpu_capacity if node else None),
            rate_mem_usage_node=percent(f.mem, node.mem_capacity if node else None),
            network_receive_bytes_bw=pod.net_rx,
            network_transmit_bytes_bw=pod.net_tx,
        )
        rows.append(store.Row("pod", f"{pod.namespace}/{pod.name}", values("pod", named), labels))
        for c in pod.containers:
            c_gpu = c.gpu_request or 0.0
            named = _usage(
                c.cpu_used,
                c.mem_used,
                c.cpu_request or 0.0,
                c.cpu_limit,
                c.mem_request or 0.0,
                c.mem_limit,
                c.restarts,
                c_gpu if pod.phase == "Running" else 0.0,
                c_gpu,
            )
            named["status_ready"] = flag(c.ready)
            rows.append(
                store.Row(
                    "container",
                    f"{pod.namespace}/{pod.name}/{c.name}",
                    values("container", named),
                    {**labels, "container": c.name},
                )
            )

    for (ns, kind, name), members in sorted(by_workload.items()):
        labels = {**base, "namespace": ns, "workload_kind": kind, "workload_name": name}
        rows.append(
            store.Row(
                "workload", f"{ns}/{kind}/{name}", values("workload", _group(members)), labels
            )
        )
    for ns, members in sorted(by_ns.items()):
        rows.append(
            store.Row(
                "namespace", ns, values("namespace", _group(members)), {**base, "namespace": ns}
            )
        )

    for node in snapshot.nodes:
        members = by_node.get(node.name, [])
        live = [f for _, f in members if f.live]
        cpu_req = sum(f.cpu_req for f in live)
        mem_req = sum(f.mem_req for f in live)
        named = {
            "cpu_core_used": node.cpu_used,
            "mem_usage_bytes": node.mem_used,
            "cpu_core_request": cpu_req,
            "mem_request_bytes": mem_req,
            "cpu_capacity": node.cpu_capacity,
            "cpu_allocatable": node.cpu_allocatable,
            "mem_capacity_bytes": node.mem_capacity,
            "mem_allocatable_bytes": node.mem_allocatable,
            "gpu_capacity": node.gpu_capacity or 0.0,
            "cpu_usage": percent(node.cpu_used, node.cpu_capacity),
            "mem_usage": percent(node.mem_used, node.mem_capacity),
            "rate_cpu_core_request": percent(cpu_req, node.cpu_allocatable),
            "rate_mem_request": percent(mem_req, node.mem_allocatable),
            "pod_num": float(len(live)),
            "pod_restart_total": sum(f.restarts for _, f in members),
            "status_ready": flag(node.ready),
            "gpu_request": sum(f.gpu_req for f in live),
            "gpu_used": sum(f.gpu_used for _, f in members),
            "network_receive_bytes_bw": node.net_rx
            if node.net_rx is not None
            else total(p.net_rx for p, _ in members),
            "network_transmit_bytes_bw": node.net_tx
            if node.net_tx is not None
            else total(p.net_tx for p, _ in members),
        }
        rows.append(
            store.Row("node", node.name, values("node", named), {**base, "node": node.name})
        )

    live = [f for _, f in figures if f.live]
    cpu_used = total(n.cpu_used for n in snapshot.nodes)
    mem_used = total(n.mem_used for n in snapshot.nodes)
    cpu_alloc = total(n.cpu_allocatable for n in snapshot.nodes)
    mem_alloc = total(n.mem_allocatable for n in snapshot.nodes)
    cpu_req = sum(f.cpu_req for f in live)
    mem_req = sum(f.mem_req for f in live)
    named = {
        "cpu_core_used": cpu_used,
        "mem_usage_bytes": mem_used,
        "cpu_core_request": cpu_req,
        "mem_request_bytes": mem_req,
        "cpu_capacity": total(n.cpu_capacity for n in snapshot.nodes),
        "cpu_allocatable": cpu_alloc,
        "mem_capacity_bytes": total(n.mem_capacity for n in snapshot.nodes),
        "mem_allocatable_bytes": mem_alloc,
        "gpu_capacity": sum(n.gpu_capacity or 0.0 for n in snapshot.nodes),
        "rate_cpu_core_used_cluster": percent(cpu_used, cpu_alloc),
        "rate_mem_usage_bytes_cluster": percent(mem_used, mem_alloc),
        "rate_cpu_core_request_cluster": percent(cpu_req, cpu_alloc),
        "rate_mem_request_bytes_cluster": percent(mem_req, mem_alloc),
        "node_total": float(len(snapshot.nodes)),
        "node_not_ready": float(sum(1 for n in snapshot.nodes if not n.ready)),
        "restart_total": sum(f.restarts for _, f in figures),
        "gpu_used": sum(f.gpu_used for _, f in figures),
        "gpu_request": sum(f.gpu_req for f in live),
        "network_receive_bytes_bw": total(p.net_rx for p in snapshot.pods),
        "network_transmit_bytes_bw": total(p.net_tx for p in snapshot.pods),
    }
    named.update(_phases(snapshot.pods))
    rows.append(store.Row("cluster", "", values("cluster", named), dict(base)))
    return rows


# -- one collection ----------------------------------------------------------------------------
def fetch(monitor: ClusterMonitor) -> Snapshot:
    """The snapshot from the monitor's source; SourceError when it cannot be read."""
    cluster = monitor.cluster
    if monitor.source == Source.PROMETHEUS:
        from .sources import prometheus

        return prometheus.fetch(monitor)
    from apps.clusters import k8s, services

    from .sources import kubernetes

    try:
        client = services.client_for(cluster)
    except k8s.ClusterError as exc:  # the stored CA or client certificate is unusable
        raise SourceError(f"cluster {cluster.name} unreachable: {exc.detail}") from None
    with client:
        return kubernetes.fetch(client, cluster.name)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off for one collection. A collection allocates some
    100,000 objects that live until its rows are stored (the decoded lists, the snapshot, the
    rows); each allocation burst set off collections that traversed the whole of a worker's
    heap, Django included: ~40% of a collection's CPU. None of these objects is in a cycle
    (reference counting frees them); cycles made meanwhile wait for the next collection."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def collect(monitor: ClusterMonitor, now: datetime | None = None) -> dict:
    """Collect, store and record one cluster's metrics at ``now``; never raises for a
    cluster or Prometheus that cannot be reached (that is recorded on the monitor). The
    result has the seconds of each stage, elapsed and on this process's CPU (the rest of
    the elapsed time is the cluster's and the database's)."""
    with _collector_paused():
        return _collect(monitor, now)


def _collect(monitor: ClusterMonitor, now: datetime | None) -> dict:
    now = now or datetime.now(UTC)
    marks = [(time.monotonic(), time.process_time())]
    try:
        snapshot = fetch(monitor)
    except SourceError as exc:
        ClusterMonitor.objects.filter(pk=monitor.pk).update(
            last_error=str(exc),
            consecutive_failures=F("consecutive_failures") + 1,
            last_duration_ms=int((time.monotonic() - marks[0][0]) * 1000),
        )
        logger.info("metric collection failed: %s", exc)
        return {"ok": False, "error": str(exc)}
    marks.append((time.monotonic(), time.process_time()))
    rows = compute(snapshot, monitor.cluster.name)
    marks.append((time.monotonic(), time.process_time()))
    written = store.write(monitor.cluster, now, rows)
    marks.append((time.monotonic(), time.process_time()))
    elapsed = int((marks[-1][0] - marks[0][0]) * 1000)
    ClusterMonitor.objects.filter(pk=monitor.pk).update(
        last_collected_at=timezone.now(),
        last_duration_ms=elapsed,
        last_series=len(rows),
        last_error="",
        consecutive_failures=0,
    )
    stages = ("fetch", "compute", "write")
    return {
        "ok": True,
        "series": len(rows),
        "written": written,
        "requests": snapshot.requests,
        "ms": elapsed,
        "seconds": {s: b[0] - a[0] for s, a, b in zip(stages, marks, marks[1:], strict=False)},
        "cpu_seconds": {s: b[1] - a[1] for s, a, b in zip(stages, marks, marks[1:], strict=False)},
    }
