"""``scheduling.k8s.io/v1`` PriorityClass: the two system classes every cluster has, the API
server's validation (``pkg/apis/scheduling/validation``) and the ``Priority`` admission plugin's
single-global-default rule."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import field_error as fe
from .errors import forbidden

if TYPE_CHECKING:
    from .cluster import Cluster

HIGHEST_USER_DEFINABLE = 1_000_000_000
SYSTEM_PREFIX = "system-"
SYSTEM_CLASSES = {
    "system-node-critical": (
        2_000_001_000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
    "system-cluster-critical": (
        2_000_000_000,
        "Used for system critical pods that must run in the cluster, but can be moved to "
        "another node if necessary.",
    ),
}
_POLICIES = ("Never", "PreemptLowerPriority")


def seed(cluster: Cluster) -> None:
    """Create the system priority classes (the API server does at start-up)."""
    rt = cluster.rt("scheduling.k8s.io", "priorityclasses")
    for name, (value, description) in SYSTEM_CLASSES.items():
        if cluster.store.get(rt, "", name) is None:
            cluster.create(
                rt,
                None,
                {"metadata": {"name": name}, "value": value, "description": description},
                manager="kube-apiserver",
            )


def _system_error(name: str, value: Any, global_default: bool) -> str | None:
    known = SYSTEM_CLASSES.get(name)
    if known is None:
        return f"{name} is not a known system priority class"
    if value != known[0]:
        return f"value of {name} PriorityClass must be {known[0]}"
    if global_default:
        return f"globalDefault of {name} PriorityClass must be false"
    return None


def validate(obj: dict[str, Any]) -> list[dict[str, Any]]:
    causes = []
    name = obj["metadata"].get("name") or ""
    value = obj.get("value", 0)
    if name.startswith(SYSTEM_PREFIX):
        why = _system_error(name, value, bool(obj.get("globalDefault")))
        if why:
            causes.append(
                fe(
                    "metadata.name",
                    "Forbidden",
                    f"priority class names with '{SYSTEM_PREFIX}' prefix are reserved for "
                    f"system use only. error: {why}",
                )
            )
    elif isinstance(value, int) and value > HIGHEST_USER_DEFINABLE:
        causes.append(
            fe(
                "value",
                "Forbidden",
                f"maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE}",
            )
        )
    policy = obj.get("preemptionPolicy")
    if policy is not None and policy not in _POLICIES:
        causes.append(
            fe(
                "preemptionPolicy",
                "NotSupported",
                'supported values: "Never", "PreemptLowerPriority"',
                policy,
            )
        )
    return causes


def validate_update(new: dict[str, Any], old: dict[str, Any]) -> list[dict[str, Any]]:
    causes = []
    if new.get("value", 0) != old.get("value", 0):
        causes.append(fe("value", "Forbidden", "may not be changed in an update."))
    if new.get("preemptionPolicy") != old.get("preemptionPolicy"):
        causes.append(
            fe("preemptionPolicy", "Invalid", "field is immutable", new.get("preemptionPolicy"))
        )
    return causes


def admit(cluster: Cluster, obj: dict[str, Any]) -> None:
    """Only one PriorityClass may be the global default (403 naming the existing one)."""
    if not obj.get("globalDefault"):
        return
    name = obj["metadata"]["name"]
    for other in cluster.objects("scheduling.k8s.io", "priorityclasses"):
        if other.get("globalDefault") and other["metadata"]["name"] != name:
            raise forbidden(
                "scheduling.k8s.io",
                "priorityclasses",
                name,
                f"PriorityClass {other['metadata']['name']} is already marked as default. "
                "Only one default can exist",
            )
