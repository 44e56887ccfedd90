"""From a Kubernetes API request to the portal's action and resource path.

Pure functions, no Django: ``classify(cluster, method, path, query)`` reads the verb from the
method and path (``?watch=true`` or the legacy ``/watch/`` prefix make a watch), the kind from
the resource's **API group and plural** (:data:`BUILTIN`; ``roles`` in
``rbac.authorization.k8s.io`` is RBAC's ``Role``, ``roles`` in ``example.com`` a custom
resource), and names the TKEStack action. ``path`` is the canonical, already-decoded
cluster-relative path (``canonical.CanonicalRequest.path``): it is not decoded again.

=========================================  ====================================================
request                                    action / resource
=========================================  ====================================================
GET  /api/v1/namespaces/web/pods           ``listPods`` on ``cluster:c/namespace:web/pod:*``
GET  /api/v1/pods (all namespaces)         ``listPods`` on ``cluster:c/namespace:*/pod:*``
GET  …/pods?watch=1                        ``watchPods``
GET  …/pods?fieldSelector=metadata.name=x  the same, narrowed to ``pod:x`` (as Kubernetes RBAC)
GET  /apis/apps/v1/…/deployments/api       ``getDeployment`` on ``…/deployment:api``
POST / PUT / PATCH / DELETE                ``create…`` / ``update…`` / ``update…`` / ``delete…``
DELETE on a collection                     ``delete<Plural>`` (``deletePods``)
POST /apis/rbac…/v1/clusterrolebindings    ``createClusterRoleBinding`` (area clusteraccess)
…/deployments/api/scale (PUT, PATCH)       ``scaleDeployment`` (the kind's scale verb)
…/<kind>/x/status (PUT, PATCH)             ``update<Kind>`` on the object
POST  …/pods/p/eviction                    ``deletePod``
POST  …/pods/p/binding, …/bindings         ``bindPod``
PATCH …/pods/p/ephemeralcontainers         ``debugPod`` (kubectl debug: stronger than exec)
GET   …/pods/p/log                         ``getPodLog``
…/pods/p/exec, attach, portforward         ``execPod``, ``attachPod``, ``portforwardPod``
POST  …/serviceaccounts/s/token            ``createServiceAccountToken`` on ``…/serviceaccount:s``
PUT   …/certificatesigningrequests/c/appr… ``approveCertificateSigningRequest`` (``…/status``:
                                           ``signCertificateSigningRequest``)
GET  /api/v1/namespaces/web                ``getNamespace`` on ``cluster:c/namespace:web``
/apis/example.com/v1/ns…/widgets/w         ``getCustomResource`` on
                                           ``…/customresource:widgets.example.com/name:w``
/api, /apis[/g[/v]], /version, /openapi/…  discovery: ``getCluster`` on ``cluster:c``
…/pods|services|nodes/x/proxy[/…]          not proxied (None): they reach workloads or the
                                           kubelet, past everything the portal judges
unknown subresources, unknown plurals of a not proxied (None)
built-in group, a cluster-scoped kind
under a namespace, /metrics, /logs, …
=========================================  ====================================================

**Custom resources** (a group that is not built in) all have the action
``<verb>CustomResource`` and a resource path that names them:
``cluster:c[/namespace:ns]/customresource:<plural>.<group>/name:<name>``. The qualified name
``<plural>.<group>`` is the CRD's own name (what a policy author sees in ``kubectl get crd``);
it stays one ``kind:name`` segment of the grammar every policy already uses, and the
``/name:`` segment after it ends it, so ``…/customresource:widgets.example.com/*`` grants
widgets and not ``widgets.example.com.evil.io``. ``…/customresource:*`` (what policies wrote
before) still means "any CRD's objects" and can never match a built-in kind's path. The REST
resource API builds the same path (``apps.clusters.resources.resource_path``).

A group counts as built in when it is in :data:`BUILTIN` or :data:`RESERVED_GROUPS`, or has no
dot (a CRD's group always has one): an unknown plural there is refused rather than taken for a
custom resource, so a built-in kind the table does not know yet (a newer API server) is never
reachable through a grant on custom resources.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from apps.authz.catalog import KINDS, all_actions

CUSTOM = "CustomResource"
_WRITES = ("PUT", "PATCH")


@dataclass(frozen=True)
class Sub:
    """What a subresource is: the action of reading it and of writing it (None: refused)."""

    read: str | None = None
    write: str | None = None
    methods: tuple[str, ...] = _WRITES


_OBJECT = Sub("get{Kind}", "update{Kind}")  # status & co: part of the object itself
_SCALE = Sub("get{Kind}", "scale{Kind}")


@dataclass(frozen=True)
class Api:
    """One built-in Kubernetes resource: its authorization kind, scope and the subresources
    the proxy forwards (any other is refused)."""

    kind: str
    namespaced: bool = True
    subresources: Mapping[str, Sub] = field(default_factory=dict)
    # a collection that only takes POST, judged as this action (core/v1 ``bindings``)
    post_only: str | None = None


def _ns(kind: str, **subs: Sub) -> Api:
    return Api(kind, True, subs)


def _cl(kind: str, **subs: Sub) -> Api:
    return Api(kind, False, subs)


_POD = _ns(
    "Pod",
    status=_OBJECT,
    resize=Sub("getPod", "updatePod"),
    eviction=Sub(None, "deletePod", ("POST",)),
    binding=Sub(None, "bindPod", ("POST",)),
    ephemeralcontainers=Sub("getPod", "debugPod"),
)
_RBAC = "rbac.authorization.k8s.io"
_ADMISSION = "admissionregistration.k8s.io"
_STORAGE = "storage.k8s.io"
_FLOW = "flowcontrol.apiserver.k8s.io"
_DRA = "resource.k8s.io"

# (API group, plural) → kind, for every built-in resource of a v1.3x API server (and
# metrics.k8s.io, which metrics-server adds everywhere).
BUILTIN: dict[tuple[str, str], Api] = {
    # core/v1
    ("", "pods"): _POD,
    ("", "bindings"): Api("Pod", post_only="bindPod"),
    ("", "services"): _ns("Service", status=_OBJECT),
    ("", "nodes"): _cl("Node", status=_OBJECT),
    ("", "namespaces"): _cl(
        "Namespace", status=_OBJECT, finalize=Sub(None, "updateNamespace", ("PUT",))
    ),
    ("", "configmaps"): _ns("ConfigMap"),
    ("", "secrets"): _ns("Secret"),
    ("", "serviceaccounts"): _ns(
        "ServiceAccount", token=Sub(None, "createServiceAccountToken", ("POST",))
    ),
    ("", "endpoints"): _ns("Endpoints"),
    ("", "events"): _ns("Event"),
    ("", "limitranges"): _ns("LimitRange"),
    ("", "resourcequotas"): _ns("ResourceQuota", status=_OBJECT),
    ("", "persistentvolumeclaims"): _ns("PersistentVolumeClaim", status=_OBJECT),
    ("", "persistentvolumes"): _cl("PersistentVolume", status=_OBJECT),
    ("", "podtemplates"): _ns("PodTemplate"),
    ("", "replicationcontrollers"): _ns("ReplicationController", status=_OBJECT, scale=_SCALE),
    ("", "componentstatuses"): _cl("ComponentStatus"),
    # apps, batch, autoscaling, policy
    ("apps", "deployments"): _ns("Deployment", status=_OBJECT, scale=_SCALE),
    ("apps", "statefulsets"): _ns("StatefulSet", status=_OBJECT, scale=_SCALE),
    ("apps", "replicasets"): _ns("ReplicaSet", status=_OBJECT, scale=_SCALE),
    ("apps", "daemonsets"): _ns("DaemonSet", status=_OBJECT),
    ("apps", "controllerrevisions"): _ns("ControllerRevision"),
    ("batch", "jobs"): _ns("Job", status=_OBJECT),
    ("batch", "cronjobs"): _ns("CronJob", status=_OBJECT),
    ("autoscaling", "horizontalpodautoscalers"): _ns("HorizontalPodAutoscaler", status=_OBJECT),
    ("policy", "poddisruptionbudgets"): _ns("PodDisruptionBudget", status=_OBJECT),
    # networking, discovery, node
    ("networking.k8s.io", "ingresses"): _ns("Ingress", status=_OBJECT),
    ("networking.k8s.io", "ingressclasses"): _cl("IngressClass"),
    ("networking.k8s.io", "networkpolicies"): _ns("NetworkPolicy"),
    ("networking.k8s.io", "ipaddresses"): _cl("IPAddress"),
    ("networking.k8s.io", "servicecidrs"): _cl("ServiceCIDR", status=_OBJECT),
    ("discovery.k8s.io", "endpointslices"): _ns("EndpointSlice"),
    ("events.k8s.io", "events"): _ns("Event"),
    ("node.k8s.io", "runtimeclasses"): _cl("RuntimeClass"),
    ("coordination.k8s.io", "leases"): _ns("Lease"),
    ("coordination.k8s.io", "leasecandidates"): _ns("LeaseCandidate"),
    # storage
    (_STORAGE, "storageclasses"): _cl("StorageClass"),
    (_STORAGE, "volumeattachments"): _cl("VolumeAttachment", status=_OBJECT),
    (_STORAGE, "csidrivers"): _cl("CSIDriver"),
    (_STORAGE, "csinodes"): _cl("CSINode"),
    (_STORAGE, "csistoragecapacities"): _ns("CSIStorageCapacity"),
    (_STORAGE, "volumeattributesclasses"): _cl("VolumeAttributesClass"),
    # dynamic resource allocation
    (_DRA, "deviceclasses"): _cl("DeviceClass"),
    (_DRA, "resourceclaims"): _ns("ResourceClaim", status=_OBJECT),
    (_DRA, "resourceclaimtemplates"): _ns("ResourceClaimTemplate"),
    (_DRA, "resourceslices"): _cl("ResourceSlice"),
    # metrics-server (kubectl top)
    ("metrics.k8s.io", "pods"): _ns("PodMetrics"),
    ("metrics.k8s.io", "nodes"): _cl("NodeMetrics"),
    # privilege-bearing (area clusteraccess, see apps.authz.catalog)
    (_RBAC, "roles"): _ns("RBACRole"),
    (_RBAC, "rolebindings"): _ns("RoleBinding"),
    (_RBAC, "clusterroles"): _cl("ClusterRole"),
    (_RBAC, "clusterrolebindings"): _cl("ClusterRoleBinding"),
    ("certificates.k8s.io", "certificatesigningrequests"): _cl(
        "CertificateSigningRequest",
        approval=Sub("getCertificateSigningRequest", "approveCertificateSigningRequest"),
        status=Sub("getCertificateSigningRequest", "signCertificateSigningRequest"),
    ),
    ("certificates.k8s.io", "clustertrustbundles"): _cl("ClusterTrustBundle"),
    (_ADMISSION, "validatingwebhookconfigurations"): _cl("ValidatingWebhookConfiguration"),
    (_ADMISSION, "mutatingwebhookconfigurations"): _cl("MutatingWebhookConfiguration"),
    (_ADMISSION, "validatingadmissionpolicies"): _cl("ValidatingAdmissionPolicy", status=_OBJECT),
    (_ADMISSION, "validatingadmissionpolicybindings"): _cl("ValidatingAdmissionPolicyBinding"),
    (_ADMISSION, "mutatingadmissionpolicies"): _cl("MutatingAdmissionPolicy"),
    (_ADMISSION, "mutatingadmissionpolicybindings"): _cl("MutatingAdmissionPolicyBinding"),
    ("apiextensions.k8s.io", "customresourcedefinitions"): _cl(
        "CustomResourceDefinition", status=_OBJECT
    ),
    ("apiregistration.k8s.io", "apiservices"): _cl("APIService", status=_OBJECT),
    (_FLOW, "flowschemas"): _cl("FlowSchema", status=_OBJECT),
    (_FLOW, "prioritylevelconfigurations"): _cl("PriorityLevelConfiguration", status=_OBJECT),
    ("scheduling.k8s.io", "priorityclasses"): _cl("PriorityClass"),
    ("authentication.k8s.io", "tokenreviews"): _cl("TokenReview"),
    ("authentication.k8s.io", "selfsubjectreviews"): _cl("SelfSubjectReview"),
    ("authorization.k8s.io", "subjectaccessreviews"): _cl("SubjectAccessReview"),
    ("authorization.k8s.io", "localsubjectaccessreviews"): _ns("LocalSubjectAccessReview"),
    ("authorization.k8s.io", "selfsubjectaccessreviews"): _cl("SelfSubjectAccessReview"),
    ("authorization.k8s.io", "selfsubjectrulesreviews"): _cl("SelfSubjectRulesReview"),
}
# Built-in groups with nothing the portal proxies (alpha / internal APIs).
RESERVED_GROUPS = frozenset({"extensions", "internal.apiserver.k8s.io", "storagemigration.k8s.io"})
BUILTIN_GROUPS = frozenset(group for group, _ in BUILTIN) | RESERVED_GROUPS
SESSION_SUBRESOURCES = {"exec": "execPod", "attach": "attachPod", "portforward": "portforwardPod"}
_CUSTOM_SUBRESOURCES = {"status": _OBJECT, "scale": Sub("get{Kind}", "update{Kind}")}
_DISCOVERY_ROOTS = {"version", "openapi", "healthz", "livez", "readyz"}
_WRITE_VERBS = {"POST": "create", "PUT": "update", "PATCH": "update"}
_KNOWN_ACTIONS = frozenset(all_actions())


def is_builtin_group(group: str) -> bool:
    """Is ``group`` served by Kubernetes itself (so never a CRD's)? Core is ``""``."""
    return group in BUILTIN_GROUPS or "." not in group


def custom_resource_segment(group: str, plural: str, name: str | None) -> str:
    """The tail of a custom resource's path: ``customresource:<plural>.<group>/name:<name>``."""
    return f"customresource:{plural}.{group}/name:{name or '*'}"


@dataclass(frozen=True)
class Target:
    """What one request does, in the portal's words."""

    action: str
    resource: str
    kind: str
    verb: str  # get, list, watch, create, update, delete, deletecollection, discovery, session
    group: str = ""
    plural: str = ""
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    streaming: bool = False  # watch or logs -f: no read timeout, relayed chunk by chunk
    session: str | None = None  # exec / attach / portforward (websocket)

    @property
    def qualified_resource(self) -> str:
        """``deployments.apps`` / ``pods``, as Kubernetes names a resource in messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


def _flag(query: Mapping[str, Sequence[str]], key: str) -> bool:
    values = query.get(key) or []
    return bool(values) and values[-1].lower() in ("1", "true")


def _selected_name(query: Mapping[str, Sequence[str]]) -> str | None:
    """The name a list/watch is limited to by ``fieldSelector=metadata.name=<n>`` alone."""
    for selector in query.get("fieldSelector") or []:
        key, sep, value = selector.partition("=")
        if value.startswith("="):
            value = value[1:]
        if sep and key.strip() == "metadata.name" and value and "," not in value:
            return value.strip()
    return None


def plural_action(verb: str, kind: str) -> str:
    return f"{verb}{KINDS[kind][0]}"


def classify(
    cluster: str, method: str, path: str, query: Mapping[str, Sequence[str]]
) -> Target | None:
    """The target of ``method path?query`` on ``cluster``; None when it is not proxied."""
    method = method.upper()
    parts = [p for p in path.strip("/").split("/") if p]
    if any("%" in p for p in parts):
        return None  # the path is decoded once, upstream; a '%' left is a second encoding
    root = f"cluster:{cluster}"
    discovery = Target("getCluster", root, "Cluster", "discovery")
    if not parts:
        return discovery
    head = parts[0]
    if head in _DISCOVERY_ROOTS:
        return discovery if method in ("GET", "HEAD") else None
    if head == "api" and len(parts) >= 2:
        group, rest = "", parts[2:]
    elif head == "apis" and len(parts) >= 3:
        group, rest = parts[1], parts[3:]
    elif head in ("api", "apis"):
        return discovery if method in ("GET", "HEAD") else None
    else:
        return None
    if not rest:
        return discovery if method in ("GET", "HEAD") else None

    watching = rest[0] == "watch"
    if watching:
        rest = rest[1:]
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return None  # (…/pods/x/proxy/<more> and the like are longer than kind/name/sub)
    plural = rest[0]
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None

    api = BUILTIN.get((group, plural))
    if api is None:
        if is_builtin_group(group):
            return None
        kind, namespaced, subresources = CUSTOM, namespace is not None, _CUSTOM_SUBRESOURCES
    else:
        kind, namespaced, subresources = api.kind, api.namespaced, api.subresources
        if namespace is not None and not namespaced:
            return None  # the API server has no such path
        if api.post_only is not None:
            if method != "POST" or name is not None or watching:
                return None
            return _target(
                api.post_only, root, kind, "create", group, plural, namespace, None, None
            )

    session = None
    streaming = False
    if sub is not None and kind == "Pod" and sub in SESSION_SUBRESOURCES:
        action, verb, session = SESSION_SUBRESOURCES[sub], "session", sub
    elif sub == "log" and kind == "Pod":
        if method not in ("GET", "HEAD"):
            return None
        action, verb, streaming = "getPodLog", "get", _flag(query, "follow")
    elif sub is not None:
        rule = subresources.get(sub)
        if rule is None or watching:
            return None
        if method in ("GET", "HEAD") and rule.read:
            action, verb = rule.read.format(Kind=kind), "get"
        elif method in rule.methods and rule.write:
            action, verb = rule.write.format(Kind=kind), _WRITE_VERBS.get(method, "update")
            if action not in _KNOWN_ACTIONS and rule is _SCALE:
                action = f"update{kind}"  # a kind without its own scale verb
        else:
            return None
    else:
        verb = _verb(method, name, watching or _flag(query, "watch"))
        if verb is None:
            return None
        streaming = verb == "watch"
        if verb in ("list", "watch"):
            action = plural_action(verb, kind)
        elif verb == "deletecollection":
            action = plural_action("delete", kind)
        else:
            action = f"{verb}{kind}"
        # Kubernetes serves some kinds with fewer verbs (metrics are read-only, reviews
        # create-only): an action the catalogue lacks is not proxied.
        probe = f"delete{kind}" if verb == "deletecollection" else action
        if probe not in _KNOWN_ACTIONS:
            return None
    if name is None and verb in ("list", "watch", "deletecollection"):
        name = _selected_name(query)
    across = namespace is None and namespaced and kind not in (CUSTOM, "Namespace")
    return _target(
        action,
        root,
        kind,
        verb,
        group,
        plural,
        namespace,
        name,
        sub,
        streaming,
        session,
        across_namespaces=across,
    )


def _target(
    action,
    root,
    kind,
    verb,
    group,
    plural,
    namespace,
    name,
    sub,
    streaming=False,
    session=None,
    *,
    across_namespaces=False,
) -> Target:
    segments = [root]
    if kind == "Namespace":
        segments.append(f"namespace:{name or '*'}")
    else:
        if namespace is not None:
            segments.append(f"namespace:{namespace}")
        elif across_namespaces:
            segments.append("namespace:*")
        if kind == CUSTOM:
            segments.append(custom_resource_segment(group, plural, name))
        else:
            segments.append(f"{kind.lower()}:{name or '*'}")
    return Target(
        action=action,
        resource="/".join(segments),
        kind=kind,
        verb=verb,
        group=group,
        plural=plural,
        namespace=namespace,
        name=name,
        subresource=sub,
        streaming=streaming,
        session=session,
    )


def _verb(method: str, name: str | None, watching: bool) -> str | None:
    if method in ("GET", "HEAD"):
        if watching:
            return "watch"
        return "get" if name else "list"
    if method in _WRITE_VERBS:
        return _WRITE_VERBS[method]
    if method == "DELETE":
        return "delete" if name else "deletecollection"
    return None
