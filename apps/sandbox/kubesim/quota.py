"""ResourceQuota: usage accounting and the admission check with the API server's message shape
(``pods "x" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from apps.core import quantity

from .errors import forbidden

if TYPE_CHECKING:
    from .cluster import Cluster
    from .resources import ResourceType

# Legacy object-count names and the resource they count.
_LEGACY_COUNTS = {
    "pods": ("", "pods"),
    "services": ("", "services"),
    "configmaps": ("", "configmaps"),
    "secrets": ("", "secrets"),
    "persistentvolumeclaims": ("", "persistentvolumeclaims"),
    "replicationcontrollers": ("", "replicationcontrollers"),
    "resourcequotas": ("", "resourcequotas"),
}
_COMPUTE = ("cpu", "memory", "ephemeral-storage")


def _count_key(name: str) -> tuple[str, str] | None:
    if name in _LEGACY_COUNTS:
        return _LEGACY_COUNTS[name]
    if name.startswith("count/"):
        resource = name[len("count/") :]
        plural, _, group = resource.partition(".")
        return (group, plural)
    return None


def _pod_terminal(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def pod_usage(pod: dict[str, Any]) -> dict[str, Decimal]:
    """Compute resources a pod charges: ``requests.cpu``, ``limits.memory``, ``requests.<ext>``…"""
    out: dict[str, Decimal] = {}
    for c in (pod.get("spec") or {}).get("containers") or []:
        res = c.get("resources") or {}
        for section in ("requests", "limits"):
            for name, value in (res.get(section) or {}).items():
                try:
                    amount = quantity.parse(value)
                except quantity.QuantityError:
                    continue
                key = f"{section}.{name}"
                out[key] = out.get(key, Decimal(0)) + amount
                if section == "requests" and name in _COMPUTE:
                    out[name] = out.get(name, Decimal(0)) + amount
    return out


def usage(cluster: Cluster, namespace: str, names: list[str]) -> dict[str, Decimal]:
    """Current usage in ``namespace`` of each tracked quota resource in ``names``."""
    used = {name: Decimal(0) for name in names}
    count_targets = {name: _count_key(name) for name in names}
    for name, target in count_targets.items():
        if target is None:
            continue
        rt = cluster.registry.by_plural(*target)
        if rt is None:
            continue
        ks = cluster.store.kind(rt)
        if target == ("", "pods"):
            used[name] = Decimal(
                sum(1 for e in ks.by_ns.get(namespace, {}).values() if not _pod_terminal(e.obj))
            )
        else:
            used[name] = Decimal(ks.size(namespace))
    compute = [n for n in names if count_targets[n] is None]
    if compute:
        pods_rt = cluster.registry.get("", "v1", "pods")
        for entry in cluster.store.kind(pods_rt).by_ns.get(namespace, {}).values():
            if _pod_terminal(entry.obj):
                continue
            for key, amount in pod_usage(entry.obj).items():
                if key in used:
                    used[key] += amount
        if any(n in ("requests.storage",) for n in compute):
            pvc_rt = cluster.registry.get("", "v1", "persistentvolumeclaims")
            for entry in cluster.store.kind(pvc_rt).by_ns.get(namespace, {}).values():
                req = ((entry.obj.get("spec") or {}).get("resources") or {}).get("requests") or {}
                if "storage" in req:
                    used["requests.storage"] += quantity.parse(req["storage"])
    return used


def _delta(rt: ResourceType, obj: dict[str, Any], names: list[str]) -> dict[str, Decimal]:
    delta: dict[str, Decimal] = {}
    for name in names:
        target = _count_key(name)
        if target is not None and target == (rt.group, rt.plural):
            delta[name] = Decimal(1)
    if rt.key == ("", "pods"):
        charged = pod_usage(obj)
        for name in names:
            if name in charged:
                delta[name] = charged[name]
    if rt.key == ("", "persistentvolumeclaims") and "requests.storage" in names:
        req = ((obj.get("spec") or {}).get("resources") or {}).get("requests") or {}
        if "storage" in req:
            delta["requests.storage"] = quantity.parse(req["storage"])
    return delta


def _pretty(values: dict[str, Decimal], like: dict[str, str]) -> str:
    return ",".join(
        f"{k}={quantity.format_quantity(values[k], like.get(k))}" for k in sorted(values)
    )


def admit(cluster: Cluster, rt: ResourceType, namespace: str, obj: dict[str, Any]) -> None:
    """Reject creating ``obj`` when any quota in its namespace would be exceeded."""
    quota_rt = cluster.registry.get("", "v1", "resourcequotas")
    quotas = cluster.store.kind(quota_rt).by_ns.get(namespace)
    if not quotas:
        return
    name = obj["metadata"].get("name", "")
    for quota_entry in sorted(quotas.values(), key=lambda e: e.meta["name"]):
        hard_raw: dict[str, str] = (quota_entry.obj.get("spec") or {}).get("hard") or {}
        names = list(hard_raw)
        if rt.key == ("", "pods"):
            missing = _missing_specs(obj, names)
            if missing:
                raise forbidden(
                    rt.group,
                    rt.plural,
                    name,
                    f"failed quota: {quota_entry.meta['name']}: must specify " + ",".join(missing),
                )
        delta = _delta(rt, obj, names)
        if not delta:
            continue
        used = usage(cluster, namespace, list(delta))
        hard = {k: quantity.parse(v) for k, v in hard_raw.items()}
        exceeded = [k for k, v in delta.items() if used[k] + v > hard[k]]
        if exceeded:
            raise forbidden(
                rt.group,
                rt.plural,
                name,
                f"exceeded quota: {quota_entry.meta['name']}, "
                f"requested: {_pretty({k: delta[k] for k in exceeded}, hard_raw)}, "
                f"used: {_pretty({k: used[k] for k in exceeded}, hard_raw)}, "
                f"limited: {_pretty({k: hard[k] for k in exceeded}, hard_raw)}",
            )


def _missing_specs(pod: dict[str, Any], names: list[str]) -> list[str]:
    """Quota on requests/limits of compute resources obliges every container to set them."""
    needed = [
        n
        for n in names
        if n.split(".", 1)[0] in ("requests", "limits") and n.split(".", 1)[1] in _COMPUTE
    ] + [n for n in names if n in _COMPUTE]
    out = []
    for n in sorted(set(needed)):
        section, _, res = n.partition(".") if "." in n else ("requests", ".", n)
        lacking = [
            c.get("name", "")
            for c in (pod.get("spec") or {}).get("containers") or []
            if res not in ((c.get("resources") or {}).get(section) or {})
        ]
        if lacking:
            out.append(f"{n} for: {','.join(lacking)}")
    return ["; ".join(out)] if out else []


def status_for(cluster: Cluster, quota: dict[str, Any]) -> dict[str, Any]:
    """``status`` of a ResourceQuota: hard as declared and current ``used``."""
    hard = dict((quota.get("spec") or {}).get("hard") or {})
    used = usage(cluster, quota["metadata"]["namespace"], list(hard))
    return {
        "hard": hard,
        "used": {k: quantity.format_quantity(v, hard.get(k)) for k, v in used.items()},
    }
