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


def resource_list(cluster: Cluster, group: str, version: str) -> dict[str, Any] | None:
    types = cluster.registry.in_group_version(group, version)
    if not types:
        return None
    resources = []
    for rt in sorted(types, key=lambda r: r.plural):
        resources.append(_resource(rt))
        for sub in rt.subresources:
            kind, sgroup, sversion = _SUB_KIND.get(sub, (rt.kind, "", ""))
            entry: dict[str, Any] = {
                "name": f"{rt.plural}/{sub}",
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": kind,
                "verbs": _SUB_VERBS.get(sub, ["get"]),
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
