"""Pod priority: PriorityClass validation and the ``Priority`` admission plugin.

* Every cluster has the two system classes the API server creates at start-up
  (``system-cluster-critical`` 2000000000, ``system-node-critical`` 2000001000).
* A PriorityClass needs ``value``; user classes may not exceed 1000000000 nor use the
  ``system-`` prefix (``pkg/apis/scheduling/validation``, messages as
  ``scheduling.IsKnownSystemPriorityClass`` words them); ``preemptionPolicy`` is
  ``PreemptLowerPriority`` (default) or ``Never``; ``value`` (Forbidden) and ``preemptionPolicy``
  (immutable) may not change; only one class may be ``globalDefault`` (403 naming the class that
  already is, as ``plugin/pkg/admission/priority`` does).
* A pod's ``priorityClassName`` is resolved at admission to ``spec.priority`` and
  ``spec.preemptionPolicy`` (unknown class: 403 ``no PriorityClass with name … was found``); a
  pod without one gets the global default class, if any, else priority 0. A pod that states a
  different ``priority`` or ``preemptionPolicy`` than its class gives is refused (403).

The same module exists on the ``behave`` branch (which hooks :func:`admit_pod` into pod creation);
this copy differs only in the three messages named above.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import field_error, forbidden

if TYPE_CHECKING:
    from .cluster import Cluster

HIGHEST_USER_PRIORITY = 1_000_000_000
SYSTEM_PREFIX = "system-"
SYSTEM_CLASSES = {
    "system-cluster-critical": (
        2_000_000_000,
        "Used for system critical pods that must run in the cluster, but can be moved to "
        "another node if necessary.",
    ),
    "system-node-critical": (
        2_000_001_000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
}
POLICIES = ("Never", "PreemptLowerPriority")
GROUP, PLURAL = "scheduling.k8s.io", "priorityclasses"


def bootstrap(cluster: Cluster) -> None:
    """Create the system priority classes (kube-apiserver's post-start hook does)."""
    rt = cluster.registry.by_plural(GROUP, PLURAL)
    if rt is None:
        return
    for name, (value, description) in SYSTEM_CLASSES.items():
        if cluster.store.get(rt, "", name) is None:
            cluster.create(
                rt,
                None,
                {"metadata": {"name": name}, "value": value, "description": description},
                manager="kube-apiserver",
            )


def _not_a_system_class(name: str, value: int, global_default: bool) -> str | None:
    """Why ``name`` may not use the system prefix (``IsKnownSystemPriorityClass``)."""
    known = SYSTEM_CLASSES.get(name)
    if known is None:
        return f"{name} is not a known system priority class"
    if value != known[0]:
        return f"value of {name} PriorityClass must be {known[0]}"
    if global_default:
        return f"globalDefault of {name} PriorityClass must be false"
    return None


def validate(obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[dict[str, str]]:
    """Field errors of a PriorityClass (create, or update when ``old`` is given)."""
    causes = []
    name = obj["metadata"].get("name", "")
    value = obj.get("value")
    obj.setdefault("preemptionPolicy", "PreemptLowerPriority")
    if not isinstance(value, int) or isinstance(value, bool):
        causes.append(field_error("value", "Required", ""))
    elif name.startswith(SYSTEM_PREFIX):
        why = _not_a_system_class(name, value, bool(obj.get("globalDefault")))
        if why is not None:
            causes.append(
                field_error(
                    "metadata.name",
                    "Forbidden",
                    f"priority class names with '{SYSTEM_PREFIX}' prefix are reserved for "
                    f"system use only. error: {why}",
                )
            )
    elif value > HIGHEST_USER_PRIORITY:
        causes.append(
            field_error(
                "value",
                "Forbidden",
                f"maximum allowed value of a user defined priority is {HIGHEST_USER_PRIORITY}",
            )
        )
    policy = obj["preemptionPolicy"]
    if policy not in POLICIES:
        causes.append(
            field_error(
                "preemptionPolicy",
                "NotSupported",
                'supported values: "Never", "PreemptLowerPriority"',
                policy,
            )
        )
    if old is not None:
        if obj.get("value") != old.get("value"):
            causes.append(field_error("value", "Forbidden", "may not be changed in an update."))
        if policy != old.get("preemptionPolicy", "PreemptLowerPriority"):
            causes.append(field_error("preemptionPolicy", "Invalid", "field is immutable", policy))
    return causes


def admit_class(cluster: Cluster, obj: dict[str, Any]) -> None:
    """Only one PriorityClass may be the global default."""
    if not obj.get("globalDefault"):
        return
    name = obj["metadata"].get("name", "")
    for other in cluster.objects(GROUP, PLURAL):
        if other.get("globalDefault") and other["metadata"]["name"] != name:
            raise forbidden(
                GROUP,
                PLURAL,
                name,
                f"PriorityClass {other['metadata']['name']} is already marked as default. "
                "Only one default can exist",
            )


def admit_pod(cluster: Cluster, pod: dict[str, Any]) -> None:
    """Resolve ``priorityClassName`` into ``priority`` and ``preemptionPolicy``."""
    spec = pod.setdefault("spec", {})
    name = pod["metadata"].get("name", "")
    class_name = spec.get("priorityClassName") or ""
    found: dict[str, Any] | None
    if class_name:
        found = cluster.find(GROUP, PLURAL, None, class_name)
        if found is None:
            raise forbidden("", "pods", name, f"no PriorityClass with name {class_name} was found")
    else:
        found = next((pc for pc in cluster.objects(GROUP, PLURAL) if pc.get("globalDefault")), None)
        if found is not None:
            spec["priorityClassName"] = found["metadata"]["name"]
    value = int(found["value"]) if found is not None else 0
    policy = (found or {}).get("preemptionPolicy") or "PreemptLowerPriority"
    if spec.get("priority") is not None and spec["priority"] != value:
        raise forbidden(
            "",
            "pods",
            name,
            f"the integer value of priority ({spec['priority']}) must not be provided in pod "
            f"spec; priority admission controller computed {value} from the given "
            "PriorityClass name",
        )
    if spec.get("preemptionPolicy") is not None and spec["preemptionPolicy"] != policy:
        raise forbidden(
            "",
            "pods",
            name,
            f"the string value of PreemptionPolicy ({spec['preemptionPolicy']}) must not be "
            f"provided in pod spec; priority admission controller computed {policy} from the "
            "given PriorityClass name",
        )
    spec["priority"] = value
    spec["preemptionPolicy"] = policy
