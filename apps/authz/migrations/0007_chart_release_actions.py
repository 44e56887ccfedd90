"""Chart versions and releases: ``listChartVersions``, ``watchChartVersions``,
``getChartVersion``, ``deleteChartVersion`` on ``chartgroup:<g>/chart:<c>/version:<v>``; the
``Release`` kind (``…Release(s)`` and ``rollbackRelease`` on
``cluster:<c>/namespace:<ns>/release:<name>``, area ``cluster``); ``garbageCollectRegistry``
(platform level).

Stored policies keep their meaning (``_predefined.keep_meaning``): a tenant's allow statement
whose wildcard now reaches a version action without holding the matching chart action is
spelled out; a deny of the chart action also denies the version action. Then every tenant's
predefined policies are brought up to date and its policy version bumped. One-way."""

from __future__ import annotations

from django.db import migrations

from ._predefined import keep_meaning, refresh_predefined

NEW = {
    "listChartVersions": "listCharts",
    "watchChartVersions": "watchCharts",
    "getChartVersion": "getChart",
    "deleteChartVersion": "deleteChart",
}


def forward(apps, schema_editor):
    keep_meaning(apps, NEW)
    refresh_predefined(apps)


class Migration(migrations.Migration):
    dependencies = [("authz", "0006_registry_actions")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
