"""The three patch formats of ``PATCH``: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and
Kubernetes strategic merge patch, the latter driven by the type schemas' merge keys and
directives (``$patch``, ``$retainKeys``, ``$setElementOrder/…``, ``$deleteFromPrimitiveList/…``)
exactly as ``kubectl apply`` / ``kubectl patch`` produce them.

All functions work on deep copies the caller owns and return the patched document.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from . import schemas
from .errors import ApiError


class PatchError(ValueError):
    """A patch that parses but cannot be applied to the object (422 from the API server)."""


def invalid_patch(message: str) -> ApiError:
    """The API server's answer for a patch that cannot be applied (a generic 422)."""
    return ApiError(
        422,
        "the server rejected our request due to an error in our request",
        reason="Invalid",
        details={"causes": [{"reason": "UnexpectedServerResponse", "message": message}]},
    )


# ---------------------------------------------------------------- JSON patch


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f'JSON pointer "{path}" must start with "/"')
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, parts: list[str]) -> Any:
    node = doc
    for part in parts:
        if isinstance(node, dict):
            if part not in node:
                raise PatchError(f"doc is missing path: /{'/'.join(parts)}: missing value")
            node = node[part]
        elif isinstance(node, list):
            try:
                node = node[int(part)]
            except (ValueError, IndexError) as exc:
                raise PatchError(f"unable to access invalid index: {part}: invalid index") from exc
        else:
            raise PatchError(f"doc is missing path: /{'/'.join(parts)}: missing value")
    return node


def _add(doc: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return value
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            try:
                index = int(last)
            except ValueError as exc:
                raise PatchError(f"invalid index: {last}") from exc
            if index < 0 or index > len(parent):
                raise PatchError(f"Unable to access invalid index: {index}: invalid index")
            parent.insert(index, value)
    else:
        raise PatchError(f"doc is missing path: /{'/'.join(parts)}: missing value")
    return doc


def _remove(doc: Any, parts: list[str]) -> Any:
    if not parts:
        raise PatchError("unable to remove the whole document")
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"unable to remove nonexistent key: {last}: missing value")
        return parent.pop(last)
    if isinstance(parent, list):
        try:
            return parent.pop(int(last))
        except (ValueError, IndexError) as exc:
            raise PatchError(f"Unable to remove invalid index: {last}: invalid index") from exc
    raise PatchError(f"doc is missing path: /{'/'.join(parts)}: missing value")


def json_patch(doc: Any, ops: Any) -> Any:
    """Apply an RFC 6902 operation list."""
    if not isinstance(ops, list):
        raise ApiError(400, "json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    for op in ops:
        if not isinstance(op, dict) or "op" not in op:
            raise ApiError(400, "Unexpected kind: <nil>")
        kind = op["op"]
        try:
            parts = _pointer(op.get("path", ""))
            if kind == "add":
                doc = _add(doc, parts, copy.deepcopy(op.get("value")))
            elif kind == "remove":
                _remove(doc, parts)
            elif kind == "replace":
                if not parts:
                    doc = copy.deepcopy(op.get("value"))
                    continue
                parent = _walk(doc, parts[:-1])
                if isinstance(parent, dict) and parts[-1] not in parent:
                    raise PatchError(
                        f"replace operation does not apply: doc is missing key: "
                        f"{op['path']}: missing value"
                    )
                _remove(doc, parts)
                doc = _add(doc, parts, copy.deepcopy(op.get("value")))
            elif kind in ("move", "copy"):
                src = _pointer(op.get("from", ""))
                value = _walk(doc, src)
                if kind == "move":
                    _remove(doc, src)
                doc = _add(doc, parts, copy.deepcopy(value))
            elif kind == "test":
                if _walk(doc, parts) != op.get("value"):
                    raise PatchError(f"testing value {op['path']} failed: test failed")
            else:
                raise ApiError(400, f"Unexpected kind: {kind}")
        except PatchError as exc:
            raise invalid_patch(str(exc)) from exc
    return doc


# ---------------------------------------------------------------- merge patch


def merge_patch(doc: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(doc, dict):
        doc = {}
    for key, value in patch.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = merge_patch(doc.get(key), value)
    return doc


# ---------------------------------------------------------------- strategic merge patch

_DIRECTIVE_PREFIXES = ("$setElementOrder/", "$deleteFromPrimitiveList/")


def strip_directives(value: Any) -> Any:
    """A patch value with ``$patch``/``$retainKeys``/… removed (for a plain replace)."""
    if isinstance(value, dict):
        return {
            k: strip_directives(v)
            for k, v in value.items()
            if not k.startswith("$") and v is not None
        }
    if isinstance(value, list):
        return [
            strip_directives(v)
            for v in value
            if not (isinstance(v, dict) and v.get("$patch") == "delete")
        ]
    return value


def strategic_merge(
    original: dict[str, Any], patch: dict[str, Any], schema: dict[str, Any] | None
) -> dict[str, Any] | None:
    """Apply a strategic merge patch to a map; returns None when ``$patch: delete``."""
    if not isinstance(patch, dict):
        raise invalid_patch("strategic merge patch must be a JSON object")
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    if directive == "replace":
        return strip_directives(patch)
    if directive not in (None, "merge"):
        raise invalid_patch(f"Unknown patch type: {directive} in map: {json.dumps(patch)}")
    result = original if isinstance(original, dict) else {}
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list):
                drop = list(value or [])
                result[field] = [v for v in result[field] if v not in drop]
            continue
        if value is None:
            result.pop(key, None)
            continue
        child = schemas.field_schema(schema, key)
        current = result.get(key)
        if isinstance(value, dict):
            if isinstance(current, dict) and not _atomic_map(child):
                merged = strategic_merge(current, value, child)
                if merged is None:
                    result.pop(key, None)
                else:
                    result[key] = merged
            else:
                merged = strategic_merge({}, value, child)
                if merged is None:
                    result.pop(key, None)
                else:
                    result[key] = merged
        elif isinstance(value, list):
            strategy, merge_key, _ = schemas.list_meta(child)
            if "merge" in strategy.split(","):
                result[key] = _merge_list(
                    current if isinstance(current, list) else [],
                    value,
                    merge_key,
                    schemas.items_schema(child),
                )
            else:
                result[key] = _replace_list(value)
        else:
            result[key] = value
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        for key in list(result):
            if key not in retain:
                del result[key]
    for field, order in orders.items():
        if isinstance(result.get(field), list):
            strategy, merge_key, _ = schemas.list_meta(schemas.field_schema(schema, field))
            result[field] = _reorder(result[field], order, merge_key)
    return result


def _atomic_map(node: dict[str, Any] | None) -> bool:
    node = schemas.resolve(node) if node else None
    return bool(node and node.get("x-kubernetes-map-type") == "atomic")


def _replace_list(value: list[Any]) -> list[Any]:
    if value and isinstance(value[0], dict) and value[0].get("$patch") == "replace":
        value = value[1:]
    return strip_directives(value)


def _merge_list(
    current: list[Any], patch: list[Any], merge_key: str | None, item_schema: dict[str, Any] | None
) -> list[Any]:
    if any(isinstance(v, dict) and v.get("$patch") == "replace" for v in patch):
        return strip_directives(
            [v for v in patch if not (isinstance(v, dict) and v.get("$patch") == "replace")]
        )
    if merge_key is None:
        # Merge of a primitive list: union, keeping the original order.
        out = list(current)
        for value in patch:
            if value not in out:
                out.append(value)
        return out
    out = list(current)
    for item in patch:
        if not isinstance(item, dict):
            raise invalid_patch(f"merging an object in a list but found {type(item).__name__}")
        key_value = item.get(merge_key)
        index = next(
            (i for i, v in enumerate(out) if isinstance(v, dict) and v.get(merge_key) == key_value),
            None,
        )
        if item.get("$patch") == "delete":
            if index is not None:
                out.pop(index)
            continue
        if index is None:
            out.append(strip_directives(item))
        else:
            merged = strategic_merge(out[index], item, item_schema)
            if merged is None:
                out.pop(index)
            else:
                out[index] = merged
    return out


def _reorder(values: list[Any], order: list[Any], merge_key: str | None) -> list[Any]:
    def ident(v: Any) -> Any:
        if merge_key and isinstance(v, dict):
            return json.dumps(v.get(merge_key))
        return json.dumps(v, sort_keys=True)

    rank = {ident(v): i for i, v in enumerate(order)}
    ranked = [v for v in values if ident(v) in rank]
    ranked.sort(key=lambda v: rank[ident(v)])
    rest = [v for v in values if ident(v) not in rank]
    return ranked + rest
