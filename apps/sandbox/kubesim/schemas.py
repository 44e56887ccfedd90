"""Kubernetes' own type schemas (from ``kubernetes-validate``) and what kubesim does with them.

* decode-time checks, as the API server's JSON decoder does them: wrong types are 400
  BadRequest, unknown fields are dropped, warned about or (``fieldValidation=Strict``) rejected;
* strategic-merge-patch metadata (``x-kubernetes-patch-strategy`` / ``-merge-key``) and list
  types for server-side apply;
* the OpenAPI v3 documents served at ``/openapi/v3`` so ``kubectl apply`` can compute patches and
  see that the server supports server-side field validation.
"""

from __future__ import annotations

import functools
import hashlib
import json
from importlib.resources import files
from typing import Any

K8S_VERSION = "1.37.0"
_REF = "#/$defs/"


@functools.cache
def definitions() -> dict[str, dict[str, Any]]:
    """All ~860 definitions of the pinned Kubernetes version (loaded once, read-only)."""
    path = files("kubernetes_validate").joinpath(
        f"kubernetes-json-schema/v{K8S_VERSION}-local/_definitions.json"
    )
    return json.loads(path.read_text())["$defs"]


def resolve(node: dict[str, Any] | None) -> dict[str, Any] | None:
    """Follow a ``$ref`` to its definition."""
    while node is not None and "$ref" in node:
        node = definitions().get(node["$ref"][len(_REF) :])
    return node


def ref_name(node: dict[str, Any] | None) -> str | None:
    if node and "$ref" in node:
        return node["$ref"][len(_REF) :]
    return None


def types_of(node: dict[str, Any]) -> set[str]:
    raw = node.get("type")
    if raw is None:
        return set()
    return {raw} if isinstance(raw, str) else set(raw) - {"null"}


def field_schema(node: dict[str, Any] | None, key: str) -> dict[str, Any] | None:
    """Schema of ``node[key]``: a named property, or the map's value schema."""
    node = resolve(node)
    if node is None:
        return None
    props = node.get("properties")
    if props and key in props:
        return props[key]
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        return extra
    return None


def list_meta(prop: dict[str, Any] | None) -> tuple[str, str | None, list[str]]:
    """``(patch strategy, merge key, list-map keys)`` of a list-valued property."""
    if not prop:
        return "", None, []
    return (
        prop.get("x-kubernetes-patch-strategy", ""),
        prop.get("x-kubernetes-patch-merge-key"),
        list(prop.get("x-kubernetes-list-map-keys") or []),
    )


def items_schema(prop: dict[str, Any] | None) -> dict[str, Any] | None:
    prop = resolve(prop) if prop and "$ref" in prop else prop
    if prop is None:
        return None
    return prop.get("items")


# ---------------------------------------------------------------- decoding checks

_GO_TYPES = {"integer": "int64", "number": "float64", "boolean": "bool", "string": "string"}


class DecodeResult:
    """Unknown fields seen and type errors found while decoding a request body."""

    def __init__(self) -> None:
        self.unknown: list[str] = []
        self.type_errors: list[str] = []
        # (field path, message, value) triples, the shape CRD validation reports as causes
        self.custom_errors: list[tuple[str, str, Any]] = []


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _accepts(node: dict[str, Any], value: Any) -> bool:
    if node.get("x-kubernetes-int-or-string"):
        return isinstance(value, (int, str)) and not isinstance(value, bool)
    if "oneOf" in node or "anyOf" in node:
        return any(_accepts(alt, value) for alt in node.get("oneOf") or node.get("anyOf"))
    allowed = types_of(node)
    if not allowed:
        return True
    if isinstance(value, bool):
        return "boolean" in allowed
    if isinstance(value, int):
        return bool(allowed & {"integer", "number"})
    if isinstance(value, float):
        return "number" in allowed or ("integer" in allowed and value.is_integer())
    if isinstance(value, str):
        return "string" in allowed
    if isinstance(value, list):
        return "array" in allowed
    if isinstance(value, dict):
        return "object" in allowed
    return True


def decode(obj: dict[str, Any], def_name: str, prune: bool) -> DecodeResult:
    """Check ``obj`` against ``def_name``; drop unknown fields and nulls when ``prune``."""
    result = DecodeResult()
    _walk(obj, {"$ref": _REF + def_name}, "", def_name.rsplit(".", 1)[-1], result, prune)
    return result


def decode_with(
    obj: dict[str, Any], schema: dict[str, Any], kind: str, prune: bool
) -> DecodeResult:
    """Like :func:`decode` for an inline schema (a CRD version's ``openAPIV3Schema``)."""
    result = DecodeResult()
    _walk(obj, schema, "", kind, result, prune)
    return result


def _walk(
    value: Any, node: dict[str, Any], path: str, parent: str, result: DecodeResult, prune: bool
) -> None:
    name = ref_name(node) or ""
    node = resolve(node) or {}
    if value is None:
        return
    if not _accepts(node, value):
        expected = types_of(node)
        go = _GO_TYPES.get(next(iter(expected)), "") if len(expected) == 1 else ""
        if "object" in expected:
            go = name.rsplit(".", 1)[-1] or "map[string]interface {}"
        elif "array" in expected:
            go = "[]" + (ref_name(node.get("items")) or "string").rsplit(".", 1)[-1]
        if node.get("format") == "int32":
            go = "int32"
        field = path.lstrip(".")
        wanted = next(iter(expected), "object")
        result.custom_errors.append(
            (field, f'{field} in body must be of type {wanted}: "{_json_type(value)}"', value)
        )
        result.type_errors.append(
            f"json: cannot unmarshal {_json_type(value)} into Go struct field "
            f"{parent}.{field} of type {go or 'string'}"
        )
        return
    if isinstance(value, dict):
        props = node.get("properties")
        extra = node.get("additionalProperties")
        if node.get("x-kubernetes-preserve-unknown-fields"):
            extra = extra if isinstance(extra, dict) else True
        struct = name.rsplit(".", 1)[-1] if name else parent
        for key in list(value):
            child = value[key]
            child_path = f"{path}.{key}"
            if props is not None and key in props:
                if child is None and prune:
                    del value[key]
                    continue
                _walk(child, props[key], child_path, struct, result, prune)
            elif isinstance(extra, dict):
                _walk(child, extra, child_path, struct, result, prune)
            elif extra is True:
                continue
            elif props is not None and extra is None:
                result.unknown.append(child_path.lstrip("."))
                if prune:
                    del value[key]
    elif isinstance(value, list):
        items = node.get("items")
        if isinstance(items, dict):
            for index, item in enumerate(value):
                _walk(item, items, f"{path}[{index}]", parent, result, prune)


# ---------------------------------------------------------------- OpenAPI v3


def _convert(node: Any) -> Any:
    """JSON-Schema 2020 (as shipped by kubernetes-validate) → OpenAPI 3.0 schema objects."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str):
            out[key] = "#/components/schemas/" + value[len(_REF) :]
        elif key == "type" and isinstance(value, list):
            real = [t for t in value if t != "null"]
            out[key] = real[0] if real else "object"
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: _convert(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
            out[key] = _convert(value)
        elif (
            key == "oneOf"
            and isinstance(value, list)
            and all(
                isinstance(alt, dict) and types_of(alt) <= {"string", "integer", "number"}
                for alt in value
            )
        ):
            out["x-kubernetes-int-or-string"] = True
            out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        elif key in ("allOf", "anyOf", "oneOf") and isinstance(value, list):
            out[key] = [_convert(alt) for alt in value]
        else:
            out[key] = value
    return out


def _closure(names: list[str]) -> set[str]:
    defs = definitions()
    seen: set[str] = set()
    stack = list(names)
    while stack:
        name = stack.pop()
        if name in seen or name not in defs:
            continue
        seen.add(name)
        stack.extend(_refs(defs[name]))
    return seen


def _refs(node: Any) -> list[str]:
    out: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                out.append(value[len(_REF) :])
            else:
                out.extend(_refs(value))
    elif isinstance(node, list):
        for value in node:
            out.extend(_refs(value))
    return out


_QUERY = ("dryRun", "fieldManager", "fieldValidation", "force", "pretty")
_PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)


def _op(rt, action: str, schema_ref: dict[str, Any], params: tuple[str, ...] = ()) -> dict:
    gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
    op: dict[str, Any] = {
        "operationId": f"{action}{rt.kind}",
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk,
        "parameters": [
            {"name": p, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
            for p in params
        ],
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": schema_ref}}}
        },
    }
    if action in ("post", "put", "patch"):
        types = _PATCH_TYPES if action == "patch" else ("application/json", "application/yaml")
        if action == "patch" and rt.custom:
            types = tuple(t for t in types if "strategic" not in t)
        op["requestBody"] = {"content": {t: {"schema": schema_ref} for t in types}}
    return op


def openapi_v3_document(resources: list, custom_schemas: dict[str, dict[str, Any]]) -> dict:
    """The ``/openapi/v3/<group-version>`` document for the given resource types."""
    defs = definitions()
    paths: dict[str, Any] = {}
    roots: list[str] = []
    schemas: dict[str, Any] = {}
    for rt in resources:
        if rt.schema and rt.schema in defs:
            schema_name = rt.schema
            roots.append(schema_name)
        elif rt.schema and rt.schema in custom_schemas:
            schema_name = rt.schema
            schemas[schema_name] = _convert(custom_schemas[schema_name])
            roots.append("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
        else:
            continue
        ref = {"$ref": "#/components/schemas/" + schema_name}
        base = "/api/v1" if not rt.group else f"/apis/{rt.group}/{rt.version}"
        coll = (
            f"{base}/namespaces/{{namespace}}/{rt.plural}"
            if rt.namespaced
            else f"{base}/{rt.plural}"
        )
        write = _QUERY
        paths[coll] = {"get": _op(rt, "list", ref), "post": _op(rt, "post", ref, write)}
        paths[coll + "/{name}"] = {
            "get": _op(rt, "get", ref),
            "put": _op(rt, "put", ref, write),
            "patch": _op(rt, "patch", ref, write),
            "delete": _op(rt, "delete", ref, ("dryRun",)),
        }
    for name in _closure(roots):
        schemas[name] = _convert(defs[name])
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": f"v{K8S_VERSION}"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def crd_version_schema(crd: dict[str, Any], version: dict[str, Any]) -> dict[str, Any]:
    """An OpenAPI schema for one served version of a CRD, with its GVK extension."""
    spec = crd["spec"]
    raw = (version.get("schema") or {}).get("openAPIV3Schema") or {"type": "object"}
    schema = json.loads(json.dumps(raw))
    props = schema.setdefault("properties", {})
    props["apiVersion"] = {"type": "string"}
    props["kind"] = {"type": "string"}
    props["metadata"] = {"$ref": _REF + "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
    schema["x-kubernetes-group-version-kind"] = [
        {"group": spec["group"], "version": version["name"], "kind": spec["names"]["kind"]}
    ]
    return schema


def doc_hash(doc: dict[str, Any]) -> str:
    return hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest().upper()[:64]
