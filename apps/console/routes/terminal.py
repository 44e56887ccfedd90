"""Console routes of the web terminal (``apps/console/routes/__init__.py``): a pod's terminal
page and live-logs page, a workload's terminal picker and live-logs page; their websockets are
routed in ``tkeportal/routing.py``."""

from __future__ import annotations

from django.urls import path, re_path
from django.utils.translation import gettext_lazy as _

from apps.terminal.logs import WORKLOAD_KINDS
from apps.terminal.views import (
    PodLogsView,
    PodTerminalView,
    TerminalCastView,
    TerminalSessionsView,
    TerminalSessionView,
    WorkloadLogsView,
    WorkloadTerminalView,
)

from .. import nav

_NAME = r"(?P<name>[a-z0-9]([-a-z0-9.]*[a-z0-9])?)"
_NAMESPACE = r"(?P<namespace>[a-z0-9]([-a-z0-9]*[a-z0-9])?)"
_POD = rf"^clusters/(?P<cluster>[^/]+)/namespaces/{_NAMESPACE}/pods/{_NAME}"
# Beside the workloads area's own pages of a workload (apps/console/routes/workloads.py).
_WORKLOAD = (
    rf"^clusters/(?P<cluster>[^/]+)/workloads/{_NAMESPACE}/"
    rf"(?P<kind>{'|'.join(WORKLOAD_KINDS)})/{_NAME}"
)

urlpatterns = [
    re_path(rf"{_POD}/terminal/$", PodTerminalView.as_view(), name="pod-terminal"),
    re_path(rf"{_POD}/logs/$", PodLogsView.as_view(), name="pod-logs"),
    re_path(rf"{_WORKLOAD}/terminal/$", WorkloadTerminalView.as_view(), name="workload-terminal"),
    re_path(rf"{_WORKLOAD}/logs/$", WorkloadLogsView.as_view(), name="workload-logs"),
    path("audit/terminal-sessions/", TerminalSessionsView.as_view(), name="terminal-sessions"),
    path(
        "audit/terminal-sessions/<int:pk>/",
        TerminalSessionView.as_view(),
        name="terminal-session",
    ),
    path(
        "audit/terminal-sessions/<int:pk>/cast/",
        TerminalCastView.as_view(),
        name="terminal-session-cast",
    ),
]
NAV = [
    nav.Section(
        "terminal",
        _("Web terminal"),
        (
            nav.Entry(
                _("Terminal sessions"),
                "console:terminal-sessions",
                "listAuditEvents",
                "audit.AuditEvent",
                icon="terminal",
                also=("console:terminal-session*",),
            ),
        ),
    )
]
CLUSTER_TABS: list = []
