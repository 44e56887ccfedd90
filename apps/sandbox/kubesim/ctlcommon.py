"""Helpers shared by the controllers: ownership, controller writes, pod creation/deletion."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .defaults import template_hash
from .errors import ApiError

if TYPE_CHECKING:
    from .controller import Controller

REVISION = "deployment.kubernetes.io/revision"


def _owner_ref(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _owned(ctl: Controller, owner: dict[str, Any], group: str, plural: str) -> list[dict[str, Any]]:
    uid = owner["metadata"]["uid"]
    return [
        o
        for o in ctl.cluster.dependents(uid, group, plural)
        if any(
            r.get("uid") == uid and r.get("controller")
            for r in o["metadata"].get("ownerReferences") or []
        )
    ]


def _write_status(
    ctl: Controller, group: str, plural: str, obj: dict[str, Any], status: dict[str, Any]
) -> None:
    c = ctl.cluster
    rt = c.rt(group, plural)
    entry = c.store.get(rt, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
    if entry is None or entry.obj.get("status") == status:
        return
    new = entry.copy()
    new["status"] = status
    c.store.write(rt, new, entry)


def _patch_object(
    ctl: Controller, group: str, plural: str, obj: dict[str, Any], mutate: Any
) -> dict[str, Any] | None:
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
    if "generation" in new["metadata"] and {
        k: v for k, v in new.items() if k not in ("metadata", "status")
    } != {k: v for k, v in entry.obj.items() if k not in ("metadata", "status")}:
        new["metadata"]["generation"] += 1
    return c.store.write(rt, new, entry).obj


def _new_pod(
    ctl: Controller,
    owner: dict[str, Any],
    template: dict[str, Any],
    name: str,
    extra_labels: dict[str, str] | None = None,
    node: str | None = None,
    annotations: dict[str, str] | None = None,
) -> bool:
    tpl = json.loads(json.dumps(template))
    meta = tpl.get("metadata") or {}
    labels = dict(meta.get("labels") or {})
    labels.update(extra_labels or {})
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {**(meta.get("annotations") or {}), **(annotations or {})},
            "ownerReferences": [_owner_ref(owner)],
        },
        "spec": tpl.get("spec") or {},
    }
    if not pod["metadata"]["annotations"]:
        del pod["metadata"]["annotations"]
    if node:
        pod["spec"]["nodeName"] = node
    try:
        ctl.cluster.create(
            ctl.cluster.rt("", "pods"), owner["metadata"]["namespace"], pod, manager=None
        )
    except ApiError as exc:
        ctl.cluster.record_event(
            owner, "Warning", "FailedCreate", f"Error creating: {exc.message}", _component(owner)
        )
        return False
    ctl.cluster.record_event(
        owner, "Normal", "SuccessfulCreate", f"Created pod: {name}", _component(owner)
    )
    return True


def _component(owner: dict[str, Any]) -> str:
    return {
        "ReplicaSet": "replicaset-controller",
        "StatefulSet": "statefulset-controller",
        "DaemonSet": "daemonset-controller",
        "Job": "job-controller",
        "Deployment": "deployment-controller",
        "CronJob": "cronjob-controller",
    }.get(owner.get("kind", ""), "kubesim")


def _delete_pod(ctl: Controller, pod: dict[str, Any], owner: dict[str, Any] | None) -> None:
    c = ctl.cluster
    try:
        c.delete(c.rt("", "pods"), pod["metadata"]["namespace"], pod["metadata"]["name"])
    except ApiError:
        return
    if owner is not None:
        c.record_event(
            owner,
            "Normal",
            "SuccessfulDelete",
            f"Deleted pod: {pod['metadata']['name']}",
            _component(owner),
        )


def pod_active_or_pending(pod: dict[str, Any]) -> bool:
    return not pod["metadata"].get("deletionTimestamp") and (pod.get("status") or {}).get(
        "phase"
    ) not in ("Succeeded", "Failed")


def _ready(pod: dict[str, Any]) -> bool:
    return any(
        x.get("type") == "Ready" and x.get("status") == "True"
        for x in (pod.get("status") or {}).get("conditions") or []
    )


def _template_key(template: dict[str, Any]) -> str:
    tpl = json.loads(json.dumps(template))
    (tpl.get("metadata") or {}).get("labels", {}).pop("pod-template-hash", None)
    return template_hash(tpl)
