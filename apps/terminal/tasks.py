"""Background work of the terminal app: the node shells' orphaned pods
(:func:`apps.terminal.nodeshell.clean_orphans`), beat entry ``node-shell-cleanup``; recordings
past their retention (:func:`purge_recordings`), beat entry ``terminal-recording-purge``."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from apps.clusters import k8s
from apps.clusters.choices import ClusterPhase
from apps.clusters.models import Cluster

from .models import TerminalSession
from .nodeshell import clean_orphans
from .recording import RecordingMissing, locate

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


PURGE_BATCH = 500


@shared_task(**TASK_OPTIONS)
def purge_recordings() -> int:
    """Remove the recordings of sessions that ended more than
    ``TERMINAL_RECORDING_RETENTION_DAYS`` ago (0: never): the file in the recordings directory
    or the data in the row. The session row stays (who, where, when, how it ended) and says
    when its recording went. Returns how many recordings were removed.

    A file that is already gone counts as removed; one that cannot be deleted (permissions) is
    logged and its row left as it is, so the next run tries again."""
    days = int(settings.TERMINAL_RECORDING_RETENTION_DAYS)
    if days <= 0:
        return 0
    cutoff = timezone.now() - timedelta(days=days)
    expired = (
        TerminalSession.objects.filter(ended_at__lt=cutoff, recording_purged_at__isnull=True)
        .filter(Q(recording__isnull=False) | ~Q(recording_path=""))
        .order_by("pk")
    )
    removed, last = 0, 0
    while batch := list(expired.filter(pk__gt=last).only("pk", "recording_path")[:PURGE_BATCH]):
        last = batch[-1].pk
        done = []
        for session in batch:
            if session.recording_path:
                try:
                    locate(session.recording_path).unlink()
                except RecordingMissing:
                    pass  # gone already, or outside the directory: nothing of ours to delete
                except OSError as exc:  # left for the next run, which tries again
                    logger.warning(
                        "recording %s of terminal session %s could not be removed: %s",
                        session.recording_path,
                        session.pk,
                        exc.strerror,
                    )
                    continue
            done.append(session.pk)
        removed += TerminalSession.objects.filter(pk__in=done).update(
            recording=None, recording_path="", recording_purged_at=timezone.now()
        )
    return removed
