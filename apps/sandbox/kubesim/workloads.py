"""Workload controllers and kubelet pod transitions, called by :class:`.controller.Controller`.

Deployment (rolling update with maxSurge/maxUnavailable, Recreate, revisions on ReplicaSets so
``kubectl rollout undo`` works, history limit), ReplicaSet (create/delete pods, self-healing),
StatefulSet (ordinals, OrderedReady, rolling update), DaemonSet (one pod per eligible node),
Job (parallelism, completions, backoffLimit, TTL), CronJob (schedules), Endpoints.
"""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .clock import now_iso
from .defaults import template_hash
from .errors import ApiError
from .selectors import from_label_selector_object
from .table import parse_time

if TYPE_CHECKING:
    from .controller import Controller

REVISION = "deployment.kubernetes.io/revision"
RUN_SECONDS = "kubesim.io/run-seconds"
EXIT_CODE = "kubesim.io/exit-code"


def _owner_ref(obj: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"],
            "name": obj["metadata"]["name"], "uid": obj["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": True}


def _owned(ctl: Controller, owner: dict[str, Any], group: str, plural: str
           ) -> list[dict[str, Any]]:
    uid = owner["metadata"]["uid"]
    return [o for o in ctl.cluster.dependents(uid, group, plural)
            if any(r.get("uid") == uid and r.get("controller")
                   for r in o["metadata"].get("ownerReferences") or [])]


def _write_status(ctl: Controller, group: str, plural: str, obj: dict[str, Any],
                  status: dict[str, Any]) -> None:
    c = ctl.cluster
    rt = c.rt(group, plural)
    entry = c.store.get(rt, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
    if entry is None or entry.obj.get("status") == status:
        return
    new = entry.copy()
    new["status"] = status
    c.store.write(rt, new, entry)


def _patch_object(ctl: Controller, group: str, plural: str, obj: dict[str, Any],
                  mutate: Any) -> dict[str, Any] | None:
    """Change a stored object in place (as its controller), generation bump included."""
    c = ctl.cluster
    rt = c.rt(group, plural)
    entry = c.store.get(rt, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
    if entry is None:
        return None
    new = entry.copy()
    mutate(new)
    if new == entry.obj:
        return entry.obj
    if "generation" in new["metadata"] and {k: v for k, v in new.items() if k not in (
            "metadata", "status")} != {k: v for k, v in entry.obj.items() if k not in (
                "metadata", "status")}:
        new["metadata"]["generation"] += 1
    return c.store.write(rt, new, entry).obj


def _new_pod(ctl: Controller, owner: dict[str, Any], template: dict[str, Any], name: str,
             extra_labels: dict[str, str] | None = None, node: str | None = None,
             annotations: dict[str, str] | None = None) -> bool:
    tpl = json.loads(json.dumps(template))
    meta = tpl.get("metadata") or {}
    labels = dict(meta.get("labels") or {})
    labels.update(extra_labels or {})
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "labels": labels,
                        "annotations": {**(meta.get("annotations") or {}),
                                        **(annotations or {})},
                        "ownerReferences": [_owner_ref(owner)]},
           "spec": tpl.get("spec") or {}}
    if not pod["metadata"]["annotations"]:
        del pod["metadata"]["annotations"]
    if node:
        pod["spec"]["nodeName"] = node
    try:
        ctl.cluster.create(ctl.cluster.rt("", "pods"), owner["metadata"]["namespace"], pod,
                           manager=None)
    except ApiError as exc:
        ctl.cluster.record_event(owner, "Warning", "FailedCreate", f"Error creating: "
                                 f"{exc.message}", _component(owner))
        return False
    ctl.cluster.record_event(owner, "Normal", "SuccessfulCreate", f"Created pod: {name}",
                             _component(owner))
    return True


def _component(owner: dict[str, Any]) -> str:
    return {"ReplicaSet": "replicaset-controller", "StatefulSet": "statefulset-controller",
            "DaemonSet": "daemonset-controller", "Job": "job-controller",
            "Deployment": "deployment-controller", "CronJob": "cronjob-controller"}.get(
        owner.get("kind", ""), "kubesim")


def _delete_pod(ctl: Controller, pod: dict[str, Any], owner: dict[str, Any] | None) -> None:
    c = ctl.cluster
    try:
        c.delete(c.rt("", "pods"), pod["metadata"]["namespace"], pod["metadata"]["name"])
    except ApiError:
        return
    if owner is not None:
        c.record_event(owner, "Normal", "SuccessfulDelete",
                       f"Deleted pod: {pod['metadata']['name']}", _component(owner))


def reconcile(ctl: Controller, kind: str, ns: str, name: str) -> None:
    plural = {"deploy": ("apps", "deployments"), "rs": ("apps", "replicasets"),
              "sts": ("apps", "statefulsets"), "ds": ("apps", "daemonsets"),
              "job": ("batch", "jobs"), "cronjob": ("batch", "cronjobs"),
              "svc": ("", "services")}[kind]
    obj = ctl.cluster.find(*plural, ns, name)
    if obj is None or obj["metadata"].get("deletionTimestamp"):
        return
    {"deploy": deployment, "rs": replicaset, "sts": statefulset, "ds": daemonset, "job": job,
     "cronjob": cronjob, "svc": endpoints}[kind](ctl, obj)


# ---------------------------------------------------------------- Deployment


def _resolve(value: Any, total: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        raw = int(value[:-1]) * total / 100
        return math.ceil(raw) if round_up else math.floor(raw)
    return int(value or 0)


def _template_key(template: dict[str, Any]) -> str:
    tpl = json.loads(json.dumps(template))
    (tpl.get("metadata") or {}).get("labels", {}).pop("pod-template-hash", None)
    return template_hash(tpl)


def _revision(rs: dict[str, Any]) -> int:
    try:
        return int((rs["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def deployment(ctl: Controller, d: dict[str, Any]) -> None:
    c = ctl.cluster
    spec = d["spec"]
    replicas = spec.get("replicas", 1)
    rss = _owned(ctl, d, "apps", "replicasets")
    key = _template_key(spec["template"])
    new = next((rs for rs in rss if _template_key(rs["spec"]["template"]) == key), None)
    max_rev = max((_revision(rs) for rs in rss), default=0)
    if new is None:
        tpl = json.loads(json.dumps(spec["template"]))
        tpl.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = key
        selector = json.loads(json.dumps(spec["selector"]))
        selector.setdefault("matchLabels", {})["pod-template-hash"] = key
        rs_obj = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {
            "name": f"{d['metadata']['name']}-{key}", "labels": tpl["metadata"]["labels"],
            "annotations": {REVISION: str(max_rev + 1),
                            "deployment.kubernetes.io/desired-replicas": str(replicas),
                            "deployment.kubernetes.io/max-replicas": str(replicas)},
            "ownerReferences": [_owner_ref(d)]},
            "spec": {"replicas": 0, "selector": selector, "template": tpl,
                     "minReadySeconds": spec.get("minReadySeconds", 0)}}
        try:
            new = c.create(c.rt("apps", "replicasets"), d["metadata"]["namespace"], rs_obj)
        except ApiError as exc:
            c.record_event(d, "Warning", "FailedCreate", exc.message, "deployment-controller")
            return
        rss.append(new)
        max_rev += 1
    elif _revision(new) < max_rev:
        rev = str(max_rev + 1)
        new = _patch_object(ctl, "apps", "replicasets", new, lambda o: o["metadata"].setdefault(
            "annotations", {}).__setitem__(REVISION, rev)) or new
        max_rev += 1
    if (d["metadata"].get("annotations") or {}).get(REVISION) != str(_revision(new)):
        rev = str(_revision(new))
        d = _patch_object(ctl, "apps", "deployments", d, lambda o: o["metadata"].setdefault(
            "annotations", {}).__setitem__(REVISION, rev)) or d
    olds = sorted((rs for rs in rss if rs["metadata"]["uid"] != new["metadata"]["uid"]),
                  key=lambda rs: rs["metadata"]["creationTimestamp"])
    if not spec.get("paused"):
        _rollout(ctl, d, new, olds, replicas)
    _cleanup_history(ctl, d, olds)
    _deployment_status(ctl, d)


def _scale_rs(ctl: Controller, d: dict[str, Any], rs: dict[str, Any], to: int) -> dict[str, Any]:
    before = rs["spec"].get("replicas", 0)
    if before == to:
        return rs
    updated = _patch_object(ctl, "apps", "replicasets", rs,
                            lambda o: o["spec"].__setitem__("replicas", to)) or rs
    verb = "up" if to > before else "down"
    ctl.cluster.record_event(d, "Normal", "ScalingReplicaSet",
                             f"Scaled {verb} replica set {rs['metadata']['name']} from {before} "
                             f"to {to}", "deployment-controller")
    return updated


def _rollout(ctl: Controller, d: dict[str, Any], new: dict[str, Any],
             olds: list[dict[str, Any]], replicas: int) -> None:
    strategy = d["spec"].get("strategy") or {}
    if strategy.get("type") == "Recreate":
        if any(rs["spec"].get("replicas", 0) for rs in olds):
            for rs in olds:
                _scale_rs(ctl, d, rs, 0)
            return
        if any(_owned(ctl, rs, "", "pods") for rs in olds):
            return
        _scale_rs(ctl, d, new, replicas)
        return
    ru = strategy.get("rollingUpdate") or {}
    surge = _resolve(ru.get("maxSurge", "25%"), replicas, True)
    unavailable = _resolve(ru.get("maxUnavailable", "25%"), replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    old_total = sum(rs["spec"].get("replicas", 0) for rs in olds)
    target = new["spec"].get("replicas", 0)
    if target < replicas:
        allowed = replicas + surge - (target + old_total)
        target = min(replicas, target + max(allowed, 0))
    elif target > replicas:
        target = replicas
    new = _scale_rs(ctl, d, new, target)
    if not olds:
        return
    new_available = (new.get("status") or {}).get("availableReplicas", 0)
    all_count = old_total + target
    min_available = replicas - unavailable
    budget = all_count - min_available - (target - new_available)
    if budget <= 0:
        return
    remaining = []
    for rs in olds:
        have = rs["spec"].get("replicas", 0)
        unhealthy = have - (rs.get("status") or {}).get("availableReplicas", 0)
        cut = min(max(unhealthy, 0), budget, have)
        if cut:
            rs = _scale_rs(ctl, d, rs, have - cut)
            budget -= cut
        remaining.append(rs)
    available = new_available + sum((rs.get("status") or {}).get("availableReplicas", 0)
                                    for rs in remaining)
    can_remove = min(available - min_available, budget)
    for rs in remaining:
        if can_remove <= 0:
            break
        have = rs["spec"].get("replicas", 0)
        cut = min(have, can_remove)
        if cut:
            _scale_rs(ctl, d, rs, have - cut)
            can_remove -= cut


def _cleanup_history(ctl: Controller, d: dict[str, Any], olds: list[dict[str, Any]]) -> None:
    limit = d["spec"].get("revisionHistoryLimit", 10)
    idle = [rs for rs in olds if not rs["spec"].get("replicas") and not (
        rs.get("status") or {}).get("replicas")]
    idle.sort(key=_revision)
    c = ctl.cluster
    for rs in idle[:max(len(idle) - limit, 0)]:
        try:
            c.delete(c.rt("apps", "replicasets"), rs["metadata"]["namespace"],
                     rs["metadata"]["name"])
        except ApiError:
            continue


def _deployment_status(ctl: Controller, d: dict[str, Any]) -> None:
    d = ctl.cluster.find("apps", "deployments", d["metadata"]["namespace"],
                         d["metadata"]["name"]) or d
    rss = _owned(ctl, d, "apps", "replicasets")
    key = _template_key(d["spec"]["template"])
    new = next((rs for rs in rss if _template_key(rs["spec"]["template"]) == key), None)
    replicas = d["spec"].get("replicas", 1)
    total = sum((rs.get("status") or {}).get("replicas", 0) for rs in rss)
    ready = sum((rs.get("status") or {}).get("readyReplicas", 0) for rs in rss)
    available = sum((rs.get("status") or {}).get("availableReplicas", 0) for rs in rss)
    updated = ((new or {}).get("status") or {}).get("replicas", 0) if new else 0
    old = d.get("status") or {}
    old_conds = {x["type"]: x for x in old.get("conditions") or []}
    ru = (d["spec"].get("strategy") or {}).get("rollingUpdate") or {}
    max_unavailable = _resolve(ru.get("maxUnavailable", "25%"), replicas, False)
    complete = updated == replicas and total == replicas and available == replicas
    stamp = now_iso()

    def cond(ctype: str, status: str, reason: str, message: str) -> dict[str, Any]:
        prev = old_conds.get(ctype) or {}
        transition = prev.get("lastTransitionTime", stamp) if prev.get(
            "status") == status else stamp
        update = prev.get("lastUpdateTime", stamp) if (prev.get("reason"), prev.get(
            "message")) == (reason, message) else stamp
        return {"type": ctype, "status": status, "lastUpdateTime": update,
                "lastTransitionTime": transition, "reason": reason, "message": message}

    avail_ok = available >= replicas - max_unavailable
    rs_name = new["metadata"]["name"] if new else d["metadata"]["name"]
    status: dict[str, Any] = {
        "observedGeneration": d["metadata"].get("generation", 1),
        "replicas": total, "updatedReplicas": updated, "readyReplicas": ready,
        "availableReplicas": available, "unavailableReplicas": max(replicas - available, 0),
        "conditions": [
            cond("Available", "True" if avail_ok else "False",
                 "MinimumReplicasAvailable" if avail_ok else "MinimumReplicasUnavailable",
                 "Deployment has minimum availability." if avail_ok else
                 "Deployment does not have minimum availability."),
            cond("Progressing", "True",
                 "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated",
                 f'ReplicaSet "{rs_name}" has successfully progressed.' if complete else
                 f'ReplicaSet "{rs_name}" is progressing.'),
        ],
    }
    for field in ("readyReplicas", "availableReplicas", "unavailableReplicas", "updatedReplicas",
                  "replicas"):
        if not status[field]:
            del status[field]
    _write_status(ctl, "apps", "deployments", d, status)


# ---------------------------------------------------------------- ReplicaSet


def replicaset(ctl: Controller, rs: dict[str, Any]) -> None:
    c = ctl.cluster
    pods = [p for p in _owned(ctl, rs, "", "pods") if pod_active_or_pending(p)]
    want = rs["spec"].get("replicas", 1)
    diff = want - len(pods)
    if diff > 0:
        for _ in range(min(diff, 500)):
            name = f"{rs['metadata']['name']}-{c.random_suffix()}"
            if not _new_pod(ctl, rs, rs["spec"]["template"], name):
                break
    elif diff < 0:
        def rank(p: dict[str, Any]) -> tuple[Any, ...]:
            return (bool(p["spec"].get("nodeName")), p["status"].get("phase") == "Running",
                    _ready(p), _negated(p["metadata"]["creationTimestamp"]))
        for pod in sorted(pods, key=rank)[:-diff]:
            _delete_pod(ctl, pod, rs)
    pods = [p for p in _owned(ctl, rs, "", "pods") if pod_active_or_pending(p)]
    ready = sum(1 for p in pods if _ready(p))
    selector = from_label_selector_object(rs["spec"].get("selector"))
    status = {"replicas": len(pods),
              "fullyLabeledReplicas": sum(1 for p in pods if selector.matches(
                  p["metadata"].get("labels"))),
              "readyReplicas": ready, "availableReplicas": ready,
              "observedGeneration": rs["metadata"].get("generation", 1)}
    for field in ("fullyLabeledReplicas", "readyReplicas", "availableReplicas"):
        if not status[field]:
            del status[field]
    _write_status(ctl, "apps", "replicasets", rs, status)


def _negated(ts: str) -> float:
    when = parse_time(ts)
    return -(when.timestamp() if when else 0)


def pod_active_or_pending(pod: dict[str, Any]) -> bool:
    return not pod["metadata"].get("deletionTimestamp") and (pod.get("status") or {}).get(
        "phase") not in ("Succeeded", "Failed")


def _ready(pod: dict[str, Any]) -> bool:
    return any(x.get("type") == "Ready" and x.get("status") == "True"
               for x in (pod.get("status") or {}).get("conditions") or [])


# ---------------------------------------------------------------- StatefulSet


def statefulset(ctl: Controller, sts: dict[str, Any]) -> None:
    name = sts["metadata"]["name"]
    spec = sts["spec"]
    want = spec.get("replicas", 1)
    revision = f"{name}-{_template_key(spec['template'])}"
    pods = {p["metadata"]["name"]: p for p in _owned(ctl, sts, "", "pods")}
    ordered = spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"
    for i in range(want):
        pod_name = f"{name}-{i}"
        pod = pods.get(pod_name)
        if pod is None:
            _claims(ctl, sts, i)
            _new_pod(ctl, sts, spec["template"], pod_name, {
                "statefulset.kubernetes.io/pod-name": pod_name, "apps.kubernetes.io/pod-index":
                str(i), "controller-revision-hash": revision})
            if ordered:
                break
        elif ordered and not _ready(pod):
            break
    for pod_name, pod in sorted(pods.items(), key=lambda kv: -int(kv[0].rsplit("-", 1)[1])):
        index = int(pod_name.rsplit("-", 1)[1])
        if index >= want and not pod["metadata"].get("deletionTimestamp"):
            _delete_pod(ctl, pod, sts)
            if ordered:
                break
    current = [p for p in _owned(ctl, sts, "", "pods") if pod_active_or_pending(p)]
    stale = [p for p in current if p["metadata"].get("labels", {}).get(
        "controller-revision-hash") != revision]
    if stale and all(_ready(p) for p in current) and len(current) == want:
        victim = max(stale, key=lambda p: int(p["metadata"]["name"].rsplit("-", 1)[1]))
        _delete_pod(ctl, victim, sts)
    current = [p for p in _owned(ctl, sts, "", "pods") if pod_active_or_pending(p)]
    ready = sum(1 for p in current if _ready(p))
    updated = sum(1 for p in current if p["metadata"].get("labels", {}).get(
        "controller-revision-hash") == revision)
    status = {"observedGeneration": sts["metadata"].get("generation", 1),
              "replicas": len(current), "readyReplicas": ready, "currentReplicas": updated,
              "updatedReplicas": updated, "availableReplicas": ready,
              "currentRevision": revision if updated == len(current) else (
                  sts.get("status") or {}).get("currentRevision", revision),
              "updateRevision": revision, "collisionCount": 0}
    _write_status(ctl, "apps", "statefulsets", sts, status)


def _claims(ctl: Controller, sts: dict[str, Any], index: int) -> None:
    c = ctl.cluster
    rt = c.rt("", "persistentvolumeclaims")
    ns = sts["metadata"]["namespace"]
    for tpl in sts["spec"].get("volumeClaimTemplates") or []:
        claim = f"{tpl['metadata']['name']}-{sts['metadata']['name']}-{index}"
        if c.store.get(rt, ns, claim) is not None:
            continue
        body = {"metadata": {"name": claim, "labels": dict(
            (sts["spec"]["selector"] or {}).get("matchLabels") or {})},
            "spec": json.loads(json.dumps(tpl.get("spec") or {}))}
        try:
            created = c.create(rt, ns, body)
        except ApiError:
            continue
        entry = c.store.get(rt, ns, claim)
        if entry is not None:
            obj = entry.copy()
            obj["status"] = {"phase": "Bound", "accessModes": created["spec"].get(
                "accessModes", []), "capacity": ((created["spec"].get("resources") or {}).get(
                    "requests") or {})}
            obj["spec"]["volumeName"] = f"pvc-{obj['metadata']['uid']}"
            c.store.write(rt, obj, entry)


# ---------------------------------------------------------------- DaemonSet


def daemonset(ctl: Controller, ds: dict[str, Any]) -> None:
    from .controller import _tolerates, node_matches

    c = ctl.cluster
    template = json.loads(json.dumps(ds["spec"]["template"]))
    tolerations = template["spec"].setdefault("tolerations", [])
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable",
                "node.kubernetes.io/unschedulable", "node.kubernetes.io/disk-pressure",
                "node.kubernetes.io/memory-pressure", "node.kubernetes.io/pid-pressure"):
        tolerations.append({"key": key, "operator": "Exists",
                            "effect": "NoExecute" if key.endswith(("ready", "reachable"))
                            else "NoSchedule"})
    revision = _template_key(ds["spec"]["template"])
    probe = {"spec": template["spec"], "metadata": {}}
    pods = [p for p in _owned(ctl, ds, "", "pods") if pod_active_or_pending(p)]
    by_node = {p["spec"].get("nodeName"): p for p in pods}
    eligible = []
    for node in c.objects("", "nodes"):
        taints_ok = all(_tolerates(probe, t) for t in (node.get("spec") or {}).get(
            "taints") or [] if t.get("effect") in ("NoSchedule", "NoExecute"))
        if taints_ok and node_matches(probe, node):
            eligible.append(node["metadata"]["name"])
    for node_name in eligible:
        if node_name not in by_node:
            _new_pod(ctl, ds, {"metadata": template.get("metadata"), "spec": template["spec"]},
                     f"{ds['metadata']['name']}-{c.random_suffix()}",
                     {"controller-revision-hash": revision, "pod-template-generation": str(
                         ds["metadata"].get("generation", 1))}, node=node_name)
    for node_name, pod in by_node.items():
        if node_name not in eligible:
            _delete_pod(ctl, pod, ds)
    stale = [p for p in pods if p["metadata"].get("labels", {}).get(
        "controller-revision-hash") != revision and p["spec"].get("nodeName") in eligible]
    if stale and all(_ready(p) for p in pods):
        _delete_pod(ctl, stale[0], ds)
    pods = [p for p in _owned(ctl, ds, "", "pods") if pod_active_or_pending(p)]
    ready = sum(1 for p in pods if _ready(p))
    updated = sum(1 for p in pods if p["metadata"].get("labels", {}).get(
        "controller-revision-hash") == revision)
    status = {"currentNumberScheduled": len(pods), "desiredNumberScheduled": len(eligible),
              "numberMisscheduled": sum(1 for p in pods if p["spec"].get("nodeName")
                                        not in eligible),
              "numberReady": ready, "numberAvailable": ready, "updatedNumberScheduled": updated,
              "observedGeneration": ds["metadata"].get("generation", 1)}
    if len(eligible) - ready > 0:
        status["numberUnavailable"] = len(eligible) - ready
    _write_status(ctl, "apps", "daemonsets", ds, status)


# ---------------------------------------------------------------- Job / CronJob


def job(ctl: Controller, j: dict[str, Any]) -> None:
    spec = j["spec"]
    status = dict(j.get("status") or {})
    conds = {x["type"] for x in status.get("conditions") or [] if x.get("status") == "True"}
    pods = _owned(ctl, j, "", "pods")
    succeeded = sum(1 for p in pods if p["status"].get("phase") == "Succeeded")
    failed = sum(1 for p in pods if p["status"].get("phase") == "Failed")
    active = [p for p in pods if pod_active_or_pending(p)]
    completions = spec.get("completions", 1)
    stamp = now_iso()
    new_status: dict[str, Any] = {"startTime": status.get("startTime", stamp),
                                  "uncountedTerminatedPods": {}, "terminating": 0}
    if "Complete" in conds or "Failed" in conds:
        return
    if succeeded >= completions:
        new_status["completionTime"] = stamp
        new_status["conditions"] = [
            {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached",
             "message": "Reached expected number of succeeded pods",
             "lastProbeTime": stamp, "lastTransitionTime": stamp},
            {"type": "Complete", "status": "True", "reason": "CompletionsReached",
             "message": "Reached expected number of succeeded pods",
             "lastProbeTime": stamp, "lastTransitionTime": stamp}]
        ctl.cluster.record_event(j, "Normal", "Completed", "Job completed", "job-controller")
    elif failed > spec.get("backoffLimit", 6):
        for pod in active:
            _delete_pod(ctl, pod, j)
        active = []
        new_status["conditions"] = [
            {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded",
             "message": "Job has reached the specified backoff limit",
             "lastProbeTime": stamp, "lastTransitionTime": stamp},
            {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
             "message": "Job has reached the specified backoff limit",
             "lastProbeTime": stamp, "lastTransitionTime": stamp}]
        ctl.cluster.record_event(j, "Warning", "BackoffLimitExceeded",
                                 "Job has reached the specified backoff limit", "job-controller")
    elif spec.get("suspend"):
        for pod in active:
            _delete_pod(ctl, pod, j)
        active = []
    else:
        missing = min(spec.get("parallelism", 1), completions - succeeded) - len(active)
        for _ in range(max(missing, 0)):
            _new_pod(ctl, j, spec["template"],
                     f"{j['metadata']['name']}-{ctl.cluster.random_suffix()}")
        active = [p for p in _owned(ctl, j, "", "pods") if pod_active_or_pending(p)]
    new_status.update({"active": len(active), "succeeded": succeeded, "failed": failed,
                       "ready": sum(1 for p in active if _ready(p))})
    for field in ("active", "succeeded", "failed"):
        if not new_status[field]:
            del new_status[field]
    _write_status(ctl, "batch", "jobs", j, new_status)


def expire_jobs(ctl: Controller) -> None:
    """ttlSecondsAfterFinished: delete finished jobs whose time is up."""
    c = ctl.cluster
    now = datetime.now(UTC)
    for j in c.objects("batch", "jobs"):
        ttl = j["spec"].get("ttlSecondsAfterFinished")
        done = parse_time((j.get("status") or {}).get("completionTime"))
        if ttl is not None and done is not None and done + timedelta(seconds=ttl) <= now:
            try:
                c.delete(c.rt("batch", "jobs"), j["metadata"]["namespace"],
                         j["metadata"]["name"], propagation="Background")
            except ApiError:
                continue


def _field_matches(spec: str, value: int, low: int, high: int) -> bool:
    for part in spec.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part in ("*", "?"):
            start, end = low, high
        elif "-" in part:
            start, end = (int(x) for x in part.split("-", 1))
        else:
            start = end = int(part)
            if step != 1:
                end = high
        if start <= value <= end and (value - start) % step == 0:
            return True
    return False


_MACROS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
           "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *",
           "@annually": "0 0 1 1 *"}


def cron_matches(schedule: str, when: datetime) -> bool:
    """Does the 5-field cron ``schedule`` fire at minute ``when``?"""
    fields = _MACROS.get(schedule.strip(), schedule).split()
    if len(fields) != 5:
        return False
    minute, hour, dom, month, dow = fields
    return (_field_matches(minute, when.minute, 0, 59) and _field_matches(hour, when.hour, 0, 23)
            and _field_matches(dom, when.day, 1, 31) and _field_matches(month, when.month, 1, 12)
            and _field_matches(dow, (when.weekday() + 1) % 7, 0, 6))


def cronjob(ctl: Controller, cj: dict[str, Any]) -> None:
    c = ctl.cluster
    spec = cj["spec"]
    status = dict(cj.get("status") or {})
    jobs = _owned(ctl, cj, "batch", "jobs")
    running = [j for j in jobs if not any(
        x.get("type") in ("Complete", "Failed") and x.get("status") == "True"
        for x in (j.get("status") or {}).get("conditions") or [])]
    last = parse_time(status.get("lastScheduleTime")) or parse_time(
        cj["metadata"].get("creationTimestamp"))
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    due = None
    probe = (last or now).replace(second=0, microsecond=0) + timedelta(minutes=1)
    steps = 0
    while probe <= now and steps < 1500:
        try:
            if cron_matches(spec.get("schedule", ""), probe):
                due = probe
        except ValueError:
            return
        probe += timedelta(minutes=1)
        steps += 1
    if due is not None and not spec.get("suspend"):
        policy = spec.get("concurrencyPolicy", "Allow")
        if policy == "Forbid" and running:
            due = None
        elif policy == "Replace":
            for j in running:
                c.delete(c.rt("batch", "jobs"), j["metadata"]["namespace"],
                         j["metadata"]["name"], propagation="Background")
    if due is not None and not spec.get("suspend"):
        name = f"{cj['metadata']['name']}-{int(due.timestamp() // 60)}"
        tpl = spec.get("jobTemplate") or {}
        body = {"metadata": {"name": name, "labels": dict((tpl.get("metadata") or {}).get(
            "labels") or {}), "annotations": {"batch.kubernetes.io/cronjob-scheduled-timestamp":
                                              due.strftime("%Y-%m-%dT%H:%M:%SZ")},
            "ownerReferences": [_owner_ref(cj)]}, "spec": json.loads(json.dumps(
                tpl.get("spec") or {}))}
        try:
            c.create(c.rt("batch", "jobs"), cj["metadata"]["namespace"], body)
            c.record_event(cj, "Normal", "SuccessfulCreate", f"Created job {name}",
                           "cronjob-controller")
        except ApiError as exc:
            c.record_event(cj, "Warning", "FailedCreate", exc.message, "cronjob-controller")
        status["lastScheduleTime"] = due.strftime("%Y-%m-%dT%H:%M:%SZ")
    jobs = _owned(ctl, cj, "batch", "jobs")
    finished = sorted((j for j in jobs if j not in running), key=lambda j: j["metadata"][
        "creationTimestamp"])
    keep = spec.get("successfulJobsHistoryLimit", 3)
    for j in finished[:max(len(finished) - keep, 0)]:
        c.delete(c.rt("batch", "jobs"), j["metadata"]["namespace"], j["metadata"]["name"],
                 propagation="Background")
    active = [{"kind": "Job", "namespace": j["metadata"]["namespace"],
               "name": j["metadata"]["name"], "uid": j["metadata"]["uid"],
               "apiVersion": "batch/v1"} for j in _owned(ctl, cj, "batch", "jobs") if not any(
        x.get("type") in ("Complete", "Failed") for x in (j.get("status") or {}).get(
            "conditions") or [])]
    if active:
        status["active"] = active
    else:
        status.pop("active", None)
    _write_status(ctl, "batch", "cronjobs", cj, status)


# ---------------------------------------------------------------- Endpoints


def endpoints(ctl: Controller, svc: dict[str, Any]) -> None:
    c = ctl.cluster
    selector = (svc.get("spec") or {}).get("selector")
    if not selector:
        return
    ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
    ready, not_ready = [], []
    for pod in c.objects("", "pods", ns):
        labels = pod["metadata"].get("labels") or {}
        ip = (pod.get("status") or {}).get("podIP")
        if not ip or any(labels.get(k) != v for k, v in selector.items()):
            continue
        address = {"ip": ip, "nodeName": pod["spec"].get("nodeName"), "targetRef": {
            "kind": "Pod", "namespace": ns, "name": pod["metadata"]["name"],
            "uid": pod["metadata"]["uid"]}}
        (ready if _ready(pod) else not_ready).append(address)
    ports = [{"name": p.get("name"), "port": p.get("targetPort") if isinstance(
        p.get("targetPort"), int) else p.get("port"), "protocol": p.get("protocol", "TCP")}
        for p in svc["spec"].get("ports") or []]
    for port in ports:
        if port["name"] is None:
            del port["name"]
    subset: dict[str, Any] = {"ports": ports}
    if ready:
        subset["addresses"] = ready
    if not_ready:
        subset["notReadyAddresses"] = not_ready
    subsets = [subset] if ready or not_ready else []
    rt = c.rt("", "endpoints")
    entry = c.store.get(rt, ns, name)
    if entry is None:
        c.create(rt, ns, {"metadata": {"name": name, "labels": dict(svc["metadata"].get(
            "labels") or {})}, "subsets": subsets})
    elif entry.obj.get("subsets", []) != subsets:
        obj = entry.copy()
        obj["subsets"] = subsets
        c.store.write(rt, obj, entry)


# ---------------------------------------------------------------- kubelet transitions


def _pod_entry(ctl: Controller, ns: str, name: str) -> Any:
    return ctl.cluster.store.get(ctl.cluster.rt("", "pods"), ns, name)


def _node_index(ctl: Controller, node: str) -> int:
    names = [n["metadata"]["name"] for n in ctl.cluster.objects("", "nodes")]
    return names.index(node) + 1 if node in names else 0


def _conditions(ready: bool, stamp: str, scheduled: list[dict[str, Any]]) -> list[dict]:
    value = "True" if ready else "False"
    out = [{"type": "PodReadyToStartContainers", "status": "True", "lastProbeTime": None,
            "lastTransitionTime": stamp},
           {"type": "Initialized", "status": "True", "lastProbeTime": None,
            "lastTransitionTime": stamp},
           {"type": "Ready", "status": value, "lastProbeTime": None, "lastTransitionTime": stamp},
           {"type": "ContainersReady", "status": value, "lastProbeTime": None,
            "lastTransitionTime": stamp}]
    return out + scheduled


def start_pod(ctl: Controller, ns: str, name: str) -> None:
    """Pending → Running (or image pull failure / crash loop / run-to-completion timer)."""
    c = ctl.cluster
    entry = _pod_entry(ctl, ns, name)
    if entry is None or not entry.obj["spec"].get("nodeName") or entry.obj["status"].get(
            "phase") != "Pending":
        return
    pod = entry.copy()
    spec, meta = pod["spec"], pod["metadata"]
    node = spec["nodeName"]
    stamp = now_iso()
    scheduled = [x for x in pod["status"].get("conditions") or [] if x["type"] == "PodScheduled"]
    if not scheduled:
        scheduled = [{"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                      "lastTransitionTime": stamp}]
    images = [ct.get("image", "") for ct in spec.get("containers") or []]
    bad_pull = any("doesnotexist" in i or i.endswith(":nonexistent") for i in images)
    crashing = any("crashloop" in i for i in images)
    statuses = []
    for ct in spec.get("containers") or []:
        image = ct.get("image", "")
        cs: dict[str, Any] = {"name": ct["name"], "image": image,
                              "imageID": f"docker.io/library/{image}@sha256:" + "0" * 64,
                              "restartCount": 0, "started": not (bad_pull or crashing),
                              "ready": not (bad_pull or crashing),
                              "containerID": f"containerd://{meta['uid'].replace('-', '')}"}
        if bad_pull:
            cs["state"] = {"waiting": {"reason": "ErrImagePull", "message": f'failed to pull '
                           f'and unpack image "{image}": not found'}}
            cs.pop("containerID")
        elif crashing:
            cs["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s "
                           f"restarting failed container={ct['name']} pod={name}_{ns}"}}
            cs["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error",
                                              "startedAt": stamp, "finishedAt": stamp}}
            cs["restartCount"] = 1
        else:
            cs["state"] = {"running": {"startedAt": stamp}}
        statuses.append(cs)
    ip = pod["status"].get("podIP") or ctl.next_pod_ip(_node_index(ctl, node))
    node_obj = c.find("", "nodes", None, node) or {}
    host_ip = next((a["address"] for a in (node_obj.get("status") or {}).get("addresses") or []
                    if a["type"] == "InternalIP"), "10.0.0.1")
    ok = not (bad_pull or crashing)
    pod["status"].update({
        "phase": "Running" if ok or crashing else "Pending", "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}], "podIP": ip, "podIPs": [{"ip": ip}], "startTime": stamp,
        "conditions": _conditions(ok, stamp, scheduled), "containerStatuses": statuses,
    })
    c.store.write(c.rt("", "pods"), pod, entry)
    for ct in spec.get("containers") or []:
        image = ct.get("image", "")
        if bad_pull:
            c.record_event(pod, "Warning", "Failed", f'Failed to pull image "{image}": not '
                           "found", "kubelet", node)
            continue
        c.record_event(pod, "Normal", "Pulled", f'Container image "{image}" already present on '
                       "machine", "kubelet", node)
        c.record_event(pod, "Normal", "Created", f"Created container: {ct['name']}", "kubelet",
                       node)
        c.record_event(pod, "Normal", "Started", f"Started container {ct['name']}", "kubelet",
                       node)
        c.logs.start((ns, name, ct["name"]), image)
    if crashing:
        for ct in spec.get("containers") or []:
            c.logs.append((ns, name, ct["name"]), "panic: simulated crash (image name contains "
                          "'crashloop')")
        ctl.crashing[(ns, name)] = time.monotonic() + 2.0
    elif ok and (spec.get("restartPolicy") in ("Never", "OnFailure") or RUN_SECONDS in (
            meta.get("annotations") or {})):
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
        cs["state"] = {"terminated": {"exitCode": code, "reason": "Completed" if code == 0
                                      else "Error", "startedAt": started, "finishedAt": stamp,
                                      "containerID": cs.get("containerID", "")}}
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
    restarts = max((cs.get("restartCount", 0) for cs in pod["status"].get(
        "containerStatuses") or []), default=1)
    ctl.crashing[(ns, name)] = time.monotonic() + min(2.0 * restarts, 30.0)
    c.record_event(pod, "Warning", "BackOff", "Back-off restarting failed container",
                   "kubelet", pod["spec"].get("nodeName"))
