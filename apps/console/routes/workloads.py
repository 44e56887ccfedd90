"""Console routes and menu entries of this area (``apps/console/routes/__init__.py``):
workloads of a cluster, one workload's page, and the generic object forms every area's
registered kinds use (``apps/console/forms/registry.py``)."""

from __future__ import annotations

from django.urls import path

from ..views import forms

urlpatterns: list = [
    path("clusters/<str:cluster>/new/<str:kind>/", forms.ObjectFormView.as_view(), name="form-new"),
    path(
        "clusters/<str:cluster>/namespaces/<str:namespace>/<str:kind>/<str:name>/edit/",
        forms.ObjectFormView.as_view(),
        name="form-edit",
    ),
]
NAV: list = []
CLUSTER_TABS: list = []
