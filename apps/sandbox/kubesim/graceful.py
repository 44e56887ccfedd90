"""Graceful deletion of pods, as the API server's pod strategy and ``BeforeDelete`` do it.

DELETE of a pod sets ``deletionTimestamp`` (now + grace period) and
``deletionGracePeriodSeconds`` and answers with the pod (MODIFIED in watches, ``Terminating``
in ``kubectl get``); the simulated kubelet stops the containers and then deletes the pod with
grace period 0 (DELETED). The grace period is DeleteOptions ``gracePeriodSeconds`` or the pod's
``terminationGracePeriodSeconds``; it is 0 — delete at once — for a pod not bound to a node or
already Succeeded/Failed, and (a simulator choice: nothing would ever finish the deletion) when
the cluster runs no controller. A negative value means 1. A later DELETE may only shorten the
period; ``gracePeriodSeconds=0`` (``kubectl delete --force --grace-period=0``) removes the pod
at once. Finalizers hold the object after that, as for any kind.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .clock import now_iso
from .table import parse_time

if TYPE_CHECKING:
    from .ops import Operations
    from .resources import ResourceType
    from .store import Entry


def period(cluster: Any, pod: dict[str, Any], requested: int | None) -> int:
    """The grace period a DELETE of ``pod`` gets (``CheckGracefulDelete``)."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    value = requested if requested is not None else spec.get("terminationGracePeriodSeconds", 0)
    if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
        value = 0
    if cluster.controller is None:
        value = 0
    if value < 0:
        value = 1
    return int(value)


def begin(ops: Operations, rt: ResourceType, entry: Entry, grace: int) -> dict[str, Any]:
    obj = entry.copy()
    meta = obj["metadata"]
    meta["deletionTimestamp"] = now_iso(datetime.now(UTC) + timedelta(seconds=grace))
    meta["deletionGracePeriodSeconds"] = grace
    return ops.store.write(rt, obj, entry).obj


def shorten(ops: Operations, rt: ResourceType, entry: Entry, grace: int) -> dict[str, Any]:
    """DELETE of a pod that is already terminating: only a shorter period changes anything."""
    meta = entry.meta
    current = meta.get("deletionGracePeriodSeconds") or 0
    if current and grace >= current:
        return entry.obj
    if current:
        obj = entry.copy()
        started = parse_time(meta["deletionTimestamp"]) or datetime.now(UTC)
        obj["metadata"]["deletionTimestamp"] = now_iso(
            started - timedelta(seconds=current) + timedelta(seconds=grace)
        )
        obj["metadata"]["deletionGracePeriodSeconds"] = grace
        if grace > 0 or meta.get("finalizers"):
            return ops.store.write(rt, obj, entry).obj
    if meta.get("finalizers"):
        return entry.obj
    gone = ops.store.remove(rt, entry)
    ops._after_delete(rt, gone, "Background")
    return gone.obj
