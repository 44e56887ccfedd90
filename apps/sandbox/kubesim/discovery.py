"""Discovery documents: ``/version``, ``/api``, ``/apis``, group and group-version resource
lists, and the OpenAPI v3 index — built from a cluster's registry (so CRDs appear as soon as
they are Established).
"""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING, Any

from .schemas import K8S_VERSION

if TYPE_CHECKING:
    from .cluster import Cluster
    from .resources import ResourceType

_MAJOR, _MINOR, _ = K8S_VERSION.split(".")

VERSION_INFO = {
    "major": _MAJOR,
    "minor": _MINOR,
    "emulationMajor": _MAJOR,
    "emulationMinor": _MINOR,
    "minCompatibilityMajor": _MAJOR,
    "minCompatibilityMinor": str(int(_MINOR) - 1),
    "gitVersion": f"v{K8S_VERSION}",
    "gitCommit": "6c1cd990cfa5fc1a1c0b4a7a1f2f8c5d9b6a1e42",
    "gitTreeState": "clean",
    "buildDate": "2026-04-22T12:00:00Z",
    "goVersion": "go1.25.9",
    "compiler": "gc",
    "platform": "linux/amd64",
}


# What a 1.33+ server says on every request for core/v1 Endpoints (a ``Warning`` header).
ENDPOINTS_DEPRECATED = "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _group(group: str, versions: list[str]) -> dict[str, Any]:
    listed = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": listed, "preferredVersion": listed[0]}


def api_group_list(cluster: Cluster) -> dict[str, Any]:
    groups = [_group(g, vs) for g, vs in cluster.registry.groups().items() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(cluster: Cluster, group: str) -> dict[str, Any] | None:
    versions = cluster.registry.groups().get(group)
    if not versions or not group:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(group, versions)}


def _resource(rt: ResourceType) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(rt.verbs),
        "storageVersionHash": base64.b64encode(
            hashlib.sha256(f"{rt.group}/{rt.version}/{rt.kind}".encode()).digest()[:8]
        ).decode(),
    }
    if rt.short_names:
        out["shortNames"] = list(rt.short_names)
    if rt.categories:
        out["categories"] = list(rt.categories)
    return out


_SUB_VERBS = {
    "status": ["get", "patch", "update"],
    "scale": ["get", "patch", "update"],
    "log": ["get"],
    "exec": ["create", "get"],
    "attach": ["create", "get"],
    "portforward": ["create", "get"],
    "eviction": ["create"],
    "binding": ["create"],
    "proxy": ["create", "delete", "get", "patch", "update"],
    "finalize": ["update"],
    "token": ["create"],
    "ephemeralcontainers": ["get", "patch", "update"],
}
_SUB_KIND = {
    "scale": ("Scale", "autoscaling", "v1"),
    "eviction": ("Eviction", "policy", "v1"),
    "binding": ("Binding", "", ""),
    "token": ("TokenRequest", "authentication.k8s.io", "v1"),
    "log": ("Pod", "", ""),
    "exec": ("PodExecOptions", "", ""),
    "attach": ("PodAttachOptions", "", ""),
    "portforward": ("PodPortForwardOptions", "", ""),
    "proxy": ("PodProxyOptions", "", ""),
}


def _subresources(rt: ResourceType) -> list[tuple[str, tuple[str, str, str], list[str]]]:
    """``(name, (kind, group, version), verbs)`` of each subresource of ``rt`` (group and
    version empty when they are the parent's)."""
    return [
        (sub, _SUB_KIND.get(sub, (rt.kind, "", "")), list(_SUB_VERBS.get(sub, ["get"])))
        for sub in rt.subresources
    ]


def _sorted_types(cluster: Cluster, group: str, version: str) -> list[ResourceType]:
    return sorted(cluster.registry.in_group_version(group, version), key=lambda r: r.plural)


def resource_list(cluster: Cluster, group: str, version: str) -> dict[str, Any] | None:
    types = _sorted_types(cluster, group, version)
    if not types:
        return None
    resources = []
    for rt in types:
        resources.append(_resource(rt))
        for sub, (kind, sgroup, sversion), verbs in _subresources(rt):
            entry: dict[str, Any] = {
                "name": f"{rt.plural}/{sub}",
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": kind,
                "verbs": verbs,
            }
            if sgroup:
                entry["group"], entry["version"] = sgroup, sversion
            resources.append(entry)
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }


# ---------------------------------------------------------------- aggregated discovery

AGGREGATED = ("apidiscovery.k8s.io", "v2", "APIGroupDiscoveryList")


def aggregated_allows(media: str, convert: tuple[str, str, str] | None) -> bool:
    """What ``/api`` and ``/apis`` serve (a :data:`.negotiate.Allows`): their own documents,
    or the aggregated ``apidiscovery.k8s.io/v2`` conversion, in any format."""
    return convert is None or convert == AGGREGATED


def aggregated_type(media: str) -> str:
    """The Content-Type of an aggregated answer: the media type with the conversion named, so
    clients know which document they got."""
    group, version, kind = AGGREGATED
    return f"{media};g={group};v={version};as={kind}"


def _kind_ref(kind: str, group: str = "", version: str = "") -> dict[str, str]:
    return {"group": group, "version": version, "kind": kind}


def _aggregated_resource(rt: ResourceType) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resource": rt.plural,
        "responseKind": _kind_ref(rt.kind),
        "scope": "Namespaced" if rt.namespaced else "Cluster",
        "singularResource": rt.singular,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        out["shortNames"] = list(rt.short_names)
    if rt.categories:
        out["categories"] = list(rt.categories)
    subs = [
        {"subresource": sub, "responseKind": _kind_ref(kind, sgroup, sversion), "verbs": verbs}
        for sub, (kind, sgroup, sversion), verbs in _subresources(rt)
    ]
    if subs:
        out["subresources"] = subs
    return out


def _aggregated_group(cluster: Cluster, group: str, versions: list[str]) -> dict[str, Any]:
    meta: dict[str, Any] = {"creationTimestamp": None}
    if group:
        meta = {"name": group, **meta}
    return {
        "metadata": meta,
        "versions": [
            {
                "version": version,
                "resources": [
                    _aggregated_resource(rt) for rt in _sorted_types(cluster, group, version)
                ],
                "freshness": "Current",
            }
            for version in versions
        ],
    }


def aggregated(cluster: Cluster, legacy: bool) -> dict[str, Any]:
    """``/api`` (``legacy``) or ``/apis`` as one ``APIGroupDiscoveryList``: the same
    resources, verbs and subresources as the per-group-version documents above."""
    groups = cluster.registry.groups()
    if legacy:
        items = [_aggregated_group(cluster, "", groups.get("", ["v1"]))]
    else:
        items = [_aggregated_group(cluster, g, vs) for g, vs in groups.items() if g]
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    }


def openapi_v3_index(cluster: Cluster, prefix: str) -> dict[str, Any]:
    """``/openapi/v3``: one entry per group-version, URLs including the cluster's prefix."""
    paths: dict[str, Any] = {}
    for group, versions in cluster.registry.groups().items():
        for version in versions:
            gv = f"{group}/{version}" if group else version
            found = cluster.openapi_document(gv)
            if found is None:
                continue
            key = f"apis/{gv}" if group else "api/v1"
            paths[key] = {"serverRelativeURL": f"{prefix}/openapi/v3/{key}?hash={found[1]}"}
    return {"paths": paths}
