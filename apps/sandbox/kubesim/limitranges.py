"""LimitRange, as the API server applies it: the defaulting of a LimitRange's ``Container``
items (``SetDefaults_LimitRangeItem``) and the LimitRanger admission plugin on creation —
containers without requests/limits get the namespace's ``defaultRequest``/``default`` (and the
``kubernetes.io/limit-ranger`` annotation saying so), then ``min``, ``max`` and
``maxLimitRequestRatio`` are enforced per Container, per Pod and per PersistentVolumeClaim with
the plugin's messages (``pods "p" is forbidden: maximum cpu usage per Container is 1, but limit
is 2``). Runs before ResourceQuota admission, which so counts the defaulted values.

As the plugin: pods and claims are judged on create only (their resources cannot change
afterwards); several LimitRanges in a namespace apply in name order, the first default for a
resource winning; several violations are reported together (``[first, second]``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from apps.core import quantity

from .errors import forbidden

if TYPE_CHECKING:
    from .cluster import Cluster

ANNOTATION = "kubernetes.io/limit-ranger"
CONTAINER, POD, CLAIM = "Container", "Pod", "PersistentVolumeClaim"


def default_item(item: dict[str, Any]) -> None:
    """``SetDefaults_LimitRangeItem``: for a Container item, ``default`` from ``max`` and
    ``defaultRequest`` from ``default``, then from ``min``, for the resources not given."""
    if item.get("type") != CONTAINER:
        return
    default = item["default"] = dict(item.get("default") or {})
    request = item["defaultRequest"] = dict(item.get("defaultRequest") or {})
    for name, value in (item.get("max") or {}).items():
        default.setdefault(name, value)
    for name, value in default.items():
        request.setdefault(name, value)
    for name, value in (item.get("min") or {}).items():
        request.setdefault(name, value)
    for field in ("default", "defaultRequest"):  # an empty map is not written out
        if not item[field]:
            del item[field]


def _ranges(cluster: Cluster, namespace: str) -> list[dict[str, Any]]:
    rt = cluster.registry.get("", "v1", "limitranges")
    entries = cluster.store.kind(rt).by_ns.get(namespace) or {}
    return [e.obj for e in sorted(entries.values(), key=lambda e: e.meta["name"])]


def _items(ranges: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [
        item
        for limit_range in ranges
        for item in (limit_range.get("spec") or {}).get("limits") or []
        if item.get("type") == kind
    ]


# -- mutation ------------------------------------------------------------------------------------
def default_pod(cluster: Cluster, namespace: str, pod: dict[str, Any]) -> bool:
    """Give every container the namespace's default requests and limits it lacks; True when
    something was set (the pod's annotation then says what, as the plugin writes it)."""
    items = _items(_ranges(cluster, namespace), CONTAINER)
    if not items:
        return False
    limits: dict[str, Any] = {}
    requests: dict[str, Any] = {}
    for item in items:
        for name, value in (item.get("default") or {}).items():
            limits.setdefault(name, value)
        for name, value in (item.get("defaultRequest") or {}).items():
            requests.setdefault(name, value)
    spec = pod.get("spec") or {}
    said: list[str] = []
    for prefix, field in (("init container", "initContainers"), ("container", "containers")):
        for container in spec.get(field) or []:
            said += _merge(container, limits, requests, prefix)
    if not said:
        return False
    annotations = pod.setdefault("metadata", {}).setdefault("annotations", {})
    annotations[ANNOTATION] = "LimitRanger plugin set: " + "; ".join(said)
    return True


def _merge(container: dict[str, Any], limits: dict, requests: dict, prefix: str) -> list[str]:
    resources = container.setdefault("resources", {})
    have_limits = resources["limits"] = dict(resources.get("limits") or {})
    have_requests = resources["requests"] = dict(resources.get("requests") or {})
    set_limits = sorted(n for n in limits if n not in have_limits)
    set_requests = sorted(n for n in requests if n not in have_requests)
    for name in set_limits:
        have_limits[name] = limits[name]
    for name in set_requests:
        have_requests[name] = requests[name]
    if not have_limits:
        resources.pop("limits")
    if not have_requests:
        resources.pop("requests")
    said = []
    name = container.get("name", "")
    if set_requests:
        said.append(f"{', '.join(set_requests)} request for {prefix} {name}")
    if set_limits:
        said.append(f"{', '.join(set_limits)} limit for {prefix} {name}")
    return said


# -- validation ----------------------------------------------------------------------------------
def _amount(values: dict[str, Any], name: str) -> Decimal | None:
    if name not in values:
        return None
    try:
        return quantity.parse(values[name])
    except quantity.QuantityError:
        return None


def _min(kind: str, name: str, enforced: str, requests: dict, limits: dict) -> str | None:
    bound, request, limit = quantity.parse(enforced), _amount(requests, name), _amount(limits, name)
    if request is None:
        return f"minimum {name} usage per {kind} is {enforced}.  No request is specified"
    if request < bound:
        return f"minimum {name} usage per {kind} is {enforced}, but request is {requests[name]}"
    if limit is not None and limit < bound:
        return f"minimum {name} usage per {kind} is {enforced}, but limit is {limits[name]}"
    return None


def _max(kind: str, name: str, enforced: str, requests: dict, limits: dict) -> str | None:
    bound, request, limit = quantity.parse(enforced), _amount(requests, name), _amount(limits, name)
    if limit is None:
        return f"maximum {name} usage per {kind} is {enforced}.  No limit is specified"
    if limit > bound:
        return f"maximum {name} usage per {kind} is {enforced}, but limit is {limits[name]}"
    if request is not None and request > bound:
        return f"maximum {name} usage per {kind} is {enforced}, but request is {requests[name]}"
    return None


def _max_request(kind: str, name: str, enforced: str, requests: dict) -> str | None:
    request = _amount(requests, name)
    if request is None:
        return f"maximum {name} usage per {kind} is {enforced}.  No request is specified"
    if request > quantity.parse(enforced):
        return f"maximum {name} usage per {kind} is {enforced}, but request is {requests[name]}"
    return None


def _ratio(kind: str, name: str, enforced: str, requests: dict, limits: dict) -> str | None:
    request, limit = _amount(requests, name), _amount(limits, name)
    head = f"{name} max limit to request ratio per {kind} is {enforced}"
    if not request:
        return f"{head}, but no request is specified or request is 0"
    if not limit:
        return f"{head}, but no limit is specified or limit is 0"
    observed = limit / request
    if observed > quantity.parse(enforced):
        return f"{head}, but provided ratio is {float(observed):f}"
    return None


def _judge(item: dict[str, Any], kind: str, requests: dict, limits: dict) -> list[str]:
    found = [_min(kind, n, v, requests, limits) for n, v in (item.get("min") or {}).items()]
    found += [_max(kind, n, v, requests, limits) for n, v in (item.get("max") or {}).items()]
    found += [
        _ratio(kind, n, v, requests, limits)
        for n, v in (item.get("maxLimitRequestRatio") or {}).items()
    ]
    return [f for f in found if f]


def _pod_totals(spec: dict[str, Any], section: str) -> dict[str, str]:
    """A pod's requests (or limits): the sum over its containers, raised to any init
    container's own value (init containers run one at a time, before the others)."""
    total: dict[str, Decimal] = {}
    like: dict[str, str] = {}  # printed in the format of the first value, as Go's Add keeps
    for container in spec.get("containers") or []:
        for name, value in ((container.get("resources") or {}).get(section) or {}).items():
            total[name] = total.get(name, Decimal(0)) + quantity.parse(value)
            like.setdefault(name, str(value))
    for container in spec.get("initContainers") or []:
        for name, value in ((container.get("resources") or {}).get(section) or {}).items():
            total[name] = max(total.get(name, Decimal(0)), quantity.parse(value))
            like.setdefault(name, str(value))
    return {name: quantity.format_quantity(amount, like[name]) for name, amount in total.items()}


def _refuse(plural: str, name: str, problems: list[str]) -> None:
    unique = list(dict.fromkeys(problems))
    if not unique:
        return
    why = unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"
    raise forbidden("", plural, name, why)


def admit_pod(cluster: Cluster, namespace: str, pod: dict[str, Any]) -> None:
    """Refuse a pod outside the namespace's per-Container and per-Pod bounds (403)."""
    ranges = _ranges(cluster, namespace)
    if not ranges:
        return
    spec = pod.get("spec") or {}
    problems: list[str] = []
    for limit_range in ranges:
        for item in (limit_range.get("spec") or {}).get("limits") or []:
            if item.get("type") == CONTAINER:
                for field in ("containers", "initContainers"):
                    for container in spec.get(field) or []:
                        resources = container.get("resources") or {}
                        problems += _judge(
                            item,
                            CONTAINER,
                            resources.get("requests") or {},
                            resources.get("limits") or {},
                        )
            elif item.get("type") == POD:
                problems += _judge(
                    item, POD, _pod_totals(spec, "requests"), _pod_totals(spec, "limits")
                )
    _refuse("pods", pod["metadata"].get("name", ""), problems)


def admit_claim(cluster: Cluster, namespace: str, claim: dict[str, Any]) -> None:
    """Refuse a PersistentVolumeClaim whose storage request is outside the bounds (403)."""
    items = _items(_ranges(cluster, namespace), CLAIM)
    if not items:
        return
    requests = ((claim.get("spec") or {}).get("resources") or {}).get("requests") or {}
    problems: list[str | None] = []
    for item in items:
        for name, bound in (item.get("min") or {}).items():
            problems.append(_min(CLAIM, name, bound, requests, {}))
        for name, bound in (item.get("max") or {}).items():
            problems.append(_max_request(CLAIM, name, bound, requests))
    found = [p for p in problems if p]
    _refuse("persistentvolumeclaims", claim["metadata"].get("name", ""), found)
