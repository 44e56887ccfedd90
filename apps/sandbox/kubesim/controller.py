"""The controller loop of a simulated cluster: scheduler, kubelet and the workload controllers
(see :mod:`.workloads`), driven by store change notifications plus a periodic tick.

* scheduler: binds pending pods to nodes that fit (cordon, taints/tolerations, nodeSelector,
  required node affinity, cpu/memory/extended resources, pod count) or marks them Unschedulable
  with the real ``0/3 nodes are available: …`` message;
* kubelet (:mod:`.kubelet`): starts bound pods after a short delay (Running, Ready, pod IP,
  container logs), runs each container's command on a simulated clock (exit codes,
  ``restartPolicy``, crash-loop back-off), terminates deleted pods gracefully, fails pulls of
  ``*doesnotexist*``, keeps log lines coming, posts node heartbeats;
* taint manager (:mod:`.taints`): evicts pods from nodes with NoExecute taints they do not
  tolerate (after ``tolerationSeconds``);
* workloads: Deployment → ReplicaSet → Pods, StatefulSet, DaemonSet, Job, CronJob, Endpoints.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from apps.core import quantity

from . import batch, kubelet, leases, preemption, taints, workloads
from .clock import now_iso
from .errors import ApiError
from .selectors import from_label_selector_object

if TYPE_CHECKING:
    from .cluster import Cluster
    from .resources import ResourceType
    from .store import Entry

log = logging.getLogger(__name__)

_OWNER_KEYS = {"ReplicaSet": "rs", "StatefulSet": "sts", "DaemonSet": "ds", "Job": "job"}
_SELF_KEYS = {
    ("apps", "deployments"): "deploy",
    ("apps", "replicasets"): "rs",
    ("apps", "statefulsets"): "sts",
    ("apps", "daemonsets"): "ds",
    ("batch", "jobs"): "job",
    ("batch", "cronjobs"): "cronjob",
    ("", "services"): "svc",
}
_ORDER = ["deploy", "rs", "sts", "ds", "job", "cronjob", "svc"]
_RECONCILE_ERRORS = (ApiError, KeyError, ValueError, TypeError)


def controller_of(obj: dict[str, Any]) -> dict[str, Any] | None:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def pod_ready(pod: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def pod_active(pod: dict[str, Any]) -> bool:
    return not pod["metadata"].get("deletionTimestamp") and (pod.get("status") or {}).get(
        "phase"
    ) not in ("Succeeded", "Failed")


class Controller:
    """Reconciles one cluster's objects; ``start()``/``stop()`` switch it on and off."""

    def __init__(self, cluster: Cluster, pod_startup: float = 0.05, tick: float = 1.0):
        self.cluster = cluster
        self.pod_startup = pod_startup
        self.tick = tick
        self.dirty: set[tuple[str, str, str]] = set()
        self.unscheduled: set[tuple[str, str]] = set()
        self.waiting: set[tuple[str, str]] = set()  # pods that fit no node last time
        self.starting: dict[tuple[str, str], float] = {}
        self.runs: dict[tuple[str, str], kubelet.PodRun] = {}
        self.kubelet_due: dict[tuple[str, str], float] = {}
        self.evictions: dict[tuple[str, str], float] = {}
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self._next_periodic = 0.0
        self._next_heartbeat = 0.0
        self._ip = 10
        self._stopping = False

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self.task = self.cluster.loop.create_task(self._run())
        self.resync_all()

    async def stop(self) -> None:
        # A stop flag rather than Task.cancel(): asyncio.wait_for in 3.11 can swallow a
        # cancellation that races with the wake-up event, leaving the loop running.
        self._stopping = True
        self.wake.set()
        if self.task is not None:
            await self.task
            self.task = None

    def resync_all(self) -> None:
        """Queue every object the controllers care about (after being switched on)."""
        c = self.cluster
        for (group, plural), prefix in _SELF_KEYS.items():
            for obj in c.objects(group, plural):
                self.dirty.add((prefix, obj["metadata"]["namespace"], obj["metadata"]["name"]))
        for pod in c.objects("", "pods"):
            self._track_pod(pod)
        self.wake.set()

    # ------------------------------------------------------------ notifications

    def notify(self, rt: ResourceType, etype: str, entry: Entry, old: Entry | None) -> None:
        obj = entry.obj
        ns, name = obj["metadata"].get("namespace", ""), obj["metadata"]["name"]
        prefix = _SELF_KEYS.get(rt.key)
        if prefix is not None and etype != "DELETED":
            self.dirty.add((prefix, ns, name))
        if rt.key in (("apps", "replicasets"), ("", "pods")):
            owner = controller_of(obj)
            if owner is not None:
                kind = (
                    "deploy"
                    if owner.get("kind") == "Deployment"
                    else _OWNER_KEYS.get(owner.get("kind", ""))
                )
                if kind:
                    self.dirty.add((kind, ns, owner["name"]))
        if rt.key == ("", "pods"):
            if etype == "DELETED":
                key = (ns, name)
                self.waiting.discard(key)
                if obj["spec"].get("nodeName"):
                    self.unscheduled |= self.waiting  # room was freed: try the waiting again
                self.unscheduled.discard(key)
                self.starting.pop(key, None)
                self.evictions.pop(key, None)
                kubelet.forget(self, ns, name)
            else:
                self._track_pod(obj)
            if old is None or etype == "DELETED" or _endpoint_view(obj) != _endpoint_view(old.obj):
                for svc in self.cluster.objects("", "services", ns):
                    self.dirty.add(("svc", ns, svc["metadata"]["name"]))
        elif rt.key == ("", "nodes"):
            for ds in self.cluster.objects("apps", "daemonsets"):
                self.dirty.add(("ds", ds["metadata"]["namespace"], ds["metadata"]["name"]))
            for pod in self.cluster.objects("", "pods"):
                if not pod["spec"].get("nodeName"):
                    self.unscheduled.add((pod["metadata"]["namespace"], pod["metadata"]["name"]))
            if old is not None and _node_ready(obj) != _node_ready(old.obj):
                self.dirty.add(("node", "", name))
            if etype != "DELETED" and (
                old is None or taints.no_execute(obj) != taints.no_execute(old.obj)
            ):
                self.dirty.add(("taints", "", name))
        self.wake.set()

    def _track_pod(self, pod: dict[str, Any]) -> None:
        key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
        spec, status = pod.get("spec") or {}, pod.get("status") or {}
        if pod["metadata"].get("deletionTimestamp"):
            kubelet.terminate(self, pod)
            return
        if not spec.get("nodeName"):
            self.unscheduled.add(key)
            return
        taints.check_pod(self, pod)
        if (
            status.get("phase") == "Pending"
            and key not in self.starting
            and not any(
                "running" in (cs.get("state") or {}) for cs in status.get("containerStatuses") or []
            )
        ):
            if not status.get("containerStatuses") or all(
                (cs.get("state") or {}).get("waiting", {}).get("reason") == "ContainerCreating"
                for cs in status["containerStatuses"]
            ):
                self.starting[key] = time.monotonic() + self.pod_startup

    # ------------------------------------------------------------ loop

    async def _run(self) -> None:
        while not self._stopping:
            now = time.monotonic()
            due = [
                t
                for t in (
                    *self.starting.values(),
                    *self.kubelet_due.values(),
                    *self.evictions.values(),
                    self._next_periodic,
                )
            ]
            timeout = max(min(due) - now, 0.0) if due else self.tick
            try:
                await asyncio.wait_for(self.wake.wait(), min(timeout, self.tick))
            except TimeoutError:
                pass
            self.wake.clear()
            if self._stopping:
                break
            self.process()
            await asyncio.sleep(0)

    def process(self) -> None:
        """One reconcile round (also callable directly, e.g. from tests of helpers)."""
        dirty, self.dirty = self.dirty, set()
        for kind, ns, name in sorted(
            dirty, key=lambda k: (_ORDER.index(k[0]) if k[0] in _ORDER else 99, k)
        ):
            try:
                if kind == "node":
                    self._node_pods_ready(name)
                elif kind == "taints":
                    taints.check_node(self, name)
                else:
                    workloads.reconcile(self, kind, ns, name)
            except _RECONCILE_ERRORS as exc:
                log.warning(
                    "kubesim %s: reconcile %s %s/%s failed: %s",
                    self.cluster.name,
                    kind,
                    ns,
                    name,
                    exc,
                )
        if self.unscheduled:
            self.schedule()
        now = time.monotonic()
        self._kubelet(now)
        if now >= self._next_periodic:
            self._next_periodic = now + self.tick
            self._periodic(now)

    # ------------------------------------------------------------ scheduler

    def schedule(self) -> None:
        c = self.cluster
        pending, self.unscheduled = sorted(self.unscheduled), set()
        pod_rt = c.rt("", "pods")

        def queue_order(key: tuple[str, str]) -> tuple[int, tuple[str, str]]:
            # The scheduling queue's PrioritySort: higher priority first.
            entry = c.store.get(pod_rt, *key)
            return (
                -int(((entry.obj if entry else {}).get("spec") or {}).get("priority") or 0),
                key,
            )

        pending.sort(key=queue_order)
        nodes = c.objects("", "nodes")
        used: dict[str, Counter[str]] = {n["metadata"]["name"]: Counter() for n in nodes}
        counts: Counter[str] = Counter()
        for pod in c.objects("", "pods"):
            node = pod["spec"].get("nodeName")
            if node in used and preemption.holds_resources(pod):
                counts[node] += 1
                for res, amount in _requests(pod).items():
                    used[node][res] += amount
        nominated = preemption.nominated_pods(c.objects("", "pods"), used)
        for ns, name in pending:
            entry = c.store.get(pod_rt, ns, name)
            if entry is None or entry.obj["spec"].get("nodeName") or not pod_active(entry.obj):
                continue
            if entry.obj["spec"].get("schedulerName", "default-scheduler") != "default-scheduler":
                continue
            pod = entry.obj
            want = _requests(pod)
            reasons: Counter[str] = Counter()
            fits = []
            # Room freed for a nominated pod of at least this priority is not for this one.
            held, held_counts = preemption.with_nominated(used, counts, nominated, pod)
            for node in nodes:
                why = _unfit(
                    node,
                    pod,
                    want,
                    held[node["metadata"]["name"]],
                    held_counts[node["metadata"]["name"]],
                )
                if why:
                    reasons[why] += 1
                else:
                    fits.append(node)
            if not fits:
                self.waiting.add((ns, name))
                found = preemption.find_victims(self, pod, nodes, used, counts)
                n = len(nodes)
                detail = ", ".join(f"{count} {why}" for why, count in sorted(reasons.items()))
                message = (
                    f"0/{n} nodes are available: {detail}. preemption: 0/{n} nodes are "
                    f"available: {n} Preemption is not helpful for scheduling."
                )
                if found is not None:
                    preemption.preempt(self, pod, *found)
                    entry = c.store.get(pod_rt, ns, name) or entry
                    message = f"0/{n} nodes are available: {detail}."
                self._set_unschedulable(entry, message)
                continue
            best = min(
                fits,
                key=lambda nd: (_load(nd, used[nd["metadata"]["name"]]), nd["metadata"]["name"]),
            )
            node_name = best["metadata"]["name"]
            self.waiting.discard((ns, name))
            obj = entry.copy()
            obj["spec"]["nodeName"] = node_name
            obj.setdefault("status", {}).pop("nominatedNodeName", None)
            conds = [
                x
                for x in obj.setdefault("status", {}).get("conditions", [])
                if x.get("type") != "PodScheduled"
            ]
            conds.append(
                {
                    "type": "PodScheduled",
                    "status": "True",
                    "lastProbeTime": None,
                    "lastTransitionTime": now_iso(),
                }
            )
            obj["status"]["conditions"] = conds
            c.store.write(pod_rt, obj, entry)
            counts[node_name] += 1
            for res, amount in want.items():
                used[node_name][res] += amount
            c.record_event(
                obj,
                "Normal",
                "Scheduled",
                f"Successfully assigned {ns}/{name} to {node_name}",
                "default-scheduler",
            )

    def _set_unschedulable(self, entry: Entry, message: str) -> None:
        c = self.cluster
        status = entry.obj.get("status") or {}
        current = next(
            (x for x in status.get("conditions") or [] if x.get("type") == "PodScheduled"), None
        )
        if current is not None and current.get("message") == message:
            return
        obj = entry.copy()
        obj["status"]["conditions"] = [
            x for x in obj["status"].get("conditions", []) if x.get("type") != "PodScheduled"
        ] + [
            {
                "type": "PodScheduled",
                "status": "False",
                "lastProbeTime": None,
                "lastTransitionTime": now_iso(),
                "reason": "Unschedulable",
                "message": message,
            }
        ]
        c.store.write(c.rt("", "pods"), obj, entry)
        c.record_event(obj, "Warning", "FailedScheduling", message, "default-scheduler")

    # ------------------------------------------------------------ kubelet

    def _kubelet(self, now: float) -> None:
        for key, due in sorted(self.starting.items()):
            if due <= now:
                del self.starting[key]
                kubelet.start_pod(self, *key)
        for key, due in sorted(self.kubelet_due.items()):
            if due <= now:
                del self.kubelet_due[key]
                kubelet.sync_pod(self, *key)
        for key, due in sorted(self.evictions.items()):
            if due <= now:
                del self.evictions[key]
                taints.evict(self, *key)

    def next_pod_ip(self, node_index: int) -> str:
        self._ip += 1
        return f"10.244.{node_index}.{self._ip % 250 + 2}"

    def _periodic(self, now: float) -> None:
        c = self.cluster
        for pod in c.objects("", "pods"):
            if (pod.get("status") or {}).get("phase") == "Running":
                ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
                for cs in pod["status"].get("containerStatuses") or []:
                    if "running" in (cs.get("state") or {}) and not kubelet.quiet(
                        self, ns, name, cs["name"]
                    ):
                        c.logs.tick((ns, name, cs["name"]), cs.get("image", ""))
        if now >= self._next_heartbeat:
            self._next_heartbeat = now + 30
            self._heartbeat()
        for cj in c.objects("batch", "cronjobs"):
            self.dirty.add(("cronjob", cj["metadata"]["namespace"], cj["metadata"]["name"]))
        batch.expire_jobs(self)
        if self.dirty:
            self.wake.set()

    def _heartbeat(self) -> None:
        c = self.cluster
        rt = c.rt("", "nodes")
        stamp = now_iso()
        for entry in list(c.store.kind(rt).iter_sorted(None)):
            obj = entry.copy()
            for cond in (obj.get("status") or {}).get("conditions") or []:
                cond["lastHeartbeatTime"] = stamp
            c.store.write(rt, obj, entry)
        leases.heartbeat(c)

    def _node_pods_ready(self, node: str) -> None:
        """Pods follow their node's readiness (kubelet stopped reporting → not Ready); a node
        whose kubelet is back finishes terminating its deleted pods."""
        c = self.cluster
        node_obj = c.find("", "nodes", None, node)
        if node_obj is None:
            return
        ready = _node_ready(node_obj)
        pod_rt = c.rt("", "pods")
        for pod in c.objects("", "pods"):
            if (
                ready
                and pod["spec"].get("nodeName") == node
                and pod["metadata"].get("deletionTimestamp")
            ):
                kubelet.terminate(self, pod)
                continue
            if pod["spec"].get("nodeName") != node or pod["status"].get("phase") != "Running":
                continue
            entry = c.store.get(pod_rt, pod["metadata"]["namespace"], pod["metadata"]["name"])
            if entry is None:
                continue
            obj = entry.copy()
            value = "True" if ready else "False"
            for cond in obj["status"].get("conditions") or []:
                if cond["type"] in ("Ready", "ContainersReady"):
                    cond["status"] = value
            for cs in obj["status"].get("containerStatuses") or []:
                cs["ready"] = ready
            c.store.write(pod_rt, obj, entry)


def _node_ready(node: dict[str, Any]) -> bool:
    return any(
        x.get("type") == "Ready" and x.get("status") == "True"
        for x in (node.get("status") or {}).get("conditions") or []
    )


def _endpoint_view(pod: dict[str, Any]) -> tuple[Any, ...]:
    return (pod["metadata"].get("labels"), (pod.get("status") or {}).get("podIP"), pod_ready(pod))


def _requests(pod: dict[str, Any]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for c in (pod.get("spec") or {}).get("containers") or []:
        for res, value in ((c.get("resources") or {}).get("requests") or {}).items():
            try:
                out[res] = out.get(res, Decimal(0)) + quantity.parse(value)
            except quantity.QuantityError:
                continue
    return out


_tolerates = taints.tolerates


def node_matches(pod: dict[str, Any], node: dict[str, Any]) -> bool:
    """nodeSelector and required node affinity (matchExpressions on labels)."""
    labels = node["metadata"].get("labels") or {}
    spec = pod.get("spec") or {}
    for key, value in (spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms") or []
    if terms:

        def term_ok(term: dict[str, Any]) -> bool:
            sel = from_label_selector_object(
                {
                    "matchExpressions": [
                        e
                        for e in term.get("matchExpressions") or []
                        if e["operator"] in ("In", "NotIn", "Exists", "DoesNotExist")
                    ]
                }
            )
            fields_ok = all(
                node["metadata"]["name"] in (e.get("values") or [])
                for e in term.get("matchFields") or []
                if e.get("key") == "metadata.name" and e.get("operator") == "In"
            )
            return sel.matches(labels) and fields_ok

        if not any(term_ok(t) for t in terms):
            return False
    return True


def _unfit(
    node: dict[str, Any],
    pod: dict[str, Any],
    want: dict[str, Decimal],
    used: Counter[str],
    count: int,
) -> str | None:
    spec = node.get("spec") or {}
    if spec.get("unschedulable") and not _tolerates(
        pod, {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
    ):
        return "node(s) were unschedulable"
    if not _node_ready(node) and not _tolerates(
        pod, {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}
    ):
        return "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"
    for taint in spec.get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not _tolerates(pod, taint):
            return f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value', '')}}}"
    if not node_matches(pod, node):
        return "node(s) didn't match Pod's node affinity/selector"
    alloc = (node.get("status") or {}).get("allocatable") or {}
    if count + 1 > int(quantity.parse(alloc.get("pods", "110"))):
        return "Too many pods"
    for res, amount in sorted(want.items()):
        if amount <= 0:
            continue
        have = quantity.parse(alloc[res]) if res in alloc else Decimal(0)
        if used[res] + amount > have:
            return f"Insufficient {res}"
    return None


def _load(node: dict[str, Any], used: Counter[str]) -> Decimal:
    alloc = (node.get("status") or {}).get("allocatable") or {}
    cpu = quantity.parse(alloc.get("cpu", "1")) or Decimal(1)
    return used["cpu"] / cpu
