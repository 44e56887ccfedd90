"""/api/v1/ routes of apps.monitoring."""

from django.urls import path

from .monitors import ClusterMonitorView

urlpatterns: list = [
    # collect: a cluster's monitoring settings
    path(
        "clusters/<str:cluster>/monitoring/",
        ClusterMonitorView.as_view(),
        name="cluster-monitoring",
    ),
]
