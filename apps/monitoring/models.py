"""Metric storage and per-cluster collection state.

Points are stored one row per object per minute: the values of every metric of the object's
level (apps.monitoring.catalog, in catalogue order) packed as little-endian float32, NaN where a
source had no value. Three tables with the same shape hold three resolutions: raw 1-minute
points, 5-minute and 1-hour rollups (average and maximum). On PostgreSQL each is partitioned by
day on ``ts`` so retention drops whole partitions (apps.monitoring.partitions); elsewhere
(SQLite, the embedded demo) they are plain tables pruned with DELETE. apps.monitoring.store is
the only code that reads or writes them.

Points have no foreign key to their series (a constraint would cost every COPY and every
partition drop). When a cluster is deleted its series go with it, and its points — which no
query can reach any more, series ids never being reused — are removed by retention.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.crypto import EncryptedTextField
from apps.core.models import TenantScopedModel

from .catalog import LEVELS


class Level(models.TextChoices):
    CLUSTER = "cluster", _("Cluster")
    NODE = "node", _("Node")
    NAMESPACE = "namespace", _("Namespace")
    WORKLOAD = "workload", _("Workload")
    POD = "pod", _("Pod")
    CONTAINER = "container", _("Container")


assert tuple(Level.values) == LEVELS


class Source(models.TextChoices):
    API = "api", _("Kubernetes API and metrics.k8s.io")
    PROMETHEUS = "prometheus", _("The cluster's Prometheus")


class ClusterMonitor(TenantScopedModel):
    """How the portal collects one cluster's metrics, and how the last collection went."""

    cluster = models.OneToOneField(
        "clusters.Cluster", on_delete=models.CASCADE, related_name="monitor"
    )
    enabled = models.BooleanField(default=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.API)
    # The cluster's own Prometheus (source=prometheus): its base URL and, when it needs one,
    # a bearer token (encrypted; never returned).
    prometheus_url = models.URLField(blank=True, max_length=512)
    prometheus_token = EncryptedTextField(blank=True, default="", help_text="Encrypted at rest.")
    prometheus_verify_tls = models.BooleanField(default=True)

    last_collected_at = models.DateTimeField(null=True, blank=True)
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    last_series = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    # Rollups of this cluster's points are complete before these instants (bucket starts).
    rolled_5m_until = models.DateTimeField(null=True, blank=True)
    rolled_1h_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["cluster_id"]

    def __str__(self) -> str:
        return f"monitor of {self.cluster_id}"


class Series(models.Model):
    """One monitored object of one cluster at one level (``pod`` ``web/api-7d9f-x2``), with
    the labels a query can match beyond its key (a pod's node and workload)."""

    cluster = models.ForeignKey("clusters.Cluster", on_delete=models.CASCADE, related_name="+")
    level = models.CharField(max_length=16, choices=Level.choices)
    key = models.CharField(max_length=512)
    labels = models.JSONField(default=dict, blank=True)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["cluster_id", "level", "key"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "level", "key"], name="monitoring_series_unique_key"
            )
        ]
        verbose_name_plural = "series"

    def __str__(self) -> str:
        return f"{self.level} {self.key or '(cluster)'}"


class _Points(models.Model):
    """Values of one series at one instant (the start of its minute or rollup bucket)."""

    pk = models.CompositePrimaryKey("series", "ts")
    series = models.ForeignKey(
        Series, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False
    )
    ts = models.DateTimeField()
    values = models.BinaryField()

    class Meta:
        abstract = True
        managed = False  # created by the migration: partitioned on PostgreSQL


class Point(_Points):
    """A raw 1-minute point."""

    class Meta(_Points.Meta):
        db_table = "monitoring_point"


class Rollup5m(_Points):
    """A 5-minute bucket: ``values`` the averages, ``maxima`` the largest values."""

    maxima = models.BinaryField()

    class Meta(_Points.Meta):
        db_table = "monitoring_rollup_5m"


class Rollup1h(_Points):
    """A 1-hour bucket: ``values`` the averages, ``maxima`` the largest values."""

    maxima = models.BinaryField()

    class Meta(_Points.Meta):
        db_table = "monitoring_rollup_1h"


# Alerting (apps.monitoring.alerts): defined there, imported here so Django sees them.
from .alerts.models import (  # noqa: E402
    AlarmMetric,
    AlarmNotice,
    AlarmPolicy,
    AlarmRecord,
    AlarmSilence,
    AlertmanagerWebhook,
)

__all__ = [
    "AlarmMetric",
    "AlarmNotice",
    "AlarmPolicy",
    "AlarmRecord",
    "AlarmSilence",
    "AlertmanagerWebhook",
    "ClusterMonitor",
    "Level",
    "Point",
    "Rollup1h",
    "Rollup5m",
    "Series",
    "Source",
]
