"""Console routes and menu entries of this area (``apps/console/routes/__init__.py``): chart
groups, charts and their versions, installing them, and releases."""

from __future__ import annotations

from django.urls import path
from django.utils.translation import gettext_lazy as _

from ..nav import Entry, Section
from ..views import charts as views

G = "charts/<str:group>"
C = f"{G}/charts/<str:chart>"
R = "releases/<str:cluster>/<str:namespace>/<str:name>"

urlpatterns: list = [
    path("charts/", views.GroupListView.as_view(), name="chart-groups"),
    path("charts/new/", views.GroupFormView.as_view(), name="chart-group-create"),
    path(f"{G}/", views.GroupView.as_view(), name="chart-group"),
    path(f"{G}/edit/", views.GroupFormView.as_view(creating=False), name="chart-group-edit"),
    path(f"{G}/delete/", views.GroupDeleteView.as_view(), name="chart-group-delete"),
    path(f"{G}/sync/", views.GroupSyncView.as_view(), name="chart-group-sync"),
    path(f"{C}/", views.ChartView.as_view(), name="chart"),
    path(f"{C}/<str:version>/install/", views.InstallView.as_view(), name="chart-install"),
    path("releases/", views.ReleaseListView.as_view(), name="releases"),
    path(f"{R}/", views.ReleaseView.as_view(), name="release"),
]
NAV: list = [
    Section(
        "charts",
        _("Applications"),
        (
            Entry(
                _("Chart groups"),
                "console:chart-groups",
                icon="archive",
                also=("console:chart-group", "console:chart-group-*", "console:chart*"),
            ),
            Entry(
                _("Releases"),
                "console:releases",
                icon="rocket",
                also=("console:release",),
            ),
        ),
    )
]
CLUSTER_TABS: list = []
