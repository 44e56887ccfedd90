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
    policy of that level has); each (level, metric, period) average computed once from that.
    Policies then pick their namespace, workload kind and objects out of the averages."""

    def __init__(self, cluster_id: int, policies: list[AlarmPolicy], now: datetime):
        self.cluster_id, self.now = cluster_id, now
        self.longest: dict[str, int] = {}
        for policy in policies:
            level = policy.type
            self.longest[level] = max(self.longest.get(level, 0), policy.statistics_period)
        self.points: dict[str, dict] = {}
        self.averages: dict[tuple, dict[str, float]] = {}
        self._pod_kinds: dict[str, str] | None = None

    def average(self, level: str, short: str, period: int) -> dict[str, float]:
        cached = self.averages.get((level, short, period))
        if cached is not None:
            return cached
        if level not in self.points:
            self.points[level] = store.window_points(
                self.cluster_id,
                level,
                self.now - timedelta(seconds=self.longest[level]),
                self.now,
            )
        position = catalog.POSITION[(level, short)]
        start = self.now - timedelta(seconds=period)
        out = {}
        for key, points in self.points[level].items():
            total, count = 0.0, 0
            for ts, values in points:
                if ts >= start and position < len(values):
                    value = values[position]
                    if value == value:  # NaN: absent
                        total += value
                        count += 1
            if count:
                out[key] = total / count
        self.averages[(level, short, period)] = out
        return out

    def keys(self, level: str):
        """The objects of the level that have points in the longest window."""
        if level not in self.points:
            self.average(level, catalog.CATALOG[level][0].name, self.longest[level])
        return self.points[level].keys()

    def pod_kinds(self) -> dict[str, str]:
        """Pod key → its workload kind (the series labels the collector keeps)."""
        if self._pod_kinds is None:
            rows = Series.objects.filter(cluster_id=self.cluster_id, level="pod").values_list(
                "key", "labels"
            )
            self._pod_kinds = {key: (labels or {}).get("workload_kind", "") for key, labels in rows}
        return self._pod_kinds


def _candidates(policy: AlarmPolicy, keys, reads: _Reads) -> list[str]:
    """The policy's objects among the keys read: its namespace, its workload kind, and the
    named ones when ``objects_type`` is part."""
    kind = policy.type
    if kind == PolicyType.CLUSTER:
        return [k for k in keys if k == ""]
    wanted = set(policy.object_names) if policy.objects_type == ObjectsType.PART else None
    prefix = f"{policy.namespace}/"
    kinds = reads.pod_kinds() if kind == PolicyType.POD and policy.workload_kind else None
    out = []
    for key in keys:
        if kind == PolicyType.NODE:
            name = key
        elif not key.startswith(prefix):
            continue
        elif kind == PolicyType.WORKLOAD:
            _ns, workload_kind, name = key.split("/", 2)
            if workload_kind != policy.workload_kind:
                continue
        else:  # pod: <ns>/<pod>
            name = key[len(prefix) :]
            if kinds is not None and kinds.get(key) != policy.workload_kind:
                continue
        if wanted is None or name in wanted:
            out.append(key)
    return out


def _evaluate(policies: list[AlarmPolicy], now: datetime, report: Report) -> None:
    cluster_id = policies[0].cluster_id
    # 1. reads: once per selection (see _Reads)
    reads = _Reads(cluster_id, policies, now)
    # 2. open records and active silences of these policies
    ids = [p.pk for p in policies]
    open_records: dict[tuple, AlarmRecord] = {
        (r.policy_id, r.metric_id, r.object_key): r
        for r in AlarmRecord.objects.filter(policy_id__in=ids, state__in=OPEN_STATES)
    }
    by_condition: dict[tuple, list[AlarmRecord]] = defaultdict(list)
    for (policy_id, metric_id, _key), record in open_records.items():
        by_condition[(policy_id, metric_id)].append(record)
    silences: dict[int, list[AlarmSilence]] = defaultdict(list)
    for silence in AlarmSilence.objects.filter(
        policy_id__in=ids, starts_at__lte=now, ends_at__gt=now
    ):
        silences[silence.policy_id].append(silence)
    # 3. the state machine
    work = _Work()
    selected: dict[int, list[str]] = {}  # policy → its objects among those read
    for policy in policies:
        for condition in policy.metrics.all():
            _level, short = catalog.resolve(condition.metric, level=policy.type)
            averages = reads.average(policy.type, short, policy.statistics_period)
            chosen = selected.get(policy.pk)
            if chosen is None:
                chosen = selected[policy.pk] = _candidates(policy, reads.keys(policy.type), reads)
            values = {k: averages[k] for k in chosen if k in averages}
            compare = COMPARE[condition.evaluator]
            keys = set(values)
            for record in by_condition.get((policy.pk, condition.pk), ()):
                keys.add(record.object_key)
            for key in keys:
                record = open_records.get((policy.pk, condition.pk, key))
                value = values.get(key)
                if value is None and not values:
                    report.held_no_data += 1
                    continue
                report.evaluated += 1
                holds = value is not None and compare(value, condition.threshold)
                _step(policy, condition, key, value, holds, record, now, work, report)
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
