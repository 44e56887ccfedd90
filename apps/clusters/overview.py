"""The multi-cluster overview: every visible cluster's phase, nodes, capacity and pods.

Clusters are asked concurrently on one bounded thread pool for the whole process (never a
pool per request), and the answer is ready within ``OVERVIEW_BUDGET_S`` however many
clusters there are or however slow they are:

- a cluster that answered is shown live (``stale: false``), and what it said is kept as its
  last known inventory (``Cluster.inventory``);
- a cluster that has not answered within the budget is shown with its last known inventory,
  ``stale: true`` — still ``reachable`` unless its last health check failed: being slower
  than the budget is not being down;
- ``reachable: false`` only for a failed connection (refused, TLS, a rejected credential,
  no connection within the connect timeout) or a failed health check; a cluster that
  connected but answers slower than its read timeout is stale, not unreachable.

A question still running when the budget ends is not abandoned: it finishes on the pool,
its answer is remembered, and the next overview shows (and stores) it. A cluster is never
asked twice at once: a request joins the question already under way.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from apps.core import quantity

from . import k8s, services
from .choices import ClusterPhase, ConditionStatus
from .models import Cluster

logger = logging.getLogger("tkeportal.clusters")

OVERVIEW_BUDGET_S = 3.0
# Each cluster's own request: connect and read timeouts (a cluster that cannot be reached
# within these is unreachable; one still queued or answering at the budget is stale).
OVERVIEW_TIMEOUT = (1.5, 3.0)
OVERVIEW_WORKERS = 32
# Answers remembered in memory for clusters whose rows were not written yet.
REMEMBERED = 10_000


@dataclass
class Answer:
    """What one cluster said (``inventory``) or why it could not be asked (``error``)."""

    at: datetime
    inventory: dict | None = None
    error: str = ""
    slow: bool = False  # connected, but no answer within the read timeout: not unreachable


def _ready(node: dict) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in node.get("status", {}).get("conditions", [])
    )


def inventory_of(nodes: list[dict], pods: int) -> dict:
    capacity: dict[str, list[str]] = {}
    allocatable: dict[str, list[str]] = {}
    for node in nodes:
        status = node.get("status", {})
        for target, source in (
            (capacity, status.get("capacity", {})),
            (allocatable, status.get("allocatable", {})),
        ):
            for resource in ("cpu", "memory"):
                if resource in source:
                    target.setdefault(resource, []).append(str(source[resource]))
    return {
        "nodes": len(nodes),
        "ready_nodes": sum(1 for n in nodes if _ready(n)),
        "pods": pods,
        "capacity": {k: quantity.total(v) for k, v in capacity.items()},
        "allocatable": {k: quantity.total(v) for k, v in allocatable.items()},
    }


def _ask(key: int, conn: k8s.Connection) -> Answer:
    """Runs on the pool: network only, no database."""
    try:
        with k8s.client(key, conn, timeout=OVERVIEW_TIMEOUT) as client:
            nodes = client.list_nodes()
            pods = client.count_pods()
    except k8s.ClusterSlow as exc:
        return Answer(at=timezone.now(), error=str(exc.detail), slow=True)
    except k8s.ClusterError as exc:
        return Answer(at=timezone.now(), error=str(exc.detail))
    return Answer(at=timezone.now(), inventory=inventory_of(nodes, pods))


class Fanout:
    """The process's overview pool, the questions under way and the answers not yet stored.
    Thread-safe; the pool starts on first use (never at import)."""

    def __init__(self, workers: int | None = None):
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._running: dict[int, Future[Answer]] = {}
        self._answers: OrderedDict[int, Answer] = OrderedDict()

    @property
    def pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                workers = self._workers or getattr(
                    settings, "CLUSTERS_OVERVIEW_WORKERS", OVERVIEW_WORKERS
                )
                self._pool = ThreadPoolExecutor(
                    max_workers=workers, thread_name_prefix="cluster-overview"
                )
            return self._pool

    def ask(self, key: int, conn: k8s.Connection) -> Future[Answer]:
        """The question under way for this cluster, or a new one."""
        pool = self.pool
        with self._lock:
            future = self._running.get(key)
            if future is not None:
                return future
            future = pool.submit(_ask, key, conn)
            self._running[key] = future
        future.add_done_callback(lambda f: self._finished(key, f))
        return future

    def _finished(self, key: int, future: Future[Answer]) -> None:
        with self._lock:
            if self._running.get(key) is future:
                del self._running[key]
            if future.cancelled():
                return
            if future.exception() is not None:
                logger.error("overview of cluster %s failed", key, exc_info=future.exception())
            else:
                self._answers[key] = future.result()
                self._answers.move_to_end(key)
                while len(self._answers) > REMEMBERED:
                    self._answers.popitem(last=False)

    def take(self, key: int) -> Answer | None:
        """The latest answer not yet stored (removed: the caller stores it)."""
        with self._lock:
            return self._answers.pop(key, None)

    def running(self) -> int:
        with self._lock:
            return len(self._running)


fanout = Fanout()


def _health_failure(cluster: Cluster) -> str:
    """The failed health check's message, or "" when the last check passed (or none ran)."""
    for condition in cluster.conditions or []:
        if condition.get("type") == "HealthCheck" and condition.get("status") == (
            ConditionStatus.FALSE
        ):
            return condition.get("message") or condition.get("reason") or "health check failed"
    if cluster.phase == ClusterPhase.FAILED:
        return cluster.message or "health check failed"
    return ""


def _last_known(cluster: Cluster) -> dict:
    """The stored inventory; before the overview ever stored one, the node sync's summary."""
    if cluster.inventory:
        return dict(cluster.inventory)
    keep = ("cpu", "memory")
    return {
        "nodes": cluster.node_count,
        "ready_nodes": None,
        "pods": None,
        "capacity": {k: v for k, v in (cluster.capacity or {}).items() if k in keep},
        "allocatable": {k: v for k, v in (cluster.allocatable or {}).items() if k in keep},
    }


def overview(clusters: list[Cluster], budget_s: float = OVERVIEW_BUDGET_S) -> list[dict]:
    """One row per cluster (clusters with their credential loaded), within ``budget_s``.
    Fresh answers are stored as the clusters' last known inventory (one query)."""
    started = time.monotonic()
    futures = {
        cluster.pk: fanout.ask(cluster.pk, services.connection_for(cluster)) for cluster in clusters
    }
    if futures:
        wait(futures.values(), timeout=max(0.0, budget_s - (time.monotonic() - started)))
    rows, changed = [], []
    for cluster in clusters:
        future = futures[cluster.pk]
        answer = future.result() if future.done() and future.exception() is None else None
        stale = answer is None or answer.slow
        remembered = fanout.take(cluster.pk)
        if answer is None:
            answer = remembered  # a late answer to an earlier question
        if (
            answer is not None
            and answer.inventory is not None
            and (cluster.inventory_at is None or answer.at > cluster.inventory_at)
        ):
            cluster.inventory, cluster.inventory_at = answer.inventory, answer.at
            changed.append(cluster)
        row = {
            "name": cluster.name,
            "display_name": cluster.display_name,
            "phase": cluster.phase,
            "version": cluster.version,
            **_last_known(cluster),
            "inventory_at": cluster.inventory_at,
            "stale": stale,
        }
        failed = answer is not None and answer.error and not answer.slow
        if failed and (not stale or answer.at >= _probed(cluster)):
            row.update(reachable=False, error=answer.error)
        elif failure := _health_failure(cluster):
            row.update(reachable=False, error=failure)
        else:
            row.update(reachable=True, error="")
        if stale and row["reachable"]:
            row["error"] = f"no answer within {budget_s:g} s: last known inventory shown"
        rows.append(row)
    if changed:
        Cluster.objects.bulk_update(changed, ["inventory", "inventory_at"])
    return rows


def _probed(cluster: Cluster) -> datetime:
    return cluster.last_probe_at or datetime.min.replace(tzinfo=timezone.get_current_timezone())
