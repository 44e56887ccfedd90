"""Alarm evaluation: one cluster's due policies at once.

A policy is due when ``statistics_period`` has passed since its last evaluation (less a little
slack, so a beat that runs a second early does not skip a period). The due policies of a
cluster are locked (``SELECT … FOR UPDATE SKIP LOCKED``) for the whole evaluation, in one
transaction with every record change and notice: a second evaluator running at the same time
skips them, and a task that dies half-way leaves nothing behind — its retry evaluates again
and notifies once (notify delivers after commit).

Reads are grouped: each level the due policies need is read once for the cluster with
``store.window_points`` (every metric of the level) over the longest period any of them has;
each (metric, period) average over [now - period, now) is computed from that once (the same
as ``store.window_average``), and each policy picks its objects out of it: its namespace, its
workload kind, and with ``objects_type`` part the named ones.

Per (policy, metric, object), with ``holds`` = the period average compared with the threshold:

- no open record, holds → a pending record (firing at once when ``continue_periods`` is 1);
- pending, holds → one more period; firing when it has held ``continue_periods`` periods;
- firing, holds → still firing; notified again once ``repeat_interval`` has passed;
- open, does not hold → resolved (a firing record sends its recovery notice; a pending one
  closes silently);
- no value: when the read found nothing at all for the policy's metric (the cluster or the
  collection is down) open records are left as they are — a dead cluster neither fires nor
  resolves; when other objects have values, an object without one is gone and its record
  resolves.

Silences (active ones of the policy, for the metric / object when named) let records change
state but send no notice (the notice row is kept, marked silenced).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import zip_longest

from django.db import transaction
from django.utils import timezone

from .. import catalog, store
from ..models import Series
from .choices import (
    COMPARE,
    OPEN_STATES,
    NoticeKind,
    ObjectsType,
    PolicyType,
    RecordSource,
    RecordState,
)
from .models import AlarmPolicy, AlarmRecord, AlarmSilence
from .notices import Notice, send_notices

logger = logging.getLogger("tkeportal.alerts")

SLACK = timedelta(seconds=15)
HISTORY = 10  # evaluations kept on a record
NAN = float("nan")


@dataclass
class Report:
    """What one evaluation did (counts)."""

    policies: int = 0
    reads: int = 0
    evaluated: int = 0
    pending: int = 0
    fired: int = 0
    resolved: int = 0
    notices: int = 0
    silenced: int = 0
    held_no_data: int = 0

    def add(self, other: Report) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class _Work:
    """Record changes of one evaluation, written in bulk at the end."""

    create: list[AlarmRecord] = field(default_factory=list)
    update: list[AlarmRecord] = field(default_factory=list)
    # (record, kind, transition): a transition (fired, resolved) is recorded even when
    # silenced; a reminder under a silence is dropped.
    notices: list[tuple[AlarmRecord, str, bool]] = field(default_factory=list)


def is_due(policy: AlarmPolicy, now: datetime) -> bool:
    last = policy.last_evaluated_at
    return last is None or now - last >= timedelta(seconds=policy.statistics_period) - SLACK


def evaluate_cluster(cluster_id: int, now: datetime | None = None) -> Report:
    """Evaluate the cluster's due, enabled policies at ``now``."""
    now = now or timezone.now()
    report = Report()
    with transaction.atomic():
        locked = list(
            AlarmPolicy.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(cluster_id=cluster_id, enabled=True)
            .only("id", "statistics_period", "last_evaluated_at")
        )
        due_ids = [p.pk for p in locked if is_due(p, now)]
        if not due_ids:
            return report
        AlarmPolicy.objects.filter(pk__in=due_ids).update(last_evaluated_at=now)
        policies = list(
            AlarmPolicy.objects.filter(pk__in=due_ids)
            .select_related("cluster", "tenant")
            .prefetch_related("metrics")
        )
        report.policies = len(policies)
        _evaluate(policies, now, report)
    return report


class _Reads:
    """Each level of the cluster read once (every metric, over the longest period any due
    policy of that level has). Per (level, period) each object's points in the period are
    turned into columns once (one per metric); each (level, metric, period) average is then
    a sum over one column per object. Policies pick their namespace, workload kind and
    objects out of the averages; the objects a (type, namespace, workload kind) selects are
    found once."""

    def __init__(self, cluster_id: int, policies: list[AlarmPolicy], now: datetime):
        self.cluster_id, self.now = cluster_id, now
        self.longest: dict[str, int] = {}
        for policy in policies:
            level = policy.type
            self.longest[level] = max(self.longest.get(level, 0), policy.statistics_period)
        self.points: dict[str, dict] = {}
        self.columns: dict[tuple[str, int], dict[str, list[tuple]]] = {}
        self.averages: dict[tuple, dict[str, float]] = {}
        self.selections: dict[tuple, list[tuple[str, str]]] = {}
        self._pod_kinds: dict[str, str] | None = None

    def _points(self, level: str) -> dict:
        points = self.points.get(level)
        if points is None:
            points = self.points[level] = store.window_points(
                self.cluster_id,
                level,
                self.now - timedelta(seconds=self.longest[level]),
                self.now,
            )
        return points

    def _columns(self, level: str, period: int) -> dict[str, list[tuple]]:
        columns = self.columns.get((level, period))
        if columns is None:
            start = self.now - timedelta(seconds=period)
            columns = self.columns[(level, period)] = {}
            for key, points in self._points(level).items():
                rows = [values for ts, values in points if ts >= start]
                if rows:
                    # (a point written before the catalogue grew is shorter: NaN, absent)
                    columns[key] = list(zip_longest(*rows, fillvalue=NAN))
        return columns

    def average(self, level: str, short: str, period: int) -> dict[str, float]:
        """Per object, the average of the metric's values over [now - period, now) (NaN,
        absent, left out; objects with no value left out)."""
        cached = self.averages.get((level, short, period))
        if cached is not None:
            return cached
        position = catalog.POSITION[(level, short)]
        out = {}
        for key, columns in self._columns(level, period).items():
            if position >= len(columns):
                continue
            column = columns[position]
            total = sum(column)
            if total == total:  # no NaN among them
                out[key] = total / len(column)
                continue
            present = [value for value in column if value == value]
            if present:
                out[key] = sum(present) / len(present)
        self.averages[(level, short, period)] = out
        return out

    def candidates(self, policy: AlarmPolicy) -> list[str]:
        """The policy's objects among those read: its namespace, its workload kind, and the
        named ones when ``objects_type`` is part."""
        kind = policy.type
        selection = (kind, policy.namespace, policy.workload_kind)
        chosen = self.selections.get(selection)
        if chosen is None:
            chosen = self.selections[selection] = self._select(policy)
        if policy.objects_type != ObjectsType.PART or kind == PolicyType.CLUSTER:
            return [key for key, _name in chosen]
        wanted = set(policy.object_names)
        return [key for key, name in chosen if name in wanted]

    def _select(self, policy: AlarmPolicy) -> list[tuple[str, str]]:
        """(key, object name) of the objects read in the policy's namespace and workload
        kind."""
        kind = policy.type
        keys = self._points(kind).keys()
        if kind == PolicyType.CLUSTER:
            return [(key, key) for key in keys if key == ""]
        if kind == PolicyType.NODE:
            return [(key, key) for key in keys]
        prefix = f"{policy.namespace}/"
        out = []
        if kind == PolicyType.WORKLOAD:
            for key in keys:
                if key.startswith(prefix):
                    _ns, workload_kind, name = key.split("/", 2)
                    if workload_kind == policy.workload_kind:
                        out.append((key, name))
            return out
        kinds = self.pod_kinds() if policy.workload_kind else None  # pod: <ns>/<pod>
        for key in keys:
            if key.startswith(prefix) and (kinds is None or kinds.get(key) == policy.workload_kind):
                out.append((key, key[len(prefix) :]))
        return out

    def pod_kinds(self) -> dict[str, str]:
        """Pod key → its workload kind (the series labels the collector keeps)."""
        if self._pod_kinds is None:
            rows = Series.objects.filter(cluster_id=self.cluster_id, level="pod").values_list(
                "key", "labels"
            )
            self._pod_kinds = {key: (labels or {}).get("workload_kind", "") for key, labels in rows}
        return self._pod_kinds


def _evaluate(policies: list[AlarmPolicy], now: datetime, report: Report) -> None:
    cluster_id = policies[0].cluster_id
    # 1. reads: once per selection (see _Reads)
    reads = _Reads(cluster_id, policies, now)
    # 2. open records and active silences of these policies
    ids = [p.pk for p in policies]
    by_condition: dict[tuple, list[AlarmRecord]] = defaultdict(list)
    for record in AlarmRecord.objects.filter(policy_id__in=ids, state__in=OPEN_STATES):
        by_condition[(record.policy_id, record.metric_id)].append(record)
    silences: dict[int, list[AlarmSilence]] = defaultdict(list)
    for silence in AlarmSilence.objects.filter(
        policy_id__in=ids, starts_at__lte=now, ends_at__gt=now
    ):
        silences[silence.policy_id].append(silence)
    # 3. the state machine
    work = _Work()
    for policy in policies:
        chosen: list[str] | None = None  # its objects among those read
        for condition in policy.metrics.all():
            _level, short = catalog.resolve(condition.metric, level=policy.type)
            averages = reads.average(policy.type, short, policy.statistics_period)
            if chosen is None:
                chosen = reads.candidates(policy)
            values = {k: averages[k] for k in chosen if k in averages}
            records = {r.object_key: r for r in by_condition.get((policy.pk, condition.pk), ())}
            if not values:
                report.held_no_data += len(records)
                continue
            compare, threshold = COMPARE[condition.evaluator], condition.threshold
            for key, value in values.items():
                record = records.pop(key, None)
                holds = compare(value, threshold)
                report.evaluated += 1
                if record is None and not holds:
                    continue  # (most objects: nothing open, nothing to open)
                _step(policy, condition, key, value, holds, record, now, work, report)
            for key, record in records.items():  # open, without a value now: gone
                report.evaluated += 1
                _step(policy, condition, key, None, False, record, now, work, report)
    report.reads = len(reads.points)
    # 4. writes, then notices (in the same transaction)
    if work.create:
        AlarmRecord.objects.bulk_create(work.create)
    if work.update:
        AlarmRecord.objects.bulk_update(
            work.update,
            [
                "state",
                "value",
                "history",
                "periods_held",
                "evaluations",
                "fired_at",
                "resolved_at",
                "last_evaluated_at",
            ],
        )
    notices = []
    for record, kind, transition in work.notices:
        silenced = any(
            s.covers(record.metric_name, record.object_key) for s in silences[record.policy_id]
        )
        if silenced and not transition:
            continue
        notices.append(Notice(record, kind, silenced))
    sent = send_notices(notices, now)
    report.notices += sent.sent
    report.silenced += sent.silenced


def _step(policy, condition, key, value, holds, record, now, work: _Work, report: Report):
    entry = [now.isoformat(), value]
    if record is None:
        if not holds:
            return
        record = AlarmRecord(
            tenant_id=policy.tenant_id,
            cluster_id=policy.cluster_id,
            policy=policy,
            metric=condition,
            source=RecordSource.EVALUATION,
            metric_name=condition.metric,
            object_key=key,
            labels=catalog.object_labels(policy.type, key) if key else {},
            state=RecordState.PENDING,
            value=value,
            evaluator=condition.evaluator,
            threshold=condition.threshold,
            unit=condition.unit,
            history=[entry],
            periods_held=1,
            evaluations=1,
            started_at=now,
            last_evaluated_at=now,
        )
        _attach(record, policy, condition)
        work.create.append(record)
        report.pending += 1
        if record.periods_held >= condition.continue_periods:
            _fire(record, now, work, report)
        return
    _attach(record, policy, condition)
    record.history = (record.history + [entry])[-HISTORY:]
    record.evaluations += 1
    record.last_evaluated_at = now
    if value is not None:
        record.value = value
    work.update.append(record)
    if not holds:
        was_firing = record.state == RecordState.FIRING
        record.state = RecordState.RESOLVED
        record.resolved_at = now
        report.resolved += 1
        if was_firing:
            work.notices.append((record, NoticeKind.RESOLVED, True))
        return
    record.periods_held += 1
    if record.state == RecordState.PENDING:
        if record.periods_held >= condition.continue_periods:
            _fire(record, now, work, report)
        return
    if record.notify_count == 0:
        # Its firing notice was silenced: the first evaluation after the silence tells.
        work.notices.append((record, NoticeKind.FIRING, False))
    elif now - record.last_notified_at >= timedelta(seconds=policy.repeat_interval) - SLACK:
        work.notices.append((record, NoticeKind.REPEAT, False))


def _attach(record: AlarmRecord, policy: AlarmPolicy, condition) -> None:
    """Point the record at the already loaded rows (notices read them: no query each)."""
    record.policy = policy
    record.metric = condition
    record.cluster = policy.cluster
    record.tenant = policy.tenant


def _fire(record: AlarmRecord, now: datetime, work: _Work, report: Report) -> None:
    record.state = RecordState.FIRING
    record.fired_at = now
    report.fired += 1
    work.notices.append((record, NoticeKind.FIRING, True))
