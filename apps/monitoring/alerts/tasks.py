"""Alarm evaluation tasks (queue ``metrics``).

The beat entry ``alarm-evaluate`` (every 60 s) runs :func:`dispatch_alarm_evaluations`, which
queues one :func:`evaluate_cluster_alarms` per cluster that has an enabled policy; each
evaluates the cluster's policies whose statistics period has passed (apps.monitoring.alerts.
evaluate). Tasks take ids and are safe to retry: policies are locked while evaluated and a
notice is written in the same transaction as the record change it tells of.
"""

from __future__ import annotations

from datetime import datetime

from celery import shared_task
from django.utils import timezone

from .evaluate import evaluate_cluster
from .models import AlarmPolicy


@shared_task(acks_late=True, soft_time_limit=55, time_limit=90)
def dispatch_alarm_evaluations() -> int:
    """Queue an evaluation of every cluster with an enabled policy; how many were queued."""
    clusters = list(
        AlarmPolicy.objects.filter(enabled=True)
        .order_by()
        .values_list("cluster_id", flat=True)
        .distinct()
    )
    now = timezone.now().isoformat()
    for cluster_id in clusters:
        evaluate_cluster_alarms.delay(cluster_id, now)
    return len(clusters)


@shared_task(acks_late=True, soft_time_limit=55, time_limit=90)
def evaluate_cluster_alarms(cluster_id: int, now: str | None = None) -> dict:
    """Evaluate one cluster's due policies at ``now`` (ISO time; the dispatch time, so every
    cluster of one round reads the same window); the counts of what happened."""
    when = datetime.fromisoformat(now) if now else timezone.now()
    return evaluate_cluster(cluster_id, when).__dict__
