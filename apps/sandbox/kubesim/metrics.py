"""``metrics.k8s.io/v1beta1`` as metrics-server serves it: NodeMetrics and PodMetrics computed
from running pods' requests with a slow deterministic wave, so ``kubectl top`` shows numbers
that move over time.
"""

from __future__ import annotations

import hashlib
import math
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from apps.core import quantity

from .clock import now_iso
from .errors import method_not_allowed, not_found
from .selectors import parse_field_selector, parse_label_selector

if TYPE_CHECKING:
    from aiohttp import web

    from .handlers import Request

WINDOW = "20.031s"


def _phase(name: str) -> float:
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF * 2 * math.pi


def _wave(name: str, period: float = 90.0) -> float:
    """0.0 … 1.0, deterministic per name, changing over minutes."""
    return (math.sin(time.time() / period * 2 * math.pi + _phase(name)) + 1) / 2


def container_usage(pod_name: str, container: dict[str, Any]) -> tuple[Decimal, Decimal]:
    """(cores, bytes) a running container uses right now."""
    requests = (container.get("resources") or {}).get("requests") or {}
    cpu = quantity.parse(requests.get("cpu", "50m"))
    mem = quantity.parse(requests.get("memory", "64Mi"))
    w = Decimal(str(round(_wave(f"{pod_name}/{container.get('name')}"), 4)))
    return cpu * (Decimal("0.2") + Decimal("0.6") * w), mem * (Decimal("0.5") + Decimal("0.4") * w)


def _running(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running"


def pod_metrics(pod: dict[str, Any]) -> dict[str, Any]:
    meta = pod["metadata"]
    containers = []
    for c in (pod.get("spec") or {}).get("containers") or []:
        cpu, mem = container_usage(meta["name"], c)
        containers.append(
            {
                "name": c["name"],
                "usage": {"cpu": f"{int(cpu * 10**9)}n", "memory": f"{int(mem / 1024)}Ki"},
            }
        )
    return {
        "kind": "PodMetrics",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {
            "name": meta["name"],
            "namespace": meta.get("namespace"),
            "creationTimestamp": now_iso(),
            "labels": meta.get("labels") or {},
        },
        "timestamp": now_iso(),
        "window": WINDOW,
        "containers": containers,
    }


def node_metrics(node: dict[str, Any], pods: list[dict[str, Any]]) -> dict[str, Any]:
    name = node["metadata"]["name"]
    w = Decimal(str(round(_wave(name, 120.0), 4)))
    cpu = Decimal("0.12") + Decimal("0.08") * w
    mem = Decimal(700 * 2**20) + Decimal(200 * 2**20) * w
    for pod in pods:
        if _running(pod):
            for c in (pod.get("spec") or {}).get("containers") or []:
                c_cpu, c_mem = container_usage(pod["metadata"]["name"], c)
                cpu += c_cpu
                mem += c_mem
    return {
        "kind": "NodeMetrics",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {
            "name": name,
            "creationTimestamp": now_iso(),
            "labels": node["metadata"].get("labels") or {},
        },
        "timestamp": now_iso(),
        "window": WINDOW,
        "usage": {"cpu": f"{int(cpu * 10**9)}n", "memory": f"{int(mem / 1024)}Ki"},
    }


def handle(req: Request) -> web.Response:
    if req.http.method != "GET":
        raise method_not_allowed()
    cluster = req.cluster
    cluster.authorize(
        req.user, "get" if req.name else "list", req.rt, req.namespace, req.name or ""
    )
    labels = parse_label_selector(req.query.get("labelSelector"))
    fields = parse_field_selector(req.query.get("fieldSelector"), "metrics")
    if req.rt.plural == "nodes":
        by_node: dict[str, list[dict[str, Any]]] = {}
        for pod in cluster.objects("", "pods"):
            by_node.setdefault((pod.get("spec") or {}).get("nodeName") or "", []).append(pod)
        if req.name:
            node = cluster.find("", "nodes", None, req.name)
            if node is None:
                raise not_found("metrics.k8s.io", "nodes", req.name)
            return req.respond(node_metrics(node, by_node.get(req.name, [])))
        items = [
            node_metrics(n, by_node.get(n["metadata"]["name"], []))
            for n in cluster.objects("", "nodes")
            if labels.matches(n["metadata"].get("labels")) and fields.matches(n)
        ]
        kind = "NodeMetricsList"
    else:
        if req.name:
            pod = cluster.find("", "pods", req.namespace, req.name)
            if pod is None or not _running(pod):
                raise not_found("metrics.k8s.io", "pods", req.name)
            return req.respond(pod_metrics(pod))
        items = [
            pod_metrics(p)
            for p in cluster.objects("", "pods", req.namespace)
            if _running(p) and labels.matches(p["metadata"].get("labels")) and fields.matches(p)
        ]
        kind = "PodMetricsList"
    return req.respond(
        {"kind": kind, "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": items}
    )
