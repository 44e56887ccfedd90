"""Let the sign-out form reach the provider's end-session endpoint.

The portal's Content-Security-Policy says forms post only to the portal
(``form-action 'self'``), and browsers apply that to the redirects that follow a form
submission too: the sign-out form's redirect to an OpenID provider's end-session endpoint
(RP-initiated logout) would be blocked, leaving the user signed in at the provider — the
very bug the redirect exists to fix. For a session that will sign out through a provider,
its pages allow that one origin as well.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ...views import END_SESSION_KEY


class EndSessionFormActionMiddleware:
    """Adds the end-session endpoint's origin to ``form-action`` (django-csp's per-response
    update), for sessions that have one. Listed after ``CSPMiddleware`` and the session."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        url = session.get(END_SESSION_KEY) if session is not None else None
        if url:
            parts = urlsplit(url)
            if parts.scheme in ("http", "https") and parts.netloc:
                update = dict(getattr(response, "_csp_update", None) or {})
                update["form-action"] = [
                    *update.get("form-action", []),
                    f"{parts.scheme}://{parts.netloc}",
                ]
                response._csp_update = update
        return response
