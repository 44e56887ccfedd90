"""API errors as the Kubernetes API server reports them: an HTTP status plus a ``Status`` body.

Every failure a handler can produce is raised as :class:`ApiError`; the server turns it into the
exact JSON shape the official clients parse (``kind: Status``, ``reason``, ``details`` …).
"""

from __future__ import annotations

from typing import Any

from apps.core import kubestatus


class ApiError(Exception):
    """A failed API request; ``status()`` is the body the API server would send."""

    def __init__(
        self,
        code: int,
        message: str,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason if reason is not None else kubestatus.reason_for(code)
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict[str, Any]:
        return kubestatus.status(self.code, self.message, self.reason, self.details)


def _details(name: str | None, group: str, plural: str, **extra: Any) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    details["kind"] = plural
    details.update(extra)
    return details


def qualified(group: str, plural: str) -> str:
    """``deployments.apps`` / ``pods``: the resource name as messages print it."""
    return f"{plural}.{group}" if group else plural


def not_found(group: str, plural: str, name: str) -> ApiError:
    return ApiError(
        404, f'{qualified(group, plural)} "{name}" not found', details=_details(name, group, plural)
    )


def already_exists(group: str, plural: str, name: str) -> ApiError:
    return ApiError(
        409,
        f'{qualified(group, plural)} "{name}" already exists',
        reason="AlreadyExists",
        details=_details(name, group, plural),
    )


def conflict(group: str, plural: str, name: str, why: str | None = None) -> ApiError:
    why = why or (
        "the object has been modified; please apply your changes to the latest version and try "
        "again"
    )
    return ApiError(
        409,
        f'Operation cannot be fulfilled on {qualified(group, plural)} "{name}": {why}',
        reason="Conflict",
        details=_details(name, group, plural),
    )


def invalid(kind: str, group: str, name: str, causes: list[dict[str, str]]) -> ApiError:
    """422 Invalid with one cause per field error, message joined like apimachinery does."""
    parts = []
    for cause in causes:
        field = cause.get("field")
        parts.append(f"{field}: {cause['message']}" if field else cause["message"])
    summary = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    qual = f"{kind}.{group}" if group else kind
    return ApiError(
        422,
        f'{qual} "{name}" is invalid: {summary}',
        reason="Invalid",
        details={"name": name, "group": group, "kind": kind, "causes": causes}
        if group
        else {"name": name, "kind": kind, "causes": causes},
    )


def field_error(field: str, kind: str, message: str, value: Any = None) -> dict[str, str]:
    """One ``StatusCause``; ``kind`` is the apimachinery ErrorType (Required, Invalid, …)."""
    reasons = {
        "Required": ("FieldValueRequired", "Required value"),
        "Invalid": ("FieldValueInvalid", "Invalid value"),
        "Duplicate": ("FieldValueDuplicate", "Duplicate value"),
        "NotSupported": ("FieldValueNotSupported", "Unsupported value"),
        "Forbidden": ("FieldValueForbidden", "Forbidden"),
        "TooLong": ("FieldValueTooLong", "Too long"),
    }
    reason, label = reasons[kind]
    if kind in ("Invalid", "Duplicate", "NotSupported", "TooLong"):
        text = f"{label}: {_go_repr(value)}"
        if message:
            text += f": {message}"
    else:
        text = f"{label}: {message}" if message else label
    return {"reason": reason, "message": text, "field": field}


def _go_repr(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value + '"'
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def forbidden(group: str, plural: str, name: str, why: str) -> ApiError:
    target = f'{qualified(group, plural)} "{name}"' if name else qualified(group, plural)
    return ApiError(403, f"{target} is forbidden: {why}", details=_details(name, group, plural))


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def gone(message: str) -> ApiError:
    return ApiError(410, message, reason="Expired")


def method_not_allowed(
    message: str = "the server does not allow this method on the requested resource",
) -> ApiError:
    return ApiError(405, message, reason="MethodNotAllowed")


def path_not_found() -> ApiError:
    """What the API server answers for a URL no resource is registered under."""
    return ApiError(
        404,
        "the server could not find the requested resource",
        details={
            "causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]
        },
    )
