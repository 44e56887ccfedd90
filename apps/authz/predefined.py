"""Policies every tenant gets at creation (TKEStack's hack/auth/policy.json, adapted).

They are marked predefined: nobody can edit or delete them. Platform policies apply when
bound in domain ``*``; project policies are meant to be bound in a project's domain.

Policies that grant an area (``platform-user``, ``project-member``, ``clusters-full``) grant
area ``cluster``, never ``clusteraccess``: writing RBAC objects, minting service account
tokens, approving CSRs, admission webhooks, CRDs and the other privilege-bearing kinds
(``catalog`` says which and why) is for the administrator (``*``), the project owner inside
the project's namespaces, and whoever is bound to ``cluster-access-full``. Reading them is
``get*``/``list*``/``watch*`` like everything else.
"""

from __future__ import annotations

from .catalog import CLUSTER_ACCESS, area_actions
from .choices import PolicyScope

READ = ["get*", "list*", "watch*"]


def _area(area: str, resources: list[str]) -> list[dict]:
    return [{"actions": area_actions(area), "resources": resources, "effect": "allow"}]


PREDEFINED: list[dict] = [
    {
        "name": "administrator",
        "display_name": "AdministratorAccess",
        "description": "Everything in the tenant: platform, projects and access management.",
        "category": "platform",
        "statements": [{"actions": ["*"], "resources": ["*"], "effect": "allow"}],
    },
    {
        "name": "platform-user",
        "display_name": "PlatformUser",
        "description": "Most platform functions: clusters, projects, registry, monitoring, "
        "notifications, logs and addons, and reading everything; not access management.",
        "category": "platform",
        "statements": [
            {"actions": READ, "resources": ["*"], "effect": "allow"},
            *_area("cluster", ["cluster:*"]),
            *_area("addon", ["cluster:*"]),
            *_area("project", ["project:*"]),
            *_area("registry", ["registrynamespace:*", "chartgroup:*"]),
            *_area("monitor", ["*"]),
            *_area("notify", ["*"]),
            *_area("logagent", ["*"]),
        ],
    },
    {
        "name": "viewer",
        "display_name": "PlatformLogin",
        "description": "Sign in only; what else the user sees comes from project bindings.",
        "category": "platform",
        "statements": [{"actions": ["listPortal"], "resources": ["*"], "effect": "allow"}],
    },
    {
        "name": "read-only",
        "display_name": "ReadOnlyAccess",
        "description": "Read everything (get*, list*, watch*).",
        "category": "platform",
        "statements": [{"actions": READ, "resources": ["*"], "effect": "allow"}],
    },
    {
        "name": "project-owner",
        "display_name": "ProjectAdmin",
        "description": "Everything inside the project it is bound in, members included.",
        "category": "project",
        "scope": PolicyScope.PROJECT,
        "statements": [{"actions": ["*"], "resources": ["*"], "effect": "allow"}],
    },
    {
        "name": "project-member",
        "display_name": "ProjectMember",
        "description": "All resources of the project's namespaces; not its membership.",
        "category": "project",
        "scope": PolicyScope.PROJECT,
        "statements": [
            {"actions": READ, "resources": ["*"], "effect": "allow"},
            *_area("cluster", ["cluster:*"]),
            *_area("registry", ["registrynamespace:*", "chartgroup:*"]),
            *_area("monitor", ["*"]),
        ],
    },
    {
        "name": "project-viewer",
        "display_name": "ProjectViewer",
        "description": "Read-only inside the project.",
        "category": "project",
        "scope": PolicyScope.PROJECT,
        "statements": [{"actions": READ, "resources": ["*"], "effect": "allow"}],
    },
    {
        "name": "clusters-full",
        "display_name": "ClusterFullAccess",
        "description": "Clusters, their resources and addons.",
        "category": "cluster",
        "statements": _area("cluster", ["cluster:*"]) + _area("addon", ["cluster:*"]),
    },
    {
        "name": "cluster-access-full",
        "display_name": "ClusterAccessFullAccess",
        "description": "The privilege-bearing Kubernetes kinds of every cluster: RBAC, service "
        "account tokens, certificate signing requests, admission webhooks and policies, CRDs, "
        "API services, flow control, priority classes, endpoints and access reviews.",
        "category": "cluster",
        "statements": _area(CLUSTER_ACCESS, ["cluster:*"]),
    },
    {
        "name": "projects-full",
        "display_name": "ProjectFullAccess",
        "description": "Projects, quotas and project namespaces.",
        "category": "project",
        "statements": _area("project", ["project:*"]),
    },
    {
        "name": "registry-full",
        "display_name": "RegistryFullAccess",
        "description": "Image namespaces, repositories, chart groups and charts.",
        "category": "registry",
        "statements": _area("registry", ["registrynamespace:*", "chartgroup:*"]),
    },
    {
        "name": "monitoring-full",
        "display_name": "MonitorFullAccess",
        "description": "Metrics, alarm policies and alarm records.",
        "category": "monitor",
        "statements": _area("monitor", ["*"]),
    },
    {
        "name": "notify-full",
        "display_name": "NotifyFullAccess",
        "description": "Notification channels, templates, receivers and messages.",
        "category": "notify",
        "statements": _area("notify", ["*"]),
    },
    {
        "name": "audit-read",
        "display_name": "AuditReadAccess",
        "description": "Read the tenant's audit trail (export it, replay terminal sessions).",
        "category": "audit",
        "statements": [
            {
                "actions": [
                    "listAuditEvents",
                    "getAuditEvent",
                    "exportAuditEvents",
                    "replayTerminalSession",
                ],
                "resources": ["auditevent:*"],
                "effect": "allow",
            },
        ],
    },
]

ADMINISTRATOR = "administrator"
