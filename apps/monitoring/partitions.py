"""The point tables and their daily partitions.

On PostgreSQL the three point tables (raw, 5-minute, 1-hour) are declaratively partitioned by
range of ``ts``, one partition per UTC day (``monitoring_point_p20261201``), plus a default
partition for rows outside every day created so far. Retention then drops whole partitions —
no DELETE, no vacuum debt, no bloat — which is the reason for partitioning; each partition
has the primary key (series, ts) as its only index, which is what every read uses (one series'
range, or one instant's series).

Why not TimescaleDB or another time-series extension: Debian's PostgreSQL has none packaged,
the managed PostgreSQL services operators use often forbid them, and with one row per object
per minute (every metric of the level packed in one float32 array) a plain partitioned table
stores a point in about six bytes. Native partitioning gives the one thing an extension
would add that matters here (cheap retention) with nothing to install.

Elsewhere (SQLite, the embedded demo) the tables are plain and pruned with DELETE.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

from django.db import connection as default_connection
from django.db import transaction
from django.db.utils import DatabaseError

logger = logging.getLogger("tkeportal.monitoring")

RAW = "monitoring_point"
ROLLUP_5M = "monitoring_rollup_5m"
ROLLUP_1H = "monitoring_rollup_1h"
TABLES = (RAW, ROLLUP_5M, ROLLUP_1H)
ROLLUPS = (ROLLUP_5M, ROLLUP_1H)

# Days of partitions kept ready ahead of today (the hourly maintenance task tops them up).
AHEAD_DAYS = 3


def _columns(table: str, vendor: str) -> str:
    blob = "bytea" if vendor == "postgresql" else "blob"
    ts = "timestamp with time zone" if vendor == "postgresql" else "datetime"
    extra = f", maxima {blob} NOT NULL" if table in ROLLUPS else ""
    return (
        f'series_id bigint NOT NULL, ts {ts} NOT NULL, "values" {blob} NOT NULL{extra}, '
        "PRIMARY KEY (series_id, ts)"
    )


def create_tables(connection=None) -> None:
    """Create the three tables (and, on PostgreSQL, their default and first daily
    partitions)."""
    connection = connection or default_connection
    vendor = connection.vendor
    with connection.cursor() as cursor:
        for table in TABLES:
            if vendor == "postgresql":
                cursor.execute(
                    f"CREATE TABLE {table} ({_columns(table, vendor)}) PARTITION BY RANGE (ts)"
                )
                cursor.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
            else:
                cursor.execute(f"CREATE TABLE {table} ({_columns(table, vendor)})")
    if vendor == "postgresql":
        ensure_partitions(connection=connection)


def drop_tables(connection=None) -> None:
    connection = connection or default_connection
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")


def partition_name(table: str, day: date) -> str:
    return f"{table}_p{day:%Y%m%d}"


def partitions(table: str, connection=None) -> dict[date, str]:
    """The daily partitions of ``table`` that exist, by day (PostgreSQL only; {} elsewhere)."""
    connection = connection or default_connection
    if connection.vendor != "postgresql":
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s",
            [table],
        )
        names = [row[0] for row in cursor.fetchall()]
    prefix = f"{table}_p"
    out = {}
    for name in names:
        if name.startswith(prefix):
            out[datetime.strptime(name[len(prefix) :], "%Y%m%d").date()] = name
    return out


def ensure_partitions(now: datetime | None = None, connection=None) -> list[str]:
    """Create the daily partitions from today to AHEAD_DAYS ahead that are missing; the names
    created. A day whose rows already sit in the default partition (a clock far off, a long
    outage of this task) is left there, logged, and pruned by DELETE like SQLite's."""
    connection = connection or default_connection
    if connection.vendor != "postgresql":
        return []
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    created = []
    for table in TABLES:
        existing = partitions(table, connection)
        for offset in range(AHEAD_DAYS + 1):
            day = today + timedelta(days=offset)
            if day in existing:
                continue
            name = partition_name(table, day)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            end = start + timedelta(days=1)
            try:
                with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
                    cursor.execute(
                        f"CREATE TABLE {name} PARTITION OF {table} FOR VALUES FROM (%s) TO (%s)",
                        [start, end],
                    )
            except DatabaseError as exc:
                logger.warning("partition %s not created: %s", name, exc)
                continue
            created.append(name)
    return created


def drop_before(table: str, cutoff: datetime, connection=None) -> tuple[list[str], int]:
    """Remove the rows of ``table`` older than ``cutoff``. On PostgreSQL the daily partitions
    that end at or before it are dropped, and rows of the default partition deleted; a partial
    day stays until its whole day has passed (retention is at least what is asked and at most
    a day more). Elsewhere, rows are deleted. (partitions dropped, rows deleted)."""
    connection = connection or default_connection
    dropped = []
    for day, name in sorted(partitions(table, connection).items()):
        end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
        if end <= cutoff:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE {name}")
            dropped.append(name)
    target = f"{table}_default" if connection.vendor == "postgresql" else table
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {target} WHERE ts < %s", [cutoff])
        deleted = cursor.rowcount
    return dropped, deleted
