"""One error format for the whole API: ``{"code": str, "detail": str, "fields": {...}}``."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, DataError, IntegrityError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import set_rollback

logger = logging.getLogger("tkeportal.api")

# DRF's own default codes renamed where ours are clearer; the rest pass through unchanged.
_CODE_NAMES = {
    "invalid": "validation_error",
    "parse_error": "malformed_request",
    "error": "bad_request",
}


def error_body(code: str, detail: str, fields: dict | None = None) -> dict:
    return {"code": code, "detail": detail, "fields": fields or {}}


def _flatten_fields(data, prefix: str = "") -> dict[str, list[str]]:
    """Turn DRF's nested error structure into ``{"a.b[0].c": ["message", ...]}``."""
    out: dict[str, list[str]] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out.update(_flatten_fields(value, name))
    elif isinstance(data, list) and data and all(isinstance(v, str) for v in data):
        out[prefix or "non_field_errors"] = [str(v) for v in data]
    elif isinstance(data, list):
        for index, value in enumerate(data):
            if value:
                out.update(_flatten_fields(value, f"{prefix}[{index}]"))
    elif data:
        out[prefix or "non_field_errors"] = [str(data)]
    return out


def _validation_response(detail_data) -> Response:
    fields = _flatten_fields(detail_data)
    general = fields.pop("non_field_errors", None)
    parts = [f"{name}: {' '.join(msgs)}" for name, msgs in fields.items()]
    if general:
        parts.insert(0, " ".join(general))
    sentence = "Invalid input. " + "; ".join(parts) if parts else "Invalid input."
    if general:
        fields["non_field_errors"] = general
    return Response(error_body("validation_error", sentence, fields), status=400)


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"


def portal_exception_handler(exc, context):
    """DRF exception handler producing the portal's error format for every status."""
    if isinstance(exc, RequestDataTooBig):
        # Normally refused before the view (apps.core.middleware); this is the backstop for a
        # body whose size could not be known until it was read.
        exc = RequestTooLarge(
            f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes, "
            "the most the portal accepts."
        )
    elif isinstance(exc, SuspiciousOperation):
        # Django's own input limits met while DRF parses (too many form fields or files).
        exc = exceptions.ParseError(str(exc) or "The request was refused.")
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) if str(exc) else None)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) if str(exc) else None)
    elif isinstance(exc, IntegrityError):
        from apps.core.errors import Conflict

        logger.info("integrity error mapped to 409: %s", exc)
        exc = Conflict("The object conflicts with an existing one (a name is probably taken).")

    if isinstance(exc, exceptions.ValidationError):
        set_rollback()
        return _validation_response(exc.detail)

    if isinstance(exc, exceptions.APIException):
        set_rollback()
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        code = _CODE_NAMES.get(code, code)
        fields = getattr(exc, "fields", None) or {}
        body = error_body(code, str(exc.detail), fields)
        # What the caller needs to act on the error (reauthentication_required: reauth_url).
        body.update(getattr(exc, "extra", None) or {})
        return Response(body, status=exc.status_code, headers=headers)

    request = context.get("request")
    request_id = getattr(getattr(request, "_request", request), "request_id", "-")
    if isinstance(exc, DataError):
        # A value the database cannot hold (out of range, malformed): the caller's mistake,
        # not an outage. Fields validate their own ranges; this is the backstop.
        logger.info("data error mapped to 400 (request %s): %s", request_id, exc)
        set_rollback()
        return Response(
            error_body("invalid_value", "A value in the request is out of range or malformed."),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, DatabaseError):
        logger.exception("database error in %s (request %s)", context.get("view"), request_id)
        set_rollback()
        return Response(
            error_body(
                "database_unavailable",
                f"The portal database is unavailable; try again (request {request_id}).",
            ),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    logger.exception("unhandled error in %s (request %s)", context.get("view"), request_id)
    set_rollback()
    return Response(
        error_body(
            "internal_error",
            f"Internal server error; it was logged with request id {request_id}.",
        ),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
