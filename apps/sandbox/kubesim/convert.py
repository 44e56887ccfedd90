"""Conversion between the versions (or groups) that serve the same stored objects.

A real API server keeps each resource in one storage version and converts on the way in and
out. kubesim does the same for the pairs a 1.37 server has:

* ``autoscaling/v1`` ↔ ``autoscaling/v2`` HorizontalPodAutoscaler (stored as v2): v1's
  ``targetCPUUtilizationPercentage`` is v2's CPU ``Utilization`` resource metric, and what v1
  cannot express (other metrics, behavior, conditions) rides in the
  ``autoscaling.alpha.kubernetes.io/*`` annotations, as kubernetes'
  ``pkg/apis/autoscaling/v1`` conversion does, so a v1 round trip loses nothing;
* ``events.k8s.io/v1`` ↔ core ``v1`` Event (stored as core): ``regarding``/``involvedObject``,
  ``note``/``message``, ``reportingController``/``reportingComponent``, the ``deprecated*``
  fields, as ``pkg/apis/events/v1`` conversion does.

Everything else is the identity (only ``apiVersion`` changes).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .errors import ApiError, invalid
from .errors import field_error as fe

if TYPE_CHECKING:
    from collections.abc import Callable

    from .handlers import Request
    from .resources import ResourceType

METRICS = "autoscaling.alpha.kubernetes.io/metrics"
BEHAVIOR = "autoscaling.alpha.kubernetes.io/behavior"
CONDITIONS = "autoscaling.alpha.kubernetes.io/conditions"
CURRENT_METRICS = "autoscaling.alpha.kubernetes.io/current-metrics"
_HPA_ANNOTATIONS = (METRICS, BEHAVIOR, CONDITIONS, CURRENT_METRICS)


def _copy(obj: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(obj))


def _is_cpu_utilization(metric: dict[str, Any], key: str) -> bool:
    resource = metric.get("resource") or {}
    return (
        metric.get("type") == "Resource"
        and resource.get("name") == "cpu"
        and isinstance((resource.get(key) or {}).get("averageUtilization"), int)
        and (key != "target" or resource[key].get("type") == "Utilization")
    )


# ---------------------------------------------------------------- HorizontalPodAutoscaler


def hpa_v2_to_v1(obj: dict[str, Any]) -> dict[str, Any]:
    out = _copy(obj)
    out["apiVersion"] = "autoscaling/v1"
    meta = out.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    spec = out.get("spec")
    if isinstance(spec, dict):
        others = []
        for metric in spec.pop("metrics", None) or []:
            if (
                _is_cpu_utilization(metric, "target")
                and "targetCPUUtilizationPercentage" not in spec
            ):
                spec["targetCPUUtilizationPercentage"] = metric["resource"]["target"][
                    "averageUtilization"
                ]
            else:
                others.append(metric)
        if others:
            annotations[METRICS] = json.dumps(others, separators=(",", ":"))
        behavior = spec.pop("behavior", None)
        if behavior:
            annotations[BEHAVIOR] = json.dumps(behavior, separators=(",", ":"))
    status = out.get("status")
    if isinstance(status, dict):
        others = []
        for metric in status.pop("currentMetrics", None) or []:
            if _is_cpu_utilization(metric, "current"):
                status["currentCPUUtilizationPercentage"] = metric["resource"]["current"][
                    "averageUtilization"
                ]
            else:
                others.append(metric)
        if others:
            annotations[CURRENT_METRICS] = json.dumps(others, separators=(",", ":"))
        conditions = status.pop("conditions", None)
        if conditions:
            annotations[CONDITIONS] = json.dumps(conditions, separators=(",", ":"))
        status.setdefault("currentReplicas", 0)
        status.setdefault("desiredReplicas", 0)
    if annotations:
        meta["annotations"] = annotations
    return out


def _annotation_list(annotations: dict[str, Any], key: str, path: str) -> Any:
    text = annotations.pop(key, None)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ApiError(400, f"{path}: {key} annotation is not valid JSON: {exc}") from exc


def hpa_v1_to_v2(obj: dict[str, Any]) -> dict[str, Any]:
    out = _copy(obj)
    out["apiVersion"] = "autoscaling/v2"
    meta = out.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    spec = out.get("spec")
    if isinstance(spec, dict):
        metrics = []
        target = spec.pop("targetCPUUtilizationPercentage", None)
        if target is not None:
            metrics.append(
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": target},
                    },
                }
            )
        metrics += _annotation_list(annotations, METRICS, "metadata.annotations") or []
        if metrics:
            spec["metrics"] = metrics
        behavior = _annotation_list(annotations, BEHAVIOR, "metadata.annotations")
        if behavior:
            spec["behavior"] = behavior
    else:
        for key in (METRICS, BEHAVIOR):
            annotations.pop(key, None)
    status = out.get("status")
    if isinstance(status, dict):
        current = []
        cpu = status.pop("currentCPUUtilizationPercentage", None)
        if cpu is not None:
            current.append(
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "current": {"averageUtilization": cpu}},
                }
            )
        current += _annotation_list(annotations, CURRENT_METRICS, "metadata.annotations") or []
        if current:
            status["currentMetrics"] = current
        conditions = _annotation_list(annotations, CONDITIONS, "metadata.annotations")
        if conditions:
            status["conditions"] = conditions
    else:
        for key in (CURRENT_METRICS, CONDITIONS):
            annotations.pop(key, None)
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    return out


# ---------------------------------------------------------------- Event

# (core v1 field, events.k8s.io/v1 field)
_EVENT_FIELDS = (
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
)
_EVENT_SAME = ("metadata", "eventTime", "series", "reportingInstance", "action", "reason")
_EVENT_SAME += ("related", "type")


def event_core_to_v1(obj: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"apiVersion": "events.k8s.io/v1", "kind": "Event"}
    for key in _EVENT_SAME:
        if obj.get(key) not in (None, "", {}):
            out[key] = _copy({"v": obj[key]})["v"]
    series = out.get("series")
    if isinstance(series, dict):
        series.pop("state", None)  # core's deprecated series.state has no events/v1 field
    for core, new in _EVENT_FIELDS:
        if obj.get(core) not in (None, "", 0, {}):
            out[new] = _copy({"v": obj[core]})["v"]
    out.setdefault("eventTime", None)
    out.setdefault("deprecatedSource", {})
    out.setdefault("deprecatedFirstTimestamp", None)
    out.setdefault("deprecatedLastTimestamp", None)
    return out


def event_v1_to_core(obj: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"apiVersion": "v1", "kind": "Event"}
    for key in _EVENT_SAME:
        if key in obj:
            out[key] = obj[key]
    for core, new in _EVENT_FIELDS:
        if new in obj:
            out[core] = obj[new]
    # Fields of neither shape are kept so decoding reports them as unknown.
    known = set(_EVENT_SAME) | {new for _, new in _EVENT_FIELDS} | {"apiVersion", "kind"}
    for key, value in obj.items():
        if key not in known:
            out[key] = value
    out.setdefault("involvedObject", {})
    return out


def validate_v1_event_create(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """What ``ValidateEventCreate`` adds for events written through ``events.k8s.io/v1``
    (``obj`` is already in core shape; paths are named as the client wrote them)."""
    causes = []
    if not obj.get("eventTime"):
        causes.append(fe("eventTime", "Required", ""))
    if obj.get("type") not in ("Normal", "Warning"):
        causes.append(fe("type", "Invalid", f"has invalid value: {obj.get('type') or ''}", ""))
    for core, new in _EVENT_FIELDS[3:]:
        if obj.get(core) not in (None, "", 0, {}):
            causes.append(fe(new, "Invalid", "needs to be unset", ""))
    if obj.get("eventTime"):
        for core, new in (
            ("reportingComponent", "reportingController"),
            ("reportingInstance", "reportingInstance"),
            ("action", "action"),
            ("reason", "reason"),
        ):
            if not obj.get(core):
                causes.append(fe(new, "Required", ""))
        if len(obj.get("message") or "") > 1024:
            causes.append(fe("note", "Invalid", "can have at most 1024 characters", ""))
    return causes


# Field labels of events.k8s.io/v1 and the core fields they select on (its conversion funcs).
_EVENT_FIELD_LABELS = {
    "metadata.name": "metadata.name",
    "metadata.namespace": "metadata.namespace",
    "reason": "reason",
    "type": "type",
    "reportingController": "reportingComponent",
    **{f"regarding.{f}": f"involvedObject.{f}" for f in ("kind", "namespace", "name", "uid")},
    **{
        f"regarding.{f}": f"involvedObject.{f}"
        for f in ("apiVersion", "resourceVersion", "fieldPath")
    },
}


def field_selector(served: ResourceType, text: str | None) -> str | None:
    """A field selector written against ``served``, in terms of the stored resource."""
    if not text or served.group != "events.k8s.io":
        return text
    terms = []
    for term in text.split(","):
        for op in ("!=", "==", "="):
            if op in term:
                path, value = term.split(op, 1)
                break
        else:
            terms.append(term)  # parse_field_selector reports it
            continue
        label = _EVENT_FIELD_LABELS.get(path.strip())
        if label is None:
            raise ApiError(400, f"field label not supported: {path.strip()}")
        terms.append(f"{label}{op}{value}")
    return ",".join(terms)


# ---------------------------------------------------------------- dispatch

_TO_SERVED = {
    ("autoscaling/v2", "autoscaling/v1"): hpa_v2_to_v1,
    ("v1", "events.k8s.io/v1"): event_core_to_v1,
}
_TO_STORAGE = {
    ("autoscaling/v1", "autoscaling/v2"): hpa_v1_to_v2,
    ("events.k8s.io/v1", "v1"): event_v1_to_core,
}


def to_served(served: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    """A stored object as ``served``'s version shows it."""
    stored_as = obj.get("apiVersion")
    if stored_as == served.group_version or obj.get("kind") != served.kind:
        return obj
    fn = _TO_SERVED.get((stored_as or "", served.group_version))
    return fn(obj) if fn else {**obj, "apiVersion": served.group_version}


def to_storage(served: ResourceType, storage: ResourceType, body: Any) -> Any:
    """A request body written in ``served``'s version, in ``storage``'s shape."""
    if served is storage or not isinstance(body, dict):
        return body
    api_version = body.get("apiVersion")
    if api_version and api_version != served.group_version:
        return body  # _check_body answers the mismatch
    fn = _TO_STORAGE.get((served.group_version, storage.group_version))
    out = fn(body) if fn else dict(body)
    if "kind" in body or api_version:
        out["apiVersion"], out["kind"] = storage.group_version, storage.kind
    else:
        out.pop("apiVersion", None)
        out.pop("kind", None)
    return out


def admit_create(served: ResourceType, storage: ResourceType, body: Any) -> Any:
    """A create body in storage shape, refused (422) where the served version's own create
    validation is stricter (events.k8s.io/v1 events)."""
    out = to_storage(served, storage, body)
    if served.group == "events.k8s.io" and isinstance(out, dict):
        causes = validate_v1_event_create(out)
        if causes:
            name = (out.get("metadata") or {}).get("name", "")
            raise invalid(served.kind, served.group, name, causes)
    return out


def patch_view(req: Request) -> Callable[..., tuple[dict[str, Any], bool]]:
    """``Cluster.patch`` for a version that is not the stored one: the patch applies to the
    object as the client's version shows it, and the result is converted back and stored
    (apply patches are converted and applied to the stored version)."""
    from .ops import APPLY_PATCH
    from .ops.patching import apply_patch_document

    served, cluster = req.served, req.cluster

    def run(
        rt: ResourceType,
        namespace: str | None,
        name: str,
        ptype: str,
        body: Any,
        **options: Any,
    ) -> tuple[dict[str, Any], bool]:
        if ptype == APPLY_PATCH:
            return cluster.patch(
                rt, namespace, name, ptype, to_storage(served, rt, body), **options
            )
        subresource = options.pop("subresource", None)
        options.pop("force", None)
        if subresource not in (None, "status"):
            return cluster.patch(
                rt, namespace, name, ptype, body, subresource=subresource, **options
            )
        current = to_served(served, cluster.get_entry(rt, namespace, name).obj)
        patched = apply_patch_document(ptype, current, body, served.schema)
        stored = to_storage(served, rt, patched)
        stored.setdefault("metadata", {}).setdefault(
            "resourceVersion", current["metadata"]["resourceVersion"]
        )
        return cluster.update(
            rt, namespace, name, stored, subresource=subresource, **options
        ), False

    return run
