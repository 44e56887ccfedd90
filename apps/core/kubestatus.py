"""Kubernetes ``Status`` bodies and reasons: one table for every part of the project that
writes or reads them — kubesim's API errors, the kubectl proxy's own answers and the
portal's reading of a cluster's errors.

The reasons are apimachinery's ``metav1.StatusReason`` values for each HTTP status, as the
API server sets them (``NewGenericServerResponse``): an unlisted 5xx is ``InternalError``.
"""

from __future__ import annotations

import json
from typing import Any

REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    # Not an apimachinery reason: the proxy's own answer when a cluster's reply is unusable.
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def reason_for(code: int) -> str:
    return REASONS.get(code) or ("InternalError" if code >= 500 else "Unknown")


def status(
    code: int, message: str, reason: str | None = None, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A failure ``Status`` as the API server writes it."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason if reason is not None else reason_for(code),
        "code": code,
    }
    if details is not None:
        body["details"] = details
    return body


def message_and_causes(body: bytes) -> tuple[str, dict[str, list[str]]]:
    """The message and the field causes (``{field: [message, …]}``) of a Status body; for
    a body that is not JSON, its first 300 characters."""
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return (body or b"").decode("utf-8", "replace")[:300], {}
    if not isinstance(data, dict):
        return "", {}
    fields: dict[str, list[str]] = {}
    for cause in (data.get("details") or {}).get("causes") or []:
        if not isinstance(cause, dict):
            continue
        name = cause.get("field") or "non_field_errors"
        fields.setdefault(name, []).append(cause.get("message") or cause.get("reason", ""))
    return str(data.get("message", "")), fields
