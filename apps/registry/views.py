"""``GET /registry/token``: the Docker Registry v2 token service (docker/distribution's
token authentication specification); ``POST /registry/events``: the registry's notifications.

Credentials are HTTP Basic ``<tenant>/<username>:<API key>`` (a platform administrator, who
has no tenant, gives the bare username); no credentials is the anonymous user, who is granted
pulls of public namespaces only. A bad, expired or disabled key, a disabled user or a kubeconfig
key is refused with 401 in the registry's error shape, at every token request — the registry's
own tokens live ``REGISTRY_TOKEN_TTL`` seconds. Every request is audited (what was asked and
what was granted). ``POST`` (the OAuth2 variant) answers 404, which makes docker use ``GET``.
"""

from __future__ import annotations

import hmac
import json

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from apps.accounts.basic import BasicRefused, authenticate_basic, login_name
from apps.audit.services import record_event

from .events import apply_envelope
from .token import grant, issue, parse_scopes

# The registry sends envelopes of a few events; anything much larger is not one.
MAX_ENVELOPE_BYTES = 1024 * 1024

AUDIT_ACTION = "getRegistryToken"


def registry_error(status: int, code: str, message: str, **headers) -> JsonResponse:
    """The registry's error JSON: ``{"errors": [{"code", "message", "detail"}]}``."""
    response = JsonResponse(
        {"errors": [{"code": code, "message": message, "detail": None}]}, status=status
    )
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _subject(user) -> str:
    return "" if user is None else login_name(user)


@csrf_exempt  # no session is used: credentials come with every request
def token_view(request):
    if request.method == "POST":
        # The OAuth2 form of the protocol is not offered: a 404 to POST is what tells clients
        # (docker) to fall back to GET with Basic credentials (distribution's oauth spec).
        return registry_error(
            404, "UNSUPPORTED", "OAuth2 token requests are not supported: use GET."
        )
    if request.method not in ("GET", "HEAD"):
        return registry_error(405, "UNSUPPORTED", "Use GET.", Allow="GET")
    service = request.GET.get("service", "")
    scopes = parse_scopes(request.GET.getlist("scope"))
    requested = " ".join(request.GET.getlist("scope"))[:400]
    try:
        user = authenticate_basic(request, "the registry")
    except BasicRefused as refused:
        record_event(
            action=AUDIT_ACTION,
            resource=requested,
            status_code=401,
            message=refused.message,
            username=refused.login[:150],
            method="GET",
            path=request.get_full_path()[:1024],
            source_ip=getattr(request, "client_ip", None),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
            request_id=getattr(request, "request_id", ""),
        )
        return registry_error(
            401,
            "UNAUTHORIZED",
            refused.message,
            WWW_Authenticate=f'Basic realm="{settings.REGISTRY_TOKEN_SERVICE}"',
        )
    if service != settings.REGISTRY_TOKEN_SERVICE:
        return registry_error(
            400,
            "UNSUPPORTED",
            f"Unknown service '{service[:100]}': this token service serves "
            f"'{settings.REGISTRY_TOKEN_SERVICE}'.",
        )
    access, refusals = [], []
    for scope in scopes:
        actions = grant(user, scope, refusals=refusals)
        access.append({"type": scope.type, "name": scope.name, "actions": actions})
    granted = "; ".join(f"{a['type']}:{a['name']}:{','.join(a['actions'])}" for a in access)
    if refusals:
        # Push was permitted but the namespace is over its quota. A token without push would
        # make the registry answer its bare "authentication required"; a 403 here is printed
        # by skopeo (containers/image) as "invalid status code from registry 403 (Forbidden)",
        # the body unread. A 401 body is read and printed ("…: denied: <message>"), and
        # docker prints it too: so 401 with code DENIED and the reason. Pulls (a scope
        # without push) are not refused.
        message = " ".join(refusals)
        record_event(
            action=AUDIT_ACTION,
            user=user,
            resource=requested,
            status_code=401,
            message=message,
            api_key_id=getattr(getattr(request, "auth", None), "pk", None),
            method="GET",
            path=request.get_full_path()[:1024],
            source_ip=getattr(request, "client_ip", None),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
            request_id=getattr(request, "request_id", ""),
        )
        return registry_error(401, "DENIED", message)
    body = issue(_subject(user), service, access)
    record_event(
        action=AUDIT_ACTION,
        user=user,
        resource=requested,
        status_code=200,
        message=f"granted: {granted}" if access else "login (no scope)",
        api_key_id=getattr(getattr(request, "auth", None), "pk", None),
        method="GET",
        path=request.get_full_path()[:1024],
        source_ip=getattr(request, "client_ip", None),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
        request_id=getattr(request, "request_id", ""),
    )
    return JsonResponse(body)


def _events_secret_ok(request) -> bool:
    secret = settings.REGISTRY_EVENTS_SECRET
    if not secret:
        return False  # not configured: nobody may post events
    expected = f"Bearer {secret}".encode()
    given = request.META.get("HTTP_AUTHORIZATION", "").encode()
    return hmac.compare_digest(given, expected)


@csrf_exempt  # the registry authenticates with the shared secret, not a session
def events_view(request):
    """The registry's notification endpoint (``notifications.endpoints`` in its configuration,
    ``manage.py registry_config`` writes it): an envelope ``{"events": [...]}`` (media type
    ``application/vnd.docker.distribution.events.v1+json``, not insisted on) authenticated
    by ``Authorization: Bearer <REGISTRY_EVENTS_SECRET>``. Answers what was applied, seen
    before and ignored; a 2xx tells the registry not to deliver the envelope again."""
    # The audit middleware records each delivery (refused ones too) under this name; the
    # pushes, pulls and deletes it carries are audited one by one (apps.registry.events).
    request.audit_action, request.audit_resource = "receiveRegistryEvents", "registry:events"
    if request.method != "POST":
        return registry_error(405, "UNSUPPORTED", "Use POST.", Allow="POST")
    if not _events_secret_ok(request):
        return registry_error(
            401, "UNAUTHORIZED", "Registry notifications need the shared secret (Bearer)."
        )
    if len(request.body) > MAX_ENVELOPE_BYTES:
        return registry_error(413, "SIZE_INVALID", "The envelope is too large.")
    try:
        envelope = json.loads(request.body)
    except ValueError:
        return registry_error(400, "UNSUPPORTED", "The envelope is not JSON.")
    events = envelope.get("events") if isinstance(envelope, dict) else None
    if not isinstance(events, list):
        return registry_error(400, "UNSUPPORTED", 'The envelope has no "events" list.')
    return JsonResponse(apply_envelope(events).as_dict())
