"""Metric collection for CLUSTERS clusters × PODS pods on one worker, within one minute?

kubesim serves every cluster from ONE separate process (as real API servers are elsewhere:
the worker's process does only the worker's work), seeded directly in its store: per cluster
NODES nodes (one with GPUs), 10 namespaces × 10 Deployments (a ReplicaSet each) × 10 pods of
2 containers, all Running with requests, limits and restarts. The worker side is the real
task path, serially, as one Celery worker process runs it: ``collect.collect(monitor)`` —
paged API lists and metrics.k8s.io over HTTPS (source fetch), ``collect.compute`` (all six
levels), ``store.write`` (COPY into the day's partition) and the monitor's status — for every
cluster, timed per stage (elapsed, and the worker process's CPU). Then a second round in the
next minute (series exist: the steady state), one as a freshly started worker runs it (the
series exist, its series-id cache is empty), the same split over two worker processes, and
storage: ``pg_total_relation_size`` of the raw partitions over the points.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import time
from datetime import UTC, datetime, timedelta

from benchmarks.support.stats import percentile

KEY = "collection"
CLUSTERS = int(os.environ.get("BENCH_MONITORING_CLUSTERS", "100"))
PODS = 1000
NODES = 10
NAMESPACES = 10
DEPLOYMENTS = 10  # per namespace; PODS / (NAMESPACES × DEPLOYMENTS) pods each


# -- the kubesim process ---------------------------------------------------------------------
def _seed(cluster, index: int) -> None:
    ns_rt, rs_rt, pod_rt = (
        cluster.rt("", "namespaces"),
        cluster.rt("apps", "replicasets"),
        cluster.rt("", "pods"),
    )
    per = PODS // (NAMESPACES * DEPLOYMENTS)
    n = 0
    stamp = "2026-12-01T00:00:00Z"
    for ns_i in range(NAMESPACES):
        ns = f"team-{ns_i}"
        cluster.create(ns_rt, None, {"metadata": {"name": ns}})
        for d in range(DEPLOYMENTS):
            deploy = f"svc-{d}"
            rs_name = f"{deploy}-7d9f8c6b5"
            rs_uid = f"rs-{index}-{ns_i}-{d}"
            cluster.store.write(
                rs_rt,
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "metadata": {
                        "name": rs_name,
                        "namespace": ns,
                        "uid": rs_uid,
                        "creationTimestamp": stamp,
                        "ownerReferences": [
                            {
                                "apiVersion": "apps/v1",
                                "kind": "Deployment",
                                "name": deploy,
                                "uid": f"dep-{index}-{ns_i}-{d}",
                                "controller": True,
                            }
                        ],
                    },
                    "spec": {"replicas": per, "selector": {"matchLabels": {"app": deploy}}},
                    "status": {"replicas": per},
                },
                None,
            )
            for p in range(per):
                name = f"{rs_name}-{p:05d}"
                node = f"node-{n % NODES + 1}"
                n += 1
                containers = [
                    {
                        "name": "app",
                        "image": "nginx:1.27",
                        "resources": {
                            "requests": {"cpu": "100m", "memory": "128Mi"},
                            "limits": {"cpu": "500m", "memory": "256Mi"},
                        },
                    },
                    {
                        "name": "sidecar",
                        "image": "envoy:1.33",
                        "resources": {
                            "requests": {"cpu": "20m", "memory": "32Mi"},
                            "limits": {"memory": "64Mi"},
                        },
                    },
                ]
                cluster.store.write(
                    pod_rt,
                    {
                        "apiVersion": "v1",
                        "kind": "Pod",
                        "metadata": {
                            "name": name,
                            "namespace": ns,
                            "uid": f"pod-{index}-{n}",
                            "creationTimestamp": stamp,
                            "labels": {"app": deploy},
                            "ownerReferences": [
                                {
                                    "apiVersion": "apps/v1",
                                    "kind": "ReplicaSet",
                                    "name": rs_name,
                                    "uid": rs_uid,
                                    "controller": True,
                                }
                            ],
                        },
                        "spec": {"nodeName": node, "containers": containers},
                        "status": {
                            "phase": "Running",
                            "conditions": [{"type": "Ready", "status": "True"}],
                            "containerStatuses": [
                                {
                                    "name": c["name"],
                                    "ready": True,
                                    "restartCount": n % 3,
                                    "image": c["image"],
                                    "state": {"running": {"startedAt": stamp}},
                                }
                                for c in containers
                            ],
                        },
                    },
                    None,
                )


def _serve(pipe, clusters: int) -> None:
    from apps.sandbox.kubesim import KubeSim

    sim = KubeSim().start_in_thread()
    started = time.monotonic()
    out = []
    for i in range(clusters):
        handle = sim.add_cluster(
            f"b{i:03d}", nodes=NODES, seed=False, controller=False, gpu_nodes=1
        )
        handle.call(lambda c, i=i: _seed(c, i))
        out.append((handle.name, handle.url, handle.token))
    pipe.send({"clusters": out, "ca_file": handle.ca_file, "seed_s": time.monotonic() - started})
    while pipe.recv() == "cpu":  # its CPU seconds so far, until told to stop
        pipe.send(time.process_time())
    sim.stop()


# -- the worker side ---------------------------------------------------------------------------
def _summary(samples: list[float]) -> dict:
    return {
        "p50_ms": round(percentile(samples, 0.5) * 1000, 1),
        "p95_ms": round(percentile(samples, 0.95) * 1000, 1),
        "max_ms": round(max(samples) * 1000, 1),
        "mean_ms": round(statistics.fmean(samples) * 1000, 1),
    }


def _round(monitors, when) -> dict:
    """One collection of every cluster, serially, by the task's own path
    (``collect.collect``: fetch, compute, store, the monitor's status). Per stage, elapsed
    and this process's CPU seconds: the machine is shared, and the CPU figure is what one
    worker spends whatever else runs (the rest of the elapsed time is kubesim's process and
    PostgreSQL)."""
    from apps.monitoring import collect

    stages = ("fetch", "compute", "write")
    wall = {s: [] for s in stages}
    cpu = {s: [] for s in stages}
    total, total_cpu = [], []
    points = requests = 0
    started, started_cpu = time.monotonic(), time.process_time()
    for monitor in monitors:
        t0, c0 = time.perf_counter(), time.process_time()
        result = collect.collect(monitor, now=when)
        total.append(time.perf_counter() - t0)
        total_cpu.append(time.process_time() - c0)
        assert result["ok"], result
        for stage in stages:
            wall[stage].append(result["seconds"][stage])
            cpu[stage].append(result["cpu_seconds"][stage])
        points += result["written"]
        requests += result["requests"]
    elapsed = time.monotonic() - started
    return {
        "wall_s": round(elapsed, 2),
        "worker_cpu_s": round(time.process_time() - started_cpu, 2),
        "within_one_minute": elapsed < 60,
        "points_written": points,
        "points_per_s": round(points / elapsed),
        "http_requests": requests,
        "per_cluster_total": _summary(total),
        "per_cluster_total_cpu": _summary(total_cpu),
        **{
            f"per_cluster_{s if s != 'write' else 'store_write'}": _summary(wall[s]) for s in stages
        },
        **{
            f"per_cluster_{s if s != 'write' else 'store_write'}_cpu": _summary(cpu[s])
            for s in stages
        },
    }


def _with_kubesim_cpu(pipe, measured) -> dict:
    """``measured()``'s figures and the CPU seconds the kubesim process spent meanwhile
    (serving the lists and metrics: the API servers' share of the elapsed time)."""
    pipe.send("cpu")
    before = pipe.recv()
    figures = measured()
    pipe.send("cpu")
    figures["kubesim_cpu_s"] = round(pipe.recv() - before, 2)
    return figures


def _chunk(args) -> dict:
    ids, when = args
    from apps.monitoring.models import ClusterMonitor

    monitors = list(ClusterMonitor.objects.select_related("cluster__credential").filter(pk__in=ids))
    return _round(monitors, when)


def _parallel_round(monitors, when, workers: int) -> dict:
    """The same round split over ``workers`` processes: one Celery worker started with
    ``--concurrency=<workers>`` (prefork) on this machine."""
    from django.db import connections

    from apps.clusters import k8s

    # Each process opens its own database and cluster connections (no socket shared).
    connections.close_all()
    k8s.clients.clear()
    ids = [m.pk for m in monitors]
    chunks = [(ids[i::workers], when) for i in range(workers)]
    started = time.monotonic()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        parts = pool.map(_chunk, chunks)
    wall = time.monotonic() - started
    k8s.clients.clear()
    points = sum(p["points_written"] for p in parts)
    return {
        "workers": workers,
        "wall_s": round(wall, 2),
        "within_one_minute": wall < 60,
        "points_written": points,
        "points_per_s": round(points / wall),
    }


def _storage(connection) -> dict:
    from apps.monitoring import partitions

    with connection.cursor() as cursor:
        names = list(partitions.partitions(partitions.RAW).values())
        sizes = 0
        for name in names:
            cursor.execute("SELECT pg_total_relation_size(%s)", [name])
            sizes += cursor.fetchone()[0]
        cursor.execute(f'SELECT count(*), avg(octet_length("values")) FROM {partitions.RAW}')  # noqa: S608
        count, avg_blob = cursor.fetchone()
        cursor.execute(
            "SELECT pg_total_relation_size('monitoring_series'), count(*) FROM monitoring_series"
        )
        series_bytes, series = cursor.fetchone()
    return {
        "raw_points": count,
        "raw_partition_bytes": sizes,
        "bytes_per_point": round(sizes / count, 1),
        "values_blob_bytes_avg": round(float(avg_blob), 1),
        "series": series,
        "series_table_bytes": series_bytes,
    }


def measure() -> dict:
    ctx = multiprocessing.get_context("fork")  # before Django is set up here
    parent, child = ctx.Pipe()
    server = ctx.Process(target=_serve, args=(child, CLUSTERS), daemon=True)
    server.start()
    if not parent.poll(900):
        server.kill()
        raise RuntimeError("the kubesim process did not come up with its clusters")
    served = parent.recv()
    try:
        from benchmarks.support.testdb import test_database

        with test_database() as connection:
            from apps.clusters.models import Cluster, ClusterCredential
            from apps.monitoring import partitions, store
            from apps.monitoring.models import ClusterMonitor
            from apps.tenants.models import Tenant

            ca = open(served["ca_file"]).read()  # noqa: SIM115
            tenant = Tenant.objects.create(slug="bench", display_name="Bench")
            for name, url, token in served["clusters"]:
                cluster = Cluster.objects.create(tenant=tenant, display_name=name, server=url)
                ClusterCredential.objects.create(cluster=cluster, token=token, ca_data=ca)
                ClusterMonitor.objects.create(tenant=tenant, cluster=cluster)
            monitors = list(
                ClusterMonitor.objects.select_related("cluster__credential").order_by("pk")
            )
            now = datetime.now(UTC).replace(second=0, microsecond=0)
            partitions.ensure_partitions(now - timedelta(days=1))
            first = _with_kubesim_cpu(parent, lambda: _round(monitors, now))
            steady = _with_kubesim_cpu(parent, lambda: _round(monitors, now + timedelta(minutes=1)))
            # A worker that has just started: the series exist, its cache is empty.
            store.series_cache.clear()
            restart = _with_kubesim_cpu(
                parent, lambda: _round(monitors, now + timedelta(minutes=2))
            )
            parallel = _parallel_round(monitors, now + timedelta(minutes=3), workers=2)
            storage = _storage(connection)
    finally:
        parent.send("stop")
        server.join(30)
    return {
        "clusters": CLUSTERS,
        "pods_per_cluster": PODS,
        "containers_per_pod": 2,
        "nodes_per_cluster": NODES,
        "series_per_cluster": first["points_written"] // CLUSTERS,
        "kubesim_processes": 1,
        "kubesim_seed_s": round(served["seed_s"], 1),
        "first_round": first,
        "steady_round": steady,
        "restart_round": restart,
        "steady_round_concurrency_2": parallel,
        "storage": storage,
    }
