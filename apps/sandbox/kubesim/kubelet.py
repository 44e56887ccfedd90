"""Kubelet transitions of simulated pods: start (Running/Ready, IPs, logs, events), image
pull failures (``*doesnotexist*``), crash loops (``*crashloop*``), and run-to-completion exits
(``kubesim.io/run-seconds`` / ``kubesim.io/exit-code``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .clock import now_iso

if TYPE_CHECKING:
    from .controller import Controller

RUN_SECONDS = "kubesim.io/run-seconds"
EXIT_CODE = "kubesim.io/exit-code"


def _pod_entry(ctl: Controller, ns: str, name: str) -> Any:
    return ctl.cluster.store.get(ctl.cluster.rt("", "pods"), ns, name)


def _node_index(ctl: Controller, node: str) -> int:
    names = [n["metadata"]["name"] for n in ctl.cluster.objects("", "nodes")]
    return names.index(node) + 1 if node in names else 0


def _conditions(ready: bool, stamp: str, scheduled: list[dict[str, Any]]) -> list[dict]:
    value = "True" if ready else "False"
    out = [
        {
            "type": "PodReadyToStartContainers",
            "status": "True",
            "lastProbeTime": None,
            "lastTransitionTime": stamp,
        },
        {
            "type": "Initialized",
            "status": "True",
            "lastProbeTime": None,
            "lastTransitionTime": stamp,
        },
        {"type": "Ready", "status": value, "lastProbeTime": None, "lastTransitionTime": stamp},
        {
            "type": "ContainersReady",
            "status": value,
            "lastProbeTime": None,
            "lastTransitionTime": stamp,
        },
    ]
    return out + scheduled


def start_pod(ctl: Controller, ns: str, name: str) -> None:
    """Pending → Running (or image pull failure / crash loop / run-to-completion timer)."""
    c = ctl.cluster
    entry = _pod_entry(ctl, ns, name)
    if (
        entry is None
        or not entry.obj["spec"].get("nodeName")
        or entry.obj["status"].get("phase") != "Pending"
    ):
        return
    pod = entry.copy()
    spec, meta = pod["spec"], pod["metadata"]
    node = spec["nodeName"]
    stamp = now_iso()
    scheduled = [x for x in pod["status"].get("conditions") or [] if x["type"] == "PodScheduled"]
    if not scheduled:
        scheduled = [
            {
                "type": "PodScheduled",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": stamp,
            }
        ]
    images = [ct.get("image", "") for ct in spec.get("containers") or []]
    bad_pull = any("doesnotexist" in i or i.endswith(":nonexistent") for i in images)
    crashing = any("crashloop" in i for i in images)
    statuses = []
    for ct in spec.get("containers") or []:
        image = ct.get("image", "")
        cs: dict[str, Any] = {
            "name": ct["name"],
            "image": image,
            "imageID": f"docker.io/library/{image}@sha256:" + "0" * 64,
            "restartCount": 0,
            "started": not (bad_pull or crashing),
            "ready": not (bad_pull or crashing),
            "containerID": f"containerd://{meta['uid'].replace('-', '')}",
        }
        if bad_pull:
            cs["state"] = {
                "waiting": {
                    "reason": "ErrImagePull",
                    "message": f'failed to pull and unpack image "{image}": not found',
                }
            }
            cs.pop("containerID")
        elif crashing:
            cs["state"] = {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": "back-off 10s "
                    f"restarting failed container={ct['name']} pod={name}_{ns}",
                }
            }
            cs["lastState"] = {
                "terminated": {
                    "exitCode": 1,
                    "reason": "Error",
                    "startedAt": stamp,
                    "finishedAt": stamp,
                }
            }
            cs["restartCount"] = 1
        else:
            cs["state"] = {"running": {"startedAt": stamp}}
        statuses.append(cs)
    node_obj = c.find("", "nodes", None, node) or {}
    host_ip = next(
        (
            a["address"]
            for a in (node_obj.get("status") or {}).get("addresses") or []
            if a["type"] == "InternalIP"
        ),
        "10.0.0.1",
    )
    # a hostNetwork pod (kubectl debug node/…) has the node's address
    ip = host_ip if spec.get("hostNetwork") else None
    ip = ip or pod["status"].get("podIP") or ctl.next_pod_ip(_node_index(ctl, node))
    ok = not (bad_pull or crashing)
    pod["status"].update(
        {
            "phase": "Running" if ok or crashing else "Pending",
            "hostIP": host_ip,
            "hostIPs": [{"ip": host_ip}],
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "startTime": stamp,
            "conditions": _conditions(ok, stamp, scheduled),
            "containerStatuses": statuses,
        }
    )
    c.store.write(c.rt("", "pods"), pod, entry)
    for ct in spec.get("containers") or []:
        image = ct.get("image", "")
        if bad_pull:
            c.record_event(
                pod,
                "Warning",
                "Failed",
                f'Failed to pull image "{image}": not found',
                "kubelet",
                node,
            )
            continue
        c.record_event(
            pod,
            "Normal",
            "Pulled",
            f'Container image "{image}" already present on machine',
            "kubelet",
            node,
        )
        c.record_event(
            pod, "Normal", "Created", f"Created container: {ct['name']}", "kubelet", node
        )
        c.record_event(pod, "Normal", "Started", f"Started container {ct['name']}", "kubelet", node)
        c.logs.start((ns, name, ct["name"]), image)
    if crashing:
        for ct in spec.get("containers") or []:
            c.logs.append(
                (ns, name, ct["name"]), "panic: simulated crash (image name contains 'crashloop')"
            )
        ctl.crashing[(ns, name)] = time.monotonic() + 2.0
    elif ok and (
        spec.get("restartPolicy") in ("Never", "OnFailure")
        or RUN_SECONDS in (meta.get("annotations") or {})
    ):
        seconds = float((meta.get("annotations") or {}).get(RUN_SECONDS, "0.2"))
        ctl.finishing[(ns, name)] = time.monotonic() + seconds


def finish_pod(ctl: Controller, ns: str, name: str) -> None:
    """A run-to-completion pod's containers exit (code from ``kubesim.io/exit-code``)."""
    c = ctl.cluster
    entry = _pod_entry(ctl, ns, name)
    if entry is None or entry.obj["status"].get("phase") != "Running":
        return
    pod = entry.copy()
    code = int((pod["metadata"].get("annotations") or {}).get(EXIT_CODE, "0"))
    stamp = now_iso()
    for cs in pod["status"].get("containerStatuses") or []:
        started = (cs.get("state") or {}).get("running", {}).get("startedAt", stamp)
        cs["state"] = {
            "terminated": {
                "exitCode": code,
                "reason": "Completed" if code == 0 else "Error",
                "startedAt": started,
                "finishedAt": stamp,
                "containerID": cs.get("containerID", ""),
            }
        }
        cs["ready"], cs["started"] = False, False
        c.logs.append((ns, name, cs["name"]), "done" if code == 0 else f"exit status {code}")
        c.logs.stop((ns, name, cs["name"]))
    pod["status"]["phase"] = "Succeeded" if code == 0 else "Failed"
    for cond in pod["status"].get("conditions") or []:
        if cond["type"] in ("Ready", "ContainersReady"):
            cond["status"], cond["reason"] = "False", "PodCompleted"
    c.store.write(c.rt("", "pods"), pod, entry)


def crash_pod(ctl: Controller, ns: str, name: str) -> None:
    """One more crash of a crash-looping container (restartCount grows, previous log kept)."""
    c = ctl.cluster
    entry = _pod_entry(ctl, ns, name)
    if entry is None:
        return
    pod = entry.copy()
    for cs in pod["status"].get("containerStatuses") or []:
        cs["restartCount"] = cs.get("restartCount", 0) + 1
        key = (ns, name, cs["name"])
        c.logs.start(key, cs.get("image", ""))
        c.logs.append(key, "panic: simulated crash (image name contains 'crashloop')")
    c.store.write(c.rt("", "pods"), pod, entry)
    restarts = max(
        (cs.get("restartCount", 0) for cs in pod["status"].get("containerStatuses") or []),
        default=1,
    )
    ctl.crashing[(ns, name)] = time.monotonic() + min(2.0 * restarts, 30.0)
    c.record_event(
        pod,
        "Warning",
        "BackOff",
        "Back-off restarting failed container",
        "kubelet",
        pod["spec"].get("nodeName"),
    )
