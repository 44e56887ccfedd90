"""From a Kubernetes API request to the portal's action and resource path.

Pure functions, no Django: ``classify(cluster, method, path, query)`` reads the verb from the
method and path (``?watch=1``/``watch=true`` or the legacy ``/watch/`` prefix make a watch),
the kind from the resource's plural via :data:`apps.authz.catalog.KINDS` (case-insensitive),
and names the TKEStack action:

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
PATCH …/deployments/api/scale              ``scaleDeployment`` (the kind's extra verb)
POST  …/pods/p/eviction                    ``deletePod``
GET   …/pods/p/log                         ``getPodLog``
…/pods/p/exec, attach, portforward         ``execPod``, ``attachPod``, ``portforwardPod``
GET  /api/v1/namespaces/web                ``getNamespace`` on ``cluster:c/namespace:web``
unknown resources (CRDs, RBAC, …)          ``<verb>CustomResource`` on ``…/customresource:<n>``
/api, /apis[/g[/v]], /version, /openapi/…  discovery: ``getCluster`` on ``cluster:c``
anything else (/metrics, /logs, /debug…)   not proxied (None)
=========================================  ====================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from apps.authz.catalog import KINDS

# Kinds of the catalogue that are Kubernetes objects (area "cluster"), by lower-case plural.
_PORTAL_ONLY = {"Cluster", "ClusterAddon", "CustomResource"}
KIND_BY_PLURAL: dict[str, str] = {
    plural.lower(): kind
    for kind, (plural, area, _extra) in KINDS.items()
    if area == "cluster" and kind not in _PORTAL_ONLY
}
CLUSTER_SCOPED = frozenset({"Node", "Namespace", "PersistentVolume", "StorageClass"})
SESSION_SUBRESOURCES = {"exec": "execPod", "attach": "attachPod", "portforward": "portforwardPod"}
_DISCOVERY_ROOTS = {"version", "openapi", "healthz", "livez", "readyz"}
_WRITE_VERBS = {"POST": "create", "PUT": "update", "PATCH": "update"}


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
    parts = [unquote(p) for p in path.strip("/").split("/") if p]
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
        return None
    plural = rest[0]
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    kind = KIND_BY_PLURAL.get(plural.lower(), "CustomResource")

    session = None
    streaming = False
    if sub in SESSION_SUBRESOURCES and kind == "Pod":
        action, verb, session = SESSION_SUBRESOURCES[sub], "session", sub
    elif sub == "log" and kind == "Pod":
        action, verb, streaming = "getPodLog", "get", _flag(query, "follow")
    else:
        verb = _verb(method, name, sub, watching or _flag(query, "watch"))
        if verb is None:
            return None
        streaming = verb == "watch"
        extra = f"{sub}{kind}"
        if sub and verb == "update" and extra in KINDS[kind][2]:
            action = extra  # scaleDeployment, …
        elif verb in ("list", "watch"):
            action = plural_action(verb, kind)
        elif verb == "deletecollection":
            action = plural_action("delete", kind)
        else:
            action = f"{verb}{kind}"
    if name is None and verb in ("list", "watch", "deletecollection"):
        name = _selected_name(query)

    segments = [root]
    if kind == "Namespace":
        segments.append(f"namespace:{name or '*'}")
    else:
        if namespace is not None:
            segments.append(f"namespace:{namespace}")
        elif kind in KIND_BY_PLURAL.values() and kind not in CLUSTER_SCOPED:
            # A namespaced kind addressed across all namespaces.
            segments.append("namespace:*")
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


def _verb(method: str, name: str | None, sub: str | None, watching: bool) -> str | None:
    if method in ("GET", "HEAD"):
        if watching:
            return "watch"
        return "get" if name else "list"
    if method == "POST" and sub == "eviction":
        return "delete"
    if method in _WRITE_VERBS:
        return _WRITE_VERBS[method]
    if method == "DELETE":
        return "delete" if name else "deletecollection"
    return None
