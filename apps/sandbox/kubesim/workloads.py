"""Workload controllers, called by :class:`.controller.Controller`.

Deployment (rolling update with maxSurge/maxUnavailable, Recreate, revisions on ReplicaSets so
``kubectl rollout undo`` works, history limit), ReplicaSet (create/delete pods, self-healing),
StatefulSet (ordinals, OrderedReady, rolling update), DaemonSet (one pod per eligible node),
both keeping their history in ``apps/v1 ControllerRevision`` objects as the real controllers do
(so ``kubectl rollout history/undo`` works for them too), Endpoints. Jobs and CronJobs are in
:mod:`.batch`, kubelet transitions in :mod:`.kubelet`.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from . import batch, endpointslices, taints
from .clock import now_iso
from .ctlcommon import (
    REVISION,
    _component,
    _delete_pod,
    _new_pod,
    _owned,
    _owner_ref,
    _patch_object,
    _ready,
    _template_key,
    _write_status,
    pod_active_or_pending,
)
from .errors import ApiError
from .selectors import from_label_selector_object
from .table import parse_time

if TYPE_CHECKING:
    from .controller import Controller


def reconcile(ctl: Controller, kind: str, ns: str, name: str) -> None:
    plural = {
        "deploy": ("apps", "deployments"),
        "rs": ("apps", "replicasets"),
        "sts": ("apps", "statefulsets"),
        "ds": ("apps", "daemonsets"),
        "job": ("batch", "jobs"),
        "cronjob": ("batch", "cronjobs"),
        "svc": ("", "services"),
    }[kind]
    obj = ctl.cluster.find(*plural, ns, name)
    if obj is None or obj["metadata"].get("deletionTimestamp"):
        return
    if kind == "svc":
        endpointslices.reconcile(ctl, obj)
    {
        "deploy": deployment,
        "rs": replicaset,
        "sts": statefulset,
        "ds": daemonset,
        "job": batch.job,
        "cronjob": batch.cronjob,
        "svc": endpoints,
    }[kind](ctl, obj)


# ---------------------------------------------------------------- Deployment


def _resolve(value: Any, total: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        raw = int(value[:-1]) * total / 100
        return math.ceil(raw) if round_up else math.floor(raw)
    return int(value or 0)


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
        rs_obj = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{d['metadata']['name']}-{key}",
                "labels": tpl["metadata"]["labels"],
                "annotations": {
                    REVISION: str(max_rev + 1),
                    "deployment.kubernetes.io/desired-replicas": str(replicas),
                    "deployment.kubernetes.io/max-replicas": str(replicas),
                },
                "ownerReferences": [_owner_ref(d)],
            },
            "spec": {
                "replicas": 0,
                "selector": selector,
                "template": tpl,
                "minReadySeconds": spec.get("minReadySeconds", 0),
            },
        }
        try:
            new = c.create(c.rt("apps", "replicasets"), d["metadata"]["namespace"], rs_obj)
        except ApiError as exc:
            c.record_event(d, "Warning", "FailedCreate", exc.message, "deployment-controller")
            return
        rss.append(new)
        max_rev += 1
    elif _revision(new) < max_rev:
        rev = str(max_rev + 1)
        new = (
            _patch_object(
                ctl,
                "apps",
                "replicasets",
                new,
                lambda o: o["metadata"].setdefault("annotations", {}).__setitem__(REVISION, rev),
            )
            or new
        )
        max_rev += 1
    if (d["metadata"].get("annotations") or {}).get(REVISION) != str(_revision(new)):
        rev = str(_revision(new))
        d = (
            _patch_object(
                ctl,
                "apps",
                "deployments",
                d,
                lambda o: o["metadata"].setdefault("annotations", {}).__setitem__(REVISION, rev),
            )
            or d
        )
    olds = sorted(
        (rs for rs in rss if rs["metadata"]["uid"] != new["metadata"]["uid"]),
        key=lambda rs: rs["metadata"]["creationTimestamp"],
    )
    if not spec.get("paused"):
        _rollout(ctl, d, new, olds, replicas)
    _cleanup_history(ctl, d, olds)
    _deployment_status(ctl, d)


def _scale_rs(ctl: Controller, d: dict[str, Any], rs: dict[str, Any], to: int) -> dict[str, Any]:
    before = rs["spec"].get("replicas", 0)
    if before == to:
        return rs
    updated = (
        _patch_object(
            ctl, "apps", "replicasets", rs, lambda o: o["spec"].__setitem__("replicas", to)
        )
        or rs
    )
    verb = "up" if to > before else "down"
    ctl.cluster.record_event(
        d,
        "Normal",
        "ScalingReplicaSet",
        f"Scaled {verb} replica set {rs['metadata']['name']} from {before} to {to}",
        "deployment-controller",
    )
    return updated


def _rollout(
    ctl: Controller,
    d: dict[str, Any],
    new: dict[str, Any],
    olds: list[dict[str, Any]],
    replicas: int,
) -> None:
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
    available = new_available + sum(
        (rs.get("status") or {}).get("availableReplicas", 0) for rs in remaining
    )
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
    idle = [
        rs
        for rs in olds
        if not rs["spec"].get("replicas") and not (rs.get("status") or {}).get("replicas")
    ]
    idle.sort(key=_revision)
    c = ctl.cluster
    for rs in idle[: max(len(idle) - limit, 0)]:
        try:
            c.delete(
                c.rt("apps", "replicasets"), rs["metadata"]["namespace"], rs["metadata"]["name"]
            )
        except ApiError:
            continue


def _deployment_status(ctl: Controller, d: dict[str, Any]) -> None:
    d = (
        ctl.cluster.find("apps", "deployments", d["metadata"]["namespace"], d["metadata"]["name"])
        or d
    )
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
        transition = (
            prev.get("lastTransitionTime", stamp) if prev.get("status") == status else stamp
        )
        update = (
            prev.get("lastUpdateTime", stamp)
            if (prev.get("reason"), prev.get("message")) == (reason, message)
            else stamp
        )
        return {
            "type": ctype,
            "status": status,
            "lastUpdateTime": update,
            "lastTransitionTime": transition,
            "reason": reason,
            "message": message,
        }

    avail_ok = available >= replicas - max_unavailable
    rs_name = new["metadata"]["name"] if new else d["metadata"]["name"]
    status: dict[str, Any] = {
        "observedGeneration": d["metadata"].get("generation", 1),
        "replicas": total,
        "updatedReplicas": updated,
        "readyReplicas": ready,
        "availableReplicas": available,
        "unavailableReplicas": max(replicas - available, 0),
        "conditions": [
            cond(
                "Available",
                "True" if avail_ok else "False",
                "MinimumReplicasAvailable" if avail_ok else "MinimumReplicasUnavailable",
                "Deployment has minimum availability."
                if avail_ok
                else "Deployment does not have minimum availability.",
            ),
            cond(
                "Progressing",
                "True",
                "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated",
                f'ReplicaSet "{rs_name}" has successfully progressed.'
                if complete
                else f'ReplicaSet "{rs_name}" is progressing.',
            ),
        ],
    }
    for field in (
        "readyReplicas",
        "availableReplicas",
        "unavailableReplicas",
        "updatedReplicas",
        "replicas",
    ):
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
            return (
                bool(p["spec"].get("nodeName")),
                p["status"].get("phase") == "Running",
                _ready(p),
                _negated(p["metadata"]["creationTimestamp"]),
            )

        for pod in sorted(pods, key=rank)[:-diff]:
            _delete_pod(ctl, pod, rs)
    pods = [p for p in _owned(ctl, rs, "", "pods") if pod_active_or_pending(p)]
    ready = sum(1 for p in pods if _ready(p))
    selector = from_label_selector_object(rs["spec"].get("selector"))
    status = {
        "replicas": len(pods),
        "fullyLabeledReplicas": sum(
            1 for p in pods if selector.matches(p["metadata"].get("labels"))
        ),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "observedGeneration": rs["metadata"].get("generation", 1),
    }
    for field in ("fullyLabeledReplicas", "readyReplicas", "availableReplicas"):
        if not status[field]:
            del status[field]
    _write_status(ctl, "apps", "replicasets", rs, status)


def _negated(ts: str) -> float:
    when = parse_time(ts)
    return -(when.timestamp() if when else 0)


# ---------------------------------------------------------------- ControllerRevisions


REVISION_HASH = "controller-revision-hash"


def revision_data(template: dict[str, Any]) -> dict[str, Any]:
    """A pod template as a ControllerRevision stores it: a strategic merge patch replacing the
    owner's ``spec.template`` (what ``kubectl rollout undo`` sends back)."""
    tpl = json.loads(json.dumps(template))
    tpl["$patch"] = "replace"
    return {"spec": {"template": tpl}}


def _revision_key(rev: dict[str, Any]) -> str:
    tpl = dict(((rev.get("data") or {}).get("spec") or {}).get("template") or {})
    tpl.pop("$patch", None)
    return _template_key(tpl)


def sync_history(ctl: Controller, owner: dict[str, Any], live: set[str]) -> dict[str, Any] | None:
    """Make sure the owner's current template has a ControllerRevision (``<owner>-<hash>``) with
    the highest revision number, as the StatefulSet/DaemonSet controllers do: an existing
    revision with the same template is renumbered rather than duplicated. Prunes the oldest
    revisions beyond ``spec.revisionHistoryLimit`` (default 10) that no live pod uses (``live``
    holds their ``controller-revision-hash`` values, names or hashes). Returns the update
    revision, or None when it could not be created."""
    c = ctl.cluster
    rt = c.rt("apps", "controllerrevisions")
    ns = owner["metadata"]["namespace"]
    template = owner["spec"]["template"]
    key = _template_key(template)
    revs = _owned(ctl, owner, "apps", "controllerrevisions")
    top = max((int(r.get("revision") or 0) for r in revs), default=0)
    update = next((r for r in revs if _revision_key(r) == key), None)
    if update is None:
        labels = dict((template.get("metadata") or {}).get("labels") or {})
        labels[REVISION_HASH] = key
        body = {
            "apiVersion": "apps/v1",
            "kind": "ControllerRevision",
            "metadata": {
                "name": f"{owner['metadata']['name']}-{key}",
                "labels": labels,
                "ownerReferences": [_owner_ref(owner)],
            },
            "data": revision_data(template),
            "revision": top + 1,
        }
        try:
            update = c.create(rt, ns, body)
        except ApiError as exc:
            update = _adopt(ctl, owner, body) if exc.code == 409 else None
            if update is None:
                c.record_event(owner, "Warning", "FailedCreate", exc.message, _component(owner))
                return None
            number = max(int(update.get("revision") or 0), top + 1)
            update = _patch_object(
                ctl, "apps", "controllerrevisions", update, lambda o: o.update(revision=number)
            )
            if update is None:
                return None
        revs.append(update)
    elif int(update.get("revision") or 0) < top:
        number = top + 1
        update = (
            _patch_object(
                ctl, "apps", "controllerrevisions", update, lambda o: o.update(revision=number)
            )
            or update
        )
        revs = [r for r in revs if r["metadata"]["uid"] != update["metadata"]["uid"]] + [update]
    limit = owner["spec"].get("revisionHistoryLimit", 10)
    keep = {update["metadata"]["uid"]}
    current = (owner.get("status") or {}).get("currentRevision")
    old = [
        r
        for r in revs
        if r["metadata"]["uid"] not in keep
        and r["metadata"]["name"] != current
        and r["metadata"]["name"] not in live
        and (r["metadata"].get("labels") or {}).get(REVISION_HASH) not in live
    ]
    old.sort(key=lambda r: int(r.get("revision") or 0))
    for r in old[: max(len(old) - limit, 0)]:
        try:
            c.delete(rt, ns, r["metadata"]["name"])
        except ApiError:
            continue
    return update


def _adopt(ctl: Controller, owner: dict[str, Any], body: dict[str, Any]) -> dict[str, Any] | None:
    """The orphaned revision holding the same template under the wanted name (its owner was
    deleted with ``--cascade=orphan`` and recreated): adopted, as the controllers' ref manager
    does. None when the name is taken by anything else."""
    c = ctl.cluster
    ns = owner["metadata"]["namespace"]
    existing = c.find("apps", "controllerrevisions", ns, body["metadata"]["name"])
    if existing is None or _revision_key(existing) != _revision_key(body):
        return None
    if any(r.get("controller") for r in existing["metadata"].get("ownerReferences") or []):
        return None
    return _patch_object(
        ctl,
        "apps",
        "controllerrevisions",
        existing,
        lambda o: o["metadata"].__setitem__(
            "ownerReferences",
            [*(o["metadata"].get("ownerReferences") or []), _owner_ref(owner)],
        ),
    )


# ---------------------------------------------------------------- StatefulSet


def statefulset(ctl: Controller, sts: dict[str, Any]) -> None:
    name = sts["metadata"]["name"]
    spec = sts["spec"]
    want = spec.get("replicas", 1)
    live = {
        (p["metadata"].get("labels") or {}).get(REVISION_HASH, "")
        for p in _owned(ctl, sts, "", "pods")
    }
    if sync_history(ctl, sts, live) is None:
        return
    revision = f"{name}-{_template_key(spec['template'])}"
    pods = {p["metadata"]["name"]: p for p in _owned(ctl, sts, "", "pods")}
    ordered = spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"
    for i in range(want):
        pod_name = f"{name}-{i}"
        pod = pods.get(pod_name)
        if pod is None:
            _claims(ctl, sts, i)
            _new_pod(
                ctl,
                sts,
                spec["template"],
                pod_name,
                {
                    "statefulset.kubernetes.io/pod-name": pod_name,
                    "apps.kubernetes.io/pod-index": str(i),
                    "controller-revision-hash": revision,
                },
            )
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
    stale = [
        p
        for p in current
        if p["metadata"].get("labels", {}).get("controller-revision-hash") != revision
    ]
    if stale and all(_ready(p) for p in current) and len(current) == want:
        victim = max(stale, key=lambda p: int(p["metadata"]["name"].rsplit("-", 1)[1]))
        _delete_pod(ctl, victim, sts)
    current = [p for p in _owned(ctl, sts, "", "pods") if pod_active_or_pending(p)]
    ready = sum(1 for p in current if _ready(p))
    updated = sum(
        1
        for p in current
        if p["metadata"].get("labels", {}).get("controller-revision-hash") == revision
    )
    status = {
        "observedGeneration": sts["metadata"].get("generation", 1),
        "replicas": len(current),
        "readyReplicas": ready,
        "currentReplicas": updated,
        "updatedReplicas": updated,
        "availableReplicas": ready,
        "currentRevision": revision
        if updated == len(current)
        else (sts.get("status") or {}).get("currentRevision", revision),
        "updateRevision": revision,
        "collisionCount": 0,
    }
    _write_status(ctl, "apps", "statefulsets", sts, status)


def _claims(ctl: Controller, sts: dict[str, Any], index: int) -> None:
    c = ctl.cluster
    rt = c.rt("", "persistentvolumeclaims")
    ns = sts["metadata"]["namespace"]
    for tpl in sts["spec"].get("volumeClaimTemplates") or []:
        claim = f"{tpl['metadata']['name']}-{sts['metadata']['name']}-{index}"
        if c.store.get(rt, ns, claim) is not None:
            continue
        body = {
            "metadata": {
                "name": claim,
                "labels": dict((sts["spec"]["selector"] or {}).get("matchLabels") or {}),
            },
            "spec": json.loads(json.dumps(tpl.get("spec") or {})),
        }
        try:
            created = c.create(rt, ns, body)
        except ApiError:
            continue
        entry = c.store.get(rt, ns, claim)
        if entry is not None:
            obj = entry.copy()
            obj["status"] = {
                "phase": "Bound",
                "accessModes": created["spec"].get("accessModes", []),
                "capacity": ((created["spec"].get("resources") or {}).get("requests") or {}),
            }
            obj["spec"]["volumeName"] = f"pvc-{obj['metadata']['uid']}"
            c.store.write(rt, obj, entry)


# ---------------------------------------------------------------- DaemonSet


# The tolerations the DaemonSet controller adds to its pods (``AddOrUpdateDaemonPodTolerations``).
DAEMON_TOLERATIONS = [
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
]
HOST_NETWORK_TOLERATION = ("node.kubernetes.io/network-unavailable", "NoSchedule")


def daemon_tolerations(spec: dict[str, Any]) -> None:
    """Add (or replace) the DaemonSet controller's tolerations in a pod spec."""
    wanted = list(DAEMON_TOLERATIONS)
    if spec.get("hostNetwork"):
        wanted.append(HOST_NETWORK_TOLERATION)
    tolerations = spec.setdefault("tolerations", [])
    for key, effect in wanted:
        tolerations[:] = [
            t for t in tolerations if (t.get("key"), t.get("effect")) != (key, effect)
        ]
        tolerations.append({"key": key, "operator": "Exists", "effect": effect})


def daemonset(ctl: Controller, ds: dict[str, Any]) -> None:
    """One pod per node that should run it. As the real controller, a node the pod may not be
    scheduled to (a NoSchedule taint it does not tolerate) gets no new pod but keeps a running
    one; only an untolerated NoExecute taint or a selector mismatch removes it."""
    from .controller import node_matches

    c = ctl.cluster
    template = json.loads(json.dumps(ds["spec"]["template"]))
    daemon_tolerations(template["spec"])
    revision = _template_key(ds["spec"]["template"])
    live = {
        (p["metadata"].get("labels") or {}).get(REVISION_HASH, "")
        for p in _owned(ctl, ds, "", "pods")
    }
    if sync_history(ctl, ds, live) is None:
        return
    probe = {"spec": template["spec"], "metadata": {}}
    pods = [p for p in _owned(ctl, ds, "", "pods") if pod_active_or_pending(p)]
    by_node = {p["spec"].get("nodeName"): p for p in pods}
    eligible, keep = [], set()
    for node in c.objects("", "nodes"):
        node_taints = (node.get("spec") or {}).get("taints") or []
        if not node_matches(probe, node):
            continue
        if all(taints.tolerates(probe, t) for t in node_taints if t.get("effect") == "NoExecute"):
            keep.add(node["metadata"]["name"])
        if all(
            taints.tolerates(probe, t)
            for t in node_taints
            if t.get("effect") in ("NoSchedule", "NoExecute")
        ):
            eligible.append(node["metadata"]["name"])
    for node_name in eligible:
        if node_name not in by_node:
            _new_pod(
                ctl,
                ds,
                {"metadata": template.get("metadata"), "spec": template["spec"]},
                f"{ds['metadata']['name']}-{c.random_suffix()}",
                {
                    "controller-revision-hash": revision,
                    "pod-template-generation": str(ds["metadata"].get("generation", 1)),
                },
                node=node_name,
            )
    for node_name, pod in by_node.items():
        if node_name not in keep:
            _delete_pod(ctl, pod, ds)
    stale = [
        p
        for p in pods
        if p["metadata"].get("labels", {}).get("controller-revision-hash") != revision
        and p["spec"].get("nodeName") in eligible
    ]
    if stale and all(_ready(p) for p in pods):
        _delete_pod(ctl, stale[0], ds)
    pods = [p for p in _owned(ctl, ds, "", "pods") if pod_active_or_pending(p)]
    scheduled = [p for p in pods if p["spec"].get("nodeName") in eligible]
    ready = sum(1 for p in scheduled if _ready(p))
    updated = sum(
        1
        for p in scheduled
        if p["metadata"].get("labels", {}).get("controller-revision-hash") == revision
    )
    status = {
        "currentNumberScheduled": len(scheduled),
        "desiredNumberScheduled": len(eligible),
        "numberMisscheduled": len(pods) - len(scheduled),
        "numberReady": ready,
        "numberAvailable": ready,
        "updatedNumberScheduled": updated,
        "observedGeneration": ds["metadata"].get("generation", 1),
    }
    if len(eligible) - ready > 0:
        status["numberUnavailable"] = len(eligible) - ready
    _write_status(ctl, "apps", "daemonsets", ds, status)


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
        address = {
            "ip": ip,
            "nodeName": pod["spec"].get("nodeName"),
            "targetRef": {
                "kind": "Pod",
                "namespace": ns,
                "name": pod["metadata"]["name"],
                "uid": pod["metadata"]["uid"],
            },
        }
        (ready if _ready(pod) else not_ready).append(address)
    ports = [
        {
            "name": p.get("name"),
            "port": p.get("targetPort") if isinstance(p.get("targetPort"), int) else p.get("port"),
            "protocol": p.get("protocol", "TCP"),
        }
        for p in svc["spec"].get("ports") or []
    ]
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
        c.create(
            rt,
            ns,
            {
                "metadata": {"name": name, "labels": dict(svc["metadata"].get("labels") or {})},
                "subsets": subsets,
            },
        )
    elif entry.obj.get("subsets", []) != subsets:
        obj = entry.copy()
        obj["subsets"] = subsets
        c.store.write(rt, obj, entry)
