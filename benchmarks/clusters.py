"""Clusters benchmark.

- the multi-cluster overview over 50 simulated clusters, 5 of them down or slow (target:
  answers within the overview budget + 0.5 s however many are down);
- the overview over 500 live clusters (kubesim in its own process): p50, how many come back
  stale (last known inventory) and how many wrongly unreachable (target: 0);
- kubectl proxy overhead: GET and LIST through ``/k8s/clusters/<name>`` (API key, authz,
  audit, forwarding) versus straight to kubesim, and exec session set-up, interleaved in one
  run with the portal and the cluster in their own processes (targets: overhead p50 ≤ 3 ms,
  p99 ≤ 10 ms, exec set-up ≤ 15 ms): :mod:`benchmarks.support.proxy`.
"""

from __future__ import annotations

import time

from benchmarks.support.stats import percentile
from benchmarks.support.testdb import test_database

CLUSTERS = 50
DOWN = 3
SLOW = 2
ROUNDS = 5


def run() -> dict:
    with test_database():
        from apps.sandbox.kubesim import KubeSim

        sim = KubeSim().start_in_thread()
        try:
            return {**_measure(sim), **overview_500()}
        finally:
            sim.stop()


def _measure(sim) -> dict:
    from datetime import timedelta

    from rest_framework.test import APIClient

    from apps.accounts.models import User
    from apps.accounts.services import create_api_key
    from apps.authz.services import ensure_predefined_policies, make_administrator
    from apps.clusters import k8s, services
    from apps.clusters.overview import OVERVIEW_BUDGET_S
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
            spec=k8s.Connection(server=handle.url, token=handle.token, ca_data=ca),
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


# -- the overview at scale ------------------------------------------------------------------------
OVERVIEW_SCALE = 500
OVERVIEW_SCALE_ROUNDS = 7
TIGHT_BUDGET_S = 0.2


def run_overview_500() -> dict:
    """The overview over 500 simulated clusters, alone (its own test database):
    ``python -c 'from benchmarks.clusters import run_overview_500 as r; print(r())'``."""
    with test_database():
        return overview_500()


def overview_500() -> dict:
    """500 live clusters, served by kubesim in its own process (as clusters are other
    machines), imported into one tenant; the overview asked ``OVERVIEW_SCALE_ROUNDS`` times.
    Every cluster is up, so any ``reachable: false`` is wrong; a cluster that has not
    answered within the budget must come back ``stale`` with its last known inventory."""
    import subprocess
    import sys
    import tempfile
    from datetime import timedelta
    from pathlib import Path

    import yaml
    from rest_framework.test import APIClient

    from apps.accounts.models import User
    from apps.accounts.services import create_api_key
    from apps.authz.services import ensure_predefined_policies, make_administrator
    from apps.clusters import k8s, overview, services
    from apps.clusters.models import Cluster
    from apps.clusters.overview import OVERVIEW_BUDGET_S, fanout
    from apps.tenants.models import Tenant

    root = Path(__file__).resolve().parent.parent
    work = Path(tempfile.mkdtemp(prefix="tkeportal-bench-overview-"))
    kubeconfig = work / "kubesim.kubeconfig"
    port = _free_port()
    names = ",".join(f"o{i:03d}:2" for i in range(OVERVIEW_SCALE))
    sim = subprocess.Popen(
        [sys.executable, "manage.py", "kubesim", "--clusters", names, "--port", str(port)]
        + ["--kubeconfig", str(kubeconfig), "--no-seed", "--no-controller"],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not kubeconfig.exists():
            if time.monotonic() > deadline or sim.poll() is not None:
                raise RuntimeError("kubesim did not start")
            time.sleep(0.2)
        text = kubeconfig.read_text()
        tenant = Tenant.objects.create(slug="bench-overview", display_name="Bench overview")
        ensure_predefined_policies(tenant)
        admin = User.objects.create(tenant=tenant, username="admin")
        make_administrator(actor=None, user=admin, admin=True)
        started = time.perf_counter()
        for context in yaml.safe_load(text)["contexts"]:
            services.import_cluster(
                actor=None,
                tenant=tenant,
                display_name=context["name"],
                spec=services.spec_from_kubeconfig(text, context["name"]),
            )
        import_s = time.perf_counter() - started
        _, key = create_api_key(actor=admin, user=admin, expires_in=timedelta(hours=1))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        samples, stale, wrong, fresh = [], [], [], []
        for _ in range(OVERVIEW_SCALE_ROUNDS):
            t0 = time.perf_counter()
            body = client.get("/api/v1/clusters/overview/").json()
            samples.append(time.perf_counter() - t0)
            rows = body["results"]
            if len(rows) != OVERVIEW_SCALE:
                raise RuntimeError(f"overview listed {len(rows)} clusters")
            stale.append(sum(1 for r in rows if r["stale"]))
            fresh.append(sum(1 for r in rows if not r["stale"] and r["reachable"]))
            wrong.append(sum(1 for r in rows if not r["reachable"]))
            if any(r["nodes"] != 2 for r in rows):
                raise RuntimeError("a row without its (last known) inventory")
            while fanout.running():  # let stragglers finish between rounds, as users pause
                time.sleep(0.05)
        # A cold process (no cached connections: every cluster needs a TLS handshake) ...
        k8s.clients.clear()
        t0 = time.perf_counter()
        cold = client.get("/api/v1/clusters/overview/").json()["results"]
        cold_s = time.perf_counter() - t0
        while fanout.running():
            time.sleep(0.05)
        # ... and a budget far too short for 500 clusters: who has not answered is stale.
        clusters = list(Cluster.objects.filter(tenant=tenant).select_related("credential"))
        tight = overview.overview(clusters, budget_s=TIGHT_BUDGET_S)
        if any(r["stale"] and r["nodes"] != 2 for r in tight):
            raise RuntimeError("a stale row without its last known inventory")
        return {
            "overview_500_cold_s": round(cold_s, 3),
            "overview_500_cold_stale": sum(1 for r in cold if r["stale"]),
            "overview_500_cold_wrongly_unreachable": sum(1 for r in cold if not r["reachable"]),
            "overview_500_tight_budget_s": TIGHT_BUDGET_S,
            "overview_500_tight_stale": sum(1 for r in tight if r["stale"]),
            "overview_500_tight_wrongly_unreachable": sum(1 for r in tight if not r["reachable"]),
            "overview_500_clusters": OVERVIEW_SCALE,
            "overview_500_import_s": round(import_s, 1),
            "overview_500_budget_s": OVERVIEW_BUDGET_S,
            "overview_500_p50_s": round(percentile(samples, 0.5), 3),
            "overview_500_max_s": round(max(samples), 3),
            "overview_500_stale": max(stale),
            "overview_500_stale_per_round": stale,
            "overview_500_live_per_round": fresh,
            "overview_500_wrongly_unreachable": max(wrong),
        }
    finally:
        sim.terminate()
        try:
            sim.wait(timeout=15)
        except subprocess.TimeoutExpired:
            sim.kill()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
