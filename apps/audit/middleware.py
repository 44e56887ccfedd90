"""Records exactly one audit event for every write request (POST, PUT, PATCH, DELETE) that
reaches Django, whatever the door (API, admin, console) and however it ends (success,
validation failure, denied, crash)."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import DatabaseError
from django.http.multipartparser import MultiPartParserError
from django.http.request import RawPostDataException

from apps.core.middleware import body_size

from .choices import Channel
from .redaction import REDACTED, redact, redact_body, storable
from .services import record_event

logger = logging.getLogger("tkeportal.audit")

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Bodies larger than this are described, not read into memory for the audit trail.
MAX_BODY_BYTES = 1024 * 1024


def _channel_for(path: str) -> str:
    if path.startswith("/api/"):
        return Channel.API
    if path.startswith("/admin/"):
        return Channel.ADMIN
    if path.startswith("/k8s/"):
        return Channel.PROXY
    return Channel.CONSOLE


def _default_action(request, channel: str) -> str:
    match = getattr(request, "resolver_match", None)
    if channel == Channel.ADMIN and match is not None:
        return f"admin:{match.url_name or 'unknown'}"
    name = match.url_name if match is not None and match.url_name else request.path
    return f"{request.method.lower()}:{name}"


def targets_secret(request) -> bool:
    """Whether the request addresses Secrets (the REST resource API's ``…/secrets/…``): its
    body may say no kind (a patch), so the URL is what tells redaction. Any ``secrets`` path
    segment counts: redacting a harmless body's ``data`` costs less than keeping a secret."""
    return "secrets" in request.path.lower().split("/")


class AuditMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method not in WRITE_METHODS:
            return self.get_response(request)
        started = time.monotonic()
        # Measured without reading: a chunked body has no Content-Length, but ASGI has
        # already buffered it in a file whose size is known.
        length = body_size(request)
        oversize = length > MAX_BODY_BYTES
        multipart = request.content_type == "multipart/form-data" and not oversize
        if oversize:
            body = {"_omitted": f"{length} bytes (too large to keep)"}
        else:
            body = None if multipart else self._capture_body(request)
        response = self.get_response(request)
        if multipart:
            body = self._multipart_body(request)
        # Fields a view knows to be secret whatever their keys (a release's chart values).
        hidden = getattr(request, "audit_redact_keys", ())
        if hidden and isinstance(body, dict):
            body = {key: REDACTED if key in hidden else item for key, item in body.items()}
        self._record(request, response, body, started)
        return response

    @staticmethod
    def _multipart_body(request):
        """Form fields (redacted) and file names/sizes, from what Django already parsed."""
        try:
            fields = {k: v[0] if len(v) == 1 else v for k, v in request.POST.lists()}
            files = {name: f"{upload.size} bytes" for name, upload in request.FILES.items()}
        except RawPostDataException:
            return {"_omitted": "multipart body consumed by the view"}
        except (MultiPartParserError, SuspiciousOperation):
            return {"_omitted": "multipart body that could not be parsed"}
        return storable(redact({**fields, **({"_files": files} if files else {})}))

    @staticmethod
    def _capture_body(request):
        try:
            raw = request.body  # cached by Django: the view can still read it
        except RequestDataTooBig:
            return {"_omitted": "a body over the request size limit"}
        return redact_body(
            raw, request.content_type, settings.AUDIT_MAX_BODY_CHARS, secret=targets_secret(request)
        )

    def _record(self, request, response, body, started):
        channel = _channel_for(request.path)
        # A view may name what happened better than its method and route (sign-in: who
        # signed in, or failed to, and the outcome a 200 re-rendered form does not show).
        user = getattr(request, "audit_user", None) or getattr(request, "user", None)
        # The tenant whose object was acted on (a view names it once it has found the object:
        # a platform administrator working across all tenants still acts inside one, and
        # that tenant's auditors must see it); else the tenant the request was scoped to.
        tenant = getattr(request, "audit_tenant", None)
        if tenant is None:
            scope = getattr(request, "_portal_scope", None)
            tenant = scope[1].tenant if scope else None
        api_key = getattr(request, "auth", None)
        try:
            record_event(
                action=getattr(request, "audit_action", None) or _default_action(request, channel),
                resource=getattr(request, "audit_resource", "") or "",
                user=user,
                tenant=tenant,
                channel=channel,
                status_code=response.status_code,
                outcome=getattr(request, "audit_outcome", None),
                message=getattr(request, "audit_message", ""),
                api_key_id=getattr(api_key, "pk", None),
                source_ip=getattr(request, "client_ip", None),
                user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
                method=request.method,
                path=request.get_full_path()[:1024],
                duration_ms=int((time.monotonic() - started) * 1000),
                request_id=getattr(request, "request_id", ""),
                request_body=body,
                username=getattr(request, "audit_username", "") or self._claimed_username(body),
            )
        except DatabaseError:
            # The write itself already happened or failed; losing its audit row is bad, so
            # make it loud, but do not turn the user's answer into an error after the fact.
            logger.exception("could not store audit event for %s %s", request.method, request.path)

    @staticmethod
    def _claimed_username(body) -> str:
        """For anonymous requests (failed sign-in), the username they claimed."""
        if isinstance(body, dict) and isinstance(body.get("username"), str):
            return body["username"][:150]
        return ""
