"""Reading and writing metric points (the only code that touches the point tables).

A point is the values of every metric of an object's level at one minute, packed as
little-endian float32 in catalogue order (apps.monitoring.catalog), NaN where a source had no
value. ``write`` stores one collection of one cluster; ``window`` reads what alert evaluation
needs; ``range_query`` what charts and the query APIs need, from the coarsest table that still
answers the step; ``roll_up`` and ``prune`` keep the bound (settings METRICS_*_RETENTION).
"""

from __future__ import annotations

import math
from array import array
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from sys import byteorder

from django.conf import settings
from django.db import connection, transaction

from . import partitions
from .catalog import CATALOG, POSITION
from .models import ClusterMonitor, Series

NAN = float("nan")
MINUTE = timedelta(minutes=1)
FIVE_MINUTES = timedelta(minutes=5)
HOUR = timedelta(hours=1)
# Resolution → (table, bucket width).
RESOLUTIONS = {
    "1m": (partitions.RAW, MINUTE),
    "5m": (partitions.ROLLUP_5M, FIVE_MINUTES),
    "1h": (partitions.ROLLUP_1H, HOUR),
}


# -- packing ---------------------------------------------------------------------------------
def pack(values: Sequence[float | None]) -> bytes:
    packed = array("f", (NAN if v is None else float(v) for v in values))
    if byteorder != "little":  # pragma: no cover - every machine we run on is little-endian
        packed.byteswap()
    return packed.tobytes()


def unpack(blob: bytes | memoryview) -> array:
    values = array("f")
    values.frombytes(bytes(blob))
    if byteorder != "little":  # pragma: no cover
        values.byteswap()
    return values


def value_at(blob: bytes | memoryview, position: int) -> float | None:
    """One metric of a packed point; None when absent (NaN, or a point older than the
    metric)."""
    values = unpack(blob)
    if position >= len(values):
        return None
    value = values[position]
    return None if math.isnan(value) else value


def floor_to(when: datetime, width: timedelta) -> datetime:
    when = when.astimezone(UTC)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((when - epoch) // width) * width


# -- writing ---------------------------------------------------------------------------------
@dataclass
class Row:
    """One object's values at one collection: ``values`` in catalogue order (a shorter list
    leaves the rest absent), ``labels`` what a query may match beyond the key."""

    level: str
    key: str
    values: Sequence[float | None]
    labels: dict[str, str] = field(default_factory=dict)


def write(cluster, when: datetime, rows: Iterable[Row]) -> int:
    """Store one collection of ``cluster`` at the minute of ``when``; the number of points
    written. Idempotent: a series that already has the minute keeps it (a retried collection
    writes only what it did not write before)."""
    ts = floor_to(when, MINUTE)
    rows = list(rows)
    for row in rows:
        if len(row.values) > len(CATALOG[row.level]):
            raise ValueError(f"{row.level} {row.key!r}: more values than the catalogue has")
    with transaction.atomic():
        ids = _series_ids(cluster, ts, rows)
        if not ids:
            return 0
        done = _stored_at(list(ids.values()), ts)
        records = [
            (ids[(row.level, row.key)], ts, pack(row.values))
            for row in rows
            if ids[(row.level, row.key)] not in done
        ]
        _insert(partitions.RAW, records)
    return len(records)


def _series_ids(cluster, ts: datetime, rows: list[Row]) -> dict[tuple[str, str], int]:
    wanted = {(row.level, row.key): row for row in rows}
    known = {
        (level, key): (pk, labels, last_seen)
        for pk, level, key, labels, last_seen in Series.objects.filter(cluster=cluster).values_list(
            "pk", "level", "key", "labels", "last_seen"
        )
    }
    missing = [
        Series(
            cluster=cluster,
            level=level,
            key=key,
            labels=row.labels,
            first_seen=ts,
            last_seen=ts,
        )
        for (level, key), row in wanted.items()
        if (level, key) not in known
    ]
    if missing:
        Series.objects.bulk_create(missing, ignore_conflicts=True)
        created = Series.objects.filter(
            cluster=cluster, key__in=[s.key for s in missing]
        ).values_list("pk", "level", "key", "labels", "last_seen")
        for pk, level, key, labels, last_seen in created:
            known.setdefault((level, key), (pk, labels, last_seen))
    ids = {}
    stale = []
    for ident, row in wanted.items():
        pk, labels, last_seen = known[ident]
        ids[ident] = pk
        if labels != row.labels:
            Series.objects.filter(pk=pk).update(labels=row.labels, last_seen=ts)
        elif last_seen < ts - HOUR:
            stale.append(pk)
    # last_seen moves once an hour per series: enough for pruning, and no write per point.
    if stale:
        Series.objects.filter(pk__in=stale).update(last_seen=ts)
    return ids


def _stored_at(series_ids: list[int], ts: datetime) -> set[int]:
    """The series that already have a point at ``ts`` (a retried collection)."""
    found: set[int] = set()
    with connection.cursor() as cursor:
        for i in range(0, len(series_ids), 500):
            chunk = series_ids[i : i + 500]
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(
                f"SELECT series_id FROM {partitions.RAW} WHERE ts = %s AND series_id IN ({marks})",
                [ts, *chunk],
            )
            found.update(row[0] for row in cursor.fetchall())
    return found


def _insert(table: str, records: list[tuple], conflict_safe: bool = False) -> None:
    """Insert (series_id, ts, values[, maxima]) rows: COPY on PostgreSQL (through a staging
    table when rows may already exist), executemany elsewhere."""
    if not records:
        return
    columns = 'series_id, ts, "values"' + (", maxima" if len(records[0]) == 4 else "")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            target = table
            if conflict_safe:
                target = f"_stage_{table}"
                cursor.execute(
                    f"CREATE TEMP TABLE IF NOT EXISTS {target} "
                    f"(LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
                )
            with cursor.cursor.copy(f"COPY {target} ({columns}) FROM STDIN") as copy:
                for record in records:
                    copy.write_row(record)
            if conflict_safe:
                cursor.execute(
                    f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {target} "
                    "ON CONFLICT DO NOTHING"
                )
                cursor.execute(f"DELETE FROM {target}")
        return
    placeholders = ", ".join(["%s"] * len(records[0]))
    verb = "INSERT OR IGNORE" if conflict_safe else "INSERT"
    with connection.cursor() as cursor:
        cursor.executemany(
            f"{verb} INTO {table} ({columns}) VALUES ({placeholders})",
            [(r[0], r[1], *r[2:]) for r in records],
        )


# -- reading ---------------------------------------------------------------------------------
def _rows(table: str, series_ids: Sequence[int], start: datetime, end: datetime):
    """(series_id, ts, values blob) of the series in [start, end), in time order."""
    if not series_ids:
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f'SELECT series_id, ts, "values" FROM {table} '
                "WHERE series_id = ANY(%s) AND ts >= %s AND ts < %s ORDER BY ts",
                [list(series_ids), start, end],
            )
            return cursor.fetchall()
        out = []
        ids = list(series_ids)
        for i in range(0, len(ids), 500):  # SQLite's host-parameter limit
            chunk = ids[i : i + 500]
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(
                f'SELECT series_id, ts, "values" FROM {table} '
                f"WHERE series_id IN ({marks}) AND ts >= %s AND ts < %s",
                [*chunk, start, end],
            )
            out.extend((sid, _aware(ts), blob) for sid, ts, blob in cursor.fetchall())
        out.sort(key=lambda r: r[1])
        return out


def _aware(ts) -> datetime:
    if isinstance(ts, str):  # SQLite hands back text
        ts = datetime.fromisoformat(ts)
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def window(
    cluster_id: int,
    level: str,
    metric: str,
    start: datetime,
    end: datetime,
    *,
    keys: Iterable[str] | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, list[float]]:
    """The raw values of one metric per object key in [start, end), oldest first (objects
    with no value in the window are absent). ``keys`` limits the objects; ``labels`` keeps
    those whose series labels include these (``{"namespace": "web"}``)."""
    position = POSITION[(level, metric)]
    series = Series.objects.filter(cluster_id=cluster_id, level=level)
    if keys is not None:
        series = series.filter(key__in=list(keys))
    for name, value in (labels or {}).items():
        series = series.filter(**{f"labels__{name}": value})
    key_of = dict(series.values_list("pk", "key"))
    out: dict[str, list[float]] = defaultdict(list)
    for sid, _ts, blob in _rows(partitions.RAW, list(key_of), start, end):
        value = value_at(blob, position)
        if value is not None:
            out[key_of[sid]].append(value)
    return dict(out)


def window_points(
    cluster_id: int,
    level: str,
    start: datetime,
    end: datetime,
    *,
    keys: Iterable[str] | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, list[tuple[datetime, array]]]:
    """Every metric of the level at once: per object key, its points in [start, end) as
    (minute, unpacked values), oldest first. For readers that need several metrics or
    windows of the same objects (alarm evaluation reads each selection once)."""
    series = Series.objects.filter(cluster_id=cluster_id, level=level)
    if keys is not None:
        series = series.filter(key__in=list(keys))
    for name, value in (labels or {}).items():
        series = series.filter(**{f"labels__{name}": value})
    key_of = dict(series.values_list("pk", "key"))
    out: dict[str, list[tuple[datetime, array]]] = defaultdict(list)
    for sid, ts, blob in _rows(partitions.RAW, list(key_of), start, end):
        out[key_of[sid]].append((_aware(ts), unpack(blob)))
    return dict(out)


def window_average(cluster_id, level, metric, start, end, **filters) -> dict[str, float]:
    """The average of ``window``'s values per object."""
    return {
        key: sum(values) / len(values)
        for key, values in window(cluster_id, level, metric, start, end, **filters).items()
    }


def resolution_for(start: datetime, step: timedelta, now: datetime | None = None) -> str:
    """The coarsest stored resolution no wider than ``step`` whose retention still covers
    ``start`` (raw when nothing coarser fits)."""
    now = now or datetime.now(UTC)
    if step >= HOUR:
        return "1h"
    if step >= FIVE_MINUTES or start < now - raw_retention():
        return "5m" if start >= now - rollup_5m_retention() else "1h"
    return "1m"


def range_query(
    series_ids: Sequence[int],
    level: str,
    metric: str,
    start: datetime,
    end: datetime,
    step: timedelta,
    *,
    now: datetime | None = None,
) -> dict[int, list[tuple[datetime, float]]]:
    """Per series, one value per ``step`` from ``start`` to ``end`` (inclusive): the average
    of the stored points in (t - step, t] at the resolution ``resolution_for`` picks. Steps
    with no point are left out, as Prometheus leaves out absent samples."""
    if step <= timedelta(0):
        raise ValueError("step must be positive")
    position = POSITION[(level, metric)]
    table, width = RESOLUTIONS[resolution_for(start, step, now)]
    sums: dict[int, dict[int, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0.0, 0]))
    # A bucket stamped ts holds [ts, ts + width): it counts towards the step that contains
    # its end, so a step ending at t averages what was measured in (t - step, t].
    first = floor_to(start - step, width)
    for sid, ts, blob in _rows(table, series_ids, first, end + MINUTE):
        value = value_at(blob, position)
        if value is None:
            continue
        offset = (_aware(ts) + width - start) / step
        index = math.ceil(offset - 1e-9)
        if index < 0:
            continue
        cell = sums[sid][index]
        cell[0] += value
        cell[1] += 1
    last = int((end - start) / step)
    return {
        sid: [
            (start + i * step, total / count)
            for i, (total, count) in sorted(cells.items())
            if i <= last
        ]
        for sid, cells in sums.items()
    }


# -- rollups and retention -------------------------------------------------------------------
def raw_retention() -> timedelta:
    return timedelta(hours=settings.METRICS_RAW_RETENTION_HOURS)


def rollup_5m_retention() -> timedelta:
    return timedelta(days=settings.METRICS_5M_RETENTION_DAYS)


def rollup_1h_retention() -> timedelta:
    return timedelta(days=settings.METRICS_1H_RETENTION_DAYS)


def roll_up(monitor: ClusterMonitor, now: datetime | None = None) -> dict[str, int]:
    """Fill the cluster's 5-minute buckets that have ended since the last roll-up, then its
    1-hour buckets from the 5-minute ones; the rows written per table. Resumes from the
    monitor's ``rolled_*_until`` and never writes a bucket twice."""
    now = now or datetime.now(UTC)
    written = {}
    sources = {"5m": (partitions.RAW, FIVE_MINUTES), "1h": (partitions.ROLLUP_5M, HOUR)}
    for resolution, (source, width) in sources.items():
        field = f"rolled_{resolution}_until"
        until = floor_to(now, width)
        since = getattr(monitor, field)
        horizon = until - (raw_retention() if resolution == "5m" else rollup_5m_retention())
        since = max(since or horizon, horizon)
        table = RESOLUTIONS[resolution][0]
        count = 0
        if since < until:
            ids = list(
                Series.objects.filter(cluster_id=monitor.cluster_id).values_list("pk", flat=True)
            )
            count = _aggregate(source, table, ids, since, until, width)
        ClusterMonitor.objects.filter(pk=monitor.pk).update(**{field: until})
        setattr(monitor, field, until)
        written[resolution] = count
    return written


def _aggregate(source, table, ids, since, until, width) -> int:
    buckets: dict[tuple[int, datetime], list] = {}
    for sid, ts, blob in _rows(source, ids, since, until):
        bucket = floor_to(_aware(ts), width)
        values = unpack(blob)
        entry = buckets.get((sid, bucket))
        if entry is None:
            n = len(values)
            entry = buckets[(sid, bucket)] = [[0.0] * n, [0] * n, [NAN] * n]
        sums, counts, maxima = entry
        if len(values) > len(sums):  # a point written after the catalogue grew
            grow = len(values) - len(sums)
            sums.extend([0.0] * grow)
            counts.extend([0] * grow)
            maxima.extend([NAN] * grow)
        for i, value in enumerate(values):
            if math.isnan(value):
                continue
            sums[i] += value
            counts[i] += 1
            if math.isnan(maxima[i]) or value > maxima[i]:
                maxima[i] = value
    records = [
        (
            sid,
            bucket,
            pack([s / c if c else None for s, c in zip(sums, counts, strict=True)]),
            pack([None if math.isnan(m) else m for m in maxima]),
        )
        for (sid, bucket), (sums, counts, maxima) in buckets.items()
    ]
    with transaction.atomic():
        _insert(table, records, conflict_safe=True)
    return len(records)


def prune(now: datetime | None = None) -> dict[str, object]:
    """Apply the retention of every table, and forget series seen by none of them; also make
    sure the coming days' partitions exist. What was removed, per table."""
    now = now or datetime.now(UTC)
    report: dict[str, object] = {"created": partitions.ensure_partitions(now)}
    for table, keep in (
        (partitions.RAW, raw_retention()),
        (partitions.ROLLUP_5M, rollup_5m_retention()),
        (partitions.ROLLUP_1H, rollup_1h_retention()),
    ):
        dropped, deleted = partitions.drop_before(table, now - keep)
        report[table] = {"partitions_dropped": dropped, "rows_deleted": deleted}
    longest = max(raw_retention(), rollup_5m_retention(), rollup_1h_retention())
    report["series_deleted"] = Series.objects.filter(last_seen__lt=now - longest - HOUR).delete()[0]
    return report
