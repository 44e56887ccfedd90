"""``{% terminal_link cluster namespace name %}``: the pod page's "Terminal" and "Logs"
buttons, each shown only to a user who may ``execPod`` / ``getPodLog`` on that pod."""

from __future__ import annotations

from django import template

from apps.authz.enforcer import check

from ..services import EXEC_ACTION, LOG_ACTION, pod_resource

register = template.Library()


@register.inclusion_tag("console/terminal/_link.html", takes_context=True)
def terminal_link(context, cluster, namespace, name):
    user = context["request"].user
    resource = pod_resource(cluster.name, namespace, name)
    return {
        "may_exec": bool(check(user, EXEC_ACTION, resource, tenant=cluster.tenant)),
        "may_logs": bool(check(user, LOG_ACTION, resource, tenant=cluster.tenant)),
        "cluster": cluster,
        "namespace": namespace,
        "name": name,
    }
