"""Cluster lifecycle → monitoring: a deleted cluster's points go with it (the point tables
have no foreign key, so the cascade from Cluster to Series would leave them behind).

(An imported cluster gets its ClusterMonitor from the collection dispatcher within a minute,
or from the settings API or seeddemo: not here, so code and tests that create the row
themselves keep working.)"""

from __future__ import annotations

from django.db.models.signals import pre_delete
from django.dispatch import receiver

from apps.clusters.models import Cluster

from . import store


@receiver(pre_delete, sender=Cluster, dispatch_uid="monitoring-cluster-deleted")
def cluster_deleted(sender, instance: Cluster, **kwargs):
    store.forget_cluster(instance.pk)
