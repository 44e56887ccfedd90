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
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from apps.core import quantity

from . import k8s, services
from .choices import ClusterPhase, ConditionStatus
from .models import Cluster, ClusterCredential

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


# Pods are read in pages of this many (memory stays bounded on big clusters).
POD_PAGE = 500
# Abnormal pods and nodes kept in the inventory (the worst first); the counts are complete.
ABNORMAL_KEPT = 20
# Restarts from which a running pod counts as abnormal.
HIGH_RESTARTS = 5
# A container waiting for one of these reasons makes its pod abnormal whatever its phase.
BAD_WAITING = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "CreateContainerConfigError",
        "CreateContainerError",
        "InvalidImageName",
        "RunContainerError",
    }
)
REQUESTED = ("cpu", "memory")


def _ready(node: dict) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in node.get("status", {}).get("conditions", [])
    )


def _amount(value) -> Decimal:
    try:
        return quantity.parse(value)
    except quantity.QuantityError:
        return Decimal(0)


def pod_requests(pod: dict) -> dict[str, Decimal]:
    """What the scheduler reserves for a pod: per resource the larger of its containers' sum
    and its largest init container, plus the pod overhead."""
    spec = pod.get("spec") or {}
    reserved = {}
    for resource in REQUESTED:
        running = sum(
            (
                _amount(((c.get("resources") or {}).get("requests") or {}).get(resource, 0))
                for c in spec.get("containers") or []
            ),
            start=Decimal(0),
        )
        init = max(
            (
                _amount(((c.get("resources") or {}).get("requests") or {}).get(resource, 0))
                for c in spec.get("initContainers") or []
            ),
            default=Decimal(0),
        )
        overhead = _amount((spec.get("overhead") or {}).get(resource, 0))
        reserved[resource] = max(running, init) + overhead
    return reserved


def _abnormal(pod: dict) -> dict | None:
    """Why a pod needs a look (not Running or Succeeded, a container waiting for a bad
    reason, or many restarts), or None."""
    status = pod.get("status") or {}
    phase = status.get("phase") or "Unknown"
    restarts, reason = 0, ""
    for cs in status.get("containerStatuses") or []:
        restarts += int(cs.get("restartCount") or 0)
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in BAD_WAITING and not reason:
            reason = waiting["reason"]
    if not reason and phase not in ("Running", "Succeeded"):
        reason = status.get("reason") or phase
    if not reason and restarts >= HIGH_RESTARTS:
        reason = "Restarts"
    if not reason:
        return None
    meta = pod.get("metadata") or {}
    return {
        "namespace": meta.get("namespace", ""),
        "name": meta.get("name", ""),
        "node": (pod.get("spec") or {}).get("nodeName") or "",
        "phase": phase,
        "reason": reason,
        "restarts": restarts,
    }


class PodTally:
    """One pass over a cluster's pods: the count, the requests of the pods that hold their
    node's resources (scheduled, not Succeeded or Failed) per cluster and per node, and the
    abnormal pods."""

    def __init__(self):
        self.pods = 0
        self.requests = dict.fromkeys(REQUESTED, Decimal(0))
        self.node_requests: dict[str, dict[str, Decimal]] = {}
        self.abnormal: list[dict] = []
        self.abnormal_count = 0

    def add(self, pod: dict) -> None:
        self.pods += 1
        phase = (pod.get("status") or {}).get("phase")
        node = (pod.get("spec") or {}).get("nodeName")
        # what a node's allocatable is compared with: the pods bound to it and not finished
        if node and phase not in ("Succeeded", "Failed"):
            on_node = self.node_requests.setdefault(node, dict.fromkeys(REQUESTED, Decimal(0)))
            for resource, amount in pod_requests(pod).items():
                self.requests[resource] += amount
                on_node[resource] += amount
        found = _abnormal(pod)
        if found is not None:
            self.abnormal_count += 1
            self.abnormal.append(found)
            if len(self.abnormal) > 4 * ABNORMAL_KEPT:
                self._trim()

    def _trim(self) -> None:
        # the worst first: a bad waiting reason, then failed phases, then most restarts
        def rank(p):
            return (p["reason"] not in BAD_WAITING, p["phase"] == "Pending", -p["restarts"])

        self.abnormal = sorted(self.abnormal, key=rank)[:ABNORMAL_KEPT]

    def summary(self) -> dict:
        self._trim()
        return {
            "pods": self.pods,
            "requests": {r: quantity.format_plain(v) for r, v in self.requests.items()},
            "node_requests": {
                node: {r: quantity.format_plain(v) for r, v in amounts.items()}
                for node, amounts in sorted(self.node_requests.items())
            },
            "abnormal_pods": self.abnormal,
            "abnormal_pod_count": self.abnormal_count,
        }


def list_pods(client: k8s.KubeClient, tally: PodTally) -> PodTally:
    """Read every pod page by page into ``tally`` (nothing kept but the tally)."""
    query = {"limit": POD_PAGE}
    while True:
        page = client.get("/api/v1/pods", query=query) or {}
        for pod in page.get("items") or []:
            tally.add(pod)
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            return tally
        query = {"limit": POD_PAGE, "continue": token}


def inventory_of(nodes: list[dict], pods: int | PodTally) -> dict:
    """The stored inventory: nodes, readiness, capacity and allocatable; with a
    :class:`PodTally`, also the pods' requests (per cluster and per node) and the abnormal
    pods; the nodes that are not ready or not schedulable."""
    capacity: dict[str, list[str]] = {}
    allocatable: dict[str, list[str]] = {}
    troubled = []
    for node in nodes:
        status = node.get("status", {})
        for target, source in (
            (capacity, status.get("capacity", {})),
            (allocatable, status.get("allocatable", {})),
        ):
            for resource in ("cpu", "memory"):
                if resource in source:
                    target.setdefault(resource, []).append(str(source[resource]))
        ready, cordoned = _ready(node), bool(node.get("spec", {}).get("unschedulable"))
        if not ready or cordoned:
            troubled.append(
                {
                    "name": node.get("metadata", {}).get("name", ""),
                    "ready": ready,
                    "unschedulable": cordoned,
                }
            )
    tally = pods if isinstance(pods, PodTally) else None
    inventory = {
        "nodes": len(nodes),
        "ready_nodes": sum(1 for n in nodes if _ready(n)),
        "pods": tally.pods if tally else pods,
        "capacity": {k: quantity.total(v) for k, v in capacity.items()},
        "allocatable": {k: quantity.total(v) for k, v in allocatable.items()},
        "abnormal_nodes": troubled[:ABNORMAL_KEPT],
        "abnormal_node_count": len(troubled),
    }
    if tally is not None:
        inventory.update(tally.summary())
    return inventory


def _ask(key: int, conn: k8s.Connection) -> Answer:
    """Runs on the pool: network only, no database."""
    try:
        with k8s.client(key, conn, timeout=OVERVIEW_TIMEOUT) as client:
            nodes = client.list_nodes()
            tally = list_pods(client, PodTally())
    except k8s.ClusterSlow as exc:
        return Answer(at=timezone.now(), error=str(exc.detail), slow=True)
    except k8s.ClusterError as exc:
        return Answer(at=timezone.now(), error=str(exc.detail))
    return Answer(at=timezone.now(), inventory=inventory_of(nodes, tally))


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
    """The stored inventory; before the overview ever stored one, the node sync's summary.
    What an older inventory did not collect (requests, abnormal pods and nodes) is unknown."""
    unknown = {
        "requests": {},
        "node_requests": {},
        "abnormal_pods": [],
        "abnormal_pod_count": None,
        "abnormal_nodes": [],
        "abnormal_node_count": None,
    }
    if cluster.inventory:
        return {**unknown, **cluster.inventory}
    keep = ("cpu", "memory")
    return {
        **unknown,
        "nodes": cluster.node_count,
        "ready_nodes": None,
        "pods": None,
        "capacity": {k: v for k, v in (cluster.capacity or {}).items() if k in keep},
        "allocatable": {k: v for k, v in (cluster.allocatable or {}).items() if k in keep},
    }


def _recent(cluster: Cluster, fresh_s: float, now: datetime) -> bool:
    """Whether the stored inventory is recent enough to show without asking the cluster: it
    is younger than ``fresh_s`` and the cluster's last health check did not fail since."""
    if fresh_s <= 0 or cluster.inventory_at is None or not cluster.inventory:
        return False
    if (now - cluster.inventory_at).total_seconds() > fresh_s:
        return False
    return not _health_failure(cluster)


def _load_credentials(clusters: list[Cluster]) -> None:
    """Load the credentials of the clusters to ask that were not loaded with them, in one
    query: a page showing stored inventories decrypts no credential."""
    missing = [c for c in clusters if not Cluster.credential.is_cached(c)]
    if not missing:
        return
    found = {
        credential.cluster_id: credential
        for credential in ClusterCredential.objects.filter(cluster__in=[c.pk for c in missing])
    }
    for cluster in missing:
        if cluster.pk in found:
            cluster.credential = found[cluster.pk]


def overview(
    clusters: list[Cluster], budget_s: float = OVERVIEW_BUDGET_S, fresh_s: float = 0.0
) -> list[dict]:
    """One row per cluster (credentials loaded with them or here, for those asked), within
    ``budget_s``.
    Fresh answers are stored as the clusters' last known inventory (one query). With
    ``fresh_s``, a cluster whose stored inventory is younger than that is shown from it and
    not asked (a page that must stay fast with many clusters)."""
    started = time.monotonic()
    now = timezone.now()
    recent = {cluster.pk for cluster in clusters if _recent(cluster, fresh_s, now)}
    asking = [cluster for cluster in clusters if cluster.pk not in recent]
    _load_credentials(asking)
    futures = {
        cluster.pk: fanout.ask(cluster.pk, services.connection_for(cluster)) for cluster in asking
    }
    if futures:
        wait(futures.values(), timeout=max(0.0, budget_s - (time.monotonic() - started)))
    rows, changed = [], []
    for cluster in clusters:
        future = futures.get(cluster.pk)
        if future is None:
            rows.append(
                {
                    "name": cluster.name,
                    "display_name": cluster.display_name,
                    "phase": cluster.phase,
                    "version": cluster.version,
                    **_last_known(cluster),
                    "inventory_at": cluster.inventory_at,
                    "stale": False,
                    "reachable": True,
                    "error": "",
                }
            )
            continue
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
