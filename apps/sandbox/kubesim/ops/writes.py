"""Create and update, in the API server's order: decode (400 on wrong types or, with
``fieldValidation=Strict``, unknown fields) → defaulting → admission that mutates (priority) →
validation (422) → admission (namespace lifecycle, ResourceQuota: 403) → storage (409
AlreadyExists / Conflict); namespaces' default ServiceAccount and CA ConfigMap, CRD
establishment.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .. import apply as ssa
from .. import (
    crds,
    defaults,
    fieldcheck,
    limitranger,
    podsecurity,
    priority,
    quota,
    schemas,
    validate,
)
from ..clock import now_iso
from ..errors import ApiError, already_exists, conflict, field_error, forbidden, invalid

if TYPE_CHECKING:
    from ..resources import ResourceType
    from ..store import Entry

_SYSTEM_META = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "selfLink",
)
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


class Writes:
    """Create, update and the shared commit path (mixin of :class:`~..cluster.Cluster`)."""

    # ------------------------------------------------------------ decoding

    def _decode(
        self,
        rt: ResourceType,
        obj: dict[str, Any],
        validation: str,
        warnings: list[str] | None,
        patch: Any = None,
    ) -> None:
        """Schema decoding: type errors are 400; unknown fields are refused (Strict; 422 for
        a ``patch``), become warnings (Warn) or are dropped (Ignore)."""
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
            problems = fieldcheck.unknown(result.unknown)
            if validation == "Strict":
                if patch is not None:
                    raise fieldcheck.strict_patch_error(patch, problems)
                raise fieldcheck.strict_error(rt.kind, rt.version, problems)
            if validation != "Ignore" and warnings is not None:
                warnings.extend(problems)

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
            limitranger.admit_pod(self, namespace or "", obj)
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
            podsecurity.admit(self, rt, namespace or "", obj, warnings)
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
        if rt.key == ("", "pods") and subresource in (None, "ephemeralcontainers"):
            podsecurity.admit(self, rt, old["metadata"].get("namespace", ""), new, None, old=old)
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
            if rt.key == (priority.GROUP, priority.PLURAL):
                priority.admit_class(self, new)
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
