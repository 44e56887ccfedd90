"""The resource registry: which group/version/resources a simulated cluster serves.

Built-in types mirror what a v1.37 API server registers (names, short names, categories,
verbs, subresources, namespaced or not). Custom resources are added per cluster when a
CustomResourceDefinition becomes Established, so every cluster owns its own :class:`Registry`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
READ_VERBS = ("get", "list")


@dataclass(frozen=True)
class ResourceType:
    """One REST resource (e.g. ``deployments`` in ``apps/v1``) and how it behaves."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[str, ...] = ()
    schema: str | None = None  # definition name in the OpenAPI document
    custom: bool = False
    crd_schema: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    printer_columns: tuple[dict[str, Any], ...] = field(default=(), compare=False, hash=False)
    # ``metadata.generation`` only moves when spec changes (status subresource enabled)
    status_subresource: bool = False
    # (spec replicas, status replicas, label selector) paths of a custom scale subresource
    scale: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...] | None] | None = field(
        default=None, compare=False, hash=False
    )
    # (group, plural) whose store holds this resource when it is another group's view of the
    # same objects (``events.k8s.io`` events are core events); see :meth:`Registry.storage_of`
    storage: tuple[str, str] | None = None

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str]:
        return (self.group, self.plural)

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def qualified(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


def _core(kind, plural, namespaced=True, short=(), cats=(), sub=(), verbs=ALL_VERBS):
    return _grp("", "v1", "core", kind, plural, namespaced, short, cats, sub, verbs)


def _grp(
    group,
    version,
    pkg,
    kind,
    plural,
    namespaced=True,
    short=(),
    cats=(),
    sub=(),
    verbs=ALL_VERBS,
    storage=None,
):
    return ResourceType(
        group,
        version,
        kind,
        plural,
        namespaced,
        tuple(short),
        tuple(cats),
        tuple(verbs),
        tuple(sub),
        schema=f"io.k8s.api.{pkg}.{version}.{kind}",
        status_subresource="status" in sub,
        storage=storage,
    )


def _review(group, pkg, kind, plural, namespaced=False):
    """A create-only review resource, answered on request and never stored."""
    return _grp(group, "v1", pkg, kind, plural, namespaced, verbs=("create",))


_NO_DC = ("create", "delete", "get", "list", "patch", "update", "watch")

BUILTIN: list[ResourceType] = [
    _core("Namespace", "namespaces", False, ("ns",), sub=("status", "finalize"), verbs=_NO_DC),
    _core(
        "Pod",
        "pods",
        True,
        ("po",),
        ("all",),
        (
            "status",
            "log",
            "exec",
            "attach",
            "portforward",
            "eviction",
            "binding",
            "ephemeralcontainers",
        ),
    ),
    _core("Service", "services", True, ("svc",), ("all",), ("status", "proxy")),
    _core("ConfigMap", "configmaps", True, ("cm",)),
    _core("Secret", "secrets", True),
    _core("ServiceAccount", "serviceaccounts", True, ("sa",), sub=("token",)),
    _core("Node", "nodes", False, ("no",), sub=("status", "proxy")),
    _core("Event", "events", True, ("ev",)),
    _core("Endpoints", "endpoints", True, ("ep",)),
    _core("PersistentVolume", "persistentvolumes", False, ("pv",), sub=("status",)),
    _core("PersistentVolumeClaim", "persistentvolumeclaims", True, ("pvc",), sub=("status",)),
    _core("ResourceQuota", "resourcequotas", True, ("quota",), sub=("status",)),
    _core("LimitRange", "limitranges", True, ("limits",)),
    _core(
        "ReplicationController",
        "replicationcontrollers",
        True,
        ("rc",),
        ("all",),
        ("status", "scale"),
    ),
    _grp(
        "apps",
        "v1",
        "apps",
        "Deployment",
        "deployments",
        True,
        ("deploy",),
        ("all",),
        ("status", "scale"),
    ),
    _grp(
        "apps",
        "v1",
        "apps",
        "ReplicaSet",
        "replicasets",
        True,
        ("rs",),
        ("all",),
        ("status", "scale"),
    ),
    _grp(
        "apps",
        "v1",
        "apps",
        "StatefulSet",
        "statefulsets",
        True,
        ("sts",),
        ("all",),
        ("status", "scale"),
    ),
    _grp("apps", "v1", "apps", "DaemonSet", "daemonsets", True, ("ds",), ("all",), ("status",)),
    _grp("apps", "v1", "apps", "ControllerRevision", "controllerrevisions", True),
    _grp("batch", "v1", "batch", "Job", "jobs", True, (), ("all",), ("status",)),
    _grp("batch", "v1", "batch", "CronJob", "cronjobs", True, ("cj",), ("all",), ("status",)),
    _grp(
        "networking.k8s.io",
        "v1",
        "networking",
        "Ingress",
        "ingresses",
        True,
        ("ing",),
        sub=("status",),
    ),
    _grp("networking.k8s.io", "v1", "networking", "IngressClass", "ingressclasses", False),
    _grp(
        "networking.k8s.io",
        "v1",
        "networking",
        "NetworkPolicy",
        "networkpolicies",
        True,
        ("netpol",),
    ),
    _grp(
        "autoscaling",
        "v2",
        "autoscaling",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        True,
        ("hpa",),
        ("all",),
        ("status",),
    ),
    _grp(
        "autoscaling",
        "v1",
        "autoscaling",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        True,
        ("hpa",),
        ("all",),
        ("status",),
    ),
    _grp(
        "policy",
        "v1",
        "policy",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        True,
        ("pdb",),
        sub=("status",),
    ),
    _grp("rbac.authorization.k8s.io", "v1", "rbac", "Role", "roles", True),
    _grp("rbac.authorization.k8s.io", "v1", "rbac", "RoleBinding", "rolebindings", True),
    _grp("rbac.authorization.k8s.io", "v1", "rbac", "ClusterRole", "clusterroles", False),
    _grp(
        "rbac.authorization.k8s.io",
        "v1",
        "rbac",
        "ClusterRoleBinding",
        "clusterrolebindings",
        False,
    ),
    _grp("storage.k8s.io", "v1", "storage", "StorageClass", "storageclasses", False, ("sc",)),
    _grp("coordination.k8s.io", "v1", "coordination", "Lease", "leases", True),
    _grp(
        "scheduling.k8s.io", "v1", "scheduling", "PriorityClass", "priorityclasses", False, ("pc",)
    ),
    _review("authentication.k8s.io", "authentication", "TokenReview", "tokenreviews"),
    _review("authentication.k8s.io", "authentication", "SelfSubjectReview", "selfsubjectreviews"),
    _review(
        "authorization.k8s.io",
        "authorization",
        "LocalSubjectAccessReview",
        "localsubjectaccessreviews",
        namespaced=True,
    ),
    _review(
        "authorization.k8s.io",
        "authorization",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
    ),
    _review(
        "authorization.k8s.io", "authorization", "SelfSubjectRulesReview", "selfsubjectrulesreviews"
    ),
    _review("authorization.k8s.io", "authorization", "SubjectAccessReview", "subjectaccessreviews"),
    _grp("discovery.k8s.io", "v1", "discovery", "EndpointSlice", "endpointslices", True),
    _grp("events.k8s.io", "v1", "events", "Event", "events", True, ("ev",), storage=("", "events")),
    ResourceType(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        False,
        ("crd", "crds"),
        ("api-extensions",),
        ALL_VERBS,
        ("status",),
        schema="io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
        status_subresource=True,
    ),
    ResourceType("metrics.k8s.io", "v1beta1", "NodeMetrics", "nodes", False, verbs=READ_VERBS),
    ResourceType("metrics.k8s.io", "v1beta1", "PodMetrics", "pods", True, verbs=READ_VERBS),
]

# Kinds whose objects are not stored but computed on request.
VIRTUAL_GROUPS = {"metrics.k8s.io", "authorization.k8s.io", "authentication.k8s.io"}
PREFERRED = {"autoscaling": "v2"}


class Registry:
    """Lookup tables over the resource types one cluster serves (built-ins plus its CRDs)."""

    def __init__(self) -> None:
        self._by_gvr: dict[tuple[str, str, str], ResourceType] = {}
        self._by_gk: dict[tuple[str, str], ResourceType] = {}
        self._by_gr: dict[tuple[str, str], ResourceType] = {}
        self.generation = 0  # bumped when the set of resources changes (discovery cache key)
        for rt in BUILTIN:
            self.add(rt)

    def add(self, rt: ResourceType) -> None:
        self._by_gvr[(rt.group, rt.version, rt.plural)] = rt
        self._by_gk.setdefault((rt.group, rt.kind), rt)
        self._by_gr.setdefault((rt.group, rt.plural), rt)
        self.generation += 1

    def remove_group_resource(self, group: str, plural: str) -> None:
        for key in [
            k for k, rt in self._by_gvr.items() if (rt.group, rt.plural) == (group, plural)
        ]:
            rt = self._by_gvr.pop(key)
            self._by_gk.pop((rt.group, rt.kind), None)
            self._by_gr.pop((rt.group, rt.plural), None)
        self.generation += 1

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_gvr.get((group, version, plural))

    def by_plural(self, group: str, plural: str) -> ResourceType | None:
        """The stored (first registered) version of ``plural`` in ``group``."""
        return self._by_gr.get((group, plural))

    def storage_of(self, rt: ResourceType) -> ResourceType:
        """The resource type whose store and shape hold ``rt``'s objects: itself, the stored
        version of a multi-version resource (``autoscaling/v1`` HPAs are kept as ``v2``), or
        the resource of another group it is a view of (``events.k8s.io`` → core events)."""
        return self._by_gr.get(rt.storage or rt.key, rt)

    def by_kind(self, group: str, kind: str) -> ResourceType | None:
        return self._by_gk.get((group, kind))

    def by_api_version(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        rt = self._by_gk.get((group, kind))
        if rt is None:
            return None
        return self._by_gvr.get((group, version, rt.plural), rt)

    def all(self) -> list[ResourceType]:
        return list(self._by_gvr.values())

    def groups(self) -> dict[str, list[str]]:
        """``{group: [versions…]}`` in registration order, preferred version first."""
        out: dict[str, list[str]] = {}
        for rt in self._by_gvr.values():
            versions = out.setdefault(rt.group, [])
            if rt.version not in versions:
                versions.append(rt.version)
        for group, pref in PREFERRED.items():
            if group in out and pref in out[group]:
                out[group].remove(pref)
                out[group].insert(0, pref)
        return out

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [rt for rt in self._by_gvr.values() if rt.group == group and rt.version == version]
