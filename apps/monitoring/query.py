"""Reading metrics for people and programs: the parameters of a range query, who may see
which series, and the series with their points.

Shared by ``/api/v1/metrics/`` (apps.monitoring.api.metrics) and the PromQL-compatible
subset (apps.monitoring.promql). Every point comes from :func:`apps.monitoring.store.range_query`.

Authorization (MONITORING.md): action ``listMetrics`` on the object's path + ``/metric:*`` —
cluster ``cluster:<c>/metric:*``, node ``cluster:<c>/node:<n>/metric:*``, namespace
``cluster:<c>/namespace:<ns>/metric:*``, workload
``cluster:<c>/namespace:<ns>/<kind lower>:<name>/metric:*``, pod and container
``cluster:<c>/namespace:<ns>/pod:<p>/metric:*``. :func:`apps.authz.check` judges paths inside
a namespace in the domain of the project owning it, so project members read their own
namespaces' metrics and nothing else.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Q
from django.utils.translation import gettext as _

from apps.authz import check
from apps.clusters.models import Cluster
from apps.projects.access import reach

from . import store
from .catalog import CATALOG, LEVELS, UNITS, Metric, object_labels, resolve
from .models import ClusterMonitor, Series

MINUTE = timedelta(minutes=1)

# Prometheus refuses a range query of more than 11,000 points per series; so do we.
MAX_POINTS = 11_000
# Objects one /api/v1/metrics/ request returns when it names none (the rest: ``truncated``).
MAX_OBJECTS = 100
# Metrics one /api/v1/metrics/ request may name.
MAX_METRICS = 16
ACTION = "listMetrics"


class QueryError(ValueError):
    """A bad parameter: ``field`` names it, the message says what is accepted."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


# -- parameters ------------------------------------------------------------------------------
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_UNIT_SECONDS = {
    "ms": 0.001,
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 7 * 86400,
    "y": 365 * 86400,
}


def parse_duration(text: str) -> timedelta:
    """``90``, ``1.5``, ``60s``, ``5m``, ``1h30m``, ``1d`` → a positive timedelta; ValueError
    otherwise."""
    text = (text or "").strip()
    if not text:
        raise ValueError("empty duration")
    try:
        seconds = float(text)
    except ValueError:
        pos, seconds = 0, 0.0
        for match in _DURATION.finditer(text):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            pos = match.end()
        if pos != len(text) or pos == 0:
            raise ValueError(f"not a duration: {text!r}") from None
    if not math.isfinite(seconds) or seconds <= 0 or seconds > 10 * 365 * 86400:
        raise ValueError(f"not a positive duration: {text!r}")
    return timedelta(seconds=seconds)


def parse_time(text: str) -> datetime:
    """RFC 3339 (``2026-12-01T10:00:00Z``) or unix seconds (``1764583200.5``) → aware UTC."""
    text = (text or "").strip()
    if not text:
        raise ValueError("empty time")
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"not an RFC 3339 time or unix seconds: {text!r}") from None
        if when.tzinfo is None:
            raise ValueError(f"time {text!r} has no offset (add Z or +hh:mm)") from None
        return when.astimezone(UTC)
    if not math.isfinite(seconds) or not -1e10 < seconds < 1e11:
        raise ValueError(f"time out of range: {text!r}")
    return datetime.fromtimestamp(seconds, UTC)


@dataclass(frozen=True)
class Range:
    start: datetime
    end: datetime
    step: timedelta

    @property
    def points(self) -> int:
        return int((self.end - self.start) / self.step) + 1


def parse_range(start: str | None, end: str | None, step: str | None, now=None) -> Range:
    """The range of a query; defaults: the last hour, a step giving ~240 points (at least a
    minute). QueryError names the bad field."""
    now = now or datetime.now(UTC)
    try:
        end_at = parse_time(end) if end else now
    except ValueError as error:
        raise QueryError("end", str(error)) from None
    try:
        start_at = parse_time(start) if start else end_at - timedelta(hours=1)
    except ValueError as error:
        raise QueryError("start", str(error)) from None
    if end_at < start_at:
        raise QueryError("end", _("end must not be before start"))
    if step:
        try:
            step_td = parse_duration(step)
        except ValueError as error:
            raise QueryError("step", str(error)) from None
    else:
        step_td = max(timedelta(minutes=1), (end_at - start_at) / 240)
    found = Range(start_at, end_at, step_td)
    if found.points > MAX_POINTS:
        raise QueryError(
            "step",
            _(
                "exceeded maximum resolution of %(max)d points per timeseries: try a wider "
                "step or a shorter range"
            )
            % {"max": MAX_POINTS},
        )
    return found


def parse_level(value: str | None) -> str:
    if value not in LEVELS:
        raise QueryError(
            "level",
            _("unknown level %(value)r; known: %(known)s")
            % {"value": value or "", "known": ", ".join(LEVELS)},
        )
    return value


def parse_metrics(level: str, value: str | None) -> list[Metric]:
    """Full (``k8s_pod_cpu_core_used``) or short (``cpu_core_used``) names, comma-separated."""
    names = [n.strip() for n in (value or "").split(",") if n.strip()]
    if not names:
        raise QueryError(
            "metric", _("name at least one metric of level %(level)s") % level_known(level)
        )
    if len(names) > MAX_METRICS:
        raise QueryError("metric", _("at most %(max)d metrics at once") % {"max": MAX_METRICS})
    found = []
    for name in names:
        try:
            _level, short = resolve(name, level=level)
        except KeyError:
            raise QueryError(
                "metric",
                _("unknown metric %(name)r at level %(level)s; known: %(known)s")
                % {"name": name, **level_known(level)},
            ) from None
        metric = next(m for m in CATALOG[level] if m.name == short)
        if metric not in found:
            found.append(metric)
    return found


def level_known(level: str) -> dict:
    return {"level": level, "known": ", ".join(m.full_name(level) for m in CATALOG[level])}


# -- who sees what ---------------------------------------------------------------------------
def visible_clusters(user, scope):
    """The clusters whose metrics ``user`` may look for (others' are not found)."""
    from apps.authz import restrict

    return restrict(Cluster.objects.in_scope(scope), user, "getCluster").select_related("tenant")


def object_path(cluster_name: str, level: str, key: str) -> str:
    """The authz path of an object's metrics (MONITORING.md)."""
    base = f"cluster:{cluster_name}"
    if level == "cluster":
        return f"{base}/metric:*"
    if level == "node":
        return f"{base}/node:{key}/metric:*"
    parts = key.split("/")
    if level == "namespace":
        return f"{base}/namespace:{key}/metric:*"
    if level == "workload":
        namespace, kind, name = (parts + ["", "", ""])[:3]
        return f"{base}/namespace:{namespace}/{kind.lower()}:{name}/metric:*"
    namespace, pod = (parts + ["", ""])[:2]
    return f"{base}/namespace:{namespace}/pod:{pod}/metric:*"


def may_read(user, cluster, level: str, key: str) -> bool:
    return bool(check(user, ACTION, object_path(cluster.name, level, key), tenant=cluster.tenant))


_LEVEL_SEGMENT = {
    "namespace": "metric:*",
    "workload": "*/metric:*",
    "pod": "pod:*/metric:*",
    "container": "pod:*/metric:*",
}


def readable_series(user, cluster, level: str, *, namespace: str | None = None, keys=None):
    """The series of ``cluster`` at ``level`` that ``user`` may read, in key order, as a lazy
    iterator (callers cap it). Namespace-scoped levels are narrowed in SQL to the namespaces
    the user reaches, then every object is checked (a deny on one pod hides that pod)."""
    series = Series.objects.filter(cluster=cluster, level=level).order_by("key")
    if keys is not None:
        series = series.filter(key__in=list(keys))
    if level in _LEVEL_SEGMENT:
        if namespace and level == "namespace":
            series = series.filter(key=namespace)
        elif namespace:
            series = series.filter(key__startswith=f"{namespace}/")
        found = reach(user, cluster, ACTION, _LEVEL_SEGMENT[level])
        if not found.everything:
            if not found.namespaces:
                return iter(())
            if level == "namespace":
                series = series.filter(key__in=list(found.namespaces))
            else:
                within = Q(pk__in=[])
                for ns in found.namespaces:
                    within |= Q(key__startswith=f"{ns}/")
                series = series.filter(within)
    return (s for s in series.iterator(chunk_size=500) if may_read(user, cluster, level, s.key))


def series_labels(cluster_name: str, series: Series) -> dict[str, str]:
    """The labels a query shows and matches: ``cluster`` (its name), the object key's labels,
    and what the collector stored (a pod's node and workload)."""
    labels = {"cluster": cluster_name}
    labels.update({k: str(v) for k, v in (series.labels or {}).items() if v not in (None, "")})
    labels.update(object_labels(series.level, series.key))
    return labels


# -- points ----------------------------------------------------------------------------------
def points(
    series: Iterable[Series], level: str, metric: str, rng: Range, now=None
) -> dict[int, list[tuple[datetime, float]]]:
    """Per series id, the step averages of one metric (short name) over the range."""
    by_cluster: dict[int, list[int]] = {}
    for s in series:
        by_cluster.setdefault(s.cluster_id, []).append(s.pk)
    out: dict[int, list[tuple[datetime, float]]] = {}
    for cluster_id, ids in by_cluster.items():
        out.update(
            range_points(cluster_id, ids, level, metric, rng.start, rng.end, rng.step, now=now)
        )
    return out


def range_points(cluster_id, ids, level, metric, start, end, step, now=None):
    """:func:`store.range_query`, with the steps the roll-ups do not cover yet (the last
    minutes of a 5-minute or 1-hour resolution, before the roll-up task has run) averaged from
    the raw points instead, so a chart's right edge is never missing."""
    now = now or datetime.now(UTC)
    if not ids:
        return {}
    resolution = store.resolution_for(start, step, now)
    if resolution == "1m":
        return store.range_query(ids, level, metric, start, end, step, now=now)
    field = f"rolled_{resolution}_until"
    boundary = (
        ClusterMonitor.objects.filter(cluster_id=cluster_id).values_list(field, flat=True).first()
    )
    last = int((end - start) / step)
    out: dict[int, list[tuple[datetime, float]]] = defaultdict(list)
    first_raw = 0
    if boundary is not None and boundary >= start:
        rolled = store.range_query(ids, level, metric, start, min(end, boundary), step, now=now)
        for sid, found in rolled.items():
            out[sid].extend((t, v) for t, v in found if t <= boundary)
        first_raw = int((boundary - start) / step) + 1
    if first_raw <= last:
        # (raw points older than their retention are gone: start the tail where they begin)
        oldest = now - store.raw_retention() + MINUTE
        since = store.floor_to(max(start + (first_raw - 1) * step, oldest), MINUTE)
        if since < end:
            sums: dict[int, dict[int, list[float]]] = defaultdict(dict)
            minutes = store.range_query(ids, level, metric, since, end, MINUTE, now=now)
            for sid, found in minutes.items():
                for t, v in found:
                    index = math.ceil((t - start) / step - 1e-9)
                    if first_raw <= index <= last:
                        cell = sums[sid].setdefault(index, [0.0, 0])
                        cell[0] += v
                        cell[1] += 1
            for sid, cells in sums.items():
                out[sid].extend(
                    (start + i * step, total / count) for i, (total, count) in sorted(cells.items())
                )
    return dict(out)


def clean(value: float) -> float:
    """A stored float32 as the short decimal it was (0.30000001192092896 → 0.3)."""
    if not math.isfinite(value):
        return value
    return float(f"{value:.7g}")


def unix(when: datetime) -> float | int:
    seconds = when.timestamp()
    return int(seconds) if seconds == int(seconds) else round(seconds, 3)


def unit_of(metric: Metric) -> dict:
    return {"unit": metric.unit, "unit_display": _(UNITS[metric.unit])}
