"""The Prometheus-compatible API over the store: answers in Prometheus' shapes, the subset's
operators on known values, Grafana's data-source checks, and who sees which series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.monitoring.seed import origin, pod_cpu, seed

pytestmark = pytest.mark.django_db


@pytest.fixture
def start():
    return origin()


@pytest.fixture
def cluster(tenant, start):
    return seed(tenant, minutes=12, start=start)


def rng(start, minutes=10, step="60"):
    return {
        "start": int(start.timestamp()),
        "end": int((start + timedelta(minutes=minutes)).timestamp()),
        "step": step,
    }


def query_range(client, start, text, **extra):
    response = client.get("/api/v1/query_range", {"query": text, **rng(start), **extra})
    return response


def by_pod(body):
    return {row["metric"].get("pod"): row for row in body["data"]["result"]}


def ts(start, minute):
    return int((start + timedelta(minutes=minute)).timestamp())


def test_selector_answers_a_matrix_in_prometheus_shape(api, member, cluster, start):
    response = query_range(api(member), start, 'k8s_pod_cpu_core_used{namespace="web"}')
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "success"
    assert body["data"]["resultType"] == "matrix"
    rows = by_pod(body)
    assert set(rows) == {"api-1", "api-2"}
    assert rows["api-1"]["metric"] == {
        "__name__": "k8s_pod_cpu_core_used",
        "cluster": cluster.name,
        "namespace": "web",
        "node": "node-a",
        "pod": "api-1",
        "workload_kind": "Deployment",
        "workload_name": "api",
    }
    assert rows["api-1"]["values"] == [
        [ts(start, i + 1), str(pod_cpu("web/api-1", i))] for i in range(10)
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # aggregation by a label: per namespace sums of minute 0 (api-1 0.1 + api-2 0.2)
        ("sum by (namespace) (k8s_pod_cpu_core_used)", {"web": "0.3", "db": "0.5"}),
        ("max by (namespace) (k8s_pod_cpu_core_used)", {"web": "0.2", "db": "0.5"}),
        ("min(k8s_pod_cpu_core_used) by (namespace)", {"web": "0.1", "db": "0.5"}),
        ("count by (namespace) (k8s_pod_cpu_core_used)", {"web": "2", "db": "1"}),
        ("avg by (namespace) (k8s_pod_cpu_core_used)", {"web": "0.15", "db": "0.5"}),
    ],
)
def test_aggregations(api, member, cluster, start, text, expected):
    body = query_range(api(member), start, text).json()
    got = {row["metric"]["namespace"]: row["values"][0][1] for row in body["data"]["result"]}
    # float64 arithmetic as Prometheus does it (0.1 + 0.2 is 0.30000000000000004 there too)
    assert {k: float(v) for k, v in got.items()} == pytest.approx(
        {k: float(v) for k, v in expected.items()}
    )
    assert all(set(row["metric"]) == {"namespace"} for row in body["data"]["result"])


def test_aggregation_without_drops_the_name_and_the_labels(api, member, cluster, start):
    body = query_range(
        api(member), start, 'sum without (pod, node) (k8s_pod_cpu_core_used{namespace="web"})'
    ).json()
    [row] = body["data"]["result"]
    assert row["metric"] == {
        "cluster": cluster.name,
        "namespace": "web",
        "workload_kind": "Deployment",
        "workload_name": "api",
    }


def test_matchers_regex_and_negation(api, member, cluster, start):
    client = api(member)
    assert set(
        by_pod(query_range(client, start, 'k8s_pod_cpu_core_used{pod=~"api-.*"}').json())
    ) == {
        "api-1",
        "api-2",
    }
    assert set(
        by_pod(query_range(client, start, 'k8s_pod_cpu_core_used{pod!~"api-.*"}').json())
    ) == {"pg-0"}
    assert set(
        by_pod(query_range(client, start, 'k8s_pod_cpu_core_used{node!="node-a"}').json())
    ) == {"api-2"}
    assert (
        query_range(client, start, 'k8s_pod_cpu_core_used{cluster="elsewhere"}').json()["data"][
            "result"
        ]
        == []
    )
    named = query_range(
        client, start, f'{{__name__=~"k8s_pod_cpu_core_.*", cluster="{cluster.name}", pod="pg-0"}}'
    ).json()
    names = {row["metric"]["__name__"] for row in named["data"]["result"]}
    assert names == {"k8s_pod_cpu_core_used", "k8s_pod_cpu_core_request"}


def test_scalar_comparison_filters_and_arithmetic_drops_the_name(api, member, cluster, start):
    client = api(member)
    hot = query_range(client, start, "k8s_pod_cpu_core_used > 0.3").json()
    assert set(by_pod(hot)) == {"pg-0"}
    assert by_pod(hot)["pg-0"]["metric"]["__name__"] == "k8s_pod_cpu_core_used"
    # bool: 0/1 for every step, without the name
    flags = by_pod(query_range(client, start, "k8s_pod_cpu_core_used > bool 0.3").json())
    assert flags["api-1"]["values"][0][1] == "0" and flags["pg-0"]["values"][0][1] == "1"
    assert "__name__" not in flags["pg-0"]["metric"]
    milli = by_pod(query_range(client, start, 'k8s_pod_cpu_core_used{pod="api-1"} * 1000').json())
    assert milli["api-1"]["values"][:2] == [[ts(start, 1), "100"], [ts(start, 2), "101"]]
    assert "__name__" not in milli["api-1"]["metric"]
    # vector / vector on identical label sets: used over requested
    ratio = by_pod(
        query_range(
            client, start, 'k8s_pod_cpu_core_used{pod="pg-0"} / k8s_pod_cpu_core_request'
        ).json()
    )
    assert ratio["pg-0"]["values"][0][1] == "2"


def test_scalars_and_grafana_save_and_test(api, member, cluster):
    client = api(member)
    now = datetime.now(UTC).timestamp()
    response = client.get("/api/v1/query", {"query": "1+1", "time": now})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    assert body["data"]["resultType"] == "scalar"
    assert body["data"]["result"][1] == "2"
    assert abs(body["data"]["result"][0] - now) < 0.01
    info = client.get("/api/v1/status/buildinfo").json()
    assert info["status"] == "success" and info["data"]["version"].startswith("2.")
    # a scalar over a range: one series without labels
    ranged = client.get(
        "/api/v1/query_range", {"query": "2 * 3", "start": 0, "end": 120, "step": 60}
    ).json()
    assert ranged["data"]["result"] == [{"metric": {}, "values": [[0, "6"], [60, "6"], [120, "6"]]}]


def test_post_form_as_grafana_sends_it(api, member, cluster, start):
    response = api(member).post(
        "/api/v1/query_range",
        {"query": 'k8s_pod_cpu_core_used{pod="pg-0"}', **rng(start, step="5m")},
        format="multipart",
    )
    assert response.status_code == 200, response.content
    [row] = response.json()["data"]["result"]
    # The step stamped start+5m averages minutes 0..4.
    assert row["values"][0] == [ts(start, 5), "0.502"]
    form = api(member).generic(
        "POST",
        "/api/v1/query",
        "query=1%2B1",
        content_type="application/x-www-form-urlencoded",
    )
    assert form.json()["data"]["result"][1] == "2"


def test_short_steps_and_instant_queries_use_the_lookback(api, member, cluster, start):
    client = api(member)
    body = query_range(client, start, 'k8s_pod_cpu_core_used{pod="api-1"}', step="15s").json()
    values = body["data"]["result"][0]["values"]
    # Every 15 s step has the latest minute point at or before it (as of its minute's start).
    assert values[:6] == [
        [ts(start, 0), "0.1"],
        [ts(start, 0) + 15, "0.1"],
        [ts(start, 0) + 30, "0.1"],
        [ts(start, 0) + 45, "0.1"],
        [ts(start, 1), "0.101"],
        [ts(start, 1) + 15, "0.101"],
    ]
    at = ts(start, 7) + 20
    instant = client.get(
        "/api/v1/query", {"query": 'k8s_pod_cpu_core_used{pod="api-1"}', "time": at}
    )
    [row] = instant.json()["data"]["result"]
    assert row["value"] == [at, "0.107"]
    assert instant.json()["data"]["resultType"] == "vector"
    # Past the lookback (5 minutes after the last point) there is nothing.
    late = client.get(
        "/api/v1/query", {"query": 'k8s_pod_cpu_core_used{pod="api-1"}', "time": ts(start, 17)}
    )
    assert late.json()["data"]["result"] == []


@pytest.mark.parametrize(
    ("params", "status", "kind", "words"),
    [
        ({"query": "rate(x[5m])"}, 400, "bad_data", "1:1: parse error: function"),
        ({"query": "1 > 2"}, 400, "bad_data", "BOOL modifier"),
        ({"query": ""}, 400, "bad_data", "no expression found"),
        ({"query": "1", "start": "soon"}, 400, "bad_data", 'invalid parameter "start"'),
        ({"query": "1", "step": "0"}, 400, "bad_data", 'invalid parameter "step"'),
        ({"query": "1", "end": "0"}, 400, "bad_data", "end timestamp must not be before"),
        ({"query": "1", "step": "0.01"}, 400, "bad_data", "11,000 points"),
        ({"query": "sum(1)"}, 400, "bad_data", "got scalar"),
    ],
)
def test_errors_in_prometheus_shape(api, member, cluster, start, params, status, kind, words):
    merged = {**rng(start), **params}
    response = api(member).get("/api/v1/query_range", merged)
    assert response.status_code == status
    body = response.json()
    assert body["status"] == "error" and body["errorType"] == kind
    assert words in body["error"]


def test_too_many_series_is_an_execution_error(api, member, cluster, start, monkeypatch):
    from apps.monitoring import promql_eval

    monkeypatch.setattr(promql_eval, "MAX_SERIES", 2)
    response = query_range(api(member), start, "k8s_pod_cpu_core_used")
    assert response.status_code == 422
    assert response.json()["errorType"] == "execution"
    assert "more than 2 series" in response.json()["error"]
    monkeypatch.setattr(promql_eval, "MAX_SERIES", 2_000)
    monkeypatch.setattr(promql_eval, "MAX_SAMPLES", 30)  # 3 pods × 11 steps = 33
    samples = query_range(api(member), start, "k8s_pod_cpu_core_used")
    assert samples.status_code == 422
    assert "too many samples" in samples.json()["error"]
    assert query_range(api(member), start, 'k8s_pod_cpu_core_used{pod="pg-0"}').status_code == 200


def test_labels_values_series_and_metadata(api, member, project_member, cluster, start):
    client = api(member)
    labels = client.get("/api/v1/labels").json()["data"]
    assert {"__name__", "cluster", "namespace", "pod", "node"} <= set(labels)
    names = client.get("/api/v1/label/__name__/values").json()["data"]
    assert "k8s_pod_cpu_core_used" in names and "k8s_cluster_node_total" in names
    assert client.get("/api/v1/label/cluster/values").json()["data"] == [cluster.name]
    assert client.get("/api/v1/label/namespace/values").json()["data"] == ["db", "web"]
    # A project member sees the values of their own namespace only.
    own = api(project_member).get("/api/v1/label/pod/values").json()["data"]
    assert own == ["api-1", "api-2"]
    series = client.get(
        "/api/v1/series",
        {"match[]": 'k8s_pod_cpu_core_used{namespace="db"}', **rng(start)},
    ).json()
    assert series["data"] == [
        {
            "__name__": "k8s_pod_cpu_core_used",
            "cluster": cluster.name,
            "namespace": "db",
            "node": "node-a",
            "pod": "pg-0",
            "workload_kind": "StatefulSet",
            "workload_name": "pg",
        }
    ]
    assert client.get("/api/v1/series").json()["errorType"] == "bad_data"
    metadata = client.get("/api/v1/metadata", {"metric": "k8s_node_cpu_usage"}).json()["data"]
    assert metadata == {
        "k8s_node_cpu_usage": [
            {"type": "gauge", "help": "CPU used / capacity (percent), node level", "unit": ""}
        ]
    }


def test_permission_matrix(
    api, anon_client, member, project_member, viewer, other_user, cluster, start
):
    text = "k8s_pod_cpu_core_used"
    # Anonymous: 401 in Prometheus' shape, for every endpoint.
    for path in ("/api/v1/query_range", "/api/v1/query", "/api/v1/labels",
                 "/api/v1/label/pod/values", "/api/v1/series", "/api/v1/metadata",
                 "/api/v1/status/buildinfo"):  # fmt: skip
        response = anon_client.get(path, {"query": text})
        assert response.status_code == 401, path
        assert response.json()["status"] == "error"
        assert response.json()["errorType"] == "unauthorized"
    # Everyone reads only what they may: all pods, the project's pods, nothing.
    assert set(by_pod(query_range(api(member), start, text).json())) == {"api-1", "api-2", "pg-0"}
    assert set(by_pod(query_range(api(project_member), start, text).json())) == {"api-1", "api-2"}
    assert query_range(api(viewer), start, text).json()["data"]["result"] == []
    # Another tenant's admin sees none of this tenant's series or clusters.
    other = api(other_user)
    assert query_range(other, start, text).json()["data"]["result"] == []
    assert other.get("/api/v1/label/cluster/values").json()["data"] == []
    # Cluster and node metrics are the platform's: not for a project member.
    assert (
        query_range(api(project_member), start, "k8s_cluster_node_total").json()["data"]["result"]
        == []
    )
    assert (
        len(query_range(api(member), start, "k8s_cluster_node_total").json()["data"]["result"]) == 1
    )


def test_random_queries_through_the_api_answer_success_or_an_error_shape(
    api, member, cluster, start
):
    """Whatever the query text, the API answers 200 with data, or 400/422 in Prometheus' error
    shape — never a 500 (hypothesis, over the seeded store)."""
    from hypothesis import HealthCheck, given, settings

    from tests.monitoring.test_promql import queries

    client = api(member)

    @settings(
        max_examples=120,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(queries)
    def check(text):
        response = query_range(client, start, text)
        body = response.json()
        if response.status_code == 200:
            assert body["status"] == "success"
            assert body["data"]["resultType"] == "matrix"
        else:
            assert response.status_code in (400, 422), (text, response.status_code)
            assert body["status"] == "error"
            assert body["errorType"] == ("bad_data" if response.status_code == 400 else "execution")
            assert body["error"]

    check()
