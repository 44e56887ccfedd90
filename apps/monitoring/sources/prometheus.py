"""A cluster's own Prometheus as a metric source (ClusterMonitor.source = prometheus).

Instant queries (``/api/v1/query``) over the standard cAdvisor and kube-state-metrics (v2)
series, mapped to the same snapshot as the API source; network comes from here. Queries are
aggregated with ``max by`` / ``sum by`` so a series scraped by two Prometheus jobs (or two
kube-state-metrics replicas) counts once. Connections go through the cluster address policy
(apps.clusters.addresses, checked at each connection), with timeouts, no retries and no
redirects; TLS verified unless the monitor says otherwise; the bearer token (encrypted at
rest) is sent only to that URL and never appears in a message.
"""

from __future__ import annotations

import json
import ssl
from collections import defaultdict
from urllib.parse import urlencode

import urllib3
from django.conf import settings

from apps.clusters import addresses, k8s

from . import Container, Node, Pod, Snapshot, SourceError

TIMEOUT = urllib3.Timeout(connect=3.0, read=20.0)
MAX_RESPONSE_BYTES = 64 * 2**20
# kube-state-metrics' sanitised resource names that are GPUs, and GPUs per unit.
GPU_RESOURCES = {"nvidia_com_gpu": 1.0, "tencent_com_vcuda_core": 0.01}
_CONTAINERS = 'container!="",container!="POD"'

_POD = "namespace, pod"
_CONTAINER = "namespace, pod, container"
_OWNER = "owner_kind, owner_name"
_CONTROLLER = '{owner_is_controller="true"}'


def _max(by: str, expr: str) -> str:
    return f"max by ({by}) ({expr})"


def _rate(by: str, series: str) -> str:
    return f"sum by ({by}) (rate({series}[$window]))"


QUERIES = {
    "capacity": _max("node, resource", "kube_node_status_capacity"),
    "allocatable": _max("node, resource", "kube_node_status_allocatable"),
    "node_ready": _max("node", 'kube_node_status_condition{condition="Ready",status="true"}'),
    "pod_info": _max(f"{_POD}, node", "kube_pod_info"),
    "pod_phase": _max(f"{_POD}, phase", "kube_pod_status_phase") + " == 1",
    "pod_ready": _max(_POD, 'kube_pod_status_ready{condition="true"}'),
    "pod_owner": _max(f"{_POD}, {_OWNER}", "kube_pod_owner" + _CONTROLLER),
    "rs_owner": _max(f"namespace, replicaset, {_OWNER}", "kube_replicaset_owner" + _CONTROLLER),
    "job_owner": _max(f"namespace, job_name, {_OWNER}", "kube_job_owner" + _CONTROLLER),
    "requests": _max(f"{_CONTAINER}, resource", "kube_pod_container_resource_requests"),
    "limits": _max(f"{_CONTAINER}, resource", "kube_pod_container_resource_limits"),
    "restarts": _max(_CONTAINER, "kube_pod_container_status_restarts_total"),
    "container_ready": _max(_CONTAINER, "kube_pod_container_status_ready"),
    "cpu": _rate(_CONTAINER, f"container_cpu_usage_seconds_total{{{_CONTAINERS}}}"),
    "memory": f"sum by ({_CONTAINER}) (container_memory_working_set_bytes{{{_CONTAINERS}}})",
    "rx": _rate(_POD, 'container_network_receive_bytes_total{pod!=""}'),
    "tx": _rate(_POD, 'container_network_transmit_bytes_total{pod!=""}'),
    "node_cpu": _rate("node", 'container_cpu_usage_seconds_total{id="/"}'),
    "node_memory": 'sum by (node) (container_memory_working_set_bytes{id="/"})',
}


class Client:
    """Instant queries against one Prometheus."""

    def __init__(self, cluster_name: str, url: str, token: str = "", verify: bool = True):
        self.cluster_name = cluster_name
        self.url = url.rstrip("/")
        self.headers = {"Accept": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        context = ssl.create_default_context() if verify and url.startswith("https") else None
        self.pool = k8s.checked_pool_manager(context, verify=verify, maxsize=2)
        self.requests = 0

    def _fail(self, why: str) -> SourceError:
        return SourceError(
            f"cluster {self.cluster_name} unreachable: Prometheus at {self.url} {why}"
        )

    def query(self, promql: str) -> list[tuple[dict, float]]:
        """(labels, value) of each sample of an instant vector query."""
        url = f"{self.url}/api/v1/query?{urlencode({'query': promql})}"
        self.requests += 1
        try:
            response = self.pool.request(
                "GET",
                url,
                headers=self.headers,
                timeout=TIMEOUT,
                preload_content=False,
                redirect=False,
            )
            try:
                body = response.read(MAX_RESPONSE_BYTES + 1)
            finally:
                response.release_conn()
        except urllib3.exceptions.HTTPError as exc:
            reason = getattr(exc, "reason", None) or exc
            if isinstance(reason, urllib3.exceptions.NewConnectionError) and isinstance(
                getattr(reason, "refused", None), addresses.AddressRefused
            ):
                raise self._fail(f"is refused: {reason.refused}") from None
            if isinstance(reason, urllib3.exceptions.SSLError | ssl.SSLError):
                raise self._fail("failed TLS verification") from None
            if isinstance(reason, urllib3.exceptions.TimeoutError):
                raise self._fail("did not answer in time") from None
            raise self._fail(f"cannot be reached ({type(reason).__name__})") from None
        if len(body) > MAX_RESPONSE_BYTES:
            raise self._fail("answered more than the portal reads")
        if response.status in (401, 403):
            raise self._fail(f"refused the portal's token ({response.status})")
        if response.status != 200:
            raise self._fail(f"answered {response.status}")
        try:
            data = json.loads(body)
            if data.get("status") != "success" or data["data"]["resultType"] != "vector":
                raise ValueError(data.get("error") or "not a vector")
            return [(s["metric"], float(s["value"][1])) for s in data["data"]["result"]]
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise self._fail(f"answered something that is not a query result ({exc})") from None

    def close(self) -> None:
        self.pool.clear()


def fetch(monitor) -> Snapshot:
    cluster = monitor.cluster
    client = Client(
        cluster.name,
        monitor.prometheus_url,
        monitor.prometheus_token,
        monitor.prometheus_verify_tls,
    )
    # rate()'s range: a few scrape intervals of the cluster's Prometheus (settings).
    window = settings.METRICS_PROMETHEUS_RATE_WINDOW
    try:
        results = {
            name: client.query(promql.replace("$window", window))
            for name, promql in QUERIES.items()
        }
    finally:
        client.close()
    snapshot = build(results)
    snapshot.requests = client.requests
    return snapshot


def _gpu(resource: str, value: float) -> float | None:
    per_unit = GPU_RESOURCES.get(resource)
    return None if per_unit is None else value * per_unit


def build(results: dict[str, list[tuple[dict, float]]]) -> Snapshot:
    """The snapshot of one round of QUERIES' answers."""
    nodes: dict[str, Node] = {}

    def node(name: str) -> Node:
        return nodes.setdefault(name, Node(name=name, ready=False))

    for kind in ("capacity", "allocatable"):
        for labels, value in results["capacity" if kind == "capacity" else "allocatable"]:
            n, resource = node(labels.get("node", "")), labels.get("resource", "")
            if resource == "cpu":
                setattr(n, f"cpu_{kind}", value)
            elif resource == "memory":
                setattr(n, f"mem_{kind}", value)
            elif kind == "capacity" and _gpu(resource, value) is not None:
                n.gpu_capacity = (n.gpu_capacity or 0.0) + _gpu(resource, value)
    for labels, value in results["node_ready"]:
        node(labels.get("node", "")).ready = value == 1
    for labels, value in results["node_cpu"]:
        if labels.get("node") in nodes:
            nodes[labels["node"]].cpu_used = value
    for labels, value in results["node_memory"]:
        if labels.get("node") in nodes:
            nodes[labels["node"]].mem_used = value

    tops = {}
    for name, label in (("rs_owner", "replicaset"), ("job_owner", "job_name")):
        kind = "ReplicaSet" if name == "rs_owner" else "Job"
        for labels, _ in results[name]:
            tops[(labels.get("namespace", ""), kind, labels.get(label, ""))] = (
                labels.get("owner_kind", ""),
                labels.get("owner_name", ""),
            )
    pods: dict[tuple[str, str], Pod] = {}
    for labels, _ in results["pod_info"]:
        key = (labels.get("namespace", ""), labels.get("pod", ""))
        pods[key] = Pod(namespace=key[0], name=key[1], node=labels.get("node", ""), ready=False)
    for labels, _ in results["pod_phase"]:
        pod = pods.get((labels.get("namespace", ""), labels.get("pod", "")))
        if pod is not None:
            pod.phase = labels.get("phase", "Unknown")
    for labels, value in results["pod_ready"]:
        pod = pods.get((labels.get("namespace", ""), labels.get("pod", "")))
        if pod is not None:
            pod.ready = value == 1
    for labels, _ in results["pod_owner"]:
        pod = pods.get((labels.get("namespace", ""), labels.get("pod", "")))
        if pod is not None:
            kind, name = labels.get("owner_kind", ""), labels.get("owner_name", "")
            pod.workload_kind, pod.workload_name = tops.get(
                (pod.namespace, kind, name), (kind, name)
            )
    for name, attr in (("rx", "net_rx"), ("tx", "net_tx")):
        for labels, value in results[name]:
            pod = pods.get((labels.get("namespace", ""), labels.get("pod", "")))
            if pod is not None:
                setattr(pod, attr, value)

    containers: dict[tuple[str, str, str], Container] = {}

    def container(labels: dict) -> Container | None:
        pod = pods.get((labels.get("namespace", ""), labels.get("pod", "")))
        name = labels.get("container", "")
        if pod is None or not name:
            return None
        key = (pod.namespace, pod.name, name)
        if key not in containers:
            containers[key] = Container(name=name, restarts=0.0, ready=False)
            pod.containers.append(containers[key])
        return containers[key]

    gpu_requests: dict[tuple, float] = defaultdict(float)
    for kind in ("requests", "limits"):
        prefix = "request" if kind == "requests" else "limit"
        for labels, value in results[kind]:
            c = container(labels)
            if c is None:
                continue
            resource = labels.get("resource", "")
            if resource == "cpu":
                setattr(c, f"cpu_{prefix}", value)
            elif resource == "memory":
                setattr(c, f"mem_{prefix}", value)
            elif _gpu(resource, value) is not None:
                key = (kind, id(c))
                gpu_requests[key] += _gpu(resource, value)
                if kind == "requests" or c.gpu_request is None:
                    c.gpu_request = gpu_requests[key]
    for name, attr in (
        ("restarts", "restarts"),
        ("container_ready", "ready"),
        ("cpu", "cpu_used"),
        ("memory", "mem_used"),
    ):
        for labels, value in results[name]:
            c = container(labels)
            if c is not None:
                setattr(c, attr, value == 1 if attr == "ready" else value)
    return Snapshot(nodes=list(nodes.values()), pods=list(pods.values()))
