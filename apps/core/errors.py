"""Portal errors with stable codes. Services raise these; the API turns them into
``{"code", "detail", "fields"}`` (see ``apps/core/api/errors.py``)."""

from rest_framework import status
from rest_framework.exceptions import APIException


class PortalError(APIException):
    """Base for errors the portal raises on purpose; ``code`` is stable, ``detail`` human."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "bad_request"
    default_detail = "The request could not be processed."

    def __init__(self, detail: str | None = None, code: str | None = None, fields=None):
        super().__init__(detail or self.default_detail, code or self.default_code)
        self.fields = fields or {}


class Conflict(PortalError):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The object was changed or already exists."


class TenantRequired(PortalError):
    default_code = "tenant_required"
    default_detail = (
        "This operation needs a tenant: send the header X-Portal-Tenant: <tenant slug>."
    )


class ServiceUnavailable(PortalError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "service_unavailable"
    default_detail = "A service the portal depends on is unavailable."
