"""Taints and tolerations: matching, and the taint manager's NoExecute evictions.

As the real taint-eviction controller does: a pod bound to a node with a ``NoExecute`` taint it
does not tolerate is deleted at once; one that tolerates every such taint stays, for the
smallest ``tolerationSeconds`` among the tolerations used (forever when none sets it), counted
from when the controller first saw the taint on the pod's node. The deletion is graceful
(``DisruptionTarget`` condition, ``TaintManagerEviction`` event). ``NoSchedule`` and
``PreferNoSchedule`` never evict.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .clock import now_iso
from .errors import ApiError

if TYPE_CHECKING:
    from .controller import Controller


def toleration_matches(tol: dict[str, Any], taint: dict[str, Any]) -> bool:
    """Does one toleration tolerate one taint (key, operator Exists/Equal, value, effect)?"""
    if tol.get("effect") and tol["effect"] != taint.get("effect"):
        return False
    if tol.get("operator") == "Exists":
        return not tol.get("key") or tol["key"] == taint.get("key")
    return tol.get("key") == taint.get("key") and tol.get("value", "") == taint.get("value", "")


def tolerates(pod: dict[str, Any], taint: dict[str, Any]) -> bool:
    return any(
        toleration_matches(t, taint) for t in (pod.get("spec") or {}).get("tolerations") or []
    )


def no_execute(node: dict[str, Any] | None) -> list[dict[str, Any]]:
    taints = ((node or {}).get("spec") or {}).get("taints") or []
    return [t for t in taints if t.get("effect") == "NoExecute"]


def allowed_seconds(pod: dict[str, Any], taints: list[dict[str, Any]]) -> float | None:
    """How long ``pod`` may stay with ``taints`` on its node: 0 if one is not tolerated,
    None for ever, else the smallest ``tolerationSeconds`` of the tolerations used."""
    least: float | None = None
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    for taint in taints:
        used = [t for t in tolerations if toleration_matches(t, taint)]
        if not used:
            return 0.0
        for tol in used:
            seconds = tol.get("tolerationSeconds")
            if seconds is not None:
                value = max(float(seconds), 0.0)
                least = value if least is None else min(least, value)
    return least


def check_pod(ctl: Controller, pod: dict[str, Any]) -> None:
    """(Re)consider one pod's eviction from its node."""
    meta = pod["metadata"]
    key = (meta["namespace"], meta["name"])
    node_name = (pod.get("spec") or {}).get("nodeName")
    if (
        not node_name
        or meta.get("deletionTimestamp")
        or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
    ):
        ctl.evictions.pop(key, None)
        return
    taints = no_execute(ctl.cluster.find("", "nodes", None, node_name))
    seconds = allowed_seconds(pod, taints) if taints else None
    if seconds is None:
        ctl.evictions.pop(key, None)
        return
    due = time.monotonic() + seconds * ctl.cluster.time_scale
    if key not in ctl.evictions or due < ctl.evictions[key]:
        ctl.evictions[key] = due
        ctl.wake.set()


def check_node(ctl: Controller, node: str) -> None:
    for pod in ctl.cluster.objects("", "pods"):
        if pod["spec"].get("nodeName") == node:
            check_pod(ctl, pod)


def evict(ctl: Controller, ns: str, name: str) -> None:
    """The time is up: mark the pod as disrupted and delete it (gracefully)."""
    c = ctl.cluster
    rt = c.rt("", "pods")
    entry = c.store.get(rt, ns, name)
    if entry is None or entry.meta.get("deletionTimestamp"):
        return
    taints = no_execute(c.find("", "nodes", None, entry.obj["spec"].get("nodeName") or ""))
    if not taints or allowed_seconds(entry.obj, taints) is None:
        return
    pod = entry.copy()
    conditions = [
        x for x in pod["status"].get("conditions") or [] if x.get("type") != "DisruptionTarget"
    ]
    conditions.append(
        {
            "type": "DisruptionTarget",
            "status": "True",
            "lastProbeTime": None,
            "lastTransitionTime": now_iso(),
            "reason": "DeletionByTaintManager",
            "message": "Taint manager: deleting due to NoExecute taint",
        }
    )
    pod["status"]["conditions"] = conditions
    c.store.write(rt, pod, entry)
    c.record_event(
        pod,
        "Normal",
        "TaintManagerEviction",
        f"Marking for deletion Pod {ns}/{name}",
        "taint-eviction-controller",
    )
    try:
        c.delete(rt, ns, name)
    except ApiError:
        return
