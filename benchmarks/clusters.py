"""Clusters benchmark.

- the multi-cluster overview over 50 simulated clusters, 5 of them down or slow (target:
  answers within the overview budget + 0.5 s however many are down);
- kubectl proxy overhead: GET and LIST through ``/k8s/clusters/<name>`` (API key, authz,
  audit, forwarding) versus straight to kubesim, and exec session set-up, interleaved in one
  run with the portal and the cluster in their own processes (targets: overhead p50 ≤ 3 ms,
  p99 ≤ 10 ms, exec set-up ≤ 15 ms): :mod:`benchmarks.support.proxy`.
"""

from __future__ import annotations

import os
import time

from benchmarks.support.stats import percentile

CLUSTERS = 50
DOWN = 3
SLOW = 2
ROUNDS = 5


def run() -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tkeportal.settings.test")
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    from apps.sandbox.kubesim import KubeSim

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    sim = KubeSim().start_in_thread()
    try:
        return _measure(sim)
    finally:
        sim.stop()
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()


def _measure(sim) -> dict:
    from datetime import timedelta

    from rest_framework.test import APIClient

    from apps.accounts.models import User
    from apps.accounts.services import create_api_key
    from apps.authz.services import ensure_predefined_policies, make_administrator
    from apps.clusters import services
    from apps.clusters.api.resources import OVERVIEW_BUDGET_S
    from apps.tenants.models import Tenant

    tenant = Tenant.objects.create(slug="bench", display_name="Bench")
    ensure_predefined_policies(tenant)
    admin = User.objects.create(tenant=tenant, username="admin")
    make_administrator(actor=None, user=admin, admin=True)
    handles = []
    started = time.perf_counter()
    for i in range(CLUSTERS):
        handle = sim.add_cluster(f"b{i:02d}", nodes=2, seed=False, controller=False)
        ca = open(handle.ca_file).read()  # noqa: SIM115
        services.import_cluster(
            actor=None,
            tenant=tenant,
            display_name=f"b{i:02d}",
            spec=services.ImportSpec(server=handle.url, token=handle.token, ca_data=ca),
        )
        handles.append(handle)
    import_ms = (time.perf_counter() - started) * 1000 / CLUSTERS
    for handle in handles[:DOWN]:
        handle.faults.down()
    for handle in handles[DOWN : DOWN + SLOW]:
        handle.faults.delay(10.0)
    _, key = create_api_key(actor=admin, user=admin, expires_in=timedelta(hours=1))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    samples, reachable = [], 0
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        body = client.get("/api/v1/clusters/overview/").json()
        samples.append(time.perf_counter() - t0)
        reachable = sum(1 for row in body["results"] if row["reachable"])
    for handle in handles:
        handle.faults.clear()
        handle.faults.up()
    healthy = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        client.get("/api/v1/clusters/overview/")
        healthy.append(time.perf_counter() - t0)
    figures = _proxy_overhead(tenant, key)
    return {
        **figures,
        "clusters": CLUSTERS,
        "down": DOWN,
        "slow": SLOW,
        "import_ms_per_cluster": round(import_ms, 1),
        "overview_budget_s": OVERVIEW_BUDGET_S,
        "overview_degraded_p50_s": round(percentile(samples, 0.5), 3),
        "overview_degraded_max_s": round(max(samples), 3),
        "overview_degraded_reachable": reachable,
        "overview_healthy_p50_s": round(percentile(healthy, 0.5), 3),
        "overview_target_met": max(samples) <= OVERVIEW_BUDGET_S + 0.5,
    }


def _proxy_overhead(tenant, key) -> dict:
    """kubectl-style requests through the portal's proxy and directly (portal and cluster
    each in their own process): :mod:`benchmarks.support.proxy`."""
    from benchmarks.support.proxy import measure

    return measure(tenant, key)
