"""PATCH: JSON patch, merge patch, strategic merge patch (built-in kinds and the scale
subresource) and server-side apply (``application/apply-patch+yaml``), all committed through
the update path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import apply as ssa
from ..errors import ApiError, conflict
from ..patch import json_patch, merge_patch, strategic_merge

if TYPE_CHECKING:
    from ..resources import ResourceType

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


class Patches:
    """PATCH and server-side apply (mixin of :class:`~..cluster.Cluster`)."""

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
        if ptype == STRATEGIC_PATCH and rt.custom and subresource != "scale":
            raise ApiError(
                415,
                "strategic merge patch is not supported for custom "
                "resources; use application/merge-patch+json or "
                "application/json-patch+json instead",
                reason="UnsupportedMediaType",
            )
        target = "io.k8s.api.autoscaling.v1.Scale" if subresource == "scale" else rt.schema
        patched = apply_patch_document(ptype, current, body, target)
        if subresource == "scale":
            return self.write_scale(rt, entry, patched, dry_run=dry_run, manager=manager), False
        meta = self._check_body(rt, patched, namespace)
        if meta.get("name") != name:
            raise ApiError(
                400,
                f"the name of the object ({meta.get('name')}) does not match "
                f"the name on the URL ({name})",
            )
        self._decode(rt, patched, validation, warnings, patch=body)
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


def _unsupported_patch(ptype: str) -> ApiError:
    return ApiError(
        415,
        f"the body of the request was in an unknown format - accepted media types include: "
        f"{JSON_PATCH}, {MERGE_PATCH}, {APPLY_PATCH}, {STRATEGIC_PATCH}",
        reason="UnsupportedMediaType",
    )


def apply_patch_document(ptype: str, current: dict[str, Any], body: Any, schema: Any) -> dict:
    """``current`` patched by ``body`` of type ``ptype`` (strategic merge by ``schema``'s merge
    keys); a patch that yields no object is a 422, an unknown type a 415."""
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
        patched = strategic_merge(current, body, {"$ref": "#/$defs/" + str(schema)})
    else:
        raise _unsupported_patch(ptype)
    if not isinstance(patched, dict):
        raise ApiError(
            422,
            "the server rejected our request due to an error in our request",
            reason="Invalid",
        )
    return patched
