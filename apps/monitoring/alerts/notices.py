"""Notices of alarm records through apps.notify (fired, reminders while firing, recovered).

Each notice is an :class:`~.models.AlarmNotice` row, unique per (record, ``sequence`` = the
record's evaluation counter), written in the evaluator's transaction: a retried evaluation
cannot notify twice. Unsilenced notices call ``apps.notify.services.notify`` (contract in the
issue's MONITORING.md) with TKEStack's alert variables and a readable ``summary``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from .. import catalog
from .choices import NoticeKind, RecordState
from .models import AlarmNotice, AlarmRecord

logger = logging.getLogger("tkeportal.alerts")


@dataclass
class Notice:
    record: AlarmRecord
    kind: str
    silenced: bool = False


@dataclass
class Sent:
    sent: int = 0
    silenced: int = 0


def routing(record: AlarmRecord) -> tuple[list[str], list[str], list[dict], int]:
    """(receivers, receiver groups, notify ways, repeat interval) of a record: its policy's,
    else what its Alertmanager alert's annotations name, else the cluster's webhook
    defaults."""
    policy = record.policy
    if policy is not None:
        return policy.receivers, policy.receiver_groups, policy.notify_ways, policy.repeat_interval
    from .alertmanager import annotation_routing

    return annotation_routing(record)


def _display_value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    shown = f"{value:.4g}"
    if unit == "percent":
        return f"{shown}%"
    return f"{shown} {catalog.UNITS.get(unit, unit)}".strip()


def variables(record: AlarmRecord, kind: str) -> dict:
    """TKEStack's alert variables for a record's notice."""
    policy = record.policy
    cluster = record.cluster
    labels = {**record.labels}
    policy_type = policy.type if policy else labels.get("alarmPolicyType", "")
    metric_display = record.annotations.get("metricDisplayName", "")
    if record.metric_name in catalog.BY_FULL_NAME:
        level, short = catalog.BY_FULL_NAME[record.metric_name]
        metric_display = catalog.metric(level, short).display
    status = "resolved" if kind == NoticeKind.RESOLVED else "firing"
    workload_kind = labels.get("workload_kind") or (policy.workload_kind if policy else "")
    out = {
        "alertName": record.metric_name,
        "alarmPolicyName": policy.name if policy else labels.get("alarmPolicyName", ""),
        "alarmPolicyType": policy_type,
        "clusterID": cluster.name,
        "clusterDisplayName": cluster.display_name,
        "namespace": labels.get("namespace", policy.namespace if policy else ""),
        "workloadKind": workload_kind,
        "workloadName": labels.get("workload_name", ""),
        "podName": labels.get("pod", ""),
        "nodeName": labels.get("node", ""),
        "metricName": record.metric_name,
        "metricDisplayName": metric_display,
        "value": "" if record.value is None else f"{record.value:.6g}",
        "unit": record.unit,
        "evaluateType": record.evaluator,
        "evaluateValue": "" if record.threshold is None else f"{record.threshold:g}",
        "startsAt": (record.fired_at or record.started_at).isoformat(),
        "endsAt": record.resolved_at.isoformat() if record.resolved_at else "",
        "status": status,
        "url": _url(record),
    }
    out["summary"] = summary(record, kind, out)
    return out


def _url(record: AlarmRecord) -> str:
    try:
        return reverse(
            "api:alarmrecord-detail", kwargs={"cluster": record.cluster.name, "pk": record.pk}
        )
    except NoReverseMatch:
        return ""


def summary(record: AlarmRecord, kind: str, v: dict) -> str:
    """A few readable lines: what, where, the value against the threshold, since when."""
    heading = {
        NoticeKind.FIRING: _("[Firing] {metric} on {object}"),
        NoticeKind.REPEAT: _("[Still firing] {metric} on {object}"),
        NoticeKind.RESOLVED: _("[Resolved] {metric} on {object}"),
    }[kind]
    obj = record.object_key or _("the cluster")
    lines = [
        heading.format(metric=v["metricDisplayName"] or v["metricName"], object=obj),
        _("Cluster: {name} ({id})").format(name=v["clusterDisplayName"], id=v["clusterID"]),
    ]
    if v["alarmPolicyName"]:
        lines.append(
            _("Alarm policy: {name} ({type})").format(
                name=v["alarmPolicyName"], type=v["alarmPolicyType"] or "-"
            )
        )
    if record.threshold is not None:
        symbol = {"gt": ">", "lt": "<", "eq": "=", "ge": ">=", "le": "<="}.get(record.evaluator)
        lines.append(
            _("{metric}: {value} (threshold {symbol} {threshold})").format(
                metric=v["metricName"],
                value=_display_value(record.value, record.unit),
                symbol=symbol or record.evaluator,
                threshold=_display_value(record.threshold, record.unit),
            )
        )
    elif record.annotations.get("summary") or record.annotations.get("description"):
        lines.append(record.annotations.get("summary") or record.annotations["description"])
    lines.append(_("Since: {time}").format(time=v["startsAt"]))
    if kind == NoticeKind.RESOLVED and v["endsAt"]:
        lines.append(_("Resolved at: {time}").format(time=v["endsAt"]))
    return "\n".join(lines)


def _notify_many():
    """apps.notify's ``notify_many`` and ``Alert`` (None while that app has no services
    module)."""
    try:
        from apps.notify.services import Alert, notify_many
    except ImportError:
        return None
    return notify_many, Alert


def send_notices(notices: list[Notice], now: datetime) -> Sent:
    """Record each notice and notify for the unsilenced ones (one ``notify_many`` per
    routing: a policy's notices of one evaluation go together); updates the records'
    ``last_notified_at`` / ``notify_count``. Call inside the transaction that changed the
    records."""
    out = Sent()
    if not notices:
        return out
    rows = []
    changed = []
    routed: dict[tuple, list[tuple[AlarmNotice, Notice]]] = {}
    for notice in notices:
        record = notice.record
        row = AlarmNotice(
            record=record,
            sequence=record.evaluations,
            kind=notice.kind,
            silenced=notice.silenced,
            created_at=now,
        )
        rows.append(row)
        if notice.silenced:
            out.silenced += 1
            continue
        out.sent += 1
        record.last_notified_at = now
        record.notify_count += 1
        changed.append(record)
        receivers, groups, ways, _repeat = routing(record)
        key = (
            record.tenant_id,
            tuple(receivers),
            tuple(groups),
            tuple((w["channel"], w["template"]) for w in ways),
        )
        routed.setdefault(key, []).append((row, notice))
    notifier = _notify_many()
    for (_tenant, receivers, groups, ways), pairs in routed.items():
        if notifier is None:
            for row, _notice in pairs:
                row.error = "apps.notify is not installed"
            continue
        notify_many, Alert = notifier
        requests = notify_many(
            tenant=pairs[0][1].record.tenant,
            receivers=receivers,
            receiver_groups=groups,
            ways=ways,
            alerts=[
                Alert(
                    variables(n.record, n.kind),
                    "resolved" if n.record.state == RecordState.RESOLVED else "firing",
                    f"alarmrecord:{n.record.pk}",
                )
                for _row, n in pairs
            ],
        )
        for (row, _notice), request in zip(pairs, requests, strict=True):
            row.message_request = str(request.pk)
            row.error = "; ".join(request.errors or [])
    AlarmNotice.objects.bulk_create(rows)
    if changed:
        AlarmRecord.objects.bulk_update(changed, ["last_notified_at", "notify_count"])
    return out
