"""Console routes and menu entries of this area (``apps/console/routes/__init__.py``):
a cluster's workloads, one workload's page and its operations, and the generic object forms
every area's registered kinds use (``apps/console/forms/registry.py``)."""

from __future__ import annotations

from django.urls import path, re_path
from django.utils.translation import gettext_lazy as _

from ..nav import Entry
from ..views import forms, workloads

# Kubernetes names as the API's routes take them: a wildcard or an odd segment never reaches
# a decision or the cluster.
_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_NAME = r"(?P<name>[a-z0-9]([-a-z0-9.]*[a-z0-9])?)"
_KIND = r"(?P<kind>[a-z0-9]+)"
_CLUSTER = r"^clusters/(?P<cluster>[^/]+)"
_WORKLOAD = (
    rf"{_CLUSTER}/workloads/(?P<namespace>{_DNS_LABEL})/"
    rf"(?P<kind>deployments|statefulsets|daemonsets|jobs|cronjobs)/{_NAME}/"
)

urlpatterns: list = [
    re_path(rf"{_CLUSTER}/new/{_KIND}/$", forms.ObjectFormView.as_view(), name="form-new"),
    re_path(
        rf"{_CLUSTER}/namespaces/(?P<namespace>-|{_DNS_LABEL})/{_KIND}/{_NAME}/edit/$",
        forms.ObjectFormView.as_view(),
        name="form-edit",
    ),
    path(
        "clusters/<str:cluster>/workloads/",
        workloads.WorkloadListView.as_view(),
        name="workloads",
    ),
    re_path(_WORKLOAD + "$", workloads.WorkloadView.as_view(), name="workload"),
    re_path(
        _WORKLOAD + "scale/$",
        workloads.WorkloadActionView.as_view(operation="scale"),
        name="workload-scale",
    ),
    re_path(
        _WORKLOAD + "restart/$",
        workloads.WorkloadActionView.as_view(operation="restart"),
        name="workload-restart",
    ),
    re_path(
        _WORKLOAD + "rollback/$",
        workloads.WorkloadActionView.as_view(operation="rollback"),
        name="workload-rollback",
    ),
]
NAV: list = []
CLUSTER_TABS: list = [
    Entry(
        _("Workloads"),
        "console:workloads",
        "listDeployments",
        "projects.ProjectNamespace",
        icon="boxes",
        also=("console:workload", "console:form-*"),
    ),
]
