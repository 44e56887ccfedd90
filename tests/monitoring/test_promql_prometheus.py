"""The same series in the portal's store and in a real Prometheus (2.42, Debian), the same
queries against both: the answers must have the same JSON shape, the same label sets and —
at a one-minute step over minute-aligned times — the same values.

How the values line up: the portal stores a collection made at 10:00:05 as the point of the
minute 10:00 and, at a 60 s step, answers for 10:01 the average of what was collected in
(10:00, 10:01] — that one point. Prometheus, given the sample at 10:00:05, answers for 10:01
the latest sample at or before 10:01 — the same one. At wider steps the portal averages the
step's points where Prometheus takes the last sample, so there only shapes and labels are
compared; past the data Prometheus keeps answering for its 5-minute lookback, so the ranges
stay inside the data.

Prometheus is fed by ``promtool tsdb create-blocks-from openmetrics`` (backfill), then started
on a loopback port over those blocks.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request  # noqa: S310 (loopback http only)
from datetime import timedelta

import pytest

from apps.clusters.models import Cluster
from tests.factories import make_cluster
from tests.monitoring.seed import PODS, origin, pod_cpu, seed

CLUSTER = "cls-compat"
MINUTES = 12


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _openmetrics(start) -> str:
    """What the portal's seed writes, as OpenMetrics samples at the collection instants."""
    lines = []
    families = {
        "k8s_pod_cpu_core_used": lambda key, i: pod_cpu(key, i),
        "k8s_pod_cpu_core_request": lambda key, i: 0.25,
    }
    for name, value in families.items():
        lines.append(f"# TYPE {name} gauge")
        for key, extra in PODS.items():
            namespace, pod = key.split("/")
            labels = {"cluster": CLUSTER, "namespace": namespace, "pod": pod, **extra}
            text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
            for i in range(MINUTES):
                at = int((start + timedelta(minutes=i, seconds=5)).timestamp())
                lines.append(f"{name}{{{text}}} {value(key, i)} {at}")
    lines.append("# TYPE k8s_node_cpu_usage gauge")
    for i in range(MINUTES):
        at = int((start + timedelta(minutes=i, seconds=5)).timestamp())
        lines.append(f'k8s_node_cpu_usage{{cluster="{CLUSTER}",node="node-a"}} {40.0 + i % 7} {at}')
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    if not shutil.which("prometheus") or not shutil.which("promtool"):
        pytest.fail("Prometheus is not installed: make install-dev (apt prometheus)")
    start = origin()
    work = tmp_path_factory.mktemp("prometheus")
    (work / "input.om").write_text(_openmetrics(start))
    (work / "prometheus.yml").write_text("global:\n  scrape_interval: 1m\n")
    subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(work / "input.om"),
         str(work / "data")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    port = _free_port()
    process = subprocess.Popen(
        ["prometheus", f"--config.file={work / 'prometheus.yml'}",
         f"--storage.tsdb.path={work / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{base}/-/ready", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            pytest.fail("Prometheus did not become ready")
        time.sleep(0.2)
    yield base, start
    process.terminate()
    process.wait(timeout=10)


def ask_prometheus(base: str, path: str, params: dict) -> tuple[int, dict]:
    url = f"{base}{path}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def portal(db, tenant, member, api, prometheus):
    _base, start = prometheus
    cluster = make_cluster(tenant, display_name="compat")
    Cluster.objects.filter(pk=cluster.pk).update(name=CLUSTER)
    cluster.refresh_from_db()
    seed(tenant, minutes=MINUTES, start=start, cluster=cluster)
    return api(member)


def both(prometheus, portal, path, params):
    base, _start = prometheus
    status, theirs = ask_prometheus(base, path, params)
    response = portal.get(path, params)
    return (status, theirs), (response.status_code, response.json())


def labelsets(body) -> list[dict]:
    return sorted(
        (row["metric"] for row in body["data"]["result"]), key=lambda m: sorted(m.items())
    )


QUERIES = [
    "k8s_pod_cpu_core_used",
    'k8s_pod_cpu_core_used{namespace="web"}',
    'k8s_pod_cpu_core_used{pod=~"api-.*", node!="node-b"}',
    'k8s_pod_cpu_core_used{namespace!~"w.*"}',
    "sum by (namespace) (k8s_pod_cpu_core_used)",
    "avg(k8s_pod_cpu_core_used) by (node)",
    "max without (pod, node) (k8s_pod_cpu_core_used)",
    "min(k8s_pod_cpu_core_used)",
    "count by (workload_name) (k8s_pod_cpu_core_used)",
    "k8s_pod_cpu_core_used > 0.3",
    "k8s_pod_cpu_core_used <= bool 0.105",
    "k8s_pod_cpu_core_used * 1000 - 1",
    "2 * k8s_node_cpu_usage / 100",
    "-k8s_node_cpu_usage",
    "k8s_pod_cpu_core_used / k8s_pod_cpu_core_request",
    "sum(k8s_pod_cpu_core_used) / count(k8s_pod_cpu_core_used)",
    '{__name__=~"k8s_pod_cpu_core_(used|request)", pod="pg-0"}',
    "1 + 2 * 3 ^ 2",
    "k8s_no_such_metric",
]


@pytest.mark.parametrize("text", QUERIES)
def test_query_range_matches_prometheus_at_one_minute_steps(prometheus, portal, text):
    _base, start = prometheus
    params = {
        "query": text,
        "start": int((start + timedelta(minutes=1)).timestamp()),
        "end": int((start + timedelta(minutes=MINUTES - 1)).timestamp()),
        "step": "60",
    }
    (status, theirs), (ours_status, ours) = both(prometheus, portal, "/api/v1/query_range", params)
    assert status == ours_status == 200, (theirs, ours)
    assert set(ours) == set(theirs) == {"status", "data"}
    assert ours["data"]["resultType"] == theirs["data"]["resultType"] == "matrix"
    assert labelsets(ours) == labelsets(theirs)
    key = lambda row: sorted(row["metric"].items())  # noqa: E731
    for mine, real in zip(
        sorted(ours["data"]["result"], key=key),
        sorted(theirs["data"]["result"], key=key),
        strict=True,
    ):
        assert [t for t, _v in mine["values"]] == [t for t, _v in real["values"]]
        for (_t, a), (_t2, b) in zip(mine["values"], real["values"], strict=True):
            assert float(a) == pytest.approx(float(b), rel=1e-6), (text, a, b)
            assert isinstance(a, str) and isinstance(b, str)


@pytest.mark.parametrize(
    "text", ["sum by (namespace) (k8s_pod_cpu_core_used)", "k8s_node_cpu_usage"]
)
def test_wider_steps_have_the_same_shape_and_labels(prometheus, portal, text):
    _base, start = prometheus
    params = {
        "query": text,
        "start": int((start + timedelta(minutes=5)).timestamp()),
        "end": int((start + timedelta(minutes=10)).timestamp()),
        "step": "5m",
    }
    (status, theirs), (ours_status, ours) = both(prometheus, portal, "/api/v1/query_range", params)
    assert status == ours_status == 200
    assert labelsets(ours) == labelsets(theirs)
    for mine, real in zip(ours["data"]["result"], theirs["data"]["result"], strict=True):
        assert [t for t, _v in mine["values"]] == [t for t, _v in real["values"]]


@pytest.mark.parametrize(
    "text", ["k8s_pod_cpu_core_used", "sum(k8s_pod_cpu_core_used) by (namespace)", "1+1", "-Inf"]
)
def test_instant_queries_match(prometheus, portal, text):
    _base, start = prometheus
    params = {"query": text, "time": int((start + timedelta(minutes=7, seconds=30)).timestamp())}
    (status, theirs), (ours_status, ours) = both(prometheus, portal, "/api/v1/query", params)
    assert status == ours_status == 200
    assert ours["data"]["resultType"] == theirs["data"]["resultType"]
    if ours["data"]["resultType"] == "scalar":
        assert ours["data"]["result"] == theirs["data"]["result"]
        return
    assert labelsets(ours) == labelsets(theirs)
    real = {tuple(sorted(r["metric"].items())): r["value"] for r in theirs["data"]["result"]}
    for row in ours["data"]["result"]:
        assert row["value"] == real[tuple(sorted(row["metric"].items()))]


@pytest.mark.parametrize(
    "text", ["rate(", "k8s_pod_cpu_core_used{", "1 > 2", "sum(1)", "", "k8s_pod_cpu_core_used)"]
)
def test_errors_have_the_same_shape_and_type(prometheus, portal, text):
    _base, start = prometheus
    params = {"query": text, "start": int(start.timestamp()), "end": int(start.timestamp()) + 60,
              "step": "60"}  # fmt: skip
    (status, theirs), (ours_status, ours) = both(prometheus, portal, "/api/v1/query_range", params)
    assert status == ours_status == 400
    assert set(ours) == set(theirs) == {"status", "errorType", "error"}
    assert ours["status"] == theirs["status"] == "error"
    assert ours["errorType"] == theirs["errorType"] == "bad_data"


def test_series_match(prometheus, portal):
    _base, start = prometheus
    params = {
        "match[]": 'k8s_pod_cpu_core_used{namespace="web"}',
        "start": int(start.timestamp()),
        "end": int((start + timedelta(minutes=MINUTES)).timestamp()),
    }
    (status, theirs), (ours_status, ours) = both(prometheus, portal, "/api/v1/series", params)
    assert status == ours_status == 200
    assert sorted(ours["data"], key=lambda m: m["pod"]) == sorted(
        theirs["data"], key=lambda m: m["pod"]
    )
