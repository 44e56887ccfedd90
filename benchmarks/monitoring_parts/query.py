"""Monitoring query benchmark: p95 latency of a 24-hour range for one object.

Against a throwaway test database (PostgreSQL, daily partitions): one cluster of realistic
size — 1 cluster series, 50 nodes, 20 namespaces, 200 workloads and 1,000 pods (1,271 series)
— with 24 hours of 1-minute points written through ``store.write`` (one call per minute, as
collection does), then ``store.roll_up`` to fill the 5-minute and 1-hour tables. Then, in
process (Django's test client: the whole middleware stack, API-key authentication, the
authorization checks), sequential requests after a warm-up, each for a random pod:

* ``metrics_60s``: ``/api/v1/metrics/`` one metric, 24 h at a 60 s step (1,440 points from
  the raw table);
* ``metrics_5m``: the same at a 5 m step (288 points from the 5-minute roll-up);
* ``console_5m``: what the pod page's chart asks for 24 h — 8 metrics at 5 m;
* ``promql_60s``: ``/api/v1/query_range`` of ``k8s_pod_cpu_core_used{namespace, pod}``, 24 h
  at 60 s (the label match runs over the cluster's 1,000 pod series).

Figures go to ``benchmarks/results/monitoring.json`` under ``"query"`` (benchmarks/
monitoring.py; ``MONITORING_PARTS=query`` runs this part only).
"""

from __future__ import annotations

import random
import time

from benchmarks.support.stats import percentile
from benchmarks.support.testdb import test_database

NODES = 50
NAMESPACES = 20
WORKLOADS = 200
PODS = 1000
MINUTES = 24 * 60
SAMPLES = 100
WARM_UP = 10
KEY = "query"


def measure() -> dict:
    with test_database():
        return _run()


def _rows(minute: int):
    from apps.monitoring import store
    from apps.monitoring.catalog import CATALOG

    def values(level, seed):
        n = len(CATALOG[level])
        return [((seed * 7 + minute) % 100) / 100 + i for i in range(n)]

    rows = [store.Row("cluster", "", values("cluster", 0))]
    rows += [store.Row("node", f"node-{i}", values("node", i)) for i in range(NODES)]
    rows += [store.Row("namespace", f"ns-{i}", values("namespace", i)) for i in range(NAMESPACES)]
    rows += [
        store.Row("workload", f"ns-{i % NAMESPACES}/Deployment/app-{i}", values("workload", i))
        for i in range(WORKLOADS)
    ]
    rows += [
        store.Row(
            "pod",
            f"ns-{(i % WORKLOADS) % NAMESPACES}/app-{i % WORKLOADS}-{i}",
            values("pod", i),
            {
                "node": f"node-{i % NODES}",
                "workload_kind": "Deployment",
                "workload_name": f"app-{i % WORKLOADS}",
            },
        )
        for i in range(PODS)
    ]
    return rows


def _run() -> dict:
    from datetime import UTC, datetime, timedelta

    from django.test import Client

    from apps.accounts.models import User
    from apps.accounts.services import create_api_key
    from apps.authz.models import Binding, Policy
    from apps.authz.services import ensure_predefined_policies
    from apps.clusters.models import Cluster, ClusterCredential
    from apps.monitoring import partitions, store
    from apps.monitoring.models import ClusterMonitor
    from apps.tenants.models import Tenant

    tenant = Tenant.objects.create(slug="acme", display_name="Acme")
    ensure_predefined_policies(tenant)
    user = User.objects.create(tenant=tenant, username="bob")
    Binding.objects.create(
        tenant=tenant, user=user, policy=Policy.objects.get(tenant=tenant, name="platform-user")
    )
    cluster = Cluster.objects.create(tenant=tenant, display_name="big", server="https://x:6443")
    ClusterCredential.objects.create(cluster=cluster, token="t")
    monitor = ClusterMonitor.objects.create(tenant=tenant, cluster=cluster)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    first = now - timedelta(minutes=MINUTES)
    partitions.ensure_partitions(first - timedelta(days=1))
    partitions.ensure_partitions(now)

    started = time.monotonic()
    points = 0
    for minute in range(MINUTES):
        points += store.write(cluster, first + timedelta(minutes=minute), _rows(minute))
    write_s = time.monotonic() - started
    started = time.monotonic()
    rolled = store.roll_up(monitor, now=now)
    roll_s = time.monotonic() - started

    _, key = create_api_key(actor=user, user=user, expires_in=timedelta(hours=2))
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    rng = random.Random(15)
    end = int(now.timestamp())
    start = end - 24 * 3600

    def pod_key():
        i = rng.randrange(PODS)
        return f"ns-{(i % WORKLOADS) % NAMESPACES}/app-{i % WORKLOADS}-{i}"

    def metrics(step, metric="k8s_pod_cpu_core_used"):
        def call():
            return client.get(
                "/api/v1/metrics/",
                {
                    "cluster": cluster.name,
                    "level": "pod",
                    "object": pod_key(),
                    "metric": metric,
                    "start": start,
                    "end": end,
                    "step": step,
                },
            )

        return call

    console_metrics = ",".join(
        [
            "cpu_core_used",
            "cpu_core_request",
            "cpu_core_limit",
            "mem_usage_bytes",
            "mem_request_bytes",
            "mem_limit_bytes",
            "restart_total",
            "network_receive_bytes_bw",
        ]
    )

    def promql():
        namespace, pod = pod_key().split("/")
        return client.get(
            "/api/v1/query_range",
            {
                "query": f'k8s_pod_cpu_core_used{{namespace="{namespace}", pod="{pod}"}}',
                "start": start,
                "end": end,
                "step": "60",
            },
        )

    figures: dict = {
        "series": 1 + NODES + NAMESPACES + WORKLOADS + PODS,
        "raw_points": points,
        "seed_write_s": round(write_s, 1),
        "seed_write_points_per_s": round(points / write_s),
        "roll_up_s": round(roll_s, 1),
        "rollup_rows": rolled,
        "samples": SAMPLES,
    }
    for name, call, expect in (
        ("metrics_60s", metrics("60s"), 1440),
        ("metrics_5m", metrics("5m"), 288),
        ("console_5m", metrics("5m", console_metrics), 288),
        ("promql_60s", promql, 1440),
    ):
        for _ in range(WARM_UP):
            response = call()
            assert response.status_code == 200, response.content[:300]
        samples = []
        for _ in range(SAMPLES):
            t0 = time.perf_counter()
            response = call()
            samples.append(time.perf_counter() - t0)
            assert response.status_code == 200, response.content[:300]
        body = response.json()
        got = (
            len(body["series"][0]["points"])
            if "series" in body
            else len(body["data"]["result"][0]["values"])
        )
        assert got >= expect - 1, (name, got)
        figures[f"{name}_points"] = got
        figures[f"{name}_p50_ms"] = round(percentile(samples, 0.50) * 1000, 1)
        figures[f"{name}_p95_ms"] = round(percentile(samples, 0.95) * 1000, 1)
    return figures
