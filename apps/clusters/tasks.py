"""Cluster tasks (routed to queue ``cluster-ops`` by CELERY_TASK_ROUTES).

They take ids, re-fetch, and are idempotent: a retried or re-delivered task repeats only the
steps its operation has not recorded as done."""

from __future__ import annotations

import logging
import random

from celery import shared_task
from django.utils import timezone

from . import k8s, services
from .choices import ClusterPhase, OperationPhase
from .models import Cluster, ClusterOperation

logger = logging.getLogger("tkeportal.clusters")
TASK_OPTIONS = {"acks_late": True, "soft_time_limit": 120, "time_limit": 150}
# Health checks of all clusters are spread over this many seconds (jitter).
HEALTH_JITTER_S = 20


@shared_task(**TASK_OPTIONS)
def finish_import(operation_id: int) -> str:
    """The import's last step: the first node inventory sync."""
    op = ClusterOperation.objects.select_related("cluster").filter(pk=operation_id).first()
    if op is None or op.phase in (OperationPhase.SUCCEEDED, OperationPhase.FAILED):
        return "nothing to do"
    op.attempts += 1
    op.save(update_fields=["attempts", "updated_at"])
    if not op.step_done("EnsureNodesSynced"):
        try:
            services.sync_nodes(op.cluster)
        except k8s.ClusterError as exc:
            services._record_step(op, "EnsureNodesSynced", False, str(exc.detail))
            op.phase, op.message = OperationPhase.FAILED, str(exc.detail)
            op.save(update_fields=["phase", "message", "updated_at"])
            services.record_health(
                op.cluster, ok=False, version=None, reason=exc.default_code, message=str(exc.detail)
            )
            return "failed"
        services._record_step(op, "EnsureNodesSynced", True)
    services.record_health(op.cluster, ok=True, version=None)
    op.phase = OperationPhase.SUCCEEDED
    op.save(update_fields=["phase", "updated_at"])
    return "succeeded"


@shared_task(**TASK_OPTIONS)
def check_cluster_health(cluster_id: int) -> str:
    cluster = Cluster.objects.select_related("credential").filter(pk=cluster_id).first()
    if cluster is None or cluster.phase == ClusterPhase.TERMINATING:
        return "skipped"
    cluster = services.check_health(cluster)
    return cluster.phase


@shared_task(**TASK_OPTIONS)
def sync_cluster_nodes(cluster_id: int) -> str:
    cluster = Cluster.objects.select_related("credential").filter(pk=cluster_id).first()
    if cluster is None:
        return "skipped"
    try:
        services.sync_nodes(cluster)
    except k8s.ClusterError as exc:
        logger.info("node sync of %s failed: %s", cluster.name, exc.detail)
        return "failed"
    return "synced"


@shared_task
def dispatch_health_checks() -> int:
    """Beat entry (every minute): one health check and sync per cluster, spread out."""
    count = 0
    for cluster_id in Cluster.objects.exclude(phase=ClusterPhase.TERMINATING).values_list(
        "pk", flat=True
    ):
        delay = random.uniform(0, HEALTH_JITTER_S)
        check_cluster_health.apply_async((cluster_id,), countdown=delay)
        sync_cluster_nodes.apply_async((cluster_id,), countdown=delay + 1)
        count += 1
    logger.debug("dispatched %d health checks at %s", count, timezone.now())
    return count
