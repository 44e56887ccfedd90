"""Every Kubernetes kind gets its own authorization kind: stored policies follow.

Before, the kubectl proxy judged every resource it did not know by plural — RBAC objects,
service accounts and their tokens, CSRs, webhooks, endpoints, leases … — as
``<verb>CustomResource`` on ``…/customresource:<name>``, and a few subresources as their
object's plain verb (``pods/ephemeralcontainers`` as ``updatePod``, ``pods/binding`` as
``createPod``, ``replicasets/scale`` as ``updateReplicaSet``, ``metrics.k8s.io`` pods and
nodes as ``listPods``/``listNodes``). Now each has its own actions and path
(``apps.authz.catalog``, ``apps.clusters.proxy.mapping``). This migration rewrites the
tenants' own (not predefined) policies so that none grants more than before and no deny
covers less:

1. Resources: ``…/customresource:<x>`` (the old shape, a CRD object named ``x``) becomes
   ``…/customresource:*/name:<x>`` — still any CRD's objects named ``x``, and never a
   built-in kind. ``…/customresource:*`` is left as it is (it already means any CRD object).
2. Allow statements: an action pattern that now reaches a split-out action (say ``*Binding*``
   reaching ``createClusterRoleBinding``) although the statement did not hold the action that
   used to cover those requests (``createCustomResource``) is replaced by the explicit list of
   the actions it matched in the old catalogue. So a grant on custom resources does not turn
   into a grant on RBAC and the like, and no wildcard picks up a new privilege-bearing action.
3. Deny statements: a deny that covered the old action (``deleteCustomResource``,
   ``updatePod`` …) is extended with a deny of the actions that now cover the same requests,
   on the same resources with ``customresource:`` read as any kind (``*:<x>``; for metrics
   ``pod:`` → ``podmetrics:``, ``node:`` → ``nodemetrics:``): a deny is never weakened by the
   split — it may now refuse a little more, never less.

Then the predefined policies of every tenant are brought up to date (area grants no longer
include the privilege-bearing kinds; ``cluster-access-full`` is new) and every tenant's policy
version is bumped so each process recompiles.

One-way: the reverse step does nothing. Rows keep the new shape, which the old code would
read as matching fewer requests, never more (``customresource:*/name:x`` matches no old path;
unknown actions match nothing).
"""

from __future__ import annotations

import re
import secrets

from django.db import migrations

from ._predefined import refresh_predefined

from apps.authz.engine import key_match

_VERBS = ("list", "watch", "get", "create", "update", "delete")

# The catalogue as it was (kind → plural, extra verbs), frozen for this migration.
OLD_KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Tenant": ("Tenants", ()),
    "User": ("Users", ("disableUser", "enableUser", "resetUserPassword", "listUserPermissions")),
    "Group": ("Groups", ("addGroupMember", "removeGroupMember")),
    "Policy": ("Policies", ()),
    "Role": ("Roles", ()),
    "Binding": ("Bindings", ()),
    "APIKey": ("APIKeys", ("disableAPIKey", "enableAPIKey")),
    "AuditEvent": ("AuditEvents", ()),
    "Cluster": ("Clusters", ("getClusterKubeconfig", "upgradeCluster")),
    "Node": ("Nodes", ("cordonNode", "uncordonNode", "drainNode")),
    "Namespace": ("Namespaces", ()),
    "Deployment": ("Deployments", ("scaleDeployment", "restartDeployment", "rollbackDeployment")),
    "StatefulSet": ("StatefulSets", ("scaleStatefulSet", "restartStatefulSet")),
    "DaemonSet": ("DaemonSets", ("restartDaemonSet",)),
    "Job": ("Jobs", ()),
    "CronJob": ("CronJobs", ()),
    "Pod": ("Pods", ("getPodLog", "execPod", "attachPod", "portforwardPod")),
    "Service": ("Services", ()),
    "Ingress": ("Ingresses", ()),
    "ConfigMap": ("ConfigMaps", ()),
    "Secret": ("Secrets", ("revealSecret",)),
    "ReplicaSet": ("ReplicaSets", ()),
    "PersistentVolumeClaim": ("PersistentVolumeClaims", ()),
    "PersistentVolume": ("PersistentVolumes", ()),
    "StorageClass": ("StorageClasses", ()),
    "HorizontalPodAutoscaler": ("HorizontalPodAutoscalers", ()),
    "ResourceQuota": ("ResourceQuotas", ()),
    "LimitRange": ("LimitRanges", ()),
    "Event": ("Events", ()),
    "CustomResource": ("CustomResources", ()),
    "CustomResourceDefinition": ("CustomResourceDefinitions", ()),
    "ClusterAddon": ("ClusterAddons", ()),
    "Project": ("Projects", ("listProjectMembers",)),
    "RegistryNamespace": ("RegistryNamespaces", ()),
    "Repository": ("Repositories", ("pullRepository", "pushRepository")),
    "ChartGroup": ("ChartGroups", ()),
    "Chart": ("Charts", ("pullChart", "pushChart")),
    "AlarmPolicy": ("AlarmPolicies", ()),
    "AlarmRecord": ("AlarmRecords", ()),
    "Metric": ("Metrics", ()),
    "NotifyChannel": ("NotifyChannels", ()),
    "NotifyTemplate": ("NotifyTemplates", ()),
    "Receiver": ("Receivers", ()),
    "ReceiverGroup": ("ReceiverGroups", ()),
    "Message": ("Messages", ()),
    "LogCollector": ("LogCollectors", ()),
}
OLD_GLOBAL_ACTIONS = ("listPortal", "checkAuthz", "explainAuthz", "applyManifest")

# Kinds that used to be judged as CustomResource: (kind, plural, verbs Kubernetes serves).
_RW, _RO, _C = _VERBS, ("list", "watch", "get"), ("create",)
LUMPED: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("ServiceAccount", "ServiceAccounts", _RW),
    ("Endpoints", "Endpoints", _RW),
    ("PodTemplate", "PodTemplates", _RW),
    ("ReplicationController", "ReplicationControllers", _RW),
    ("ComponentStatus", "ComponentStatuses", _RO),
    ("ControllerRevision", "ControllerRevisions", _RW),
    ("PodDisruptionBudget", "PodDisruptionBudgets", _RW),
    ("IngressClass", "IngressClasses", _RW),
    ("NetworkPolicy", "NetworkPolicies", _RW),
    ("IPAddress", "IPAddresses", _RW),
    ("ServiceCIDR", "ServiceCIDRs", _RW),
    ("EndpointSlice", "EndpointSlices", _RW),
    ("VolumeAttachment", "VolumeAttachments", _RW),
    ("CSIDriver", "CSIDrivers", _RW),
    ("CSINode", "CSINodes", _RW),
    ("CSIStorageCapacity", "CSIStorageCapacities", _RW),
    ("VolumeAttributesClass", "VolumeAttributesClasses", _RW),
    ("Lease", "Leases", _RW),
    ("LeaseCandidate", "LeaseCandidates", _RW),
    ("RuntimeClass", "RuntimeClasses", _RW),
    ("DeviceClass", "DeviceClasses", _RW),
    ("ResourceClaim", "ResourceClaims", _RW),
    ("ResourceClaimTemplate", "ResourceClaimTemplates", _RW),
    ("ResourceSlice", "ResourceSlices", _RW),
    ("RBACRole", "RBACRoles", _RW),
    ("RoleBinding", "RoleBindings", _RW),
    ("ClusterRole", "ClusterRoles", _RW),
    ("ClusterRoleBinding", "ClusterRoleBindings", _RW),
    ("CertificateSigningRequest", "CertificateSigningRequests", _RW),
    ("ClusterTrustBundle", "ClusterTrustBundles", _RW),
    ("ValidatingWebhookConfiguration", "ValidatingWebhookConfigurations", _RW),
    ("MutatingWebhookConfiguration", "MutatingWebhookConfigurations", _RW),
    ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicies", _RW),
    ("ValidatingAdmissionPolicyBinding", "ValidatingAdmissionPolicyBindings", _RW),
    ("MutatingAdmissionPolicy", "MutatingAdmissionPolicies", _RW),
    ("MutatingAdmissionPolicyBinding", "MutatingAdmissionPolicyBindings", _RW),
    ("APIService", "APIServices", _RW),
    ("FlowSchema", "FlowSchemas", _RW),
    ("PriorityLevelConfiguration", "PriorityLevelConfigurations", _RW),
    ("PriorityClass", "PriorityClasses", _RW),
    ("TokenReview", "TokenReviews", _C),
    ("SubjectAccessReview", "SubjectAccessReviews", _C),
    ("LocalSubjectAccessReview", "LocalSubjectAccessReviews", _C),
    ("SelfSubjectAccessReview", "SelfSubjectAccessReviews", _C),
    ("SelfSubjectRulesReview", "SelfSubjectRulesReviews", _C),
    ("SelfSubjectReview", "SelfSubjectReviews", _C),
)

_CR = ("customresource", "*")


def _verb_action(verb: str, kind: str, plural: str) -> str:
    return f"{verb}{plural}" if verb in ("list", "watch") else f"{verb}{kind}"


def _split() -> list[tuple[str, str, tuple[str, str] | None]]:
    """(new action, old action that covered the same requests, resource segment rename)."""
    out = []
    for kind, plural, verbs in LUMPED:
        for verb in verbs:
            old = _verb_action(verb, "CustomResource", "CustomResources")
            out.append((_verb_action(verb, kind, plural), old, _CR))
    for kind, plural, source, source_plural, rename in (
        ("PodMetrics", "PodMetrics", "Pod", "Pods", ("pod", "podmetrics")),
        ("NodeMetrics", "NodeMetrics", "Node", "Nodes", ("node", "nodemetrics")),
    ):
        for verb in ("list", "watch", "get"):
            out.append(
                (
                    _verb_action(verb, kind, plural),
                    _verb_action(verb, source, source_plural),
                    rename,
                )
            )
    out += [
        ("createServiceAccountToken", "createCustomResource", _CR),
        ("approveCertificateSigningRequest", "updateCustomResource", _CR),
        ("signCertificateSigningRequest", "updateCustomResource", _CR),
        ("scaleReplicationController", "updateCustomResource", _CR),
        ("bindPod", "createCustomResource", _CR),
        ("bindPod", "createPod", None),
        ("debugPod", "updatePod", None),
        ("scaleReplicaSet", "updateReplicaSet", None),
    ]
    return out


SPLIT = _split()


def old_actions() -> list[str]:
    out = list(OLD_GLOBAL_ACTIONS)
    for kind, (plural, extra) in OLD_KINDS.items():
        out += [_verb_action(v, kind, plural) for v in _VERBS]
        out += list(extra)
    return out


_OLD_ACTIONS = old_actions()
_OLD_CR_SEGMENT = re.compile(r"(^|/)customresource:([^/]+)$")


def _matches(action: str, pattern: str) -> bool:
    return key_match(action, pattern)


def rewrite_resource(resource: str) -> str:
    """``…/customresource:x`` (old shape) → ``…/customresource:*/name:x``."""
    match = _OLD_CR_SEGMENT.search(resource)
    if match is None or match.group(2) == "*":
        return resource
    return f"{resource[: match.start()]}{match.group(1)}customresource:*/name:{match.group(2)}"


_NEW_CR_SEGMENT = re.compile(r"(^|/)customresource:\*/name:([^/]+)$")


def _rename(resource: str, rename: tuple[str, str] | None) -> str:
    if rename is None:
        return resource
    old, new = rename
    if rename == _CR:  # either shape of a custom resource path names the object
        resource = _NEW_CR_SEGMENT.sub(
            lambda m: f"{m.group(1)}customresource:{m.group(2)}", resource
        )
    return re.sub(rf"(^|/){re.escape(old)}:", lambda m: f"{m.group(1)}{new}:", resource)


def _origins() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for new, old, _rename in SPLIT:
        out.setdefault(new, []).append(old)
    return out


ORIGINS = _origins()


def _narrow_allow(actions: list[str]) -> list[str]:
    out: list[str] = []
    for pattern in actions:
        grows = any(
            _matches(new, pattern)
            and not any(_matches(old, held) for held in actions for old in olds)
            for new, olds in ORIGINS.items()
        )
        if not grows:
            out.append(pattern)
            continue
        out += [a for a in _OLD_ACTIONS if _matches(a, pattern) and a not in out]
    return out


def _extend_deny(statement: dict) -> list[dict]:
    actions, resources = statement["actions"], statement["resources"]
    wanted: dict[tuple[str, str] | None, list[str]] = {}
    for new, old, rename in SPLIT:
        if not any(_matches(old, p) for p in actions):
            continue
        renamed = [_rename(r, rename) for r in resources]
        if renamed == resources and any(_matches(new, p) for p in actions):
            continue  # the deny already covers it, on the same paths
        names = wanted.setdefault(rename, [])
        if new not in names:
            names.append(new)
    return [
        {
            "actions": names,
            "resources": [_rename(r, rename) for r in resources],
            "effect": "deny",
        }
        for rename, names in wanted.items()
    ]


def migrate_statements(statements: list[dict]) -> list[dict]:
    """A custom policy's statements in the new catalogue (see the module docstring)."""
    out: list[dict] = []
    for statement in statements:
        actions = list(statement.get("actions") or [])
        resources = [rewrite_resource(r) for r in statement.get("resources") or []]
        effect = statement.get("effect", "allow")
        if effect == "deny":
            extra = _extend_deny({"actions": actions, "resources": resources})
            out.append({**statement, "resources": resources})
            out += [s for s in extra if s not in out and s not in statements]
            continue
        narrowed = _narrow_allow(actions)
        if narrowed:
            out.append({**statement, "actions": narrowed, "resources": resources})
    return out


def forward(apps, schema_editor):
    Policy = apps.get_model("authz", "Policy")
    for policy in Policy.objects.filter(predefined=False):
        statements = migrate_statements(policy.statements or [])
        if statements != policy.statements:
            policy.statements = statements
            policy.save(update_fields=["statements"])
    refresh_predefined(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("authz", "0001_initial"),
        ("tenants", "0002_tenant_authz_version"),
    ]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
