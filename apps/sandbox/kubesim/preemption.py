"""Preemption, as the default scheduler's DefaultPreemption plugin does it in outline: a pod
that fits no node, whose ``preemptionPolicy`` is not ``Never``, looks for a node where deleting
pods of lower priority (lowest first, as few as needed) would make it fit — only where what
blocks it is resources or the pod count, never taints, selectors or affinity. The victims get
a ``DisruptionTarget`` condition (``PreemptionByScheduler``) and a ``Preempted`` event and are
deleted gracefully; the preemptor's ``status.nominatedNodeName`` names the node, and it is
bound there once the victims are gone (terminating pods still hold their resources).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from .clock import now_iso
from .errors import ApiError

if TYPE_CHECKING:
    from .controller import Controller

_RESOURCE_REASONS = ("Too many pods", "Insufficient ")


def _priority(pod: dict[str, Any]) -> int:
    return int((pod.get("spec") or {}).get("priority") or 0)


def find_victims(
    ctl: Controller,
    pod: dict[str, Any],
    nodes: list[dict[str, Any]],
    used: dict[str, Counter[str]],
    counts: Counter[str],
) -> tuple[str, list[dict[str, Any]]] | None:
    """The first node (by name) where preempting lower-priority pods lets ``pod`` fit."""
    from .controller import _requests, _unfit, pod_active

    if (pod.get("spec") or {}).get("preemptionPolicy") == "Never":
        return None
    want = _requests(pod)
    mine = _priority(pod)
    nominated = (pod.get("status") or {}).get("nominatedNodeName")
    if nominated and any(
        other["spec"].get("nodeName") == nominated
        and other["metadata"].get("deletionTimestamp")
        and _priority(other) < mine
        for other in ctl.cluster.objects("", "pods")
    ):
        return None  # its victims are still terminating (PodEligibleToPreemptOthers)
    by_node: dict[str, list[dict[str, Any]]] = {}
    for other in ctl.cluster.objects("", "pods"):
        node = other["spec"].get("nodeName")
        if node and pod_active(other) and _priority(other) < mine:
            by_node.setdefault(node, []).append(other)
    for node in sorted(nodes, key=lambda n: n["metadata"]["name"]):
        name = node["metadata"]["name"]
        why = _unfit(node, pod, want, used[name], counts[name])
        if why is None or not why.startswith(_RESOURCE_REASONS):
            continue
        free: Counter[str] = Counter(used[name])
        count = counts[name]
        victims = []
        for victim in sorted(
            by_node.get(name, []), key=lambda p: (_priority(p), p["metadata"]["name"])
        ):
            victims.append(victim)
            count -= 1
            for res, amount in _requests(victim).items():
                free[res] -= amount
            why = _unfit(node, pod, want, free, count)
            if why is None:
                return name, victims
            if not why.startswith(_RESOURCE_REASONS):
                break
    return None


def preempt(ctl: Controller, pod: dict[str, Any], node: str, victims: list[dict[str, Any]]) -> None:
    c = ctl.cluster
    rt = c.rt("", "pods")
    for victim in victims:
        meta = victim["metadata"]
        entry = c.store.get(rt, meta["namespace"], meta["name"])
        if entry is None or entry.meta.get("deletionTimestamp"):
            continue
        obj = entry.copy()
        obj["status"]["conditions"] = [
            x for x in obj["status"].get("conditions") or [] if x.get("type") != "DisruptionTarget"
        ] + [
            {
                "type": "DisruptionTarget",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": now_iso(),
                "reason": "PreemptionByScheduler",
                "message": f"{c.name}: preempting to accommodate a higher priority pod",
            }
        ]
        c.store.write(rt, obj, entry)
        c.record_event(
            obj,
            "Normal",
            "Preempted",
            f"Preempted by pod {pod['metadata']['uid']} on node {node}",
            "default-scheduler",
        )
        try:
            c.delete(rt, meta["namespace"], meta["name"])
        except ApiError:
            continue
    entry = c.store.get(rt, pod["metadata"]["namespace"], pod["metadata"]["name"])
    if entry is not None and entry.obj["status"].get("nominatedNodeName") != node:
        obj = entry.copy()
        obj["status"]["nominatedNodeName"] = node
        c.store.write(rt, obj, entry)


def holds_resources(pod: dict[str, Any]) -> bool:
    """Does a bound pod still use its node's resources (terminating ones do, until gone)?"""
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


Nominated = list[tuple[str, int, dict[str, Any], tuple[str, str]]]


def nominated_pods(pods: list[dict[str, Any]], used: dict[str, Counter[str]]) -> Nominated:
    """Unbound pods waiting for a node their preemption freed: (node, priority, requests, key)."""
    from .controller import _requests, pod_active

    out: Nominated = []
    for pod in pods:
        node = (pod.get("status") or {}).get("nominatedNodeName")
        if node in used and not pod["spec"].get("nodeName") and pod_active(pod):
            key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
            out.append((node, _priority(pod), _requests(pod), key))
    return out


def with_nominated(
    used: dict[str, Counter[str]], counts: Counter[str], nominated: Nominated, pod: dict[str, Any]
) -> tuple[dict[str, Counter[str]], Counter[str]]:
    """``used``/``counts`` plus what nominated pods of at least ``pod``'s priority will take."""
    key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
    mine = _priority(pod)
    extra = [n for n in nominated if n[3] != key and n[1] >= mine]
    if not extra:
        return used, counts
    held = {name: Counter(amounts) for name, amounts in used.items()}
    held_counts = Counter(counts)
    for node, _, requests, _ in extra:
        held_counts[node] += 1
        for res, amount in requests.items():
            held[node][res] += amount
    return held, held_counts
