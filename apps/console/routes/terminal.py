"""Console routes of the web terminal (``apps/console/routes/__init__.py``): a pod's terminal
page; its websocket is routed in ``tkeportal/routing.py``."""

from __future__ import annotations

from django.urls import re_path

from apps.terminal.views import PodTerminalView

_NAME = r"(?P<name>[a-z0-9]([-a-z0-9.]*[a-z0-9])?)"
_NAMESPACE = r"(?P<namespace>[a-z0-9]([-a-z0-9]*[a-z0-9])?)"

urlpatterns = [
    re_path(
        rf"^clusters/(?P<cluster>[^/]+)/namespaces/{_NAMESPACE}/pods/{_NAME}/terminal/$",
        PodTerminalView.as_view(),
        name="pod-terminal",
    ),
]
NAV: list = []
CLUSTER_TABS: list = []
