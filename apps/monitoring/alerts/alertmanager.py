"""The Alertmanager-compatible webhook: ``POST /api/v1/monitor/alertmanager/<cluster>/``.

A cluster's own Alertmanager (``webhook_configs: [{url: …, http_config: {authorization:
{credentials: <token>}}}]``) posts its webhook JSON (version 4: ``status``, ``alerts[]`` with
``status, labels, annotations, startsAt, endsAt, fingerprint``). The bearer token is the
cluster's :class:`~.models.AlertmanagerWebhook` token (stored hashed; rotated through the API
or the admin, shown once).

Each alert becomes an :class:`~.models.AlarmRecord` deduplicated by fingerprint while open: a
firing alert opens a firing record and notifies; the same alert again updates it, and notifies
again once the repeat interval has passed (Alertmanager resends every ``repeat_interval`` of
its own); a resolved alert resolves the record and sends the recovery notice. Who is notified
(as TKEStack's notify webhook does): label ``alarmPolicyName`` naming a policy of the cluster →
that policy's receivers and ways (and its silences apply); else, when the webhook has
``annotation_routing`` on, the alert's annotations ``receivers``, ``receiverGroups``,
``notifyWay`` (``channel:template,…``); else the cluster webhook's defaults.

Annotation routing is off by default: whoever may write the cluster's alerting rules (a
PrometheusRule in their namespace, say) would otherwise choose who in the tenant is paged
and run up its SMS gateway. Only a tenant administrator may turn it on
(services.update_webhook).
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt

from apps.core.api.errors import error_body

from .choices import OPEN_STATES, NoticeKind, RecordSource, RecordState
from .evaluate import HISTORY, SLACK
from .models import AlarmPolicy, AlarmRecord, AlarmSilence, AlertmanagerWebhook
from .notices import Notice, send_notices
from .services import clean_notify_ways, hash_token

logger = logging.getLogger("tkeportal.alerts")

MAX_ALERTS = 1000


class WebhookError(Exception):
    def __init__(self, status: int, code: str, detail: str):
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


def _split(value) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in str(value or "").split(",") if v.strip()]


def annotation_routing(record: AlarmRecord) -> tuple[list[str], list[str], list[dict], int]:
    """Receivers, groups, ways and repeat interval of a record without a policy: TKEStack's
    annotations when they name any and the webhook honours them (``annotation_routing``),
    else the cluster webhook's defaults."""
    webhook = AlertmanagerWebhook.objects.filter(cluster_id=record.cluster_id).first()
    if webhook is None:
        return [], [], [], 3600
    repeat = webhook.repeat_interval
    if webhook.annotation_routing:
        notes = record.annotations
        receivers, groups = _split(notes.get("receivers")), _split(notes.get("receiverGroups"))
        ways = clean_notify_ways(_split(notes.get("notifyWay")), "notifyWay", {})
        if (receivers or groups) and ways:
            return receivers, groups, ways, repeat
    return webhook.receivers, webhook.receiver_groups, webhook.notify_ways, repeat


def _when(text) -> datetime | None:
    if not isinstance(text, str) or text.startswith("0001-"):
        return None
    try:
        parsed = parse_datetime(text)
    except ValueError:
        return None
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _object_key(labels: dict) -> str:
    namespace = labels.get("namespace", "")
    if labels.get("pod"):
        return f"{namespace}/{labels['pod']}"
    if labels.get("workload_name"):
        return f"{namespace}/{labels.get('workload_kind', '')}/{labels['workload_name']}"
    if labels.get("node"):
        return labels["node"]
    if labels.get("instance") and not namespace:
        return labels["instance"]
    return namespace


def _fingerprint(alert: dict) -> str:
    given = alert.get("fingerprint")
    if isinstance(given, str) and given:
        return given[:64]
    labels = json.dumps(alert.get("labels") or {}, sort_keys=True)
    return hashlib.sha256(labels.encode()).hexdigest()[:16]


def _value(annotations: dict) -> float | None:
    try:
        return float(annotations.get("value"))
    except (TypeError, ValueError):
        return None


def authenticate(request, cluster_name: str) -> AlertmanagerWebhook:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise WebhookError(401, "not_authenticated", "Send the cluster's webhook token as Bearer.")
    webhook = (
        AlertmanagerWebhook.objects.select_related("cluster", "tenant")
        .filter(token_hash=hash_token(token.strip()))
        .first()
    )
    # The same answer for an unknown token and another cluster's: nothing to probe with.
    if webhook is None or webhook.cluster.name != cluster_name:
        raise WebhookError(401, "not_authenticated", "Unknown webhook token for this cluster.")
    return webhook


def parse(request) -> list[dict]:
    try:
        payload = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookError(400, "malformed_request", f"The body is not JSON: {exc}.") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("alerts"), list):
        raise WebhookError(400, "validation_error", "Expected Alertmanager's webhook JSON.")
    alerts = payload["alerts"]
    if len(alerts) > MAX_ALERTS:
        raise WebhookError(400, "validation_error", f"At most {MAX_ALERTS} alerts a request.")
    for i, alert in enumerate(alerts):
        if not isinstance(alert, dict) or alert.get("status") not in ("firing", "resolved"):
            raise WebhookError(400, "validation_error", f"alerts[{i}]: status firing|resolved.")
        if not isinstance(alert.get("labels") or {}, dict):
            raise WebhookError(400, "validation_error", f"alerts[{i}].labels: an object.")
        if not isinstance(alert.get("annotations") or {}, dict):
            raise WebhookError(400, "validation_error", f"alerts[{i}].annotations: an object.")
    return alerts


def receive(webhook: AlertmanagerWebhook, alerts: list[dict], now=None) -> dict:
    """Turn alerts into records and notices; counts of what happened."""
    now = now or timezone.now()
    counts = {"fired": 0, "updated": 0, "resolved": 0, "ignored": 0, "notices": 0}
    names = {
        str((a.get("labels") or {}).get("alarmPolicyName", ""))
        for a in alerts
        if (a.get("labels") or {}).get("alarmPolicyName")
    }
    policies = {
        p.name: p
        for p in AlarmPolicy.objects.filter(cluster=webhook.cluster, name__in=names).select_related(
            "cluster", "tenant"
        )
    }
    for alert in alerts:
        with transaction.atomic():
            outcome, notice = _one(webhook, alert, policies, now)
            counts[outcome] += 1
            if notice is not None:
                counts["notices"] += send_notices([notice], now).sent
    AlertmanagerWebhook.objects.filter(pk=webhook.pk).update(last_used_at=now)
    return counts


def _one(webhook, alert: dict, policies: dict, now) -> tuple[str, Notice | None]:
    labels = {str(k): str(v) for k, v in (alert.get("labels") or {}).items()}
    annotations = {str(k): str(v) for k, v in (alert.get("annotations") or {}).items()}
    fingerprint = _fingerprint(alert)
    policy = policies.get(labels.get("alarmPolicyName", ""))
    record = (
        AlarmRecord.objects.select_for_update()
        .filter(cluster=webhook.cluster, fingerprint=fingerprint, state__in=OPEN_STATES)
        .first()
    )
    value = _value(annotations)
    if alert["status"] == "resolved":
        if record is None:
            return "ignored", None
        _touch(record, value, annotations, now)
        record.state = RecordState.RESOLVED
        record.resolved_at = _when(alert.get("endsAt")) or now
        record.save()
        return "resolved", _notice(record, NoticeKind.RESOLVED, True, now)
    if record is None:
        record = AlarmRecord(
            tenant=webhook.tenant,
            cluster=webhook.cluster,
            policy=policy,
            source=RecordSource.ALERTMANAGER,
            metric_name=labels.get("alertname", "")[:128],
            object_key=_object_key(labels)[:512],
            labels=labels,
            annotations=annotations,
            fingerprint=fingerprint,
            state=RecordState.FIRING,
            value=value,
            evaluator=annotations.get("evaluateType", "")[:2]
            if annotations.get("evaluateType") in ("gt", "lt", "eq", "ge", "le")
            else "",
            threshold=_value({"value": annotations.get("evaluateValue")}),
            unit=annotations.get("unit", "")[:16],
            history=[[now.isoformat(), value]],
            periods_held=1,
            evaluations=1,
            started_at=_when(alert.get("startsAt")) or now,
            fired_at=now,
            last_evaluated_at=now,
        )
        try:
            with transaction.atomic():
                record.save()
        except IntegrityError:
            # The same alert, posted twice at once: the other request opened it.
            return "updated", None
        return "fired", _notice(record, NoticeKind.FIRING, True, now)
    _touch(record, value, annotations, now)
    record.save()
    repeat = policy.repeat_interval if policy else webhook.repeat_interval
    last = record.last_notified_at
    if last is None or now - last >= timedelta(seconds=repeat) - SLACK:
        kind = NoticeKind.REPEAT if last is not None else NoticeKind.FIRING
        return "updated", _notice(record, kind, False, now)
    return "updated", None


def _touch(record: AlarmRecord, value, annotations: dict, now) -> None:
    if value is not None:
        record.value = value
    record.annotations = annotations or record.annotations
    record.history = (record.history + [[now.isoformat(), value]])[-HISTORY:]
    record.evaluations += 1
    record.last_evaluated_at = now


def _notice(record: AlarmRecord, kind: str, transition: bool, now) -> Notice | None:
    silenced = False
    if record.policy_id is not None:
        silenced = any(
            s.covers(record.metric_name, record.object_key)
            for s in AlarmSilence.objects.filter(
                policy_id=record.policy_id, starts_at__lte=now, ends_at__gt=now
            )
        )
    if silenced and not transition:
        return None
    return Notice(record, kind, silenced)


@csrf_exempt  # no session: the cluster's token comes with every request
def alertmanager_webhook(request, cluster: str):
    if request.method != "POST":
        response = JsonResponse(error_body("method_not_allowed", "Use POST."), status=405)
        response["Allow"] = "POST"
        return response
    request.audit_action = "receiveAlertmanagerAlerts"
    request.audit_resource = f"cluster:{cluster}"
    try:
        webhook = authenticate(request, cluster)
        request.audit_tenant = webhook.tenant
        alerts = parse(request)
    except WebhookError as exc:
        response = JsonResponse(error_body(exc.code, exc.detail), status=exc.status)
        if exc.status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="alertmanager"'
        return response
    counts = receive(webhook, alerts)
    return JsonResponse({"received": len(alerts), **counts})
