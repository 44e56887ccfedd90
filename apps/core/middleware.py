"""Per-request context (a request id, the client IP) and request limits."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Mapping

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from ipware import get_client_ip

from .api.errors import error_body

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class _Meta:
    """What django-ipware reads from a request: its ``META``."""

    def __init__(self, meta: Mapping[str, str]):
        self.META = meta


def client_ip_from(peer: str | None, forwarded_for: str = "") -> str | None:
    """The one client-address rule (django-ipware), for Django requests and the ASGI proxy:
    the socket peer, or — behind ``PORTAL_TRUSTED_PROXIES`` reverse proxies — the address
    the farthest trusted proxy saw, i.e. the right-most untrusted ``X-Forwarded-For`` hop
    (entries left of it are the client's to invent). ipware counts a chain that ends with
    the last proxy's own address, so the peer is added to the header's chain; a chain too
    short, or an entry that is not an IP address, falls back to the peer."""
    hops = getattr(settings, "PORTAL_TRUSTED_PROXIES", 0)
    if hops and forwarded_for and peer:
        ip, _ = get_client_ip(
            _Meta({"HTTP_X_FORWARDED_FOR": f"{forwarded_for}, {peer}"}),
            proxy_order="left-most",
            proxy_count=hops,
            request_header_order=["HTTP_X_FORWARDED_FOR"],
            strict=False,
        )
        if ip:
            return ip
    ip, _ = get_client_ip(_Meta({"REMOTE_ADDR": peer or ""}), request_header_order=["REMOTE_ADDR"])
    return ip


def client_ip(request) -> str | None:
    return client_ip_from(
        request.META.get("REMOTE_ADDR"), request.META.get("HTTP_X_FORWARDED_FOR", "")
    )


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.client_ip = client_ip(request)
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response


def body_size(request) -> int:
    """The body's size without reading it: the larger of Content-Length and what the server
    has buffered (a chunked body has no Content-Length; under ASGI it sits in a seekable
    file)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if hasattr(request, "_body"):  # already read (and so within Django's own limit)
        return max(declared, len(request._body))
    stream = getattr(request, "_stream", None)
    buffered = 0
    if stream is not None and getattr(request, "_read_started", False) is False:
        seekable = getattr(stream, "seekable", None)
        if seekable is not None and seekable():
            # The whole buffer, wherever the stream stands (Django's own size check leaves
            # it at the end when it refuses).
            position = stream.tell()
            buffered = stream.seek(0, os.SEEK_END)
            stream.seek(position)
    return max(declared, buffered)


class RequestLimitsMiddleware:
    """Bodies over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` are a 413 before anything reads them, and
    every error answer under /api/ is in the API's error shape, even those Django writes
    itself (its HTML 404 when DEBUG is on, its 400 for a suspicious request). Sits inside the
    audit middleware, so a refused request still has its audit row."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and body_size(request) > limit:
            return too_large(request, limit)
        response = self.get_response(request)
        if request.path.startswith("/api/") and response.status_code == 404:
            if not response.get("Content-Type", "").startswith("application/json"):
                from .views import not_found  # (views import this module)

                return not_found(request)
        return response


def too_large(request, limit: int):
    detail = f"The request body is larger than {limit} bytes, the most the portal accepts."
    if request.path.startswith(("/api/", "/k8s/")) or "json" in request.META.get("HTTP_ACCEPT", ""):
        return JsonResponse(error_body("request_too_large", detail), status=413)
    return HttpResponse(detail, status=413, content_type="text/plain; charset=utf-8")
