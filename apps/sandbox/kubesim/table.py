"""Server-side printing (``Accept: application/json;as=Table;g=meta.k8s.io;v=v1``).

``kubectl get`` asks the server for a ``meta.k8s.io/v1 Table``; the columns here follow the API
server's printers (``pkg/printers/internalversion``) for the kinds the portal shows, CRDs use
their ``additionalPrinterColumns``, and anything else gets Name + Created At.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from . import convert
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
    finished = [
        f
        for cs in statuses
        if (f := ((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt"))
    ]
    restarts_text = str(restarts)
    if restarts and finished:
        restarts_text = f"{restarts} ({age(max(finished))} ago)"
    gates = spec.get("readinessGates") or []
    conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    gates_text = (
        f"{sum(1 for g in gates if conds.get(g.get('conditionType')) == 'True')}/{len(gates)}"
        if gates
        else "<none>"
    )
    return [
        f"{ready}/{len(spec.get('containers') or [])}",
        pod_status_reason(obj),
        restarts_text,
        age(obj["metadata"].get("creationTimestamp")),
        status.get("podIP") or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        gates_text,
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


def _lb_addresses(status: dict[str, Any], wide: bool = True) -> str:
    """``loadBalancerStatusStringer``: sorted unique IPs/hostnames, clipped to 16 when not
    wide (the server prints wide: kubectl shows what it gets)."""
    ingress = (status.get("loadBalancer") or {}).get("ingress") or []
    text = ",".join(sorted({i.get("ip") or i.get("hostname") for i in ingress} - {None, ""}))
    return text if wide or len(text) <= 16 else text[:13] + "..."


def _svc(obj: dict[str, Any]) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    stype = spec.get("type", "ClusterIP")
    ports = []
    for p in spec.get("ports") or []:
        text = f"{p.get('port')}"
        if p.get("nodePort"):
            text += f":{p['nodePort']}"
        ports.append(f"{text}/{p.get('protocol', 'TCP')}")
    external_ips = spec.get("externalIPs") or []
    if stype in ("ClusterIP", "NodePort"):
        external = ",".join(external_ips) or "<none>"
    elif stype == "LoadBalancer":
        lb = _lb_addresses(status)
        external = ",".join([*(lb.split(",") if lb else []), *external_ips]) or "<pending>"
    elif stype == "ExternalName":
        external = spec.get("externalName", "")
    else:
        external = "<unknown>"
    cluster_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    sel = spec.get("selector") or {}
    return [
        stype,
        cluster_ips[0] if cluster_ips else "<none>",
        external,
        ",".join(ports) or "<none>",
        age(obj["metadata"].get("creationTimestamp")),
        ",".join(f"{k}={v}" for k, v in sorted(sel.items())) or "<none>",
    ]


def _node(obj: dict[str, Any]) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    conds = {c["type"]: c["status"] for c in status.get("conditions") or []}
    state = (
        "Unknown" if "Ready" not in conds else "Ready" if conds["Ready"] == "True" else "NotReady"
    )
    if spec.get("unschedulable"):
        state += ",SchedulingDisabled"
    labels = obj["metadata"].get("labels") or {}
    roles = sorted(
        {k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/")}
        | ({labels["kubernetes.io/role"]} if labels.get("kubernetes.io/role") else set()) - {""}
    )
    addrs = {a["type"]: a["address"] for a in status.get("addresses") or []}
    info = status.get("nodeInfo") or {}
    return [
        state,
        ",".join(roles) or "<none>",
        age(obj["metadata"].get("creationTimestamp")),
        info.get("kubeletVersion", ""),
        addrs.get("InternalIP", "<none>"),
        addrs.get("ExternalIP", "<none>"),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


def _event(obj: dict[str, Any]) -> list[Any]:
    """``printEvent`` (wide form, as the server always prints)."""
    inv = obj.get("involvedObject") or {}
    first = age(obj["firstTimestamp"] if obj.get("firstTimestamp") else obj.get("eventTime"))
    last = age(obj["lastTimestamp"]) if obj.get("lastTimestamp") else first
    count = obj.get("count") or 1
    series = obj.get("series")
    if series:
        last, count = age(series.get("lastObservedTime")), series.get("count", count)
    kind = (inv.get("kind") or "").lower()
    target = f"{kind}/{inv['name']}" if inv.get("name") else kind
    source = obj.get("source") or {}
    component = source.get("component") or obj.get("reportingComponent") or ""
    instance = source.get("host") or obj.get("reportingInstance") or ""
    return [
        last,
        obj.get("type", ""),
        obj.get("reason", ""),
        target,
        inv.get("fieldPath", ""),
        f"{component}, {instance}" if instance else component,
        (obj.get("message") or "").strip(),
        first,
        count,
        obj["metadata"]["name"],
    ]


def _condition_true(obj: dict[str, Any], ctype: str) -> bool:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c.get("status") == "True"
    return False


def _job(obj: dict[str, Any]) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    succeeded = status.get("succeeded", 0)
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{spec['completions']}"
    elif (spec.get("parallelism") or 0) > 1:
        completions = f"{succeeded}/1 of {spec['parallelism']}"
    else:
        completions = f"{succeeded}/1"
    if _condition_true(obj, "Complete"):
        state = "Complete"
    elif _condition_true(obj, "Failed"):
        state = "Failed"
    elif obj["metadata"].get("deletionTimestamp"):
        state = "Terminating"
    elif _condition_true(obj, "Suspended"):
        state = "Suspended"
    elif _condition_true(obj, "FailureTarget"):
        state = "FailureTarget"
    else:
        state = "Running"
    start, end = parse_time(status.get("startTime")), parse_time(status.get("completionTime"))
    duration = human_duration(((end or datetime.now(UTC)) - start).total_seconds()) if start else ""
    names, images = _images(spec)
    return [
        state,
        completions,
        duration,
        age(obj["metadata"].get("creationTimestamp")),
        names,
        images,
        _label_selector(spec.get("selector")),
    ]


def _bool_ptr(value: Any) -> str:
    return "<unset>" if value is None else "True" if value else "False"


def _cronjob(obj: dict[str, Any]) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    last = status.get("lastScheduleTime")
    job = (spec.get("jobTemplate") or {}).get("spec") or {}
    names, images = _images(job)
    return [
        spec.get("schedule", ""),
        spec.get("timeZone") or "<none>",
        _bool_ptr(spec.get("suspend")),
        len(status.get("active") or []),
        age(last) if last else "<none>",
        age(obj["metadata"].get("creationTimestamp")),
        names,
        images,
        _label_selector(job.get("selector")),
    ]


def _quota(obj: dict[str, Any]) -> list[Any]:
    status = obj.get("status") or {}
    hard, used = status.get("hard") or {}, status.get("used") or {}
    requests, limits = [], []
    for name in sorted(hard):
        text = f"{name}: {used.get(name, '0')}/{hard[name]}"
        (limits if name.split(".")[0] == "limits" and "." in name else requests).append(text)
    return [", ".join(requests), ", ".join(limits), age(obj["metadata"].get("creationTimestamp"))]


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
    rules = spec.get("rules") or []
    hosts = [r["host"] for r in rules if r.get("host")][:3]
    host_text = ",".join(hosts) or "*"
    if len(rules) > 3 and hosts:
        host_text += f" + {len(rules) - 3} more..."
    return [
        spec.get("ingressClassName") or "<none>",
        host_text,
        _lb_addresses(obj.get("status") or {}),
        "80, 443" if spec.get("tls") else "80",
        age(obj["metadata"].get("creationTimestamp")),
    ]


def _label_selector(sel: dict[str, Any] | None) -> str:
    """``metav1.FormatLabelSelector``: ``<none>`` for an empty selector."""
    return selector_to_string(sel) or "<none>"


def _more(items: list[str], limit: int = 3) -> str:
    """``listWithMoreString``: the first three, ``+ N more...``, or ``<unset>``."""
    text = ",".join(items[:limit])
    if len(items) > limit:
        return f"{text} + {len(items) - limit} more..."
    return text or "<unset>"


def _hpa_metrics(spec: dict[str, Any], status: dict[str, Any]) -> str:
    """``formatHPAMetrics``: ``cpu: 40%/80%`` per metric (current from the status entry at
    the same position), at most two then ``+ N more...``."""
    specs = spec.get("metrics") or []
    if not specs:
        return "<none>"
    current_all = status.get("currentMetrics") or []
    out = []
    for i, metric in enumerate(specs):
        mtype = metric.get("type")
        key = {
            "Resource": "resource",
            "ContainerResource": "containerResource",
            "Pods": "pods",
            "Object": "object",
            "External": "external",
        }.get(mtype or "")
        if key is None:
            out.append("<unknown type>")
            continue
        source = metric.get(key) or {}
        target = source.get("target") or {}
        cur = ((current_all[i] if i < len(current_all) else {}).get(key) or {}).get("current")
        cur = cur or {}
        if key in ("resource", "containerResource"):
            name = source.get("name", "")
            if target.get("averageValue") is not None:
                out.append(
                    f"{name}: {cur.get('averageValue', '<unknown>')}/{target['averageValue']}"
                )
            else:
                now = cur.get("averageUtilization")
                want = target.get("averageUtilization")
                out.append(
                    f"{name}: {'<unknown>' if now is None else f'{now}%'}/"
                    f"{'<auto>' if want is None else f'{want}%'}"
                )
        elif key == "pods":
            out.append(f"{cur.get('averageValue', '<unknown>')}/{target.get('averageValue')}")
        elif target.get("averageValue") is not None:
            out.append(f"{cur.get('averageValue', '<unknown>')}/{target['averageValue']} (avg)")
        else:
            out.append(f"{cur.get('value', '<unknown>')}/{target.get('value')}")
    text = ", ".join(out[:2])
    return f"{text} + {len(out) - 2} more..." if len(out) > 2 else text


def _hpa(obj: dict[str, Any]) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    ref = spec.get("scaleTargetRef") or {}
    return [
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        _hpa_metrics(spec, status),
        "<unset>" if spec.get("minReplicas") is None else str(spec["minReplicas"]),
        spec.get("maxReplicas", 0),
        status.get("currentReplicas", 0),
        age(obj["metadata"].get("creationTimestamp")),
    ]


def _service_account(obj: dict[str, Any]) -> list[Any]:
    return [len(obj.get("secrets") or []), age(obj["metadata"].get("creationTimestamp"))]


def _endpoints(obj: dict[str, Any]) -> list[Any]:
    """``formatEndpoints``: ``ip:port`` per address and port, three then ``+ N more...``."""
    subsets = obj.get("subsets") or []
    listed: list[str] = []
    count = 0
    for ss in subsets:
        addresses = [a.get("ip", "") for a in ss.get("addresses") or []]
        ports = ss.get("ports") or [None]
        for port in ports:
            count += len(addresses)
            for ip in addresses:
                if len(listed) < 3:
                    host = f"[{ip}]" if ":" in ip else ip
                    listed.append(ip if port is None else f"{host}:{port.get('port')}")
    text = ",".join(listed)
    if not subsets:
        text = "<none>"
    elif count > 3:
        text = f"{text} + {count - 3} more..."
    return [text, age(obj["metadata"].get("creationTimestamp"))]


def _endpoint_slice(obj: dict[str, Any]) -> list[Any]:
    ports = [
        str(p["port"]) if p.get("port") is not None else p.get("name") or "*"
        for p in obj.get("ports") or []
    ]
    addresses = [a for e in obj.get("endpoints") or [] for a in e.get("addresses") or []]
    return [
        obj.get("addressType", ""),
        _more(ports),
        _more(addresses),
        age(obj["metadata"].get("creationTimestamp")),
    ]


def _priority_class(obj: dict[str, Any]) -> list[Any]:
    return [
        obj.get("value", 0),
        bool(obj.get("globalDefault")),
        age(obj["metadata"].get("creationTimestamp")),
        obj.get("preemptionPolicy") or "",
    ]


def _lease(obj: dict[str, Any]) -> list[Any]:
    return [
        (obj.get("spec") or {}).get("holderIdentity") or "",
        age(obj["metadata"].get("creationTimestamp")),
    ]


def _pdb(obj: dict[str, Any]) -> list[Any]:
    spec = obj.get("spec") or {}
    return [
        str(spec["minAvailable"]) if spec.get("minAvailable") is not None else "N/A",
        str(spec["maxUnavailable"]) if spec.get("maxUnavailable") is not None else "N/A",
        (obj.get("status") or {}).get("disruptionsAllowed", 0),
        age(obj["metadata"].get("creationTimestamp")),
    ]


def _binding(obj: dict[str, Any]) -> list[Any]:
    ref = obj.get("roleRef") or {}
    users, groups, sas = [], [], []
    for subject in obj.get("subjects") or []:
        kind = subject.get("kind")
        if kind == "User":
            users.append(subject.get("name", ""))
        elif kind == "Group":
            groups.append(subject.get("name", ""))
        elif kind == "ServiceAccount":
            sas.append(f"{subject.get('namespace', '')}/{subject.get('name', '')}")
    return [
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        age(obj["metadata"].get("creationTimestamp")),
        ", ".join(users),
        ", ".join(groups),
        ", ".join(sas),
    ]


_DEFAULT_CLASS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)


def _storage_class_name(obj: dict[str, Any]) -> str:
    annotations = obj["metadata"].get("annotations") or {}
    default = any(annotations.get(k) == "true" for k in _DEFAULT_CLASS)
    return obj["metadata"]["name"] + (" (default)" if default else "")


def _storage_class(obj: dict[str, Any]) -> list[Any]:
    return [
        obj.get("provisioner", ""),
        obj.get("reclaimPolicy") or "Delete",
        obj.get("volumeBindingMode") or "Immediate",
        bool(obj.get("allowVolumeExpansion")),
        age(obj["metadata"].get("creationTimestamp")),
    ]


_ACCESS_MODES = {
    "ReadWriteOnce": "RWO",
    "ReadOnlyMany": "ROX",
    "ReadWriteMany": "RWX",
    "ReadWriteOncePod": "RWOP",
}


def _access_modes(modes: list[str] | None) -> str:
    """``GetAccessModesAsString``: the short forms in RWO, ROX, RWX, RWOP order."""
    have = set(modes or [])
    return ",".join(short for mode, short in _ACCESS_MODES.items() if mode in have)


def _pv(obj: dict[str, Any]) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    claim = spec.get("claimRef")
    phase = "Terminating" if obj["metadata"].get("deletionTimestamp") else status.get("phase", "")
    annotations = obj["metadata"].get("annotations") or {}
    return [
        (spec.get("capacity") or {}).get("storage", "0"),
        _access_modes(spec.get("accessModes")),
        spec.get("persistentVolumeReclaimPolicy", ""),
        phase,
        f"{claim.get('namespace', '')}/{claim.get('name', '')}" if claim else "",
        annotations.get("volume.beta.kubernetes.io/storage-class")
        or spec.get("storageClassName", ""),
        spec.get("volumeAttributesClassName") or "<unset>",
        status.get("reason", ""),
        age(obj["metadata"].get("creationTimestamp")),
        spec.get("volumeMode") or "<unset>",
    ]


def _pvc(obj: dict[str, Any]) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    phase = "Terminating" if obj["metadata"].get("deletionTimestamp") else status.get("phase", "")
    bound = bool(spec.get("volumeName"))
    annotations = obj["metadata"].get("annotations") or {}
    return [
        phase,
        spec.get("volumeName", ""),
        (status.get("capacity") or {}).get("storage", "0") if bound else "",
        _access_modes(status.get("accessModes")) if bound else "",
        annotations.get("volume.beta.kubernetes.io/storage-class")
        or spec.get("storageClassName")
        or "",
        spec.get("volumeAttributesClassName") or "<unset>",
        age(obj["metadata"].get("creationTimestamp")),
        spec.get("volumeMode") or "<unset>",
    ]


def _network_policy(obj: dict[str, Any]) -> list[Any]:
    return [
        _label_selector((obj.get("spec") or {}).get("podSelector")),
        age(obj["metadata"].get("creationTimestamp")),
    ]


def _ingress_class(obj: dict[str, Any]) -> list[Any]:
    spec = obj.get("spec") or {}
    params = spec.get("parameters")
    text = "<none>"
    if params:
        text = params.get("kind", "")
        if params.get("apiGroup"):
            text += "." + params["apiGroup"]
        text += "/" + params.get("name", "")
    return [spec.get("controller", ""), text, age(obj["metadata"].get("creationTimestamp"))]


def _controller_revision(obj: dict[str, Any]) -> list[Any]:
    owner = next(
        (r for r in obj["metadata"].get("ownerReferences") or [] if r.get("controller")), None
    )
    name = "<none>"
    if owner is not None:
        group = (owner.get("apiVersion") or "").rpartition("/")[0]
        kind = owner.get("kind", "")
        name = f"{kind}.{group}".lower() if group else kind.lower()
        name = f"{name}/{owner.get('name', '')}"
    return [name, obj.get("revision", 0), age(obj["metadata"].get("creationTimestamp"))]


def _rc(obj: dict[str, Any]) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    names, images = _images(spec)
    sel = spec.get("selector") or {}
    return [
        spec.get("replicas", 0),
        status.get("replicas", 0),
        status.get("readyReplicas", 0),
        age(obj["metadata"].get("creationTimestamp")),
        names,
        images,
        ",".join(f"{k}={v}" for k, v in sorted(sel.items())) or "<none>",
    ]


def _created(obj: dict[str, Any]) -> list[Any]:
    return [obj["metadata"].get("creationTimestamp", "")]


S = "string"
_WIDE = [_col("Containers", priority=1), _col("Images", priority=1), _col("Selector", priority=1)]
_BINDING = [
    _col("Role"),
    AGE,
    _col("Users", priority=1),
    _col("Groups", priority=1),
    _col("ServiceAccounts", priority=1),
]
# Column definitions as ``pkg/printers/internalversion`` declares them (names, types,
# priorities); the leading Name column is added by :func:`columns_and_cells`.
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
        [_col("Ready"), _col("Up-to-date"), _col("Available"), AGE, *_WIDE],
        _deploy,
    ),
    ("apps", "ReplicaSet"): (
        [
            _col("Desired", "integer"),
            _col("Current", "integer"),
            _col("Ready", "integer"),
            AGE,
            *_WIDE,
        ],
        _rs,
    ),
    ("", "ReplicationController"): (
        [
            _col("Desired", "integer"),
            _col("Current", "integer"),
            _col("Ready", "integer"),
            AGE,
            *_WIDE,
        ],
        _rc,
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
            *_WIDE,
        ],
        _ds,
    ),
    ("apps", "ControllerRevision"): (
        [_col("Controller"), _col("Revision"), AGE],
        _controller_revision,
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
    ("", "Endpoints"): ([_col("Endpoints"), AGE], _endpoints),
    ("discovery.k8s.io", "EndpointSlice"): (
        [_col("AddressType"), _col("Ports"), _col("Endpoints"), AGE],
        _endpoint_slice,
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
    ("", "ConfigMap"): ([_col("Data"), AGE], _data),
    ("", "Secret"): ([_col("Type"), _col("Data"), AGE], _secret),
    ("", "ServiceAccount"): ([_col("Secrets"), AGE], _service_account),
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
            _col("Count", priority=1),
            _col("Name", priority=1, fmt="name"),
        ],
        _event,
    ),
    ("batch", "Job"): (
        [_col("Status"), _col("Completions"), _col("Duration"), AGE, *_WIDE],
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
            *_WIDE,
        ],
        _cronjob,
    ),
    ("", "ResourceQuota"): ([_col("Request"), _col("Limit"), AGE], _quota),
    ("", "PersistentVolume"): (
        [
            _col("Capacity"),
            _col("Access Modes"),
            _col("Reclaim Policy"),
            _col("Status"),
            _col("Claim"),
            _col("StorageClass"),
            _col("VolumeAttributesClass"),
            _col("Reason"),
            AGE,
            _col("VolumeMode", priority=1),
        ],
        _pv,
    ),
    ("", "PersistentVolumeClaim"): (
        [
            _col("Status"),
            _col("Volume"),
            _col("Capacity"),
            _col("Access Modes"),
            _col("StorageClass"),
            _col("VolumeAttributesClass"),
            AGE,
            _col("VolumeMode", priority=1),
        ],
        _pvc,
    ),
    ("networking.k8s.io", "Ingress"): (
        [_col("Class"), _col("Hosts"), _col("Address"), _col("Ports"), AGE],
        _ingress,
    ),
    ("networking.k8s.io", "IngressClass"): (
        [_col("Controller"), _col("Parameters"), AGE],
        _ingress_class,
    ),
    ("networking.k8s.io", "NetworkPolicy"): ([_col("Pod-Selector"), AGE], _network_policy),
    ("autoscaling", "HorizontalPodAutoscaler"): (
        [
            _col("Reference"),
            _col("Targets"),
            _col("MinPods"),
            _col("MaxPods"),
            _col("Replicas"),
            AGE,
        ],
        _hpa,
    ),
    ("policy", "PodDisruptionBudget"): (
        [
            _col("Min Available"),
            _col("Max Unavailable"),
            _col("Allowed Disruptions", "integer"),
            AGE,
        ],
        _pdb,
    ),
    ("rbac.authorization.k8s.io", "RoleBinding"): (_BINDING, _binding),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): (_BINDING, _binding),
    ("storage.k8s.io", "StorageClass"): (
        [
            _col("Provisioner"),
            _col("ReclaimPolicy"),
            _col("VolumeBindingMode"),
            _col("AllowVolumeExpansion"),
            AGE,
        ],
        _storage_class,
    ),
    ("scheduling.k8s.io", "PriorityClass"): (
        [
            _col("Value", "integer"),
            _col("Global-Default", "boolean"),
            AGE,
            _col("PreemptionPolicy", priority=1),
        ],
        _priority_class,
    ),
    ("coordination.k8s.io", "Lease"): ([_col("Holder"), AGE], _lease),
}
# Kinds whose table has no leading Name column (events print Name last, wide only).
_NO_NAME_COLUMN = {("", "Event")}
_NAME_CELL: dict[tuple[str, str], Callable[[dict], str]] = {
    ("storage.k8s.io", "StorageClass"): _storage_class_name,
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
    key = (rt.group, rt.kind)
    cols, func = PRINTERS.get(key, ([_col("Created At", "date")], _created))
    if key in _NO_NAME_COLUMN:
        return cols, func
    name_of = _NAME_CELL.get(key, lambda obj: obj["metadata"]["name"])

    def row(obj: dict[str, Any]) -> list[Any]:
        return [name_of(obj), *func(obj)]

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
    served: Any = None,
) -> dict[str, Any]:
    """A Table of stored objects of ``rt``; ``includeObject=Object`` rows carry each object as
    ``served`` (the version the client asked for) shows it."""
    defs, row = columns_and_cells(rt)
    rows = []
    for obj in objects:
        entry: dict[str, Any] = {"cells": row(obj)}
        if include == "Object":
            entry["object"] = convert.to_served(served, obj) if served is not None else obj
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
