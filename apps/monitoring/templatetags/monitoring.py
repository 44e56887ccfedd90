"""``{% monitoring_panel cluster level part… %}``: the "Monitoring" section of the cluster, node,
workload and pod pages — CPU, memory (used against requests and limits), pods, restarts and
network over 1 hour to 7 days, drawn by uPlot (static/console/monitoring.js) from
``/api/v1/metrics/``. Shown only to a user who may ``listMetrics`` on the object."""

from __future__ import annotations

from django import template
from django.urls import reverse
from django.utils.translation import gettext as _

from ..query import may_read

register = template.Library()


def _chart(ident: str, title: str, unit: str, metrics: list[tuple[str, str]]) -> dict:
    return {
        "id": ident,
        "title": title,
        "unit": unit,
        "series": [{"metric": m, "label": label} for m, label in metrics],
    }


def charts_for(level: str) -> list[dict]:
    """The charts of a level: each a title, a unit and its metrics (catalogue short names)."""
    used, requested, limit = _("used"), _("requested"), _("limit")
    allocatable = _("allocatable")
    network = _chart(
        "network",
        _("Network"),
        "bytes/s",
        [
            ("network_receive_bytes_bw", _("received")),
            ("network_transmit_bytes_bw", _("transmitted")),
        ],
    )
    if level in ("cluster", "node"):
        cpu = [("cpu_core_used", used), ("cpu_core_request", requested)]
        memory = [("mem_usage_bytes", used), ("mem_request_bytes", requested)]
        cpu.append(("cpu_allocatable", allocatable))
        memory.append(("mem_allocatable_bytes", allocatable))
    else:
        cpu = [("cpu_core_used", used), ("cpu_core_request", requested), ("cpu_core_limit", limit)]
        memory = [
            ("mem_usage_bytes", used),
            ("mem_request_bytes", requested),
            ("mem_limit_bytes", limit),
        ]
    out = [_chart("cpu", _("CPU"), "core", cpu), _chart("memory", _("Memory"), "bytes", memory)]
    if level == "cluster":
        out.append(
            _chart(
                "pods",
                _("Pods"),
                "count",
                [
                    ("pod_running", _("running")),
                    ("pod_pending", _("pending")),
                    ("pod_failed", _("failed")),
                ],
            )
        )
        out.append(_chart("restarts", _("Restarts"), "count", [("restart_total", _("total"))]))
    elif level == "node":
        out.append(_chart("pods", _("Pods"), "count", [("pod_num", _("pods"))]))
        out.append(_chart("restarts", _("Restarts"), "count", [("pod_restart_total", _("total"))]))
    elif level == "workload":
        out.append(
            _chart(
                "pods",
                _("Pods"),
                "count",
                [("pod_running", _("running")), ("pod_total", _("total"))],
            )
        )
        out.append(_chart("restarts", _("Restarts"), "count", [("restart_total", _("total"))]))
    else:
        out.append(_chart("restarts", _("Restarts"), "count", [("restart_total", _("total"))]))
    out.append(network)
    return out


RANGES = (("3600", "1 h"), ("21600", "6 h"), ("86400", "24 h"), ("604800", "7 d"))


@register.inclusion_tag("console/monitoring/_panel.html", takes_context=True)
def monitoring_panel(context, cluster, level: str, *parts):
    """``parts`` make the object key: nothing (cluster), a node, ``ns pod``, ``ns Kind name``."""
    key = "/".join(str(p) for p in parts)
    user = context["request"].user
    if not may_read(user, cluster, level, key):
        return {"shown": False}
    return {
        "shown": True,
        "url": reverse("api:metrics"),
        "cluster": cluster,
        "level": level,
        "key": key,
        "ranges": RANGES,
        "config": {
            "charts": charts_for(level),
            "strings": {
                "empty": _("No data yet: metrics appear a minute or two after collection starts."),
                "failed": _("Metrics could not be loaded: %(reason)s"),
                "noChart": _("No data in this range."),
            },
        },
    }
