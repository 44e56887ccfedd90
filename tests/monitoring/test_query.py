"""/api/v1/metrics/: parameters checked against the catalogue, points from the store, and who
sees which series (the permission matrix of the endpoint)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from apps.monitoring import query, store
from apps.monitoring.models import ClusterMonitor
from tests.monitoring.seed import origin, pod_cpu, seed

pytestmark = pytest.mark.django_db
URL = "/api/v1/metrics/"


@pytest.fixture
def start():
    return origin()


@pytest.fixture
def cluster(tenant, start):
    return seed(tenant, minutes=30, start=start)


def params(the_cluster, the_start, **extra):
    out = {
        "cluster": the_cluster.name,
        "level": "pod",
        "object": "web/api-1",
        "metric": "k8s_pod_cpu_core_used",
        "start": the_start.isoformat().replace("+00:00", "Z"),
        "end": int((the_start + timedelta(minutes=10)).timestamp()),
        "step": "60s",
    }
    out.update(extra)
    return {k: v for k, v in out.items() if v is not None}


def test_one_pod_one_minute_steps_are_the_stored_values(api, member, cluster, start):
    response = api(member).get(URL, params(cluster, start))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["cluster"] == cluster.name and body["level"] == "pod"
    assert body["step"] == 60 and body["resolution"] == "1m" and body["truncated"] is False
    [series] = body["series"]
    assert series["object"] == "web/api-1"
    assert series["metric"] == "k8s_pod_cpu_core_used"
    assert series["unit"] == "core" and series["display_name"] == "CPU used"
    assert series["labels"] == {
        "cluster": cluster.name,
        "namespace": "web",
        "pod": "api-1",
        "node": "node-a",
        "workload_kind": "Deployment",
        "workload_name": "api",
    }
    # The point stamped t averages the minute ending at t: minute i is stamped start+(i+1)m.
    points = series["points"]
    assert [p[0] for p in points] == [
        int((start + timedelta(minutes=i)).timestamp()) for i in range(1, 11)
    ]
    assert [p[1] for p in points] == [pod_cpu("web/api-1", i) for i in range(10)]


def test_five_minute_step_averages_and_several_metrics_short_names(api, member, cluster, start):
    response = api(member).get(
        URL,
        params(cluster, start, metric="cpu_core_used,cpu_core_request,restart_total", step="5m"),
    )
    assert response.status_code == 200, response.content
    by_metric = {s["metric"]: s for s in response.json()["series"]}
    assert set(by_metric) == {
        "k8s_pod_cpu_core_used",
        "k8s_pod_cpu_core_request",
        "k8s_pod_restart_total",
    }
    cpu = by_metric["k8s_pod_cpu_core_used"]["points"]
    assert response.json()["resolution"] == "5m"
    # Nothing rolled up yet: the 5-minute steps are averaged from the raw points. The step
    # stamped start+5m holds minutes 0..4 (their ends fall in (start, start+5m]).
    assert cpu == [
        [
            int((start + timedelta(minutes=5 * k)).timestamp()),
            pytest.approx(sum(pod_cpu("web/api-1", i) for i in range(5 * k - 5, 5 * k)) / 5),
        ]
        for k in (1, 2)
    ]
    assert {p[1] for p in by_metric["k8s_pod_cpu_core_request"]["points"]} == {0.25}


def test_rolled_up_and_raw_tail_agree(api, member, cluster, start):
    before = api(member).get(URL, params(cluster, start, step="5m", end=None)).json()
    # Roll up the first 15 minutes only: the rest still comes from the raw points.
    monitor = ClusterMonitor.objects.get(cluster=cluster)
    store.roll_up(monitor, now=start + timedelta(minutes=15))
    assert monitor.rolled_5m_until == start + timedelta(minutes=15)
    after = api(member).get(URL, params(cluster, start, step="5m", end=None)).json()
    expected = [
        pytest.approx(sum(pod_cpu("web/api-1", i) for i in range(5 * k - 5, 5 * k)) / 5)
        for k in range(1, 7)
    ]
    assert [p[1] for p in before["series"][0]["points"]] == expected
    assert [p[1] for p in after["series"][0]["points"]] == expected


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"level": "galaxy"}, "level", ["galaxy", "cluster, node, namespace"]),
        (
            {"metric": "k8s_pod_warp_factor"},
            "metric",
            ["k8s_pod_warp_factor", "k8s_pod_cpu_core_used"],
        ),
        ({"metric": "k8s_node_cpu_usage"}, "metric", ["k8s_node_cpu_usage", "level pod"]),
        ({"metric": None}, "metric", ["at least one metric"]),
        ({"start": "yesterday"}, "start", ["RFC 3339"]),
        ({"end": "2026-01-01T00:00:00"}, "end", ["no offset"]),
        ({"end": "1"}, "end", ["before start"]),
        ({"step": "1fortnight"}, "step", ["not a duration"]),
        ({"step": "-5"}, "step", ["positive"]),
        ({"step": "1s", "end": None}, "step", ["11000 points"]),
        ({"object": "api-1"}, "object", ["<namespace>/<pod>"]),
        ({"cluster": None}, "cluster", ["name the cluster"]),
    ],
)
def test_bad_parameters_are_400_naming_the_field(api, member, cluster, start, change, field, words):
    args = params(cluster, start, **change)
    if change.get("step") == "1s":
        args["end"] = int((start + timedelta(hours=4)).timestamp())
    response = api(member).get(URL, args)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "validation_error"
    message = " ".join(body["fields"][field])
    for word in words:
        assert word in message


def test_every_object_of_a_level_without_object(api, member, project_member, cluster, start):
    everything = api(member).get(URL, params(cluster, start, object=None))
    assert everything.status_code == 200
    assert sorted(s["object"] for s in everything.json()["series"]) == [
        "db/pg-0",
        "web/api-1",
        "web/api-2",
    ]
    # A project member sees their project's namespace only; a namespace filter narrows.
    own = api(project_member).get(URL, params(cluster, start, object=None))
    assert sorted(s["object"] for s in own.json()["series"]) == ["web/api-1", "web/api-2"]
    narrowed = api(member).get(URL, params(cluster, start, object=None, namespace="db"))
    assert [s["object"] for s in narrowed.json()["series"]] == ["db/pg-0"]


def test_listing_is_capped_and_says_so(api, member, cluster, start, monkeypatch):
    monkeypatch.setattr(query, "MAX_OBJECTS", 2)
    response = api(member).get(URL, params(cluster, start, object=None))
    body = response.json()
    assert body["truncated"] is True
    assert [s["object"] for s in body["series"]] == ["db/pg-0", "web/api-1"]


def test_project_member_reads_own_namespace_only(api, project_member, cluster, start):
    client = api(project_member)
    assert client.get(URL, params(cluster, start)).status_code == 200
    other = client.get(URL, params(cluster, start, object="db/pg-0"))
    assert other.status_code == 403
    assert "listMetrics" in other.json()["detail"]
    assert "namespace:db/pod:pg-0/metric:*" in other.json()["detail"]
    workload = client.get(
        URL,
        params(
            cluster,
            start,
            level="workload",
            object="web/Deployment/api",
            metric="k8s_workload_pod_total",
        ),
    )
    assert workload.status_code == 200
    assert {p[1] for p in workload.json()["series"][0]["points"]} == {2.0}
    # Cluster and node metrics are the platform's.
    cluster_level = client.get(
        URL, params(cluster, start, level="cluster", object="", metric="cpu_core_used")
    )
    assert cluster_level.status_code == 403
    listing = client.get(URL, params(cluster, start, level="node", object=None, metric="cpu_usage"))
    assert listing.status_code == 200 and listing.json()["series"] == []


def test_cluster_and_node_levels_for_platform_users(api, member, cluster, start):
    response = api(member).get(
        URL, params(cluster, start, level="cluster", object="", metric="k8s_cluster_node_total")
    )
    assert response.status_code == 200, response.content
    [series] = response.json()["series"]
    assert series["labels"] == {"cluster": cluster.name}
    assert {p[1] for p in series["points"]} == {2.0}
    node = api(member).get(
        URL, params(cluster, start, level="node", object="node-a", metric="k8s_node_cpu_usage")
    )
    assert node.json()["series"][0]["unit"] == "percent"
    assert node.json()["series"][0]["points"][0][1] == 40.0


def test_unknown_object_is_an_empty_answer(api, member, cluster, start):
    response = api(member).get(URL, params(cluster, start, object="web/ghost"))
    assert response.status_code == 200
    assert response.json()["series"] == []


def test_permission_matrix(api, anon_client, viewer, other_user, member, cluster, start, client):
    args = params(cluster, start)
    anonymous = anon_client.get(URL, args)
    assert anonymous.status_code == 401
    # Another tenant's cluster is not found, whoever asks.
    other = api(other_user).get(URL, args)
    assert other.status_code == 404 and cluster.name in other.json()["detail"]
    # A viewer (login only) finds no cluster to read.
    assert api(viewer).get(URL, args).status_code == 404
    # The console's session works as well as an API key.
    client.force_login(member)
    session = client.get(URL, args)
    assert session.status_code == 200 and len(session.json()["series"]) == 1


def test_parse_helpers():
    assert query.parse_duration("1h30m") == timedelta(minutes=90)
    assert query.parse_duration("90") == timedelta(seconds=90)
    assert query.parse_duration("1.5") == timedelta(seconds=1.5)
    for bad in ("", "5x", "m", "0", "-1", "nan", "inf", "1m 5s"):
        with pytest.raises(ValueError):
            query.parse_duration(bad)
    assert query.parse_time("1764583200").timestamp() == 1764583200
    assert query.parse_time("2026-12-01T10:00:00+01:00").hour == 9
    assert query.clean(0.30000001192092896) == 0.3


def test_a_week_at_hourly_steps_before_any_roll_up_reads_the_raw_points(
    api, member, cluster, start
):
    end = start + timedelta(hours=1)
    response = api(member).get(
        URL,
        params(
            cluster,
            start,
            start=int((end - timedelta(days=7)).timestamp()),
            end=int(end.timestamp()),
            step="1h",
        ),
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["resolution"] == "1h"
    [series] = body["series"]
    # One hourly step, ending at start+1h: the average of the 30 minutes written.
    assert series["points"] == [
        [int(end.timestamp()), pytest.approx(sum(pod_cpu("web/api-1", i) for i in range(30)) / 30)]
    ]
