"""Redaction of request bodies before they are stored in the audit trail.

Keys that name secrets are replaced, whatever their value; values that look like secrets
(PEM blocks, JWTs, portal API keys) are replaced wherever they are; a Kubernetes Secret's
``data``/``stringData`` are replaced. Bodies that cannot be parsed are not stored, only
described.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl

import yaml

REDACTED = "[redacted]"

_SECRET_KEY = re.compile(
    r"pass(word|wd|phrase)?|secret|token|api[-_]?key|private|credential|kubeconfig|"
    r"authorization|cookie|csrf|^key$|key_?data|cert(ificate)?(_?data)?$|^ca$|ca_?data",
    re.IGNORECASE,
)
_SECRET_VALUE = re.compile(
    r"-----BEGIN [A-Z ]+-----|^eyJ[A-Za-z0-9_-]{8,}\.|tkp_[0-9a-f]{12}_|^Bearer\s", re.M
)


def redact(value, _key: str = ""):
    """A deep copy of ``value`` with secrets replaced by ``[redacted]``."""
    if isinstance(value, dict):
        is_secret_kind = value.get("kind") == "Secret"
        out = {}
        for key, item in value.items():
            if _SECRET_KEY.search(str(key)) or (is_secret_kind and key in ("data", "stringData")):
                out[key] = REDACTED
            else:
                out[key] = redact(item, str(key))
        return out
    if isinstance(value, list):
        return [redact(item, _key) for item in value]
    if isinstance(value, str) and _SECRET_VALUE.search(value):
        return REDACTED
    return value


def redact_body(raw: bytes, content_type: str, max_chars: int):
    """Parse and redact a request body; returns something JSON-serialisable or None."""
    if not raw:
        return None
    ctype = (content_type or "").split(";")[0].strip().lower()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return {"_omitted": f"{len(raw)} bytes of binary {ctype or 'data'}"}
    parsed = _parse(text, ctype)
    if parsed is _UNPARSEABLE:
        return {"_omitted": f"{len(raw)} bytes of unparseable {ctype or 'data'}"}
    cleaned = redact(parsed)
    encoded = json.dumps(cleaned, default=str)
    if len(encoded) > max_chars:
        return {"_truncated": encoded[:max_chars]}
    return cleaned


_UNPARSEABLE = object()


def _parse(text: str, ctype: str):
    if ctype == "application/x-www-form-urlencoded":
        pairs = parse_qsl(text, keep_blank_values=True)
        form: dict = {}
        for key, value in pairs:
            form.setdefault(key, []).append(value)
        return {k: v[0] if len(v) == 1 else v for k, v in form.items()}
    if ctype.endswith("json") or ctype == "":
        try:
            return json.loads(text)
        except ValueError:
            if ctype:
                return _UNPARSEABLE
    if "yaml" in ctype or ctype == "":
        try:
            docs = [d for d in yaml.safe_load_all(text) if d is not None]
        except yaml.YAMLError:
            return _UNPARSEABLE
        return docs[0] if len(docs) == 1 else docs
    return _UNPARSEABLE
