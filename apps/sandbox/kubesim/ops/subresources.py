"""Subresources with their own semantics: scale (built-in and CRD scale paths), pods/binding,
pods/eviction with PodDisruptionBudgets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import crds
from ..errors import ApiError, conflict, field_error, invalid
from ..selectors import from_label_selector_object, selector_to_string

if TYPE_CHECKING:
    from ..resources import ResourceType
    from ..store import Entry


class Subresources:
    """scale, binding and eviction (mixin of :class:`~..cluster.Cluster`)."""

    # ------------------------------------------------------------ scale

    def scale_view(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        if "scale" not in rt.subresources:
            raise ApiError(404, "the server could not find the requested resource")
        spec_path, status_path, selector_path = crds.scale_paths(rt)
        meta = obj["metadata"]
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: meta[k]
                for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                if k in meta
            },
            "spec": {"replicas": _dig(obj, spec_path) or 0},
            "status": {
                "replicas": _dig(obj, status_path) or 0,
                "selector": _selector_text(rt, obj, selector_path),
            },
        }

    def write_scale(
        self,
        rt: ResourceType,
        entry: Entry,
        scale: Any,
        *,
        dry_run: bool = False,
        manager: str | None = None,
    ) -> dict[str, Any]:
        if not isinstance(scale, dict):
            raise ApiError(400, 'Scale in version "v1" cannot be handled as a Scale')
        name = entry.meta["name"]
        rv = (scale.get("metadata") or {}).get("resourceVersion")
        if rv and rv != entry.meta["resourceVersion"]:
            raise conflict(rt.group, rt.plural, name)
        replicas = (scale.get("spec") or {}).get("replicas", 0)
        if not isinstance(replicas, int) or replicas < 0:
            raise invalid(
                "Scale",
                "autoscaling",
                name,
                [
                    field_error(
                        "spec.replicas", "Invalid", "must be greater than or equal to 0", replicas
                    )
                ],
            )
        new = entry.copy()
        spec_path = crds.scale_paths(rt)[0]
        node = new
        for part in spec_path[:-1]:
            node = node.setdefault(part, {})
        node[spec_path[-1]] = replicas
        stored = self._commit(rt, entry, new, subresource=None, dry_run=dry_run, manager=manager)
        return self.scale_view(rt, stored)

    # ------------------------------------------------------------ binding & eviction

    def bind(self, namespace: str, name: str, body: Any) -> dict[str, Any]:
        """``pods/binding``: assign a pod to a node, as a scheduler does."""
        pod_rt = self.rt("", "pods")
        entry = self.get_entry(pod_rt, namespace, name)
        target = ((body or {}).get("target") or {}).get("name")
        if not target:
            raise invalid("Binding", "", name, [field_error("target.name", "Required", "")])
        if entry.obj["spec"].get("nodeName"):
            raise conflict(
                "",
                "pods",
                name,
                f'pod {name} is already assigned to node "{entry.obj["spec"]["nodeName"]}"',
            )
        obj = entry.copy()
        obj["spec"]["nodeName"] = target
        self.store.write(pod_rt, obj, entry)
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "code": 201,
        }

    def evict(
        self, namespace: str, name: str, body: dict[str, Any], dry_run: bool = False
    ) -> dict[str, Any]:
        pod_rt = self.rt("", "pods")
        pod = self.get_entry(pod_rt, namespace, name).obj
        pdb_rt = self.rt("policy", "poddisruptionbudgets")
        phase = (pod.get("status") or {}).get("phase")
        if phase not in ("Succeeded", "Failed"):
            for pdb in self.store.kind(pdb_rt).iter_sorted(namespace):
                spec = pdb.obj.get("spec") or {}
                if not from_label_selector_object(spec.get("selector")).matches(
                    pod["metadata"].get("labels")
                ):
                    continue
                allowed, healthy, desired = self.disruptions_allowed(pdb.obj)
                if allowed < 1:
                    raise ApiError(
                        429,
                        "Cannot evict pod as it would violate the pod's disruption budget.",
                        reason="TooManyRequests",
                        details={
                            "causes": [
                                {
                                    "reason": "DisruptionBudget",
                                    "message": f"The disruption budget "
                                    f"{pdb.meta['name']} needs {desired} healthy pods "
                                    f"and has {healthy} currently",
                                }
                            ]
                        },
                    )
        options = (body or {}).get("deleteOptions") or {}
        grace = options.get("gracePeriodSeconds")
        self.delete(
            pod_rt,
            namespace,
            name,
            preconditions=options.get("preconditions"),
            dry_run=dry_run,
            grace=int(grace) if isinstance(grace, int) else None,
        )
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "code": 201,
        }

    def disruptions_allowed(self, pdb: dict[str, Any]) -> tuple[int, int, int]:
        """(disruptionsAllowed, currentHealthy, desiredHealthy) of a PodDisruptionBudget."""
        spec = pdb.get("spec") or {}
        selector = from_label_selector_object(spec.get("selector"))
        pods = [
            e.obj
            for e in self.store.kind(self.rt("", "pods")).iter_sorted(pdb["metadata"]["namespace"])
            if selector.matches(e.meta.get("labels"))
        ]
        healthy = sum(
            1
            for p in pods
            if any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (p.get("status") or {}).get("conditions") or []
            )
        )
        total = len(pods)
        if "minAvailable" in spec:
            desired = _int_or_percent(spec["minAvailable"], total, round_up=True)
        elif "maxUnavailable" in spec:
            desired = total - _int_or_percent(spec["maxUnavailable"], total, round_up=True)
        else:
            desired = total
        return max(healthy - desired, 0), healthy, desired


def _int_or_percent(value: Any, total: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        raw = int(value[:-1]) * total
        return -(-raw // 100) if round_up else raw // 100
    return int(value)


def _dig(obj: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = obj
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _selector_text(rt: ResourceType, obj: dict[str, Any], path: tuple[str, ...] | None) -> str:
    if path is None:
        return ""
    value = _dig(obj, path)
    if isinstance(value, dict):
        return selector_to_string(value)
    return value or ""
