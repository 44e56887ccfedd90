"""Server-side field validation (``fieldValidation=Strict|Warn|Ignore``) beyond the schema walk:
duplicate fields in JSON bodies, and the exact answers a 1.37 API server gives.

* Warn (the default): each problem becomes a ``Warning: 299 - "<text>"`` header;
* Strict: a create or update answers 400 ``<Kind> in version "<v>" cannot be handled as a
  <Kind>: strict decoding error: <problems>``; a patch answers 422 ``patch: Invalid value:
  "<patch as Go prints it>": strict decoding error: <problems>`` (the apiserver's patcher);
* Ignore: nothing.

Problem texts are ``duplicate field "spec.paused"`` and ``unknown field "spec.foo"``, paths as
apimachinery writes them (``spec.containers[0].image``; a JSON patch's own fields as
``json patch duplicate field "[1].path"``).
"""

from __future__ import annotations

import json
from typing import Any

from .errors import ApiError, field_error, invalid


class _Obj(dict):  # type: ignore[type-arg]
    """A decoded JSON object that remembers which of its keys appeared more than once."""

    dups: list[str]


def _pairs(pairs: list[tuple[str, Any]]) -> _Obj:
    out = _Obj()
    out.dups = []
    for key, value in pairs:
        if key in out and key not in out.dups:
            out.dups.append(key)
        out[key] = value
    return out


def _walk(node: Any, path: str, found: list[str]) -> None:
    if isinstance(node, _Obj):
        for key in node.dups:
            found.append(f"{path}.{key}" if path else key)
        for key, value in node.items():
            _walk(value, f"{path}.{key}" if path else key, found)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _walk(value, f"{path}[{i}]", found)


def duplicates(raw: bytes) -> list[str]:
    """``duplicate field "…"`` texts for a JSON document (empty for anything unparsable:
    decoding reports that itself)."""
    try:
        doc = json.loads(raw, object_pairs_hook=_pairs)
    except ValueError:
        return []
    paths: list[str] = []
    _walk(doc, "", paths)
    prefix = "json patch " if isinstance(doc, list) else ""
    return [f'{prefix}duplicate field "{p}"' for p in paths]


def unknown(paths: list[str]) -> list[str]:
    return [f'unknown field "{p}"' for p in paths]


def go_value(value: Any) -> str:
    """``fmt.Sprintf("%+v")`` of a decoded JSON value (``map[a:1 b:[x y]]``)."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_value(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_value(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        number = float(value)
        return str(int(number)) if number.is_integer() and abs(number) < 1e21 else repr(number)
    return str(value)


def strict_error(kind: str, version: str, problems: list[str]) -> ApiError:
    """400 for a create or update body."""
    return ApiError(
        400,
        f'{kind} in version "{version}" cannot be handled as a {kind}: '
        f"strict decoding error: {', '.join(problems)}",
    )


def strict_patch_error(patch: Any, problems: list[str]) -> ApiError:
    """422 for a patch, as the apiserver's patcher words it (no kind, no name)."""
    return invalid(
        "",
        "",
        "",
        [
            field_error(
                "patch",
                "Invalid",
                f"strict decoding error: {', '.join(problems)}",
                go_value(patch),
            )
        ],
    )


def check_body(
    raw: bytes, ctype: str, body: Any, validation: str, kind: str, version: str, patch: bool
) -> list[str]:
    """Duplicate-field handling of a JSON request body: raises under Strict, returns the
    warnings to add under Warn."""
    if validation == "Ignore" or "json" not in ctype:
        return []
    found = duplicates(raw)
    if not found:
        return []
    if validation == "Strict":
        if patch:
            raise strict_patch_error(body, found)
        raise strict_error(kind, version, found)
    return found
