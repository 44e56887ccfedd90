"""CustomResourceDefinitions: validation, establishment (serving the custom resource under
``/apis/<group>/<version>``), schema-based pruning, printer columns, scale paths, cleanup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import schemas
from .clock import now_iso
from .errors import field_error as fe
from .resources import ResourceType

if TYPE_CHECKING:
    from .cluster import Cluster
    from .store import Entry

FAKE_CA = (
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBdzCCAR2gAwIBAgIBADAKBggqhkjOPQQDAjAjMSEwHwYDVQQDDBhrdWJlc2ltLXNp\n"
    "bXVsYXRlZC1jbHVzdGVyLWNhMB4XDTI1MDEwMTAwMDAwMFoXDTM1MDEwMTAwMDAwMFow\n"
    "-----END CERTIFICATE-----\n"
)
_BUILTIN_SCALE = (("spec", "replicas"), ("status", "replicas"), ("spec", "selector"))


def _path(text: str | None) -> tuple[str, ...] | None:
    if not text:
        return None
    return tuple(p for p in text.strip().lstrip(".").split(".") if p)


def validate(crd: dict[str, Any]) -> list[dict[str, str]]:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    causes = []
    if not spec.get("group"):
        causes.append(fe("spec.group", "Required", ""))
    if not names.get("plural"):
        causes.append(fe("spec.names.plural", "Required", ""))
    if not names.get("kind"):
        causes.append(fe("spec.names.kind", "Required", ""))
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        causes.append(
            fe(
                "spec.scope",
                "NotSupported",
                'supported values: "Cluster", "Namespaced"',
                spec.get("scope"),
            )
        )
    versions = spec.get("versions") or []
    if not versions:
        causes.append(
            fe(
                "spec.versions",
                "Invalid",
                "must have exactly one version marked as storage version",
                [],
            )
        )
    elif sum(1 for v in versions if v.get("storage")) != 1:
        causes.append(
            fe(
                "spec.versions",
                "Invalid",
                "must have exactly one version marked as storage version",
                len(versions),
            )
        )
    expected = f"{names.get('plural')}.{spec.get('group')}"
    if crd["metadata"].get("name") != expected:
        causes.append(
            fe(
                "metadata.name",
                "Invalid",
                'must be spec.names.plural+"."+spec.group',
                crd["metadata"].get("name"),
            )
        )
    return causes


def types_for(crd: dict[str, Any]) -> list[ResourceType]:
    spec = crd["spec"]
    names = spec["names"]
    out = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        sub = version.get("subresources") or {}
        subresources = tuple(k for k in ("status", "scale") if k in sub)
        scale = None
        if "scale" in sub:
            scale = (
                _path(sub["scale"].get("specReplicasPath")) or ("spec", "replicas"),
                _path(sub["scale"].get("statusReplicasPath")) or ("status", "replicas"),
                _path(sub["scale"].get("labelSelectorPath")),
            )
        out.append(
            ResourceType(
                spec["group"],
                version["name"],
                names["kind"],
                names["plural"],
                spec.get("scope") == "Namespaced",
                tuple(names.get("shortNames") or ()),
                tuple(names.get("categories") or ()),
                subresources=subresources,
                schema=f"{spec['group']}.{version['name']}.{names['kind']}",
                custom=True,
                crd_schema=schemas.crd_version_schema(crd, version),
                printer_columns=tuple(version.get("additionalPrinterColumns") or ()),
                status_subresource="status" in sub,
                scale=scale,
            )
        )
    return out


def establish(cluster: Cluster, entry: Entry) -> None:
    """Serve the CRD's versions and mark it NamesAccepted + Established."""
    crd = entry.obj
    spec = crd["spec"]
    cluster.registry.remove_group_resource(spec["group"], spec["names"]["plural"])
    for rt in types_for(crd):
        cluster.registry.add(rt)
    stamp = now_iso()
    names = dict(spec["names"])
    names.setdefault("singular", names["kind"].lower())
    names.setdefault("listKind", names["kind"] + "List")
    status = {
        "conditions": [
            {
                "type": "NamesAccepted",
                "status": "True",
                "reason": "NoConflicts",
                "message": "no conflicts found",
                "lastTransitionTime": stamp,
            },
            {
                "type": "Established",
                "status": "True",
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
                "lastTransitionTime": stamp,
            },
        ],
        "acceptedNames": names,
        "storedVersions": [v["name"] for v in spec.get("versions") or [] if v.get("storage")],
    }
    old = crd.get("status") or {}
    if (
        old.get("acceptedNames") == names
        and old.get("storedVersions") == status["storedVersions"]
        and old.get("conditions")
    ):
        return
    obj = entry.copy()
    obj["status"] = status
    cluster.store.write(
        cluster.registry.by_plural("apiextensions.k8s.io", "customresourcedefinitions"), obj, entry
    )


def remove(cluster: Cluster, gone: Entry) -> None:
    """Delete all instances and stop serving the resource."""
    spec = gone.obj["spec"]
    rt = cluster.registry.by_plural(spec["group"], spec["names"]["plural"])
    if rt is not None:
        ks = cluster.store.kind(rt)
        for ns in list(ks.by_ns):
            for entry in list(ks.by_ns[ns].values()):
                cluster.store.remove(rt, entry)
    cluster.registry.remove_group_resource(spec["group"], spec["names"]["plural"])


def decode_schema(rt: ResourceType) -> dict[str, Any] | None:
    """The schema custom objects of ``rt`` are pruned and type-checked against."""
    return rt.crd_schema


def scale_paths(
    rt: ResourceType,
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...] | None]:
    return rt.scale if rt.scale is not None else _BUILTIN_SCALE
