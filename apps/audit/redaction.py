"""Redaction of request bodies before they are stored in the audit trail.

- Keys that name secrets are replaced, whatever their value; values that look like secrets
  (PEM blocks, JWTs, portal API keys) are replaced wherever they are.
- A Kubernetes Secret's ``data``/``stringData`` are replaced: in any object of kind Secret
  (also inside ``List`` / ``SecretList`` items), and at the top of a body the caller says
  targets a Secret (``secret=True``: a merge or strategic patch says no kind). In a JSON patch
  of a Secret, the ``value`` of every operation on ``/data``, ``/stringData``, the whole
  object or the last-applied annotation is replaced.
- kubectl's ``last-applied-configuration`` annotation is the whole object again as a JSON
  string: on a Secret it is replaced whole; elsewhere it is parsed and redacted like any body
  (replaced whole when it cannot be parsed).
- Strings that are manifests (the apply endpoint's ``manifest``: YAML or JSON, one or several
  documents) are parsed and stored as the list of their redacted documents; a manifest that
  cannot be parsed is described, never stored.
- Bodies that cannot be parsed are not stored, only described; nor is a form sent to a Secret.
- NUL characters become U+FFFD: PostgreSQL cannot store them in JSON, and the row must not be
  lost to a body that holds one.
"""

from __future__ import annotations

import json
import re

from apps.core import bodies, safejson, safeyaml

REDACTED = "[redacted]"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

_SECRET_KEY = re.compile(
    r"pass(word|wd|phrase)?|secret|token|api[-_]?key|private|credential|kubeconfig|"
    r"authorization|cookie|csrf|^key$|client[-_]?key|key[-_]?data|cert(ificate)?(_?data)?$|^ca$|"
    r"ca_?data",
    re.IGNORECASE,
)
# PEM blocks, JWTs, portal API keys, bearer headers, URLs holding a password (user:pw@host).
_SECRET_VALUE = re.compile(
    r"-----BEGIN [A-Z ]+-----|^eyJ[A-Za-z0-9_-]{8,}\.|tkp_[0-9a-f]{12}_|^Bearer\s|"
    r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s@:]*:[^/\s@]*@",
    re.M,
)
_SECRET_FIELDS = ("data", "stringdata")  # compared lower-cased (Go decodes ignoring case)
# Fields whose string value is a manifest (YAML or JSON text of Kubernetes objects).
_MANIFEST_KEYS = frozenset({"manifest", "manifests"})
# JSON-patch paths whose value may carry Secret values ("" and "/" are the whole object).
# Case-insensitive: the API server decodes JSON into its types ignoring case ("Data" is data).
_SECRET_PATCH_PATH = re.compile(
    r"^/?$|^/(data|stringData)(/|$)|^/metadata(/annotations)?/?$|last-applied-configuration",
    re.IGNORECASE,
)


def redact(value, _key: str = "", *, secret: bool = False):
    """A deep copy of ``value`` with secrets replaced by ``[redacted]``. ``secret``: the body
    targets a Secret, whatever it says (or does not say) about its kind."""
    if isinstance(value, dict):
        return _redact_object(value, secret)
    if isinstance(value, list):
        if secret:
            # A list sent to a Secret is a JSON patch, well-formed or not: one malformed
            # operation must not turn the others back into plain objects with their values.
            return [
                _redact_patch_op(op) if isinstance(op, dict) else redact(op, _key, secret=True)
                for op in value
            ]
        return [redact(item, _key, secret=secret) for item in value]
    if isinstance(value, str) and _SECRET_VALUE.search(value):
        return REDACTED
    return value


def _redact_object(value: dict, secret: bool) -> dict:
    kind = value.get("kind")
    is_secret = secret or kind == "Secret"
    items_are_secrets = is_secret or kind == "SecretList"
    out = {}
    for key, item in value.items():
        name = str(key)
        if _SECRET_KEY.search(name) or (is_secret and name.lower() in _SECRET_FIELDS):
            out[key] = REDACTED
        elif name == LAST_APPLIED:
            out[key] = REDACTED if is_secret else _redact_last_applied(item)
        elif name == "metadata" and isinstance(item, dict):
            out[key] = _redact_metadata(item, is_secret)
        elif name == "items" and isinstance(item, list):
            out[key] = [redact(entry, secret=items_are_secrets) for entry in item]
        elif name in _MANIFEST_KEYS and isinstance(item, str):
            out[key] = redact_manifest(item)
        else:
            out[key] = redact(item, name)
    return out


def _redact_metadata(meta: dict, is_secret: bool) -> dict:
    out = {}
    for key, item in meta.items():
        if key == "annotations" and isinstance(item, dict):
            out[key] = {
                name: (
                    (REDACTED if is_secret else _redact_last_applied(value))
                    if name == LAST_APPLIED
                    else redact(value, name)
                )
                for name, value in item.items()
            }
        else:
            out[key] = redact(item, str(key))
    return out


def _redact_last_applied(value):
    if not isinstance(value, str):
        return REDACTED
    try:
        parsed = safejson.loads(value)
    except ValueError:
        return REDACTED
    return json.dumps(redact(parsed), separators=(",", ":"))


def _redact_patch_op(op: dict) -> dict:
    out = {key: redact(item, str(key), secret=True) for key, item in op.items() if key != "value"}
    if "value" in op:
        path = op.get("path")
        if not isinstance(path, str) or _SECRET_PATCH_PATH.search(path):
            out["value"] = REDACTED
        else:
            out["value"] = redact(op["value"])
    return out


def redact_manifest(text: str):
    """The redacted documents of a manifest string, or a description when it cannot be read
    (a manifest that fails to parse may still hold a Secret's values)."""
    try:
        docs = safeyaml.load_all(text, field="manifest")
    except safeyaml.YAMLInputError:
        return {"_omitted": f"{len(text)} characters of unparseable manifest"}
    return [redact(doc) for doc in docs]


def redact_body(
    raw: bytes | bodies.Body, content_type: str, max_chars: int, *, secret: bool = False
):
    """Parse and redact a request body; returns something JSON-serialisable or None.
    ``secret``: the request targets a Secret (its URL says so), see ``redact``. The body is
    read by :func:`apps.core.bodies.read`, as the proxy judges it (protobuf included), or is
    the :class:`apps.core.bodies.Body` the proxy already read."""
    if not raw:
        return None
    if secret and bodies.media_type(content_type) == "application/x-www-form-urlencoded":
        # No API server reads a form: what is sent to a Secret as one is some other body
        # read wrongly (its values would be stored as form keys).
        return {"_omitted": f"{len(raw)} bytes of a form sent to a Secret (not stored)"}
    try:
        parsed = bodies.read_once(raw, content_type)
    except bodies.Unreadable as exc:
        return {"_omitted": str(exc)}
    cleaned = redact(parsed, secret=secret)
    encoded = json.dumps(cleaned, default=str)
    if "\\u0000" in encoded:
        cleaned = storable(cleaned)
        encoded = json.dumps(cleaned, default=str)
    if len(encoded) > max_chars:
        return {"_truncated": encoded[:max_chars]}
    return cleaned


def storable(value):
    """``value`` with every NUL (in keys and strings) replaced by U+FFFD."""
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    return value
