"""Field sets for ``metadata.managedFields`` (the ``FieldsV1`` format) and field ownership.

A field set is a set of paths; a path is a tuple of ``f:<field>``, ``k:<json keys>`` (an item
of a list-map, identified by its key fields) or ``v:<json value>`` (a member of a set) elements,
with ``.`` marking that a list item itself is owned.
"""

from __future__ import annotations

import json
from typing import Any

from . import schemas

Path = tuple[str, ...]

# Metadata the API server manages itself; never part of anyone's field set.
SYSTEM_META = {
    "managedFields",
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "name",
    "namespace",
}


def _list_keys(prop: dict[str, Any] | None, items: list[Any]) -> list[str] | None:
    strategy, merge_key, map_keys = schemas.list_meta(prop)
    if map_keys:
        return map_keys
    if merge_key:
        return [merge_key]
    if items and all(isinstance(i, dict) and "name" in i for i in items) and prop is None:
        return ["name"]
    return None


def _is_set(prop: dict[str, Any] | None) -> bool:
    return bool(prop) and prop.get("x-kubernetes-list-type") == "set"


def item_key(item: dict[str, Any], keys: list[str]) -> str:
    return "k:" + json.dumps({k: item.get(k) for k in keys if k in item}, separators=(",", ":"))


def paths(
    value: Any, schema: dict[str, Any] | None, prefix: Path = (), top: bool = True
) -> set[Path]:
    """Every leaf path of ``value`` (lists of maps by key, sets by value)."""
    out: set[Path] = set()
    if isinstance(value, dict):
        if not value and prefix:
            out.add(prefix)
        for key, child in value.items():
            if top and key in ("apiVersion", "kind"):
                continue
            if top and key == "metadata" and isinstance(child, dict):
                child = {k: v for k, v in child.items() if k not in SYSTEM_META}
                if not child:
                    continue
            out |= paths(child, schemas.field_schema(schema, key), prefix + (f"f:{key}",), False)
    elif isinstance(value, list):
        keys = _list_keys(schema, value)
        item_schema = schemas.items_schema(schema)
        if keys and all(isinstance(i, dict) for i in value):
            for item in value:
                elt = prefix + (item_key(item, keys),)
                out.add(elt + (".",))
                out |= paths(item, item_schema, elt, False)
        elif _is_set(schema):
            for item in value:
                out.add(prefix + ("v:" + json.dumps(item, separators=(",", ":")),))
        elif prefix:
            out.add(prefix)
    elif prefix:
        out.add(prefix)
    return out


def to_v1(field_paths: set[Path]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for path in sorted(field_paths):
        node = root
        for part in path:
            node = node.setdefault(part, {})
    return root


def from_v1(tree: dict[str, Any], prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for key, child in tree.items():
        if isinstance(child, dict) and child:
            out |= from_v1(child, prefix + (key,))
        else:
            out.add(prefix + (key,))
    return out


def lookup(obj: Any, path: Path) -> tuple[bool, Any]:
    """``(found, value)`` of ``path`` in ``obj``."""
    node = obj
    for part in path:
        if part == ".":
            return True, node
        kind, _, rest = part.partition(":")
        if kind == "f":
            if not isinstance(node, dict) or rest not in node:
                return False, None
            node = node[rest]
        elif kind == "k":
            want = json.loads(rest)
            if not isinstance(node, list):
                return False, None
            node = next(
                (
                    i
                    for i in node
                    if isinstance(i, dict) and all(i.get(k) == v for k, v in want.items())
                ),
                None,
            )
            if node is None:
                return False, None
        elif kind == "v":
            value = json.loads(rest)
            return (isinstance(node, list) and value in node), value
    return True, node


def remove(obj: Any, path: Path) -> None:
    """Delete the field, list item or set member at ``path`` (no-op when absent)."""
    if not path:
        return
    if path[-1] == ".":
        path = path[:-1]
    found, parent = lookup(obj, path[:-1])
    if not found:
        return
    kind, _, rest = path[-1].partition(":")
    if kind == "f" and isinstance(parent, dict):
        parent.pop(rest, None)
    elif kind == "k" and isinstance(parent, list):
        want = json.loads(rest)
        parent[:] = [
            i
            for i in parent
            if not (isinstance(i, dict) and all(i.get(k) == v for k, v in want.items()))
        ]
    elif kind == "v" and isinstance(parent, list):
        value = json.loads(rest)
        parent[:] = [i for i in parent if i != value]


def prune_empty(obj: Any, path: Path) -> None:
    """After removals, drop containers along ``path`` that ended up empty."""
    for depth in range(len(path) - 1, 0, -1):
        sub = path[:depth]
        if sub[-1] == ".":
            continue
        found, value = lookup(obj, sub)
        if found and value in ({}, []):
            remove(obj, sub)
