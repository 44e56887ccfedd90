"""The EndpointSlice controller: one ``discovery.k8s.io/v1`` EndpointSlice per Service with a
selector, kept in step with the Service's pods, named and labelled as the real controller does
(``<service>-<suffix>``, ``kubernetes.io/service-name``, ``endpointslice.kubernetes.io/managed-by:
endpointslice-controller.k8s.io``, owned by the Service so it goes when the Service goes).

Run from the Service reconcile of :mod:`.workloads`, i.e. whenever the Service or one of its
pods' labels, IP or readiness changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .selectors import from_label_selector_object

if TYPE_CHECKING:
    from .controller import Controller

SERVICE_NAME = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
CONTROLLER = "endpointslice-controller.k8s.io"
HEADLESS = "service.kubernetes.io/headless"
# Service labels the controller does not copy onto its slices.
_RESERVED = (SERVICE_NAME, MANAGED_BY, HEADLESS)


def _ready(pod: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def _endpoint(pod: dict[str, Any]) -> dict[str, Any]:
    terminating = bool(pod["metadata"].get("deletionTimestamp"))
    ready = _ready(pod)
    out: dict[str, Any] = {
        "addresses": [pod["status"]["podIP"]],
        "conditions": {
            "ready": ready and not terminating,
            "serving": ready,
            "terminating": terminating,
        },
        "targetRef": {
            "kind": "Pod",
            "namespace": pod["metadata"]["namespace"],
            "name": pod["metadata"]["name"],
            "uid": pod["metadata"]["uid"],
        },
    }
    if pod["spec"].get("nodeName"):
        out["nodeName"] = pod["spec"]["nodeName"]
    return out


def _target_port(port: dict[str, Any], pods: list[dict[str, Any]]) -> int | None:
    target = port.get("targetPort", port.get("port"))
    if isinstance(target, int):
        return target
    for pod in pods:  # a named targetPort resolves to the container port of that name
        for c in pod["spec"].get("containers") or []:
            for p in c.get("ports") or []:
                if p.get("name") == target:
                    return p.get("containerPort")
    return None


def desired(svc: dict[str, Any], pods: list[dict[str, Any]]) -> dict[str, Any]:
    """The slice content (labels, endpoints, ports) for ``svc`` and its selected pods."""
    spec = svc.get("spec") or {}
    labels = {k: v for k, v in (svc["metadata"].get("labels") or {}).items() if k not in _RESERVED}
    labels[SERVICE_NAME] = svc["metadata"]["name"]
    labels[MANAGED_BY] = CONTROLLER
    if spec.get("clusterIP") == "None":
        labels[HEADLESS] = ""
    endpoints = [_endpoint(p) for p in pods]
    out: dict[str, Any] = {"labels": labels, "endpoints": endpoints}
    if endpoints:
        ports = []
        for port in spec.get("ports") or []:
            entry: dict[str, Any] = {
                "name": port.get("name", ""),
                "protocol": port.get("protocol", "TCP"),
            }
            number = _target_port(port, pods)
            if number is not None:
                entry["port"] = number
            if port.get("appProtocol"):
                entry["appProtocol"] = port["appProtocol"]
            ports.append(entry)
        out["ports"] = ports
    return out


def reconcile(ctl: Controller, svc: dict[str, Any]) -> None:
    c = ctl.cluster
    selector = (svc.get("spec") or {}).get("selector")
    if not selector:
        return  # the real controller leaves selector-less Services' slices to their owner
    ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
    match = from_label_selector_object({"matchLabels": selector})
    pods = [
        p
        for p in c.objects("", "pods", ns)
        if (p.get("status") or {}).get("podIP")
        and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        and match.matches(p["metadata"].get("labels"))
    ]
    want = desired(svc, pods)
    rt = c.rt("discovery.k8s.io", "endpointslices")
    mine = [
        e
        for e in c.store.kind(rt).iter_sorted(ns)
        if (e.meta.get("labels") or {}).get(SERVICE_NAME) == name
        and (e.meta.get("labels") or {}).get(MANAGED_BY) == CONTROLLER
    ]
    if not mine:
        c.create(
            rt,
            ns,
            {
                "metadata": {
                    "generateName": f"{name}-",
                    "labels": want["labels"],
                    "ownerReferences": [
                        {
                            "apiVersion": "v1",
                            "kind": "Service",
                            "name": name,
                            "uid": svc["metadata"]["uid"],
                            "controller": True,
                            "blockOwnerDeletion": True,
                        }
                    ],
                },
                "addressType": "IPv4",
                "endpoints": want["endpoints"],
                **({"ports": want["ports"]} if "ports" in want else {}),
            },
            manager="kube-controller-manager",
        )
        return
    first, extra = mine[0], mine[1:]
    obj = first.obj
    if (
        obj["metadata"].get("labels") != want["labels"]
        or obj.get("endpoints") != want["endpoints"]
        or obj.get("ports") != want.get("ports")
    ):
        new = first.copy()
        new["metadata"]["labels"] = want["labels"]
        new["endpoints"] = want["endpoints"]
        new.pop("ports", None)
        if "ports" in want:
            new["ports"] = want["ports"]
        c.store.write(rt, new, first)
    for entry in extra:
        c.delete(rt, ns, entry.meta["name"])
