"""Server-side printing (``Accept: application/json;as=Table;g=meta.k8s.io;v=v1``).

``kubectl get`` asks the server for a ``meta.k8s.io/v1 Table``; the columns here follow the API
server's printers (``pkg/printers/internalversion``) for the kinds the portal shows, CRDs use
their ``additionalPrinterColumns``, and anything else gets Name + Created At.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .selectors import selector_to_string


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def human_duration(seconds: float) -> str:
    """apimachinery's ``duration.HumanDuration`` (``5m``, ``3h20m``, ``2d``…)."""
    if seconds < -1:
        return "<invalid>"
    s = int(max(seconds, 0))
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = m // 60
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    if h < 24 * 8:
        return f"{h // 24}d{h % 24}h" if h % 24 else f"{h // 24}d"
    if h < 24 * 365 * 2:
        return f"{h // 24}d"
    if h < 24 * 365 * 8:
        return f"{h // 24 // 365}y{(h // 24) % 365}d"
    return f"{h // 24 // 365}y"


def age(ts: str | None, now: datetime | None = None) -> str:
    when = parse_time(ts)
    if when is None:
        return "<unknown>"
    return human_duration(((now or datetime.now(UTC)) - when).total_seconds())


def _col(
    name: str, ctype: str = "string", priority: int = 0, fmt: str = "", desc: str = ""
) -> dict[str, Any]:
    return {
        "name": name,
        "type": ctype,
        "format": fmt,
        "description": desc or name,
        "priority": priority,
    }


NAME = _col("Name", fmt="name", desc="Name must be unique within a namespace.")
AGE = _col(
    "Age",
    desc="CreationTimestamp is a timestamp representing the server time when "
    "this object was created.",
)


def _images(spec: dict[str, Any]) -> tuple[str, str]:
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    return (
        ",".join(c.get("name", "") for c in containers),
        ",".join(c.get("image", "") for c in containers),
    )


def pod_status_reason(pod: dict[str, Any]) -> str:
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for cs in status.get("initContainerStatuses") or []:
        state = cs.get("state") or {}
        if "terminated" in state and state["terminated"].get("exitCode", 0) == 0:
            continue
        if "waiting" in state and state["waiting"].get("reason") not in (None, "PodInitializing"):
            return "Init:" + state["waiting"]["reason"]
    running = False
    for cs in reversed(status.get("containerStatuses") or []):
        state = cs.get("state") or {}
        if state.get("waiting", {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state:
            term = state["terminated"]
            reason = term.get("reason") or (
                f"Signal:{term['signal']}"
                if term.get("signal")
                else f"ExitCode:{term.get('exitCode', 0)}"
            )
        elif "running" in state and cs.get("ready"):
            running = True
    if running and reason == "Completed":
        reason = "Running"
    if pod["metadata"].get("deletionTimestamp") and status.get("phase") not in (
        "Succeeded",
        "Failed",
    ):
        reason = "Terminating"
    return reason


def _pod(obj: dict[str, Any]) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for cs in statuses if cs.get("ready"))
    restarts = sum(cs.get("restartCount", 0) for cs in statuses)
    last_restart = max(
        (
            ((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt") or ""
            for cs in statuses
        ),
        default="",
    )
    gates = spec.get("readinessGates") or []
    return [
        f"{ready}/{len(spec.get('containers') or [])}",
        pod_status_reason(obj),
        f"{restarts} ({age(last_restart)} ago)" if restarts and last_restart else str(restarts),
        age(obj["metadata"].get("creationTimestamp")),
        status.get("podIP") or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        f"{len(gates)}" if gates else "<none>",
    ]


def _deploy(obj: dict[str, Any]) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    names, images = _images(spec)
    return [
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        age(obj["metadata"].get("creationTimestamp")),
        names,
        images,
        selector_to_string(spec.get("selector")),
    ]


def _rs(obj: dict[str, Any]) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    names, images = _images(spec)
    return [
        spec.get("replicas", 0),
        status.get("replicas", 0),
        status.get("readyReplicas", 0),
        age(obj["metadata"].get("creationTimestamp")),
        names,
        images,
        selector_to_string(spec.get("selector")),
    ]


def _sts(obj: dict[str, Any]) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    names, images = _images(spec)
    return [
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
        age(obj["metadata"].get("creationTimestamp")),
        names,
        images,
    ]


def _ds(obj: dict[str, Any]) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    names, images = _images(spec)
    node_sel = ((spec.get("template") or {}).get("spec") or {}).get("nodeSelector") or {}
    return [
        status.get("desiredNumberScheduled", 0),
        status.get("currentNumberScheduled", 0),
        status.get("numberReady", 0),
        status.get("updatedNumberScheduled", 0),
        status.get("numberAvailable", 0),
        ",".join(f"{k}={v}" for k, v in sorted(node_sel.items())) or "<none>",
        age(obj["metadata"].get("creationTimestamp")),
        names,
        images,
        selector_to_string(spec.get("selector")),
    ]


def _svc(obj: dict[str, Any]) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    ports = []
    for p in spec.get("ports") or []:
        text = f"{p.get('port')}"
        if p.get("nodePort"):
            text += f":{p['nodePort']}"
        ports.append(f"{text}/{p.get('protocol', 'TCP')}")
    ingress = (status.get("loadBalancer") or {}).get("ingress") or []
    external = ",".join(i.get("ip") or i.get("hostname", "") for i in ingress) or (
        ",".join(spec.get("externalIPs") or [])
        or ("<pending>" if spec.get("type") == "LoadBalancer" else "<none>")
    )
    if spec.get("type") == "ExternalName":
        external = spec.get("externalName", "")
    sel = spec.get("selector") or {}
    return [
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP") or "<none>",
        external,
        ",".join(ports) or "<none>",
        age(obj["metadata"].get("creationTimestamp")),
        ",".join(f"{k}={v}" for k, v in sorted(sel.items())) or "<none>",
    ]


def _node(obj: dict[str, Any]) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    conds = {c["type"]: c["status"] for c in status.get("conditions") or []}
    state = "Ready" if conds.get("Ready") == "True" else "NotReady"
    if spec.get("unschedulable"):
        state += ",SchedulingDisabled"
    labels = obj["metadata"].get("labels") or {}
    roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/"))
    addrs = {a["type"]: a["address"] for a in status.get("addresses") or []}
    info = status.get("nodeInfo") or {}
    return [
        state,
        ",".join(roles) or "<none>",
        age(obj["metadata"].get("creationTimestamp")),
        info.get("kubeletVersion", ""),
        addrs.get("InternalIP", "<none>"),
        addrs.get("ExternalIP", "<none>"),
        info.get("osImage", ""),
        info.get("kernelVersion", ""),
        info.get("containerRuntimeVersion", ""),
    ]


def _event(obj: dict[str, Any]) -> list[Any]:
    inv = obj.get("involvedObject") or {}
    last = (
        obj.get("lastTimestamp") or obj.get("eventTime") or obj["metadata"].get("creationTimestamp")
    )
    first = obj.get("firstTimestamp") or obj.get("eventTime")
    source = (obj.get("source") or {}).get("component") or obj.get("reportingComponent", "")
    return [
        age(last),
        obj.get("type", ""),
        obj.get("reason", ""),
        f"{inv.get('kind', '').lower()}/{inv.get('name', '')}",
        inv.get("fieldPath", ""),
        source,
        (obj.get("message") or "").strip(),
        age(first),
        obj.get("count", 1),
        obj["metadata"]["name"],
    ]


def _job(obj: dict[str, Any]) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    conds = {c["type"] for c in status.get("conditions") or [] if c.get("status") == "True"}
    state = (
        "Complete"
        if "Complete" in conds
        else "Failed"
        if "Failed" in conds
        else "Suspended"
        if spec.get("suspend")
        else "Running"
    )
    start, end = parse_time(status.get("startTime")), parse_time(status.get("completionTime"))
    duration = human_duration(((end or datetime.now(UTC)) - start).total_seconds()) if start else ""
    names, images = _images(spec)
    return [
        state,
        f"{status.get('succeeded', 0)}/{spec.get('completions', 1)}",
        duration,
        age(obj["metadata"].get("creationTimestamp")),
        names,
        images,
        selector_to_string(spec.get("selector")),
    ]


def _cronjob(obj: dict[str, Any]) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    last = status.get("lastScheduleTime")
    return [
        spec.get("schedule", ""),
        spec.get("timeZone") or "<none>",
        str(bool(spec.get("suspend"))),
        len(status.get("active") or []),
        age(last) if last else "<none>",
        age(obj["metadata"].get("creationTimestamp")),
    ]


def _quota(obj: dict[str, Any]) -> list[Any]:
    status = obj.get("status") or {}
    hard, used = status.get("hard") or {}, status.get("used") or {}
    req = [
        f"{k}: {used.get(k, '0')}/{v}"
        for k, v in sorted(hard.items())
        if not k.startswith("limits.")
    ]
    lim = [
        f"{k}: {used.get(k, '0')}/{v}" for k, v in sorted(hard.items()) if k.startswith("limits.")
    ]
    return [age(obj["metadata"].get("creationTimestamp")), ", ".join(req), ", ".join(lim)]


def _data(obj: dict[str, Any]) -> list[Any]:
    return [
        len(obj.get("data") or {}) + len(obj.get("binaryData") or {}),
        age(obj["metadata"].get("creationTimestamp")),
    ]


def _secret(obj: dict[str, Any]) -> list[Any]:
    return [
        obj.get("type", "Opaque"),
        len(obj.get("data") or {}),
        age(obj["metadata"].get("creationTimestamp")),
    ]


def _ns(obj: dict[str, Any]) -> list[Any]:
    return [
        (obj.get("status") or {}).get("phase", "Active"),
        age(obj["metadata"].get("creationTimestamp")),
    ]


def _ingress(obj: dict[str, Any]) -> list[Any]:
    spec = obj.get("spec") or {}
    hosts = [r.get("host", "*") for r in spec.get("rules") or []]
    lb = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return [
        spec.get("ingressClassName") or "<none>",
        ",".join(hosts) or "*",
        ",".join(i.get("ip") or i.get("hostname", "") for i in lb),
        "80, 443" if spec.get("tls") else "80",
        age(obj["metadata"].get("creationTimestamp")),
    ]


def _age_only(obj: dict[str, Any]) -> list[Any]:
    return [age(obj["metadata"].get("creationTimestamp"))]


def _created(obj: dict[str, Any]) -> list[Any]:
    return [obj["metadata"].get("creationTimestamp", "")]


S = "string"
PRINTERS: dict[tuple[str, str], tuple[list[dict[str, Any]], Callable[[dict], list[Any]]]] = {
    ("", "Pod"): (
        [
            _col("Ready"),
            _col("Status"),
            _col("Restarts"),
            AGE,
            _col("IP", priority=1),
            _col("Node", priority=1),
            _col("Nominated Node", priority=1),
            _col("Readiness Gates", priority=1),
        ],
        _pod,
    ),
    ("apps", "Deployment"): (
        [
            _col("Ready"),
            _col("Up-to-date", "integer"),
            _col("Available", "integer"),
            AGE,
            _col("Containers", priority=1),
            _col("Images", priority=1),
            _col("Selector", priority=1),
        ],
        _deploy,
    ),
    ("apps", "ReplicaSet"): (
        [
            _col("Desired", "integer"),
            _col("Current", "integer"),
            _col("Ready", "integer"),
            AGE,
            _col("Containers", priority=1),
            _col("Images", priority=1),
            _col("Selector", priority=1),
        ],
        _rs,
    ),
    ("apps", "StatefulSet"): (
        [_col("Ready"), AGE, _col("Containers", priority=1), _col("Images", priority=1)],
        _sts,
    ),
    ("apps", "DaemonSet"): (
        [
            _col("Desired", "integer"),
            _col("Current", "integer"),
            _col("Ready", "integer"),
            _col("Up-to-date", "integer"),
            _col("Available", "integer"),
            _col("Node Selector"),
            AGE,
            _col("Containers", priority=1),
            _col("Images", priority=1),
            _col("Selector", priority=1),
        ],
        _ds,
    ),
    ("", "Service"): (
        [
            _col("Type"),
            _col("Cluster-IP"),
            _col("External-IP"),
            _col("Port(s)"),
            AGE,
            _col("Selector", priority=1),
        ],
        _svc,
    ),
    ("", "Node"): (
        [
            _col("Status"),
            _col("Roles"),
            AGE,
            _col("Version"),
            _col("Internal-IP", priority=1),
            _col("External-IP", priority=1),
            _col("OS-Image", priority=1),
            _col("Kernel-Version", priority=1),
            _col("Container-Runtime", priority=1),
        ],
        _node,
    ),
    ("", "Namespace"): ([_col("Status"), AGE], _ns),
    ("", "ConfigMap"): ([_col("Data", "integer"), AGE], _data),
    ("", "Secret"): ([_col("Type"), _col("Data", "integer"), AGE], _secret),
    ("", "Event"): (
        [
            _col("Last Seen"),
            _col("Type"),
            _col("Reason"),
            _col("Object"),
            _col("Subobject", priority=1),
            _col("Source", priority=1),
            _col("Message"),
            _col("First Seen", priority=1),
            _col("Count", "integer", priority=1),
            _col("Name", priority=1),
        ],
        _event,
    ),
    ("batch", "Job"): (
        [
            _col("Status"),
            _col("Completions"),
            _col("Duration"),
            AGE,
            _col("Containers", priority=1),
            _col("Images", priority=1),
            _col("Selector", priority=1),
        ],
        _job,
    ),
    ("batch", "CronJob"): (
        [
            _col("Schedule"),
            _col("Timezone"),
            _col("Suspend", "boolean"),
            _col("Active", "integer"),
            _col("Last Schedule"),
            AGE,
        ],
        _cronjob,
    ),
    ("", "ResourceQuota"): ([AGE, _col("Request"), _col("Limit")], _quota),
    ("networking.k8s.io", "Ingress"): (
        [_col("Class"), _col("Hosts"), _col("Address"), _col("Ports"), AGE],
        _ingress,
    ),
    ("apiextensions.k8s.io", "CustomResourceDefinition"): ([_col("Created At", "date")], _created),
}


def _jsonpath(obj: dict[str, Any], path: str) -> Any:
    node: Any = obj
    for part in path.strip().lstrip(".").split("."):
        if not part:
            continue
        if "[" in part and part.endswith("]"):
            name, index = part[:-1].split("[", 1)
            node = node.get(name) if isinstance(node, dict) else None
            try:
                node = node[int(index)] if isinstance(node, list) else None
            except (ValueError, IndexError):
                node = None
        else:
            node = node.get(part) if isinstance(node, dict) else None
    return node


def columns_and_cells(rt: Any) -> tuple[list[dict[str, Any]], Callable[[dict], list[Any]]]:
    """Column definitions and a row function for the resource type ``rt``."""
    if rt.custom:
        cols = list(rt.printer_columns) or [
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
        ]
        defs = [NAME] + [
            _col(
                c["name"],
                c.get("type", S),
                c.get("priority", 0),
                c.get("format", ""),
                c.get("description", ""),
            )
            for c in cols
        ]

        def custom_row(obj: dict[str, Any]) -> list[Any]:
            cells: list[Any] = [obj["metadata"]["name"]]
            for c in cols:
                value = _jsonpath(obj, c["jsonPath"])
                if c.get("type") == "date":
                    value = age(value) if value else "<unknown>"
                cells.append(value)
            return cells

        return defs, custom_row
    cols, func = PRINTERS.get((rt.group, rt.kind), ([_col("Created At", "date")], _created))

    def row(obj: dict[str, Any]) -> list[Any]:
        return [obj["metadata"]["name"], *func(obj)]

    return [NAME, *cols], row


def partial_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }


def to_table(
    rt: Any,
    objects: list[dict[str, Any]],
    include: str,
    list_meta: dict[str, Any],
    with_columns: bool = True,
) -> dict[str, Any]:
    defs, row = columns_and_cells(rt)
    rows = []
    for obj in objects:
        entry: dict[str, Any] = {"cells": row(obj)}
        if include == "Object":
            entry["object"] = obj
        elif include != "None":
            entry["object"] = partial_metadata(obj)
        rows.append(entry)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": defs if with_columns else [],
        "rows": rows,
    }
