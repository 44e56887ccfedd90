"""Projects benchmark: ``kubectl get pods -A`` through the proxy for a project member.

A cluster of 200 namespaces and 10,000 pods (``manage.py kubesim`` in its own process, no
controller, so nothing changes while we measure); a project owning 20 of the namespaces (1,000
pods); the portal under uvicorn in its own process (:class:`benchmarks.support.proxy.Servers`).

What is timed is what ``kubectl get pods -A`` does on the wire: ``GET /api/v1/pods?limit=500``
with kubectl's Table ``Accept`` header, then every ``continue`` page to the end — for the
member (answered by merging the 20 namespaces' lists, :mod:`apps.clusters.proxy.fanout`) and
for a cluster administrator (forwarded as it is: the fast path). Samples alternate between the
two users. ``*_first_page`` is the first page alone (what kubectl shows first); ``kubectl_*``
runs the real kubectl 1.37 binary (process start, discovery cache warm) for both.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.support.stats import p50_p99_ms
from benchmarks.support.testdb import test_database

NAMESPACES = 200
PODS_PER_NAMESPACE = 50
PROJECT_NAMESPACES = 20
SAMPLES = 40
KUBECTL_RUNS = 10
WARM_UP = 3
TABLE_ACCEPT = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,"
    "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
)
KUBECTL = str(Path(__file__).resolve().parents[1] / ".venv" / "bin" / "kubectl")


def run() -> dict:
    with test_database():
        return _run()


def _run() -> dict:
    from benchmarks.support.proxy import Servers

    servers = Servers()
    servers.start("--no-seed", "--no-controller")
    try:
        return _measure(servers)
    finally:
        servers.stop()


def _measure(servers) -> dict:
    import ssl
    from datetime import timedelta

    import urllib3
    import yaml

    from apps.accounts.models import User
    from apps.accounts.services import create_api_key
    from apps.authz.models import Binding, Policy
    from apps.authz.services import ensure_predefined_policies, make_administrator
    from apps.clusters import services
    from apps.projects.models import Project, ProjectCluster, ProjectNamespace
    from apps.tenants.models import Tenant

    text = servers.kubeconfig.read_text()
    spec = services.spec_from_kubeconfig(text, "proxied")
    server = yaml.safe_load(text)["clusters"][0]["cluster"]["server"]
    sim = urllib3.PoolManager(
        ssl_context=ssl.create_default_context(cadata=spec.ca_data), retries=False, maxsize=8
    )
    started = time.perf_counter()
    namespaces = _populate(sim, server, spec.token)
    populate_s = time.perf_counter() - started

    tenant = Tenant.objects.create(slug="bench", display_name="Bench")
    ensure_predefined_policies(tenant)
    admin = User.objects.create(tenant=tenant, username="admin")
    make_administrator(actor=None, user=admin, admin=True)
    member = User.objects.create(tenant=tenant, username="member")
    cluster = services.import_cluster(actor=None, tenant=tenant, display_name="big", spec=spec)
    project = Project.objects.create(tenant=tenant, name="prj-bench0001", display_name="bench")
    ProjectCluster.objects.create(project=project, cluster=cluster, hard={})
    owned = namespaces[:: NAMESPACES // PROJECT_NAMESPACES]
    for ns in owned:
        ProjectNamespace.objects.create(
            tenant=tenant, project=project, cluster=cluster, namespace=ns
        )
    Binding.objects.create(
        tenant=tenant,
        policy=Policy.objects.get(tenant=tenant, name="project-member"),
        domain=project.name,
        user=member,
    )
    keys = {
        who: create_api_key(actor=user, user=user, expires_in=timedelta(hours=2))[1]
        for who, user in (("admin", admin), ("member", member))
    }
    portal = urllib3.PoolManager(
        ssl_context=ssl.create_default_context(cafile=str(servers.cert.ca_file)), retries=False
    )
    via = f"https://127.0.0.1:{servers.portal_port}/k8s/clusters/{cluster.name}"

    expected = {"admin": NAMESPACES * PODS_PER_NAMESPACE, "member": len(owned) * PODS_PER_NAMESPACE}
    full: dict[str, list[float]] = {"admin": [], "member": []}
    first: dict[str, list[float]] = {"admin": [], "member": []}
    pages: dict[str, int] = {}
    for i in range(SAMPLES + WARM_UP):
        for who in ("admin", "member") if i % 2 else ("member", "admin"):
            rows, page_times = _get_pods_all(portal, via, keys[who])
            if rows != expected[who]:
                raise RuntimeError(f"{who} listed {rows} pods, expected {expected[who]}")
            if i >= WARM_UP:
                full[who].append(sum(page_times))
                first[who].append(page_times[0])
                pages[who] = len(page_times)
    figures: dict = {
        "namespaces": NAMESPACES,
        "pods": NAMESPACES * PODS_PER_NAMESPACE,
        "project_namespaces": len(owned),
        "project_pods": expected["member"],
        "populate_s": round(populate_s, 1),
        "samples": SAMPLES,
    }
    for who in ("member", "admin"):
        p50, p99 = p50_p99_ms(full[who])
        figures[f"get_pods_A_{who}_p50_ms"], figures[f"get_pods_A_{who}_p99_ms"] = p50, p99
        figures[f"get_pods_A_{who}_pages"] = pages[who]
        p50, p99 = p50_p99_ms(first[who])
        figures[f"first_page_{who}_p50_ms"], figures[f"first_page_{who}_p99_ms"] = p50, p99
    figures.update(_kubectl(servers, via, keys, expected))
    return figures


def _populate(http, server: str, token: str) -> list[str]:
    """200 namespaces of 50 pods each, created through the API (8 requests in flight)."""
    import json

    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    names = [f"ns-{i:03d}" for i in range(NAMESPACES)]

    def post(path: str, body: dict) -> None:
        response = http.request(
            "POST", server + path, body=json.dumps(body).encode(), headers=headers
        )
        if response.status != 201:
            raise RuntimeError(f"POST {path}: {response.status} {response.data[:200]!r}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: post("/api/v1/namespaces", {"metadata": {"name": n}}), names))
        jobs = [(n, f"pod-{j:02d}") for n in names for j in range(PODS_PER_NAMESPACE)]
        list(
            pool.map(
                lambda job: post(
                    f"/api/v1/namespaces/{job[0]}/pods",
                    {
                        "metadata": {"name": job[1], "labels": {"app": "bench"}},
                        "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]},
                    },
                ),
                jobs,
            )
        )
    return names


def _get_pods_all(http, base: str, key: str) -> tuple[int, list[float]]:
    """``kubectl get pods -A`` on the wire: pages of 500 in Table form to the end; (rows,
    seconds per page)."""
    import json

    headers = {"Authorization": f"Bearer {key}", "Accept": TABLE_ACCEPT}
    token, rows, times = "", 0, []
    while True:
        url = f"{base}/api/v1/pods?limit=500" + (f"&continue={token}" if token else "")
        started = time.perf_counter()
        response = http.request("GET", url, headers=headers)
        times.append(time.perf_counter() - started)
        if response.status != 200:
            raise RuntimeError(f"GET {url}: {response.status} {response.data[:300]!r}")
        table = json.loads(response.data)
        rows += len(table["rows"])
        token = table["metadata"].get("continue") or ""
        if not token:
            return rows, times


def _kubectl(servers, via: str, keys: dict, expected: dict) -> dict:
    """The real kubectl: ``get pods -A --no-headers`` (process start included)."""
    import base64

    import yaml

    work = Path(tempfile.mkdtemp(prefix="tkeportal-bench-kubectl-"))
    ca = base64.b64encode(servers.cert.ca_pem).decode()
    out = {}
    for who in ("member", "admin"):
        home = work / who
        home.mkdir()
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": "c", "cluster": {"server": via, "certificate-authority-data": ca}}
            ],
            "users": [{"name": who, "user": {"token": keys[who]}}],
            "contexts": [{"name": "c", "context": {"cluster": "c", "user": who}}],
            "current-context": "c",
        }
        (home / "kubeconfig").write_text(yaml.safe_dump(config))
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "KUBECONFIG": str(home / "kubeconfig"),
            "KUBECACHEDIR": str(home / "cache"),
        }
        samples = []
        for i in range(KUBECTL_RUNS + 1):
            started = time.perf_counter()
            proc = subprocess.run(
                [KUBECTL, "get", "pods", "-A", "--no-headers"],
                capture_output=True, text=True, env=env, timeout=120,
            )  # fmt: skip
            elapsed = time.perf_counter() - started
            lines = proc.stdout.count("\n")
            if proc.returncode != 0 or lines != expected[who]:
                raise RuntimeError(f"kubectl as {who}: {proc.returncode} {lines} {proc.stderr}")
            if i:  # the first run fills the discovery cache
                samples.append(elapsed)
        out[f"kubectl_get_pods_A_{who}_p50_ms"], out[f"kubectl_get_pods_A_{who}_p99_ms"] = (
            p50_p99_ms(samples)
        )
    return out
