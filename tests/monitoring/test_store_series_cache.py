"""The store's per-process cache of series ids: a steady write does not read the series
back, yet a series another process created is found, a pruned one is created again, and a
rolled-back write teaches the cache nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from apps.monitoring import partitions, store
from apps.monitoring.models import ClusterMonitor, Series
from tests.factories import make_cluster
from tests.monitoring.test_store import pod_values

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@pytest.fixture(autouse=True)
def empty_cache():
    store.series_cache.clear()
    yield
    store.series_cache.clear()


@pytest.fixture
def cluster(tenant):
    cluster = make_cluster(tenant)
    ClusterMonitor.objects.create(tenant=tenant, cluster=cluster)
    partitions.ensure_partitions(T0 - timedelta(days=2))
    return cluster


def row(key: str, cpu: float, node: str = "n1") -> store.Row:
    return store.Row("pod", key, pod_values(cpu), {"namespace": key.split("/")[0], "node": node})


def write(cluster, when, rows, capture) -> int:
    """A write whose on-commit work runs (the test's transaction never commits)."""
    with capture(execute=True):
        return store.write(cluster, when, rows)


def points(cluster) -> list[tuple[str, datetime, float]]:
    """(series key, minute, cpu) of every raw point of the cluster, joined on the series."""
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT s.key, p.ts, p."values" FROM {partitions.RAW} p '  # noqa: S608
            "JOIN monitoring_series s ON s.id = p.series_id WHERE s.cluster_id = %s "
            "ORDER BY s.key, p.ts",
            [cluster.pk],
        )
        return [(key, ts, store.value_at(blob, 0)) for key, ts, blob in cursor.fetchall()]


def orphans() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {partitions.RAW} p "  # noqa: S608
            "WHERE NOT EXISTS (SELECT 1 FROM monitoring_series s WHERE s.id = p.series_id)"
        )
        return cursor.fetchone()[0]


def test_a_steady_write_uses_the_remembered_ids_without_reading_the_series(
    cluster, django_capture_on_commit_callbacks
):
    assert (
        write(
            cluster, T0, [row("web/a", 1.0), row("web/b", 2.0)], django_capture_on_commit_callbacks
        )
        == 2
    )
    ids = dict(Series.objects.filter(cluster=cluster).values_list("key", "pk"))
    assert store.series_cache.get(cluster.pk)[("pod", "web/a")][0] == ids["web/a"]

    with CaptureQueriesContext(connection) as queries:
        written = write(
            cluster,
            T0 + MINUTE,
            [row("web/a", 3.0), row("web/b", 4.0)],
            django_capture_on_commit_callbacks,
        )
    assert written == 2
    # The series rows (their labels above all) were not read back.
    assert not [q for q in queries.captured_queries if "labels" in q["sql"]]
    assert points(cluster) == [
        ("web/a", T0, 1.0),
        ("web/a", T0 + MINUTE, 3.0),
        ("web/b", T0, 2.0),
        ("web/b", T0 + MINUTE, 4.0),
    ]


def test_a_retried_minute_with_a_warm_cache_writes_nothing_twice(
    cluster, django_capture_on_commit_callbacks
):
    rows = [row("web/a", 1.0), row("web/b", 2.0)]
    assert write(cluster, T0, rows[:1], django_capture_on_commit_callbacks) == 1
    assert write(cluster, T0, rows[:1], django_capture_on_commit_callbacks) == 0
    assert write(cluster, T0 + timedelta(seconds=20), rows, django_capture_on_commit_callbacks) == 1
    assert [(k, ts) for k, ts, _ in points(cluster)] == [("web/a", T0), ("web/b", T0)]


def made_elsewhere(cluster) -> Series:
    """Series ``web/b``, as another worker's collection creates it (not through this cache)."""
    return Series.objects.create(
        cluster=cluster,
        level="pod",
        key="web/b",
        labels={"namespace": "web", "node": "n1"},
        first_seen=T0,
        last_seen=T0,
    )


def test_a_series_another_process_created_is_found_not_duplicated(
    cluster, django_capture_on_commit_callbacks
):
    write(cluster, T0, [row("web/a", 1.0)], django_capture_on_commit_callbacks)
    # Another worker's collection created web/b (and wrote its minute) meanwhile.
    other = made_elsewhere(cluster)
    store._insert(partitions.RAW, [(other.pk, T0 + MINUTE, store.pack(pod_values(9.0)))])

    written = write(
        cluster,
        T0 + MINUTE,
        [row("web/a", 2.0), row("web/b", 5.0)],
        django_capture_on_commit_callbacks,
    )

    assert written == 1  # web/b's minute was already there
    assert Series.objects.filter(cluster=cluster, key="web/b").get().pk == other.pk
    assert store.series_cache.get(cluster.pk)[("pod", "web/b")][0] == other.pk
    assert points(cluster) == [
        ("web/a", T0, 1.0),
        ("web/a", T0 + MINUTE, 2.0),
        ("web/b", T0 + MINUTE, 9.0),
    ]


def test_a_pruned_series_is_created_again_and_its_points_are_not_orphaned(
    cluster, django_capture_on_commit_callbacks, settings
):
    write(cluster, T0, [row("web/a", 1.0), row("web/b", 2.0)], django_capture_on_commit_callbacks)
    old = Series.objects.get(cluster=cluster, key="web/a")
    # web/a has not been seen for longer than every retention: prune forgets it.
    Series.objects.filter(pk=old.pk).update(last_seen=T0 - timedelta(days=400))
    report = store.prune(now=T0 + MINUTE)
    assert report["series_deleted"] == 1
    assert store.series_cache.get(cluster.pk)[("pod", "web/a")][0] == old.pk  # now stale

    later = T0 + 2 * MINUTE
    assert (
        write(
            cluster,
            later,
            [row("web/a", 3.0), row("web/b", 4.0)],
            django_capture_on_commit_callbacks,
        )
        == 2
    )

    new = Series.objects.get(cluster=cluster, key="web/a")
    assert new.pk != old.pk
    assert store.series_cache.get(cluster.pk)[("pod", "web/a")][0] == new.pk
    assert ("web/a", later, 3.0) in points(cluster)
    assert orphans() == 1  # only the point of the pruned series that prune left to retention


def test_an_id_that_became_another_series_is_not_used(cluster, django_capture_on_commit_callbacks):
    write(cluster, T0, [row("web/a", 1.0), row("web/b", 2.0)], django_capture_on_commit_callbacks)
    ids = dict(Series.objects.filter(cluster=cluster).values_list("key", "pk"))
    # The process remembers web/a under web/b's id (a database rebuilt under it, say).
    entries = dict(store.series_cache.get(cluster.pk))
    entries[("pod", "web/a")] = (ids["web/b"], *entries[("pod", "web/a")][1:])
    store.series_cache.put(cluster.pk, entries)

    write(
        cluster,
        T0 + MINUTE,
        [row("web/a", 3.0), row("web/b", 4.0)],
        django_capture_on_commit_callbacks,
    )

    assert points(cluster) == [
        ("web/a", T0, 1.0),
        ("web/a", T0 + MINUTE, 3.0),
        ("web/b", T0, 2.0),
        ("web/b", T0 + MINUTE, 4.0),
    ]
    assert store.series_cache.get(cluster.pk)[("pod", "web/a")][0] == ids["web/a"]


def test_a_rolled_back_write_leaves_the_cache_as_it_was(
    cluster, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            store.write(cluster, T0, [row("web/a", 1.0)])
            raise RuntimeError("the collection failed after writing")
    assert store.series_cache.get(cluster.pk) == {}
    assert not Series.objects.filter(cluster=cluster).exists()


def test_changed_labels_are_stored_with_a_warm_cache(cluster, django_capture_on_commit_callbacks):
    write(cluster, T0, [row("web/a", 1.0, node="n1")], django_capture_on_commit_callbacks)
    write(cluster, T0 + MINUTE, [row("web/a", 1.0, node="n2")], django_capture_on_commit_callbacks)
    assert Series.objects.get(cluster=cluster, key="web/a").labels == {
        "namespace": "web",
        "node": "n2",
    }
    # Unchanged labels are not written again.
    with CaptureQueriesContext(connection) as queries:
        write(
            cluster,
            T0 + 2 * MINUTE,
            [row("web/a", 1.0, node="n2")],
            django_capture_on_commit_callbacks,
        )
    assert not [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]


def test_last_seen_moves_hourly_with_a_warm_cache(cluster, django_capture_on_commit_callbacks):
    for minute in (0, 30, 61):
        write(
            cluster, T0 + minute * MINUTE, [row("web/a", 1.0)], django_capture_on_commit_callbacks
        )
    assert Series.objects.get(cluster=cluster, key="web/a").last_seen == T0 + 61 * MINUTE


def test_the_cache_is_bounded_and_forgets_the_least_recently_written_cluster():
    cache = store.SeriesCache(limit=5)
    cache.put(1, {("pod", "a"): (1, 0, T0), ("pod", "b"): (2, 0, T0)})
    cache.put(2, {("pod", "c"): (3, 0, T0), ("pod", "d"): (4, 0, T0)})
    cache.put(1, {("pod", "a"): (1, 0, T0), ("pod", "b"): (2, 0, T0)})  # written again
    cache.put(3, {("pod", "e"): (5, 0, T0), ("pod", "f"): (6, 0, T0)})
    assert len(cache) == 4
    assert cache.get(2) == {}
    assert set(cache.get(1)) == {("pod", "a"), ("pod", "b")}
    # A cluster larger than the whole bound is not remembered at all.
    cache.put(4, {("pod", str(i)): (i, 0, T0) for i in range(6)})
    assert cache.get(4) == {}
    assert len(cache) == 4
    # Only the series of a cluster's last write are kept.
    cache.put(1, {("pod", "a"): (1, 0, T0)})
    assert set(cache.get(1)) == {("pod", "a")}
    assert len(cache) == 3


def test_series_created_meanwhile_by_another_worker_are_read_not_created_twice(cluster):
    """The create step returns only what it created; write reads the rest."""
    theirs = made_elsewhere(cluster)
    created = store._create_series(cluster, T0, [row("web/a", 1.0), row("web/b", 2.0)])
    assert set(created) == {("pod", "web/a")}
    assert created[("pod", "web/a")][0] == Series.objects.get(cluster=cluster, key="web/a").pk
    assert Series.objects.get(cluster=cluster, key="web/a").labels == {
        "namespace": "web",
        "node": "n1",
    }
    assert store.write(cluster, T0, [row("web/a", 1.0), row("web/b", 2.0)]) == 2
    assert Series.objects.filter(cluster=cluster).count() == 2
    assert ("web/b", T0, 2.0) in points(cluster)
    assert Series.objects.get(cluster=cluster, key="web/b").pk == theirs.pk


def test_keys_and_labels_with_array_syntax_characters_round_trip(
    cluster, django_capture_on_commit_callbacks
):
    """Keys and labels go to PostgreSQL as array literals: quotes, backslashes, commas,
    braces, spaces, NULL and the empty key come back as they were, and are found again."""
    keys = ['ns/a"b', "ns/c\\d", "ns/e,f", "ns/{g}", "ns/h i", "ns/NULL", "ns/ü"]
    rows = [
        store.Row("pod", key, pod_values(float(i)), {"namespace": "ns", "pod": key[3:]})
        for i, key in enumerate(keys)
    ]
    rows.append(store.Row("cluster", "", [], {"cluster": 'c"1\\'}))
    assert write(cluster, T0, rows, django_capture_on_commit_callbacks) == len(rows)
    stored = {(s.level, s.key): s.labels for s in Series.objects.filter(cluster=cluster)}
    assert stored == {(r.level, r.key): r.labels for r in rows}
    # Found again through the cache's check: nothing created twice, every point written.
    assert set(store.series_cache.get(cluster.pk)) == {(r.level, r.key) for r in rows}
    assert write(cluster, T0 + MINUTE, rows, django_capture_on_commit_callbacks) == len(rows)
    assert Series.objects.filter(cluster=cluster).count() == len(rows)
    assert orphans() == 0


def test_a_fresh_process_reads_existing_series_once_and_updates_only_what_changed(
    cluster, django_capture_on_commit_callbacks
):
    """Empty cache, series in the table (a worker just started): labels compared with the
    stored ones, last_seen moved only when an hour old, the same ids used."""
    write(cluster, T0, [row("web/a", 1.0), row("web/b", 2.0)], django_capture_on_commit_callbacks)
    ids = dict(Series.objects.filter(cluster=cluster).values_list("key", "pk"))
    Series.objects.filter(pk=ids["web/b"]).update(last_seen=T0 - timedelta(hours=2))
    store.series_cache.clear()

    later = T0 + 30 * MINUTE
    with CaptureQueriesContext(connection) as queries:
        written = write(
            cluster,
            later,
            [row("web/a", 3.0, node="n2"), row("web/b", 4.0)],
            django_capture_on_commit_callbacks,
        )
    assert written == 2
    assert dict(Series.objects.filter(cluster=cluster).values_list("key", "pk")) == ids
    a, b = Series.objects.get(pk=ids["web/a"]), Series.objects.get(pk=ids["web/b"])
    assert a.labels == {"namespace": "web", "node": "n2"} and a.last_seen == later
    assert b.labels == {"namespace": "web", "node": "n1"} and b.last_seen == later
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 2  # a's labels, b's last_seen; nothing for what did not change
    cached = store.series_cache.get(cluster.pk)
    assert cached[("pod", "web/a")][0] == ids["web/a"]
    assert cached[("pod", "web/b")][2] == later
