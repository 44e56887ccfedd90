"""Background work of the charts app: importing and resyncing chart groups that mirror a
third-party Helm repository (:func:`apps.charts.importer.sync`); beat entry
``chart-group-resync`` (hourly) dispatches one task per importing group."""

from __future__ import annotations

import logging

from celery import shared_task

from .models import ChartGroup

logger = logging.getLogger("tkeportal.charts")

TASK_OPTIONS = {"acks_late": True, "soft_time_limit": 600, "time_limit": 660}


@shared_task(**TASK_OPTIONS)
def sync_chart_group(group_id: int) -> dict:
    """Import what the group's repository lists and the group lacks; the report (also on the
    group: ``last_synced_at``, ``sync_message``). A group deleted meanwhile is skipped."""
    from . import services

    group = ChartGroup.objects.select_related("tenant").filter(pk=group_id).first()
    if group is None or not group.import_url:
        return {"skipped": "no such importing group"}
    report = services.sync_group(group)
    logger.info(
        "chart group %s/%s resync: %s",
        group.tenant.slug,
        group.name,
        report.get("message") or report.get("error"),
    )
    return report


@shared_task(acks_late=True)
def dispatch_chart_group_resyncs() -> int:
    """One :func:`sync_chart_group` per group with an ``import_url``; how many."""
    ids = list(ChartGroup.objects.exclude(import_url="").values_list("pk", flat=True))
    for group_id in ids:
        sync_chart_group.delay(group_id)
    return len(ids)
