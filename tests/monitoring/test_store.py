"""The metric store on PostgreSQL: packing, idempotent writes, windows, range queries at
every resolution, roll-ups and retention by partition."""

from __future__ import annotations

import math
import struct
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from apps.monitoring import partitions, store
from apps.monitoring.catalog import CATALOG, POSITION
from apps.monitoring.models import ClusterMonitor, Series
from tests.factories import make_cluster

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def pod_values(cpu: float, mem: float | None = None) -> list[float | None]:
    values: list[float | None] = [None] * len(CATALOG["pod"])
    values[POSITION[("pod", "cpu_core_used")]] = cpu
    values[POSITION[("pod", "mem_usage_bytes")]] = mem
    return values


@pytest.fixture
def cluster(tenant):
    cluster = make_cluster(tenant)
    ClusterMonitor.objects.create(tenant=tenant, cluster=cluster)
    partitions.ensure_partitions(T0 - timedelta(days=2))
    return cluster


def write_minutes(cluster, minutes: int, cpu=lambda i: float(i), key="web/api-1"):
    for i in range(minutes):
        store.write(
            cluster,
            T0 + timedelta(minutes=i, seconds=7),
            [store.Row("pod", key, pod_values(cpu(i)), {"namespace": key.split("/")[0]})],
        )


def test_pack_round_trip_keeps_absent_values_absent():
    blob = store.pack([1.5, None, 2.0])
    assert len(blob) == 12
    assert store.value_at(blob, 0) == 1.5
    assert store.value_at(blob, 1) is None
    assert store.value_at(blob, 2) == 2.0
    assert store.value_at(blob, 7) is None  # older than the metric


def test_write_is_idempotent_per_minute_and_creates_series_once(cluster):
    row = store.Row("pod", "web/api-1", pod_values(0.25), {"namespace": "web"})
    assert store.write(cluster, T0, [row]) == 1
    assert store.write(cluster, T0 + timedelta(seconds=30), [row]) == 0
    # A retried collection writes only the series it had not written yet.
    other = store.Row("pod", "web/api-2", pod_values(0.5), {"namespace": "web"})
    assert store.write(cluster, T0, [row, other]) == 1
    assert Series.objects.filter(cluster=cluster).count() == 2
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {partitions.RAW}")  # noqa: S608
        assert cursor.fetchone()[0] == 2


def test_written_blobs_round_trip_bytes_that_copy_text_escapes(cluster):
    """Points go in as COPY text: tab, newline and backslash bytes in a blob come back."""
    (awkward,) = struct.unpack("<f", b"\t\n\\?")
    write_minutes(cluster, 1, cpu=lambda i: awkward)
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT "values" FROM {partitions.RAW}')  # noqa: S608
        blob = bytes(cursor.fetchone()[0])
    at = POSITION[("pod", "cpu_core_used")]
    assert blob[at * 4 : at * 4 + 4] == b"\t\n\\?"
    assert store.value_at(blob, at) == awkward


def test_write_refuses_more_values_than_the_catalogue(cluster):
    with pytest.raises(ValueError, match="more values"):
        store.write(cluster, T0, [store.Row("node", "n1", [1.0] * 200)])


def test_rows_land_in_the_days_partition(cluster):
    write_minutes(cluster, 2)
    name = partitions.partition_name(partitions.RAW, T0.date())
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {name}")  # noqa: S608
        assert cursor.fetchone()[0] == 2


def test_window_average_per_object_and_label_filter(cluster):
    write_minutes(cluster, 5, key="web/api-1")
    write_minutes(cluster, 5, cpu=lambda i: 10.0, key="db/pg-0")
    got = store.window_average(cluster.pk, "pod", "cpu_core_used", T0, T0 + timedelta(minutes=5))
    assert got == {"web/api-1": 2.0, "db/pg-0": 10.0}
    web = store.window(
        cluster.pk,
        "pod",
        "cpu_core_used",
        T0 + timedelta(minutes=3),
        T0 + timedelta(minutes=5),
        labels={"namespace": "web"},
    )
    assert web == {"web/api-1": [3.0, 4.0]}
    # Memory was never given: no object has a value.
    assert store.window(cluster.pk, "pod", "mem_usage_bytes", T0, T0 + timedelta(hours=1)) == {}


def test_range_query_raw_averages_each_step(cluster):
    write_minutes(cluster, 10)
    sid = Series.objects.get(cluster=cluster).pk
    got = store.range_query(
        [sid],
        "pod",
        "cpu_core_used",
        T0 + timedelta(minutes=2),
        T0 + timedelta(minutes=6),
        timedelta(minutes=2),
        now=T0 + timedelta(minutes=11),
    )
    # Step ending at t averages the minutes measured in (t-2m, t]: a minute stamped m
    # covers [m, m+1).
    assert got[sid] == [
        (T0 + timedelta(minutes=2), 0.5),
        (T0 + timedelta(minutes=4), 2.5),
        (T0 + timedelta(minutes=6), 4.5),
    ]


def test_roll_up_fills_5m_and_1h_once_and_range_query_reads_them(cluster):
    write_minutes(cluster, 120, cpu=lambda i: float(i % 10))
    monitor = cluster.monitor
    monitor.rolled_5m_until = T0
    monitor.rolled_1h_until = T0
    monitor.save()
    now = T0 + timedelta(minutes=121)
    first = store.roll_up(monitor, now=now)
    assert first == {"5m": 24, "1h": 2}
    again = store.roll_up(monitor, now=now)
    assert again == {"5m": 0, "1h": 0}
    sid = Series.objects.get(cluster=cluster).pk
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT "values", maxima FROM {partitions.ROLLUP_5M} WHERE ts = %s',  # noqa: S608
            [T0 + timedelta(minutes=5)],
        )
        values, maxima = cursor.fetchone()
    position = POSITION[("pod", "cpu_core_used")]
    assert store.value_at(values, position) == 7.0  # minutes 5..9 → 5,6,7,8,9
    assert store.value_at(maxima, position) == 9.0
    hourly = store.range_query(
        [sid],
        "pod",
        "cpu_core_used",
        T0 + timedelta(hours=1),
        T0 + timedelta(hours=2),
        timedelta(hours=1),
        now=now,
    )
    assert hourly[sid] == [(T0 + timedelta(hours=1), 4.5), (T0 + timedelta(hours=2), 4.5)]


def test_prune_drops_whole_old_partitions_and_keeps_recent_points(cluster, settings):
    settings.METRICS_RAW_RETENTION_HOURS = 24
    old_day = T0 - timedelta(days=2)
    store.write(cluster, old_day, [store.Row("pod", "web/api-1", pod_values(1.0))])
    write_minutes(cluster, 3)
    report = store.prune(now=T0 + timedelta(hours=1))
    assert (
        partitions.partition_name(partitions.RAW, old_day.date())
        in (report[partitions.RAW]["partitions_dropped"])
    )
    assert (
        partitions.partition_name(partitions.RAW, T0.date())
        in partitions.partitions(partitions.RAW).values()
    )
    left = store.window(cluster.pk, "pod", "cpu_core_used", old_day, T0 + timedelta(hours=1))
    assert left == {"web/api-1": [0.0, 1.0, 2.0]}
    assert not math.isnan(left["web/api-1"][0])
