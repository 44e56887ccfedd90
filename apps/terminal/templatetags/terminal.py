"""``{% terminal_link cluster namespace name %}``: the pod page's "Terminal" button, shown
only to a user who may ``execPod`` on that pod."""

from __future__ import annotations

from django import template

from apps.authz.enforcer import check

from ..services import EXEC_ACTION, pod_resource

register = template.Library()


@register.inclusion_tag("console/terminal/_link.html", takes_context=True)
def terminal_link(context, cluster, namespace, name):
    user = context["request"].user
    allowed = bool(
        check(user, EXEC_ACTION, pod_resource(cluster.name, namespace, name), tenant=cluster.tenant)
    )
    return {"allowed": allowed, "cluster": cluster, "namespace": namespace, "name": name}
