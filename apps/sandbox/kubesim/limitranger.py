"""LimitRanger admission: the ``Container`` defaults of a namespace's LimitRanges fill in the
requests and limits a new pod's containers leave out, before the quota judges the pod (as the
API server's LimitRanger plugin does). Min/max constraints are not enforced."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cluster import Cluster


def admit_pod(cluster: Cluster, namespace: str, pod: dict[str, Any]) -> None:
    ranges = cluster.store.kind(cluster.rt("", "limitranges")).by_ns.get(namespace)
    if not ranges:
        return
    spec = pod.get("spec") or {}
    containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    for entry in sorted(ranges.values(), key=lambda e: e.meta["name"]):
        for item in (entry.obj.get("spec") or {}).get("limits") or []:
            if item.get("type") != "Container":
                continue
            for container in containers:
                resources = container.setdefault("resources", {})
                for field, defaults in (
                    ("limits", item.get("default") or {}),
                    ("requests", item.get("defaultRequest") or {}),
                ):
                    if not defaults:
                        continue
                    values = resources.setdefault(field, {})
                    for name, value in defaults.items():
                        values.setdefault(name, value)
