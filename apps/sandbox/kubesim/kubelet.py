"""Kubelet transitions of simulated pods: start (Running/Ready, IPs, logs, events), image pull
failures (``*doesnotexist*``), containers exiting as their command says (see
:mod:`.containers`), restarts by ``restartPolicy`` with the kubelet's crash-loop back-off
(10 s doubling to 5 min, in simulated seconds), terminal phases, and graceful termination of
deleted pods (SIGTERM, the grace period, SIGKILL, then the pod object is removed).

Simulated seconds become real ones through ``Cluster.time_scale`` (see :mod:`.clock`).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import containers
from .clock import go_duration, now_iso
from .errors import ApiError
from .logs import log_rate

if TYPE_CHECKING:
    from .controller import Controller

BACKOFF_INITIAL = 10.0
BACKOFF_MAX = 300.0
# A container that ran this long since its last start has its back-off forgotten.
BACKOFF_RESET = 2 * BACKOFF_MAX
# A pod bound to a node whose kubelet is down is looked at again this often (seconds).
NODE_DOWN_RETRY = 0.5


@dataclass
class ContainerRun:
    """The kubelet's view of one container of a running pod."""

    plan: containers.Plan
    started: float  # monotonic time the current instance started
    exits_at: float | None = None  # current instance exits (None: runs until stopped)
    restart_at: float | None = None  # waiting out a back-off until then
    backoff: float = 0.0  # next back-off in simulated seconds (0: restart at once)
    done: bool = False  # terminated for good (restartPolicy says no restart)


@dataclass
class PodRun:
    containers: dict[str, ContainerRun] = field(default_factory=dict)
    kill_at: float | None = None  # graceful termination ends then

    def next_due(self) -> float | None:
        times = [self.kill_at] if self.kill_at is not None else []
        for run in self.containers.values():
            times += [t for t in (run.exits_at, run.restart_at) if t is not None]
        return min(times) if times else None


def _pod_entry(ctl: Controller, ns: str, name: str) -> Any:
    return ctl.cluster.store.get(ctl.cluster.rt("", "pods"), ns, name)


def _node_index(ctl: Controller, node: str) -> int:
    names = [n["metadata"]["name"] for n in ctl.cluster.objects("", "nodes")]
    return names.index(node) + 1 if node in names else 0


def _later(ctl: Controller, seconds: float) -> float:
    return time.monotonic() + seconds * ctl.cluster.time_scale


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
    """Pending → Running (or an image pull failure); each container's main process starts."""
    c = ctl.cluster
    entry = _pod_entry(ctl, ns, name)
    if (
        entry is None
        or not entry.obj["spec"].get("nodeName")
        or entry.obj["status"].get("phase") != "Pending"
        or entry.meta.get("deletionTimestamp")
    ):
        return
    if not _node_up(ctl, entry.obj["spec"]["nodeName"]):
        # No kubelet runs there (the node is missing or NotReady): the pod stays Pending, bound
        # to the node, as a pod created with ``nodeName`` does on a real cluster. Looked at
        # again shortly, so it starts once the node is back.
        ctl.starting[(ns, name)] = time.monotonic() + NODE_DOWN_RETRY
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
    run = PodRun()
    now = time.monotonic()
    statuses = []
    for ct in spec.get("containers") or []:
        image = ct.get("image", "")
        cs: dict[str, Any] = {
            "name": ct["name"],
            "image": image,
            "imageID": f"docker.io/library/{image}@sha256:" + "0" * 64,
            # ContainerStatus.lastState is a struct, not a pointer: the API server's JSON
            # always has it ({} before any termination), as protobuf does.
            "lastState": {},
            "restartCount": 0,
            "started": not bad_pull,
            "ready": not bad_pull,
            "containerID": _container_id(meta["uid"], ct["name"], 0),
        }
        if bad_pull:
            cs["state"] = {
                "waiting": {
                    "reason": "ErrImagePull",
                    "message": f'failed to pull and unpack image "{image}": not found',
                }
            }
            cs.pop("containerID")
        else:
            cs["state"] = {"running": {"startedAt": stamp}}
            plan = containers.plan(c, pod, ct)
            run.containers[ct["name"]] = ContainerRun(
                plan, now, _later(ctl, plan.seconds) if plan.seconds is not None else None
            )
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
    pod["status"].update(
        {
            "phase": "Pending" if bad_pull else "Running",
            "hostIP": host_ip,
            "hostIPs": [{"ip": host_ip}],
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "startTime": stamp,
            "conditions": _conditions(not bad_pull, stamp, scheduled),
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
        _started_events(ctl, pod, ct["name"], image)
        _start_log(ctl, pod, ct["name"], image, run.containers[ct["name"]].plan)
    if run.containers:
        ctl.runs[(ns, name)] = run
        _schedule(ctl, (ns, name), run)


def _container_id(uid: str, container: str, instance: int) -> str:
    digest = hashlib.sha256(f"{uid}/{container}/{instance}".encode()).hexdigest()
    return f"containerd://{digest}"


def _started_events(ctl: Controller, pod: dict[str, Any], container: str, image: str) -> None:
    c, node = ctl.cluster, pod["spec"].get("nodeName")
    c.record_event(
        pod,
        "Normal",
        "Pulled",
        f'Container image "{image}" already present on machine',
        "kubelet",
        node,
    )
    c.record_event(pod, "Normal", "Created", f"Created container: {container}", "kubelet", node)
    c.record_event(pod, "Normal", "Started", f"Started container {container}", "kubelet", node)


def _start_log(
    ctl: Controller, pod: dict[str, Any], container: str, image: str, plan: containers.Plan
) -> None:
    logs = ctl.cluster.logs
    key = (pod["metadata"]["namespace"], pod["metadata"]["name"], container)
    if plan.script or plan.output:
        logs.start(key, image, startup=plan.output)
    else:
        logs.start(key, image)
    if plan.seconds is not None and plan.seconds <= 0:
        logs.stop(key)
    else:
        logs.generate(key, log_rate(pod["metadata"].get("annotations") or {}))


def _schedule(ctl: Controller, key: tuple[str, str], run: PodRun) -> None:
    due = run.next_due()
    if due is None:
        ctl.kubelet_due.pop(key, None)
    else:
        ctl.kubelet_due[key] = due


def quiet(ctl: Controller, ns: str, name: str, container: str) -> bool:
    """Does this container write only what its command prints (no application log lines)?"""
    run = ctl.runs.get((ns, name))
    cr = run.containers.get(container) if run is not None else None
    return cr is None or cr.plan.script or cr.plan.seconds is not None


def _terminated(cs: dict[str, Any], code: int, stamp: str, reason: str | None = None) -> dict:
    started = (cs.get("state") or {}).get("running", {}).get("startedAt", stamp)
    return {
        "terminated": {
            "exitCode": code,
            "reason": reason or ("Completed" if code == 0 else "Error"),
            "startedAt": started,
            "finishedAt": stamp,
            "containerID": cs.get("containerID", ""),
        }
    }


def sync_pod(ctl: Controller, ns: str, name: str) -> None:
    """Apply what is due: container exits, restarts after back-off, the end of a termination."""
    c = ctl.cluster
    key = (ns, name)
    run = ctl.runs.get(key)
    entry = _pod_entry(ctl, ns, name)
    if run is None or entry is None:
        ctl.runs.pop(key, None)
        ctl.kubelet_due.pop(key, None)
        return
    now = time.monotonic()
    if run.kill_at is not None and run.kill_at <= now:
        _finish_termination(ctl, ns, name, run)
        return
    pod = entry.copy()
    spec, meta = pod["spec"], pod["metadata"]
    policy = spec.get("restartPolicy", "Always")
    stamp = now_iso()
    changed = False
    for cs in pod["status"].get("containerStatuses") or []:
        cr = run.containers.get(cs["name"])
        if cr is None:
            continue
        log_key = (ns, name, cs["name"])
        if cr.exits_at is not None and cr.exits_at <= now and "running" in cs["state"]:
            changed = True
            code = cr.plan.exit_code
            cr.exits_at = None
            term = _terminated(cs, code, stamp)
            c.logs.stop(log_key)
            ran = (now - cr.started) / max(c.time_scale, 1e-9)
            if ran >= BACKOFF_RESET:
                cr.backoff = 0.0
            if policy == "Always" or policy == "OnFailure" and code != 0:
                cs["lastState"] = term
                if cr.backoff <= 0:
                    # The first failure restarts at once; the back-off starts with the next one.
                    cr.backoff = BACKOFF_INITIAL
                    _restart(ctl, pod, cs, cr, now, stamp)
                else:
                    cs["state"] = {
                        "waiting": {
                            "reason": "CrashLoopBackOff",
                            "message": f"back-off {go_duration(cr.backoff)} restarting failed "
                            f"container={cs['name']} pod={name}_{ns}({meta['uid']})",
                        }
                    }
                    cs["ready"], cs["started"] = False, False
                    cr.restart_at = _later(ctl, cr.backoff)
                    cr.backoff = min(cr.backoff * 2, BACKOFF_MAX)
                    c.record_event(
                        pod,
                        "Warning",
                        "BackOff",
                        f"Back-off restarting failed container {cs['name']} in pod "
                        f"{name}_{ns}({meta['uid']})",
                        "kubelet",
                        spec.get("nodeName"),
                    )
            else:
                cs["state"] = term
                cs["ready"], cs["started"] = False, False
                cr.done = True
        elif cr.restart_at is not None and cr.restart_at <= now:
            changed = True
            cr.restart_at = None
            _restart(ctl, pod, cs, cr, now, stamp)
    if changed:
        _set_phase(pod, run, stamp)
        c.store.write(c.rt("", "pods"), pod, entry)
    if all(cr.done for cr in run.containers.values()):
        ctl.runs.pop(key, None)
        ctl.kubelet_due.pop(key, None)
    else:
        _schedule(ctl, key, run)


def _restart(
    ctl: Controller,
    pod: dict[str, Any],
    cs: dict[str, Any],
    cr: ContainerRun,
    now: float,
    stamp: str,
) -> None:
    cs["restartCount"] = cs.get("restartCount", 0) + 1
    cs["containerID"] = _container_id(pod["metadata"]["uid"], cs["name"], cs["restartCount"])
    cs["state"] = {"running": {"startedAt": stamp}}
    cs["ready"], cs["started"] = True, True
    cr.started = now
    cr.exits_at = _later(ctl, cr.plan.seconds) if cr.plan.seconds is not None else None
    _started_events(ctl, pod, cs["name"], cs.get("image", ""))
    _start_log(ctl, pod, cs["name"], cs.get("image", ""), cr.plan)


def _set_phase(pod: dict[str, Any], run: PodRun, stamp: str) -> None:
    status = pod["status"]
    statuses = status.get("containerStatuses") or []
    if run.containers and all(cr.done for cr in run.containers.values()):
        codes = [
            (cs.get("state") or {}).get("terminated", {}).get("exitCode", 0) for cs in statuses
        ]
        status["phase"] = "Succeeded" if not any(codes) else "Failed"
        unready: dict[str, Any] = {"reason": "PodCompleted"}
    else:
        status["phase"] = "Running"
        waiting = [cs["name"] for cs in statuses if not cs.get("ready")]
        unready = {
            "reason": "ContainersNotReady",
            "message": f"containers with unready status: [{' '.join(waiting)}]",
        }
    ready = all(cs.get("ready") for cs in statuses)
    for cond in status.get("conditions") or []:
        if cond["type"] not in ("Ready", "ContainersReady"):
            continue
        value = "True" if ready and status["phase"] == "Running" else "False"
        if cond.get("status") != value:
            cond["lastTransitionTime"] = stamp
        cond["status"] = value
        cond.pop("reason", None)
        cond.pop("message", None)
        if value == "False":
            cond.update(unready)


# ---------------------------------------------------------------- termination


def terminate(ctl: Controller, pod: dict[str, Any]) -> None:
    """A deleted pod's containers get SIGTERM; the kubelet removes the pod when they are gone
    (or, for those that ignore SIGTERM, when the grace period ends and SIGKILL follows)."""
    meta = pod["metadata"]
    key = (meta["namespace"], meta["name"])
    ctl.starting.pop(key, None)
    if not _node_up(ctl, pod["spec"].get("nodeName")):
        return  # no kubelet reports from the node: the pod stays Terminating
    grace = float(meta.get("deletionGracePeriodSeconds") or 0)
    run = ctl.runs.setdefault(key, PodRun())
    stop = 0.0
    for cr in run.containers.values():
        if cr.done or cr.restart_at is not None:
            continue  # nothing running in it
        stop = max(stop, grace if cr.plan.on_sigterm is None else min(cr.plan.on_sigterm, grace))
    due = _later(ctl, stop)
    if run.kill_at is None or due < run.kill_at:
        run.kill_at = due
    _schedule(ctl, key, run)
    ctl.wake.set()


def _node_up(ctl: Controller, node: str | None) -> bool:
    if not node:
        return True
    obj = ctl.cluster.find("", "nodes", None, node)
    return obj is not None and any(
        x.get("type") == "Ready" and x.get("status") == "True"
        for x in (obj.get("status") or {}).get("conditions") or []
    )


def _finish_termination(ctl: Controller, ns: str, name: str, run: PodRun) -> None:
    c = ctl.cluster
    ctl.runs.pop((ns, name), None)
    ctl.kubelet_due.pop((ns, name), None)
    rt = c.rt("", "pods")
    entry = c.store.get(rt, ns, name)
    if entry is None:
        return
    pod = entry.copy()
    stamp = now_iso()
    changed = False
    for cs in pod["status"].get("containerStatuses") or []:
        state = cs.get("state") or {}
        if "terminated" in state:
            continue
        cr = run.containers.get(cs["name"])
        killed = cr is not None and cr.plan.on_sigterm is None and "running" in state
        cs["state"] = _terminated(cs, 137 if killed else 0, stamp)
        cs["ready"], cs["started"] = False, False
        c.logs.stop((ns, name, cs["name"]))
        changed = True
    if changed and pod["status"].get("phase") not in ("Succeeded", "Failed"):
        for cr in run.containers.values():
            cr.done = True
        _set_phase(pod, run, stamp)
        if run.containers:
            entry = c.store.write(rt, pod, entry)
    try:
        c.delete(rt, ns, name, grace=0)
    except ApiError:
        return


def forget(ctl: Controller, ns: str, name: str) -> None:
    ctl.runs.pop((ns, name), None)
    ctl.kubelet_due.pop((ns, name), None)
