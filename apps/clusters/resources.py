"""Kubernetes resources of a cluster: the kinds the portal knows, and the operations on them.

Everything here goes through ``KubeClient`` (k8s.py). Views call these functions after the
permission layer has decided; nothing here checks permissions.
"""

from __future__ import annotations

import base64
import binascii
import copy
import difflib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

import yaml
from django.core.exceptions import ValidationError

from apps.core import safeyaml

from . import k8s
from .masking import mask_secrets
from .proxy.mapping import BUILTIN, CUSTOM, custom_resource_segment, is_builtin_group


@dataclass(frozen=True)
class Kind:
    """A resource kind: its API location and its TKEStack name (for authorization)."""

    kind: str
    plural: str
    group: str = ""
    version: str = "v1"
    namespaced: bool = True
    # The TKEStack kind authorization uses when it is not the proxy's for (group, plural):
    # objects of CRDs are "CustomResource", told apart by their resource path.
    authz_kind: str = ""

    @property
    def authz_name(self) -> str:
        """The same authorization kind the kubectl proxy uses for this resource."""
        if self.authz_kind:
            return self.authz_kind
        api = BUILTIN.get((self.group, self.plural))
        return api.kind if api is not None else self.kind

    @property
    def api_prefix(self) -> str:
        return f"/api/{self.version}" if not self.group else f"/apis/{self.group}/{self.version}"

    @property
    def api_version(self) -> str:
        return self.version if not self.group else f"{self.group}/{self.version}"

    def path(
        self, namespace: str | None = None, name: str | None = None, subresource: str | None = None
    ) -> str:
        # Each name is one escaped segment: a name can never add, remove or end a segment of
        # the URL that was authorized (names are validated too: path_segment_error).
        parts = [self.api_prefix]
        if self.namespaced and namespace:
            parts.append(f"namespaces/{quote(namespace, safe='')}")
        parts.append(self.plural)
        if name:
            parts.append(quote(name, safe=":@"))
        if subresource:
            parts.append(subresource)
        return "/".join(parts)


KINDS: dict[str, Kind] = {
    k.plural: k
    for k in (
        Kind("Namespace", "namespaces", namespaced=False),
        Kind("Node", "nodes", namespaced=False),
        Kind("Deployment", "deployments", "apps"),
        Kind("StatefulSet", "statefulsets", "apps"),
        Kind("DaemonSet", "daemonsets", "apps"),
        Kind("ReplicaSet", "replicasets", "apps"),
        Kind("Job", "jobs", "batch"),
        Kind("CronJob", "cronjobs", "batch"),
        Kind("Pod", "pods"),
        Kind("Service", "services"),
        Kind("Ingress", "ingresses", "networking.k8s.io"),
        Kind("ConfigMap", "configmaps"),
        Kind("Secret", "secrets"),
        Kind("PersistentVolumeClaim", "persistentvolumeclaims"),
        Kind("PersistentVolume", "persistentvolumes", namespaced=False),
        Kind("StorageClass", "storageclasses", "storage.k8s.io", namespaced=False),
        Kind("HorizontalPodAutoscaler", "horizontalpodautoscalers", "autoscaling", "v2"),
        Kind("ResourceQuota", "resourcequotas"),
        Kind("LimitRange", "limitranges"),
        Kind("Event", "events"),
        # What charts commonly hold besides workloads (releases apply through this table).
        # No RBAC kind: Role and binding writes must pass the escalation guard that only the
        # kubectl proxy runs (apps.clusters.rbacguard), so the REST doors serve none of them.
        Kind("ServiceAccount", "serviceaccounts"),
        Kind("PodDisruptionBudget", "poddisruptionbudgets", "policy"),
        Kind("NetworkPolicy", "networkpolicies", "networking.k8s.io"),
        Kind(
            "CustomResourceDefinition",
            "customresourcedefinitions",
            "apiextensions.k8s.io",
            namespaced=False,
        ),
    )
}
_BY_API_KIND = {(k.api_version, k.kind): k for k in KINDS.values()}
WORKLOADS_WITH_RESTART = ("deployments", "statefulsets", "daemonsets")
SCALABLE = ("deployments", "statefulsets")
# Kinds with a revision history (``revisions``/``rollback``), and where StatefulSets and
# DaemonSets keep theirs (not a kind of the resource API of its own).
REVISIONED = ("deployments", "statefulsets", "daemonsets")
CONTROLLER_REVISIONS = Kind("ControllerRevision", "controllerrevisions", "apps")


def kind_for(plural: str) -> Kind:
    try:
        return KINDS[plural]
    except KeyError:
        raise k8s.ClusterNotFound(f"Unknown resource kind '{plural}'.") from None


def resource_path(cluster_name: str, kind: Kind, namespace: str | None, name: str | None) -> str:
    """The authorization resource path, e.g. ``cluster:cls-1/namespace:web/deployment:api``;
    for an object of a CRD the same as the kubectl proxy's:
    ``cluster:cls-1/namespace:web/customresource:widgets.example.com/name:w1``."""
    parts = [f"cluster:{cluster_name}"]
    if kind.namespaced:
        # Across all namespaces is namespace:*, as in the kubectl proxy: one path per request
        # whichever door it comes through, and a namespace deny meets it.
        parts.append(f"namespace:{namespace or '*'}")
    if kind.kind == "Namespace" and name:
        return "/".join([*parts, f"namespace:{name}"])
    if kind.authz_name == CUSTOM:
        parts.append(custom_resource_segment(kind.group, kind.plural, name))
    else:
        parts.append(f"{kind.authz_name.lower()}:{name or '*'}")
    return "/".join(parts)


def custom_kind(client, group: str, version: str, plural: str) -> Kind:
    """The Kind of an installed CRD's resource (404 when the CRD or version is not served).

    A built-in API group is never a custom resource, whatever CRD a cluster may hold under its
    name: its kinds are authorized as themselves, never through a grant on custom resources."""
    if is_builtin_group(group):
        raise k8s.ClusterNotFound(
            f"{plural}.{group or 'core'} is a built-in Kubernetes resource, not a custom "
            "resource; use its own endpoint or kubectl."
        )
    try:
        crd = client.get(
            f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{plural}.{group}"
        )
    except k8s.ClusterNotFound:
        raise k8s.ClusterNotFound(
            f"No custom resource {plural}.{group} is installed in this cluster."
        ) from None
    spec = crd.get("spec", {})
    served = {v.get("name") for v in spec.get("versions", []) if v.get("served")}
    if version not in served:
        raise k8s.ClusterNotFound(
            f"{plural}.{group} does not serve version {version} (served: "
            f"{', '.join(sorted(served)) or 'none'})."
        )
    return Kind(
        spec.get("names", {}).get("kind", plural),
        plural,
        group,
        version,
        namespaced=spec.get("scope") == "Namespaced",
        authz_kind=CUSTOM,
    )


# -- reading -----------------------------------------------------------------------------------
def list_objects(
    client: k8s.KubeClient,
    kind: Kind,
    namespace: str | None = None,
    *,
    label_selector: str | None = None,
    field_selector: str | None = None,
    limit: int | None = None,
    cont: str | None = None,
    search: str | None = None,
) -> dict:
    data = client.get(
        kind.path(namespace),
        query={
            "labelSelector": label_selector or None,
            "fieldSelector": field_selector or None,
            "limit": limit,
            "continue": cont or None,
        },
    )
    items = data.get("items", [])
    items = _named_like(items, search)
    meta = data.get("metadata", {})
    return {
        "items": items,
        "continue": meta.get("continue") or None,
        "remaining": meta.get("remainingItemCount"),
    }


def _named_like(items: list[dict], search: str | None) -> list[dict]:
    """The objects whose name contains ``search`` (case-insensitive); all without it."""
    if not search:
        return items
    needle = search.lower()
    return [i for i in items if needle in i.get("metadata", {}).get("name", "").lower()]


def list_in_namespaces(
    client: k8s.KubeClient,
    kind: Kind,
    namespaces: tuple[str, ...],
    *,
    label_selector: str | None = None,
    field_selector: str | None = None,
    limit: int | None = None,
    cont: str | None = None,
    search: str | None = None,
) -> dict:
    """The objects of ``kind`` in ``namespaces`` (sorted) as one list, in the order a list
    across all namespaces has (namespace, then name): the per-namespace lists, merged.

    ``limit``/``continue`` page through it as through one Kubernetes list: a page holds at
    most ``limit`` objects and, when more may follow, a ``continue`` token naming where to
    resume (the namespace and that namespace's own continue token). A token naming a
    namespace outside ``namespaces`` is refused (400): a token is the client's to replay,
    never a way to reach a namespace it was not given. ``remaining`` is only known on the
    last namespace. ``search`` filters the page, as :func:`list_objects` does."""
    start, upstream = 0, None
    if cont:
        namespace, upstream = _merged_position(cont)
        if namespace not in namespaces:
            raise ValidationError({"continue": "This continue token is not one of this list's."})
        start = namespaces.index(namespace)
    items: list[dict] = []
    token, remaining = None, None
    for index in range(start, len(namespaces)):
        page = list_objects(
            client,
            kind,
            namespaces[index],
            label_selector=label_selector,
            field_selector=field_selector,
            limit=None if limit is None else limit - len(items),
            cont=upstream if index == start else None,
        )
        items.extend(page["items"])
        last = index == len(namespaces) - 1
        if page["continue"]:
            token = _merged_token(namespaces[index], page["continue"])
            remaining = page["remaining"] if last else None
            break
        if limit is not None and len(items) >= limit and not last:
            # Full at a namespace's end: the next page starts with the next namespace (it
            # may turn out empty, as nothing was asked of it yet).
            token = _merged_token(namespaces[index + 1], None)
            break
    items = _named_like(items, search)
    return {"items": items, "continue": token, "remaining": remaining}


def list_namespaces_named(
    client: k8s.KubeClient,
    names: tuple[str, ...],
    *,
    label_selector: str | None = None,
    field_selector: str | None = None,
    limit: int | None = None,
    cont: str | None = None,
    search: str | None = None,
) -> dict:
    """The Namespace objects among ``names`` (one list of the cluster's namespaces, kept to
    those), paged by name like a Kubernetes list: the ``continue`` token is the last name
    given."""
    page = list_objects(
        client,
        KINDS["namespaces"],
        label_selector=label_selector,
        field_selector=field_selector,
        search=search,
    )
    wanted = set(names)
    items = sorted(
        (i for i in page["items"] if i.get("metadata", {}).get("name") in wanted),
        key=lambda i: i["metadata"]["name"],
    )
    if cont:
        after = _merged_position(cont)[0]
        items = [i for i in items if i["metadata"]["name"] > after]
    token, remaining = None, None
    if limit and len(items) > limit:
        items, remaining = items[:limit], len(items) - limit
        token = _merged_token(items[-1]["metadata"]["name"], None)
    return {"items": items, "continue": token, "remaining": remaining}


def _merged_token(namespace: str, upstream: str | None) -> str:
    raw = json.dumps({"ns": namespace, "c": upstream}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _merged_position(token: str) -> tuple[str, str | None]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        namespace, upstream = data["ns"], data["c"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ValidationError({"continue": "Not a continue token of this list."}) from None
    if not isinstance(namespace, str) or not (upstream is None or isinstance(upstream, str)):
        raise ValidationError({"continue": "Not a continue token of this list."})
    return namespace, upstream


def get_object(client, kind: Kind, namespace, name) -> dict:
    return client.get(kind.path(namespace, name))


def mask_secret(obj: dict) -> dict:
    """A Secret (or list of them) with every value hidden, keys visible — the rule the proxy
    and the console apply too (:mod:`apps.clusters.masking`)."""
    return mask_secrets(obj)


# -- writing ------------------------------------------------------------------------------------
def _check_body(kind: Kind, body: dict, namespace: str | None, name: str | None = None) -> dict:
    if not isinstance(body, dict):
        raise ValidationError({"body": "Send one Kubernetes object as a JSON object."})
    body = dict(body)
    body.setdefault("apiVersion", kind.api_version)
    body.setdefault("kind", kind.kind)
    if body["kind"] != kind.kind:
        raise ValidationError({"kind": f"Expected {kind.kind}, got {body['kind']}."})
    meta = body.setdefault("metadata", {})
    if name is not None and meta.get("name", name) != name:
        raise ValidationError({"metadata.name": "The name in the body differs from the URL."})
    if kind.namespaced and namespace:
        if meta.get("namespace", namespace) != namespace:
            raise ValidationError({"metadata.namespace": "Differs from the URL's namespace."})
        meta["namespace"] = namespace
    return body


def create_object(client, kind, namespace, body, dry_run=False) -> dict:
    body = _check_body(kind, body, namespace)
    return client.request(
        "POST",
        kind.path(namespace),
        body=body,
        query={"dryRun": "All" if dry_run else None, "fieldValidation": "Strict"},
    )


def replace_object(client, kind, namespace, name, body) -> dict:
    body = _check_body(kind, body, namespace, name)
    return client.request(
        "PUT", kind.path(namespace, name), body=body, query={"fieldValidation": "Strict"}
    )


def delete_object(client, kind, namespace, name) -> dict:
    return client.request(
        "DELETE",
        kind.path(namespace, name),
        body={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"},
    )


def patch_object(client, kind, namespace, name, patch: dict, subresource=None) -> dict:
    return client.request(
        "PATCH",
        kind.path(namespace, name, subresource),
        body=patch,
        content_type="application/strategic-merge-patch+json"
        if kind.group in ("", "apps", "batch")
        else "application/merge-patch+json",
    )


def scale(client, kind: Kind, namespace, name, replicas: int) -> dict:
    if kind.plural not in SCALABLE:
        raise ValidationError({"kind": f"{kind.kind} cannot be scaled."})
    if not isinstance(replicas, int) or replicas < 0:
        raise ValidationError({"replicas": "A whole number ≥ 0."})
    return client.request(
        "PATCH",
        kind.path(namespace, name, "scale"),
        body={"spec": {"replicas": replicas}},
        content_type="application/merge-patch+json",
    )


def restart(client, kind: Kind, namespace, name) -> dict:
    """``kubectl rollout restart``: bump a pod-template annotation."""
    if kind.plural not in WORKLOADS_WITH_RESTART:
        raise ValidationError({"kind": f"{kind.kind} cannot be restarted."})
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    patch = {
        "spec": {
            "template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}
        }
    }
    return patch_object(client, kind, namespace, name, patch)


def _revision(obj) -> int:
    return int(
        (obj.get("metadata", {}).get("annotations") or {}).get(
            "deployment.kubernetes.io/revision", 0
        )
    )


def _owned_by(items: list[dict], uid: str) -> list[dict]:
    return [
        o
        for o in items
        if any(
            r.get("uid") == uid and r.get("controller", True)
            for r in o["metadata"].get("ownerReferences") or []
        )
    ]


def _revision_template(rev: dict) -> dict:
    """The pod template a ControllerRevision stores (its ``data`` is a patch of the owner)."""
    template = copy.deepcopy(((rev.get("data") or {}).get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    return template


def _history(client, kind: Kind, namespace, name) -> tuple[dict, list[dict]]:
    """The workload and what holds its history: ReplicaSets for a Deployment,
    ControllerRevisions for a StatefulSet or DaemonSet (owned by it, as kubectl finds them)."""
    if kind.plural not in REVISIONED:
        raise ValidationError({"kind": f"{kind.kind} has no revision history."})
    obj = client.get(kind.path(namespace, name))
    holder = KINDS["replicasets"] if kind.plural == "deployments" else CONTROLLER_REVISIONS
    selector = label_selector((obj.get("spec") or {}).get("selector"))
    items = client.get(
        holder.path(namespace), query={"labelSelector": selector} if selector else None
    ).get("items", [])
    return obj, _owned_by(items, obj["metadata"]["uid"])


def label_selector(selector: dict | None) -> str:
    """A LabelSelector object as the query string form (``matchLabels`` and expressions)."""
    selector = selector or {}
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for e in selector.get("matchExpressions") or []:
        op, key, values = e.get("operator"), e.get("key"), e.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


def _number(kind: Kind, holder: dict) -> int:
    if kind.plural == "deployments":
        return _revision(holder)
    return int(holder.get("revision") or 0)


def _template_of(kind: Kind, holder: dict) -> dict:
    if kind.plural == "deployments":
        template = copy.deepcopy(holder["spec"]["template"])
        (template.get("metadata", {}).get("labels") or {}).pop("pod-template-hash", None)
        return template
    return _revision_template(holder)


def _current(kind: Kind, obj: dict, holders: list[dict]) -> int:
    """The revision the workload's template is at: a Deployment's annotation; for the others
    the revision holding the same template (else the newest, as kubectl reads it)."""
    if kind.plural == "deployments":
        return _revision(obj)
    template = (obj.get("spec") or {}).get("template") or {}
    same = [h for h in holders if _template_of(kind, h) == template]
    return max((_number(kind, h) for h in same or holders), default=0)


def revisions(client, kind: Kind, namespace, name) -> list[dict]:
    """A workload's revision history, newest first: a Deployment's ReplicaSets, a StatefulSet's
    or DaemonSet's ControllerRevisions. Each row: revision, name (of the ReplicaSet or
    ControllerRevision), images, created, current (the template is at it), replicas (the
    ReplicaSet's; None for a ControllerRevision), and ``replicaset`` for Deployments."""
    obj, holders = _history(client, kind, namespace, name)
    current = _current(kind, obj, holders)
    out = []
    for h in sorted(holders, key=lambda h: _number(kind, h), reverse=True):
        template = _template_of(kind, h)
        containers = (template.get("spec") or {}).get("containers", [])
        row = {
            "revision": _number(kind, h),
            "name": h["metadata"]["name"],
            "images": [c.get("image") for c in containers],
            "created": h["metadata"].get("creationTimestamp"),
            "current": _number(kind, h) == current,
            "replicas": h.get("status", {}).get("replicas", 0)
            if kind.plural == "deployments"
            else None,
        }
        if kind.plural == "deployments":
            row["replicaset"] = row["name"]
        out.append(row)
    return out


def rollback(client, kind: Kind, namespace, name, revision: int | None = None) -> dict:
    """Roll a workload back to ``revision`` (default: the previous one), as ``kubectl rollout
    undo`` does: a Deployment gets that ReplicaSet's pod template; a StatefulSet or DaemonSet
    gets the ControllerRevision's stored patch (``spec.template`` replaced)."""
    obj, holders = _history(client, kind, namespace, name)
    current = _current(kind, obj, holders)
    if revision in (None, 0):
        older = [h for h in holders if _number(kind, h) < current]
        if not older:
            raise ValidationError({"revision": "There is no previous revision."})
        target = max(older, key=lambda h: _number(kind, h))
    else:
        target = next((h for h in holders if _number(kind, h) == revision), None)
        if target is None:
            raise ValidationError({"revision": f"Revision {revision} not found."})
    if kind.plural == "deployments":
        patch = [{"op": "replace", "path": "/spec/template", "value": _template_of(kind, target)}]
        return client.request(
            "PATCH",
            kind.path(namespace, name),
            body=patch,
            content_type="application/json-patch+json",
        )
    data = target.get("data") or {}
    if not ((data.get("spec") or {}).get("template")):
        raise ValidationError({"revision": f"Revision {_number(kind, target)} has no template."})
    return client.request(
        "PATCH",
        kind.path(namespace, name),
        body=data,
        content_type="application/strategic-merge-patch+json",
    )


def set_unschedulable(client, node: str, unschedulable: bool) -> dict:
    return client.request(
        "PATCH",
        KINDS["nodes"].path(None, node),
        body={"spec": {"unschedulable": unschedulable}},
        content_type="application/strategic-merge-patch+json",
    )


def drain(client, node: str) -> dict:
    """Cordon, then evict every pod on the node except DaemonSet pods and mirror pods.
    Returns what was evicted and what was skipped (with why)."""
    set_unschedulable(client, node, True)
    pods = client.get("/api/v1/pods", query={"fieldSelector": f"spec.nodeName={node}"})
    evicted, skipped = [], []
    for pod in pods.get("items", []):
        meta = pod["metadata"]
        ident = f"{meta['namespace']}/{meta['name']}"
        owners = meta.get("ownerReferences") or []
        if any(o.get("kind") == "DaemonSet" for o in owners):
            skipped.append({"pod": ident, "reason": "managed by a DaemonSet"})
            continue
        if "kubernetes.io/config.mirror" in (meta.get("annotations") or {}):
            skipped.append({"pod": ident, "reason": "mirror pod"})
            continue
        client.request(
            "POST",
            KINDS["pods"].path(meta["namespace"], meta["name"], "eviction"),
            body={
                "apiVersion": "policy/v1",
                "kind": "Eviction",
                "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
            },
        )
        evicted.append(ident)
    return {"node": node, "cordoned": True, "evicted": evicted, "skipped": skipped}


def pod_log(
    client,
    namespace,
    name,
    *,
    container=None,
    tail_lines=None,
    since_seconds=None,
    timestamps=False,
    previous=False,
) -> str:
    text = client.get(
        KINDS["pods"].path(namespace, name, "log"),
        query={
            "container": container or None,
            "tailLines": tail_lines,
            "sinceSeconds": since_seconds,
            "timestamps": "true" if timestamps else None,
            "previous": "true" if previous else None,
        },
    )
    return text if isinstance(text, str) else json.dumps(text)


def events_for(client, kind: Kind, namespace, name, within: tuple[str, ...] | None = None):
    """The events about one object, oldest first. Those about a cluster-scoped object live
    in any namespace: all of them are asked, or only ``within`` when given (the namespaces
    the user may list events in)."""
    selector = f"involvedObject.kind={kind.kind},involvedObject.name={name}"
    if kind.namespaced:
        spaces: tuple[str | None, ...] = (namespace,)
    else:
        spaces = (None,) if within is None else within
    items = []
    for space in spaces:
        path = KINDS["events"].path(space)
        items += client.get(path, query={"fieldSelector": selector}).get("items", [])
    return sorted(items, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")


# -- apply ----------------------------------------------------------------------------------------
def parse_documents(text: str) -> list[dict]:
    """The objects of a YAML/JSON manifest (``kind: List`` items spread out), each checked for
    the shape Kubernetes needs; errors name the field: ``manifest[1].metadata.name``,
    ``manifest[0].items[2].kind``. The text goes through the one untrusted-YAML loader (no
    aliases, bounded depth and size)."""
    docs = safeyaml.load_all(text, field="manifest")
    labelled: list[tuple[str, object]] = []
    for index, doc in enumerate(docs):
        where = f"manifest[{index}]"
        if isinstance(doc, dict) and doc.get("kind") == "List":
            items = doc.get("items")
            if not isinstance(items, list):
                raise ValidationError({f"{where}.items": "A List needs a list of objects."})
            labelled.extend((f"{where}.items[{i}]", item) for i, item in enumerate(items))
        else:
            labelled.append((where, doc))
    if not labelled:
        raise ValidationError({"manifest": "No objects in the manifest."})
    errors: dict[str, str] = {}
    for where, doc in labelled:
        errors.update(object_shape_errors(doc, where, identity=True))
    if errors:
        raise ValidationError(errors)
    return [doc for _, doc in labelled]


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# '*' too: it is the policies' wildcard, so a name holding it could not be judged as itself.
_SEGMENT_FORBIDDEN = re.compile(r"[/%?#*\\\x00-\x20\x7f]")


def path_segment_error(name: str) -> str | None:
    """Why ``name`` cannot be an object name in a URL (the API server's
    ``ValidatePathSegmentName``, plus what would end or split a URL segment), or None."""
    if name in (".", ".."):
        return "'.' and '..' are not names."
    if _SEGMENT_FORBIDDEN.search(name):
        return "A name has no '/', '%', '?', '#', '*', '\\', spaces or control characters."
    if len(name) > 253:
        return "At most 253 characters."
    return None


def object_shape_errors(obj, where: str = "", *, identity: bool = False) -> dict[str, str]:
    """What in ``obj`` has the wrong type for a Kubernetes object, by field path (``where``
    prefixes each). ``identity``: apiVersion, kind and metadata.name must be there (a manifest
    document; the REST endpoints take them from the URL)."""

    def at(field: str) -> str:
        return f"{where}.{field}" if where else field

    if not isinstance(obj, dict):
        return {where or "body": "Each object must be a mapping (a JSON object)."}
    errors: dict[str, str] = {}
    for field in ("apiVersion", "kind"):
        value = obj.get(field)
        if (identity or value is not None) and not (isinstance(value, str) and value):
            errors[at(field)] = "Required: a non-empty string." if identity else "A string."
    meta = obj.get("metadata")
    if meta is None:
        if identity:
            errors[at("metadata.name")] = "Required: a non-empty string."
        return errors
    if not isinstance(meta, dict):
        errors[at("metadata")] = "A mapping (name, namespace, labels, …)."
        return errors
    name = meta.get("name")
    if identity and name is None:
        errors[at("metadata.name")] = "Required: a non-empty string."
    elif name is not None and not (isinstance(name, str) and name):
        errors[at("metadata.name")] = "A non-empty string."
    elif name is not None and (problem := path_segment_error(name)):
        errors[at("metadata.name")] = problem
    for field in ("namespace", "generateName", "resourceVersion", "uid"):
        if meta.get(field) is not None and not isinstance(meta[field], str):
            errors[at(f"metadata.{field}")] = "A string."
    namespace = meta.get("namespace")
    if isinstance(namespace, str) and namespace and not DNS_LABEL.match(namespace):
        errors[at("metadata.namespace")] = (
            "A namespace name: up to 63 lowercase letters, digits and '-', starting and ending "
            "with a letter or digit."
        )
    for field in ("labels", "annotations"):
        value = meta.get(field)
        if value is None:
            continue
        if not isinstance(value, dict):
            errors[at(f"metadata.{field}")] = "A mapping of strings to strings."
            continue
        for key, item in value.items():
            if not isinstance(item, str):
                errors[at(f"metadata.{field}.{key}")] = "A string (quote numbers and booleans)."
    for field in ("creationTimestamp", "deletionTimestamp"):
        value = meta.get(field)
        if value is not None and not (isinstance(value, str) and _RFC3339.match(value)):
            errors[at(f"metadata.{field}")] = "An RFC 3339 time (2024-01-31T12:00:00Z) or null."
    return errors


def kind_of_document(doc: dict) -> Kind:
    kind = _BY_API_KIND.get((doc["apiVersion"], doc["kind"]))
    if kind is None:
        raise ValidationError(
            {"manifest": f"{doc['apiVersion']}/{doc['kind']} is not a kind the portal applies."}
        )
    return kind


_NOISE = ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields", "selfLink")


def _comparable(obj: dict | None) -> str:
    if obj is None:
        return ""
    clean = copy.deepcopy(obj)
    clean.pop("status", None)
    meta = clean.get("metadata", {})
    for key in _NOISE:
        meta.pop(key, None)
    if clean.get("kind") == "Secret":
        clean = mask_secret(clean)
    return yaml.safe_dump(clean, sort_keys=True)


def _identity(doc: dict, namespace_default: str) -> tuple[Kind, str | None, str, str]:
    kind = kind_of_document(doc)
    meta = doc.setdefault("metadata", {})
    namespace = (meta.get("namespace") or namespace_default) if kind.namespaced else None
    if kind.namespaced:
        meta["namespace"] = namespace
    name = meta["name"]
    return kind, namespace, name, f"{kind.kind}/{namespace + '/' if namespace else ''}{name}"


def _apply(
    client, doc: dict, namespace_default: str, dry_run: bool, field_manager: str
) -> tuple[dict, dict | None]:
    """Server-side apply one object; the answer (diff and action) and the object as it was
    before (None: it did not exist)."""
    kind, namespace, name, ident = _identity(doc, namespace_default)
    try:
        live = client.get(kind.path(namespace, name))
    except k8s.ClusterNotFound:
        live = None
    result = client.request(
        "PATCH",
        kind.path(namespace, name),
        body=doc,
        content_type="application/apply-patch+yaml",
        query={
            "fieldManager": field_manager,
            "force": "true",
            "dryRun": "All" if dry_run else None,
            "fieldValidation": "Strict",
        },
    )
    before, after = _comparable(live), _comparable(result)
    diff = "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"live/{ident}",
            tofile=f"applied/{ident}",
        )
    )
    action = "created" if live is None else ("unchanged" if before == after else "configured")
    return {"object": ident, "action": action, "diff": diff, "dry_run": dry_run}, live


def apply_document(
    client, doc: dict, namespace_default: str, dry_run: bool, field_manager: str
) -> dict:
    """Server-side apply one object (dry-run first when asked); returns the diff and result."""
    return _apply(client, doc, namespace_default, dry_run, field_manager)[0]


def _restore(client, kind: Kind, namespace, name, previous: dict) -> None:
    """Put an object back as it was: its previous body (managed fields included, so the
    apply's field ownership goes too) over the current resourceVersion."""
    current = client.get(kind.path(namespace, name))
    body = copy.deepcopy(previous)
    meta = body.setdefault("metadata", {})
    meta["resourceVersion"] = (current.get("metadata") or {}).get("resourceVersion")
    for noise in ("generation", "creationTimestamp", "uid"):
        meta.pop(noise, None)
    client.request("PUT", kind.path(namespace, name), body=body)


def _undo(client, doc: dict, namespace_default: str, action: str, previous: dict | None) -> str:
    """Undo one applied document; what was done, or why it could not be."""
    kind, namespace, name, _ = _identity(doc, namespace_default)
    try:
        if action == "created":
            delete_object(client, kind, namespace, name)
            return "deleted"
        if action == "configured" and previous is not None:
            _restore(client, kind, namespace, name, previous)
            return "restored"
    except k8s.ClusterError as exc:
        return f"failed: {exc.detail}"
    return "nothing to undo"


def apply_documents(
    client, docs: list[dict], namespace_default: str, field_manager: str
) -> tuple[k8s.ClusterError | None, list[dict]]:
    """Apply the documents in order, for real. When one fails, what was applied before it
    is undone, last first (created objects deleted, configured ones restored) and every
    document's answer says what happened to it: ``action`` (created, configured,
    unchanged, failed, not applied) and, after a failure, ``rollback`` (deleted, restored,
    nothing to undo, or "failed: …"). Returns the failure (None when all applied)."""
    results: list[dict] = []
    applied: list[tuple[dict, str, dict | None]] = []
    for index, doc in enumerate(docs):
        try:
            result, previous = _apply(client, doc, namespace_default, False, field_manager)
        except k8s.ClusterError as exc:
            ident = _identity(doc, namespace_default)[3]
            results.append(
                {
                    "object": ident,
                    "action": "failed",
                    "error": str(exc.detail),
                    "code": getattr(exc.detail, "code", None) or exc.default_code,
                    "dry_run": False,
                }
            )
            for position in range(len(applied) - 1, -1, -1):
                done_doc, action, before = applied[position]
                results[position]["rollback"] = _undo(
                    client, done_doc, namespace_default, action, before
                )
            for rest in docs[index + 1 :]:
                ident = _identity(rest, namespace_default)[3]
                results.append({"object": ident, "action": "not applied", "dry_run": False})
            return exc, results
        results.append(result)
        applied.append((doc, result["action"], previous))
    return None, results
