"""Evaluating the PromQL subset (apps.monitoring.promql) over the metric store, for one caller.

A range query is evaluated at ``start, start + step, … ≤ end``. A selector's value at ``t``:

- step of a minute or more: the average of the points collected in ``(t - step, t]``
  (:func:`apps.monitoring.store.range_query`, from the 5-minute or 1-hour roll-ups when the
  step allows) — Prometheus would take the last sample at or before ``t``, so a smoothly
  moving gauge reads alike and a spiky one reads smoother here;
- step under a minute, and instant queries: the latest 1-minute point at or before ``t`` and
  no older than five minutes (Prometheus' lookback delta), as Prometheus does — a point taken
  as of the start of its minute (a collection at 10:00:05 is the point of 10:00, so an
  instant query for 10:00:02 already sees it where Prometheus would not yet).

Series are those of the catalogue metric the selector names, in the clusters the caller may
see, whose labels (``cluster`` — the cluster's name —, ``namespace``, ``node``, ``pod``,
``container``, ``workload_kind``, ``workload_name``) match, and that the caller may
``listMetrics`` (apps.monitoring.query). A metric name outside the catalogue selects nothing,
as in Prometheus.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from . import query, store
from .catalog import BY_FULL_NAME
from .promql import COMPARISONS, Aggregate, Binary, Number, Selector, Unary

MINUTE = timedelta(minutes=1)
LOOKBACK = timedelta(minutes=5)
# Series one query may touch (selectors, before aggregation), and samples (series × steps):
# Prometheus' --query.max-samples is 50 million; one Python process holds far fewer.
MAX_SERIES = 2_000
MAX_SAMPLES = 2_000_000


class ExecutionError(Exception):
    """A query that parses but cannot run (Prometheus ``errorType: execution``, 422)."""


class BadData(ValueError):
    """A query the subset refuses while evaluating (``bad_data``, 400)."""


@dataclass(frozen=True)
class Grid:
    start: datetime
    end: datetime
    step: timedelta
    instant: bool = False

    @property
    def count(self) -> int:
        return int((self.end - self.start) / self.step) + 1

    def time(self, index: int) -> datetime:
        return self.start + index * self.step


# A vector over the grid: (labels, {step index: value}).
Series = tuple[dict[str, str], dict[int, float]]


class Evaluator:
    def __init__(self, user, scope, grid: Grid, now: datetime | None = None):
        self.user = user
        self.scope = scope
        self.grid = grid
        self.now = now
        self.touched = 0
        self._clusters = None

    # -- entry ---------------------------------------------------------------------------
    def evaluate(self, node) -> float | list[Series]:
        if isinstance(node, Number):
            return node.value
        if isinstance(node, Selector):
            return self.select(node)
        if isinstance(node, Unary):
            value = self.evaluate(node.expr)
            if isinstance(value, float):
                return -value
            return [(_drop_name(labels), {i: -v for i, v in vs.items()}) for labels, vs in value]
        if isinstance(node, Aggregate):
            return self.aggregate(node)
        if isinstance(node, Binary):
            return self.binary(node)
        raise BadData(f"cannot evaluate {type(node).__name__}")

    # -- selectors -----------------------------------------------------------------------
    def clusters(self):
        if self._clusters is None:
            self._clusters = list(query.visible_clusters(self.user, self.scope))
        return self._clusters

    def select(self, node: Selector) -> list[Series]:
        names = [
            full
            for full in BY_FULL_NAME
            if (node.name is None or full == node.name)
            and all(m.matches(full) for m in node.matchers if m.label == "__name__")
        ]
        matchers = [m for m in node.matchers if m.label != "__name__"]
        out: list[Series] = []
        by_level: dict[str, list[str]] = defaultdict(list)
        for full in sorted(names):
            by_level[BY_FULL_NAME[full][0]].append(full)
        for level, fulls in by_level.items():
            for cluster in self.clusters():
                cluster_matchers = [m for m in matchers if m.label == "cluster"]
                if not all(m.matches(cluster.name) for m in cluster_matchers):
                    continue
                namespace = next(
                    (m.value for m in matchers if m.label == "namespace" and m.op == "="), None
                )
                if level == "namespace" or namespace is None or level in ("cluster", "node"):
                    namespace_filter = None
                else:
                    namespace_filter = namespace
                found = []
                for series in query.readable_series(
                    self.user, cluster, level, namespace=namespace_filter
                ):
                    labels = query.series_labels(cluster.name, series)
                    if all(m.matches(labels.get(m.label, "")) for m in matchers):
                        found.append((series, labels))
                if not found:
                    continue
                self.touched += len(found) * len(fulls)
                if self.touched > MAX_SERIES:
                    raise ExecutionError(
                        f"the query selects more than {MAX_SERIES} series: narrow it with label "
                        "matchers (cluster, namespace, pod …)"
                    )
                if self.touched * self.grid.count > MAX_SAMPLES:
                    raise ExecutionError(
                        "query processing would load too many samples into memory in query "
                        "execution: narrow the selection, shorten the range or widen the step"
                    )
                ids = [s.pk for s, _l in found]
                for full in fulls:
                    values = self.fetch(cluster.pk, ids, level, BY_FULL_NAME[full][1])
                    for series, labels in found:
                        points = values.get(series.pk)
                        if points:
                            out.append(({"__name__": full, **labels}, points))
        return out

    def fetch(
        self, cluster_id: int, ids: list[int], level: str, metric: str
    ) -> dict[int, dict[int, float]]:
        grid = self.grid
        if grid.step >= MINUTE and not grid.instant:
            found = query.range_points(
                cluster_id, ids, level, metric, grid.start, grid.end, grid.step, now=self.now
            )
            return {
                sid: {round((ts - grid.start) / grid.step): query.clean(v) for ts, v in points}
                for sid, points in found.items()
            }
        # Minute points, each taken as of the start of its minute (when it was collected).
        first = store.floor_to(grid.start - LOOKBACK, MINUTE)
        base = store.range_query(ids, level, metric, first, grid.end + MINUTE, MINUTE, now=self.now)
        out: dict[int, dict[int, float]] = {}
        for sid, points in base.items():
            stamps = [ts - MINUTE for ts, _v in points]
            values: dict[int, float] = {}
            for index in range(grid.count):
                at = grid.time(index)
                k = bisect.bisect_right(stamps, at) - 1
                if k >= 0 and stamps[k] > at - LOOKBACK:
                    values[index] = query.clean(points[k][1])
            if values:
                out[sid] = values
        return out

    # -- aggregation ---------------------------------------------------------------------
    def aggregate(self, node: Aggregate) -> list[Series]:
        inner = self.evaluate(node.expr)
        if isinstance(inner, float):
            raise BadData(
                f"expected type instant vector in aggregation expression, got scalar ({node.op})"
            )
        groups: dict[tuple, tuple[dict, dict[int, list[float]]]] = {}
        wanted = set(node.labels)
        for labels, values in inner:
            if node.without:
                kept = {k: v for k, v in labels.items() if k not in wanted and k != "__name__"}
            else:
                kept = {k: v for k, v in labels.items() if k in wanted}
            key = tuple(sorted(kept.items()))
            group = groups.setdefault(key, (kept, defaultdict(list)))
            for index, value in values.items():
                group[1][index].append(value)
        out = []
        for kept, cells in groups.values():
            out.append((kept, {i: _fold(node.op, vs) for i, vs in cells.items()}))
        return out

    # -- binary operators ----------------------------------------------------------------
    def binary(self, node: Binary) -> float | list[Series]:
        lhs = self.evaluate(node.lhs)
        rhs = self.evaluate(node.rhs)
        op = node.op
        comparison = op in COMPARISONS
        if isinstance(lhs, float) and isinstance(rhs, float):
            if comparison and not node.bool_modifier:
                raise BadData("comparisons between scalars must use BOOL modifier")
            return _apply(op, lhs, rhs)
        if isinstance(lhs, float) or isinstance(rhs, float):
            vector, scalar_left = (rhs, True) if isinstance(lhs, float) else (lhs, False)
            scalar = lhs if scalar_left else rhs
            out = []
            for labels, values in vector:
                result = {}
                for index, value in values.items():
                    a, b = (scalar, value) if scalar_left else (value, scalar)
                    computed = _apply(op, a, b)
                    if comparison and not node.bool_modifier:
                        if computed:
                            result[index] = value
                    else:
                        result[index] = computed
                if result:
                    keep_name = comparison and not node.bool_modifier
                    out.append((labels if keep_name else _drop_name(labels), result))
            return out
        # vector ⊕ vector: one-to-one on identical label sets (the metric name aside).
        right: dict[tuple, dict[int, float]] = {}
        for labels, values in rhs:
            key = _signature(labels)
            if key in right:
                raise ExecutionError(
                    "found duplicate series for the match group on the right hand-side of "
                    "the operation: many-to-many matching not allowed"
                )
            right[key] = values
        out = []
        seen = set()
        for labels, values in lhs:
            key = _signature(labels)
            other = right.get(key)
            if other is None:
                continue
            if key in seen:
                raise ExecutionError(
                    "found duplicate series for the match group on the left hand-side of "
                    "the operation: many-to-many matching not allowed"
                )
            seen.add(key)
            result = {}
            for index, value in values.items():
                if index not in other:
                    continue
                computed = _apply(op, value, other[index])
                if comparison and not node.bool_modifier:
                    if computed:
                        result[index] = value
                else:
                    result[index] = computed
            if result:
                keep_name = comparison and not node.bool_modifier
                out.append((labels if keep_name else _drop_name(labels), result))
        return out


def _signature(labels: dict) -> tuple:
    return tuple(sorted((k, v) for k, v in labels.items() if k != "__name__"))


def _drop_name(labels: dict) -> dict:
    return {k: v for k, v in labels.items() if k != "__name__"}


def _fold(op: str, values: list[float]) -> float:
    if op == "sum":
        return math.fsum(values)
    if op == "avg":
        return math.fsum(values) / len(values)
    if op == "count":
        return float(len(values))
    if op == "max":
        real = [v for v in values if not math.isnan(v)]
        return max(real) if real else math.nan
    real = [v for v in values if not math.isnan(v)]
    return min(real) if real else math.nan


def _apply(op: str, a: float, b: float) -> float:
    """IEEE 754 arithmetic as Go does it (x/0 is ±Inf or NaN, never an exception)."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        if b == 0:
            if a == 0 or math.isnan(a):
                return math.nan
            return math.copysign(math.inf, a) * (math.copysign(1, b))
        return a / b
    if op == "%":
        if b == 0 or math.isinf(a) or math.isnan(a) or math.isnan(b):
            return math.nan
        return math.fmod(a, b)
    if op == "^":
        try:
            result = math.pow(a, b)
        except OverflowError:
            return math.inf
        except ValueError:  # a negative number to a fractional power
            return math.nan
        return result
    comparisons = {
        "==": a == b,
        "!=": a != b,
        "<": a < b,
        "<=": a <= b,
        ">": a > b,
        ">=": a >= b,
    }
    return 1.0 if comparisons[op] else 0.0


# -- the answer in Prometheus' shape --------------------------------------------------------
def format_value(value: float) -> str:
    """As Go's strconv.FormatFloat(v, 'f', -1, 64): shortest, never an exponent."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = repr(value)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    if text.endswith(".0"):
        text = text[:-2]
    return "0" if text == "-0" else text


def format_time(when: datetime) -> float | int:
    return query.unix(when)


def matrix(grid: Grid, result: float | list[Series]) -> dict:
    if isinstance(result, float):
        text = format_value(result)
        values = [[format_time(grid.time(i)), text] for i in range(grid.count)]
        return {"resultType": "matrix", "result": [{"metric": {}, "values": values}]}
    rows = []
    for labels, values in result:
        if not values:
            continue
        rows.append(
            {
                "metric": dict(sorted(labels.items())),
                "values": [
                    [format_time(grid.time(i)), format_value(v)] for i, v in sorted(values.items())
                ],
            }
        )
    rows.sort(key=lambda r: sorted(r["metric"].items()))
    return {"resultType": "matrix", "result": rows}


def vector(grid: Grid, result: float | list[Series]) -> dict:
    at = format_time(grid.start)
    if isinstance(result, float):
        return {"resultType": "scalar", "result": [at, format_value(result)]}
    rows = [
        {"metric": dict(sorted(labels.items())), "value": [at, format_value(values[0])]}
        for labels, values in result
        if 0 in values
    ]
    rows.sort(key=lambda r: sorted(r["metric"].items()))
    return {"resultType": "vector", "result": rows}
