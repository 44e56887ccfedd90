"""What of a cluster's own inventory a user may see where the cluster is shown (the cluster
list and detail, the overview).

A cluster is readable to the members of the projects spanning it (``getCluster`` through
:class:`apps.authz.engine.Ownership`), but its nodes are a cluster-scoped kind and its pod
total counts every namespace: those stay the platform's. A user who may not ``listNodes``
on ``cluster:<c>/node:*`` (the REST node list's own path) sees no node inventory — count,
architectures, GPUs, capacity — and one who may not list pods across every namespace sees
no pod total, no requests and only the abnormal pods of their own namespaces; such a user
sees instead the namespaces they reach on the cluster. The
cluster's operations follow what they are about: a namespace's (``target`` ``namespace:<ns>``,
a project namespace being created, resized, moved, repaired) are shown to whoever may read that
namespace; the cluster's own (import, health check, sync, credential rotation) and the other
projects' only to those who read every namespace of it. Every answer comes from the compiled
rules: no query per cluster.
"""

from __future__ import annotations

from apps.authz import check, check_collection
from apps.projects.access import reach

NODE_FIELDS = ("node_count", "architectures", "gpu_summary", "capacity", "allocatable")
OVERVIEW_NODE_FIELDS = (
    "nodes",
    "ready_nodes",
    "capacity",
    "allocatable",
    "node_requests",
    "abnormal_nodes",
    "abnormal_node_count",
)


def sees_nodes(user, cluster) -> bool:
    return bool(check(user, "listNodes", f"cluster:{cluster.name}/node:*", tenant=cluster.tenant))


def sees_all_pods(user, cluster) -> bool:
    everywhere = f"cluster:{cluster.name}/namespace:*/pod:*"
    return bool(check_collection(user, "listPods", everywhere, tenant=cluster.tenant))


def redact_overview_row(user, cluster, row: dict) -> dict:
    """An overview row as ``user`` may see it: node inventory and pod total only for those
    who may list them; ``namespaces`` None for whoever reaches every namespace, else the
    namespaces (sorted) the user may list pods in."""
    row = dict(row)
    if not sees_nodes(user, cluster):
        row.update(dict.fromkeys(OVERVIEW_NODE_FIELDS))
    if sees_all_pods(user, cluster):
        row["namespaces"] = None
    else:
        row["pods"] = None
        row["namespaces"] = list(reach(user, cluster, "listPods", "pod:*").namespaces)
        # the requests of every namespace are the platform's; abnormal pods of the user's own
        allowed = set(row["namespaces"])
        row["requests"] = row["node_requests"] = None
        row["abnormal_pods"] = [
            p for p in row.get("abnormal_pods") or [] if p.get("namespace") in allowed
        ]
        row["abnormal_pod_count"] = len(row["abnormal_pods"])
    return row


def visible_operations(user, cluster, operations):
    """``operations`` (a queryset of the cluster's) limited, in SQL, to those ``user`` may see:
    all for whoever may read every namespace of the cluster, else those about the namespaces
    the user may read (a project member: its own project's, never another project's)."""
    found = reach(user, cluster, "getNamespace", "")
    if found.everything:
        return operations
    return operations.filter(target__in=[f"namespace:{ns}" for ns in found.namespaces])
