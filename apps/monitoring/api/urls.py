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

# -- alerting (apps.monitoring.alerts) ---------------------------------------------------------
from apps.monitoring.alerts.alertmanager import alertmanager_webhook  # noqa: E402

from .alerts import (  # noqa: E402
    NAME_LOOKUP,
    AlarmPolicyViewSet,
    AlarmRecordViewSet,
    AlarmSilenceViewSet,
    AlertmanagerWebhookViewSet,
)

_C = "clusters/<str:cluster>"
_P = f"{_C}/alarm-policies"
_R = f"{_C}/alarm-records"
_S = f"{_C}/alarm-silences"
_W = f"{_C}/alertmanager-webhook"
urlpatterns += [
    path(
        f"{_P}/",
        AlarmPolicyViewSet.as_view({"get": "list", "post": "create"}),
        name="alarmpolicy-list",
    ),
    path(
        f"{_P}/batch-delete/",
        AlarmPolicyViewSet.as_view({"post": "batch_delete"}),
        name="alarmpolicy-batch-delete",
    ),
    path(
        f"{_P}/<str:name>/",
        AlarmPolicyViewSet.as_view(
            {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"}
        ),
        name="alarmpolicy-detail",
    ),
    path(
        f"{_P}/<str:name>/copy/",
        AlarmPolicyViewSet.as_view({"post": "copy"}),
        name="alarmpolicy-copy",
    ),
    path(f"{_R}/", AlarmRecordViewSet.as_view({"get": "list"}), name="alarmrecord-list"),
    path(
        f"{_R}/<int:pk>/",
        AlarmRecordViewSet.as_view({"get": "retrieve"}),
        name="alarmrecord-detail",
    ),
    path(
        f"{_S}/",
        AlarmSilenceViewSet.as_view({"get": "list", "post": "create"}),
        name="alarmsilence-list",
    ),
    path(
        f"{_S}/<int:pk>/",
        AlarmSilenceViewSet.as_view(
            {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"}
        ),
        name="alarmsilence-detail",
    ),
    path(
        f"{_S}/<int:pk>/expire/",
        AlarmSilenceViewSet.as_view({"post": "expire"}),
        name="alarmsilence-expire",
    ),
    path(
        f"{_W}/",
        AlertmanagerWebhookViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="alertmanagerwebhook-detail",
    ),
    path(
        f"{_W}/rotate/",
        AlertmanagerWebhookViewSet.as_view({"post": "rotate"}),
        name="alertmanagerwebhook-rotate",
    ),
    path(
        "monitor/alertmanager/<str:cluster>/",
        alertmanager_webhook,
        name="alertmanager-webhook",
    ),
]
assert NAME_LOOKUP  # policy names in paths: validated by the model, looked up as given
