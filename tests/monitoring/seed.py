"""Seeding the metric store for the query tests: one cluster with a node, two namespaces (``web``
owned by project ``prj-test``, ``db`` by another project) and their pods, with known values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apps.monitoring import partitions, store
from apps.monitoring.catalog import CATALOG, POSITION
from apps.monitoring.models import ClusterMonitor
from apps.projects.models import Project, ProjectCluster, ProjectNamespace
from tests.conftest import PROJECT
from tests.factories import make_cluster

PODS = {
    "web/api-1": {"node": "node-a", "workload_kind": "Deployment", "workload_name": "api"},
    "web/api-2": {"node": "node-b", "workload_kind": "Deployment", "workload_name": "api"},
    "db/pg-0": {"node": "node-a", "workload_kind": "StatefulSet", "workload_name": "pg"},
}


def origin(now: datetime | None = None) -> datetime:
    """A whole hour a few hours back: inside raw retention, old enough to be complete."""
    now = now or datetime.now(UTC)
    return now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)


def values(level: str, **named: float | None) -> list[float | None]:
    out: list[float | None] = [None] * len(CATALOG[level])
    for name, value in named.items():
        out[POSITION[(level, name)]] = value
    return out


def pod_cpu(key: str, minute: int) -> float:
    """Each pod's CPU: a distinct line, so averages are known (api-1: 0.1 + minute/1000 …)."""
    base = {"web/api-1": 0.1, "web/api-2": 0.2, "db/pg-0": 0.5}[key]
    return round(base + minute / 1000, 6)


def seed(tenant, minutes: int = 60, start: datetime | None = None, cluster=None):
    """The cluster (named in the returned row), its projects, and ``minutes`` of points."""
    if cluster is None:
        cluster = make_cluster(tenant, display_name="prod")
    ClusterMonitor.objects.get_or_create(tenant=tenant, cluster=cluster)
    start = start or origin()
    partitions.ensure_partitions(start - timedelta(days=1))
    partitions.ensure_partitions(start)
    for name, namespace in ((PROJECT, "web"), ("prj-other", "db")):
        project, _ = Project.objects.get_or_create(
            tenant=tenant, name=name, defaults={"display_name": name}
        )
        ProjectCluster.objects.get_or_create(project=project, cluster=cluster, hard={})
        ProjectNamespace.objects.get_or_create(
            tenant=tenant, project=project, cluster=cluster, namespace=namespace
        )
    for minute in range(minutes):
        rows = [
            store.Row(
                "cluster",
                "",
                values(
                    "cluster",
                    cpu_core_used=1.0 + minute / 100,
                    cpu_core_request=1.5,
                    cpu_allocatable=4.0,
                    mem_usage_bytes=6e9 + minute * 1e7,
                    mem_request_bytes=4e9,
                    mem_allocatable_bytes=16e9,
                    node_total=2,
                    pod_running=3,
                    pod_pending=minute % 2,
                    restart_total=float(minute // 10),
                ),
            ),
            store.Row("node", "node-a", values("node", cpu_usage=40.0 + minute % 7)),
            store.Row("namespace", "web", values("namespace", pod_running=2.0)),
            store.Row("namespace", "db", values("namespace", pod_running=1.0)),
            store.Row(
                "workload",
                "web/Deployment/api",
                values("workload", cpu_core_used=0.3, pod_total=2.0),
            ),
        ]
        for key, labels in PODS.items():
            rows.append(
                store.Row(
                    "pod",
                    key,
                    values(
                        "pod",
                        cpu_core_used=pod_cpu(key, minute),
                        cpu_core_request=0.25,
                        mem_usage_bytes=100e6 + minute * 1e6,
                        restart_total=float(minute // 30),
                    ),
                    labels,
                )
            )
        store.write(cluster, start + timedelta(minutes=minute, seconds=5), rows)
    return cluster
