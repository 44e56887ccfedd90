"""Who may read and write a chart group: the rules every door uses (the ChartMuseum API under
``/chart/``, the REST API's nested chart routes, the console).

Read (index, download, list): a public group, anyone (anonymous too); a group of visibility
user, its owner; of visibility project, the project's members — ``pullChart`` judged in the
project's domain, where the project's roles are bound; and anyone policy grants ``pullChart``
on the chart (``chartgroup:<g>/chart:<c>``). Upload: ``pushChart``; delete:
``deleteChartVersion`` on ``…/version:<v>``. A group with a project is judged in the
project's domain as well as the tenant's, like registry namespaces (apps.registry.token).
"""

from __future__ import annotations

from apps.authz import check_here_or_in_project

from .choices import ChartVisibility
from .models import ChartGroup


def allowed(user, action: str, resource: str, group: ChartGroup) -> bool:
    if user is None or not user.is_authenticated:
        return False
    return check_here_or_in_project(user, action, resource, group)


def chart_resource(group: ChartGroup, chart: str = "*", version: str | None = None) -> str:
    resource = f"{group.authz_resource}/chart:{chart}"
    return f"{resource}/version:{version}" if version is not None else resource


def can_read(user, group: ChartGroup, chart: str = "*") -> bool:
    if group.visibility == ChartVisibility.PUBLIC:
        return True
    if user is None or not user.is_authenticated:
        return False
    if group.visibility == ChartVisibility.USER and group.owner_id == user.pk:
        return True
    return allowed(user, "pullChart", chart_resource(group, chart), group)


def can_push(user, group: ChartGroup, chart: str = "*") -> bool:
    return allowed(user, "pushChart", chart_resource(group, chart), group)


def can_delete(user, group: ChartGroup, chart: str, version: str) -> bool:
    return allowed(user, "deleteChartVersion", chart_resource(group, chart, version), group)
