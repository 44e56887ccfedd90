"""Label and field selectors with the API server's grammar and error messages.

A parsed selector is a list of requirements, each a callable over the object's labels (or
selectable fields); an empty selector matches everything.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .errors import ApiError

_KEY = r"(?:[a-zA-Z0-9.\-]*/)?[a-zA-Z0-9](?:[-a-zA-Z0-9_.]*[a-zA-Z0-9])?"
_VALUE = r"(?:[a-zA-Z0-9](?:[-a-zA-Z0-9_.]*[a-zA-Z0-9])?)?"
_TOKEN = re.compile(
    rf"\s*(?:(?P<neg>!)\s*(?P<nkey>{_KEY})"
    rf"|(?P<key>{_KEY})\s*(?:(?P<op>==|=|!=|>|<)\s*(?P<val>{_VALUE})"
    rf"|\s+(?P<setop>in|notin)\s*\((?P<set>[^)]*)\))?)\s*(?:,|$)"
)

Requirement = Callable[[dict[str, str]], bool]


class LabelSelector:
    """A parsed label selector; ``matches(labels)`` tells if an object is selected."""

    def __init__(self, requirements: list[Requirement], text: str = ""):
        self.requirements = requirements
        self.text = text

    def matches(self, labels: dict[str, str] | None) -> bool:
        labels = labels or {}
        return all(req(labels) for req in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements


EVERYTHING = LabelSelector([])


def _req(key: str, op: str, values: list[str]) -> Requirement:
    if op in ("=", "=="):
        return lambda labels: labels.get(key) == values[0]
    if op == "!=":
        return lambda labels: labels.get(key) != values[0]
    if op == "in":
        allowed = set(values)
        return lambda labels: labels.get(key) in allowed
    if op == "notin":
        denied = set(values)
        return lambda labels: labels.get(key) not in denied
    if op == "exists":
        return lambda labels: key in labels
    if op == "!":
        return lambda labels: key not in labels
    if op in (">", "<"):
        bound = int(values[0])

        def compare(labels: dict[str, str]) -> bool:
            raw = labels.get(key)
            if raw is None or not raw.lstrip("-").isdigit():
                return False
            return int(raw) > bound if op == ">" else int(raw) < bound

        return compare
    raise ValueError(op)


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse ``app=web,tier!=db,env in (a,b),!legacy``; 400 BadRequest on bad syntax."""
    if not text or not text.strip():
        return EVERYTHING
    reqs: list[Requirement] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ApiError(
                400,
                f"unable to parse requirement: found '{text[pos:]}', expected: identifier",
                reason="BadRequest",
            )
        if match.group("neg"):
            reqs.append(_req(match.group("nkey"), "!", []))
        elif match.group("setop"):
            values = [v.strip() for v in match.group("set").split(",") if v.strip()]
            reqs.append(_req(match.group("key"), match.group("setop"), values))
        elif match.group("op"):
            op, val = match.group("op"), match.group("val")
            if op in (">", "<") and not val.lstrip("-").isdigit():
                raise ApiError(
                    400,
                    f"unable to parse requirement: for 'Gt', 'Lt' operators, "
                    f"the value must be an integer: {val}",
                )
            reqs.append(_req(match.group("key"), op, [val]))
        else:
            reqs.append(_req(match.group("key"), "exists", []))
        pos = match.end()
    return LabelSelector(reqs, text)


def from_label_selector_object(sel: dict[str, Any] | None) -> LabelSelector:
    """A ``metav1.LabelSelector`` (matchLabels + matchExpressions). None selects nothing."""
    if sel is None:
        return LabelSelector([lambda labels: False])
    reqs: list[Requirement] = []
    for key, value in (sel.get("matchLabels") or {}).items():
        reqs.append(_req(key, "=", [value]))
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expr in sel.get("matchExpressions") or []:
        reqs.append(_req(expr["key"], ops[expr["operator"]], list(expr.get("values") or [])))
    return LabelSelector(reqs)


def selector_to_string(sel: dict[str, Any] | None) -> str:
    """``metav1.LabelSelector`` → the string form (``app=web,env in (a,b)``)."""
    if not sel:
        return ""
    parts = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for expr in sel.get("matchExpressions") or []:
        op, key, values = expr["operator"], expr["key"], expr.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(sorted(values))})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(sorted(values))})")
        elif op == "Exists":
            parts.append(key)
        else:
            parts.append(f"!{key}")
    return ",".join(parts)


# ---------------------------------------------------------------- field selectors


def _get(obj: dict[str, Any], dotted: str) -> str:
    node: Any = obj
    for part in dotted.split("."):
        if not isinstance(node, dict):
            return ""
        node = node.get(part)
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


_COMMON = ("metadata.name", "metadata.namespace")
FIELD_LABELS: dict[str, tuple[str, ...]] = {
    "pods": _COMMON
    + (
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ),
    "events": _COMMON
    + (
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ),
    "nodes": _COMMON + ("spec.unschedulable",),
    "secrets": _COMMON + ("type",),
    "namespaces": _COMMON + ("status.phase",),
    "replicasets": _COMMON + ("status.replicas",),
    "jobs": _COMMON + ("status.successful",),
    "persistentvolumeclaims": _COMMON,
}


class FieldSelector:
    """Parsed ``a=b,c!=d`` over an object's selectable fields."""

    def __init__(self, terms: list[tuple[str, bool, str]]):
        self.terms = terms

    @property
    def empty(self) -> bool:
        return not self.terms

    def matches(self, obj: dict[str, Any]) -> bool:
        for path, equal, value in self.terms:
            if path == "source":
                actual = _get(obj, "source.component") or _get(obj, "reportingComponent")
            else:
                actual = _get(obj, path)
            if (actual == value) != equal:
                return False
        return True

    def pinned(self, path: str) -> str | None:
        """The value a term fixes with ``=`` (lets LIST jump straight to one name)."""
        for term_path, equal, value in self.terms:
            if term_path == path and equal:
                return value
        return None


def parse_field_selector(text: str | None, plural: str) -> FieldSelector:
    """Parse a field selector over the fields ``plural`` supports (400 on others)."""
    if not text or not text.strip():
        return FieldSelector([])
    allowed = FIELD_LABELS.get(plural, _COMMON)
    terms = []
    for raw in text.split(","):
        raw = raw.strip()
        if not raw:
            continue
        for op in ("!=", "==", "="):
            if op in raw:
                path, value = raw.split(op, 1)
                break
        else:
            raise ApiError(400, f"invalid selector: '{text}'; can't understand '{raw}'")
        path = path.strip()
        if path not in allowed:
            raise ApiError(
                400,
                f"field label not supported: {path}"
                if plural in FIELD_LABELS
                else f'"{path}" is not a known field selector: only "metadata.name", '
                f'"metadata.namespace"',
            )
        terms.append((path, op != "!=", value.strip()))
    return FieldSelector(terms)
