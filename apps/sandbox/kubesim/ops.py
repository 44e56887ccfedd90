"""Write operations of a cluster, in the API server's order: decode (400 on wrong types or, with
``fieldValidation=Strict``, unknown fields) → defaulting → validation (422) → admission
(namespace lifecycle, ResourceQuota: 403) → storage (409 AlreadyExists / Conflict).

Also: finalizers and ``deletionTimestamp``, garbage collection through ownerReferences
(Background / Foreground / Orphan), namespace termination, the scale subresource, eviction with
PodDisruptionBudgets, and CRD establishment.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from . import apply as ssa
from . import crds, defaults, graceful, priority, quota, schemas, validate
from .clock import now_iso
from .errors import ApiError, already_exists, conflict, field_error, forbidden, invalid
from .patch import json_patch, merge_patch, strategic_merge
from .selectors import from_label_selector_object, selector_to_string

if TYPE_CHECKING:
    from .resources import ResourceType
    from .store import Entry

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

_SYSTEM_META = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "selfLink",
)
# Kinds whose DELETE answers with the deleted object rather than a Status (ReturnDeletedObject).
_RETURN_DELETED = {("", "pods")}
# Kinds that carry metadata.generation.
_GENERATION_KINDS = {
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "Pod",
    "HorizontalPodAutoscaler",
    "Ingress",
    "NetworkPolicy",
    "PodDisruptionBudget",
    "CustomResourceDefinition",
    "Service",
    "ReplicationController",
}
_CA_DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
    "endpoints such as the internal service IP or kubernetes.default.svc."
)
_SPEC_FREE = ("metadata", "status", "apiVersion", "kind")


def _spec_part(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in _SPEC_FREE}


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    def strip(o: dict[str, Any]) -> dict[str, Any]:
        meta = {
            k: v for k, v in o["metadata"].items() if k not in ("resourceVersion", "managedFields")
        }
        return {**o, "metadata": meta}

    return strip(a) == strip(b)


class Operations:
    """Mixin holding the write paths of :class:`~.cluster.Cluster`."""

    # ------------------------------------------------------------ decoding

    def _decode(
        self, rt: ResourceType, obj: dict[str, Any], validation: str, warnings: list[str] | None
    ) -> None:
        if rt.custom:
            schema = crds.decode_schema(rt)
            if schema is None:
                return
            result = schemas.decode_with(obj, schema, rt.kind, prune=True)
            if result.type_errors:
                raise invalid(
                    rt.kind,
                    rt.group,
                    obj["metadata"].get("name", ""),
                    [
                        field_error(path, "Invalid", msg, value)
                        for path, msg, value in result.custom_errors
                    ],
                )
        elif rt.schema and rt.schema in schemas.definitions():
            result = schemas.decode(obj, rt.schema, prune=validation != "Strict")
            if result.type_errors:
                raise ApiError(
                    400,
                    f'{rt.kind} in version "{rt.version}" cannot be handled as '
                    f"a {rt.kind}: {result.type_errors[0]}",
                )
        else:
            return
        if result.unknown:
            if validation == "Strict":
                raise ApiError(
                    400,
                    "strict decoding error: "
                    + ", ".join(f'unknown field "{p}"' for p in result.unknown),
                )
            if validation != "Ignore" and warnings is not None:
                warnings.extend(f'unknown field "{p}"' for p in result.unknown)

    def _check_body(self, rt: ResourceType, obj: Any, namespace: str | None) -> dict[str, Any]:
        if not isinstance(obj, dict):
            raise ApiError(400, f"Object '{rt.kind}' is missing in '{json.dumps(obj)[:80]}'")
        meta = obj.get("metadata")
        if meta is None:
            meta = obj["metadata"] = {}
        if not isinstance(meta, dict):
            raise ApiError(
                400,
                f'{rt.kind} in version "{rt.version}" cannot be handled as a '
                f"{rt.kind}: json: cannot unmarshal into ObjectMeta",
            )
        kind = obj.get("kind")
        if kind and kind != rt.kind:
            raise ApiError(
                400, f"the object provided is unrecognized (must be of type {rt.kind}): {kind}"
            )
        api_version = obj.get("apiVersion")
        if api_version and api_version.rpartition("/")[0] != rt.group:
            raise ApiError(
                400,
                f"the API version in the data ({api_version}) does not match "
                f"the expected API version ({rt.group_version})",
            )
        if rt.namespaced:
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise ApiError(
                    400,
                    "the namespace of the provided object does not match the "
                    "namespace sent on the request",
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        obj["apiVersion"], obj["kind"] = rt.group_version, rt.kind
        return meta

    # ------------------------------------------------------------ create

    def create(
        self,
        rt: ResourceType,
        namespace: str | None,
        obj: dict[str, Any],
        *,
        dry_run: bool = False,
        manager: str | None = None,
        validation: str = "Warn",
        warnings: list[str] | None = None,
    ) -> dict[str, Any]:
        """Create ``obj``; returns the stored object (what the 201 response carries)."""
        meta = self._check_body(rt, obj, namespace)
        self._decode(rt, obj, validation, warnings)
        if rt.namespaced:
            self._check_namespace(rt, namespace, meta.get("name") or meta.get("generateName", ""))
        managed = meta.pop("managedFields", None)
        for key in _SYSTEM_META:
            meta.pop(key, None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + self.random_suffix()
        if rt.status_subresource and rt.key not in (("", "pods"), ("", "nodes")):
            obj.pop("status", None)
        if rt.key == ("", "pods"):
            obj.pop("status", None)
        meta["uid"] = self.new_uid()
        meta["creationTimestamp"] = now_iso()
        if rt.kind in _GENERATION_KINDS or rt.custom:
            meta["generation"] = 1
        if rt.kind == "Job" and not rt.custom:
            self._job_selector(obj)
        if not rt.custom:
            defaults.apply_defaults(rt.kind, obj, self)
        if rt.key == ("", "pods"):
            priority.admit_pod(self, obj)
        causes = (
            validate.validate(rt.kind, obj) if not rt.custom else validate.metadata(rt.kind, obj)
        )
        if rt.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            causes += crds.validate(obj)
        elif rt.key == (priority.GROUP, priority.PLURAL):
            causes += priority.validate(obj)
        if causes:
            raise invalid(rt.kind, rt.group, meta.get("name", ""), causes)
        if rt.key == (priority.GROUP, priority.PLURAL):
            priority.admit_class(self, obj)
        if rt.namespaced:
            quota.admit(self, rt, namespace or "", obj)
        if self.store.get(rt, namespace or "", meta["name"]) is not None:
            raise already_exists(rt.group, rt.plural, meta["name"])
        if managed is not None:
            meta["managedFields"] = managed
        elif manager:
            ssa.record_update(rt, obj, None, manager)
        if dry_run:
            return obj
        entry = self.store.write(rt, obj, None)
        self._after_create(rt, entry)
        return entry.obj

    def _check_namespace(self, rt: ResourceType, namespace: str | None, name: str) -> None:
        ns = self.store.get(self.rt("", "namespaces"), "", namespace or "")
        if ns is None:
            raise ApiError(
                404,
                f'namespaces "{namespace}" not found',
                details={"name": namespace, "kind": "namespaces"},
            )
        if (ns.obj.get("status") or {}).get("phase") == "Terminating":
            raise forbidden(
                rt.group,
                rt.plural,
                name,
                f"unable to create new content in namespace {namespace} because it "
                "is being terminated",
            )

    def _job_selector(self, obj: dict[str, Any]) -> None:
        spec = obj.setdefault("spec", {})
        if spec.get("manualSelector"):
            return
        uid, name = obj["metadata"]["uid"], obj["metadata"]["name"]
        generated = {"batch.kubernetes.io/controller-uid": uid}
        spec["selector"] = {"matchLabels": generated}
        labels = spec.setdefault("template", {}).setdefault("metadata", {}).setdefault("labels", {})
        labels.update(
            {
                "batch.kubernetes.io/controller-uid": uid,
                "controller-uid": uid,
                "batch.kubernetes.io/job-name": name,
                "job-name": name,
            }
        )

    def _after_create(self, rt: ResourceType, entry: Entry) -> None:
        if rt.key == ("", "namespaces"):
            name = entry.meta["name"]
            sa_rt, cm_rt = self.rt("", "serviceaccounts"), self.rt("", "configmaps")
            if self.store.get(sa_rt, name, "default") is None:
                self.create(sa_rt, name, {"metadata": {"name": "default"}})
            if self.store.get(cm_rt, name, "kube-root-ca.crt") is None:
                self.create(
                    cm_rt,
                    name,
                    {
                        "metadata": {
                            "name": "kube-root-ca.crt",
                            "annotations": {"kubernetes.io/description": _CA_DESCRIPTION},
                        },
                        "data": {"ca.crt": crds.FAKE_CA},
                    },
                )
        elif rt.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            crds.establish(self, entry)

    # ------------------------------------------------------------ update

    def update(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        body: Any,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        manager: str | None = None,
        validation: str = "Warn",
        warnings: list[str] | None = None,
    ) -> dict[str, Any]:
        entry = self.get_entry(rt, namespace, name)
        meta = self._check_body(rt, body, namespace)
        if meta.get("name") and meta["name"] != name:
            raise ApiError(
                400,
                f"the name of the object ({meta['name']}) does not match the "
                f"name on the URL ({name})",
            )
        meta["name"] = name
        if not meta.get("resourceVersion") and rt.custom:
            raise invalid(
                rt.kind,
                rt.group,
                name,
                [
                    field_error(
                        "metadata.resourceVersion",
                        "Invalid",
                        "must be specified for an update",
                        "0x0",
                    )
                ],
            )
        self._decode(rt, body, validation, warnings)
        return self._commit(
            rt,
            entry,
            self._merged(rt, entry.obj, body, subresource),
            subresource=subresource,
            dry_run=dry_run,
            manager=manager,
        )

    def _merged(
        self, rt: ResourceType, old: dict[str, Any], body: dict[str, Any], subresource: str | None
    ) -> dict[str, Any]:
        if subresource == "status":
            new = json.loads(json.dumps(old))
            if "status" in body:
                new["status"] = body["status"]
            else:
                new.pop("status", None)
            new["metadata"]["resourceVersion"] = body["metadata"].get(
                "resourceVersion", old["metadata"]["resourceVersion"]
            )
            return new
        new = body
        meta, old_meta = new["metadata"], old["metadata"]
        for key in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ):
            if key in old_meta:
                meta[key] = old_meta[key]
            else:
                meta.pop(key, None)
        if "managedFields" not in meta and "managedFields" in old_meta:
            meta["managedFields"] = old_meta["managedFields"]
        meta.setdefault("resourceVersion", old_meta["resourceVersion"])
        if rt.status_subresource:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        if rt.kind == "Service" and not rt.custom:
            spec, old_spec = new.setdefault("spec", {}), old.get("spec") or {}
            for key in ("clusterIP", "clusterIPs"):
                if not spec.get(key) and old_spec.get(key):
                    spec[key] = old_spec[key]
        if rt.kind == "Job" and not rt.custom:
            new.setdefault("spec", {}).setdefault(
                "selector", (old.get("spec") or {}).get("selector")
            )
        return new

    def _commit(
        self,
        rt: ResourceType,
        entry: Entry,
        new: dict[str, Any],
        *,
        subresource: str | None,
        dry_run: bool,
        manager: str | None,
    ) -> dict[str, Any]:
        old = entry.obj
        name = old["metadata"]["name"]
        if new["metadata"].get("resourceVersion") != old["metadata"]["resourceVersion"]:
            raise conflict(rt.group, rt.plural, name)
        if subresource is None and not rt.custom:
            defaults.apply_defaults(rt.kind, new, self)
        if subresource is None:
            causes = (
                validate.validate_update(rt.kind, new, old)
                if not rt.custom
                else validate.metadata(rt.kind, new)
            )
            if rt.key == (priority.GROUP, priority.PLURAL):
                causes += priority.validate(new, old)
            if causes:
                raise invalid(rt.kind, rt.group, name, causes)
            if "generation" in old["metadata"] and _spec_part(new) != _spec_part(old):
                new["metadata"]["generation"] = old["metadata"]["generation"] + 1
        if _same(new, old):
            return old
        if manager:
            ssa.record_update(rt, new, old, manager, subresource)
        if (
            new["metadata"].get("deletionTimestamp")
            and not new["metadata"].get("finalizers")
            and not new["metadata"].get("deletionGracePeriodSeconds")
        ):
            if dry_run:
                return new
            gone = self.store.remove(rt, entry)
            self._after_delete(rt, gone, "Background")
            return gone.obj
        if dry_run:
            return new
        stored = self.store.write(rt, new, entry)
        if rt.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            crds.establish(self, stored)
        return stored.obj

    # ------------------------------------------------------------ patch

    def patch(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        ptype: str,
        body: Any,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        manager: str | None = None,
        force: bool = False,
        validation: str = "Warn",
        warnings: list[str] | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Apply a patch; returns (object, created) — only apply patches can create."""
        if ptype == APPLY_PATCH:
            return self._apply(
                rt,
                namespace,
                name,
                body,
                manager=manager,
                force=force,
                dry_run=dry_run,
                validation=validation,
                warnings=warnings,
            )
        entry = self.get_entry(rt, namespace, name)
        current = self.scale_view(rt, entry.obj) if subresource == "scale" else entry.copy()
        if ptype == JSON_PATCH:
            patched = json_patch(current, body)
        elif ptype == MERGE_PATCH:
            if not isinstance(body, dict):
                raise ApiError(
                    400,
                    "json: cannot unmarshal array into Go value of type map[string]interface {}",
                )
            patched = merge_patch(current, body)
        elif ptype == STRATEGIC_PATCH:
            if rt.custom and subresource != "scale":
                raise ApiError(
                    415,
                    "strategic merge patch is not supported for custom "
                    "resources; use application/merge-patch+json or "
                    "application/json-patch+json instead",
                    reason="UnsupportedMediaType",
                )
            target = "io.k8s.api.autoscaling.v1.Scale" if subresource == "scale" else rt.schema
            patched = strategic_merge(current, body, {"$ref": "#/$defs/" + str(target)})
        else:
            raise _unsupported_patch(ptype)
        if not isinstance(patched, dict):
            raise ApiError(
                422,
                "the server rejected our request due to an error in our request",
                reason="Invalid",
            )
        if subresource == "scale":
            return self.write_scale(rt, entry, patched, dry_run=dry_run, manager=manager), False
        meta = self._check_body(rt, patched, namespace)
        if meta.get("name") != name:
            raise ApiError(
                400,
                f"the name of the object ({meta.get('name')}) does not match "
                f"the name on the URL ({name})",
            )
        self._decode(rt, patched, validation, warnings)
        new = self._merged(rt, entry.obj, patched, subresource)
        return self._commit(
            rt, entry, new, subresource=subresource, dry_run=dry_run, manager=manager
        ), False

    def _apply(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        body: Any,
        *,
        manager: str | None,
        force: bool,
        dry_run: bool,
        validation: str,
        warnings: list[str] | None,
    ) -> tuple[dict[str, Any], bool]:
        if not manager:
            raise ApiError(400, "fieldManager is required for apply requests")
        if not isinstance(body, dict) or not body.get("apiVersion") or not body.get("kind"):
            raise ApiError(400, "invalid object type: /, Kind=")
        meta = self._check_body(rt, body, namespace)
        if meta.get("name") and meta["name"] != name:
            raise ApiError(
                400,
                f"the name of the object ({meta['name']}) does not match the "
                f"name on the URL ({name})",
            )
        meta["name"] = name
        self._decode(rt, body, validation, warnings)
        entry = self.store.get(rt, namespace or "", name)
        if entry is None:
            obj = ssa.apply(rt, None, body, manager, force)
            obj["apiVersion"], obj["kind"] = rt.group_version, rt.kind
            obj["metadata"]["name"] = name
            return self.create(rt, namespace, obj, dry_run=dry_run, validation=validation), True
        if meta.get("resourceVersion") and meta["resourceVersion"] != entry.meta["resourceVersion"]:
            raise conflict(rt.group, rt.plural, name)
        body["metadata"].pop("resourceVersion", None)
        result = ssa.apply(rt, entry.copy(), body, manager, force)
        new = self._merged(rt, entry.obj, result, None)
        return self._commit(rt, entry, new, subresource=None, dry_run=dry_run, manager=None), False

    # ------------------------------------------------------------ scale

    def scale_view(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        if "scale" not in rt.subresources:
            raise ApiError(404, "the server could not find the requested resource")
        spec_path, status_path, selector_path = crds.scale_paths(rt)
        meta = obj["metadata"]
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: meta[k]
                for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                if k in meta
            },
            "spec": {"replicas": _dig(obj, spec_path) or 0},
            "status": {
                "replicas": _dig(obj, status_path) or 0,
                "selector": _selector_text(rt, obj, selector_path),
            },
        }

    def write_scale(
        self,
        rt: ResourceType,
        entry: Entry,
        scale: Any,
        *,
        dry_run: bool = False,
        manager: str | None = None,
    ) -> dict[str, Any]:
        if not isinstance(scale, dict):
            raise ApiError(400, 'Scale in version "v1" cannot be handled as a Scale')
        name = entry.meta["name"]
        rv = (scale.get("metadata") or {}).get("resourceVersion")
        if rv and rv != entry.meta["resourceVersion"]:
            raise conflict(rt.group, rt.plural, name)
        replicas = (scale.get("spec") or {}).get("replicas", 0)
        if not isinstance(replicas, int) or replicas < 0:
            raise invalid(
                "Scale",
                "autoscaling",
                name,
                [
                    field_error(
                        "spec.replicas", "Invalid", "must be greater than or equal to 0", replicas
                    )
                ],
            )
        new = entry.copy()
        spec_path = crds.scale_paths(rt)[0]
        node = new
        for part in spec_path[:-1]:
            node = node.setdefault(part, {})
        node[spec_path[-1]] = replicas
        stored = self._commit(rt, entry, new, subresource=None, dry_run=dry_run, manager=manager)
        return self.scale_view(rt, stored)

    # ------------------------------------------------------------ delete

    def delete(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        *,
        propagation: str | None = None,
        preconditions: dict[str, Any] | None = None,
        dry_run: bool = False,
        grace: int | None = None,
    ) -> dict[str, Any]:
        """Delete; returns the response body (the object for pods, else a Status).

        Pods are deleted gracefully (see :mod:`.graceful`): ``grace`` (DeleteOptions
        ``gracePeriodSeconds``) or the pod's ``terminationGracePeriodSeconds``."""
        entry = self.get_entry(rt, namespace, name)
        meta = entry.meta
        for key in ("uid", "resourceVersion"):
            want = (preconditions or {}).get(key)
            if want and want != meta.get(key):
                label = "UID" if key == "uid" else "ResourceVersion"
                raise conflict(
                    rt.group,
                    rt.plural,
                    name,
                    f"Precondition failed: {label} in precondition: {want}, "
                    f"{label} in object meta: {meta.get(key)}",
                )
        if rt.key == ("", "namespaces"):
            return self._terminate_namespace(rt, entry, dry_run)
        if dry_run:
            return self._deleted_body(rt, entry.obj)
        if rt.key == ("", "pods"):
            period = graceful.period(self, entry.obj, grace)
            if meta.get("deletionTimestamp"):
                return graceful.shorten(self, rt, entry, period)
            if period > 0:
                return graceful.begin(self, rt, entry, period)
        if meta.get("deletionTimestamp"):
            return entry.obj
        if (
            meta.get("finalizers")
            or propagation == "Foreground"
            and self.store.dependents.get(meta["uid"])
        ):
            obj = entry.copy()
            obj["metadata"]["deletionTimestamp"] = now_iso()
            obj["metadata"]["deletionGracePeriodSeconds"] = 0
            if propagation == "Foreground" and not meta.get("finalizers"):
                obj["metadata"]["finalizers"] = ["foregroundDeletion"]
                stored = self.store.write(rt, obj, entry)
                self._collect(meta["uid"], "Foreground")
                self.loop.call_soon(self._finish_foreground, rt, namespace, name)
                return stored.obj
            return self.store.write(rt, obj, entry).obj
        gone = self.store.remove(rt, entry)
        self._after_delete(rt, gone, propagation or "Background")
        return self._deleted_body(rt, gone.obj)

    def _finish_foreground(self, rt: ResourceType, namespace: str | None, name: str) -> None:
        entry = self.store.get(rt, namespace or "", name)
        if entry is None:
            return
        if self.store.dependents.get(entry.meta["uid"]):
            self.loop.call_later(0.01, self._finish_foreground, rt, namespace, name)
            return
        obj = entry.copy()
        obj["metadata"]["finalizers"] = [
            f for f in obj["metadata"].get("finalizers", []) if f != "foregroundDeletion"
        ]
        entry = self.store.write(rt, obj, entry)
        if not obj["metadata"]["finalizers"]:
            self.store.remove(rt, entry)

    def _deleted_body(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        if rt.key in _RETURN_DELETED:
            return obj
        details = {
            "name": obj["metadata"]["name"],
            "kind": rt.plural,
            "uid": obj["metadata"].get("uid"),
        }
        if rt.group:
            details["group"] = rt.group
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": details,
        }

    def _after_delete(self, rt: ResourceType, gone: Entry, propagation: str) -> None:
        uid = gone.meta.get("uid")
        if uid and uid in self.store.dependents:
            if propagation == "Orphan":
                self._orphan(uid)
            else:
                self.loop.call_soon(self._collect, uid, propagation)
        if rt.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            crds.remove(self, gone)
        elif rt.key == ("", "pods"):
            self.forget_pod(gone.meta.get("namespace", ""), gone.meta["name"])

    def forget_pod(self, namespace: str, name: str) -> None:
        """Drop a deleted pod's logs and container filesystems."""
        self.logs.forget(namespace, name)
        for key in [k for k in self.shell_fs if k[0] == namespace and k[1] == name]:
            del self.shell_fs[key]

    def _collect(self, uid: str, propagation: str) -> None:
        for group, plural, ns, name in sorted(self.store.dependents.get(uid, ())):
            rt = self.registry.by_plural(group, plural)
            if rt is None or self.store.get(rt, ns, name) is None:
                continue
            self.delete(rt, ns or None, name, propagation=propagation)

    def _orphan(self, uid: str) -> None:
        for group, plural, ns, name in sorted(self.store.dependents.get(uid, ())):
            rt = self.registry.by_plural(group, plural)
            entry = self.store.get(rt, ns, name) if rt else None
            if rt is None or entry is None:
                continue
            obj = entry.copy()
            obj["metadata"]["ownerReferences"] = [
                r for r in obj["metadata"].get("ownerReferences", []) if r.get("uid") != uid
            ]
            if not obj["metadata"]["ownerReferences"]:
                del obj["metadata"]["ownerReferences"]
            self.store.write(rt, obj, entry)

    def _terminate_namespace(self, rt: ResourceType, entry: Entry, dry_run: bool) -> dict[str, Any]:
        obj = entry.copy()
        if dry_run or obj["metadata"].get("deletionTimestamp"):
            return obj
        obj["metadata"]["deletionTimestamp"] = now_iso()
        obj["metadata"]["deletionGracePeriodSeconds"] = 0
        obj.setdefault("status", {})["phase"] = "Terminating"
        stored = self.store.write(rt, obj, entry)
        self.loop.call_soon(self._purge_namespace, obj["metadata"]["name"])
        return stored.obj

    def _purge_namespace(self, namespace: str) -> None:
        """The namespace controller: delete everything inside, then the namespace itself."""
        for ks in list(self.store.kinds.values()):
            if not ks.rt.namespaced:
                continue
            for entry in list(ks.by_ns.get(namespace, {}).values()):
                current = ks.get(namespace, entry.meta["name"])
                if current is not None:
                    gone = self.store.remove(ks.rt, current)
                    if ks.rt.key == ("", "pods"):
                        self.forget_pod(namespace, gone.meta["name"])
        ns_rt = self.rt("", "namespaces")
        entry = self.store.get(ns_rt, "", namespace)
        if entry is None:
            return
        if entry.meta.get("finalizers"):
            # Content is gone; the namespace waits for its metadata finalizers to be removed.
            obj = entry.copy()
            obj["spec"]["finalizers"] = []
            self.store.write(ns_rt, obj, entry)
            return
        self.store.remove(ns_rt, entry)

    def delete_collection(
        self,
        rt: ResourceType,
        namespace: str | None,
        labels: Any,
        fields: Any,
        *,
        propagation: str | None = None,
        dry_run: bool = False,
        grace: int | None = None,
    ) -> dict[str, Any]:
        entries, _, _ = self.list_entries(rt, namespace, labels, fields)
        items = []
        for entry in entries:
            if self.store.get(rt, namespace or "", entry.meta["name"]) is None:
                continue
            self.delete(
                rt,
                entry.meta.get("namespace"),
                entry.meta["name"],
                propagation=propagation,
                dry_run=dry_run,
                grace=grace,
            )
            items.append(entry.obj)
        return {
            "kind": rt.list_kind,
            "apiVersion": rt.group_version,
            "metadata": {"resourceVersion": str(self.store.rv)},
            "items": items,
        }

    # ------------------------------------------------------------ binding & eviction

    def bind(self, namespace: str, name: str, body: Any) -> dict[str, Any]:
        """``pods/binding``: assign a pod to a node, as a scheduler does."""
        pod_rt = self.rt("", "pods")
        entry = self.get_entry(pod_rt, namespace, name)
        target = ((body or {}).get("target") or {}).get("name")
        if not target:
            raise invalid("Binding", "", name, [field_error("target.name", "Required", "")])
        if entry.obj["spec"].get("nodeName"):
            raise conflict(
                "",
                "pods",
                name,
                f'pod {name} is already assigned to node "{entry.obj["spec"]["nodeName"]}"',
            )
        obj = entry.copy()
        obj["spec"]["nodeName"] = target
        self.store.write(pod_rt, obj, entry)
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "code": 201,
        }

    def evict(
        self, namespace: str, name: str, body: dict[str, Any], dry_run: bool = False
    ) -> dict[str, Any]:
        pod_rt = self.rt("", "pods")
        pod = self.get_entry(pod_rt, namespace, name).obj
        pdb_rt = self.rt("policy", "poddisruptionbudgets")
        phase = (pod.get("status") or {}).get("phase")
        if phase not in ("Succeeded", "Failed"):
            for pdb in self.store.kind(pdb_rt).iter_sorted(namespace):
                spec = pdb.obj.get("spec") or {}
                if not from_label_selector_object(spec.get("selector")).matches(
                    pod["metadata"].get("labels")
                ):
                    continue
                allowed, healthy, desired = self.disruptions_allowed(pdb.obj)
                if allowed < 1:
                    raise ApiError(
                        429,
                        "Cannot evict pod as it would violate the pod's disruption budget.",
                        reason="TooManyRequests",
                        details={
                            "causes": [
                                {
                                    "reason": "DisruptionBudget",
                                    "message": f"The disruption budget "
                                    f"{pdb.meta['name']} needs {desired} healthy pods "
                                    f"and has {healthy} currently",
                                }
                            ]
                        },
                    )
        options = (body or {}).get("deleteOptions") or {}
        grace = options.get("gracePeriodSeconds")
        self.delete(
            pod_rt,
            namespace,
            name,
            preconditions=options.get("preconditions"),
            dry_run=dry_run,
            grace=int(grace) if isinstance(grace, int) else None,
        )
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "code": 201,
        }

    def disruptions_allowed(self, pdb: dict[str, Any]) -> tuple[int, int, int]:
        """(disruptionsAllowed, currentHealthy, desiredHealthy) of a PodDisruptionBudget."""
        spec = pdb.get("spec") or {}
        selector = from_label_selector_object(spec.get("selector"))
        pods = [
            e.obj
            for e in self.store.kind(self.rt("", "pods")).iter_sorted(pdb["metadata"]["namespace"])
            if selector.matches(e.meta.get("labels"))
        ]
        healthy = sum(
            1
            for p in pods
            if any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (p.get("status") or {}).get("conditions") or []
            )
        )
        total = len(pods)
        if "minAvailable" in spec:
            desired = _int_or_percent(spec["minAvailable"], total, round_up=True)
        elif "maxUnavailable" in spec:
            desired = total - _int_or_percent(spec["maxUnavailable"], total, round_up=True)
        else:
            desired = total
        return max(healthy - desired, 0), healthy, desired


def _int_or_percent(value: Any, total: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        raw = int(value[:-1]) * total
        return -(-raw // 100) if round_up else raw // 100
    return int(value)


def _dig(obj: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = obj
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _selector_text(rt: ResourceType, obj: dict[str, Any], path: tuple[str, ...] | None) -> str:
    if path is None:
        return ""
    value = _dig(obj, path)
    if isinstance(value, dict):
        return selector_to_string(value)
    return value or ""


def _unsupported_patch(ptype: str) -> ApiError:
    return ApiError(
        415,
        f"the body of the request was in an unknown format - accepted media types include: "
        f"{JSON_PATCH}, {MERGE_PATCH}, {APPLY_PATCH}, {STRATEGIC_PATCH}",
        reason="UnsupportedMediaType",
    )
