"""The Kubernetes API and ``metrics.k8s.io`` as a metric source (through apps.clusters.k8s).

Per collection: nodes, pods (all namespaces), and — only when some pod is owned by one —
ReplicaSets and Jobs to follow a pod to its Deployment or CronJob, each listed in pages of
PAGE_SIZE (1,000 pods are two requests); then NodeMetrics and PodMetrics. A cluster without
metrics-server still gives capacity, requests, limits, restarts and phases: usage is absent.
Network is not in this source.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any

from apps.clusters import k8s
from apps.core import quantity

from . import Container, Node, Pod, Snapshot, SourceError, gpus

PAGE_SIZE = 500


def _num(value: Any) -> float | None:
    if value in (None, ""):
        return None
    return _parse(str(value))


@lru_cache(maxsize=8192)
def _parse(value: str) -> float | None:
    """A quantity as a float (cached: a cluster's pods repeat a few request, limit and
    capacity sizes)."""
    try:
        return float(quantity.parse(value))
    except (ValueError, ArithmeticError):
        return None


# Usage figures (``61148000n``, ``101491Ki``) are new numbers every collection: a cache only
# churns. Digits with a suffix are scaled here, exactly as the Decimal parser then float()
# would (integer arithmetic, one correctly rounded division); anything else goes through it.
_PLAIN = re.compile(r"([0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?)")
_SCALE = {
    "": (1, 1),
    "n": (1, 10**9),
    "u": (1, 10**6),
    "m": (1, 10**3),
    "k": (10**3, 1),
    "M": (10**6, 1),
    "G": (10**9, 1),
    "T": (10**12, 1),
    "P": (10**15, 1),
    "E": (10**18, 1),
    "Ki": (2**10, 1),
    "Mi": (2**20, 1),
    "Gi": (2**30, 1),
    "Ti": (2**40, 1),
    "Pi": (2**50, 1),
    "Ei": (2**60, 1),
}


def _usage_num(value: Any) -> float | None:
    if value in (None, ""):
        return None
    text = str(value)
    plain = _PLAIN.fullmatch(text)
    if plain is None:
        return _parse(text)
    multiplier, divisor = _SCALE[plain[2]]
    return int(plain[1]) * multiplier / divisor


def _pages(client: k8s.KubeClient, path: str, counter: list[int]) -> Iterator[dict]:
    token = None
    while True:
        page = client.get(path, query={"limit": PAGE_SIZE, "continue": token}) or {}
        counter[0] += 1
        yield from page.get("items") or []
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            return


def _controller(meta: dict) -> tuple[str, str]:
    for ref in meta.get("ownerReferences") or []:
        if ref.get("controller"):
            return ref.get("kind", ""), ref.get("name", "")
    return "", ""


def _condition(status: dict, type_: str) -> bool | None:
    for cond in status.get("conditions") or []:
        if cond.get("type") == type_:
            return cond.get("status") == "True"
    return None


def node_from(obj: dict) -> Node:
    status = obj.get("status") or {}
    capacity, allocatable = status.get("capacity") or {}, status.get("allocatable") or {}
    return Node(
        name=obj["metadata"]["name"],
        ready=bool(_condition(status, "Ready")),
        cpu_capacity=_num(capacity.get("cpu")),
        cpu_allocatable=_num(allocatable.get("cpu")),
        mem_capacity=_num(capacity.get("memory")),
        mem_allocatable=_num(allocatable.get("memory")),
        gpu_capacity=gpus(capacity),
    )


def pod_from(obj: dict, owners: dict[tuple[str, str, str], tuple[str, str]]) -> Pod:
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    ns = meta.get("namespace", "")
    kind, name = _controller(meta)
    # ReplicaSet → Deployment, Job → CronJob (a ReplicaSet or Job of its own stays itself).
    kind, name = owners.get((ns, kind, name), (kind, name))
    statuses = {cs.get("name"): cs for cs in status.get("containerStatuses") or []}
    containers = []
    for c in spec.get("containers") or []:
        res = c.get("resources") or {}
        requests, limits = res.get("requests") or {}, res.get("limits") or {}
        cs = statuses.get(c.get("name")) or {}
        containers.append(
            Container(
                name=c.get("name", ""),
                cpu_request=_num(requests.get("cpu")),
                cpu_limit=_num(limits.get("cpu")),
                mem_request=_num(requests.get("memory")),
                mem_limit=_num(limits.get("memory")),
                gpu_request=gpus(requests) or gpus(limits),
                restarts=float(cs.get("restartCount") or 0),
                ready=bool(cs.get("ready")),
            )
        )
    return Pod(
        namespace=ns,
        name=meta["name"],
        node=spec.get("nodeName") or "",
        phase=status.get("phase") or "Unknown",
        ready=bool(_condition(status, "Ready")),
        workload_kind=kind,
        workload_name=name,
        containers=containers,
    )


def fetch(client: k8s.KubeClient, cluster_name: str) -> Snapshot:
    """One snapshot of the cluster; SourceError when it cannot be reached or read.

    metrics.k8s.io is read on a second thread while the lists are read on this one: each
    side decodes one answer while the API server prepares the other's (the client's
    connection pool is thread-safe; nothing else is shared)."""
    counter, usage_counter = [0], [0]
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="metrics-usage") as pool:
        usage = pool.submit(_usage_items, client, usage_counter)
        try:
            nodes, pods = _objects(client, counter)
        except k8s.ClusterError as exc:
            raise SourceError(_unreachable(cluster_name, exc)) from None
        try:
            node_usage, pod_usage = usage.result()
        except k8s.ClusterUnreachable as exc:
            raise SourceError(_unreachable(cluster_name, exc)) from None
    snapshot = Snapshot(nodes=nodes, pods=pods)
    _apply_usage(snapshot, node_usage, pod_usage)
    snapshot.requests = counter[0] + usage_counter[0]
    return snapshot


def _objects(client: k8s.KubeClient, counter: list[int]) -> tuple[list[Node], list[Pod]]:
    nodes = [node_from(n) for n in _pages(client, "/api/v1/nodes", counter)]
    raw_pods = list(_pages(client, "/api/v1/pods", counter))
    kinds = {_controller(p["metadata"])[0] for p in raw_pods}
    owners: dict[tuple[str, str, str], tuple[str, str]] = {}
    for kind, path in (
        ("ReplicaSet", "/apis/apps/v1/replicasets"),
        ("Job", "/apis/batch/v1/jobs"),
    ):
        if kind not in kinds:
            continue
        for obj in _pages(client, path, counter):
            top = _controller(obj["metadata"])
            if top[0]:
                owners[(obj["metadata"].get("namespace", ""), kind, obj["metadata"]["name"])] = top
    return nodes, [pod_from(p, owners) for p in raw_pods]


def _unreachable(cluster_name: str, exc: k8s.ClusterError) -> str:
    return f"cluster {cluster_name} unreachable: {exc.detail}"


def _usage_items(client: k8s.KubeClient, counter: list[int]) -> tuple[list[dict], list[dict]]:
    """NodeMetrics and PodMetrics; what was read before metrics.k8s.io failed (none when the
    cluster does not serve it). An unreachable cluster raises."""
    nodes: list[dict] = []
    pods: list[dict] = []
    try:
        for item in _pages(client, "/apis/metrics.k8s.io/v1beta1/nodes", counter):
            nodes.append(item)
        for item in _pages(client, "/apis/metrics.k8s.io/v1beta1/pods", counter):
            pods.append(item)
    except k8s.ClusterUnreachable:
        raise
    except k8s.ClusterError:  # no metrics-server (404), or it failed: usage stays absent
        pass
    return nodes, pods


def _apply_usage(snapshot: Snapshot, node_usage: list[dict], pod_usage: list[dict]) -> None:
    by_node = {n.name: n for n in snapshot.nodes}
    by_pod = {(p.namespace, p.name): p for p in snapshot.pods}
    for item in node_usage:
        node = by_node.get(item["metadata"]["name"])
        if node is not None:
            usage = item.get("usage") or {}
            node.cpu_used = _usage_num(usage.get("cpu"))
            node.mem_used = _usage_num(usage.get("memory"))
    for item in pod_usage:
        meta = item["metadata"]
        pod = by_pod.get((meta.get("namespace", ""), meta["name"]))
        if pod is None:
            continue
        containers = {c.name: c for c in pod.containers}
        for used in item.get("containers") or []:
            c = containers.get(used.get("name"))
            if c is not None:
                usage = used.get("usage") or {}
                c.cpu_used = _usage_num(usage.get("cpu"))
                c.mem_used = _usage_num(usage.get("memory"))
