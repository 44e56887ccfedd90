"""Server-side apply (``PATCH`` with ``application/apply-patch+yaml``) and field ownership.

Each write records, per field manager, the fields it owns in ``metadata.managedFields``. Apply
merges the applied configuration into the live object, removes fields the manager applied
before but no longer does (unless someone else owns them), and refuses to change a field another
manager owns unless ``force=true`` — the conflict message has the API server's shape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import fieldset
from .clock import now_iso
from .errors import ApiError
from .patch import merge_patch, strategic_merge

if TYPE_CHECKING:
    from .resources import ResourceType

Managers = list[dict[str, Any]]


def _schema(rt: ResourceType) -> dict[str, Any] | None:
    if rt.custom:
        return None
    return {"$ref": "#/$defs/" + rt.schema} if rt.schema else None


def _sets(obj: dict[str, Any]) -> list[tuple[dict[str, Any], set[fieldset.Path]]]:
    return [
        (m, fieldset.from_v1(m.get("fieldsV1") or {}))
        for m in obj["metadata"].get("managedFields") or []
    ]


def _store(obj: dict[str, Any], entries: list[tuple[dict[str, Any], set[fieldset.Path]]]) -> None:
    out = []
    for meta, paths in entries:
        if not paths:
            continue
        meta = dict(meta)
        meta["fieldsV1"] = fieldset.to_v1(paths)
        out.append(meta)
    if out:
        obj["metadata"]["managedFields"] = out
    else:
        obj["metadata"].pop("managedFields", None)


def record_update(
    rt: ResourceType,
    new: dict[str, Any],
    old: dict[str, Any] | None,
    manager: str,
    subresource: str | None = None,
) -> None:
    """Give ``manager`` (operation Update) the fields this write set or changed."""
    schema = _schema(rt)
    new_paths = _scoped(fieldset.paths(new, schema), subresource)
    if old is None:
        changed = new_paths
        entries: list[tuple[dict[str, Any], set[fieldset.Path]]] = []
    else:
        old_paths = _scoped(fieldset.paths(old, schema), subresource)
        changed = {
            p
            for p in new_paths
            if p not in old_paths or fieldset.lookup(new, p) != fieldset.lookup(old, p)
        }
        gone = old_paths - new_paths
        entries = [(m, s - changed - gone) for m, s in _sets(new)]
    if not changed and old is not None:
        _store(new, entries)
        return
    key = (manager, "Update", subresource)
    mine = next(
        (s for m, s in entries if (m["manager"], m["operation"], m.get("subresource")) == key), None
    )
    if mine is None:
        meta = {
            "manager": manager,
            "operation": "Update",
            "apiVersion": rt.group_version,
            "time": now_iso(),
            "fieldsType": "FieldsV1",
        }
        if subresource:
            meta["subresource"] = subresource
        entries.append((meta, set(changed)))
    else:
        mine |= changed
        for m, s in entries:
            if s is mine:
                m["time"] = now_iso()
    _store(new, entries)


def _scoped(paths: set[fieldset.Path], subresource: str | None) -> set[fieldset.Path]:
    if subresource == "status":
        return {p for p in paths if p[:1] == ("f:status",)}
    return {p for p in paths if p[:1] != ("f:status",)}


def apply(
    rt: ResourceType,
    live: dict[str, Any] | None,
    applied: dict[str, Any],
    manager: str,
    force: bool,
) -> dict[str, Any]:
    """The object after ``manager`` applies ``applied`` to ``live`` (None: create)."""
    schema = _schema(rt)
    applied_paths = {p for p in fieldset.paths(applied, schema) if p[:1] != ("f:status",)}
    result: dict[str, Any] = live if live is not None else {"metadata": {}}
    entries = _sets(result)
    key = (manager, "Apply")
    mine = next((s for m, s in entries if (m["manager"], m["operation"]) == key), set())
    conflicts: list[tuple[str, str]] = []
    for meta, owned in entries:
        if (meta["manager"], meta["operation"]) == key:
            continue
        for path in sorted(applied_paths & owned):
            if path[-1] == ".":
                continue
            if fieldset.lookup(applied, path) != fieldset.lookup(result, path):
                conflicts.append((meta["manager"], path))
                if force:
                    owned.discard(path)
    if conflicts and not force:
        raise _conflict(rt, conflicts, entries)
    # Fields this manager applied before and dropped now, and nobody else owns, go away.
    others = (
        set().union(*(s for m, s in entries if (m["manager"], m["operation"]) != key))
        if entries
        else set()
    )
    for path in sorted(mine - applied_paths - others, key=len, reverse=True):
        fieldset.remove(result, path)
        fieldset.prune_empty(result, path)
    body = {k: v for k, v in applied.items() if k not in ("apiVersion", "kind")}
    meta_in = body.pop("metadata", {}) or {}
    for field in ("labels", "annotations"):
        if field in meta_in:
            current = result["metadata"].get(field) or {}
            current.update(meta_in[field] or {})
            result["metadata"][field] = current
    for field in ("finalizers", "ownerReferences"):
        if field in meta_in:
            result["metadata"][field] = meta_in[field]
    if schema is not None:
        merged = strategic_merge(result, body, schema)
        assert merged is not None
        result = merged
    else:
        result = merge_patch(result, body)
    entries = [(m, s) for m, s in entries if (m["manager"], m["operation"]) != key]
    entries.append(
        (
            {
                "manager": manager,
                "operation": "Apply",
                "apiVersion": rt.group_version,
                "time": now_iso(),
                "fieldsType": "FieldsV1",
            },
            applied_paths,
        )
    )
    _store(result, entries)
    return result


def _render(path: fieldset.Path) -> str:
    out = ""
    for part in path:
        kind, _, rest = part.partition(":")
        out += f".{rest}" if kind == "f" else f"[{rest}]"
    return out


def _conflict(
    rt: ResourceType,
    conflicts: list[tuple[str, str]],
    entries: list[tuple[dict[str, Any], set[fieldset.Path]]],
) -> ApiError:
    versions = {m["manager"]: m.get("apiVersion", rt.group_version) for m, _ in entries}
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f'conflict with "{mgr}" using {versions.get(mgr)}',
            "field": _render(path),
        }
        for mgr, path in conflicts
    ]
    if len(conflicts) == 1:
        mgr, path = conflicts[0]
        message = (
            f'Apply failed with 1 conflict: conflict with "{mgr}" using '
            f"{versions.get(mgr)}: {_render(path)}"
        )
    else:
        lines = "\n".join(f"- {c['message']}: {c['field']}" for c in causes)
        message = f"Apply failed with {len(conflicts)} conflicts: {lines}"
    return ApiError(409, message, reason="Conflict", details={"causes": causes})


def schema_for(rt: ResourceType) -> dict[str, Any] | None:
    """The schema node used for strategic merge of ``rt`` (None for custom resources)."""
    return _schema(rt)
