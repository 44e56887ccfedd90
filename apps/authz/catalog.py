"""The action catalogue (TKEStack verb names) and resource path grammar.

Policies are validated against it: an action pattern must match at least one known action
(so ``getClustr`` is rejected), and a resource must be ``*`` or ``kind:name/kind:name…``.
Apps register their kinds here as they arrive; ``manage.py authz_actions`` prints the table.
"""

from __future__ import annotations

import re

from .engine import Matcher

# kind → (plural, area, extra verbs beyond get/list/watch/create/update/delete)
KINDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # auth
    "Tenant": ("Tenants", "auth", ()),
    "User": (
        "Users",
        "auth",
        ("disableUser", "enableUser", "resetUserPassword", "listUserPermissions"),
    ),
    "Group": ("Groups", "auth", ("addGroupMember", "removeGroupMember")),
    "Policy": ("Policies", "auth", ()),
    "Role": ("Roles", "auth", ()),
    "Binding": ("Bindings", "auth", ()),
    "APIKey": ("APIKeys", "auth", ("disableAPIKey", "enableAPIKey")),
    "AuditEvent": ("AuditEvents", "audit", ()),
    # platform
    "Cluster": ("Clusters", "cluster", ("getClusterKubeconfig", "upgradeCluster")),
    "Node": ("Nodes", "cluster", ("cordonNode", "uncordonNode", "drainNode")),
    "Namespace": ("Namespaces", "cluster", ()),
    "Deployment": (
        "Deployments",
        "cluster",
        ("scaleDeployment", "restartDeployment", "rollbackDeployment"),
    ),
    "StatefulSet": ("StatefulSets", "cluster", ("scaleStatefulSet", "restartStatefulSet")),
    "DaemonSet": ("DaemonSets", "cluster", ("restartDaemonSet",)),
    "Job": ("Jobs", "cluster", ()),
    "CronJob": ("CronJobs", "cluster", ()),
    "Pod": ("Pods", "cluster", ("getPodLog", "execPod", "attachPod", "portforwardPod")),
    "Service": ("Services", "cluster", ()),
    "Ingress": ("Ingresses", "cluster", ()),
    "ConfigMap": ("ConfigMaps", "cluster", ()),
    "Secret": ("Secrets", "cluster", ("revealSecret",)),
    "ReplicaSet": ("ReplicaSets", "cluster", ()),
    "PersistentVolumeClaim": ("PersistentVolumeClaims", "cluster", ()),
    "PersistentVolume": ("PersistentVolumes", "cluster", ()),
    "StorageClass": ("StorageClasses", "cluster", ()),
    "HorizontalPodAutoscaler": ("HorizontalPodAutoscalers", "cluster", ()),
    "ResourceQuota": ("ResourceQuotas", "cluster", ()),
    "LimitRange": ("LimitRanges", "cluster", ()),
    "Event": ("Events", "cluster", ()),
    "CustomResource": ("CustomResources", "cluster", ()),
    "CustomResourceDefinition": ("CustomResourceDefinitions", "cluster", ()),
    "ClusterAddon": ("ClusterAddons", "addon", ()),
    # business
    "Project": ("Projects", "project", ("listProjectMembers",)),
    # registry
    "RegistryNamespace": ("RegistryNamespaces", "registry", ()),
    "Repository": ("Repositories", "registry", ("pullRepository", "pushRepository")),
    "ChartGroup": ("ChartGroups", "registry", ()),
    "Chart": ("Charts", "registry", ("pullChart", "pushChart")),
    # ops
    "AlarmPolicy": ("AlarmPolicies", "monitor", ()),
    "AlarmRecord": ("AlarmRecords", "monitor", ()),
    "Metric": ("Metrics", "monitor", ()),
    "NotifyChannel": ("NotifyChannels", "notify", ()),
    "NotifyTemplate": ("NotifyTemplates", "notify", ()),
    "Receiver": ("Receivers", "notify", ()),
    "ReceiverGroup": ("ReceiverGroups", "notify", ()),
    "Message": ("Messages", "notify", ()),
    "LogCollector": ("LogCollectors", "logagent", ()),
}

# Verbs that are not about one kind.
GLOBAL_ACTIONS = ("listPortal", "checkAuthz", "explainAuthz", "applyManifest")


def actions_of(kind: str) -> list[str]:
    plural, _area, extra = KINDS[kind]
    return [
        f"list{plural}",
        f"watch{plural}",
        f"get{kind}",
        f"create{kind}",
        f"update{kind}",
        f"delete{kind}",
        *extra,
    ]


def all_actions() -> list[str]:
    out = list(GLOBAL_ACTIONS)
    for kind in KINDS:
        out.extend(actions_of(kind))
    return out


def area_actions(area: str) -> list[str]:
    return [a for kind, (_p, ar, _e) in KINDS.items() if ar == area for a in actions_of(kind)]


_KNOWN = None
_ACTION_PATTERN = re.compile(r"^[A-Za-z*]+$")
_SEGMENT = r"(\*|[a-z]+:[A-Za-z0-9._@*-]+|:[a-z]+)"
_RESOURCE = re.compile(rf"^{_SEGMENT}(/{_SEGMENT})*$")


def validate_action(pattern: str) -> str | None:
    """An error message, or None when the pattern is valid and matches a known action."""
    global _KNOWN
    if _KNOWN is None:
        _KNOWN = [a.lower() for a in all_actions()]
    if not _ACTION_PATTERN.match(pattern):
        return f"'{pattern}' is not an action pattern (letters and * only)"
    matcher = Matcher(pattern)
    if not any(matcher.matches(action) for action in _KNOWN):
        return f"'{pattern}' matches no known action (see manage.py authz_actions)"
    return None


def validate_resource(pattern: str) -> str | None:
    if not _RESOURCE.match(pattern):
        return (
            f"'{pattern}' is not a resource path: use * or kind:name segments joined by /, "
            "e.g. cluster:cls-a1/namespace:web/deployment:*"
        )
    return None
