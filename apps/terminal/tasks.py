"""Background work of the terminal app: the node shells' orphaned pods
(:func:`apps.terminal.nodeshell.clean_orphans`), beat entry ``node-shell-cleanup``."""

from __future__ import annotations

import logging

from celery import shared_task

from apps.clusters import k8s
from apps.clusters.choices import ClusterPhase
from apps.clusters.models import Cluster

from .nodeshell import clean_orphans

logger = logging.getLogger("tkeportal.terminal")

TASK_OPTIONS = {"acks_late": True, "soft_time_limit": 120, "time_limit": 150}


@shared_task(**TASK_OPTIONS)
def clean_node_shells() -> int:
    """Every cluster's orphaned node shell pods, deleted; how many. A cluster that cannot be
    reached is logged and tried again at the next run (its pods wait, labelled)."""
    removed = 0
    clusters = Cluster.objects.exclude(phase=ClusterPhase.TERMINATING).select_related(
        "credential", "tenant"
    )
    for cluster in clusters:
        try:
            removed += len(clean_orphans(cluster))
        except k8s.ClusterError as exc:
            logger.warning("node shell cleanup of cluster %s: %s", cluster.name, exc.detail)
    return removed
