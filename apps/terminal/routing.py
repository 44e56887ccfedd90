"""Websocket routes of the terminal app (joined into ``tkeportal.routing``)."""

from django.urls import re_path

from .exec import ExecConsumer
from .logs import WORKLOAD_KINDS, LogsConsumer, WorkloadLogsConsumer
from .nodeshell import NodeShellConsumer

NAME = r"[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?"
NAMESPACE = rf"^ws/clusters/(?P<cluster>[-a-z0-9]{{1,64}})/namespaces/(?P<namespace>{NAME})"
POD = rf"{NAMESPACE}/pods/(?P<pod>{NAME})"
WORKLOAD = rf"{NAMESPACE}/workloads/(?P<kind>{'|'.join(WORKLOAD_KINDS)})/(?P<name>{NAME})"

websocket_urlpatterns = [
    re_path(POD + r"/exec$", ExecConsumer()),
    re_path(POD + r"/logs$", LogsConsumer()),
    re_path(WORKLOAD + r"/logs$", WorkloadLogsConsumer()),
    re_path(
        rf"^ws/clusters/(?P<cluster>[-a-z0-9]{{1,64}})/nodes/(?P<node>{NAME})/shell$",
        NodeShellConsumer(),
    ),
]
