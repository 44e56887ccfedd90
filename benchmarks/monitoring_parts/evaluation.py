"""Alarm evaluation benchmark: 10,000 rules (policies × metrics) across 100 clusters, one
worker, in-process.

Seeded through ``store.write`` (the collector's path): per cluster the cluster row, NODES nodes,
WORKLOADS Deployments and PODS pods in NAMESPACES namespaces, five minutes of points (the
longest statistics period). Per cluster 25 policies of 4 metrics each: 5 node, 2 cluster,
3 workload and 15 pod policies (namespaces in turn, some watching chosen pods), statistics
periods from 1 to 5 minutes, about 1% of pods above their CPU threshold. Every policy is due:
one round of ``evaluate_cluster`` over the 100 clusters is timed (the work the beat entry
``alarm-evaluate`` queues in one minute), then a second round one period later (records now
open: pending ones advance or fire).

Figures go to ``benchmarks/results/monitoring.json`` under ``"evaluation"`` (benchmarks/
monitoring.py; ``MONITORING_PARTS=evaluation make bench BENCH=monitoring`` runs this part only).
"""

from __future__ import annotations

import os
import random
import time
from datetime import UTC, datetime, timedelta

CLUSTERS = int(os.environ.get("BENCH_ALARM_CLUSTERS", 100))
NAMESPACES = 10
PODS = int(os.environ.get("BENCH_ALARM_PODS", 1000))
NODES = 10
WORKLOADS = 20
MINUTES = 5
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _rows(cluster_index: int, minute: int, rng: random.Random):
    from apps.monitoring import store
    from apps.monitoring.catalog import CATALOG, POSITION

    def vals(level, **metrics):
        out = [None] * len(CATALOG[level])
        for name, value in metrics.items():
            out[POSITION[(level, name)]] = value
        return out

    rows = [
        store.Row(
            "cluster",
            "",
            vals("cluster", cpu_core_used=40.0, rate_cpu_core_used_cluster=55.0, node_not_ready=0),
            {},
        )
    ]
    for n in range(NODES):
        rows.append(
            store.Row(
                "node",
                f"node-{n}",
                vals(
                    "node",
                    cpu_usage=50 + rng.random() * 30,
                    mem_usage=60.0,
                    status_ready=1.0,
                    pod_restart_total=float(n),
                ),
                {"node": f"node-{n}"},
            )
        )
    for w in range(WORKLOADS):
        ns = f"ns-{w % NAMESPACES}"
        rows.append(
            store.Row(
                "workload",
                f"{ns}/Deployment/app-{w}",
                vals(
                    "workload",
                    cpu_core_used=2.0,
                    mem_usage_bytes=2e9,
                    restart_total=1.0,
                    pod_running=5.0,
                ),
                {"namespace": ns, "workload_kind": "Deployment", "workload_name": f"app-{w}"},
            )
        )
    for p in range(PODS):
        ns = f"ns-{p % NAMESPACES}"
        hot = p % 97 == 7  # about 1% of pods run hot, across namespaces
        rows.append(
            store.Row(
                "pod",
                f"{ns}/pod-{p}",
                vals(
                    "pod",
                    cpu_core_used=(0.95 if hot else 0.2) + rng.random() * 0.02,
                    mem_usage_bytes=3e8,
                    restart_total=0.0,
                    rate_cpu_core_used_limit=40.0,
                ),
                {
                    "namespace": ns,
                    "pod": f"pod-{p}",
                    "workload_kind": "Deployment",
                    "workload_name": f"app-{p % WORKLOADS}",
                },
            )
        )
    return rows


def _m(metric, evaluator, threshold, periods=1):
    return {
        "metric": metric,
        "evaluator": evaluator,
        "threshold": threshold,
        "continue_periods": periods,
    }


def _policies(actor, cluster) -> int:
    from apps.monitoring.alerts import services

    made = 0

    def make(name, **fields):
        nonlocal made
        services.create_policy(
            actor=actor, tenant=cluster.tenant, cluster=cluster, name=name, **fields
        )
        made += len(fields["metrics"])

    for i in range(5):
        make(
            f"node-{i}",
            type="node",
            statistics_period=60 * (1 + i % 5),
            metrics=[
                _m("k8s_node_cpu_usage", "gt", 90 - i),
                _m("k8s_node_mem_usage", "gt", 90),
                _m("k8s_node_status_ready", "lt", 1),
                _m("k8s_node_pod_restart_total", "gt", 50),
            ],
        )
    for i in range(2):
        make(
            f"cluster-{i}",
            type="cluster",
            statistics_period=60 * (1 + i),
            metrics=[
                _m("k8s_cluster_rate_cpu_core_used_cluster", "gt", 80 + i),
                _m("k8s_cluster_node_not_ready", "gt", 0),
                _m("k8s_cluster_cpu_core_used", "gt", 100),
                _m("k8s_cluster_rate_mem_usage_bytes_cluster", "gt", 90),
            ],
        )
    for i in range(3):
        make(
            f"workload-{i}",
            type="workload",
            namespace=f"ns-{i}",
            workload_kind="Deployment",
            statistics_period=120,
            metrics=[
                _m("k8s_workload_cpu_core_used", "gt", 4),
                _m("k8s_workload_restart_total", "gt", 5),
                _m("k8s_workload_mem_usage_bytes", "gt", 4e9),
                _m("k8s_workload_pod_running", "lt", 1),
            ],
        )
    for i in range(15):
        part = i % 5 == 4
        make(
            f"pod-{i}",
            type="pod",
            namespace=f"ns-{i % NAMESPACES}",
            statistics_period=60 * (1 + i % 3),
            objects_type="part" if part else "all",
            object_names=[f"pod-{p}" for p in range(i % NAMESPACES, PODS, NAMESPACES)][:5]
            if part
            else [],
            receivers=["ops"],
            notify_ways=[{"channel": "mail", "template": "alarm"}],
            metrics=[
                _m("k8s_pod_cpu_core_used", "gt", 0.8, 1 + i % 2),
                _m("k8s_pod_mem_usage_bytes", "gt", 1e9),
                _m("k8s_pod_restart_total", "gt", 3),
                _m("k8s_pod_rate_cpu_core_used_limit", "gt", 90),
            ],
        )
    return made


KEY = "evaluation"


def measure() -> dict:
    from benchmarks.support.testdb import test_database
    from tkeportal.celery import app

    with test_database():
        try:
            return _run()
        finally:
            app.conf.task_always_eager = True
            with app.connection_for_write() as connection:  # the deliveries it queued
                connection.default_channel.queue_purge("notify")


def _run() -> dict:
    from django.db import connection
    from django.urls import reverse

    from apps.accounts.models import User
    from apps.authz.services import ensure_predefined_policies
    from apps.monitoring import partitions, store
    from apps.monitoring.alerts.evaluate import Report, evaluate_cluster
    from apps.monitoring.alerts.models import AlarmRecord
    from apps.monitoring.models import ClusterMonitor
    from apps.tenants.models import Tenant
    from tests.factories import bind, make_cluster
    from tests.monitoring.alerting import recipients
    from tkeportal.celery import app

    # The evaluator queues each notice's deliveries on the ``notify`` queue (a real Redis
    # broker): another worker delivers them. The test settings run tasks in-process; here that
    # would time SMTP and webhook attempts as evaluation.
    app.conf.task_always_eager = False
    # A long-running worker has its URL patterns loaded (notices link to their record).
    reverse("api:alarmrecord-detail", kwargs={"cluster": "warm", "pk": 1})
    rng = random.Random(15)
    tenant = Tenant.objects.create(slug="bench", display_name="Bench")
    actor = User.objects.create(tenant=tenant, username="bench")
    ensure_predefined_policies(tenant)
    bind(actor, "administrator")  # who may send to the tenant's receivers
    recipients(tenant)  # the receiver and channel the pod policies name
    partitions.ensure_partitions(T0 - timedelta(days=1))
    started = time.perf_counter()
    clusters, rules, points = [], 0, 0
    for c in range(CLUSTERS):
        cluster = make_cluster(tenant, display_name=f"bench-{c}")
        ClusterMonitor.objects.create(tenant=tenant, cluster=cluster)
        for minute in range(MINUTES):
            points += store.write(
                cluster, T0 + timedelta(minutes=minute, seconds=5), _rows(c, minute, rng)
            )
        rules += _policies(actor, cluster)
        clusters.append(cluster)
    seed_s = time.perf_counter() - started

    cpu: dict[str, float] = {}
    db_wait: dict[str, float] = {}

    def round_at(now, name) -> tuple[float, Report]:
        total = Report()
        waited = [0.0]

        def timed(execute, sql, params, many, context):
            # Elapsed in the query less this process's CPU in it: the time spent waiting for
            # PostgreSQL (its work, the socket, and a CPU when the machine is busy).
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                return execute(sql, params, many, context)
            finally:
                waited[0] += (time.perf_counter() - t0) - (time.process_time() - c0)

        began, began_cpu = time.perf_counter(), time.process_time()
        with connection.execute_wrapper(timed):
            for cluster in clusters:
                total.add(evaluate_cluster(cluster.pk, now))
        cpu[name] = time.process_time() - began_cpu
        db_wait[name] = waited[0]
        return time.perf_counter() - began, total

    load_before = os.getloadavg()[0]
    first_s, first = round_at(T0 + timedelta(minutes=MINUTES), "first")
    # one period later (a fresh minute of points): 60 s policies are due again
    for cluster_index, cluster in enumerate(clusters):
        store.write(
            cluster, T0 + timedelta(minutes=MINUTES, seconds=5), _rows(cluster_index, MINUTES, rng)
        )
    second_s, second = round_at(T0 + timedelta(minutes=MINUTES + 1), "second")
    series = CLUSTERS * (1 + NODES + WORKLOADS + PODS)
    return {
        "clusters": CLUSTERS,
        "rules": rules,
        "policies": first.policies,
        "series": series,
        "points_seeded": points,
        "seed_seconds": round(seed_s, 1),
        "round_seconds": round(first_s, 2),
        # The worker process's own CPU time (the database's is not in it), and the machine's
        # 1-minute load average when the round began (2 cores; other work shares them).
        "round_worker_cpu_seconds": round(cpu["first"], 2),
        "round_database_wait_seconds": round(db_wait["first"], 2),
        "load_average_at_start": round(load_before, 2),
        "notices_sent": first.notices,
        "round_rules_per_second": round(rules / first_s),
        "round_window_reads": first.reads,
        "round_objects_evaluated": first.evaluated,
        "round_records_opened": first.pending,
        "round_fired": first.fired,
        "second_round_seconds": round(second_s, 2),
        "second_round_worker_cpu_seconds": round(cpu["second"], 2),
        "second_round_database_wait_seconds": round(db_wait["second"], 2),
        "second_round_policies": second.policies,
        "second_round_objects_evaluated": second.evaluated,
        "second_round_fired": second.fired,
        "open_records": AlarmRecord.objects.filter(state__in=["pending", "firing"]).count(),
        "within_one_minute": first_s < 60,
    }
