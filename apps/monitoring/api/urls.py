"""/api/v1/ routes of apps.monitoring."""

from django.urls import path

from .metrics import MetricsView
from .monitors import ClusterMonitorView
from .prometheus import (
    BuildInfoView,
    InstantQueryView,
    LabelsView,
    LabelValuesView,
    MetadataView,
    RangeQueryView,
    SeriesView,
)

urlpatterns: list = [
    # query (c-query): the metric catalogue's points, and a PromQL subset for Grafana
    path("metrics/", MetricsView.as_view(), name="metrics"),
    path("query_range", RangeQueryView.as_view(), name="prometheus-query-range"),
    path("query", InstantQueryView.as_view(), name="prometheus-query"),
    path("labels", LabelsView.as_view(), name="prometheus-labels"),
    path("label/<str:name>/values", LabelValuesView.as_view(), name="prometheus-label-values"),
    path("series", SeriesView.as_view(), name="prometheus-series"),
    path("metadata", MetadataView.as_view(), name="prometheus-metadata"),
    path("status/buildinfo", BuildInfoView.as_view(), name="prometheus-buildinfo"),
    # collect (c-collect): a cluster's monitoring settings
    path(
        "clusters/<str:cluster>/monitoring/",
        ClusterMonitorView.as_view(),
        name="cluster-monitoring",
    ),
]
