"""The action catalogue (TKEStack verb names) and resource path grammar.

Policies are validated against it: an action pattern must match at least one known action
(so ``getClustr`` is rejected), and a resource must be ``*`` or ``kind:name/kind:name…``.
Apps register their kinds here as they arrive; ``manage.py authz_actions`` prints the table.

Every Kubernetes kind the kubectl proxy or the resource API reaches has its own kind here
(the proxy's table, keyed by API group and plural, is ``apps.clusters.proxy.mapping``); only
objects of installed CRDs are ``CustomResource``, told apart by their resource path
(``…/customresource:<plural>.<group>/name:<name>``). Kinds are grouped in *areas*; the
predefined policies grant whole areas (``predefined.py``).

Area ``clusteraccess`` holds the privilege-bearing kinds — those whose write hands out
identity or authority in a cluster, or sees or rewrites every request to it. The portal talks
to a cluster with one powerful credential, so the cluster's own escalation checks (RBAC's
``bind``/``escalate``, the CSR signer's ``approve``) judge the portal, not the user: the portal
must treat these writes as the escalation they are. They are:

- RBAC: ``RBACRole`` (Kubernetes ``Role``; the portal's own ``Role`` has the plain name),
  ``RoleBinding``, ``ClusterRole``, ``ClusterRoleBinding`` — writing any of them is the power
  to grant anything, cluster-admin included (Kubernetes' ``bind``/``escalate`` are not
  modelled apart: the write itself is the grant);
- ``createServiceAccountToken`` (``serviceaccounts/token``, ``kubectl create token``) — a token
  acts as the service account wherever it is bound; service accounts themselves stay in
  ``cluster``;
- ``bindPod`` (``pods/binding`` and ``bindings``) — the scheduler's power to place a pod;
- ``CertificateSigningRequest`` (with ``approveCertificateSigningRequest`` for
  ``…/approval`` and ``signCertificateSigningRequest`` for ``…/status``) and
  ``ClusterTrustBundle`` — client certificates are identities that cannot be revoked;
- admission: ``ValidatingWebhookConfiguration``, ``MutatingWebhookConfiguration``,
  ``ValidatingAdmissionPolicy`` (+``Binding``), ``MutatingAdmissionPolicy`` (+``Binding``) —
  they see, rewrite or refuse every write of every tenant (and a webhook receives Secrets);
- the API surface: ``CustomResourceDefinition`` (conversion webhooks, new kinds),
  ``APIService`` (routes a whole API group to a service of one's choosing),
  ``FlowSchema``/``PriorityLevelConfiguration`` (can starve every other client);
- ``PriorityClass`` — lets one tenant's pods preempt everyone else's (``globalDefault`` changes
  every new pod);
- ``Endpoints``/``EndpointSlice`` writes — traffic redirection across namespaces
  (Kubernetes CVE-2021-25740; Kubernetes took them out of its own ``edit`` role);
- the review kinds (``TokenReview``, ``SubjectAccessReview``, ``LocalSubjectAccessReview``):
  forwarded, they are answered for the portal's own credential, not the caller, so they are
  operators' tools (a token oracle). The ``SelfSubject*`` reviews (``kubectl auth whoami`` /
  ``can-i``) are never forwarded: the proxy answers them from the caller's own portal policy
  (``apps.clusters.proxy.reviews``), for anyone who may see the cluster.

Reading any of them is ``get*``/``list*``/``watch*`` like everything else.
"""

from __future__ import annotations

import re

from .engine import Matcher

VERBS = ("list", "watch", "get", "create", "update", "delete")
READ_ONLY = ("list", "watch", "get")
CREATE_ONLY = ("create",)
CLUSTER_ACCESS = "clusteraccess"
NODE_SHELL = "nodeshell"

# kind → (plural, area, extra verbs beyond get/list/watch/create/update/delete)
KINDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # auth
    "Tenant": ("Tenants", "auth", ()),
    "User": (
        "Users",
        "auth",
        ("disableUser", "enableUser", "resetUserPassword", "listUserPermissions", "syncUser"),
    ),
    "Group": ("Groups", "auth", ("addGroupMember", "removeGroupMember")),
    "Policy": ("Policies", "auth", ()),
    "Role": ("Roles", "auth", ()),
    "Binding": ("Bindings", "auth", ()),
    "APIKey": ("APIKeys", "auth", ("disableAPIKey", "enableAPIKey")),
    "IdentityProvider": (
        "IdentityProviders",
        "auth",
        ("testIdentityProvider", "syncIdentityProvider"),
    ),
    # exportAuditEvents: the console's CSV export, a bulk read kept apart from listing.
    # replayTerminalSession: a web terminal's recording (typed input included, passwords
    # too), on the session's opening audit event — more than reading the event.
    "AuditEvent": ("AuditEvents", "audit", ("exportAuditEvents", "replayTerminalSession")),
    # platform
    "Cluster": ("Clusters", "cluster", ("getClusterKubeconfig", "upgradeCluster")),
    "ClusterAddon": ("ClusterAddons", "addon", ()),
    # Kubernetes: core/v1
    # execNode: the node shell (a privileged pod in the node's namespaces: root on a machine
    # every tenant's pods share) — area nodeshell, and named only (see EXPLICIT_ACTIONS).
    "Node": ("Nodes", "cluster", ("cordonNode", "uncordonNode", "drainNode", "execNode")),
    "Namespace": ("Namespaces", "cluster", ()),
    "Pod": (
        "Pods",
        "cluster",
        # debugPod: pods/ephemeralcontainers (kubectl debug) runs an image of one's choosing
        # in the pod's namespaces and identity — more than execPod, so never implied by it.
        ("getPodLog", "execPod", "attachPod", "portforwardPod", "debugPod", "bindPod"),
    ),
    "Service": ("Services", "cluster", ()),
    "ConfigMap": ("ConfigMaps", "cluster", ()),
    "Secret": ("Secrets", "cluster", ("revealSecret",)),
    "ServiceAccount": ("ServiceAccounts", "cluster", ("createServiceAccountToken",)),
    "PersistentVolumeClaim": ("PersistentVolumeClaims", "cluster", ()),
    "PersistentVolume": ("PersistentVolumes", "cluster", ()),
    "ResourceQuota": ("ResourceQuotas", "cluster", ()),
    "LimitRange": ("LimitRanges", "cluster", ()),
    "Event": ("Events", "cluster", ()),
    "PodTemplate": ("PodTemplates", "cluster", ()),
    "ReplicationController": (
        "ReplicationControllers",
        "cluster",
        ("scaleReplicationController",),
    ),
    "ComponentStatus": ("ComponentStatuses", "cluster", ()),
    "Endpoints": ("Endpoints", CLUSTER_ACCESS, ()),
    # apps, batch, autoscaling, policy
    "Deployment": (
        "Deployments",
        "cluster",
        ("scaleDeployment", "restartDeployment", "rollbackDeployment"),
    ),
    "StatefulSet": (
        "StatefulSets",
        "cluster",
        ("scaleStatefulSet", "restartStatefulSet", "rollbackStatefulSet"),
    ),
    "DaemonSet": ("DaemonSets", "cluster", ("restartDaemonSet", "rollbackDaemonSet")),
    "ReplicaSet": ("ReplicaSets", "cluster", ("scaleReplicaSet",)),
    "ControllerRevision": ("ControllerRevisions", "cluster", ()),
    "Job": ("Jobs", "cluster", ()),
    "CronJob": ("CronJobs", "cluster", ()),
    "HorizontalPodAutoscaler": ("HorizontalPodAutoscalers", "cluster", ()),
    "PodDisruptionBudget": ("PodDisruptionBudgets", "cluster", ()),
    # networking.k8s.io, discovery.k8s.io
    "Ingress": ("Ingresses", "cluster", ()),
    "IngressClass": ("IngressClasses", "cluster", ()),
    "NetworkPolicy": ("NetworkPolicies", "cluster", ()),
    "IPAddress": ("IPAddresses", "cluster", ()),
    "ServiceCIDR": ("ServiceCIDRs", "cluster", ()),
    "EndpointSlice": ("EndpointSlices", CLUSTER_ACCESS, ()),
    # storage.k8s.io
    "StorageClass": ("StorageClasses", "cluster", ()),
    "VolumeAttachment": ("VolumeAttachments", "cluster", ()),
    "CSIDriver": ("CSIDrivers", "cluster", ()),
    "CSINode": ("CSINodes", "cluster", ()),
    "CSIStorageCapacity": ("CSIStorageCapacities", "cluster", ()),
    "VolumeAttributesClass": ("VolumeAttributesClasses", "cluster", ()),
    # coordination.k8s.io, node.k8s.io, resource.k8s.io, metrics.k8s.io
    "Lease": ("Leases", "cluster", ()),
    "LeaseCandidate": ("LeaseCandidates", "cluster", ()),
    "RuntimeClass": ("RuntimeClasses", "cluster", ()),
    "DeviceClass": ("DeviceClasses", "cluster", ()),
    "ResourceClaim": ("ResourceClaims", "cluster", ()),
    "ResourceClaimTemplate": ("ResourceClaimTemplates", "cluster", ()),
    "ResourceSlice": ("ResourceSlices", "cluster", ()),
    "PodMetrics": ("PodMetrics", "cluster", ()),
    "NodeMetrics": ("NodeMetrics", "cluster", ()),
    # objects of installed CRDs, whatever their group (never a built-in kind)
    "CustomResource": ("CustomResources", "cluster", ()),
    # privilege-bearing Kubernetes kinds (see the module docstring)
    "RBACRole": ("RBACRoles", CLUSTER_ACCESS, ()),
    "RoleBinding": ("RoleBindings", CLUSTER_ACCESS, ()),
    "ClusterRole": ("ClusterRoles", CLUSTER_ACCESS, ()),
    "ClusterRoleBinding": ("ClusterRoleBindings", CLUSTER_ACCESS, ()),
    "CertificateSigningRequest": (
        "CertificateSigningRequests",
        CLUSTER_ACCESS,
        ("approveCertificateSigningRequest", "signCertificateSigningRequest"),
    ),
    "ClusterTrustBundle": ("ClusterTrustBundles", CLUSTER_ACCESS, ()),
    "ValidatingWebhookConfiguration": ("ValidatingWebhookConfigurations", CLUSTER_ACCESS, ()),
    "MutatingWebhookConfiguration": ("MutatingWebhookConfigurations", CLUSTER_ACCESS, ()),
    "ValidatingAdmissionPolicy": ("ValidatingAdmissionPolicies", CLUSTER_ACCESS, ()),
    "ValidatingAdmissionPolicyBinding": (
        "ValidatingAdmissionPolicyBindings",
        CLUSTER_ACCESS,
        (),
    ),
    "MutatingAdmissionPolicy": ("MutatingAdmissionPolicies", CLUSTER_ACCESS, ()),
    "MutatingAdmissionPolicyBinding": ("MutatingAdmissionPolicyBindings", CLUSTER_ACCESS, ()),
    "CustomResourceDefinition": ("CustomResourceDefinitions", CLUSTER_ACCESS, ()),
    "APIService": ("APIServices", CLUSTER_ACCESS, ()),
    "FlowSchema": ("FlowSchemas", CLUSTER_ACCESS, ()),
    "PriorityLevelConfiguration": ("PriorityLevelConfigurations", CLUSTER_ACCESS, ()),
    "PriorityClass": ("PriorityClasses", CLUSTER_ACCESS, ()),
    "TokenReview": ("TokenReviews", CLUSTER_ACCESS, ()),
    "SubjectAccessReview": ("SubjectAccessReviews", CLUSTER_ACCESS, ()),
    "LocalSubjectAccessReview": ("LocalSubjectAccessReviews", CLUSTER_ACCESS, ()),
    "SelfSubjectAccessReview": ("SelfSubjectAccessReviews", CLUSTER_ACCESS, ()),
    "SelfSubjectRulesReview": ("SelfSubjectRulesReviews", CLUSTER_ACCESS, ()),
    "SelfSubjectReview": ("SelfSubjectReviews", CLUSTER_ACCESS, ()),
    # business
    # ``project:<p>``; its quota is changed in the platform domain (a container write).
    "Project": (
        "Projects",
        "project",
        ("getProjectQuota", "updateProjectQuota", "getProjectKubeconfig"),
    ),
    # ``project:<p>/member:<username>`` or ``project:<p>/member:@<group>``.
    "ProjectMember": ("ProjectMembers", "project", ()),
    # ``project:<p>/cluster:<c>/namespace:<ns>``.
    "ProjectNamespace": (
        "ProjectNamespaces",
        "project",
        ("moveProjectNamespace", "importProjectNamespace"),
    ),
    # registry
    "RegistryNamespace": ("RegistryNamespaces", "registry", ()),
    # ``registrynamespace:<ns>/repository:<repo>``: what the registry token service grants
    # (pull, push); ``…/tag:<tag>`` for deleting an image (the registry's ``delete``).
    "Repository": ("Repositories", "registry", ("pullRepository", "pushRepository")),
    "Tag": ("Tags", "registry", ()),
    "ChartGroup": ("ChartGroups", "registry", ()),
    # ``chartgroup:<g>/chart:<c>``: pullChart reads a chart's index entries and archives,
    # pushChart uploads versions; ``…/version:<v>`` for one version (deleted like a tag).
    "Chart": ("Charts", "registry", ("pullChart", "pushChart")),
    "ChartVersion": ("ChartVersions", "registry", ()),
    # ops
    "AlarmPolicy": ("AlarmPolicies", "monitor", ()),
    "AlarmRecord": ("AlarmRecords", "monitor", ()),
    # ``<alarm policy path>/alarmsilence:<id>``: silences of a policy's notices.
    "AlarmSilence": ("AlarmSilences", "monitor", ()),
    "Metric": ("Metrics", "monitor", ()),
    # ``notifychannel:<name>``; testNotifyChannel sends a test message (the test-send button).
    "NotifyChannel": ("NotifyChannels", "notify", ("testNotifyChannel",)),
    "NotifyTemplate": ("NotifyTemplates", "notify", ()),
    "Receiver": ("Receivers", "notify", ()),
    "ReceiverGroup": ("ReceiverGroups", "notify", ()),
    "Message": ("Messages", "notify", ()),
    # ``messagerequest:<id>``: what was asked of apps.notify (read-only; notify() makes them).
    "MessageRequest": ("MessageRequests", "notify", ()),
    "LogCollector": ("LogCollectors", "logagent", ()),
    # applications: ``cluster:<c>/namespace:<ns>/release:<name>``, a chart installed by the
    # portal; its objects are applied with the installer's own rights checked per object.
    "Release": ("Releases", "cluster", ("rollbackRelease",)),
}

# Kinds Kubernetes serves with fewer verbs than the six: no actions for the verbs it lacks.
KIND_VERBS: dict[str, tuple[str, ...]] = {
    "ComponentStatus": READ_ONLY,
    "PodMetrics": READ_ONLY,
    "NodeMetrics": READ_ONLY,
    "TokenReview": CREATE_ONLY,
    "SubjectAccessReview": CREATE_ONLY,
    "LocalSubjectAccessReview": CREATE_ONLY,
    "SelfSubjectAccessReview": CREATE_ONLY,
    "SelfSubjectRulesReview": CREATE_ONLY,
    "SelfSubjectReview": CREATE_ONLY,
    # Tags come from pushes (the registry), never from a create.
    "Tag": ("list", "watch", "get", "delete"),
    # Versions come from uploads (pushChart), never from a create.
    "ChartVersion": ("list", "watch", "get", "delete"),
    "MessageRequest": READ_ONLY,
}

# Extra verbs whose area is not their kind's: the privilege-bearing verbs of ordinary kinds.
ACTION_AREAS: dict[str, str] = {
    "createServiceAccountToken": CLUSTER_ACCESS,
    "bindPod": CLUSTER_ACCESS,
    "execNode": NODE_SHELL,
}

# Actions no wildcard reaches: a statement allows them only by naming them (``*``, ``exec*``
# or ``*Node`` do not), so the tenant administrator's ``*`` is not a root shell on nodes other
# tenants share. The platform administrator has them; so does whoever the platform
# administrator binds to a policy naming them (granting one needs holding it by name,
# ``enforcer.holds``). A deny still reaches them through a wildcard.
EXPLICIT_ACTIONS = frozenset({"execNode"})

# Verbs that are not about one kind. ``listRegistryCatalog`` (the registry's ``/v2/_catalog``,
# every tenant's repositories) and ``garbageCollectRegistry`` (the registry's storage, shared by
# every tenant) are judged at platform level: the platform administrator's only.
GLOBAL_ACTIONS = (
    "listPortal",
    "checkAuthz",
    "explainAuthz",
    "applyManifest",
    "listRegistryCatalog",
    "garbageCollectRegistry",
)


def actions_of(kind: str) -> list[str]:
    plural, _area, extra = KINDS[kind]
    names = {
        "list": f"list{plural}",
        "watch": f"watch{plural}",
        "get": f"get{kind}",
        "create": f"create{kind}",
        "update": f"update{kind}",
        "delete": f"delete{kind}",
    }
    return [names[verb] for verb in KIND_VERBS.get(kind, VERBS)] + list(extra)


def area_of(kind: str, action: str) -> str:
    return ACTION_AREAS.get(action, KINDS[kind][1])


def all_actions() -> list[str]:
    out = list(GLOBAL_ACTIONS)
    for kind in KINDS:
        out.extend(actions_of(kind))
    return out


def area_actions(area: str) -> list[str]:
    return [a for kind in KINDS for a in actions_of(kind) if area_of(kind, a) == area]


_KNOWN = None
_ACTION_PATTERN = re.compile(r"^[A-Za-z*]+$")
# ``kind:name``; the kind may be a wildcard (``*:web`` — any kind named web). A custom
# resource is ``customresource:<plural>.<group>/name:<name>`` (see apps.clusters.proxy.mapping).
_SEGMENT = r"(\*|[a-z*]+:[A-Za-z0-9._@*-]+|:[a-z]+)"
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
