"""The overview page with 100 clusters and 20 projects (each with quota on a cluster and a
namespace), rendered by a tenant administrator:

- ``overview_p50_ms`` / ``overview_p99_ms``: every cluster shown from its stored inventory
  (recent: the page asks no cluster), the common case;
- ``overview_live20_p50_ms`` / ``_p99_ms``: the same page when 20 of the clusters are live
  kubesim clusters whose stored inventory is too old, so each render asks them concurrently
  (nodes and every pod, for the requests) before showing the page;
- ``overview_cpu_p50_ms``: the CPU time of one render from stored inventories (the steadier
  figure on a loaded machine);
- ``overview_queries``: database queries of one render;
- ``overview_inventory_20k_pods_p50_ms``: collecting one cluster's inventory (nodes, and the
  requests and abnormal pods from every pod, page by page) on a 50-node cluster with 20,000
  pods — the work the overview's pool does in the background for a big cluster (kubesim runs
  in the same process, so this includes its serving time).
"""

from __future__ import annotations

import time
from datetime import timedelta

from benchmarks.support.stats import p50_p99_ms

CLUSTERS = 100
PROJECTS = 20
LIVE = 20
ROUNDS = 60
LIVE_ROUNDS = 20
BIG_PODS = 20_000
BIG_NODES = 50
BIG_ROUNDS = 3
GIB = 2**30


def _inventory(i: int) -> dict:
    return {
        "nodes": 10,
        "ready_nodes": 10 - i % 2,
        "pods": 300 + i,
        "capacity": {"cpu": "80", "memory": str(320 * GIB)},
        "allocatable": {"cpu": "79", "memory": str(310 * GIB)},
        "requests": {"cpu": "41.500", "memory": str(120 * GIB)},
        "node_requests": {
            f"node-{n}": {"cpu": "4.150", "memory": str(12 * GIB)} for n in range(10)
        },
        "abnormal_pods": [
            {
                "namespace": "web",
                "name": f"shop-{i}-{n}",
                "node": "node-1",
                "phase": "Running",
                "reason": "CrashLoopBackOff",
                "restarts": 7,
            }
            for n in range(i % 3)
        ],
        "abnormal_pod_count": i % 3,
        "abnormal_nodes": [{"name": "node-9", "ready": False, "unschedulable": False}]
        if i % 2
        else [],
        "abnormal_node_count": i % 2,
    }


def _render(client, rounds: int, before=None, cpu: list | None = None) -> list[float]:
    """Wall-clock seconds of ``rounds`` renders; with ``cpu``, also the process's CPU seconds
    of each (on a shared, loaded machine the steadier figure)."""
    samples = []
    for _ in range(rounds):
        if before is not None:
            before()
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get("/")
        samples.append(time.perf_counter() - started)
        if cpu is not None:
            cpu.append(time.process_time() - started_cpu)
        assert response.status_code == 200, response.status_code
    return samples


def _big_cluster(cluster) -> None:
    """Runs in kubesim's loop: BIG_PODS pods spread over the nodes, each with requests."""
    cluster.create(cluster.rt("", "namespaces"), None, {"metadata": {"name": "bench"}})
    pods = cluster.rt("", "pods")
    for i in range(BIG_PODS):
        container = {
            "name": "main",
            "image": "nginx:1.27",
            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
        }
        spec = {"nodeName": f"node-{i % BIG_NODES + 1}", "containers": [container]}
        cluster.create(pods, "bench", {"metadata": {"name": f"pod-{i:05d}"}, "spec": spec})


def _inventory_of_big_cluster(sim) -> list[float]:
    from apps.clusters import k8s, overview

    handle = sim.add_cluster("overview-big", nodes=BIG_NODES, seed=False, controller=False)
    try:
        handle.call(_big_cluster)
        with open(handle.ca_file) as ca:
            conn = k8s.Connection(server=handle.url, token=handle.token, ca_data=ca.read())
        samples = []
        for _ in range(BIG_ROUNDS):
            started = time.perf_counter()
            answer = overview._ask(-1, conn)
            samples.append(time.perf_counter() - started)
            assert answer.inventory is not None, answer.error
            assert answer.inventory["pods"] == BIG_PODS
            assert answer.inventory["requests"]["cpu"] == str(BIG_PODS // 100)
        return samples
    finally:
        sim.remove_cluster(handle.name)
        k8s.clients.forget(-1)


def measure(env) -> dict:
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from apps.accounts.models import User
    from apps.authz.services import ensure_predefined_policies, make_administrator
    from apps.clusters import k8s, services
    from apps.clusters.models import Cluster, ClusterCredential
    from apps.projects.models import Project, ProjectCluster, ProjectNamespace
    from apps.tenants.models import Tenant

    # A tenant of its own: the other parts' clusters are not this page's.
    tenant = Tenant.objects.create(slug="bench-overview", display_name="Bench overview")
    ensure_predefined_policies(tenant)
    admin = User.objects.create(tenant=tenant, username="admin")
    make_administrator(actor=None, user=admin, admin=True)
    client, sim = Client(), env.sim
    client.force_login(admin)
    now = timezone.now()
    clusters = []
    for i in range(CLUSTERS - LIVE):
        cluster = Cluster.objects.create(
            tenant=tenant,
            display_name=f"overview-{i:03d}",
            server="https://127.0.0.1:9",
            phase="Running",
            version="v1.37.0",
            inventory=_inventory(i),
            inventory_at=now,
        )
        ClusterCredential.objects.create(cluster=cluster, token="bench-token")
        clusters.append(cluster)
    handles, live = [], []
    for i in range(LIVE):
        handle = sim.add_cluster(f"overview-live-{i}", nodes=3, controller=False)
        handles.append(handle)
        with open(handle.ca_file) as ca:
            spec = k8s.Connection(server=handle.url, token=handle.token, ca_data=ca.read())
        live.append(
            services.import_cluster(
                actor=None, tenant=tenant, display_name=f"overview-live-{i}", spec=spec
            )
        )
    for i in range(PROJECTS):
        project = Project.objects.create(
            tenant=tenant, name=f"prj-overview-{i}", display_name=f"Overview {i}"
        )
        cluster = clusters[i]
        ProjectCluster.objects.create(
            project=project,
            cluster=cluster,
            hard={"requests.cpu": "16", "requests.memory": "64Gi", "pods": "200"},
        )
        ProjectNamespace.objects.create(
            tenant=tenant,
            project=project,
            cluster=cluster,
            namespace=f"team-{i}",
            hard={"requests.cpu": "8", "requests.memory": "32Gi", "pods": "100"},
            used={"requests.cpu": "3", "requests.memory": "10Gi", "pods": "40"},
        )
    live_ids = [c.pk for c in live]
    try:
        # The live clusters answer once (their inventory is stored), then every page is
        # served from stored inventories.
        client.get("/")
        page = client.get("/").content.decode()
        assert page.count('data-cluster="') == CLUSTERS, page.count('data-cluster="')
        assert page.count('data-project="') == PROJECTS
        assert "Stale" not in page and "Unreachable" not in page
        cpu: list[float] = []
        stored = _render(client, ROUNDS, cpu=cpu)
        queries = []

        def count(execute, sql, params, many, context):
            queries.append(sql)
            return execute(sql, params, many, context)

        # (counted by a wrapper: Django's capped query log may already be full here)
        with connection.execute_wrapper(count):
            client.get("/")

        def expire():
            Cluster.objects.filter(pk__in=live_ids).update(inventory_at=now - timedelta(hours=1))

        asked = _render(client, LIVE_ROUNDS, before=expire)
        assert Cluster.objects.filter(pk__in=live_ids, inventory_at__gt=now).count() == LIVE
    finally:
        for handle in handles:
            sim.remove_cluster(handle.name)
    big = _inventory_of_big_cluster(sim)
    p50, p99 = p50_p99_ms(stored)
    live50, live99 = p50_p99_ms(asked)
    return {
        "overview_clusters": CLUSTERS,
        "overview_projects": PROJECTS,
        "overview_p50_ms": p50,
        "overview_p99_ms": p99,
        "overview_cpu_p50_ms": p50_p99_ms(cpu)[0],
        "overview_live20_p50_ms": live50,
        "overview_live20_p99_ms": live99,
        "overview_queries": len(queries),
        "overview_inventory_20k_pods_p50_ms": p50_p99_ms(big)[0],
    }
