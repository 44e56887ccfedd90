"""Project-level views: the console landing page, /healthz, and JSON-aware 404/500."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .api.errors import error_body
from .health import run_checks
from .middleware import too_large


@never_cache
@require_GET
def healthz(request):
    """200 with every component ok, 503 naming the failing ones otherwise. Unauthenticated
    by design (load balancers call it); it reveals component names, never addresses."""
    healthy, components = run_checks()
    failing = sorted(name for name, result in components.items() if not result["ok"])
    body = {"status": "ok" if healthy else "degraded", "failing": failing, "components": components}
    return JsonResponse(body, status=200 if healthy else 503)


def _wants_json(request) -> bool:
    return request.path.startswith(("/api/", "/k8s/", "/healthz")) or "json" in request.META.get(
        "HTTP_ACCEPT", ""
    )


def not_found(request, exception=None):
    if _wants_json(request):
        return JsonResponse(
            error_body("not_found", f"No API endpoint at {request.path}."), status=404
        )
    return render(request, "404.html", status=404)


def permission_denied(request, exception=None):
    """A refusal outside the API (which answers its own 403s): the console's 403 page."""
    if _wants_json(request):
        return JsonResponse(error_body("permission_denied", str(exception or "")), status=403)
    from apps.console.views.pages import denied

    return denied(request, exception)


def bad_request(request, exception=None):
    """Django's own 400s (a body over the limit found while reading it, too many form
    fields, a suspicious host): 413 for the first, the API's error shape under /api/."""
    if isinstance(exception, RequestDataTooBig):
        return too_large(request, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    if _wants_json(request):
        return JsonResponse(error_body("bad_request", "The request was refused."), status=400)
    return HttpResponseBadRequest("Bad request.", content_type="text/plain; charset=utf-8")


def server_error(request):
    request_id = getattr(request, "request_id", "-")
    if _wants_json(request):
        return JsonResponse(
            error_body(
                "internal_error",
                f"Internal server error; it was logged with request id {request_id}.",
            ),
            status=500,
        )
    return render(request, "500.html", {"request_id": request_id}, status=500)
