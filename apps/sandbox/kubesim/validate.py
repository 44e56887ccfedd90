"""Semantic validation of built-in kinds (the API server's ``validation`` package, in brief).

Each check yields a ``StatusCause`` (field path + message) so a failed create/update answers
422 Invalid with the same causes the real server lists.
"""

from __future__ import annotations

import re
from typing import Any

from apps.core import quantity

from .errors import field_error as fe
from .selectors import from_label_selector_object

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_QUALIFIED = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
# Kinds whose names must be DNS-1123 labels rather than subdomains.
LABEL_NAMED = {"Namespace", "Service"}


def name_causes(kind: str, name: str, path: str = "metadata.name") -> list[dict[str, str]]:
    if kind in LABEL_NAMED:
        if len(name) > 63:
            return [fe(path, "Invalid", "must be no more than 63 characters", name)]
        if not DNS1123_LABEL.match(name):
            return [fe(path, "Invalid", LABEL_MSG, name)]
        return []
    if len(name) > 253:
        return [fe(path, "Invalid", "must be no more than 253 characters", name)]
    if not DNS1123_SUBDOMAIN.match(name):
        return [fe(path, "Invalid", SUBDOMAIN_MSG, name)]
    return []


def _labels(labels: Any, path: str) -> list[dict[str, str]]:
    causes = []
    for key, value in (labels or {}).items():
        prefix, _, name = key.rpartition("/")
        if (
            not name
            or len(name) > 63
            or not _QUALIFIED.match(name)
            or (prefix and not DNS1123_SUBDOMAIN.match(prefix))
        ):
            causes.append(
                fe(
                    f"{path}",
                    "Invalid",
                    "name part must consist of alphanumeric characters, '-', '_' or '.', "
                    "and must start and end with an alphanumeric character (e.g. "
                    "'MyName',  or 'my.name',  or '123-abc', regex used for validation "
                    "is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
                    key,
                )
            )
        # The API server reports a too-long value by its length alone (IsValidLabelValue).
        if isinstance(value, str) and len(value) > 63:
            causes.append(fe(path, "Invalid", "must be no more than 63 characters", value))
        if not isinstance(value, str) or not _LABEL_VALUE.match(value):
            causes.append(
                fe(
                    f"{path}",
                    "Invalid",
                    "a valid label must be an empty string or consist of alphanumeric "
                    "characters, '-', '_' or '.', and must start and end with an "
                    "alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
                    "'12345', regex used for validation is "
                    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                    value,
                )
            )
    return causes


def metadata(kind: str, obj: dict[str, Any]) -> list[dict[str, str]]:
    meta = obj["metadata"]
    causes = []
    if not meta.get("name"):
        causes.append(fe("metadata.name", "Required", "name or generateName is required"))
    else:
        causes += name_causes(kind, meta["name"])
    causes += _labels(meta.get("labels"), "metadata.labels")
    return causes


def _resources(res: dict[str, Any], path: str) -> list[dict[str, str]]:
    causes = []
    for section in ("limits", "requests"):
        for name, value in (res.get(section) or {}).items():
            try:
                amount = quantity.parse(value)
            except quantity.QuantityError as exc:
                causes.append(fe(f"{path}.{section}[{name}]", "Invalid", str(exc), value))
                continue
            if amount < 0:
                causes.append(
                    fe(
                        f"{path}.{section}[{name}]",
                        "Invalid",
                        "must be greater than or equal to 0",
                        value,
                    )
                )
    for name, value in (res.get("requests") or {}).items():
        limit = (res.get("limits") or {}).get(name)
        try:
            if limit is not None and quantity.parse(value) > quantity.parse(limit):
                causes.append(
                    fe(
                        f"{path}.requests",
                        "Invalid",
                        f"must be less than or equal to {name} limit of {limit}",
                        value,
                    )
                )
        except quantity.QuantityError:
            continue
    return causes


def pod_spec(spec: dict[str, Any], path: str, template: bool = False) -> list[dict[str, str]]:
    causes = []
    containers = spec.get("containers") or []
    if not containers:
        causes.append(fe(f"{path}.containers", "Required", ""))
    seen: set[str] = set()
    for group in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(group) or []):
            cpath = f"{path}.{group}[{i}]"
            name = c.get("name") or ""
            if not name:
                causes.append(fe(f"{cpath}.name", "Required", ""))
            elif not DNS1123_LABEL.match(name):
                causes.append(fe(f"{cpath}.name", "Invalid", LABEL_MSG, name))
            elif name in seen:
                causes.append(fe(f"{cpath}.name", "Duplicate", "", name))
            seen.add(name)
            if not c.get("image"):
                causes.append(fe(f"{cpath}.image", "Required", ""))
            for j, port in enumerate(c.get("ports") or []):
                cp = port.get("containerPort")
                if not isinstance(cp, int) or not 0 < cp < 65536:
                    causes.append(
                        fe(
                            f"{cpath}.ports[{j}].containerPort",
                            "Invalid",
                            "must be between 1 and 65535, inclusive",
                            cp,
                        )
                    )
            causes += _resources(c.get("resources") or {}, f"{cpath}.resources")
    policy = spec.get("restartPolicy")
    if policy not in (None, "Always", "OnFailure", "Never"):
        causes.append(
            fe(
                f"{path}.restartPolicy",
                "NotSupported",
                'supported values: "Always", "OnFailure", "Never"',
                policy,
            )
        )
    return causes


def _workload(kind: str, obj: dict[str, Any]) -> list[dict[str, str]]:
    spec = obj.get("spec") or {}
    causes = []
    if spec.get("replicas") is not None and spec["replicas"] < 0:
        causes.append(
            fe("spec.replicas", "Invalid", "must be greater than or equal to 0", spec["replicas"])
        )
    selector = spec.get("selector")
    tpl_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if kind != "Job" or spec.get("manualSelector"):
        if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
            causes.append(fe("spec.selector", "Required", ""))
            if kind != "Job":
                causes.append(
                    fe(
                        "spec.selector",
                        "Invalid",
                        "empty selector is invalid for deployment"
                        if kind == "Deployment"
                        else "empty selector is invalid",
                        {},
                    )
                )
        elif not from_label_selector_object(selector).matches(tpl_labels):
            causes.append(
                fe(
                    "spec.template.metadata.labels",
                    "Invalid",
                    "`selector` does not match template `labels`",
                    "map[string]string{"
                    + ", ".join(f'"{k}":"{v}"' for k, v in sorted(tpl_labels.items()))
                    + "}",
                )
            )
    # A pod template's labels are validated like an object's (ValidatePodTemplateSpec); for a
    # Job they include the generated job-name labels, so a Job named over 63 characters fails.
    causes += _labels(tpl_labels, "spec.template.labels")
    tpl_spec = (spec.get("template") or {}).get("spec") or {}
    causes += pod_spec(tpl_spec, "spec.template.spec", template=True)
    policy = tpl_spec.get("restartPolicy", "Always")
    if kind == "Job" and policy not in ("OnFailure", "Never"):
        causes.append(
            fe("spec.template.spec.restartPolicy", "Required", 'valid values: "OnFailure", "Never"')
        )
    if kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet") and policy != "Always":
        causes.append(
            fe(
                "spec.template.spec.restartPolicy",
                "NotSupported",
                'supported values: "Always"',
                policy,
            )
        )
    return causes


def validate(kind: str, obj: dict[str, Any]) -> list[dict[str, str]]:
    """All semantic errors of ``obj`` (an empty list when valid)."""
    causes = metadata(kind, obj)
    spec = obj.get("spec") or {}
    if kind == "Pod":
        causes += pod_spec(spec, "spec")
    elif kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job"):
        causes += _workload(kind, obj)
    elif kind == "CronJob":
        if not spec.get("schedule"):
            causes.append(fe("spec.schedule", "Required", ""))
        job = (spec.get("jobTemplate") or {}).get("spec") or {}
        causes += pod_spec(
            (job.get("template") or {}).get("spec") or {},
            "spec.jobTemplate.spec.template.spec",
            template=True,
        )
    elif kind == "Service":
        stype = spec.get("type", "ClusterIP")
        if stype != "ExternalName" and not spec.get("ports") and spec.get("clusterIP") != "None":
            causes.append(fe("spec.ports", "Required", ""))
        for i, port in enumerate(spec.get("ports") or []):
            p = port.get("port")
            if not isinstance(p, int) or not 0 < p < 65536:
                causes.append(
                    fe(
                        f"spec.ports[{i}].port",
                        "Invalid",
                        "must be between 1 and 65535, inclusive",
                        p,
                    )
                )
        if len(spec.get("ports") or []) > 1:
            for i, port in enumerate(spec["ports"]):
                if not port.get("name"):
                    causes.append(fe(f"spec.ports[{i}].name", "Required", ""))
    elif kind == "ConfigMap":
        for key in list(obj.get("data") or {}) + list(obj.get("binaryData") or {}):
            if not re.match(r"^[-._a-zA-Z0-9]+$", key):
                causes.append(
                    fe(
                        "data",
                        "Invalid",
                        "a valid config key must consist of alphanumeric characters, "
                        "'-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or "
                        "'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
                        key,
                    )
                )
    elif kind == "ResourceQuota":
        for name, value in (spec.get("hard") or {}).items():
            try:
                quantity.parse(value)
            except quantity.QuantityError as exc:
                causes.append(fe(f"spec.hard[{name}]", "Invalid", str(exc), value))
    return causes


# Fields that may not change once set, per kind (path, message).
IMMUTABLE: dict[str, list[tuple[tuple[str, ...], str]]] = {
    "Deployment": [(("spec", "selector"), "field is immutable")],
    "ReplicaSet": [(("spec", "selector"), "field is immutable")],
    "StatefulSet": [(("spec", "selector"), "field is immutable")],
    "DaemonSet": [(("spec", "selector"), "field is immutable")],
    "Job": [
        (("spec", "selector"), "field is immutable"),
        (("spec", "template"), "field is immutable"),
        (("spec", "completions"), "field is immutable"),
    ],
    "Service": [(("spec", "clusterIP"), "field is immutable")],
    "PersistentVolumeClaim": [(("spec", "storageClassName"), "field is immutable")],
}


def _dig(obj: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = obj
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    return node


def validate_update(kind: str, new: dict[str, Any], old: dict[str, Any]) -> list[dict[str, str]]:
    causes = validate(kind, new)
    for path, message in IMMUTABLE.get(kind, ()):
        if _dig(new, path) != _dig(old, path):
            if kind == "Job" and path[-1] == "template" and _job_template_mutable(new, old):
                continue
            causes.append(fe(".".join(path), "Invalid", message, _dig(new, path)))
    if kind == "Pod":
        causes += _pod_update(new, old)
    if kind == "ConfigMap" or kind == "Secret":
        if old.get("immutable") and (
            new.get("data") != old.get("data") or new.get("binaryData") != old.get("binaryData")
        ):
            causes.append(fe("data", "Forbidden", "field is immutable when `immutable` is set"))
    return causes


def _job_template_mutable(new: dict[str, Any], old: dict[str, Any]) -> bool:
    # Only the generated labels may differ (the API server adds them on create).
    return _dig(new, ("spec", "template", "spec")) == _dig(old, ("spec", "template", "spec"))


def _pod_update(new: dict[str, Any], old: dict[str, Any]) -> list[dict[str, str]]:
    """Pod spec is immutable except images, activeDeadlineSeconds and added tolerations."""
    a, b = dict(new.get("spec") or {}), dict(old.get("spec") or {})
    for spec in (a, b):
        spec.pop("activeDeadlineSeconds", None)
        spec.pop("tolerations", None)
        spec["containers"] = [
            {k: v for k, v in c.items() if k != "image"} for c in spec.get("containers") or []
        ]
        spec["initContainers"] = [
            {k: v for k, v in c.items() if k != "image"} for c in spec.get("initContainers") or []
        ]
        if spec.get("nodeName") is None:
            spec.pop("nodeName", None)
    if old.get("spec", {}).get("nodeName") is None:
        a.pop("nodeName", None)
    if a != b:
        return [
            fe(
                "spec",
                "Forbidden",
                "pod updates may not change fields other than `spec.containers[*].image`,"
                "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
                "`spec.tolerations` (only additions to existing tolerations),"
                "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
                "previously negative)",
            )
        ]
    return []
