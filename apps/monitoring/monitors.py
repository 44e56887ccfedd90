"""Writes to a cluster's monitoring settings (ClusterMonitor), validated and audited.

The Prometheus URL passes the same address policy as a cluster's API server
(apps.clusters.services.validate_server: no metadata services, link-local, loopback only when
allowed) and is checked again at every connection. A bearer token is write-only; moving the
URL without giving a token forgets the stored one, so a token is never sent to an address
its owner did not give it for.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError

from apps.clusters import services as cluster_services

from .models import ClusterMonitor, Source

FIELDS = ("enabled", "source", "prometheus_url", "prometheus_token", "prometheus_verify_tls")


def monitor_for(cluster) -> ClusterMonitor:
    """The cluster's monitor, made (enabled, source api) when it has none yet."""
    monitor, _created = ClusterMonitor.objects.get_or_create(
        cluster=cluster, defaults={"tenant_id": cluster.tenant_id}
    )
    return monitor


def validate_url(url: str) -> str:
    try:
        return cluster_services.validate_server(url)
    except (ValidationError, DjangoValidationError) as exc:
        detail = getattr(exc, "detail", None) or getattr(exc, "message_dict", {})
        message = detail.get("server") if isinstance(detail, dict) else detail
        raise ValidationError({"prometheus_url": message or str(exc)}) from exc


@transaction.atomic
def update_monitor(*, actor, monitor: ClusterMonitor, **changes) -> ClusterMonitor:
    """Change the settings named in ``changes`` (audited by the API request that calls it)."""
    for name in set(changes) - set(FIELDS):
        raise ValidationError({name: _("This field cannot be changed.")})
    monitor = ClusterMonitor.objects.select_for_update().get(pk=monitor.pk)
    if "prometheus_url" in changes and changes["prometheus_url"]:
        changes["prometheus_url"] = validate_url(changes["prometheus_url"])
    moved = "prometheus_url" in changes and changes["prometheus_url"] != monitor.prometheus_url
    if moved and "prometheus_token" not in changes:
        changes["prometheus_token"] = ""
    for name, value in changes.items():
        setattr(monitor, name, value)
    if monitor.source == Source.PROMETHEUS and not monitor.prometheus_url:
        raise ValidationError(
            {"prometheus_url": _("Give the Prometheus URL to collect from Prometheus.")}
        )
    if changes:
        # A new source or address starts a fresh failure count.
        if {"source", "prometheus_url", "enabled"} & set(changes):
            monitor.consecutive_failures, monitor.last_error = 0, ""
        monitor.save()
    return monitor
