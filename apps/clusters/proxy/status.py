"""Kubernetes ``Status`` bodies: kubectl prints their ``message``, so every answer the proxy
makes itself (401, 403, 404, 503 …) has this shape."""

from __future__ import annotations

import json

REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    413: "RequestEntityTooLarge",
    422: "Invalid",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def status_body(code: int, message: str, details: dict | None = None) -> bytes:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": REASONS.get(code, "InternalError"),
        "code": code,
    }
    if details:
        body["details"] = details
    return json.dumps(body).encode()


class Denial(Exception):
    """An answer the proxy gives itself instead of forwarding (carried as an exception)."""

    def __init__(self, code: int, message: str, details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    @property
    def body(self) -> bytes:
        return status_body(self.code, self.message, self.details)
