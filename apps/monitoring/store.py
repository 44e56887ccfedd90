"""Reading and writing metric points (the only code that touches the point tables).

A point is the values of every metric of an object's level at one minute, packed as
little-endian float32 in catalogue order (apps.monitoring.catalog), NaN where a source had no
value. ``write`` stores one collection of one cluster; ``window`` reads what alert evaluation
needs; ``range_query`` what charts and the query APIs need, from the coarsest table that still
answers the step; ``roll_up`` and ``prune`` keep the bound (settings METRICS_*_RETENTION).
"""

from __future__ import annotations

import json
import math
from array import array
from collections import OrderedDict, defaultdict
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
    try:  # floats and ints as they are (the collector's values)
        packed = array("f", [NAN if v is None else v for v in values])
    except TypeError:  # a Decimal, say
        packed = array("f", [NAN if v is None else float(v) for v in values])
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
        ids, done = _series_ids(cluster, ts, rows)
        if not ids:
            return 0
        records = [
            (ids[(row.level, row.key)], ts, pack(row.values))
            for row in rows
            if ids[(row.level, row.key)] not in done
        ]
        _insert(partitions.RAW, records)
    return len(records)


# -- series ids --------------------------------------------------------------------------------
class SeriesCache:
    """What this process knows of the series of each cluster's last write: cluster id →
    {(level, key): (series id, mark of its labels, last_seen)}, so that a steady collection
    does not read thousands of series rows (and decode their labels) every minute.

    Bounded: at most ``limit`` entries, whole clusters forgotten least recently written first;
    a cluster holds only the series of its last write (pods that went away drop out). An entry
    is a hint, never trusted as it is: prune deletes series, and a rolled-back transaction
    takes the rows it created with it, so ``write`` checks every cached id against the table
    (same cluster, level and key) in the query it needs anyway for the minute's points."""

    def __init__(self, limit: int):
        self.limit = limit
        self._clusters: OrderedDict[int, dict] = OrderedDict()
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def get(self, cluster_id: int) -> dict:
        return self._clusters.get(cluster_id) or {}

    def put(self, cluster_id: int, entries: dict) -> None:
        self.forget(cluster_id)
        if len(entries) > self.limit:
            return
        self._clusters[cluster_id] = entries
        self._size += len(entries)
        while self._size > self.limit:
            _, dropped = self._clusters.popitem(last=False)
            self._size -= len(dropped)

    def forget(self, cluster_id: int) -> None:
        dropped = self._clusters.pop(cluster_id, None)
        if dropped:
            self._size -= len(dropped)

    def clear(self) -> None:
        self._clusters.clear()
        self._size = 0


# 100 clusters of 1,000 pods are ~312,000 series; an entry is ~300 bytes.
series_cache = SeriesCache(limit=500_000)


def _mark(labels: dict) -> int:
    """Stands for a series' labels in the cache (a hash: the labels themselves would keep
    every label string of every series alive). Labels are flat str → str."""
    return hash(frozenset(labels.items()))


def _series_ids(
    cluster, ts: datetime, rows: list[Row]
) -> tuple[dict[tuple[str, str], int], set[int]]:
    """The series id of every row (creating the series that do not exist yet), and the ids
    that already have a point at ``ts``. Labels that changed are stored; last_seen moves once
    an hour per series (enough for pruning, and no write per point)."""
    wanted = {(row.level, row.key): row for row in rows}
    cached = series_cache.get(cluster.pk)
    known: dict[tuple[str, str], tuple[int, int, datetime]] = {}
    done: set[int] = set()
    hits = {ident: cached[ident] for ident in wanted if ident in cached}
    if hits:
        gone, done = _check_ids(cluster.pk, ts, {ident: entry[0] for ident, entry in hits.items()})
        known = {ident: entry for ident, entry in hits.items() if ident not in gone}
    missing = [ident for ident in wanted if ident not in known]
    if missing:
        found = _series_rows(cluster, missing, whole=not cached)
        absent = [ident for ident in missing if ident not in found]
        created: dict = {}
        if absent:
            created = _create_series(cluster, ts, [wanted[ident] for ident in absent])
            found.update(created)
            # Another worker may have created some of them meanwhile: read those.
            raced = [ident for ident in absent if ident not in found]
            if raced:
                found.update(_series_rows(cluster, raced, whole=False))
        known.update(found)
        # A series created just now has no point yet (its id is new).
        done |= _stored_at([found[i][0] for i in missing if i not in created], ts)
    entries = {}
    stale = []
    for ident, row in wanted.items():
        pk, mark, last_seen = known[ident]
        new_mark = _mark(row.labels)
        if new_mark != mark:
            Series.objects.filter(pk=pk).update(labels=row.labels, last_seen=ts)
            last_seen = ts
        elif last_seen < ts - HOUR:
            stale.append(pk)
            last_seen = ts
        entries[ident] = (pk, new_mark, last_seen)
    if stale:
        Series.objects.filter(pk__in=stale).update(last_seen=ts)
    # Remembered once the rows are committed (a rolled-back write leaves the cache as it was).
    transaction.on_commit(lambda: series_cache.put(cluster.pk, entries))
    return {ident: entry[0] for ident, entry in entries.items()}, done


def _create_series(
    cluster, ts: datetime, rows: list[Row]
) -> dict[tuple[str, str], tuple[int, int, datetime]]:
    """Create the series of ``rows`` (first and last seen at ``ts``); (id, labels mark,
    last_seen) of those created here (one that another worker created meanwhile is left out,
    and all of them where the database does not say which it created).
    On PostgreSQL one INSERT from arrays: a thousands-row bulk_create spends most of its time
    binding its tens of thousands of parameters."""
    if connection.vendor != "postgresql":
        Series.objects.bulk_create(
            [
                Series(
                    cluster=cluster,
                    level=row.level,
                    key=row.key,
                    labels=row.labels,
                    first_seen=ts,
                    last_seen=ts,
                )
                for row in rows
            ],
            ignore_conflicts=True,
        )
        return {}  # which of them it created is not known here: the caller reads them all
    table = Series._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (cluster_id, level, key, labels, first_seen, last_seen) "  # noqa: S608
            "SELECT %s, u.level, u.key, u.labels::jsonb, %s, %s "
            "FROM unnest(%s::text[], %s::text[], %s::text[]) AS u(level, key, labels) "
            "ON CONFLICT (cluster_id, level, key) DO NOTHING RETURNING id, level, key",
            [
                cluster.pk,
                ts,
                ts,
                _text_array(row.level for row in rows),
                _text_array(row.key for row in rows),
                _text_array(json.dumps(row.labels) for row in rows),
            ],
        )
        created = cursor.fetchall()
    marks = {(row.level, row.key): _mark(row.labels) for row in rows}
    return {(level, key): (pk, marks[(level, key)], ts) for pk, level, key in created}


def _series_rows(
    cluster, idents: list[tuple[str, str]], whole: bool
) -> dict[tuple[str, str], tuple[int, int, datetime]]:
    """(id, labels mark, last_seen) of those of ``idents`` that exist; ``whole`` reads the
    cluster's series in one pass (the first write in this process), else by key."""
    by_key = not whole and len(idents) <= 1000  # else one pass costs less than a long list
    keys = sorted({key for _, key in idents})
    wanted = set(idents)
    if connection.vendor != "postgresql":
        series = Series.objects.filter(cluster=cluster)
        if by_key:
            series = series.filter(key__in=keys)
        return {
            (level, key): (pk, _mark(labels), last_seen)
            for pk, level, key, labels, last_seen in series.values_list(
                "pk", "level", "key", "labels", "last_seen"
            )
            if (level, key) in wanted
        }
    # Raw on PostgreSQL (the first write of each cluster after a worker starts reads all of
    # them): labels as text and last_seen as epoch seconds decode several times faster than
    # the model fields' conversions.
    sql = (
        "SELECT id, level, key, labels::text, extract(epoch FROM last_seen)::float8 "  # noqa: S608
        f"FROM {Series._meta.db_table} WHERE cluster_id = %s"
    )
    params: list = [cluster.pk]
    if by_key:
        sql += " AND key = ANY(%s::text[])"
        params.append(_text_array(keys))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return {
        (level, key): (pk, _mark(json.loads(labels)), datetime.fromtimestamp(seen, UTC))
        for pk, level, key, labels, seen in rows
        if (level, key) in wanted
    }


# PostgreSQL array literals (cast them: ``%s::bigint[]``, ``%s::text[]``) of the thousands of
# ids or keys of one write: psycopg adapts a list element by element, several times slower.
def _id_array(ids: Iterable[int]) -> str:
    return "{" + ",".join(map(str, ids)) + "}"


def _text_array(items: Iterable[str]) -> str:
    return (
        "{"
        + ",".join(['"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"' for s in items])
        + "}"
    )


def _by_ids(sql: str, ids: list[int], params: list) -> list[tuple]:
    """Run ``sql`` (whose ``{ids}`` is a placeholder for a list of ids, after ``params``) for
    ``ids``: as one array on PostgreSQL, in chunks under SQLite's host-parameter limit."""
    if not ids:
        return []
    out: list[tuple] = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(sql.format(ids="= ANY(%s::bigint[])"), [*params, _id_array(ids)])
            return cursor.fetchall()
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            cursor.execute(
                sql.format(ids=f"IN ({', '.join(['%s'] * len(chunk))})"), [*params, *chunk]
            )
            out.extend(cursor.fetchall())
    return out


def _check_ids(
    cluster_id: int, ts: datetime, remembered: dict[tuple[str, str], int]
) -> tuple[set[tuple[str, str]], set[int]]:
    """Of the series remembered for the cluster ((level, key) → id), those whose id is not
    that series any more (pruned since, or a database restored or rebuilt under the process),
    and the ids that already have a point at ``ts``."""
    if connection.vendor != "postgresql":
        present = {
            (pk, level, key)
            for pk, level, key in _by_ids(
                f"SELECT id, level, key FROM {Series._meta.db_table} "  # noqa: S608
                "WHERE cluster_id = %s AND id {ids}",
                sorted(set(remembered.values())),
                [cluster_id],
            )
        }
        gone = {ident for ident, pk in remembered.items() if (pk, *ident) not in present}
        return gone, _stored_at(list(remembered.values()), ts)
    # One round trip that returns only the exceptions (usually no row at all); the arrays are
    # joined (a hash join), not compared element by element.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT u.id, u.level, u.key, s.id IS NULL "  # noqa: S608
            "FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS u(id, level, key) "
            f"LEFT JOIN {Series._meta.db_table} s ON s.id = u.id AND s.cluster_id = %s "
            "AND s.level = u.level AND s.key = u.key "
            f"WHERE s.id IS NULL OR EXISTS (SELECT 1 FROM {partitions.RAW} p "
            "WHERE p.series_id = u.id AND p.ts = %s)",
            [
                _id_array(remembered.values()),
                _text_array(level for level, _ in remembered),
                _text_array(key for _, key in remembered),
                cluster_id,
                ts,
            ],
        )
        rows = cursor.fetchall()
    return {(level, key) for _, level, key, gone in rows if gone}, {
        pk for pk, _, _, gone in rows if not gone
    }


def _stored_at(series_ids: list[int], ts: datetime) -> set[int]:
    """The series that already have a point at ``ts`` (a retried collection)."""
    rows = _by_ids(
        f"SELECT series_id FROM {partitions.RAW} WHERE ts = %s AND series_id {{ids}}",  # noqa: S608
        series_ids,
        [ts],
    )
    return {row[0] for row in rows}


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
                copy.write(_copy_text(records))
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


def _copy_text(records: list[tuple]) -> str:
    """(series_id, ts, blob[, blob]) records in COPY's text format, formatted here in one
    pass: psycopg's ``write_row`` adapts value by value, several times slower for the
    thousands of rows of one collection (whose rows share one minute)."""
    stamps: dict[datetime, str] = {}
    lines = []
    for series_id, ts, *blobs in records:
        stamp = stamps.get(ts)
        if stamp is None:
            stamp = stamps[ts] = ts.isoformat()
        # bytea as hex; the backslash doubled, as COPY's text format escapes it
        values = "\t".join(["\\\\x" + blob.hex() for blob in blobs])
        lines.append(f"{int(series_id)}\t{stamp}\t{values}\n")
    return "".join(lines)


# -- reading ---------------------------------------------------------------------------------
def _rows(table: str, series_ids: Sequence[int], start: datetime, end: datetime):
    """(series_id, ts, values blob) of the series in [start, end), in time order."""
    if not series_ids:
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # ts as epoch seconds: psycopg's timestamptz parsing was most of a read's CPU
            # (~10 µs a row); the few distinct minutes are turned into datetimes once each.
            cursor.execute(
                f'SELECT series_id, extract(epoch FROM ts)::float8, "values" FROM {table} '
                "WHERE series_id = ANY(%s::bigint[]) AND ts >= %s AND ts < %s ORDER BY ts",
                [_id_array(series_ids), start, end],
            )
            stamps: dict[float, datetime] = {}
            out = []
            for sid, epoch, blob in cursor.fetchall():
                ts = stamps.get(epoch)
                if ts is None:
                    ts = stamps[epoch] = datetime.fromtimestamp(epoch, UTC)
                out.append((sid, ts, blob))
            return out
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
