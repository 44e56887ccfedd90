"""Websocket routes of the terminal app (joined into ``tkeportal.routing``)."""

from django.urls import re_path

from .exec import ExecConsumer
from .logs import LogsConsumer
from .nodeshell import NodeShellConsumer

NAME = r"[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?"
POD = (
    rf"^ws/clusters/(?P<cluster>[-a-z0-9]{{1,64}})/namespaces/(?P<namespace>{NAME})"
    rf"/pods/(?P<pod>{NAME})"
)

websocket_urlpatterns = [
    re_path(POD + r"/exec$", ExecConsumer()),
    re_path(POD + r"/logs$", LogsConsumer()),
    re_path(
        rf"^ws/clusters/(?P<cluster>[-a-z0-9]{{1,64}})/nodes/(?P<node>{NAME})/shell$",
        NodeShellConsumer(),
    ),
]
