"""Kubernetes ``Status`` bodies: kubectl prints their ``message``, so every answer the proxy
makes itself (401, 403, 404, 503 …) has this shape."""

from __future__ import annotations

import json

from apps.core import kubestatus


def status_body(code: int, message: str, details: dict | None = None) -> bytes:
    return json.dumps(kubestatus.status(code, message, details=details or None)).encode()


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
