"""Metric tasks (routed to queue ``metrics`` by CELERY_TASK_ROUTES).

- ``dispatch_collections`` (beat "metrics-collect", every minute): one
  ``collect_cluster_metrics`` per enabled monitor, spread over the minute (countdown jitter).
  A cluster without a ClusterMonitor row gets one (source: the API) on the way.
- ``collect_cluster_metrics(cluster_id)``: re-fetches the monitor, collects, stores, records
  the outcome on the monitor, then rolls the cluster's points up. Idempotent within a minute
  (the store keeps one point per series and minute); a dead cluster is recorded, not raised.
- ``prune_metrics`` (beat "metrics-prune", hourly): retention (apps.monitoring.store.prune).
"""

from __future__ import annotations

import logging
import random

from celery import shared_task

from apps.clusters.choices import ClusterPhase
from apps.clusters.models import Cluster

from . import collect, store
from .models import ClusterMonitor

logger = logging.getLogger("tkeportal.monitoring")
# Collections of all clusters are spread over this many seconds of the minute.
COLLECT_JITTER_S = 50
TASK_OPTIONS = {"acks_late": True, "soft_time_limit": 50, "time_limit": 58}


def ensure_monitors() -> int:
    """Give every cluster without a ClusterMonitor one (enabled, source api); how many."""
    missing = Cluster.objects.filter(monitor__isnull=True).exclude(phase=ClusterPhase.TERMINATING)
    created = ClusterMonitor.objects.bulk_create(
        [ClusterMonitor(tenant_id=c.tenant_id, cluster=c) for c in missing],
        ignore_conflicts=True,
    )
    return len(created)


@shared_task
def dispatch_collections() -> int:
    """Beat entry (every minute): one collection per enabled cluster, spread out."""
    ensure_monitors()
    ids = (
        ClusterMonitor.objects.filter(enabled=True)
        .exclude(cluster__phase=ClusterPhase.TERMINATING)
        .values_list("cluster_id", flat=True)
    )
    count = 0
    for cluster_id in ids:
        collect_cluster_metrics.apply_async(
            (cluster_id,), countdown=random.uniform(0, COLLECT_JITTER_S)
        )
        count += 1
    return count


@shared_task(**TASK_OPTIONS)
def collect_cluster_metrics(cluster_id: int) -> dict:
    monitor = (
        ClusterMonitor.objects.select_related("cluster", "cluster__credential")
        .filter(cluster_id=cluster_id, enabled=True)
        .first()
    )
    if monitor is None or monitor.cluster.phase == ClusterPhase.TERMINATING:
        return {"ok": False, "skipped": True}
    result = collect.collect(monitor)
    result["rolled"] = store.roll_up(monitor)
    return result


@shared_task
def prune_metrics() -> dict:
    report = store.prune()
    logger.info("metrics pruned: %s", report)
    return report
