"""Project namespace tasks (routed to queue ``cluster-ops`` by CELERY_TASK_ROUTES).

They take ids, re-fetch, and are idempotent: a re-delivered or retried operation repeats only
the steps it has not recorded as done (apps/projects/namespaces.py)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from apps.clusters.choices import OperationPhase
from apps.clusters.models import Cluster, ClusterOperation

from . import namespaces

logger = logging.getLogger("tkeportal.projects")
TASK_OPTIONS = {"acks_late": True, "soft_time_limit": 240, "time_limit": 280}


@shared_task(**TASK_OPTIONS)
def run_namespace_operation(operation_id: int) -> str:
    """The cluster half of creating, importing, resizing, moving or deleting a namespace."""
    op = ClusterOperation.objects.filter(pk=operation_id).first()
    if op is None or op.phase == OperationPhase.SUCCEEDED:
        return "nothing to do"
    return namespaces.run_operation(op)


@shared_task(**TASK_OPTIONS)
def reconcile_cluster_namespaces(cluster_id: int) -> str:
    cluster = Cluster.objects.select_related("credential").filter(pk=cluster_id).first()
    if cluster is None:
        return "skipped"
    summary = namespaces.reconcile_cluster(cluster)
    if summary.get("skipped"):
        return "skipped"
    return "failed" if "failed" in summary else "reconciled"


@shared_task
def dispatch_namespace_reconciles() -> int:
    """Beat entry (every minute): one reconcile per cluster holding project namespaces whose
    next run is due (a cluster in back-off waits; the task checks again, so a duplicate
    dispatch is harmless)."""
    now = timezone.now()
    due = (
        Cluster.objects.filter(project_namespaces__isnull=False)
        .filter(
            Q(namespace_reconcile__isnull=True)
            | Q(namespace_reconcile__next_attempt_at__isnull=True)
            | Q(namespace_reconcile__next_attempt_at__lte=now)
        )
        .distinct()
        .values_list("pk", flat=True)
    )
    count = 0
    for cluster_id in due:
        reconcile_cluster_namespaces.delay(cluster_id)
        count += 1
    logger.debug("dispatched %d namespace reconciles", count)
    return count
